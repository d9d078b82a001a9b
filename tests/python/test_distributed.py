"""polar_express.distributed (the placement and the planner report) and
pet.distributed / pet.Muon(distributed=True) on gloo: 2 and 4 processes on the
loopback interface, one process group per world size for all checks, every wait
bounded.  The expectation is always the single-process call, made in the same
worker; the placement against brute force and closed forms."""

import datetime
import itertools
import json
import os
import socket
import subprocess
import sys
import traceback

import pytest

from conftest import import_torch

torch = import_torch()
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

import polar_express as pe  # noqa: E402
import polar_express.distributed as ped  # noqa: E402
import polar_express.torch as pet  # noqa: E402

WORLD_TIMEOUT_S = 60  # a whole world of workers, spawn included
GROUP_TIMEOUT_S = 20  # any one collective of the main group
ABSENT_TIMEOUT_S = 1  # the group of the check where a rank never joins


# ------------------------------------------------------------------ placement (no processes)


def test_placement_is_within_grahams_bound_of_the_optimum():
    # LPT's largest load is at most (4/3 - 1/(3W)) times the optimum (Graham 1969);
    # the optimum by brute force over every assignment.
    costs = [7.0, 5.0, 4.0, 4.0, 3.0, 3.0, 2.0, 1.0]
    for world in (2, 3):
        placement = ped.place(costs, world)
        assert sorted(set(placement.owners)) == list(range(world))
        assert sum(placement.loads) == sum(costs)
        optimum = min(
            max(sum(c for c, o in zip(costs, owners) if o == r) for r in range(world))
            for owners in itertools.product(range(world), repeat=len(costs))
        )
        assert optimum <= max(placement.loads) <= (4 / 3 - 1 / (3 * world)) * optimum


def test_placement_of_equal_costs_is_round_robin_and_of_few_matrices_one_each():
    assert ped.place([1.0] * 6, 3).owners == (0, 1, 2, 0, 1, 2)
    few = ped.place([3.0, 1.0, 2.0], 8)
    assert few.owners == (0, 2, 1) and few.loads == (3.0, 2.0, 1.0, 0, 0, 0, 0, 0)
    assert ped.place([], 4).loads == (0, 0, 0, 0)


def test_flops_follow_the_runtime_program():
    # Without the Gram iteration (square matrices) a degree-5 step is a Gram
    # product, one k x k product and one apply: 6 k^3 FLOPs, 30 k^3 for 5 steps.
    schedule = pe.Schedule.builtin("polar-express-nanochat-d5")
    assert schedule.steps == 5
    assert ped.matrix_flops((64, 64), schedule, dtype="float32") == 30 * 64**3
    assert ped.matrix_flops((3, 64, 64), schedule, dtype="float32") == 3 * 30 * 64**3
    assert ped.matrix_flops((96, 64), schedule) == ped.matrix_flops((64, 96), schedule)


def test_round_robin_is_jordans_split_and_bytes_count_the_padding():
    shapes = [(4, 4), (8, 8), (4, 4), (8, 8), (2, 2)]
    costs = [1.0, 2.0, 1.0, 2.0, 0.5]
    split = ped.round_robin(shapes, costs, 2)  # sorted: 8x8, 8x8, 4x4, 4x4, 2x2
    assert split.owners == (0, 0, 1, 1, 0)
    report = ped.plan_report(shapes, 2, dtype="float32")
    sizes = [16 * 4, 64 * 4, 16 * 4, 64 * 4, 4 * 4]
    # round robin: rounds (64, 64), (16, 16), (4, pad 4): each rank receives one slot per round
    assert report["round_robin"]["bytes_received"] == [4 * (64 + 16 + 4)] * 2
    # owners broadcast: each rank receives what it does not own
    owned = [sum(s for s, o in zip(sizes, ped.place(report_costs(shapes), 2).owners) if o == r) for r in range(2)]
    assert report["cost_balanced"]["bytes_received"] == [sum(sizes) - own for own in owned]


def report_costs(shapes):
    return [ped.matrix_flops(s, dtype="bfloat16") for s in shapes]


