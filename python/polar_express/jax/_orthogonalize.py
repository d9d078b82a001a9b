"""orthogonalize for JAX: the runtime's iteration program (polar_express._program)
interpreted with jax.numpy, so it traces into one XLA computation (jit, vmap,
any device XLA runs on).  The program is compiled at trace time, from the
static shape, the schedule and the step count; nothing of it is data.

Precision as the CUDA plan keeps it: the iterate in the array's dtype; the k x k
matrices in that dtype on the direct path and in float32 in the Gram iteration
of a 16-bit iterate, with Q rounded to the element type for Q X0; products at
XLA's default matmul precision (``jax.default_matmul_precision`` changes it).
The normalisation's statistics and the final ``||X||_F^2 <= 4k`` check run in
float32 (float64 for float64).  Products the program marks symmetric are
computed whole: XLA has no triangular product, and the result is the same.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from .. import _program
from .._schedule import DEFAULT_SCHEDULE, _steps, as_schedule

_DTYPES = ("float64", "float32", "float16", "bfloat16")


def orthogonalize(x, schedule=DEFAULT_SCHEDULE, steps: Optional[int] = None, *, trace: Optional[Callable] = None):
    """The polar factor of a 2-D array, or of each matrix of a 3-D one, by the
    schedule's iteration (``steps`` steps; default the list once, past it the
    list's ``after_list`` rule).  The result has x's shape and dtype.

    ``jax.jit``- and ``jax.vmap``-able with the schedule and steps static (e.g.
    ``jax.jit(orthogonalize, static_argnames=("schedule", "steps"))``, or a
    ``functools.partial``).  A matrix whose input is not finite or whose iteration
    diverges comes back all NaN, a zero matrix zero.  ``trace(index, operation,
    outputs)``, outside jit only, is called after each operation of the program
    with the arrays it wrote."""
    x = jnp.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"polar_express.jax.orthogonalize takes a 2-D matrix or a 3-D batch; got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"polar_express.jax.orthogonalize: shape {x.shape} is empty")
    if x.dtype.name not in _DTYPES:
        raise TypeError(
            f"polar_express.jax.orthogonalize: dtype {x.dtype.name} is not float64, float32, float16 or bfloat16"
        )
    # A matrix runs as one (no batch axis): XLA's CPU backend multiplies 2-D
    # operands faster than a batch of one.
    batch, rows, cols = (1, *x.shape) if x.ndim == 2 else x.shape
    program = _program.compile_program(
        as_schedule(schedule), batch, rows, cols, 0 if steps is None else _steps(steps),
        "cpu" if jax.default_backend() == "cpu" else "cuda", x.dtype.name,
    )
    return _run(program, x, trace)


def _run(program, g, trace):
    """The operations of ``program`` on ``g``, a matrix or a batch of them."""
    dtype = g.dtype
    stat = jnp.float64 if dtype == jnp.float64 else jnp.float32
    square = jnp.float32 if program.gram and dtype.itemsize < 4 else dtype
    k, wide = program.short_side, program.wide
    buffers, finite, output = {}, None, None
    for index, op in enumerate(program.operations):
        kind = op.kind
        if kind == "normalise":
            buffers[op.dst], finite = _normalise(g, program, stat)
        elif kind == "gram":
            x = buffers[op.lhs].astype(square)
            buffers[op.dst] = _mm(x, _t(x)) if wide else _mm(_t(x), x)
        elif kind == "aol-scale":
            buffers[op.dst], buffers[op.lhs] = _aol_scale(buffers[op.dst], buffers[op.lhs], wide, stat)
        elif kind == "product":
            buffers[op.dst] = _combine(op, _mm(buffers[op.lhs], buffers[op.rhs]), buffers)
        elif kind == "add-identity":
            eye = jnp.eye(k, dtype=buffers[op.lhs].dtype)
            buffers[op.dst] = (op.alpha * buffers[op.lhs] + op.beta * eye).astype(buffers[op.lhs].dtype)
        elif kind == "apply":
            h = buffers[op.lhs].astype(dtype)  # Q rounded for Q X0
            x = buffers[op.rhs]
            buffers[op.dst] = _combine(op, _mm(h, x) if wide else _mm(x, h), buffers)
        elif kind == "store":
            output = _store(buffers[op.lhs], finite, k, stat)
        else:
            raise ValueError(f"the JAX backend has no mapping for operation {kind!r}")
        if trace is not None:
            written = {"U": output} if kind == "store" else {op.dst: buffers[op.dst]}
            if kind == "aol-scale":
                written[op.lhs] = buffers[op.lhs]
            trace(index, op, written)
    return output


def _t(a):
    return jnp.swapaxes(a, -1, -2)


def _mm(a, b):
    return jnp.matmul(a, b)


def _combine(op, product, buffers):
    """alpha * product + beta * addend, in the product's dtype."""
    value = op.alpha * product if op.alpha != 1.0 else product
    if op.addend is not None and op.beta != 0.0:
        value = value + op.beta * buffers[op.addend]
    return value.astype(product.dtype)


def _normalise(g, program, stat):
    """X = G scaled by the program's normalisation (the one place that reads
    it), and whether each matrix's input is finite."""
    normalization = program.normalization
    if normalization not in _program.NORMALIZATIONS:
        raise ValueError(f"the JAX backend has no normalisation {normalization!r}")
    largest = jnp.max(jnp.abs(g), axis=(-2, -1), keepdims=True).astype(stat)
    finite = jnp.isfinite(largest)
    # Zero and non-finite matrices divide by 1: a zero input stays zero, a
    # non-finite one fails the final check.
    safe = jnp.where(finite & (largest > 0), largest, jnp.ones_like(largest))
    scaled = g.astype(stat) / safe
    if normalization == "frobenius":
        # ||G||_F = largest ||G / largest||_F: no overflow in the squares.
        norm = jnp.sqrt(jnp.sum(jnp.square(scaled), axis=(-2, -1), keepdims=True))
        scaled = scaled * (1.0 / (program.normalization_factor * norm + program.eps / safe))
    return scaled.astype(g.dtype), finite


def _aol_scale(a, x, wide, stat):
    """D = diag(1 / sqrt(sum_j |A_ij|)) (0 for a zero row): (D A D, D X or X D)."""
    rows = jnp.sum(jnp.abs(a).astype(stat), axis=-1)
    d = jnp.where(rows > 0, jax.lax.rsqrt(jnp.where(rows > 0, rows, 1)), 0)
    scaled_x = x.astype(stat) * (d[..., :, None] if wide else d[..., None, :])
    scaled_a = a.astype(stat) * d[..., :, None] * d[..., None, :]
    return scaled_a.astype(a.dtype), scaled_x.astype(x.dtype)


def _store(x, finite, k, stat):
    """The output, NaN for a matrix whose input was not finite or whose iterate
    fails ||X||_F^2 <= 4k (NaN compares false)."""
    squares = jnp.sum(jnp.square(x.astype(stat)), axis=(-2, -1), keepdims=True)
    good = finite & (squares <= 4.0 * k)
    return jnp.where(good, x, jnp.asarray(math.nan, dtype=x.dtype))
