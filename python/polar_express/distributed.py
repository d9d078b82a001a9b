"""Placing matrices on ranks for distributed orthogonalization, and the planner
report.  No framework needed: ``polar_express.torch.distributed`` runs the
placement on torch.distributed.

Every rank holds the same list of matrices (DDP after the gradient all-reduce,
or FSDP2 shards gathered per matrix); each matrix gets one owner rank, which
orthogonalizes it (equal shapes in one batched call) and sends the result to
the others.  Owners are chosen by longest-processing-time bin packing on the
predicted cost: matrices by decreasing cost, each to the least loaded rank so
far (ties to the lowest rank), which puts the largest load within 4/3 of the
best possible (Graham 1969).  The cost of a matrix is the runtime program's
matrix-multiply FLOP count (``Program::flops``, the model of
``polar-express plan``), which depends on the shape, the schedule, the steps
and, through the Gram iteration's restarts, the element type.

The report compares that placement with the round-robin split of Keller
Jordan's distributed Muon (github.com/KellerJordan/Muon, muon.py): parameters
sorted by size, largest first, parameter i on rank i mod W, and after each
round of W an all-gather of the W slots (the last round padded to W with
buffers the size of the last parameter)::

    python -m polar_express.distributed plan SHAPES.json --world-size 8 64
        [--schedule NAME] [--steps N] [--dtype bfloat16|float16|float32|float64] [--json]

SHAPES.json: a JSON list whose entries are shapes, [rows, cols] or [batch,
rows, cols], or objects {"shape": [...], "count": n, "name": "..."} (count
copies of the shape).  Exit status 0, 2 for a bad file or option.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import json
import math
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from . import _core
from ._schedule import DEFAULT_SCHEDULE, _steps, as_schedule

__all__ = ["Placement", "element_bytes", "matrix_flops", "place", "plan_report", "read_shapes", "round_robin"]

# Bytes per element of the types the runtime runs, by their array name (the
# runtime's vocabulary: name, array name, bits, significand bits).
_ELEMENT_BYTES = {array_name: bits // 8 for _, array_name, bits, _ in _core.element_types()}


def _dtype_name(dtype) -> str:
    name = str(dtype).rsplit(".", 1)[-1]  # "float32", torch.float32, numpy.float32
    if name not in _ELEMENT_BYTES:
        raise ValueError(f"dtype {dtype} is not one of {sorted(_ELEMENT_BYTES)}")
    return name


def element_bytes(dtype) -> int:
    return _ELEMENT_BYTES[_dtype_name(dtype)]


def _matrices(shape: Sequence[int]) -> Tuple[int, int, int]:
    """(batch, rows, cols) of a 2-D or 3-D shape."""
    shape = tuple(int(v) for v in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape {list(shape)} is not a matrix or a batch of matrices with positive sides")
    return (1, *shape) if len(shape) == 2 else shape


def matrix_flops(shape: Sequence[int], schedule=DEFAULT_SCHEDULE, steps: Optional[int] = None,
                 dtype="float32") -> float:
    """Matrix-multiply FLOPs of orthogonalizing a matrix (or a 3-D batch) of this
    shape: the runtime's program for the schedule, steps (default: the schedule's
    list once) and element type, counted dense."""
    batch, rows, cols = _matrices(shape)
    steps_value = 0 if steps is None else _steps(steps)
    return batch * _flops(as_schedule(schedule), rows, cols, steps_value, _dtype_name(dtype))


@functools.lru_cache(maxsize=4096)
def _flops(schedule, rows: int, cols: int, steps: int, dtype: str) -> float:
    return _core.program_flops(schedule._handle, rows, cols, 1, steps, dtype)


@dataclass(frozen=True)
class Placement:
    """Matrices on ranks: ``owners[i]`` is the rank of matrix i, ``loads[r]`` the
    summed cost on rank r."""

    world_size: int
    owners: Tuple[int, ...]
    loads: Tuple[float, ...]

    def imbalance(self) -> float:
        """max / mean load (1 is perfect; 0 for no work)."""
        total = sum(self.loads)
        return max(self.loads) * self.world_size / total if total > 0 else 0.0


def place(costs: Sequence[float], world_size: int) -> Placement:
    """Longest-processing-time placement: matrices by decreasing cost (ties by
    index), each to the least loaded rank (ties to the lowest rank).  A pure
    function of its arguments, so every rank computes the same placement."""
    if world_size < 1:
        raise ValueError(f"world size {world_size} is below 1")
    owners = [0] * len(costs)
    heap = [(0.0, rank) for rank in range(world_size)]
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, rank = heapq.heappop(heap)
        owners[index] = rank
        heapq.heappush(heap, (load + costs[index], rank))
    loads = [0.0] * world_size
    for index, rank in enumerate(owners):
        loads[rank] += costs[index]
    return Placement(world_size, tuple(owners), tuple(loads))


def round_robin(shapes: Sequence[Sequence[int]], costs: Sequence[float], world_size: int) -> Placement:
    """Keller Jordan's split: sorted by shape, largest first (stable), the i-th on
    rank i mod W."""
    order = sorted(range(len(shapes)), key=lambda i: tuple(shapes[i]), reverse=True)
    owners = [0] * len(shapes)
    for position, index in enumerate(order):
        owners[index] = position % world_size
    loads = [0.0] * world_size
    for index, rank in enumerate(owners):
        loads[rank] += costs[index]
    return Placement(world_size, tuple(owners), tuple(loads))


def _bytes_by_owner(sizes: Sequence[int], placement: Placement) -> List[int]:
    """Bytes each rank receives when every owner broadcasts its results."""
    total = sum(sizes)
    owned = [0] * placement.world_size
    for size, rank in zip(sizes, placement.owners):
        owned[rank] += size
    return [total - own for own in owned]


def _bytes_round_robin(shapes: Sequence[Sequence[int]], sizes: Sequence[int], world_size: int) -> List[int]:
    """Bytes each rank receives in the round-robin all-gathers: per round of W
    slots, every slot but its own, the last round padded with the last size."""
    ordered = [sizes[i] for i in sorted(range(len(shapes)), key=lambda i: tuple(shapes[i]), reverse=True)]
    if ordered:
        ordered += [ordered[-1]] * (-len(ordered) % world_size)
    received = [0] * world_size
    for base in range(0, len(ordered), world_size):
        slots = ordered[base : base + world_size]
        for rank in range(world_size):
            received[rank] += sum(slots) - slots[rank]
    return received


def plan_report(shapes: Sequence[Sequence[int]], world_size: int, schedule=DEFAULT_SCHEDULE,
                steps: Optional[int] = None, dtype="bfloat16") -> dict:
    """Per-rank load (FLOPs) and bytes received of the cost-balanced placement and
    of the round-robin split, for matrices of these shapes on ``world_size`` ranks.
    ``bound`` is the least possible largest load, max(largest matrix, mean)."""
    costs = [matrix_flops(s, schedule, steps, dtype) for s in shapes]
    sizes = [math.prod(s) * element_bytes(dtype) for s in shapes]
    bound = max(max(costs, default=0.0), sum(costs) / world_size)

    def summary(placement: Placement, received: List[int]) -> dict:
        return {
            "loads": list(placement.loads),
            "max_load": max(placement.loads),
            "imbalance": placement.imbalance(),
            "max_over_bound": max(placement.loads) / bound if bound > 0 else 0.0,
            "bytes_received": received,
            "max_bytes_received": max(received),
            "bytes_moved": sum(received),
        }

    balanced = place(costs, world_size)
    jordan = round_robin(shapes, costs, world_size)
    return {
        "world_size": world_size,
        "matrices": len(shapes),
        "flops": sum(costs),
        "bytes": sum(sizes),
        "bound": bound,
        "cost_balanced": summary(balanced, _bytes_by_owner(sizes, balanced)),
        "round_robin": summary(jordan, _bytes_round_robin(shapes, sizes, world_size)),
    }


def read_shapes(path: str) -> List[Tuple[int, ...]]:
    """The shapes of a shape file (see the module's doc), in order."""
    with open(path) as f:
        document = json.load(f)
    if not isinstance(document, list):
        raise ValueError(f"{path}: expected a JSON list of shapes")
    shapes = []
    for position, entry in enumerate(document):
        count = 1
        if isinstance(entry, dict):
            count = entry.get("count", 1)
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"{path}: entry {position}: count {count!r} is not a non-negative integer")
            entry = entry.get("shape")
        if not isinstance(entry, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in entry):
            raise ValueError(f"{path}: entry {position}: shape {entry!r} is not a list of integers")
        _matrices(entry)  # validates
        shapes += [tuple(entry)] * count
    return shapes


