#!/usr/bin/env python3
"""The CPU runtime (pe.orthogonalize) against numpy and torch's CPU build running
the published formulation of the same schedule on the same shapes, and against
the raw GEMM rate of the runtime's own BLAS, side by side in one run, with no
environment variable set by this script.

The reference is the code Muon implementations run (Polar Express paper,
Algorithm 1; nanochat): X = G / (1.02 ||G||_F + 1e-6), transposed when tall,
then per step A = X X^T, B = b A + (c A) A, X = a X + B X, in the library's
own matmul (numpy: the OpenBLAS its wheel bundles; torch: MKL).  Every figure
is the median of --repeats calls after a warm-up, in this process.

GFLOP/s of the runtime use its own count (Program::flops, the dense
matrix-multiply FLOPs of the program it runs); the raw rate is one sgemm /
dgemm of n x n x n (n = the shape's short side, at least 1024) through the
library the runtime loaded, at the runtime's thread count.

    .venv/bin/python bench/cpu/run.py [--repeats 5] [--shapes 128x128,...]
        [--dtypes f32,f64] [--json OUT]

Prints the BLAS each library runs, then a markdown table: median ms of each,
the ratios reference / runtime (above 1: the runtime is faster), and for
sides >= 1024 the runtime's GFLOP/s against its BLAS's raw GEMM rate.
"""
import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import polar_express as pe
from polar_express import _core

# nanochat's list (polar-express-nanochat-d5), as published.
NANOCHAT = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]
SCHEDULE = "polar-express-nanochat-d5"
DEFAULT_SHAPES = ("128x128,384x128,512x128,1024x1024,2048x2048,2048x512,512x2048,"
                  "8x256x256,16x128x768,64x256x256")


def parse_shape(text):
    dims = [int(d) for d in text.split("x")]
    return tuple(dims)


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
    fn()  # warm-up: plans, caches, thread pools
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def numpy_blas():
    """The BLAS numpy runs and its kernel set (threadpoolctl where installed)."""
    try:
        import threadpoolctl

        for entry in threadpoolctl.threadpool_info():
            if entry.get("user_api") == "blas" and "numpy" in entry.get("filepath", ""):
                return f"{entry['internal_api']} {entry['version']} ({entry.get('architecture')})"
    except ImportError:
        pass
    return "see numpy.show_config()"


class RuntimeBlas:
    """Raw GEMMs through the library the runtime loaded (the same handle, so
    the same kernel set)."""

    def __init__(self, info):
        self.library = ctypes.CDLL(info["library"])
        self.threads = info["threads"]

    def gemm_ms(self, n, dtype, repeats):
        a = np.random.default_rng(1).standard_normal((n, n)).astype(dtype)
        b, c = a.copy(), np.empty_like(a)
        scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
        gemm = self.library.cblas_sgemm if dtype == np.float32 else self.library.cblas_dgemm
        ptr = lambda m: m.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
        self.library.openblas_set_num_threads(self.threads)
        return median_ms(lambda: gemm(101, 111, 111, n, n, n, scalar(1), ptr(a), n, ptr(b), n, scalar(0), ptr(c), n),
                         repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shapes", default=DEFAULT_SHAPES)
    parser.add_argument("--dtypes", default="f32,f64")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads of every library (default 0: each library's own default)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    if args.threads:
        import threadpoolctl

        threadpoolctl.threadpool_limits(args.threads)
        pe.set_cpu_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)

    info = pe.cpu_info()
    blas = RuntimeBlas(info)
    schedule = pe.Schedule.builtin(SCHEDULE)
    header = {
        "machine": f"{platform.node()}, {info['cpu']} [{info['features']}], {info['usable_cpus']} usable CPUs",
        "polar_express": f"{info['config']} ({info['library']}), kernels {info['core']} chosen by "
                         f"{info['core_source']}, {info['threads']} threads",
        "numpy": f"numpy {np.__version__}, {numpy_blas()}",
        "torch": f"torch {torch.__version__}, MKL {torch.backends.mkl.is_available()}, {torch.get_num_threads()} threads"
        if torch is not None else "not installed",
        "environment": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "MKL", "GOTO"))},
    }
    for key, value in header.items():
        print(f"{key}: {value}")

    rng = np.random.default_rng(0)
    rows = []
    for dtype in args.dtypes.split(","):
        np_dtype = np.float32 if dtype == "f32" else np.float64
        for text in args.shapes.split(","):
            shape = parse_shape(text)
            g = rng.standard_normal(shape).astype(np_dtype)
            out = np.empty_like(g)
            row = {"shape": text, "dtype": dtype}
            row["runtime_ms"] = median_ms(lambda: pe.orthogonalize(g, SCHEDULE, out=out), args.repeats)
            row["numpy_ms"] = median_ms(lambda: numpy_reference(g), args.repeats)
            if torch is not None:
                t = torch.from_numpy(g)
                row["torch_ms"] = median_ms(lambda: torch_reference(torch, t), args.repeats)
            batch, m, n = (1, *shape) if len(shape) == 2 else shape
            flops = _core.program_flops(schedule._handle, m, n, batch, 0, dtype)
            row["runtime_gflops"] = flops / row["runtime_ms"] / 1e6
            if min(m, n) >= 1024:
                side = min(m, n)
                row["blas_gemm_gflops"] = 2 * side**3 / blas.gemm_ms(side, np_dtype, args.repeats) / 1e6
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

    line = "| dtype | shape | pe ms | numpy ms | numpy / pe |"
    rule = "|---|---|---:|---:|---:|"
    if torch is not None:
        line += " torch ms | torch / pe |"
        rule += "---:|---:|"
    line += " pe GFLOP/s | BLAS GEMM GFLOP/s | pe / GEMM |"
    rule += "---:|---:|---:|"
    print(line)
    print(rule)
    for r in rows:
        text = f"| {r['dtype']} | {r['shape']} | {r['runtime_ms']:.2f} | {r['numpy_ms']:.2f} | " \
               f"{r['numpy_ms'] / r['runtime_ms']:.2f} |"
        if torch is not None:
            text += f" {r['torch_ms']:.2f} | {r['torch_ms'] / r['runtime_ms']:.2f} |"
        gemm = r.get("blas_gemm_gflops")
        text += f" {r['runtime_gflops']:.1f} | " + (f"{gemm:.1f} | {r['runtime_gflops'] / gemm:.2f} |" if gemm else "- | - |")
        print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
