"""The iteration program as Python sees it (polar_express._program): the
operations a reader derives from the schedule's coefficients, the cost model's
closed form, the CPU and CUDA traits planning the same list, and bad input."""

import numpy as np
import pytest

import polar_express as pe
from polar_express import _program

NANOCHAT = pe.Schedule.builtin("polar-express-nanochat-d5")
# The degree-7 Newton-Schulz polynomial (35 x - 35 x^3 + 21 x^5 - 5 x^7) / 16 and
# a list mixing degrees 7, 5 and 3.
NS7 = [35 / 16, -35 / 16, 21 / 16, -5 / 16]
MIXED = pe.Schedule(coefficients=[NS7, [3.4445, -4.775, 2.0315], [1.5, -0.5]], eps=1e-7, name="mixed")


def kinds(program):
    return [op.kind for op in program.operations]


def test_direct_form_lists_what_the_coefficients_say():
    program = _program.compile_program(NANOCHAT, 1, 64, 96, 0, "cpu", "float32", gram="off")
    assert program.wide and not program.gram and program.steps == NANOCHAT.steps
    assert program.normalization == "frobenius"
    assert program.normalization_factor == NANOCHAT.normalization_factor and program.eps == NANOCHAT.eps
    ops = program.operations
    assert kinds(program) == ["normalise"] + ["gram", "product", "apply"] * NANOCHAT.steps + ["store"]
    for t, (a, b, c) in enumerate(NANOCHAT.coefficients):
        gram, product, apply = ops[1 + 3 * t : 4 + 3 * t]
        assert gram.step == product.step == apply.step == t
        # P = c A A + b A; X' = P X + a X
        assert (product.lhs, product.rhs, product.addend, product.alpha, product.beta) == ("A", "A", "A", c, b)
        assert (apply.lhs, apply.alpha, apply.addend, apply.beta) == (product.dst, 1.0, apply.rhs, a)
    assert ops[-1].lhs == ops[-2].dst


def test_horner_products_per_degree_and_tall_shapes():
    program = _program.compile_program(MIXED, 2, 90, 40, 0, "cpu", "float64", gram="off")
    assert not program.wide and program.short_side == 40 and program.long_side == 90 and program.batch == 2
    products = [sum(op.kind == "product" and op.step == t for op in program.operations) for t in range(3)]
    assert products == [2, 1, 0]  # q - 2 Horner products for degree 2q - 1
    cubic_apply = next(op for op in program.operations if op.kind == "apply" and op.step == 2)
    assert cubic_apply.lhs == "A" and cubic_apply.alpha == -0.5 and cubic_apply.beta == 1.5


@pytest.mark.parametrize("shape", [(1, 512, 2048), (3, 300, 200), (2, 64, 64)])
def test_flops_are_the_closed_form_of_the_direct_form(shape):
    batch, rows, cols = shape
    k, big = min(rows, cols), max(rows, cols)
    program = _program.compile_program(MIXED, batch, rows, cols, 5, "cpu", "float32", gram="off")
    q = [4, 3, 2, 2, 2]  # degrees 7, 5, 3, then the last repeated
    expected = batch * sum(4 * k * k * big + 2 * max(0, qt - 2) * k ** 3 for qt in q)
    assert program.flops() == pytest.approx(expected)


def test_gram_form_on_wide_matrices():
    program = _program.compile_program(NANOCHAT, 1, 128, 1024, 0, "cpu", "float32")
    assert program.gram
    assert kinds(program).count("gram") == 1 + len(program.restarts)
    assert kinds(program).count("apply") == 1 + len(program.restarts)
    assert all(0 < t < program.steps for t in program.restarts)
    assert "Q0" in program.buffers and "T" in program.buffers
    assert "step 5" in str(program)


def test_restart_budget_follows_the_dtype():
    paper = pe.Schedule.builtin("polar-express-paper-d5")
    restarts = {
        dtype: _program.compile_program(paper, 1, 256, 2048, 20, "cuda", dtype, gram="on").restarts
        for dtype in ("bfloat16", "float16", "float32")
    }
    assert len(restarts["bfloat16"]) >= len(restarts["float16"]) >= len(restarts["float32"])
    assert len(restarts["bfloat16"]) > len(restarts["float32"])
    bits = {dtype: _program.backend_traits("cuda", dtype)[0] for dtype in ("bfloat16", "float16", "float32")}
    assert bits == {"bfloat16": 8, "float16": np.finfo(np.float16).nmant + 1, "float32": np.finfo(np.float32).nmant + 1}
    assert _program.backend_traits("cpu", "float64")[0] == np.finfo(np.float64).nmant + 1


@pytest.mark.parametrize("shape", [(2, 512, 2048), (1, 3000, 700)])
@pytest.mark.parametrize("gram", ["off", "on"])
def test_cpu_and_cuda_traits_plan_the_same_list(shape, gram):
    # As the C++ test of the two backends: with the choices the traits make
    # forced the same way, the lists are identical (here on any host).
    paper = pe.Schedule.builtin("polar-express-paper-d5")
    cpu = _program.compile_program(paper, *shape, 10, "cpu", "float32", gram=gram, symmetric="on")
    cuda = _program.compile_program(paper, *shape, 10, "cuda", "float32", gram=gram, symmetric="on")
    assert cpu.operations == cuda.operations and cpu.restarts == cuda.restarts


def test_symmetric_products_from_each_backends_threshold():
    cpu_from = _program.backend_traits("cpu", "float32")[1]
    cuda_from = _program.backend_traits("cuda", "float32")[1]
    assert cpu_from < cuda_from
    cpu = _program.compile_program(NANOCHAT, 1, cpu_from, cpu_from, 0, "cpu", "float32")
    cuda = _program.compile_program(NANOCHAT, 1, cpu_from, cpu_from, 0, "cuda", "float32")
    assert cpu.symmetric and not cuda.symmetric
    assert any(op.symmetric for op in cpu.operations) and not any(op.symmetric for op in cuda.operations)


def test_aol_programs_rescale_before_the_first_step():
    aol = pe.Schedule.builtin("turbo-muon-aol-4step")
    program = _program.compile_program(aol, 1, 64, 64, 0, "cpu", "float32")
    assert program.normalization == "aol"
    assert kinds(program)[:3] == ["normalise", "gram", "aol-scale"]
    assert kinds(program).count("gram") == aol.steps  # the first step reuses AOL's Gram matrix


def test_programs_are_cached_and_steps_past_the_list():
    a = _program.compile_program(NANOCHAT, 1, 32, 48, 7, "cpu", "float32")
    assert a is _program.compile_program(NANOCHAT, 1, 32, 48, 7, "cpu", "float32")
    last = NANOCHAT.coefficients[-1]
    assert a.steps == 7 and [op.beta for op in a.operations if op.kind == "apply"][5:] == [last[0], last[0]]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(dtype="int8"), "dtype 'int8'"),
        (dict(device="tpu"), "device 'tpu'"),
        (dict(gram="maybe"), "gram 'maybe'"),
        (dict(symmetric="yes"), "symmetric 'yes'"),
        (dict(rows=0), "below 1"),
        (dict(steps=-1), "steps -1"),
        (dict(restart_interval=-2), "restart_interval -2"),
    ],
)
def test_bad_arguments(arguments, message):
    values = dict(batch=1, rows=8, cols=8, steps=0, device="cpu", dtype="float32")
    values.update(arguments)
    with pytest.raises(ValueError, match=message):
        _program.compile_program(NANOCHAT, **values)
