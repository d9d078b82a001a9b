"""Orthogonalization spread over the ranks of a torch.distributed group (NCCL on
GPUs, gloo on CPUs): each matrix is computed once, on one owner rank.

    import polar_express.torch as pet
    results = pet.distributed.orthogonalize(grads, schedule="polar-express-nanochat-d5")
    opt = pet.Muon(params, lr=0.02, distributed=True)      # or group=...

Every rank passes the same list, in the same order (DDP: after the gradient
all-reduce).  Owners are placed by :func:`polar_express.distributed.place`
(longest-processing-time packing on the runtime's FLOP model); an owner runs its
matrices of one shape and dtype in one batched call and broadcasts the results,
each as soon as it is computed (asynchronously: the next batch computes while it
travels), so every rank receives every result.

DTensors sharded the FSDP2 way (a 1-D mesh over the group, placement Shard(0),
torch.chunk sizes; empty shards allowed) are gathered to their owner only and
come back sharded in the same placement; Replicate() DTensors are handled as
plain tensors and come back as DTensors.

Results equal the single-process ``pet.orthogonalize`` of each tensor bit for bit
on the same device type when the runtime's result for a matrix does not depend on
the batch it runs in: on the CPU with one thread per plan
(``polar_express.set_cpu_threads(1)``; OpenBLAS's rounding depends on its thread
count); on CUDA when cuBLAS picks the same kernels for the owners' batches.

Failures: an invalid tensor on any rank, or lists that differ between ranks,
raise on every rank (the rank with the invalid input its own ``ValueError`` or
``TypeError``, the others :class:`DistributedError` naming it); a runtime error on
an owner is raised on every rank once the exchange is over.  A rank that never
joins the call (it raised before, or died) makes the others' collectives fail
after the group's timeout (``init_process_group(timeout=...)``, ``new_group``),
reported as :class:`DistributedError`.
"""

from __future__ import annotations

import hashlib
import math
import warnings
import weakref
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import torch
import torch.distributed as dist

from .. import distributed as _placement
from .._caller import user_stacklevel
from .._orthogonalize import OrthogonalizeWarning
from .._schedule import DEFAULT_SCHEDULE, _steps, as_schedule
from . import _column_major
from . import orthogonalize as _orthogonalize_one

__all__ = ["DistributedError", "orthogonalize"]

_NAME = "polar_express.distributed.orthogonalize"
_ON_INPUT = "on its input"


class DistributedError(RuntimeError):
    """A distributed orthogonalization failed on another rank, or a collective
    failed or timed out; raised on every rank that reaches the failure."""


def orthogonalize(tensors: Sequence[torch.Tensor], schedule=DEFAULT_SCHEDULE, steps: Optional[int] = None,
                  group=None) -> List[torch.Tensor]:
    """The polar factor of every tensor of ``tensors`` (2-D matrices or 3-D
    batches, as :func:`polar_express.torch.orthogonalize` takes them, or DTensors
    sharded Shard(0) over ``group``), each computed on one rank of ``group``
    (default: the default group) and returned on every rank: a list in the input's
    order, each result with its input's shape, dtype, device and placement."""
    world, rank = _group_size_and_rank(group)
    call = begin_call(group)
    # Everything that can refuse the input is checked before the first
    # collective and agreed there, so that no rank leaves the call early.
    try:
        schedule = as_schedule(schedule)
        steps = None if steps is None else _steps(steps)
        items = [_item_of(t, group, world, rank) for t in tensors]
        error = None
    except (TypeError, ValueError) as failure:
        schedule, items, error = None, [], failure

    def compute(batch):
        return _orthogonalize_one(batch, schedule, steps)

    locals_ = exchange(items, compute, schedule, steps, group, call, error)
    return [item.result(local) for item, local in zip(items, locals_)]


# ------------------------------------------------------------------ items


