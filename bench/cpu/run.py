#!/usr/bin/env python3
"""The CPU runtime against numpy (and torch's CPU build where installed)
running the published formulation of the same schedule on the same shapes,
side by side in one run.

The reference is the code Muon implementations run (Polar Express paper,
Algorithm 1; nanochat): X = G / (1.02 ||G||_F + 1e-6), transposed when tall,
then per step A = X X^T, B = b A + (c A) A, X = a X + B X, in the array
library's own matmul (numpy: its bundled OpenBLAS).  The runtime is timed
through `polar-express run --format json` (median of --repeats executes of
one plan, after a warm-up); the reference likewise, in process.

    bench/cpu/run.py [--cli build/bin/polar-express] [--repeats 5]
                     [--shapes 1024x1024,...] [--dtypes f32,f64] [--json OUT]

Prints a markdown table: median ms of each, and the ratio reference/runtime
(above 1: the runtime is faster).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

# nanochat's list (polar-express-nanochat-d5), as published.
NANOCHAT = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]
DEFAULT_SHAPES = "1024x1024,2048x2048,2048x512,512x2048,16x128x768,64x256x256"


def parse_shape(text):
    dims = [int(d) for d in text.split("x")]
    return (1, *dims) if len(dims) == 2 else tuple(dims)


def numpy_reference(g):
    x = g / (1.02 * np.linalg.norm(g, axis=(-2, -1), keepdims=True) + 1e-6)
    tall = g.shape[-2] > g.shape[-1]
    if tall:
        x = np.swapaxes(x, -2, -1)
    for a, b, c in NANOCHAT:
        m = x @ np.swapaxes(x, -2, -1)
        m2 = b * m + (c * m) @ m
        x = a * x + m2 @ x
    return np.swapaxes(x, -2, -1) if tall else x


def torch_reference(torch, g):
    x = g / (1.02 * torch.linalg.matrix_norm(g, keepdim=True) + 1e-6)
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    for a, b, c in NANOCHAT:
        m = x @ x.mT
        m2 = b * m + c * m @ m
        x = a * x + m2 @ x
    return x.mT if tall else x


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def runtime_ms(cli, shape, dtype, repeats):
    b, m, n = shape
    out = subprocess.run([cli, "run", "--backend", "cpu", "--dtype", dtype, "--shape", f"{b}x{m}x{n}",
                          "--builtin", "polar-express-nanochat-d5", "--repeats", str(repeats), "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    return result["median_ms"], result["max_sigma_error"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--cli", default=os.path.join(root, "build", "bin", "polar-express"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shapes", default=DEFAULT_SHAPES)
    parser.add_argument("--dtypes", default="f32,f64")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None

    rng = np.random.default_rng(0)
    rows = []
    for dtype in args.dtypes.split(","):
        np_dtype = np.float32 if dtype == "f32" else np.float64
        for text in args.shapes.split(","):
            shape = parse_shape(text)
            g = rng.standard_normal(shape).astype(np_dtype)
            row = {"shape": text, "dtype": dtype}
            row["runtime_ms"], row["runtime_max_sigma_error"] = runtime_ms(args.cli, shape, dtype, args.repeats)
            row["numpy_ms"] = median_ms(lambda: numpy_reference(g), args.repeats)
            if torch is not None:
                t = torch.from_numpy(g)
                row["torch_ms"] = median_ms(lambda: torch_reference(torch, t), args.repeats)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

    header = "| dtype | shape | runtime ms | numpy ms | numpy / runtime |"
    rule = "|---|---|---:|---:|---:|"
    if torch is not None:
        header += " torch ms | torch / runtime |"
        rule += "---:|---:|"
    print(f"machine: {platform.node()} ({os.cpu_count()} CPUs), numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch is not None else ""))
    print(header)
    print(rule)
    for r in rows:
        line = (f"| {r['dtype']} | {r['shape']} | {r['runtime_ms']:.1f} | {r['numpy_ms']:.1f} | "
                f"{r['numpy_ms'] / r['runtime_ms']:.2f} |")
        if torch is not None:
            line += f" {r['torch_ms']:.1f} | {r['torch_ms'] / r['runtime_ms']:.2f} |"
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