def test_plan_command(tmp_path):
    shapes = tmp_path / "shapes.json"
    shapes.write_text(json.dumps([[48, 96], {"shape": [96, 96], "count": 3}, [2, 32, 32]]))
    run = [sys.executable, "-m", "polar_express.distributed", "plan", str(shapes)]
    table = subprocess.run(run + ["--world-size", "2", "8"], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("cost-balanced") == 2 and "5 matrices" in table.stdout
    as_json = subprocess.run(run + ["--world-size", "2", "--json"], capture_output=True, text=True, timeout=60)
    report = json.loads(as_json.stdout)[0]
    assert report["matrices"] == 5 and report == json.loads(json.dumps(
        ped.plan_report(ped.read_shapes(str(shapes)), 2)))
    bad = tmp_path / "bad.json"
    bad.write_text("[[3]]")
    failed = subprocess.run(run[:-1] + [str(bad), "--world-size", "2"], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and "[3]" in failed.stderr and failed.stderr.count("\n") == 1


# ------------------------------------------------------------------ worlds of processes


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, out_dir):
    """Every check on one rank; writes {check: None (passed) or why it failed}."""
    import polar_express as pe
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    pe.set_cpu_threads(1)  # results independent of the batch (see pe.set_cpu_threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=GROUP_TIMEOUT_S))
    outcomes = {}
    for name, check in _CHECKS:
        try:
            check(rank, world)
            outcomes[name] = None
        except Exception:
            outcomes[name] = traceback.format_exc()
        # every check starts together, whatever the last one did
        dist.barrier()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(outcomes, f)
    dist.destroy_process_group()


def _mixed(seed):
    gen = torch.Generator().manual_seed(seed)
    tensors = [
        torch.randn(24, 40, generator=gen),
        torch.randn(40, 24, generator=gen, dtype=torch.float64),
        torch.randn(3, 24, 40, generator=gen),
        torch.randn(24, 40, generator=gen),
        torch.randn(64, 96, generator=gen),
        torch.randn(33, 33, generator=gen, dtype=torch.float64),
        torch.randn(40, 24, generator=gen).mT,  # column-major
        torch.randn(2, 64, 96, generator=gen),
    ]
    return tensors


def _assert_bit_equal(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        assert torch.equal(g, w), float((g - w).abs().max())


def check_bit_equal_mixed_shapes(rank, world):
    tensors = _mixed(1)
    _assert_bit_equal(pet.distributed.orthogonalize(tensors), [pet.orthogonalize(t) for t in tensors])
    schedule = "polar-express-paper-d5"
    _assert_bit_equal(pet.distributed.orthogonalize(tensors, schedule=schedule, steps=7),
                      [pet.orthogonalize(t, schedule, steps=7) for t in tensors])


def check_more_ranks_than_matrices(rank, world):
    tensors = _mixed(2)[: world - 1]
    _assert_bit_equal(pet.distributed.orthogonalize(tensors), [pet.orthogonalize(t) for t in tensors])


def check_empty_list(rank, world):
    assert pet.distributed.orthogonalize([]) == []


def check_dtensor_shard0_round_trip(rank, world):
    from torch.distributed.tensor import DTensor, Replicate, Shard, distribute_tensor, init_device_mesh

    mesh = init_device_mesh("cpu", (world,))
    gen = torch.Generator().manual_seed(3)
    # (world - 1, 40): the last rank's shard is empty; (1, 16, 24): all but rank 0's
    fulls = [torch.randn(world - 1, 40, generator=gen), torch.randn(40, 24, generator=gen),
             torch.randn(1, 16, 24, generator=gen), torch.randn(5, 24, 40, generator=gen, dtype=torch.float64)]
    sharded = [distribute_tensor(f, mesh, [Shard(0)]) for f in fulls]
    assert sharded[0].to_local().numel() == 0 if rank == world - 1 else True
    assert sharded[2].to_local().numel() == 0 if rank > 0 else True
    replicated = distribute_tensor(fulls[1].clone(), mesh, [Replicate()])
    plain = torch.randn(40, 24, generator=gen)
    got = pet.distributed.orthogonalize(sharded + [replicated, plain])
    want = [pet.orthogonalize(f) for f in fulls + [fulls[1], plain]]
    for g, w, s in zip(got[:4], want, sharded):
        assert isinstance(g, DTensor) and g.placements == (Shard(0),) and g.shape == s.shape
        assert g.to_local().shape == s.to_local().shape
        assert torch.equal(g.to_local(), w.chunk(world)[rank] if rank < len(w.chunk(world)) else w[:0])
        assert torch.equal(g.full_tensor(), w)
    assert isinstance(got[4], DTensor) and got[4].placements == (Replicate(),)
    assert torch.equal(got[4].to_local(), want[4]) and torch.equal(got[5], want[5])


def check_muon_equals_single_process(rank, world):
    from torch.distributed.tensor import Shard, distribute_tensor, init_device_mesh

    mesh = init_device_mesh("cpu", (world,))
    gen = torch.Generator().manual_seed(4)
    shapes = [(24, 40), (24, 40), (40, 24), (3, 16, 24), (4, 2, 3, 3), (world - 1, 16)]
    initial = [torch.randn(*s, generator=gen) for s in shapes]
    grads = [[torch.randn(*s, generator=gen) for s in shapes] for _ in range(3)]
    for scale in (None, "nuclear"):
        single = [torch.nn.Parameter(p.clone()) for p in initial]
        spread = [torch.nn.Parameter(p.clone()) for p in initial[:-1]]
        spread.append(torch.nn.Parameter(distribute_tensor(initial[-1].clone(), mesh, [Shard(0)])))
        reference = pet.Muon(single, lr=0.02, scale=scale)
        optimizer = pet.Muon(spread, lr=0.02, scale=scale, distributed=True)
        for step_grads in grads:
            for p, q, g in zip(single, spread, step_grads):
                p.grad = g.clone()
                q.grad = distribute_tensor(g.clone(), mesh, [Shard(0)]) if q is spread[-1] else g.clone()
            reference.step()
            optimizer.step()
        for p, q in zip(single, spread):
            q = q.full_tensor() if q is spread[-1] else q
            assert torch.equal(p, q), (scale, float((p - q).abs().max()))


def check_subgroup_without_rank_0(rank, world):
    # group ranks differ from global ranks: owners are addressed by global rank
    group = dist.new_group(list(range(1, world)))
    if rank == 0:
        return
    tensors = _mixed(9)
    _assert_bit_equal(pet.distributed.orthogonalize(tensors, group=group), [pet.orthogonalize(t) for t in tensors])


def check_bad_input_on_one_rank_raises_everywhere(rank, world):
    tensors = _mixed(5)[:3]
    if rank == 1:
        tensors[1] = torch.ones(7)
    try:
        pet.distributed.orthogonalize(tensors)
    except ValueError as error:
        assert rank == 1 and "shape (7,)" in str(error)
    except pet.distributed.DistributedError as error:
        assert rank != 1 and "rank 1: ValueError" in str(error) and "shape (7,)" in str(error)
    else:
        raise AssertionError("no error")


def check_different_lists_raise_everywhere(rank, world):
    tensors = _mixed(6)[: 2 + (rank == 0)]
    try:
        pet.distributed.orthogonalize(tensors)
    except pet.distributed.DistributedError as error:
        assert "different lists" in str(error)
    else:
        raise AssertionError("no error")


def check_owner_failure_raises_everywhere(rank, world):
    from polar_express.torch import distributed as ptd

    def compute(batch):
        if rank == world - 1:
            raise RuntimeError("the runtime broke here")
        return pet.orthogonalize(batch)

    tensors = _mixed(7)
    items = [ptd.plain_item(t) for t in tensors]
    try:
        ptd.exchange(items, compute, pe.Schedule.builtin(pe.DEFAULT_SCHEDULE), None, None, ptd.begin_call(None))
    except ptd.DistributedError as error:
        assert f"rank {world - 1}: RuntimeError: the runtime broke here" in str(error)
    else:
        raise AssertionError("no error")


def check_a_call_refused_on_one_rank_keeps_the_ranks_in_step(rank, world):
    # Rank 1's schedule is refused before any collective: it must still take
    # part in the call's agreement, so that its next call meets the others' next.
    tensors = _mixed(10)[:3]
    try:
        pet.distributed.orthogonalize(tensors, schedule="no-such-schedule" if rank == 1 else pe.DEFAULT_SCHEDULE)
    except ValueError as error:
        assert rank == 1 and "no-such-schedule" in str(error)
    except pet.distributed.DistributedError as error:
        assert rank != 1 and "rank 1: ValueError" in str(error) and "no-such-schedule" in str(error)
    else:
        raise AssertionError("no error")
    _assert_bit_equal(pet.distributed.orthogonalize(tensors), [pet.orthogonalize(t) for t in tensors])


def check_calls_out_of_step_are_refused_then_line_up(rank, world):
    from polar_express.torch import distributed as ptd

    if rank == 1:
        ptd.begin_call(None)  # a call this rank left before its first collective
    tensors = _mixed(11)[:2]
    try:
        pet.distributed.orthogonalize(tensors)
    except pet.distributed.DistributedError as error:
        assert "out of step" in str(error) and "rank 1 at call" in str(error), str(error)
    else:
        raise AssertionError("no error")
    _assert_bit_equal(pet.distributed.orthogonalize(tensors), [pet.orthogonalize(t) for t in tensors])


def check_a_tensor_on_another_device_is_refused_on_every_rank(rank, world):
    tensors = _mixed(12)[:2]
    if rank == 1:
        tensors[0] = torch.empty(tensors[0].shape, device="meta")
    try:
        pet.distributed.orthogonalize(tensors)
    except ValueError as error:
        assert rank == 1 and "device meta" in str(error) and "gloo" in str(error), str(error)
    except pet.distributed.DistributedError as error:
        assert rank != 1 and "rank 1: ValueError" in str(error) and "device meta" in str(error), str(error)
    else:
        raise AssertionError("no error")


def check_a_nan_on_a_rank_that_does_not_own_the_tensor_is_reported_everywhere(rank, world):
    import warnings

    gen = torch.Generator().manual_seed(13)
    tensors = [torch.randn(64, 96, generator=gen), torch.randn(24, 40, generator=gen)]
    costs = [ped.matrix_flops(tuple(t.shape), dtype="float32") for t in tensors]
    assert ped.place(costs, world).owners[0] == 0  # so rank 1's copy is not the one computed
    want = [pet.orthogonalize(t) for t in tensors]
    if rank == 1:
        tensors[0] = tensors[0].clone()
        tensors[0][5, 7] = float("nan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = pet.distributed.orthogonalize(tensors)
    assert torch.isnan(got[0]).all() and torch.equal(got[1], want[1])
    messages = [str(w.message) for w in caught if issubclass(w.category, pe.OrthogonalizeWarning)]
    assert len(messages) == 1 and "tensor 0 (on rank 1)" in messages[0], messages


def check_muon_skips_a_parameter_whose_gradient_is_not_finite_on_any_rank(rank, world):
    import warnings

    gen = torch.Generator().manual_seed(17)
    weights = [torch.randn(24, 40, generator=gen), torch.randn(16, 24, generator=gen)]
    grads = [torch.randn(w.shape, generator=gen) for w in weights]
    params = [torch.nn.Parameter(w.clone()) for w in weights]
    alone = torch.nn.Parameter(weights[1].clone())  # what the finite parameter becomes, one process
    alone.grad = grads[1].clone()
    pet.Muon([alone], lr=0.02).step()
    for p, g in zip(params, grads):
        p.grad = g.clone()
    if rank == world - 1:  # the NaN on one rank only: every rank skips the parameter
        params[0].grad[2, 3] = float("nan")
    optimizer = pet.Muon(params, lr=0.02, distributed=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer.step()
    messages = [str(w.message) for w in caught if issubclass(w.category, pe.OrthogonalizeWarning)]
    assert len(messages) == 1 and "['params'][0] of shape (24, 40)" in messages[0], messages
    assert torch.equal(params[0].detach(), weights[0]) and "momentum_buffer" not in optimizer.state[params[0]]
    assert torch.equal(params[1].detach(), alone.detach())


def check_absent_rank_times_out_with_a_clear_message(rank, world):
    group = dist.new_group(list(range(world)), timeout=datetime.timedelta(seconds=ABSENT_TIMEOUT_S),
                           backend="gloo")
    if rank == world - 1:
        return  # as if it had raised before the call: it never joins
    try:
        pet.distributed.orthogonalize(_mixed(8)[:2], group=group)
    except pet.distributed.DistributedError as error:
        assert "a collective failed" in str(error) and "timeout" in str(error)
    else:
        raise AssertionError("no error")


_CHECKS = [(name[len("check_"):], check) for name, check in list(globals().items()) if name.startswith("check_")]


@pytest.fixture(scope="module", params=[2, 4], ids=lambda w: f"world{w}")
def world(request, tmp_path_factory):
    """Runs every check on `request.param` processes; {check: [outcome per rank]}.
    The processes fork from one server that imported torch, its compiler (a
    custom operator's first call imports it) and this module once: spawning
    each would repeat seconds of imports per process."""
    import multiprocessing

    import torch.multiprocessing as mp

    multiprocessing.set_forkserver_preload(["torch", "torch._dynamo", "torch.distributed.tensor", __name__])
    size = request.param
    out_dir = tmp_path_factory.mktemp(f"world{size}")
    saved = {key: os.environ.get(key) for key in ("GLOO_SOCKET_IFNAME", "OMP_NUM_THREADS")}
    os.environ.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    try:
        context = mp.start_processes(_worker, args=(size, _free_port(), str(out_dir)), nprocs=size, join=False,
                                     start_method="forkserver")
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=WORLD_TIMEOUT_S)
        while not context.join(timeout=1):
            if datetime.datetime.now() > deadline:
                for process in context.processes:
                    process.kill()
                pytest.fail(f"{size} processes did not finish within {WORLD_TIMEOUT_S} s")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    outcomes = [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(size)]
    return {name: [o[name] for o in outcomes] for name, _ in _CHECKS}


@pytest.mark.parametrize("check", [name for name, _ in _CHECKS])
def test_on_gloo(world, check):
    failures = [f"rank {r}:\n{why}" for r, why in enumerate(world[check]) if why is not None]
    assert not failures, "\n".join(failures)