@dataclass
class Item:
    """One tensor of a distributed call.  ``shape``: the global tensor as a 2-D
    matrix or 3-D batch; ``local``: the whole tensor, or this rank's rows of dim 0
    when ``shard_rows`` (each rank's count of those rows) is set.  ``transposed``:
    the input was column-major and ``local`` is its (row-major) transpose.
    ``rebuild`` turns the local result into what the caller gets back."""

    shape: tuple
    local: torch.Tensor
    shard_rows: Optional[List[int]] = None
    transposed: bool = False
    rebuild: Optional[Callable[[torch.Tensor], torch.Tensor]] = None

    @property
    def matrices(self) -> tuple:
        return self.shape if len(self.shape) == 3 else (1, *self.shape)

    @property
    def chunk(self) -> int:
        """Rows of dim 0 every rank's shard is padded to."""
        return max(self.shard_rows)

    @property
    def row_size(self) -> int:
        return math.prod(self.shape[1:])

    def result(self, local: torch.Tensor) -> torch.Tensor:
        if self.transposed:
            local = local.mT
        return local if self.rebuild is None else self.rebuild(local)


def chunk_rows(rows: int, world: int) -> List[int]:
    """Rows of dim 0 on each rank when ``rows`` are split as torch.chunk and
    DTensor's Shard do: ceil(rows / world) each, the last ranks fewer or none."""
    size = -(-rows // world)
    return [max(0, min(size, rows - rank * size)) for rank in range(world)]


def _check_tensor(t, what: str, group) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{_NAME}: {what} is a {type(t).__name__}, not a tensor")
    wanted = _data_device_type(group)
    if t.device.type == "meta" or (wanted is not None and t.device.type != wanted):
        backend = dist.get_backend(group)
        raise ValueError(f"{_NAME}: {what} is on device {t.device}; the group's backend {backend} "
                         f"communicates {wanted or 'real'} tensors")
    if t.dim() not in (2, 3):
        raise ValueError(f"{_NAME}: {what} has shape {tuple(t.shape)}; it takes 2-D matrices or 3-D batches")
    if t.numel() == 0:
        raise ValueError(f"{_NAME}: {what} has the empty shape {tuple(t.shape)}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"{_NAME}: {what} has dtype {t.dtype}, not a floating type")


def _item_of(t, group, world: int, rank: int) -> Item:
    dtensor = _dtensor_type()
    if dtensor is None or not isinstance(t, dtensor):
        _check_tensor(t, "a tensor", group)
        return plain_item(t.detach())
    _check_tensor(t, "a DTensor", group)
    mesh, placements = t.device_mesh, tuple(t.placements)
    if mesh.ndim != 1:
        raise ValueError(f"{_NAME}: a DTensor on a {mesh.ndim}-D device mesh (only 1-D meshes over the group)")
    if _group_ranks(mesh.get_group()) != _group_ranks(group):
        raise ValueError(f"{_NAME}: a DTensor's mesh is over ranks {_group_ranks(mesh.get_group())}, "
                         f"not the group's {_group_ranks(group)}")
    shape, stride = t.shape, t.stride()

    def rebuild(local):
        return dtensor.from_local(local, mesh, placements, run_check=False, shape=shape, stride=stride)

    placement = placements[0]
    if placement.is_replicate():
        item = plain_item(t.to_local().detach())
        item.rebuild = rebuild
        return item
    if not (type(placement).__name__ == "Shard" and placement.dim == 0):
        raise ValueError(f"{_NAME}: a DTensor placed {placement}; it takes Shard(0) (FSDP2) or Replicate()")
    local = t.to_local().detach()
    rows = chunk_rows(shape[0], world)
    if local.shape[0] != rows[rank] or tuple(local.shape[1:]) != tuple(shape[1:]):
        raise ValueError(f"{_NAME}: a DTensor of shape {tuple(shape)} has a local shard of shape "
                         f"{tuple(local.shape)} on rank {rank}, not torch.chunk's {rows[rank]} rows")
    return Item(tuple(shape), local, rows, rebuild=rebuild)


def plain_item(t: torch.Tensor) -> Item:
    """A tensor every rank holds whole; a column-major one as its transpose (the
    runtime takes it so, and the result is the transpose's, bit for bit)."""
    if _column_major(t):
        return Item(tuple(t.mT.shape), t.mT, transposed=True)
    return Item(tuple(t.shape), t)


def sharded_item(local: torch.Tensor, shape: Sequence[int], shard_rows: List[int], rebuild=None) -> Item:
    """A tensor split along dim 0: ``local`` is this rank's rows of ``shape``."""
    return Item(tuple(shape), local, list(shard_rows), rebuild=rebuild)


def _dtensor_type():
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # torch built without distributed tensors
        return None
    return DTensor


# ------------------------------------------------------------------ the exchange


def _group_size_and_rank(group):
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(f"{_NAME}: torch.distributed is not initialized (call init_process_group first)")
    return dist.get_world_size(group), dist.get_rank(group)


def _group_ranks(group) -> List[int]:
    return dist.get_process_group_ranks(_group_object(group))


def _global_rank(group, rank: int) -> int:
    return rank if group is None else dist.get_global_rank(group, rank)


def _data_device_type(group) -> Optional[str]:
    """The device type of the tensors the group's backend communicates (NCCL:
    CUDA, gloo: CPU); None for other backends, which are not checked."""
    backend = str(dist.get_backend(group)).lower()
    if "nccl" in backend:
        return "cuda"
    if backend == "gloo":
        return "cpu"
    return None


def _control_device(group) -> torch.device:
    """Where the group's small control tensors live: NCCL communicates CUDA tensors only."""
    if _data_device_type(group) == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# Calls made on each group by this process, counted from the first line of
# every distributed entry point (before anything can raise), so that ranks
# whose calls fell out of step are told so instead of pairing one call's
# collectives with another's.
_calls_made: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _group_object(group):
    return group if group is not None else dist.group.WORLD


def begin_call(group) -> int:
    """The number of this call on ``group`` (1 for the first)."""
    key = _group_object(group)
    _calls_made[key] = _calls_made.get(key, 0) + 1
    return _calls_made[key]


def _describe(items: Sequence[Item]) -> str:
    return repr([(item.shape, str(item.local.dtype), item.local.device.type, item.shard_rows is not None)
                 for item in items])


def _fingerprint(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "little")


def _agree(description: str, call: int, error: Optional[BaseException], group, device, stage: str,
           nonfinite: Optional[torch.Tensor] = None) -> List[int]:
    """Raises on every rank if any rank failed (``error``), is at another call
    number, or described its list otherwise: one small all-reduce, and an
    all-gather of the messages only then.  A rank whose input failed (stage "on
    its input") raises its own error.  ``nonfinite`` (only once the lists are
    known to agree, so that every rank's tensor has the same length): per item,
    this rank + 1 where its copy holds a NaN or an infinity, else 0; returned
    reduced over the ranks (the highest such rank + 1 per item)."""
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    code = _fingerprint(description)
    # MAX of a value and of its negation gives its largest and smallest over the ranks.
    flags = torch.tensor([code, -code, call, -call, 0 if error is None else rank + 1], dtype=torch.int64,
                         device=device)
    if nonfinite is not None:
        flags = torch.cat([flags, nonfinite.to(device=device, dtype=torch.int64)])
    dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=group)
    values = flags.tolist()  # one device read
    highest, lowest_negated, latest, earliest_negated, failed_rank = values[:5]
    if highest == -lowest_negated and latest == -earliest_negated and failed_rank == 0:
        return values[5:]
    reports = [None] * world
    dist.all_gather_object(
        reports, (description, call, None if error is None else f"{type(error).__name__}: {error}"), group=group)
    if latest != -earliest_negated:
        # Every rank takes the latest number, so that the group's next call lines up again.
        _calls_made[_group_object(group)] = latest
        calls = "; ".join(f"rank {r} at call {c}" for r, (_, c, _) in enumerate(reports))
        raise DistributedError(
            f"{_NAME}: the ranks are out of step ({calls} on this group): a rank left an earlier call "
            "before its collectives, or skipped one; every rank must make every call") from error
    failed = [f"rank {r}: {message}" for r, (_, _, message) in enumerate(reports) if message is not None]
    if error is not None and stage == _ON_INPUT:
        raise error
    if failed:
        raise DistributedError(f"{_NAME} failed {stage}: " + "; ".join(failed)) from error
    differing = [r for r, (text, _, _) in enumerate(reports) if text != reports[0][0]]
    raise DistributedError(
        f"{_NAME}: the ranks passed different lists (every rank must pass the same shapes, dtypes, devices "
        f"and placements in the same order): rank 0 {reports[0][0]}; "
        + "; ".join(f"rank {r} {reports[r][0]}" for r in differing[:3])
    )


@dataclass
class _Bucket:
    owner: int
    items: List[int]  # replicated first, then sharded
    replicated: int   # how many of items are replicated
    cost: float


def _buckets(items: Sequence[Item], costs: Sequence[float], world: int) -> List[_Bucket]:
    """Owners by cost, then per owner one bucket per matrix shape and dtype,
    largest first; returned in the order every rank issues their collectives:
    round by round, each round the owners' next bucket in rank order."""
    placement = _placement.place(costs, world)
    per_owner = [dict() for _ in range(world)]
    for index, item in enumerate(items):
        key = (item.matrices[1:], item.local.dtype, item.shard_rows is not None)
        per_owner[placement.owners[index]].setdefault(key, []).append(index)
    queues = []
    for owner, groups in enumerate(per_owner):
        buckets = {}
        for (matrix_shape, dtype, _), indices in groups.items():
            buckets.setdefault((matrix_shape, dtype), []).extend(indices)
        queue = []
        for indices in buckets.values():
            replicated = [i for i in indices if items[i].shard_rows is None]
            sharded = [i for i in indices if items[i].shard_rows is not None]
            queue.append(_Bucket(owner, replicated + sharded, len(replicated), sum(costs[i] for i in indices)))
        queue.sort(key=lambda b: (-b.cost, b.items[0]))
        queues.append(queue)
    rounds = max((len(q) for q in queues), default=0)
    return [q[j] for j in range(rounds) for q in queues if j < len(q)]


def _padded(rows: torch.Tensor, chunk: int) -> torch.Tensor:
    """rows (r, ...) as (chunk, ...) with zero rows after, flattened."""
    flat = rows.reshape(-1)
    missing = (chunk - rows.shape[0]) * math.prod(rows.shape[1:])
    return torch.cat([flat, flat.new_zeros(missing)]) if missing else flat


def exchange(items: Sequence[Item], compute: Callable[[torch.Tensor], torch.Tensor], schedule, steps,
             group, call: int, error: Optional[BaseException] = None, signature: str = "") -> List[torch.Tensor]:
    """The distributed call on prepared items: each item's result on this rank
    (the whole result, or this rank's shard), in the items' order.  ``compute``
    maps a batch (B, rows, cols) to its results on the owner; ``schedule`` and
    ``steps`` give the cost model; ``call`` is :func:`begin_call`'s number of this
    call; ``signature`` names what ``compute`` does, for the check that every
    rank runs the same call.  An item that holds a NaN or an infinity on any
    rank (a replica may differ from its owner's copy) comes back all NaN on
    every rank, with one :class:`polar_express.OrthogonalizeWarning` naming it."""
    world, rank = _group_size_and_rank(group)
    try:
        device = _control_device(group)
        token = "" if schedule is None else as_schedule(schedule)._token
        description = f"{_describe(items)} {token} {steps} {signature}"
        _agree(description, call, error, group, device, _ON_INPUT)
        if not items:
            return []
        nonfinite = torch.stack([(~torch.isfinite(item.local)).any().to(device) for item in items]) * (rank + 1)
        costs = [_placement.matrix_flops(item.shape, schedule, steps, item.local.dtype) for item in items]
        results, failure = _run(items, compute, _buckets(items, costs, world), group, world, rank)
        held_by = _agree(description, call, failure, group, device, "computing", nonfinite)
    except DistributedError:
        raise
    except RuntimeError as failure:  # a collective failed or timed out
        if error is not None:  # this rank's own input error says more
            raise error from failure
        first_line = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        raise DistributedError(
            f"{_NAME}: a collective failed on rank {rank} of {world} ({first_line}); another rank may have "
            "raised before joining the call, passed a different list, or died (the group's timeout bounds the wait)"
        ) from failure
    poisoned = [index for index, holder in enumerate(held_by) if holder]
    for index in poisoned:
        results[index] = torch.full_like(results[index], float("nan"))
    if poisoned:
        shown = "; ".join(f"tensor {i} (on rank {held_by[i] - 1})" for i in poisoned[:8])
        more = f"; and {len(poisoned) - 8} more" if len(poisoned) > 8 else ""
        warnings.warn(f"{_NAME}: {len(poisoned)} of {len(items)} tensors hold a NaN or an infinity ({shown}{more}); "
                      "their results are NaN on every rank", OrthogonalizeWarning, stacklevel=user_stacklevel())
    return results


def _run(items, compute, buckets, group, world: int, rank: int):
    results: List[Optional[torch.Tensor]] = [None] * len(items)
    pending = []  # (work, unpack) to finish after every collective is issued
    failure = None

    # Shards travel to their owner first, every bucket's in one gather.
    gathered = {}
    for position, bucket in enumerate(buckets):
        sharded = [items[i] for i in bucket.items[bucket.replicated:]]
        if not sharded:
            continue
        send = torch.cat([_padded(item.local, item.chunk) for item in sharded])
        receive = [torch.empty_like(send) for _ in range(world)] if bucket.owner == rank else None
        work = dist.gather(send, receive, dst=_global_rank(group, bucket.owner), group=group, async_op=True)
        gathered[position] = (work, receive)

    for position, bucket in enumerate(buckets):
        replicated = [items[i] for i in bucket.items[: bucket.replicated]]
        sharded = [items[i] for i in bucket.items[bucket.replicated:]]
        batch_rows = sum(item.matrices[0] for item in replicated)
        first = items[bucket.items[0]]
        rows, cols = first.matrices[1:]
        dtype, tensor_device = first.local.dtype, first.local.device
        source = _global_rank(group, bucket.owner)

        if bucket.owner == rank:
            inputs = [item.local.reshape(item.matrices) for item in replicated]
            if sharded:
                work, receive = gathered[position]
                work.wait()
                offset = 0
                for item in sharded:
                    length = item.chunk * item.row_size
                    pieces = [receive[r][offset : offset + length].view(item.chunk, *item.shape[1:])[: item.shard_rows[r]]
                              for r in range(world)]
                    inputs.append(torch.cat(pieces).reshape(item.matrices))
                    offset += length
            batch = inputs[0] if len(inputs) == 1 else torch.cat(inputs)
            try:
                out = compute(batch).contiguous()
            except Exception as caught:  # still take part in every collective, then report it
                failure = failure or caught
                out = torch.full(batch.shape, float("nan"), dtype=dtype, device=tensor_device)
            if replicated:
                travelling = out[:batch_rows]
                pending.append((dist.broadcast(travelling, src=source, group=group, async_op=True), None))
                _unpack_replicated(replicated, bucket.items, travelling, results)
            if sharded:
                pieces, offset = [[] for _ in range(world)], batch_rows
                for item in sharded:
                    full = out[offset : offset + item.matrices[0]].reshape(item.shape)
                    offset += item.matrices[0]
                    start = 0
                    for r in range(world):
                        pieces[r].append(_padded(full[start : start + item.shard_rows[r]], item.chunk))
                        start += item.shard_rows[r]
                scatter = [torch.cat(p) for p in pieces]
                receive = torch.empty_like(scatter[0])
                work = dist.scatter(receive, scatter, src=source, group=group, async_op=True)
                pending.append((work, _sharded_unpacker(sharded, bucket, receive, rank, results)))
        else:
            if replicated:
                buffer = torch.empty((batch_rows, rows, cols), dtype=dtype, device=tensor_device)
                work = dist.broadcast(buffer, src=source, group=group, async_op=True)
                pending.append((work, _replicated_unpacker(replicated, bucket, buffer, results)))
            if sharded:
                length = sum(item.chunk * item.row_size for item in sharded)
                buffer = torch.empty(length, dtype=dtype, device=tensor_device)
                work = dist.scatter(buffer, None, src=source, group=group, async_op=True)
                pending.append((work, _sharded_unpacker(sharded, bucket, buffer, rank, results)))

    for work, unpack in pending:
        work.wait()
        if unpack is not None:
            unpack()
    for work, _ in gathered.values():  # the senders' side
        work.wait()
    return results, failure


def _unpack_replicated(replicated, indices, buffer, results) -> None:
    first = 0
    for index, item in zip(indices, replicated):
        count = item.matrices[0]
        results[index] = buffer[first : first + count].reshape(item.shape)
        first += count


def _replicated_unpacker(replicated, bucket, buffer, results):
    return lambda: _unpack_replicated(replicated, bucket.items, buffer, results)


def _sharded_unpacker(sharded, bucket, buffer, rank, results):
    def unpack():
        offset = 0
        for index, item in zip(bucket.items[bucket.replicated:], sharded):
            length = item.chunk * item.row_size
            mine = buffer[offset : offset + length].view(item.chunk, *item.shape[1:])[: item.shard_rows[rank]]
            results[index] = mine.reshape(item.local.shape)
            offset += length
    return unpack
