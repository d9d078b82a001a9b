#!/usr/bin/env python3
"""What `import polar_express.torch` and its first call cost over torch alone:
wall seconds and peak resident memory of fresh interpreters, side by side.

    .venv/bin/python bench/python/import_cost.py [--repeats 5]

Each repeat starts one interpreter per case, in alternation: "torch" imports
torch and runs one 64 x 64 matmul; "polar_express" imports torch and
polar_express.torch and runs pet.orthogonalize on the same matrix.  Prints
the medians (seconds to import torch, to import the package, for the first
call; peak RSS) and whether the first call imported torch._dynamo.
"""
import argparse
import json
import statistics
import subprocess
import sys

PROBE = r"""
import json, resource, sys, time
case = sys.argv[1]
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
x = torch.randn(64, 64)
if case == "polar_express":
    import polar_express.torch as pet
    t2 = time.perf_counter()
    pet.orthogonalize(x)
else:
    t2 = time.perf_counter()
    x @ x.T
t3 = time.perf_counter()
print(json.dumps({"import_torch_s": t1 - t0, "import_package_s": t2 - t1, "first_call_s": t3 - t2,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "dynamo_imported": "torch._dynamo" in sys.modules}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs = {"torch": [], "polar_express": []}
    for _ in range(args.repeats):
        for case in runs:
            out = subprocess.run([sys.executable, "-c", PROBE, case], capture_output=True, text=True, check=True)
            runs[case].append(json.loads(out.stdout))
    print("| case | import torch s | import package s | first call s | peak RSS MB | torch._dynamo imported |")
    print("|---|---:|---:|---:|---:|---|")
    for case, results in runs.items():
        median = {key: statistics.median(r[key] for r in results) for key in results[0] if key != "dynamo_imported"}
        print(f"| {case} | {median['import_torch_s']:.2f} | {median['import_package_s']:.3f} | "
              f"{median['first_call_s']:.3f} | {median['peak_rss_mb']:.0f} | "
              f"{any(r['dynamo_imported'] for r in results)} |")


if __name__ == "__main__":
    main()