def _table(path: str, shapes, reports, schedule, dtype) -> str:
    total = reports[0]
    lines = [
        f"{path}: {len(shapes)} matrices, {total['bytes'] / 2**20:.1f} MiB in {dtype}, "
        f"{total['flops'] / 1e9:.1f} GFLOP per step with {as_schedule(schedule).name}",
        "world  split          max/mean  max/bound  max load GFLOP  max MiB in  total MiB moved",
    ]
    for report in reports:
        for label, key in (("cost-balanced", "cost_balanced"), ("round-robin", "round_robin")):
            row = report[key]
            lines.append(
                f"{report['world_size']:>5}  {label:<13}  {row['imbalance']:>8.3f}  {row['max_over_bound']:>9.3f}"
                f"  {row['max_load'] / 1e9:>14.2f}  {row['max_bytes_received'] / 2**20:>10.1f}"
                f"  {row['bytes_moved'] / 2**20:>15.1f}"
            )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m polar_express.distributed",
        description="Placement of matrices on ranks for distributed orthogonalization.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan",
        help="per-rank load and bytes moved, cost-balanced against round-robin",
        description="Per-rank load (the runtime's FLOP model) and bytes each rank receives, for the "
        "cost-balanced placement and Keller Jordan's round-robin split, printed as a table.",
    )
    plan.add_argument("shapes", help="JSON list of shapes ([rows, cols], [batch, rows, cols] or "
                      "{\"shape\": [...], \"count\": n})")
    plan.add_argument("--world-size", type=int, nargs="+", required=True, metavar="W", help="ranks (one or more)")
    plan.add_argument("--schedule", default=DEFAULT_SCHEDULE, help=f"built-in schedule (default {DEFAULT_SCHEDULE})")
    plan.add_argument("--steps", type=int, default=None, help="steps (default: the schedule's list once)")
    plan.add_argument("--dtype", default="bfloat16", choices=sorted(_ELEMENT_BYTES),
                      help="element type of the matrices (default bfloat16)")
    plan.add_argument("--json", action="store_true", help="print the reports as JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        shapes = read_shapes(args.shapes)
        if not shapes:
            raise ValueError(f"{args.shapes}: no shapes")
        for w in args.world_size:
            if w < 1:
                raise ValueError(f"world size {w} is below 1")
        reports = [plan_report(shapes, w, args.schedule, args.steps, args.dtype) for w in args.world_size]
    except (OSError, ValueError, TypeError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"polar_express.distributed: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(reports, indent=1))
    else:
        print(_table(args.shapes, shapes, reports, args.schedule, args.dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main())
