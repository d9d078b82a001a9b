"""PyTorch integration: the custom operators torch.ops.polar_express.orthogonalize
and torch.ops.polar_express.orthogonalize_nuclear (kept whole by torch.compile, with
fake implementations for tracing) and the Muon / PolarGrad optimizer.

    import polar_express.torch as pet
    u = pet.orthogonalize(g, schedule="polar-express-nanochat-d5")
    opt = pet.Muon(model.parameters(), lr=0.02)       # as torch.optim.Muon

Both operators take ``backend``: "native" (the C++ runtime), "torch" (the same
iteration program run with torch operations on the tensor's device and dtype:
polar_express.torch._backend) or "auto" (native where it runs the device and
dtype, else torch).

The operators are not differentiable: a backward pass that reaches them raises.
"""

from __future__ import annotations

from typing import Optional

import torch

from .._orthogonalize import run
from . import _backend
from .._schedule import DEFAULT_SCHEDULE, Schedule, _steps, as_schedule

__all__ = ["Muon", "distributed", "orthogonalize", "schedule_token"]


def schedule_token(schedule) -> str:
    """The string the operators name ``schedule`` by: a built-in name as it is, a
    :class:`Schedule` by its token (valid in this process)."""
    if isinstance(schedule, str):
        return schedule
    if isinstance(schedule, Schedule):
        return schedule._token
    return as_schedule(schedule)._token


def orthogonalize(
    t: torch.Tensor,
    schedule=DEFAULT_SCHEDULE,
    steps: Optional[int] = None,
    nuclear_norm: bool = False,
    backend: str = "auto",
):
    """The polar factor of a 2-D tensor or of each matrix of a 3-D one, through the
    operator torch.ops.polar_express.orthogonalize.  ``nuclear_norm=True`` also
    returns <G_b, U_b> per matrix (float64, shape () or (B,)) through
    torch.ops.polar_express.orthogonalize_nuclear.

    ``backend``: "native" runs the native runtime (CPU: float64/float32; CUDA
    module: float32/float16/bfloat16, on the current stream; reading the nuclear
    norms synchronises); "torch" interprets the same iteration program with torch
    operations on any device and floating dtype torch has (no host
    synchronisation off the CPU: capturable in a CUDA graph); "auto" (default)
    takes the native runtime wherever it runs the tensor's device and dtype, else
    the torch backend."""
    # torch.func would fail first, asking for setup_context (dynamo cannot
    # trace the check, and a compiled graph is not under torch.func here).
    if not torch.compiler.is_compiling() and _differentiated_by_torch_func(t):
        raise RuntimeError(_NOT_DIFFERENTIABLE + " (here under torch.func.grad, vjp or jacrev)")
    token = schedule_token(schedule)
    if nuclear_norm:
        return torch.ops.polar_express.orthogonalize_nuclear(t, token, steps, backend)
    return torch.ops.polar_express.orthogonalize(t, token, steps, backend)


# ------------------------------------------------------------------ operators


