#!/usr/bin/env python3
"""The interpreters of the iteration program against what they stand in for, on
the CPU bench shapes, side by side in one run (two rounds of each in turn,
medians):

- torch: polar_express.torch's torch backend (backend="torch") against the
  native CPU runtime (backend="native") and the published formulation of the
  same list in torch (what a torch user runs instead: nanochat's loop, one
  torch op after another), f32, nanochat's list;
- jax: jitted polar_express.jax.orthogonalize against jitted
  optax.contrib's orthogonalize_via_newton_schulz (optax.contrib.muon's
  orthogonalization) on the same (n, 3) coefficients and eps (cesista's
  5-step quintic list, normalisation factor 1).

    .venv/bin/python bench/python/backends.py [--which torch,jax] [--shapes 128x128,...]
        [--repeats 7] [--json OUT]

Prints a markdown table per comparison: median ms of each, the ratio
(interpreter / reference: below 1 the interpreter is faster) and the relative
Frobenius difference of the two results ||ours - reference||_F / ||reference||_F.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

SHAPES = "128x128,384x128,512x128,1024x1024,2048x2048,2048x512,512x2048,8x256x256,16x128x768,64x256x256"


def parse_shape(text):
    dims = tuple(int(d) for d in text.split("x"))
    return dims


def side_by_side(functions, repeats, rounds=2):
    """Median ms of each function over ``rounds`` rounds; a round times each in
    turn, a warm-up and then ``repeats`` runs (in blocks, so that one library's
    idle worker threads do not spin through the other's runs)."""
    times = [[] for _ in functions]
    for _ in range(rounds):
        for fn, record in zip(functions, times):
            fn()
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                record.append(1e3 * (time.perf_counter() - start))
    return [statistics.median(record) for record in times]


def relative_difference(ours, reference):
    import numpy as np

    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))


def bench_torch(shapes, repeats):
    import torch

    import polar_express as pe
    import polar_express.torch as pet

    schedule = pe.Schedule.builtin("polar-express-nanochat-d5")

    def published(g):
        """The Polar Express paper's Algorithm 1 as nanochat writes it."""
        x = g / (schedule.normalization_factor * torch.linalg.matrix_norm(g, keepdim=True) + schedule.eps)
        tall = x.size(-2) > x.size(-1)
        if tall:
            x = x.mT
        for a, b, c in schedule.coefficients:
            gram = x @ x.mT
            x = a * x + (b * gram + c * gram @ gram) @ x
        return x.mT if tall else x

    rows = []
    for shape in shapes:
        g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
        ours = lambda: pet.orthogonalize(g, schedule, backend="torch")  # noqa: E731
        native = lambda: pet.orthogonalize(g, schedule, backend="native")  # noqa: E731
        torch_ms, native_ms, published_ms = side_by_side([ours, native, lambda: published(g)], repeats)
        rows.append({"shape": "x".join(map(str, shape)), "torch_backend_ms": torch_ms, "native_ms": native_ms,
                     "published_ms": published_ms, "ratio": torch_ms / native_ms,
                     "published_ratio": torch_ms / published_ms,
                     "relative_difference": relative_difference(ours(), native())})
    return rows


def bench_jax(shapes, repeats):
    import functools

    import jax
    import jax.numpy as jnp
    import numpy as np
    from optax.contrib import _muon

    import polar_express as pe
    import polar_express.jax as pej

    schedule = pe.Schedule.builtin("cesista-quintic-5step")
    coefficients = jnp.asarray(schedule.to_optax(), dtype=jnp.float32)
    ours = jax.jit(functools.partial(pej.orthogonalize, schedule=schedule))
    if_3d = lambda f: jax.vmap(f)  # noqa: E731  (optax's function takes one matrix)
    optax_2d = jax.jit(lambda x: _muon.orthogonalize_via_newton_schulz(x, coefficients, eps=schedule.eps))
    optax_3d = jax.jit(if_3d(lambda x: _muon.orthogonalize_via_newton_schulz(x, coefficients, eps=schedule.eps)))
    rows = []
    for shape in shapes:
        x = jnp.asarray(np.random.default_rng(0).standard_normal(shape), dtype=jnp.float32)
        reference = optax_3d if len(shape) == 3 else optax_2d
        ours_ms, optax_ms = side_by_side([lambda: ours(x).block_until_ready(),
                                          lambda: reference(x).block_until_ready()], repeats)
        rows.append({"shape": "x".join(map(str, shape)), "jax_backend_ms": ours_ms, "optax_ms": optax_ms,
                     "ratio": ours_ms / optax_ms, "relative_difference": relative_difference(ours(x), reference(x))})
    return rows


def machine():
    info = {"python": platform.python_version(), "machine": platform.machine()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--which", default="torch,jax")
    parser.add_argument("--shapes", default=SHAPES)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    shapes = [parse_shape(s) for s in args.shapes.split(",")]
    result = {"machine": machine()}
    which = args.which.split(",")
    if "torch" in which:
        import torch

        result["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                           "rows": bench_torch(shapes, args.repeats)}
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: torch backend vs native CPU runtime "
              "and the published formulation in torch, f32")
        print("| shape | torch backend ms | native ms | published ms | backend / native | backend / published "
              "| rel. difference to native |\n|---|---:|---:|---:|---:|---:|---:|")
        for r in result["torch"]["rows"]:
            print(f"| {r['shape']} | {r['torch_backend_ms']:.2f} | {r['native_ms']:.2f} | {r['published_ms']:.2f} "
                  f"| {r['ratio']:.2f} | {r['published_ratio']:.2f} | {r['relative_difference']:.1e} |")
    if "jax" in which:
        import jax
        import optax

        result["jax"] = {"jax": jax.__version__, "optax": optax.__version__, "rows": bench_jax(shapes, args.repeats)}
        print(f"\njax {jax.__version__}, optax {optax.__version__}: jitted pej.orthogonalize vs optax, f32")
        print("| shape | polar_express.jax ms | optax ms | ours / optax | rel. difference |\n|---|---:|---:|---:|---:|")
        for r in result["jax"]["rows"]:
            print(f"| {r['shape']} | {r['jax_backend_ms']:.2f} | {r['optax_ms']:.2f} | {r['ratio']:.2f} "
                  f"| {r['relative_difference']:.1e} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
