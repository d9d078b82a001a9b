"""Muon with certified per-step schedules, matrices of any rank, batched calls and
the PolarGrad scaling; constructor and update rule as torch.optim.Muon."""

from __future__ import annotations

import math
import warnings
from typing import Optional

import torch

from .._caller import user_stacklevel
from .._orthogonalize import OrthogonalizeWarning
from .._schedule import DEFAULT_SCHEDULE, Schedule, _steps, as_schedule
from . import orthogonalize
from ._backend import BACKENDS

_ADJUST_LR_FNS = (None, "original", "match_rms_adamw", "spectral_unclamped")
_FLATTEN = ("auto", "batch", "matrix")

# The element type each parameter's update is orthogonalised in, by device:
# the CPU backend takes float64, float32, float16 and bfloat16 (the 16-bit
# ones computed in float32 inside), CUDA float32, float16 and bfloat16.
_CPU_TAKES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
_CUDA_COMPUTE = {torch.float64: torch.float32}


def _compute_dtype(t: torch.Tensor) -> torch.dtype:
    if t.device.type == "cuda":
        return _CUDA_COMPUTE.get(t.dtype, t.dtype)
    return t.dtype if t.dtype in _CPU_TAKES else torch.float32


def adjusted_lr(lr: float, adjust_lr_fn: Optional[str], rows: int, cols: int) -> float:
    """torch.optim.Muon's learning-rate adjustment for a rows x cols matrix:
    "original" (the default) sqrt(max(1, rows / cols)), "match_rms_adamw"
    0.2 sqrt(max(rows, cols)), "spectral_unclamped" sqrt(rows / cols)."""
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr * math.sqrt(rows / cols)


def as_matrices(t: torch.Tensor, flatten: str) -> torch.Tensor:
    """A parameter (or its update) as a batch of matrices (B, rows, cols):
    2-D: one matrix.  "batch": the last two dimensions are the matrix, the
    leading ones a batch (stacked heads or experts).  "matrix": one matrix
    (shape[0], the product of the rest), the conv-kernel flattening (out,
    in * kh * kw).  "auto": 3-D as "batch", 4-D and more as "matrix"."""
    if t.dim() == 2:
        return t.unsqueeze(0)
    if _as_batch(t.dim(), flatten):
        return t.reshape(-1, t.shape[-2], t.shape[-1])
    return t.reshape(1, t.shape[0], -1)


def _as_batch(dim: int, flatten: str) -> bool:
    """Whether as_matrices makes a parameter of `dim` dimensions a batch."""
    return dim > 2 and (flatten == "batch" or (flatten == "auto" and dim == 3))


def _polar_update(
    batch: torch.Tensor, schedule: Schedule, steps: Optional[int], scale: Optional[str], backend: str = "auto"
) -> torch.Tensor:
    """The orthogonalised updates of a batch; for PolarGrad times <M, U> each."""
    if scale == "nuclear":
        u, nuclear = orthogonalize(batch, schedule, steps, nuclear_norm=True, backend=backend)
        return u * nuclear.to(u.dtype)[:, None, None]
    return orthogonalize(batch, schedule, steps, backend=backend)


