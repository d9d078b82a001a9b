#!/usr/bin/env python3
"""Checks `polar-express emit --target torch` output against the CPU runtime
and against the published PyTorch formulation.

    python3 tests/torch/compare_with_runtime.py --cli build/bin/polar-express \\
        --published tests/data/published_schedules.json

Runs on the CPU, and on the GPU too when torch sees one (the device machine).
For the paper's and nanochat's schedules and a wide, a tall and a square
shape, on a matrix whose singular values are log-spaced over [LO, 1] (the
spectrum of `polar-express run --spectrum logspace:LO`):

* float64 (the function's bfloat16() cast replaced by double()): the output's
  singular values are p(sigma_i) for the same sigma_i as the CPU runtime's
  (`polar-express run --backend cpu --dtype f64`), so max |1 - sigma| must
  agree to 1e-8;
* bfloat16, as emitted: the output must equal, bit for bit, that of the
  paper's Algorithm 1 code (written out below) run with the coefficients as
  the source prints them; the same operations in the same order on the same
  device round the same way.

Exits 1 when a comparison fails, 77 (CTest's skip code) when torch is missing.
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
    print("SKIPPED: PyTorch is not installed for", sys.executable)
    sys.exit(77)


def emit_function(cli, name, directory):
    subprocess.run([cli, "emit", "--builtin", name, "--target", "torch", "--output", directory], check=True)
    ident = name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(ident, f"{directory}/{ident}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, ident)


def published_reference(schedule):
    """The Polar Express paper's Algorithm 1 (arXiv 2505.16932) for one entry
    of published_schedules.json: bfloat16, transpose when tall, normalise,
    then X <- a X + (b A + c A @ A) X with the operators in the printed order."""
    if "raw_steps" in schedule:  # the paper divides all but the last tuple by the safety factor
        raw = [tuple(step) for step in schedule["raw_steps"]]
        steps = [(a / 1.01, b / 1.01**3, c / 1.01**5) for a, b, c in raw[:-1]] + [raw[-1]]
    else:
        steps = [tuple(step) for step in schedule["steps"]]
    factor, eps = {"polar-express-paper-d5": (1.01, 1e-7), "polar-express-nanochat-d5": (1.02, 1e-6)}[schedule["name"]]

    def reference(G):
        X = G.bfloat16()
        if G.size(-2) > G.size(-1):
            X = X.mT
        X = X / (X.norm(dim=(-2, -1), keepdim=True) * factor + eps)
        for a, b, c in steps:
            A = X @ X.mT
            B = b * A + c * A @ A
            X = a * X + B @ X
        if G.size(-2) > G.size(-1):
            X = X.mT
        return X

    return reference, len(steps)


def test_matrix(rows, cols, lowest, seed):
    generator = torch.Generator().manual_seed(seed)
    k = min(rows, cols)
    u, _ = torch.linalg.qr(torch.randn(rows, k, dtype=torch.float64, generator=generator))
    v, _ = torch.linalg.qr(torch.randn(cols, k, dtype=torch.float64, generator=generator))
    sigma = torch.logspace(0, torch.log10(torch.tensor(lowest, dtype=torch.float64)).item(), k, dtype=torch.float64)
    return (u * sigma) @ v.T


def max_sigma_error(output):
    return (1 - torch.linalg.svdvals(output.double().cpu())).abs().max().item()


def runtime_max_sigma_error(cli, name, rows, cols, lowest, steps):
    result = subprocess.run([cli, "run", "--backend", "cpu", "--builtin", name, "--shape", f"{rows}x{cols}",
                             "--dtype", "f64", "--steps", str(steps), "--spectrum", f"logspace:{lowest}",
                             "--format", "json"], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)["max_sigma_error"]


def in_float64(function, g):
    original = torch.Tensor.bfloat16
    torch.Tensor.bfloat16 = torch.Tensor.double
    try:
        return function(g)
    finally:
        torch.Tensor.bfloat16 = original


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="build/bin/polar-express")
    parser.add_argument("--published", default="tests/data/published_schedules.json")
    parser.add_argument("--lowest", type=float, default=1e-3)
    args = parser.parse_args()
    with open(args.published) as f:
        published = {s["name"]: s for s in json.load(f)["schedules"]}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        for name in ("polar-express-paper-d5", "polar-express-nanochat-d5"):
            function = emit_function(args.cli, name, directory)
            reference, steps = published_reference(published[name])
            for rows, cols in ((96, 160), (160, 96), (77, 77)):
                g = test_matrix(rows, cols, args.lowest, rows * cols)
                runtime64 = runtime_max_sigma_error(args.cli, name, rows, cols, args.lowest, steps)
                for device in devices:
                    ours64 = max_sigma_error(in_float64(lambda x: function(x, steps), g.to(device)))
                    ours16 = function(g.to(device), steps)
                    theirs16 = reference(g.to(device))
                    ok64 = abs(ours64 - runtime64) <= 1e-8
                    same16 = ours16.dtype == theirs16.dtype == torch.bfloat16 and torch.equal(ours16, theirs16)
                    failures += not (ok64 and same16)
                    differing = (ours16 != theirs16).sum().item() if ours16.shape == theirs16.shape else "shape"
                    print(f"{name} {rows}x{cols} {steps} steps on {device}: max|1-sigma| f64 runtime {runtime64:.9e} "
                          f"torch {ours64:.9e} ({'ok' if ok64 else 'MISMATCH'}); bf16 vs published code: "
                          f"{'identical' if same16 else f'MISMATCH ({differing} entries differ)'}, "
                          f"max|1-sigma| {max_sigma_error(ours16):.4f}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
