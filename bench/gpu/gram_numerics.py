#!/usr/bin/env python3
"""Emulates, on the CPU, the roundings of the fused tensor-core Gram kernel
(runtime/include/polar_express/runtime/cuda/detail/fused_gram_mma.cuh) and compares
them with exact arithmetic and with the published bf16 formulation.

    python3 bench/gpu/gram_numerics.py [--seed 0]

The kernel's arithmetic, step for step: the normalised input rounded to fp16;
every product an fp16 x fp16 product accumulated in fp32 (emulated here as a
float32 product of fp16-rounded operands) and stored in fp16 (R, Z, Q and the
restarted iterate); the output rounded to bf16.  The restarts are placed as
the runtime places them (runtime/src/gram.cpp, mirrored below) for an fp16 Q.
The reference is the paper's Algorithm 1 in bf16 (CPU bf16 matmul).

Per shape and spectrum it prints max |1 - sigma_i| and the relative Frobenius
distance to the exact (float64) iterate after the same 5 steps of nanochat's
schedule, for the reference, the kernel's arithmetic with its restarts, and
the kernel's arithmetic without restarts (to show why they are there).
"""
import argparse
import math

import torch

# nanochat's 5-step list (polar-express-nanochat-d5), normalisation 1.02 / 1e-6.
STEPS = [(8.156554524902461, -22.48329292557795, 15.878769915207462),
         (4.042929935166739, -2.808917465908714, 0.5000178451051316),
         (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
         (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
         (2.3465413258596377, -1.7097828382687081, 0.42323551169305323)]
FACTOR, EPS = 1.02, 1e-6


def fp16(t):
    return t.half().float()


def segment_growth(first, end):
    """max over s of |f_{end-1..first}(s)| / |f_{first-1..0}(s)| on gram.cpp's grid."""
    worst = 0.0
    for i in range(512):
        x = 1e-9 ** (1 - i / 511)
        for a, b, c in STEPS[:first]:
            x = x * (a + x * x * (b + x * x * c))
        start = abs(x)
        if not (start > 0 and math.isfinite(start)):
            continue
        for a, b, c in STEPS[first:end]:
            x = x * (a + x * x * (b + x * x * c))
        worst = max(worst, abs(x) / start)
    return worst


def restart_steps(k, significand_bits=11):
    budget = math.sqrt(k * 2.0 ** min(significand_bits - 8, 16))
    restarts, first = [], 0
    for t in range(1, len(STEPS)):
        if segment_growth(first, t + 1) > budget:
            restarts.append(t)
            first = t
    return restarts


def exact(g):
    x = g.double() / (g.double().norm() * FACTOR + EPS)
    for a, b, c in STEPS:
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x


def reference(g):
    x = g.bfloat16()
    x = x / (x.norm() * FACTOR + EPS)
    for a, b, c in STEPS:
        s = x @ x.mT
        y = b * s + c * s @ s
        x = a * x + y @ x
    return x.double()


def fused_kernel_arithmetic(g, restarts):
    x = fp16(g / (FACTOR * g.norm() + EPS))
    r = fp16(x @ x.T)
    eye = torch.eye(x.shape[0])
    q = None
    for t, (a, b, c) in enumerate(STEPS):
        if t in restarts:
            x = fp16(q @ x)
            r = fp16(x @ x.T)
            q = None
        z = fp16(fp16(c * r + b * eye) @ r + a * eye)
        q = z if q is None else fp16(z @ q)
        if t + 1 < len(STEPS) and t + 1 not in restarts:
            r = fp16(fp16(z @ r) @ z)
    return (q @ x).bfloat16().double()


def log_spaced(k, big, lowest, generator):
    u = torch.linalg.qr(torch.randn(k, k, dtype=torch.float64, generator=generator)).Q
    v = torch.linalg.qr(torch.randn(big, k, dtype=torch.float64, generator=generator)).Q
    return (u * torch.logspace(0, math.log10(lowest), k, dtype=torch.float64)) @ v.T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(args.seed)
    print(f"{'shape':>8} {'spectrum':>13} {'restarts':>9} | max|1-s|: {'exact':>6} {'ref':>6} {'fused':>6} "
          f"{'no-rst':>6} | rel. dist. to exact: {'ref':>6} {'fused':>6} {'no-rst':>6}")
    for k, big in ((128, 768), (64, 768), (96, 200), (33, 77), (128, 4096)):
        restarts = restart_steps(k)
        for spectrum in ("gaussian", "logspace:1e-2", "logspace:1e-3"):
            if spectrum == "gaussian":
                g = torch.randn(k, big, dtype=torch.float64, generator=generator)
            else:
                g = log_spaced(k, big, float(spectrum.split(":")[1]), generator)
            g = g.float().bfloat16().float()  # the bf16 input both sides see
            e = exact(g)
            outputs = (reference(g), fused_kernel_arithmetic(g, restarts), fused_kernel_arithmetic(g, []))
            sigma = [(1 - torch.linalg.svdvals(o)).abs().max().item() for o in (e,) + outputs]
            distance = [((o - e).norm() / e.norm()).item() for o in outputs]
            print(f"{k}x{big:<4} {spectrum:>13} {','.join(map(str, restarts)) or '-':>9} | "
                  f"{' '.join(f'{v:9.4f}' if i == 0 else f'{v:6.4f}' for i, v in enumerate(sigma))} | "
                  f"{'':>20} {' '.join(f'{v:6.4f}' for v in distance)}")


if __name__ == "__main__":
    main()