class Muon(torch.optim.Optimizer):
    """Muon (Jordan et al. 2024) as torch.optim.Muon defines it, with the polar factor
    computed by a polar_express schedule.  Per step and parameter, with momentum buffer
    B (state "momentum_buffer", as torch.optim.Muon keeps it)::

        B.lerp_(G, 1 - momentum)
        M = G.lerp(B, momentum) if nesterov else B
        U = orthogonalize(M, schedule, steps)          # per matrix
        if scale == "nuclear": U = U * <M, U>          # PolarGrad (Lau et al. 2025)
        p.mul_(1 - lr * weight_decay)
        p.add_(U, alpha=-adjusted_lr(lr, adjust_lr_fn, rows, cols))

    Arguments beyond torch.optim.Muon's: ``schedule`` (a :class:`Schedule` or a built-in
    name), ``steps`` (default: the schedule's list; steps past it follow the schedule's
    ``after_list``), ``eps`` (None keeps the schedule's normalisation X / (f ||X||_F + eps);
    a number replaces its eps; torch.optim.Muon divides by max(||X||_F, eps) instead, which
    differs only for matrices of norm near eps), ``scale`` (None, or "nuclear" for
    PolarGrad: the update times <M, U>, the nuclear norm of M), and ``flatten`` for
    parameters of more than two dimensions (see :func:`as_matrices`; the learning-rate
    adjustment uses the rows and cols of those matrices).  ``ns_coefficients`` and
    ``ns_steps`` are accepted as torch.optim.Muon takes them: one (a, b, c) repeated
    ``ns_steps`` times (default 5) after X / (||X||_F + 1e-7).  ``backend``: "auto",
    "native" or "torch", as :func:`polar_express.torch.orthogonalize` takes it.

    ``distributed=True`` (or a process ``group``; default the default group):
    every rank steps the same parameters (DDP replicas after the gradient
    all-reduce, or FSDP2's Shard(0) DTensors) and each update matrix is
    orthogonalised on one rank and sent to the others, by
    :func:`polar_express.torch.distributed.orthogonalize`; the step is that of one
    process bit for bit where the runtime's results do not depend on the batch
    (see there).

    Parameters of one group with the same matrix shape, dtype and device are
    orthogonalised in one batched call.  The polar factor runs in the parameter's dtype
    where the backend has it (CPU: float64, float32, and float16 and bfloat16 computed in
    float32 inside; CUDA: float32, float16, bfloat16), else in float32.  Not differentiable; every hyperparameter is plain data, so
    ``state_dict()`` loads with ``torch.load(weights_only=True)``.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        schedule=DEFAULT_SCHEDULE,
        steps: Optional[int] = None,
        eps: Optional[float] = None,
        adjust_lr_fn: Optional[str] = None,
        scale: Optional[str] = None,
        *,
        flatten: str = "auto",
        ns_coefficients=None,
        ns_steps: Optional[int] = None,
        distributed: bool = False,
        group=None,
        backend: str = "auto",
    ):
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn not in _ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        if scale not in (None, "nuclear"):
            raise ValueError(f"scale must be None or 'nuclear' (PolarGrad), not {scale!r}")
        if flatten not in _FLATTEN:
            raise ValueError(f"flatten must be one of {_FLATTEN}, not {flatten!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        if ns_coefficients is not None:
            if schedule is not DEFAULT_SCHEDULE:
                raise ValueError("give either schedule or ns_coefficients, not both")
            if len(ns_coefficients) != 3:
                raise ValueError("Coefficients must be a tuple of exactly 3 values")
            schedule = Schedule([list(ns_coefficients)], 1.0, 1e-7, name="newton-schulz")
            if ns_steps is None and steps is None:
                ns_steps = 5
        if ns_steps is not None:
            if steps is not None:
                raise ValueError("give either steps or ns_steps, not both")
            steps = ns_steps
        if steps is not None:
            steps = _steps(steps)
        if eps is not None:
            eps = float(eps)
            if not eps >= 0:
                raise ValueError(f"eps must be >= 0 (or None for the schedule's own), not {eps}")
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "schedule": as_schedule(schedule).to_spec(),
            "steps": steps,
            "eps": eps,
            "adjust_lr_fn": adjust_lr_fn,
            "scale": scale,
            "flatten": flatten,
            "backend": backend,
        }
        super().__init__(params, defaults)
        # Not hyperparameters: a process group is no data for state_dict().
        self._distributed = bool(distributed) or group is not None
        self._group = group

    def add_param_group(self, param_group) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group["schedule"] = as_schedule(group["schedule"]).to_spec()
        for p in group["params"]:
            if p.dim() < 2:
                raise ValueError(
                    f"Muon takes parameters of two or more dimensions, not shape {tuple(p.shape)} "
                    "(optimize biases, gains and embeddings with AdamW)"
                )
            if p.numel() == 0:
                raise ValueError(f"Muon cannot orthogonalize the empty parameter of shape {tuple(p.shape)}")
            if p.is_complex():
                raise ValueError("Muon does not support complex parameters")

    def _schedule(self, group) -> Schedule:
        schedule = as_schedule(group["schedule"])
        if group["eps"] is not None:
            schedule = schedule.with_eps(group["eps"])
        return schedule

    @torch.no_grad()
    def step(self, closure=None):
        """Performs a single optimization step.  Every gradient is checked first: a
        parameter whose gradient holds a NaN or an infinity (on any rank, when
        distributed) is left as it is for this step, weights and momentum, with one
        :class:`~polar_express.OrthogonalizeWarning` naming it; when that warning is
        an error, the step raises before it changes anything.  The check reads one
        flag per parameter back to the host, once per device."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        skipped = self._nonfinite_gradients()
        for group in self.param_groups:
            self._step_group(group, skipped)
        return loss

    def _nonfinite_gradients(self) -> set:
        """The ids of the parameters whose gradient is not finite, after warning
        once about them (before any state changes)."""
        checked = [(group_index, index, p) for group_index, group in enumerate(self.param_groups)
                   for index, p in enumerate(group["params"]) if p.grad is not None and not p.grad.is_sparse]
        if not checked:
            return set()
        flags = [False] * len(checked)
        by_device = {}
        for position, (_, _, p) in enumerate(checked):
            grad = p.grad.to_local() if hasattr(p.grad, "to_local") else p.grad  # a DTensor: this rank's shard
            by_device.setdefault(grad.device, []).append((position, grad))
        for members in by_device.values():
            bad = torch.stack([~torch.isfinite(grad).all() for _, grad in members]).tolist()  # one read per device
            for (position, _), value in zip(members, bad):
                flags[position] = value
        if self._distributed:  # a shard's NaN skips the parameter on every rank
            import torch.distributed as dist

            from . import distributed

            agreed = torch.tensor(flags, dtype=torch.int64, device=distributed._control_device(self._group))
            dist.all_reduce(agreed, op=dist.ReduceOp.MAX, group=self._group)
            flags = [bool(v) for v in agreed.tolist()]
        bad = [entry for entry, flag in zip(checked, flags) if flag]
        if bad:
            names = [self._describe_param(group_index, index, p) for group_index, index, p in bad]
            warnings.warn(
                f"polar_express.torch.Muon: {len(bad)} parameter(s) have a gradient holding NaN or Inf and are "
                f"not updated this step, weights and momentum unchanged: {', '.join(names[:8])}"
                + (f" and {len(names) - 8} more" if len(names) > 8 else ""),
                OrthogonalizeWarning,
                stacklevel=user_stacklevel(),
            )
        return {id(p) for _, _, p in bad}

    def _describe_param(self, group_index: int, index: int, p) -> str:
        names = self.param_groups[group_index].get("param_names")
        if names is not None:
            return repr(names[index])
        return f"param_groups[{group_index}]['params'][{index}] of shape {tuple(p.shape)}"

    def _step_group(self, group, skipped=frozenset()) -> None:
        lr = group["lr"]
        lr = float(lr) if isinstance(lr, torch.Tensor) else lr
        momentum = group["momentum"]
        schedule = self._schedule(group)

        # Momentum, then the updates as matrices, bucketed by what one batched call takes.
        buckets, updates = {}, []
        for p in group["params"]:
            if p.grad is None or id(p) in skipped:
                continue
            grad = p.grad
            if grad.is_sparse:
                raise RuntimeError("Muon does not support sparse gradients")
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
            buf = state["momentum_buffer"]
            buf.lerp_(grad, 1 - momentum)
            update = grad.lerp(buf, momentum) if group["nesterov"] else buf
            if self._distributed:
                updates.append((p, update))
                continue
            matrices = as_matrices(update, group["flatten"]).to(_compute_dtype(update))
            key = (tuple(matrices.shape[1:]), matrices.dtype, matrices.device)
            buckets.setdefault(key, []).append((p, matrices))

        def polar(batch):
            return _polar_update(batch, schedule, group["steps"], group["scale"], group.get("backend", "auto"))

        if self._distributed:
            self._step_distributed(group, updates, polar, schedule, lr)
            return
        for ((rows, cols), _, _), members in buckets.items():
            batch = members[0][1] if len(members) == 1 else torch.cat([m for _, m in members])
            u = polar(batch)
            step_lr = adjusted_lr(lr, group["adjust_lr_fn"], rows, cols)
            first = 0
            for p, matrices in members:
                count = matrices.shape[0]
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(u[first : first + count].reshape(p.shape), alpha=-step_lr)
                first += count

    def _step_distributed(self, group, updates, polar, schedule, lr) -> None:
        """Every update orthogonalised on its owner rank and sent to the others;
        DTensor parameters (Shard(0)) keep their shards."""
        from . import distributed

        world, rank = distributed._group_size_and_rank(self._group)
        call = distributed.begin_call(self._group)
        items, targets, error = [], [], None
        try:  # a refused update is agreed in the exchange, so that no rank leaves the step early
            for p, update in updates:
                dtype = _compute_dtype(update)
                if isinstance(update, distributed._dtensor_type() or ()):
                    item, target = self._sharded_update(p, update, dtype, group["flatten"], world)
                else:
                    item, target = distributed.plain_item(as_matrices(update, group["flatten"]).to(dtype)), p
                items.append(item)
                targets.append(target)
        except (TypeError, ValueError) as failure:
            items, targets, error = [], [], failure
        results = distributed.exchange(items, polar, schedule, group["steps"], self._group, call, error,
                                       signature=f"muon scale={group['scale']}")
        for item, target, local in zip(items, targets, results):
            _, rows, cols = item.matrices
            u = item.result(local)
            target.mul_(1 - lr * group["weight_decay"])
            target.add_(u.reshape(target.shape), alpha=-adjusted_lr(lr, group["adjust_lr_fn"], rows, cols))

    def _sharded_update(self, p, update, dtype, flatten, world):
        """The item of a Shard(0) DTensor update, and the local shard of p it
        updates: the update's matrices split by rows of dim 0 as torch.chunk
        splits the parameter's dim 0."""
        from . import distributed

        placements = tuple(update.placements)
        if update.device_mesh.ndim != 1 or type(placements[0]).__name__ != "Shard" or placements[0].dim != 0:
            raise ValueError(f"Muon(distributed=True) takes DTensor parameters sharded Shard(0) on a 1-D mesh, "
                             f"not {placements}")
        view = as_matrices(torch.empty(update.shape, device="meta"), flatten)
        if _as_batch(update.dim(), flatten):  # leading dimensions merge: dim 0 splits the batch
            shape, factor = tuple(view.shape), view.shape[0] // update.shape[0]
        else:  # one matrix (shape[0], rest): dim 0 splits its rows
            shape, factor = tuple(view.shape[1:]), 1
        local = update.to_local()
        matrices = local.reshape(-1, *shape[1:]).to(dtype)
        rows = [r * factor for r in distributed.chunk_rows(update.shape[0], world)]
        return distributed.sharded_item(matrices, shape, rows), p.to_local()
