"""Bad arguments get a ValueError or TypeError whose message names the argument
and the value, never nanobind's "incompatible function arguments" or an error
from deeper down; the accepted forms (a numpy array of coefficients) work."""

import numpy as np
import pytest

import polar_express as pe

solver = pytest.mark.skipif(not pe.has_solver, reason="built without the MPFR solver")

G = np.random.default_rng(3).standard_normal((6, 4))


def refuses(error, pattern, call, *args, **kwargs):
    """call(*args, **kwargs) raises `error` whose message matches `pattern`
    and is not nanobind's argument mismatch."""
    with pytest.raises(error, match=pattern) as caught:
        call(*args, **kwargs)
    assert "incompatible function arguments" not in str(caught.value)


@pytest.mark.parametrize("steps", [2**31, 10**30, 0, -3, 2.0])
def test_steps_out_of_range(steps):
    refuses(ValueError, rf"steps must be an integer in 1\.\.2147483647, not {steps!r}$", pe.orthogonalize, G,
            steps=steps)


def test_largest_steps_reaches_the_extension():
    # 2**31 - 1 (a C int) passes the check and the extension takes it: no
    # certificate reaches that far.
    assert pe.Schedule.builtin("polar-express-paper-d5").error_bound(2**31 - 1) is None


@pytest.mark.parametrize("capacity", [-1, 0, 2**70])
def test_plan_cache_capacity_out_of_range(capacity):
    before = pe.plan_cache_capacity()
    refuses(ValueError, rf"capacity must be in 1\.\.\d+, not {capacity}$", pe.set_plan_cache_capacity, capacity)
    assert pe.plan_cache_capacity() == before


def test_plan_cache_capacity_not_an_integer():
    refuses(TypeError, r"capacity must be an integer, not 2\.5$", pe.set_plan_cache_capacity, 2.5)


def test_input_of_a_dtype_dlpack_cannot_carry():
    x = np.ones((4, 4), dtype=np.longdouble)
    refuses(TypeError, r"the input \((numpy\.)?ndarray of dtype float128\) is not an array of a dtype DLPack carries",
            pe.orthogonalize, x)


def test_out_of_a_dtype_the_cpu_does_not_run_is_named_out():
    refuses(TypeError, r"^out has dtype int64", pe.orthogonalize, G, out=np.empty(G.shape, dtype=np.int64))
    refuses(TypeError, r"^out has dtype float32, the input float64", pe.orthogonalize, G,
            out=np.empty(G.shape, dtype=np.float32))


def test_read_only_out():
    out = np.empty(G.shape)
    out.flags.writeable = False
    refuses(ValueError, r"out \(ndarray\) is not writable", pe.orthogonalize, G, out=out)


def test_schedule_from_a_numpy_array():
    rows = [[3.4445, -4.7750, 2.0315], [2.0, -1.5, 0.5]]
    from_array = pe.Schedule(np.array(rows))
    assert from_array == pe.Schedule(rows)
    assert from_array.coefficients == rows
    assert pe.Schedule(tuple(np.array(r) for r in rows)) == from_array


@pytest.mark.parametrize("coefficients", [np.array([]), np.array([1.5, -0.5]), 1.5])
def test_schedule_from_what_is_not_per_step_lists(coefficients):
    refuses(ValueError, "coefficients|step 1 of coefficients", pe.Schedule, coefficients)


@solver
@pytest.mark.parametrize("degree, pattern", [
    (10**20, r"degree 100000000000000000000 is not an odd integer in \[3, 255\]"),
    ([5, -(2**40)], r"degree -1099511627776 is not an odd integer in \[3, 255\]"),
    (5.0, r"degree must be an odd integer or a list of them, not 5\.0$"),
    ([5, 7.0], r"degree must be an odd integer or a list of them, not \[5, 7\.0\]$"),
])
def test_design_degree(degree, pattern):
    refuses(ValueError, pattern, pe.design, degree=degree, lower=1e-3, steps=1)


@solver
def test_design_steps_out_of_range():
    refuses(ValueError, r"steps must be an integer in 1\.\.2147483647, not 2147483648$", pe.design, degree=5,
            lower=1e-3, steps=2**31)


@solver
@pytest.mark.parametrize("bits", [-1, 0, 2**40])
def test_precision_bits_out_of_range(bits, tmp_path):
    lowest, highest = pe._core.precision_bits_range
    pattern = rf"precision_bits must be in {lowest}\.\.{highest}, not {bits}$"
    refuses(ValueError, pattern, pe.design, degree=5, lower=1e-3, steps=1, precision_bits=bits)
    refuses(ValueError, pattern, pe.verify, "polar-express-paper-d5", precision_bits=bits)
    refuses(ValueError, pattern, pe.Schedule.from_file, tmp_path / "unread.json", precision_bits=bits)
    refuses(TypeError, r"precision_bits must be an integer, not 256\.0$", pe.design, degree=5, lower=1e-3, steps=1,
            precision_bits=256.0)


@solver
def test_design_name_must_be_a_string():
    refuses(TypeError, r"name must be a string or None, not 123$", pe.design, degree=5, lower=1e-3, steps=1,
            name=123)


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # vmap's per-matrix fallback
def test_torch_func_grad_says_the_op_has_no_derivative():
    from conftest import import_torch

    torch = import_torch()
    import polar_express.torch as pet

    g = torch.from_numpy(G)
    with pytest.raises(RuntimeError, match="polar_express.orthogonalize is not differentiable.*torch.func.grad"):
        torch.func.grad(lambda a: pet.orthogonalize(a).sum())(g)
    with pytest.raises(RuntimeError, match="not differentiable.*torch.func.grad"):
        torch.func.grad(lambda a: torch.func.vmap(pet.orthogonalize)(a * 2).sum())(g.expand(2, 6, 4).clone())
    # Transforms that do not differentiate still run it.
    assert torch.equal(torch.func.vmap(pet.orthogonalize)(g.expand(2, 6, 4).clone())[1], pet.orthogonalize(g))
