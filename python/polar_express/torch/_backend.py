"""The torch backend: the runtime's iteration program (polar_express._program)
interpreted with torch operations on the tensor's own device and dtype, so that
every device torch runs on (CUDA without the native module, ROCm, MPS, XPU, the
CPU in bfloat16 or float16) gets the schedules, and torch.compile and CUDA
graphs see plain torch work.

Each operation maps to one or a few torch calls on buffers allocated once per
call (``bmm``/``baddbmm`` with the program's alpha and beta, the GEMM's beta
term for the addend as the CUDA plan puts it in cuBLASLt's C).  Precision as the
CUDA plan keeps it: the iterate in the element type; the k x k matrices in the
element type on the direct path and in float32 in the Gram iteration (float64
for a float64 iterate), with Q rounded to the element type only for Q X0;
products accumulate as torch's matmul does (float32 for 16-bit types).  The
normalisation's statistics and the final ``||X||_F^2 <= 4k`` check run in
float32 (float64 for float64) as tensor operations: nothing waits for the
device, so a call can be captured in a CUDA graph.  A matrix whose input is not
finite or whose iteration diverges comes back all NaN, a zero matrix zero, as
from the native runtime.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Callable, Optional

import torch

from .. import _program
from .._caller import user_stacklevel
from .._orthogonalize import OrthogonalizeWarning
from .._schedule import Schedule

#: What ``backend=`` takes.
BACKENDS = ("auto", "native", "torch")

_DTYPE_NAMES = {
    torch.float64: "float64",
    torch.float32: "float32",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
}

# Block rows of a symmetric k x k product: about eight per matrix, whole
# multiples of 64 (the CPU runtime's choice, which keeps the BLAS's blocking).
def _block_rows(k: int) -> int:
    return max(64, (k // 8 + 63) // 64 * 64)


def choose_backend(x: torch.Tensor, backend: str) -> str:
    """"native" or "torch" for ``x`` under ``backend`` ("auto": the native
    runtime wherever it runs x's device and dtype, else the torch backend)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend != "auto":
        return backend
    return "native" if _native_runs(x.device, x.dtype) else "torch"


@functools.lru_cache(maxsize=None)
def _native_probe(device: torch.device, dtype: torch.dtype) -> bool:
    from .._orthogonalize import run

    probe = torch.eye(2, dtype=dtype, device=device)
    try:
        run(probe, _probe_schedule(), 1, None, False, False)
    except (TypeError, ValueError, RuntimeError):
        return False
    return True


def _native_runs(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether the native runtime runs matrices of ``dtype`` on ``device``: a
    2 x 2 call tried once per device and dtype (a module missing, not built for
    the GPU's architecture, a dtype the native backend does not take: any
    refusal), so the rule is the runtime's own.  ROCm tensors, which torch
    calls "cuda", never reach the CUDA module."""
    if device.type not in ("cpu", "cuda") or (device.type == "cuda" and torch.version.hip is not None):
        return False
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_current_stream_capturing() and not _native_probe.cache_info().currsize:
            return False  # no probe inside a capture: warm up first, as graphs need anyway
    return _native_probe(device, dtype)


@functools.lru_cache(maxsize=None)
def _probe_schedule() -> Schedule:
    return Schedule([[1.5, -0.5]], name="native-probe")


def nuclear_dtype(device: torch.device) -> torch.dtype:
    """The dtype of <G, U>: float64, or float32 on MPS (which has no float64)."""
    return torch.float32 if device.type == "mps" else torch.float64


def orthogonalize(
    x: torch.Tensor,
    schedule: Schedule,
    steps: int,
    nuclear_norm: bool,
    trace: Optional[Callable] = None,
):
    """The polar factors of the 2-D or 3-D tensor ``x`` by the program of
    ``schedule`` (``steps`` steps, 0 for the list once); with ``nuclear_norm``
    also <G_b, U_b> per matrix.  ``trace(index, operation, outputs)``, when
    given, is called after each operation with the tensors it wrote (for tests
    comparing executors operation by operation)."""
    if x.dtype not in _DTYPE_NAMES:
        raise TypeError(
            f"polar_express.orthogonalize: dtype {x.dtype} is not float64, float32, float16 or bfloat16"
        )
    if _column_major(x):  # the polar factor of X^T is U^T: work on the row-major transpose
        result = orthogonalize(x.mT, schedule, steps, nuclear_norm, trace)
        return (result[0].mT, result[1]) if nuclear_norm else result.mT
    g = x if x.dim() == 3 else x.unsqueeze(0)
    batch, rows, cols = g.shape
    executor = _executor(schedule, batch, rows, cols, steps, x.dtype, x.device.type)
    u, good = executor(g, trace)
    if x.device.type == "cpu" and not bool(good.all()):  # a host check costs nothing on the CPU
        _warn(good)
    nuclear = None
    if nuclear_norm:
        acc = nuclear_dtype(x.device)
        nuclear = torch.sum(g.to(acc) * u.to(acc), dim=(-2, -1))
    if x.dim() == 2:
        u = u.squeeze(0)
        nuclear = None if nuclear is None else nuclear.squeeze(0)
    return (u, nuclear) if nuclear_norm else u


def _column_major(x: torch.Tensor) -> bool:
    from . import _column_major as rule

    return rule(x)


def _warn(good: torch.Tensor) -> None:
    failed = [b for b, ok in enumerate(good.tolist()) if not ok]
    shown = ", ".join(str(b) for b in failed[:8]) + (f" and {len(failed) - 8} more" if len(failed) > 8 else "")
    warnings.warn(
        f"polar_express.orthogonalize (torch backend): {len(failed)} of {good.numel()} matrices have no polar "
        f"factor (matrices {shown}: non-finite input or diverged); their outputs are NaN",
        OrthogonalizeWarning,
        stacklevel=user_stacklevel(),
    )


@functools.lru_cache(maxsize=256)
def _executor(schedule, batch, rows, cols, steps, dtype, device_type):
    program = _program.compile_program(
        schedule, batch, rows, cols, steps, "cpu" if device_type == "cpu" else "cuda", _DTYPE_NAMES[dtype]
    )
    return _Executor(program, dtype, device_type)


class _Executor:
    """One program bound to torch calls: each operation becomes a closure over
    its buffers' indices and constants, so a call runs the operations and
    nothing else."""

    def __init__(self, program, dtype: torch.dtype, device_type: str):
        self.program = program
        self.dtype = dtype
        self.device_type = device_type
        self.stat_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        # The k x k matrices: float32 in the Gram iteration of a 16-bit iterate.
        self.square_dtype = torch.float32 if program.gram and dtype.itemsize < 4 else dtype
        self.k, self.big = program.short_side, program.long_side
        # Products marked symmetric run by lower block rows for a single matrix
        # only: for a batch, torch's CPU bmm copies the strided output block of
        # each call, which costs what the triangle saves (measured: bench/python).
        self.triangles = program.batch == 1
        # The direct form's apply X' = (alpha P + beta I) X: one GEMM on H (k x k,
        # cheaper to form than the copy of X a beta term needs), as the CPU
        # runtime does, for 32- and 64-bit iterates; for 16-bit ones the beta
        # term rides on the GEMM (float32 epilogue, as the CUDA plan does), so
        # that H is never rounded to the element type.
        self.fold_identity = dtype.itemsize >= 4
        folds = self.fold_identity and any(op.kind == "apply" and op.addend is not None and op.addend == op.rhs
                                           for op in program.operations)
        self.names = program.buffers + (["H"] if folds else [])
        self.index = {name: i for i, name in enumerate(self.names)}
        self.steps = [self._bind(op) for op in program.operations]

    def __call__(self, g: torch.Tensor, trace=None):
        program = self.program
        shape = (g.shape[0], program.rows, program.cols)
        square = (g.shape[0], self.k, self.k)
        buffers = [
            torch.empty(shape if name in ("X0", "X1") else square, device=g.device,
                        dtype=self.dtype if name in ("X0", "X1", "H") else self.square_dtype)
            for name in self.names
        ]
        state = {"input": g}
        for index, (op, run) in enumerate(zip(program.operations, self.steps)):
            run(buffers, state)
            if trace is not None:
                written = [op.dst] if op.kind != "aol-scale" else [op.dst, op.lhs]
                outputs = {name: buffers[self.index[name]].clone() for name in written if name is not None}
                if op.kind == "store":
                    outputs = {"U": state["output"].clone()}
                trace(index, op, outputs)
        return state["output"], state["good"]

    # ----------------------------------------------------------- operations

    def _bind(self, op):
        at = self.index
        slot = lambda name: at[name] if name is not None else None  # noqa: E731
        dst, lhs, rhs, addend = slot(op.dst), slot(op.lhs), slot(op.rhs), slot(op.addend)
        wide, k = self.program.wide, self.k
        alpha, beta = op.alpha, op.beta
        if op.kind == "normalise":
            return self._normalise(dst)
        if op.kind == "gram":
            return self._gram(dst, lhs, op.symmetric and self.triangles)
        if op.kind == "aol-scale":
            return self._aol_scale(dst, lhs)
        if op.kind == "product":
            symmetric = op.symmetric and self.triangles

            def product(b, state):
                _matmul(b[dst], b[lhs], b[rhs], alpha, beta, None if addend is None else b[addend], symmetric, k)

            return product
        if op.kind == "add-identity":

            def add_identity(b, state):
                torch.mul(b[lhs], alpha, out=b[dst])
                b[dst].diagonal(dim1=-2, dim2=-1).add_(beta)

            return add_identity
        if op.kind == "apply":
            dtype, scratch = self.dtype, at.get("H")
            fold = self.fold_identity and addend is not None and addend == rhs

            def apply(b, state):
                h = b[lhs] if b[lhs].dtype == dtype else b[lhs].to(dtype)  # Q rounded for Q X0
                a, c = alpha, None if addend is None else b[addend]
                if fold:
                    torch.mul(h, alpha, out=b[scratch])
                    b[scratch].diagonal(dim1=-2, dim2=-1).add_(beta)
                    h, a, c = b[scratch], 1.0, None
                if wide:
                    _matmul(b[dst], h, b[rhs], a, beta, c, False, k)
                else:
                    _matmul(b[dst], b[rhs], h, a, beta, c, False, k)

            return apply
        if op.kind == "store":
            return self._store(lhs)
        raise ValueError(f"the torch backend has no mapping for operation {op.kind!r}")

    def _normalise(self, dst):
        """X = G scaled by the program's normalisation; non-finite inputs recorded."""
        normalization = self.program.normalization
        factor, eps = self.program.normalization_factor, self.program.eps
        stat = self.stat_dtype
        if normalization not in _program.NORMALIZATIONS:
            raise ValueError(f"the torch backend has no normalisation {normalization!r}")
        # The squares of a 16- or 32-bit G cannot overflow a float64 sum: one pass
        # gives ||G||_F, and whether G is finite and nonzero, as the CUDA plan's
        # double partial sums do.  Otherwise (a float64 G, or MPS, which has no
        # float64) ||G||_F = max|g| ||G / max|g|||_F, as the CPU runtime computes it.
        one_pass = self.dtype.itemsize <= 4 and self.device_type != "mps"

        def frobenius_in_one_pass(b, state):
            g = state["input"]
            norm = torch.linalg.vector_norm(g, dim=(-2, -1), keepdim=True, dtype=torch.float64)
            state["finite"] = torch.isfinite(norm)
            # A zero matrix is scaled by 0 and stays zero.
            ratio = torch.where(norm > 0, 1.0 / (factor * norm + eps), torch.zeros_like(norm))
            torch.mul(g, ratio.to(stat), out=b[dst])

        def normalise(b, state):
            g = state["input"]
            largest = torch.linalg.vector_norm(g, ord=math.inf, dim=(-2, -1), keepdim=True, dtype=stat)
            finite = torch.isfinite(largest)
            state["finite"] = finite
            # Zero and non-finite matrices divide by 1: a zero input stays zero,
            # a non-finite one fails the final check.
            safe = torch.where(finite & (largest > 0), largest, torch.ones_like(largest))
            if normalization == "aol":
                torch.div(g, safe, out=b[dst])
                return
            scaled = torch.div(g, safe) if g.dtype == stat else torch.div(g.to(stat), safe)
            norm = torch.linalg.vector_norm(scaled, dim=(-2, -1), keepdim=True)
            torch.mul(scaled, 1.0 / (factor * norm + eps / safe), out=b[dst])

        return frobenius_in_one_pass if normalization == "frobenius" and one_pass else normalise

    def _gram(self, dst, lhs, symmetric):
        wide, k, square = self.program.wide, self.k, self.square_dtype

        def gram(b, state):
            x = b[lhs] if b[lhs].dtype == square else b[lhs].to(square)
            if wide:
                _matmul(b[dst], x, x.mT, 1.0, 0.0, None, symmetric, k)
            else:
                _matmul(b[dst], x.mT, x, 1.0, 0.0, None, symmetric, k)

        return gram

    def _aol_scale(self, dst, lhs):
        """D = diag(1 / sqrt(sum_j |A_ij|)) (0 for a zero row); X <- D X (wide) or
        X D (tall), A <- D A D."""
        wide, stat = self.program.wide, self.stat_dtype

        def aol_scale(b, state):
            a, x = b[dst], b[lhs]
            rows = a.abs().sum(dim=-1, dtype=stat)
            d = torch.where(rows > 0, torch.rsqrt(rows), torch.zeros_like(rows))
            x.mul_(d.unsqueeze(-1) if wide else d.unsqueeze(-2))
            a.mul_(d.unsqueeze(-1)).mul_(d.unsqueeze(-2))

        return aol_scale

    def _store(self, lhs):
        """The output, NaN for a matrix whose input was not finite or whose
        iterate fails ||X||_F^2 <= 4k (NaN compares false)."""
        limit, stat = 4.0 * self.k, self.stat_dtype

        def store(b, state):
            x = b[lhs]
            squares = torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True, dtype=stat).square()
            good = state["finite"] & (squares <= limit)
            state["output"] = torch.where(good, x, torch.full_like(x[:1, :1, :1], math.nan))
            state["good"] = good.reshape(-1)

        return store


def _matmul(dst, a, b, alpha, beta, addend, symmetric, k):
    """dst = alpha a b + beta addend (addend None: no term) for batches of
    matrices; when ``symmetric`` (dst is k x k and symmetric) by lower block
    rows, then mirrored."""
    if not symmetric:
        _gemm(dst, a, b, alpha, beta, addend)
        return
    block = _block_rows(k)
    for r0 in range(0, k, block):
        r1 = min(k, r0 + block)
        _gemm(dst[:, r0:r1, :r1], a[:, r0:r1], b[:, :, :r1], alpha, beta,
              None if addend is None else addend[:, r0:r1, :r1])
    for r0 in range(block, k, block):
        r1 = min(k, r0 + block)
        dst[:, :r0, r0:r1].copy_(dst[:, r0:r1, :r0].mT)


def _gemm(dst, a, b, alpha, beta, addend):
    if addend is None or beta == 0:
        dst.baddbmm_(a, b, beta=0.0, alpha=alpha)
    elif addend is dst:
        dst.baddbmm_(a, b, beta=beta, alpha=alpha)
    else:
        torch.baddbmm(addend, a, b, beta=beta, alpha=alpha, out=dst)
