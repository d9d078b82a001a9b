#!/usr/bin/env python3
"""The blow-up case: a design without a safety factor, which the rounding
model says can blow up in bfloat16, run on matrices built to hit the case;
then the same design made with `--dtype bf16`, which the model certifies, on
the same matrices.

    .venv/bin/python bench/rounding/blowup.py --cli build/bin/polar-express

The matrices are coordinate-aligned (X = [diag(s) 0], so that single
roundings count in full, the case the certificate's "any singular vectors"
covers) with one dominant singular value (so the normalised top is near 1),
scaled over a grid so that the bfloat16 roundings of the norm and of
A = X X^T fall both ways; plus random ones (U diag(s) V^T) for reference.
Each runs the published formulation (emit --target torch) on the CPU in
bfloat16, normalised by X / (factor ||X||_F + eps) with factor 1 (torch's code; the
certificates cover normalised tops up to 1, which the schedules' own factor 1.01 would
keep below 0.99); a run blows up when a singular value of the output exceeds 2 (its
error above 1) or the output is not finite.  For the worst run of each
design it prints the largest singular value after the normalisation and
after each step beside the model's safe band and top for that step: the
observed step that leaves the band against the model's blow-up step.
Needs torch.
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("SKIPPED: PyTorch is not installed for", sys.executable)
    sys.exit(77)

K_SHORT, K_LONG = 64, 256


def cli(binary, *arguments):
    return subprocess.run([binary, *arguments], check=True, capture_output=True, text=True).stdout


def design(binary, lower, steps, extra):
    text = cli(binary, "design", "--degree", "5", "--lower", lower, "--steps", str(steps), "--format", "json", *extra)
    return json.loads(text)


def rounding_of(binary, schedule):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(schedule, f)
        f.flush()
        return json.loads(cli(binary, "verify", f.name, "--dtype", "bf16", "--shape", f"{K_SHORT}x{K_LONG}",
                              "--form", "torch", "--format", "json"))["rounding"]


def run(x, schedule, factor):
    """The largest singular value of the normalised input, then after each step (inf once not finite)."""
    coefficients = [[float(c) for c in s["coefficients"]] for s in schedule["steps"]]
    eps = schedule["normalization"]["eps"]
    x = x.bfloat16()
    x = x / (x.norm() * factor + eps)
    tops = [torch.linalg.svdvals(x.double()).max().item()]
    for c in coefficients:
        a = x @ x.mT
        b = c[1] * a + c[2] * a @ a
        x = c[0] * x + b @ x
        y = x.double()
        tops.append(torch.linalg.svdvals(y).max().item() if torch.isfinite(y).all() else math.inf)
    return tops


def first_step_above(tops, limits):
    """The first step (0: the normalisation) whose top exceeds its limit, else None."""
    return next((t for t, (top, limit) in enumerate(zip(tops, limits)) if not top <= limit), None)


def aligned(scale, second, lower):
    s = torch.logspace(math.log10(second), math.log10(lower), K_SHORT, dtype=torch.float64)
    s[0] = 1.0
    g = torch.zeros(K_SHORT, K_LONG, dtype=torch.float64)
    g[range(K_SHORT), range(K_SHORT)] = s
    return g * scale


def random_matrix(seed, lower):
    gen = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(K_SHORT, K_SHORT, dtype=torch.float64, generator=gen))
    v, _ = torch.linalg.qr(torch.randn(K_LONG, K_SHORT, dtype=torch.float64, generator=gen))
    return (u * torch.logspace(0, math.log10(lower), K_SHORT, dtype=torch.float64)) @ v.T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="build/bin/polar-express")
    parser.add_argument("--output", default="bench/rounding/blowup.json")
    # Where design --dtype bf16 finds a safety factor on 64x256 (from 1e-3 it finds none).
    parser.add_argument("--lower", default="1e-2")
    parser.add_argument("--steps", type=int, default=6)
    # The certificates cover exactly normalised tops up to 1; torch's code
    # (X / (||X||_F + eps)) reaches that for a matrix with one dominant
    # singular value, where the schedule's own factor 1.01 would stop at 0.99.
    parser.add_argument("--factor", type=float, default=1.0)
    args = parser.parse_args()
    lower = float(args.lower)
    plain = design(args.cli, args.lower, args.steps, [])
    chosen = design(args.cli, args.lower, args.steps, ["--dtype", "bf16", "--shape", f"{K_SHORT}x{K_LONG}", "--form", "torch"])
    result = {"factor": args.factor, "plain": {"safety": plain["input"]["safety"], "cushion": plain["input"]["cushion"],
                        "rounding": rounding_of(args.cli, plain)},
              "chosen": {"safety": chosen["input"]["safety"], "cushion": chosen["input"]["cushion"],
                         "rounding": chosen["rounding"]}}
    cases = [("aligned", scale, second) for second in (0.3, 0.1, 0.01) for scale in
             (1 + i / 397 for i in range(400))]
    cases += [("random", seed, None) for seed in range(40)]
    counts = {"plain": {"aligned": [0, 0], "random": [0, 0]}, "chosen": {"aligned": [0, 0], "random": [0, 0]}}
    worst = {"plain": {"top": 0.0}, "chosen": {"top": 0.0}}
    for kind, a, b in cases:
        x = aligned(a, b, lower) if kind == "aligned" else random_matrix(a, lower)
        for name, schedule in (("plain", plain), ("chosen", chosen)):
            tops = run(x, schedule, args.factor)
            counts[name][kind][1] += 1
            if not tops[-1] <= 2:
                counts[name][kind][0] += 1
            if not tops[-1] <= worst[name]["top"]:
                worst[name] = {"top": tops[-1], "case": [kind, a, b], "tops": tops}
    # Where the worst run of each design left the model's band, and where it passed 2.
    for name in ("plain", "chosen"):
        r = result[name]["rounding"]
        bands = [float(r["normalised"]["band"])] + [float(s["band"]) for s in r["steps"]]
        w = worst[name]
        w["first_step_above_band"] = first_step_above(w["tops"], bands)
        w["first_step_above_2"] = first_step_above(w["tops"], [2.0] * len(bands))
        w["bands"] = bands
        w["predicted_tops"] = [float(r["normalised"]["upper"])] + [float(s["upper"]) for s in r["steps"]]
    result["blown_up"] = counts
    result["worst"] = worst
    print(json.dumps({"blown_up": counts}, indent=1))
    for name in ("plain", "chosen"):
        r, w = result[name]["rounding"], worst[name]
        print(f"{name}: safety {result[name]['safety']}, cushion {result[name]['cushion']}; model: blow-up step "
              f"{r['blow_up_step']}, final error {r['final_error']}")
        print(f"  worst run {w['case']}: top after the normalisation and each step {['%.4g' % v for v in w['tops']]}")
        print(f"  model's band {['%.4g' % v for v in w['bands']]}, model's top {['%.4g' % v for v in w['predicted_tops']]}")
        print(f"  observed (0: the normalisation): above the band first at step {w['first_step_above_band']}, "
              f"above 2 at step "
              f"{w['first_step_above_2']}")
    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
