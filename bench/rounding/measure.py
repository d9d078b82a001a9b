#!/usr/bin/env python3
"""Measured against predicted: the published PyTorch formulation of every
Frobenius-normalised catalogue list run on the CPU in float32, bfloat16 and
float16 (torch's CPU matmuls in those dtypes), against the rounding
certificate `polar-express verify --dtype D --shape kxK --form torch` computed
for each matrix's own normalised interval.

    .venv/bin/python bench/rounding/measure.py --cli build/bin/polar-express \\
        --output bench/rounding/results.json

Each matrix is U diag(s) V^T built in double (U, V from QR of Gaussian
matrices) with s log-spaced over [1e-3, 1], clustered at the top (uniform in
[0.9, 1]) or the singular values of a Gaussian matrix, then stored in the
dtype.  The certificate's interval is that stored matrix's singular values
(double SVD) divided by (factor ||X||_F + eps) in double, widened by a
relative 1e-12 for the SVD's own error.  The run is the code `emit --target
torch` writes (A = X X^T; B = c_last A, then B = c_j A + B @ A; X = c0 X +
B @ X; the quintic as B = c1 A + c2 A @ A), coefficients the doubles nearest
the certified ones, for the list's published step count; the measured error
is max |1 - sigma| of the output by a double SVD, after every step, beside
the certificate's error for that step.  Needs torch.
"""
import argparse
import json
import math
import subprocess
import sys
import time

try:
    import torch
except ImportError:
    print("SKIPPED: PyTorch is not installed for", sys.executable)
    sys.exit(77)

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
SHAPES = [(64, 256), (128, 512), (256, 1024)]
SPECTRA = ["logspace", "top", "gaussian"]


def cli_json(cli, *arguments):
    out = subprocess.run([cli, *arguments, "--format", "json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def published_steps(length):
    return 5 if length == 1 else length  # a single tuple runs 5 times, as Muon runs Jordan's


def matrix(k, big, spectrum, seed):
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(k, k, dtype=torch.float64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(big, k, dtype=torch.float64, generator=g))
    if spectrum == "logspace":
        s = torch.logspace(0, -3, k, dtype=torch.float64)
    elif spectrum == "top":
        s = 1 - 0.1 * torch.rand(k, dtype=torch.float64, generator=g)
    else:
        s = torch.linalg.svdvals(torch.randn(k, big, dtype=torch.float64, generator=g))
    return (u * s) @ v.T


def error_of(x):
    """max |1 - sigma| of x by a double SVD (inf when x is not finite)."""
    y = x.double()
    return (1 - torch.linalg.svdvals(y)).abs().max().item() if torch.isfinite(y).all() else math.inf


def run_published(x, coefficients, steps, factor, eps):
    """The measured error after every step."""
    x = x / (x.norm() * factor + eps)
    errors = []
    for t in range(steps):
        c = coefficients[min(t, len(coefficients) - 1)]
        a = x @ x.mT
        if len(c) == 3:
            b = c[1] * a + c[2] * a @ a
        else:
            b = c[-1] * a
            for ck in reversed(c[1:-1]):
                b = ck * a + b @ a
        x = c[0] * x + b @ x
        errors.append(error_of(x))
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="build/bin/polar-express")
    parser.add_argument("--output", default="bench/rounding/results.json")
    parser.add_argument("--dtypes", default="f32,bf16,f16")
    parser.add_argument("--shapes", default=",".join(f"{k}x{n}" for k, n in SHAPES))
    args = parser.parse_args()
    names = [n for n in cli_json(args.cli, "verify", "--builtin", "all", "--steps", "1")["verifications"]]
    schedules = []
    for v in names:
        if v["normalization"]["text"] == "AOL":
            continue  # the model does not cover the AOL rescaling's rounding
        schedules.append(v["name"])
    rows = []
    start = time.time()
    for dtype in args.dtypes.split(","):
        for k, big in (tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")):
            for spectrum in SPECTRA:
                g = matrix(k, big, spectrum, seed=k * 7919 + big + len(spectrum))
                stored = g.to(DTYPES[dtype])
                sigma = torch.linalg.svdvals(stored.double())
                for name in schedules:
                    info = cli_json(args.cli, "verify", "--builtin", name)
                    factor, eps = info["normalization"]["factor"], info["normalization"]["eps"]
                    steps = published_steps(info["list_length"])
                    scale = factor * stored.double().norm().item() + eps
                    lower = sigma.min().item() / scale * (1 - 1e-12)
                    upper = sigma.max().item() / scale * (1 + 1e-12)
                    cert = cli_json(args.cli, "verify", "--builtin", name, "--lower", repr(lower), "--upper",
                                    repr(upper), "--steps", str(steps), "--dtype", dtype, "--shape", f"{k}x{big}",
                                    "--form", "torch")
                    worst = cli_json(args.cli, "verify", "--builtin", name, "--lower", repr(lower), "--upper",
                                     repr(upper), "--steps", str(steps), "--dtype", dtype, "--shape", f"{k}x{big}",
                                     "--form", "torch", "--bound", "worst-case")
                    coefficients = [[float(c) for c in s["coefficients"]] for s in cert["steps"]]
                    measured_steps = run_published(stored, coefficients, steps, factor, eps)
                    measured = measured_steps[-1]
                    r = cert["rounding"]
                    rows.append({
                        "dtype": dtype, "shape": [k, big], "spectrum": spectrum, "schedule": name, "steps": steps,
                        "lower": lower, "upper": upper,
                        "exact_bound": float(cert["error_enclosure"][1]),
                        "predicted": float(r["final_error"]),
                        "predicted_worst_case": float(worst["rounding"]["final_error"]),
                        "blow_up_step": r["blow_up_step"],
                        "measured": measured,
                        "measured_steps": measured_steps,
                        "predicted_steps": [float(s["error"]) for s in r["steps"]],
                        "predicted_worst_case_steps": [float(s["error"]) for s in worst["rounding"]["steps"]],
                    })
                    print(f"{dtype:4} {k}x{big:<5} {spectrum:8} {name:26} measured {measured:10.3e} "
                          f"predicted {float(r['final_error']):10.3e}", flush=True)
    with open(args.output, "w") as f:
        json.dump({"seconds": time.time() - start, "torch": torch.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