def _check_matrices(x: torch.Tensor) -> None:
    if x.dim() not in (2, 3):
        raise ValueError(f"polar_express.orthogonalize takes a 2-D matrix or a 3-D batch; got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"polar_express.orthogonalize: shape {tuple(x.shape)} is empty")
    if not x.dtype.is_floating_point:
        raise TypeError(f"polar_express.orthogonalize: dtype {x.dtype} is not a floating type")


def _column_major(x: torch.Tensor) -> bool:
    """Whether the runtime takes x's matrices as column-major (transposed)
    without a copy: the rule of the extension's layout check, so that the
    fake and the real kernel agree on the output's strides."""
    m, n = x.shape[-2], x.shape[-1]
    row_stride, col_stride = x.stride(-2), x.stride(-1)
    row_major = (n == 1 or col_stride == 1) and (m == 1 or row_stride == n)
    column_major = (m == 1 or row_stride == 1) and (n == 1 or col_stride == m)
    if row_major or not column_major:
        return False
    return x.dim() == 2 or x.shape[0] == 1 or x.stride(0) >= m * n


def _output_like(x: torch.Tensor) -> torch.Tensor:
    """Column-major matrices for a column-major input, else row-major, packed."""
    if _column_major(x):
        return torch.empty(x.mT.shape, dtype=x.dtype, device=x.device).mT
    return torch.empty(x.shape, dtype=x.dtype, device=x.device)


def _kernel(x: torch.Tensor, schedule: str, steps: Optional[int], nuclear_norm: bool, backend: str):
    _check_matrices(x)
    steps_value = 0 if steps is None else _steps(steps)
    if _backend.choose_backend(x, backend) == "torch":
        return _backend.orthogonalize(x.detach(), as_schedule(schedule), steps_value, nuclear_norm)
    out = _output_like(x)
    result, report = run(x.detach(), as_schedule(schedule), steps_value, out, nuclear_norm, nuclear_norm)
    if not nuclear_norm:
        return result
    nuclear = torch.tensor(report.nuclear_norms, dtype=torch.float64).reshape(x.shape[:-2]).to(x.device)
    return result, nuclear


# The operators are defined with torch.library.Library rather than
# torch.library.custom_op: custom_op wraps each kernel in torch._disable_dynamo,
# which imports torch._dynamo (about 3 s and 150 MB here) on the first call of
# a process that never compiles.  A Library kernel is called as it is; the
# schema, the fake kernels and the autograd refusal are the same.
_LIBRARY = torch.library.Library("polar_express", "DEF")
_ARGUMENTS = "(Tensor x, str schedule, SymInt? steps=None, str backend='auto')"
_LIBRARY.define("orthogonalize" + _ARGUMENTS + " -> Tensor")
_LIBRARY.define("orthogonalize_nuclear" + _ARGUMENTS + " -> (Tensor, Tensor)")


def _orthogonalize_kernel(x, schedule, steps=None, backend="auto"):
    return _kernel(x, schedule, steps, False, backend)


def _orthogonalize_nuclear_kernel(x, schedule, steps=None, backend="auto"):
    return _kernel(x, schedule, steps, True, backend)


# Every device: the kernel itself chooses the native runtime or the torch backend.
_LIBRARY.impl("orthogonalize", _orthogonalize_kernel, "CompositeExplicitAutograd")
_LIBRARY.impl("orthogonalize_nuclear", _orthogonalize_nuclear_kernel, "CompositeExplicitAutograd")


@torch.library.register_fake("polar_express::orthogonalize", lib=_LIBRARY)
def _(x, schedule, steps=None, backend="auto"):
    _check_matrices(x)
    return _output_like(x)


@torch.library.register_fake("polar_express::orthogonalize_nuclear", lib=_LIBRARY)
def _(x, schedule, steps=None, backend="auto"):
    _check_matrices(x)
    return _output_like(x), x.new_empty(x.shape[:-2], dtype=_backend.nuclear_dtype(x.device))


_NOT_DIFFERENTIABLE = (
    "polar_express.orthogonalize is not differentiable: a gradient reached "
    "torch.ops.polar_express.orthogonalize (detach its input, or compute it under torch.no_grad())"
)


def _not_differentiable(ctx, *grads):
    raise RuntimeError(_NOT_DIFFERENTIABLE)


def _differentiated_by_torch_func(t: torch.Tensor) -> bool:
    """Whether a torch.func transform that differentiates wraps ``t``, at any level."""
    functorch = torch._C._functorch
    while functorch.is_functorch_wrapped_tensor(t):
        if functorch.is_gradtrackingtensor(t):
            return True
        t = functorch.get_unwrapped(t)
    return False


def _no_context(ctx, inputs, output):
    pass


torch.library.register_autograd("polar_express::orthogonalize", _not_differentiable, setup_context=_no_context,
                                lib=_LIBRARY)
torch.library.register_autograd("polar_express::orthogonalize_nuclear", _not_differentiable,
                                setup_context=_no_context, lib=_LIBRARY)

from . import distributed  # noqa: E402  (it calls the operators above)
from ._muon import Muon  # noqa: E402  (Muon calls the operators above)
