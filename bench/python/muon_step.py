#!/usr/bin/env python3
"""One optimizer step of polar_express.torch.Muon against torch.optim.Muon on the
hidden matrices of a transformer, with the same coefficients on the same
gradients, medians of timed steps, and how far the two updates are apart.

Models: --model small (default on the CPU): --width d (default 256) and --layers
(default 4), per layer attention q, k, v, o (d x d) and the MLP's 4d x d and d x 4d;
--model gpt2: GPT-2 small's (per layer 2304x768, 768x768, 3072x768, 768x3072; 12
layers).

    .venv/bin/python bench/python/muon_step.py [--device cpu|cuda] [--model small|gpt2]
        [--width 256] [--layers 4] [--dtype float32|bfloat16] [--repeats 20] [--json FILE]

Both run torch.optim.Muon's quintic Newton-Schulz (3.4445, -4.7750, 2.0315) for 5
steps after X / max(||X||_F, 1e-7) (pet.Muon: ns_coefficients, ns_steps; its
normalisation X / (||X||_F + 1e-7)).  torch.optim.Muon (torch >= 2.9) runs it in
bfloat16, one parameter at a time; pet.Muon in the parameters' dtype (bf16 inside
the CPU runtime as float32), same-shape parameters in one batched call.  Accuracy:
the relative Frobenius distance of pet.Muon's first update to torch.optim.Muon's,
beside that of the same iteration in float32 (torch's own ops) to torch.optim.Muon's:
the part bfloat16 rounding accounts for.
"""

import argparse
import json
import statistics
import sys
import time

import torch

import polar_express.torch as pet

GPT2_SMALL_LAYER = [(2304, 768), (768, 768), (3072, 768), (768, 3072)]
NS = (3.4445, -4.7750, 2.0315)
LR, WEIGHT_DECAY = 0.02, 0.1


def small_layer(d):
    return [(d, d)] * 4 + [(4 * d, d), (d, 4 * d)]


def timed_steps(optimizer, params, grads, repeats, device):
    for p, g in zip(params, grads):
        p.grad = g
    optimizer.step()  # warm-up: plans, kernels, state
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def newton_schulz_f32(g):
    """torch.optim.Muon's iteration, in float32."""
    a, b, c = NS
    x = g.float()
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=1e-7)
    for _ in range(5):
        m = x @ x.T
        x = a * x + (b * m + c * m @ m) @ x
    return x.T if tall else x


def first_updates(make_optimizer, initial, grads):
    params = [torch.nn.Parameter(p.clone()) for p in initial]
    for p, g in zip(params, grads):
        p.grad = g
    make_optimizer(params).step()
    return [(p0 - p.detach()).float() for p0, p in zip(initial, params)]


def relative(a, b):
    return max((x - y).norm().item() / y.norm().item() for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", choices=["small", "gpt2"], default=None)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of torch and polar_express (0: theirs)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        import polar_express as pe

        torch.set_num_threads(args.threads)
        pe.set_cpu_threads(args.threads)
    model = args.model or ("small" if args.device == "cpu" else "gpt2")
    layers = args.layers or (4 if model == "small" else 12)
    shapes = (small_layer(args.width) if model == "small" else GPT2_SMALL_LAYER) * layers

    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(*s, generator=gen).to(args.device, dtype) for s in shapes]
    initial = [(0.02 * torch.randn(*s, generator=gen)).to(args.device, dtype) for s in shapes]

    def ours(params):
        return pet.Muon(params, lr=LR, weight_decay=WEIGHT_DECAY, ns_coefficients=NS, ns_steps=5)

    def theirs(params):
        return torch.optim.Muon(params, lr=LR, weight_decay=WEIGHT_DECAY, ns_coefficients=NS, ns_steps=5)

    def fresh():
        return [torch.nn.Parameter(p.clone()) for p in initial]

    results = {"device": args.device, "model": model, "width": args.width if model == "small" else 768,
               "layers": layers, "dtype": args.dtype, "shapes": [f"{a}x{b}" for a, b in sorted(set(shapes))],
               "parameters": sum(a * b for a, b in shapes), "torch": torch.__version__,
               "torch_threads": torch.get_num_threads()}
    if args.device == "cpu":
        import polar_express as pe

        info = pe.cpu_info()
        results["polar_express_blas"] = f"{info['config']}, kernels {info['core']} ({info['core_source']})"
    params = fresh()
    results["polar_express_ms"] = timed_steps(ours(params), params, grads, args.repeats, args.device)
    if hasattr(torch.optim, "Muon"):
        params = fresh()
        results["torch_optim_muon_ms"] = timed_steps(theirs(params), params, grads, args.repeats, args.device)
        results["ratio_torch_over_polar_express"] = results["torch_optim_muon_ms"] / results["polar_express_ms"]
        reference = first_updates(theirs, initial, grads)
        results["update_distance_polar_express"] = relative(first_updates(ours, initial, grads), reference)
        # The same iteration in float32, as torch.optim.Muon's update would be without bf16.
        f32 = []
        for p0, g in zip(initial, grads):
            buf = torch.zeros_like(g).lerp_(g, 1 - 0.95)
            u = newton_schulz_f32(g.lerp(buf, 0.95))
            scale = LR * max(1.0, g.size(0) / g.size(1)) ** 0.5
            f32.append((p0.float() * LR * WEIGHT_DECAY + scale * u).float())
        results["update_distance_float32_iteration"] = relative(f32, reference)
    # torch.optim.Muon's rule with its iteration in float32 (torch's own ops, one
    # parameter at a time): what torch's CPU build gives without bf16 matmuls.
    params, buffers = fresh(), [torch.zeros_like(g) for g in grads]

    def float32_step():
        with torch.no_grad():
            for p, g, buf in zip(params, grads, buffers):
                buf.lerp_(g, 1 - 0.95)
                u = newton_schulz_f32(g.lerp(buf, 0.95)).to(p.dtype)
                p.mul_(1 - LR * WEIGHT_DECAY)
                p.add_(u, alpha=-LR * max(1.0, g.size(0) / g.size(1)) ** 0.5)

    float32_step()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        float32_step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        times.append(1e3 * (time.perf_counter() - start))
    results["torch_float32_loop_ms"] = statistics.median(times)
    results["ratio_torch_float32_loop_over_polar_express"] = results["torch_float32_loop_ms"] / results["polar_express_ms"]
    print(json.dumps(results, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
