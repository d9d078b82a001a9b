"""The iteration program (runtime/program.hpp) as Python sees it: for a shape,
schedule, step count and the traits of a backend, the very list of operations
the native CPU and CUDA backends run.  The torch and JAX backends interpret
these lists; a change to the iteration lands in the runtime's compiler alone.

    p = compile_program(schedule, batch=1, rows=512, cols=2048, steps=0,
                        device="cpu", dtype="float32")
    p.gram, p.restarts, [op.kind for op in p.operations]
    print(p)                        # one line per operation

``device`` names whose traits plan the program: "cpu" (the CPU runtime's)
or "cuda" (the CUDA plan's: symmetric products from k = 2048; every other
accelerator is planned as CUDA is).  ``dtype`` is the element type the iterate
is stored in ("float64", "float32", "float16", "bfloat16"), whose significand
bits set the Gram iteration's restart budget.
"""

from __future__ import annotations

import functools

from . import _core
from ._schedule import Schedule

#: The operation kinds a program holds (program.hpp's OpKind, by name).
KINDS = ("normalise", "gram", "aol-scale", "product", "add-identity", "apply", "store")

#: The normalisations a program's "normalise" operation applies (its
#: ``normalization``): every interpreter dispatches on this one name.
NORMALIZATIONS = ("frobenius", "aol")

Program = _core.Program
Operation = _core.Operation


@functools.lru_cache(maxsize=512)
def compile_program(
    schedule: Schedule,
    batch: int,
    rows: int,
    cols: int,
    steps: int,
    device: str,
    dtype: str,
    gram: str = "auto",
    symmetric: str = "auto",
    restart_interval: int = 0,
) -> Program:
    """The program for ``batch`` matrices of ``rows x cols``: ``steps`` steps (0:
    the schedule's list once), planned with the traits of ``device`` for an
    iterate of ``dtype``; ``gram`` and ``symmetric`` ("auto", "off", "on") and
    ``restart_interval`` as the runtime's PlanOptions take them.  Cached: the
    same arguments give the same (immutable) program object."""
    return _core.compile_program(
        schedule._handle, int(batch), int(rows), int(cols), int(steps), device, dtype, gram, symmetric,
        int(restart_interval)
    )


def backend_traits(device: str, dtype: str):
    """(significand bits, k from which products are symmetric) that plan a
    program for ``device`` and ``dtype``."""
    return _core.backend_traits(device, dtype)
