#!/usr/bin/env python3
"""Compares `polar-express emit --target torch` output with the CPU runtime.

Needs PyTorch, so it is not part of the CTest run (CI has no torch); run it on
a machine that has it, e.g. the GPU device machine:

    python3 tests/torch/compare_with_runtime.py --cli build/bin/polar-express

For each schedule and shape it emits the PyTorch function, runs it on a
matrix whose singular values are log-spaced over [LO, 1] (the spectrum of
`polar-express run --spectrum logspace:LO`), and compares the polar error
with what `polar-express run --backend cpu` reports for the same spectrum:

* in float64 (the function's bfloat16() cast replaced by double()), the
  singular values of both outputs are p(sigma_i) for the same sigma_i, so
  max |1 - sigma| must agree to rounding (1e-8);
* in bfloat16 as published, the error may differ by bfloat16 rounding only
  (0.05 absolute in max |1 - sigma|, 0.05 in relative Frobenius error).

Exits 1 when a comparison fails, 2 when torch or the binary is missing.
"""
import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("compare_with_runtime.py: PyTorch is not installed", file=sys.stderr)
    sys.exit(2)


def emit_module(cli, name, directory):
    subprocess.run([cli, "emit", "--builtin", name, "--target", "torch", "--output", directory], check=True)
    ident = name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(ident, f"{directory}/{ident}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, ident)


def test_matrix(rows, cols, lowest, seed):
    generator = torch.Generator().manual_seed(seed)
    k = min(rows, cols)
    u, _ = torch.linalg.qr(torch.randn(rows, k, dtype=torch.float64, generator=generator))
    v, _ = torch.linalg.qr(torch.randn(cols, k, dtype=torch.float64, generator=generator))
    sigma = torch.logspace(0, torch.log10(torch.tensor(lowest, dtype=torch.float64)).item(), k, dtype=torch.float64)
    return (u * sigma) @ v.T, u @ v.T


def errors(output, polar):
    output = output.double().cpu()
    rel_fro = (torch.linalg.norm(output - polar) / torch.linalg.norm(polar)).item()
    sigma = torch.linalg.svdvals(output)
    return rel_fro, (1 - sigma).abs().max().item()


def runtime_errors(cli, name, rows, cols, lowest, dtype):
    result = subprocess.run([cli, "run", "--backend", "cpu", "--builtin", name, "--shape", f"{rows}x{cols}",
                             "--dtype", dtype, "--spectrum", f"logspace:{lowest}", "--format", "json"],
                            check=True, capture_output=True, text=True)
    doc = json.loads(result.stdout)
    return doc["rel_fro_error"], doc["max_sigma_error"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="build/bin/polar-express")
    parser.add_argument("--lowest", type=float, default=1e-3)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        for name in ("polar-express-paper-d5", "polar-express-nanochat-d5"):
            function = emit_module(args.cli, name, directory)
            for rows, cols in ((256, 512), (512, 256), (128, 128)):
                g, polar = test_matrix(rows, cols, args.lowest, 0)
                runtime64 = runtime_errors(args.cli, name, rows, cols, args.lowest, "f64")
                original = torch.Tensor.bfloat16
                torch.Tensor.bfloat16 = torch.Tensor.double
                try:
                    torch64 = errors(function(g.to(device)), polar)
                finally:
                    torch.Tensor.bfloat16 = original
                torch16 = errors(function(g.to(device)), polar)
                ok64 = abs(torch64[1] - runtime64[1]) <= 1e-8
                ok16 = abs(torch16[1] - runtime64[1]) <= 0.05 and abs(torch16[0] - runtime64[0]) <= 0.05
                failures += not (ok64 and ok16)
                print(f"{name} {rows}x{cols} on {device}: max|1-sigma| runtime f64 {runtime64[1]:.6e}, "
                      f"torch f64 {torch64[1]:.6e} ({'ok' if ok64 else 'MISMATCH'}), "
                      f"torch bf16 {torch16[1]:.4f} rel_fro {torch16[0]:.4f} ({'ok' if ok16 else 'MISMATCH'})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
