#!/usr/bin/env python3
"""`polar-express plan` on bench/gpu's shapes with nanochat's settings (cushion
0.02, safety 0.02 inloop, l = 1e-3, bf16, target = nanochat's own certified
5-step error), against nanochat's list on the same shapes: the markdown table
of bench/RESULTS.md, and the plan's search time.

    python3 bench/plan/run.py [--binary build/bin/polar-express] [--degrees 3,5,7,9]
"""
import argparse
import json
import subprocess
import time

SHAPES = ["1024x1024", "2048x2048", "4096x4096", "8192x8192", "4096x16384", "16384x4096",
          "8x1024x4096", "32x512x512", "64x128x768"]
NANOCHAT = "polar-express-nanochat-d5"


def run(binary, *args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/bin/polar-express")
    parser.add_argument("--degrees", default="3,5,7,9")
    parser.add_argument("--max-steps", default="8")
    args = parser.parse_args()
    target = json.loads(run(args.binary, "verify", "--builtin", NANOCHAT, "--format", "json"))["final_error"]
    print(f"target error: {NANOCHAT}'s certified error over [1e-3, 1] = {float(target):.10g}")
    print()
    print("| shape | plan degrees | form (restarts) | plan GFLOP | nanochat GFLOP | plan / nanochat | plan error | search s |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        start = time.perf_counter()
        plan = json.loads(run(args.binary, "plan", "--shape", shape, "--lower", "1e-3", "--target-error", target,
                              "--cushion", "0.02", "--safety", "0.02", "--safety-mode", "inloop", "--dtype", "bf16",
                              "--degrees", args.degrees, "--max-steps", args.max_steps, "--format", "json"))
        wall = time.perf_counter() - start
        nanochat = next(b for b in plan["baselines"] if b["name"] == NANOCHAT)
        run_info = plan["per_shape"][0]
        form = run_info["algorithm"] + (f" {run_info['restarts']}" if run_info["algorithm"] == "gram" else "")
        ratio = plan["flops"] / nanochat["flops"]
        print(f"| {shape} | {','.join(map(str, plan['degrees']))} | {form} | {plan['flops'] / 1e9:.1f} | "
              f"{nanochat['flops'] / 1e9:.1f} | {ratio:.3f} | {float(plan['final_error']):.6f} | "
              f"{plan['search']['seconds']:.2f} (wall {wall:.2f}) |")


if __name__ == "__main__":
    main()
