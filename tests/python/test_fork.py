"""A forked child (os.fork, a DataLoader's fork workers) runs the plans its
parent made with worker threads, and clears them, with the parent's results
bit for bit.  A hang fails the test: the parent waits a bounded time, then
kills the child."""

import os
import signal
import time
import traceback

import numpy as np
import pytest

import polar_express as pe

# How long a child may take before it counts as hung: seconds of work are
# expected, so only a hang (or a machine stalled for minutes) reaches it.
HANG_SECONDS = 120

# Enough threads for a pool of several workers on any machine.
THREADS = 4


@pytest.fixture
def threaded_plans():
    """Plans made with THREADS threads, and the cache and setting restored after."""
    assert pe.cpu_threads() == 0
    pe.set_cpu_threads(THREADS)
    yield
    pe.set_cpu_threads(0)


def run_in_child(work) -> int:
    """Forks; the child runs work() (its return value is the exit status, an
    exception gives 1); returns the child's exit status, failing the test if it
    does not end within HANG_SECONDS."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            status = work()
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    deadline = time.monotonic() + HANG_SECONDS
    while True:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(wait_status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child did not finish within {HANG_SECONDS} s (killed)")
        time.sleep(0.02)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forked_child_runs_and_clears_the_parents_plans(threaded_plans, dtype):
    rng = np.random.default_rng(26)
    x = rng.standard_normal((2 * THREADS, 16, 24)).astype(dtype)
    expected = pe.orthogonalize(x)  # a batched plan whose pool has THREADS - 1 threads
    assert pe.plan_cache_size() == 1
    capacity = pe.plan_cache_capacity()

    def child():
        first = pe.orthogonalize(x)  # the inherited cache entry's shape
        if not np.array_equal(first, expected):
            return 3
        # The child's cache starts empty, with the parent's capacity.
        if pe.plan_cache_size() != 1 or pe.plan_cache_capacity() != capacity:
            return 4
        pe.clear_plan_cache()
        if pe.plan_cache_size() != 0:
            return 5
        again = pe.orthogonalize(x)
        return 0 if np.array_equal(again, expected) else 6

    assert run_in_child(child) == 0
    # The parent's pool is untouched by the child.
    assert np.array_equal(pe.orthogonalize(x), expected)
    assert pe.plan_cache_size() == 1


def test_grandchild_after_a_child_remade_the_pool(threaded_plans):
    x = np.random.default_rng(27).standard_normal((THREADS, 20, 12))
    expected = pe.orthogonalize(x)

    def grandchild():
        return 0 if np.array_equal(pe.orthogonalize(x), expected) else 3

    def child():
        if not np.array_equal(pe.orthogonalize(x), expected):
            return 3
        return run_in_child(grandchild)

    assert run_in_child(child) == 0


def test_forked_child_keeps_the_plan_cache_capacity(threaded_plans):
    capacity = pe.plan_cache_capacity()
    try:
        pe.set_plan_cache_capacity(3)
        assert run_in_child(lambda: 0 if pe.plan_cache_capacity() == 3 else 3) == 0
    finally:
        pe.set_plan_cache_capacity(capacity)


def test_dataloader_fork_workers_run_the_torch_op(threaded_plans):
    from conftest import import_torch

    torch = import_torch()
    import polar_express.torch as pet

    rng = np.random.default_rng(28)
    items = [torch.from_numpy(rng.standard_normal((THREADS, 16, 16))) for _ in range(6)]
    expected = [pet.orthogonalize(g) for g in items]  # the parent's plan, with its pool

    class Orthogonalized(torch.utils.data.Dataset):
        def __len__(self):
            return len(items)

        def __getitem__(self, index):
            return pet.orthogonalize(items[index])

    loader = torch.utils.data.DataLoader(
        Orthogonalized(), batch_size=None, num_workers=2, multiprocessing_context="fork", timeout=HANG_SECONDS)
    results = list(loader)
    assert len(results) == len(items)
    for got, want in zip(results, expected):
        assert torch.equal(got, want)
