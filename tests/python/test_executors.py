"""One program, several executors: a program compiled once runs through the CPU
runtime, the torch backend and the JAX backend, compared operation by operation
(the interpreters' trace hooks; the CPU runtime step by step, since the program
for t steps of the direct form is a prefix of the longer one), each iterate
against the singular values pushed through the schedule's polynomials (numpy
SVD in float64, independent of all three), and the list against the one the
CUDA plan compiles."""

import numpy as np
import pytest

from conftest import import_installed, import_torch

torch = import_torch()
jax = import_installed("jax")

import polar_express as pe  # noqa: E402
import polar_express.jax as pej  # noqa: E402
import polar_express.torch as pet  # noqa: E402
from polar_express import _program  # noqa: E402
from polar_express.torch import _backend  # noqa: E402

NS7 = [35 / 16, -35 / 16, 21 / 16, -5 / 16]
CASES = {
    "nanochat": (pe.Schedule.builtin("polar-express-nanochat-d5"), 0),
    "degree-7": (pe.Schedule(coefficients=[NS7], eps=1e-7, name="ns7"), 6),
    "mixed": (pe.Schedule(coefficients=[NS7, [3.4445, -4.775, 2.0315], [1.5, -0.5]], eps=1e-7, name="mixed"), 6),
    "aol": (pe.Schedule.builtin("turbo-muon-aol-4step"), 0),
}
SHAPES = [(1, 48, 80), (1, 80, 48), (1, 32, 160), (2, 40, 64)]


def relative(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def recorder():
    records = []
    return records, lambda index, op, outputs: records.append(
        (index, op.kind, {name: np.asarray(value, dtype=np.float64) for name, value in outputs.items()}))


def iterates_by_svd(g, schedule, steps):
    """X_t = U diag(p_t(... p_1(s / (f ||G||_F + eps)))) V^T for t = 1..steps, per
    matrix, in float64: the iteration's exact values."""
    u, s, vt = np.linalg.svd(g.astype(np.float64), full_matrices=False)
    norm = np.linalg.norm(g.astype(np.float64), axis=(-2, -1))
    x = s / (schedule.normalization_factor * norm[:, None] + schedule.eps)
    result = []
    for t in range(steps):
        c = schedule.coefficients[min(t, schedule.steps - 1)]
        x = x * sum(cj * x ** (2 * j) for j, cj in enumerate(c))
        result.append((u * x[:, None, :]) @ vt)
    return result


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_one_program_through_every_executor(name, shape):
    schedule, steps = CASES[name]
    batch, rows, cols = shape
    g = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    program = _program.compile_program(schedule, batch, rows, cols, steps, "cpu", "float32")

    # The list the CUDA plan compiles, with the CPU's choices forced the same way.
    cuda = _program.compile_program(schedule, batch, rows, cols, steps, "cuda", "float32",
                                    gram="on" if program.gram else "off",
                                    symmetric="on" if program.symmetric else "off")
    assert cuda.operations == program.operations

    # Both interpreters run that very program object.
    assert _backend._executor(schedule, batch, rows, cols, steps, torch.float32, "cpu").program is program
    by_torch, hook = recorder()
    u_torch = _backend.orthogonalize(torch.from_numpy(g), schedule, steps, False, trace=hook)
    by_jax, hook = recorder()
    u_jax = pej.orthogonalize(g, schedule=schedule, steps=steps or None, trace=hook)

    assert [r[:2] for r in by_torch] == [r[:2] for r in by_jax] == [(i, op.kind) for i, op in
                                                                      enumerate(program.operations)]
    for (index, kind, ours), (_, _, theirs) in zip(by_torch, by_jax):
        assert ours.keys() == theirs.keys()
        for buffer in ours:
            assert relative(ours[buffer], theirs[buffer]) <= 1e-5, (index, kind, buffer)

    # Each iterate (an apply's output) against the exact iteration, for the
    # Frobenius normalisation the SVD reference states.
    applies = [(program.operations[i].step, out) for i, kind, out in by_torch if kind == "apply"]
    if schedule.normalization == "frobenius":
        exact = iterates_by_svd(g, schedule, program.steps)
        for step, out in applies:
            (value,) = out.values()
            assert relative(value, exact[step]) <= 1e-4, step

    # The CPU runtime: its result, and in the direct form its iterate after
    # every step (the t-step program is the prefix of this one up to its last apply).
    native = pet.orthogonalize(torch.from_numpy(g[0] if batch == 1 else g), schedule, steps or None,
                               backend="native").numpy()
    assert relative(native, u_torch.numpy()[0] if batch == 1 else u_torch.numpy()) <= 1e-5
    assert relative(np.asarray(u_jax), u_torch.numpy()) <= 1e-5
    if not program.gram:
        for step, out in applies:
            shorter = _program.compile_program(schedule, batch, rows, cols, step + 1, "cpu", "float32", gram="off")
            assert shorter.operations[:-1] == program.operations[: len(shorter.operations) - 1]
            at_step = pet.orthogonalize(torch.from_numpy(g), schedule, step + 1, backend="native").numpy()
            (value,) = out.values()
            assert relative(at_step, value) <= 1e-5, step
