#!/usr/bin/env python3
"""One optimizer step of polar_express.torch.Muon against torch.optim.Muon on the
hidden matrices of GPT-2 small (per layer: attention in 2304x768 and out 768x768,
MLP 3072x768 and 768x3072; 12 layers), same gradients, medians of timed steps.

    .venv/bin/python bench/python/muon_step.py [--device cuda] [--layers 12]
        [--dtype float32|bfloat16] [--schedule NAME] [--repeats 20] [--json FILE]

torch.optim.Muon (torch >= 2.9) runs its quintic Newton-Schulz in bfloat16, one
parameter at a time; pet.Muon runs the schedule in the parameters' dtype where the
backend has it, same-shape parameters in one batched call.
"""

import argparse
import json
import statistics
import sys
import time

import torch

import polar_express.torch as pet

GPT2_SMALL_LAYER = [(2304, 768), (768, 768), (3072, 768), (768, 3072)]


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--schedule", default="polar-express-nanochat-d5")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(0)
    shapes = GPT2_SMALL_LAYER * args.layers
    grads = [torch.randn(*s, generator=gen).to(args.device, dtype) for s in shapes]

    def fresh():
        return [torch.nn.Parameter(torch.zeros(*s, device=args.device, dtype=dtype)) for s in shapes]

    results = {"device": args.device, "layers": args.layers, "dtype": args.dtype, "schedule": args.schedule,
               "parameters": sum(a * b for a, b in shapes), "torch": torch.__version__}
    params = fresh()
    results["polar_express_ms"] = timed_steps(pet.Muon(params, lr=0.02, schedule=args.schedule), params, grads,
                                              args.repeats, args.device)
    if hasattr(torch.optim, "Muon"):
        params = fresh()
        results["torch_optim_muon_ms"] = timed_steps(torch.optim.Muon(params, lr=0.02), params, grads, args.repeats,
                                                     args.device)
        results["ratio_torch_over_polar_express"] = results["torch_optim_muon_ms"] / results["polar_express_ms"]
    print(f"{'optimizer':<28} {'median ms':>10}")
    print(f"{'polar_express.torch.Muon':<28} {results['polar_express_ms']:>10.2f}")
    if "torch_optim_muon_ms" in results:
        print(f"{'torch.optim.Muon':<28} {results['torch_optim_muon_ms']:>10.2f}")
        print(f"ratio torch / polar_express: {results['ratio_torch_over_polar_express']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
