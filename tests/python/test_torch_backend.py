"""The torch backend (polar_express.torch._backend): the native runtime's results
on the CPU, 16-bit CPU tensors against the published formulation, the
per-matrix failures, layouts, the choice of backend, opcheck, torch.compile
without graph breaks, Muon, and CUDA (skipped without a GPU)."""

import numpy as np
import pytest

from conftest import import_torch

torch = import_torch()

import polar_express as pe  # noqa: E402
import polar_express.torch as pet  # noqa: E402
from polar_express.torch import _backend  # noqa: E402
from conftest import certified_batch, polar_by_svd, sigma_error  # noqa: E402

NS7 = [35 / 16, -35 / 16, 21 / 16, -5 / 16]
SCHEDULES = {
    "nanochat": pe.Schedule.builtin("polar-express-nanochat-d5"),
    "paper": pe.Schedule.builtin("polar-express-paper-d5"),
    "aol": pe.Schedule.builtin("turbo-muon-aol-4step"),
    "degree-7": pe.Schedule(coefficients=[NS7], eps=1e-7, name="ns7"),
    "mixed": pe.Schedule(coefficients=[NS7, [3.4445, -4.775, 2.0315], [1.5, -0.5]], eps=1e-7, name="mixed"),
}


def relative(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def gaussian(shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)).to(dtype)


# The CPU bench shapes small enough for the test run (bench/python/backends.py times all of them and reports the difference).
@pytest.mark.parametrize("shape", [(128, 128), (384, 128), (512, 128), (8, 256, 256), (16, 128, 768)])
def test_equal_to_the_native_runtime_in_f32(shape):
    g = gaussian(shape, seed=len(shape))
    native = pet.orthogonalize(g, backend="native")
    torch_backend = pet.orthogonalize(g, backend="torch")
    assert torch_backend.dtype == torch.float32 and torch_backend.shape == g.shape
    assert relative(torch_backend, native) <= 1e-5


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("shape", [(40, 64), (64, 40), (2, 24, 96)])
def test_every_schedule_and_form_equals_the_native_runtime(name, shape):
    schedule = SCHEDULES[name]
    steps = 6 if name in ("degree-7", "mixed") else None
    g64 = gaussian(shape, torch.float64, seed=3)
    native = pet.orthogonalize(g64, schedule, steps, backend="native")
    assert relative(pet.orthogonalize(g64, schedule, steps, backend="torch"), native) <= 1e-12
    g32 = g64.float()
    assert relative(pet.orthogonalize(g32, schedule, steps, backend="torch"),
                    pet.orthogonalize(g32, schedule, steps, backend="native")) <= 1e-5


def published(g, schedule):
    """The published formulation (the Polar Express paper's Algorithm 1, nanochat's
    code) in g's own dtype: X / (f ||X||_F + eps), transposed when tall, then per
    step A = X X^T, B = b A + c A A, X = a X + B X."""
    x = g / (schedule.normalization_factor * torch.linalg.matrix_norm(g, keepdim=True) + schedule.eps)
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    for a, b, c in schedule.coefficients:
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", [(4, 128, 256), (256, 128), (64, 512)])
@pytest.mark.parametrize("name", ["nanochat", "paper"])
def test_16_bit_cpu_tensors_within_twice_the_published_error(dtype, shape, name):
    schedule = SCHEDULES[name]
    g = torch.from_numpy(certified_batch(np.random.default_rng(3), shape, schedule)).to(dtype)
    u = pet.orthogonalize(g, schedule)  # auto: the native runtime where it takes the dtype, else the torch backend
    assert u.dtype == dtype and u.shape == g.shape
    assert sigma_error(u.double().numpy()) <= 2 * sigma_error(published(g, schedule).double().numpy())
    ours = pet.orthogonalize(g, schedule, backend="torch")
    assert sigma_error(ours.double().numpy()) <= 2 * sigma_error(published(g, schedule).double().numpy())


def test_zero_non_finite_and_diverged_matrices_per_matrix():
    g = gaussian((4, 24, 40), torch.float64)
    g[1] = 0
    g[2, 3, 5] = float("nan")
    g[3, 0, 0] = float("inf")
    with pytest.warns(pe.OrthogonalizeWarning, match="2 of 4 matrices"):
        u = pet.orthogonalize(g, backend="torch")
    assert torch.isfinite(u[0]).all() and torch.equal(u[1], torch.zeros_like(u[1]))
    assert torch.isnan(u[2]).all() and torch.isnan(u[3]).all()
    torch.testing.assert_close(u[0], pet.orthogonalize(g[0], backend="native"), rtol=0, atol=1e-12)
    tripling = pe.Schedule(coefficients=[[3.0, 0.0]], eps=0.0, name="tripling")  # x -> 3x: diverges
    with pytest.warns(pe.OrthogonalizeWarning, match="1 of 1"):
        assert torch.isnan(pet.orthogonalize(gaussian((12, 20)), tripling, 40, backend="torch")).all()


def test_nuclear_norms_equal_the_native_runtime():
    g = gaussian((3, 32, 48), torch.float64)
    u, nuc = pet.orthogonalize(g, nuclear_norm=True, backend="torch")
    u_native, nuc_native = pet.orthogonalize(g, nuclear_norm=True, backend="native")
    assert nuc.dtype == torch.float64 and nuc.shape == (3,)
    torch.testing.assert_close(nuc, nuc_native, rtol=1e-12, atol=0)
    _, single = pet.orthogonalize(g[0], nuclear_norm=True, backend="torch")
    assert single.shape == () and torch.allclose(single, nuc[0], rtol=1e-12, atol=0)


def test_layouts_kept_and_strided_batches():
    g = gaussian((2, 48, 24)).mT  # column-major matrices
    u = pet.orthogonalize(g, backend="torch")
    assert u.stride() == g.stride()
    assert relative(u, pet.orthogonalize(g, backend="native")) <= 1e-5
    h = gaussian((6, 24, 48))[::2]
    assert relative(pet.orthogonalize(h, backend="torch"), pet.orthogonalize(h.contiguous(), backend="native")) <= 1e-5


def test_against_the_svd_polar_factor():
    schedule = SCHEDULES["paper"]
    g = certified_batch(np.random.default_rng(5), (2, 40, 72), schedule)
    u = pet.orthogonalize(torch.from_numpy(g), schedule, backend="torch").numpy()
    polar, _ = polar_by_svd(g)
    assert np.max(np.linalg.norm(u - polar, ord=2, axis=(-2, -1))) <= schedule.error_bound() + 1e-12


def test_auto_takes_the_native_runtime_exactly_where_it_runs():
    f32 = gaussian((8, 12))
    assert _backend.choose_backend(f32, "auto") == "native"
    assert torch.equal(pet.orthogonalize(f32), pet.orthogonalize(f32, backend="native"))
    bf16 = f32.bfloat16()
    try:  # the native runtime's own answer (the CPU runtime may take 16-bit types)
        pe.orthogonalize(bf16)
        native_takes_bf16 = True
    except TypeError:
        native_takes_bf16 = False
    assert _backend.choose_backend(bf16, "auto") == ("native" if native_takes_bf16 else "torch")
    assert _backend.choose_backend(torch.empty(2, 2, device="meta"), "auto") == "torch"
    assert _backend.choose_backend(bf16, "native") == "native"
    with pytest.raises(ValueError, match="backend must be one of"):
        pet.orthogonalize(f32, backend="gpu")


def test_bad_dtypes_through_the_torch_backend():
    with pytest.raises(TypeError, match="float8"):
        pet.orthogonalize(torch.ones(3, 3).to(torch.float8_e4m3fn), backend="torch")


def _samples():
    gen = torch.Generator().manual_seed(1)
    return [
        torch.randn(16, 24, generator=gen),
        torch.randn(24, 16, dtype=torch.float64, generator=gen),
        torch.randn(3, 16, 24, generator=gen).bfloat16(),
        torch.randn(3, 24, 16, generator=gen).mT,
        torch.randn(4, 16, 24, generator=gen)[::2],
    ]


@pytest.mark.parametrize("op", ["orthogonalize", "orthogonalize_nuclear"])
def test_opcheck_on_the_torch_backend(op):
    operator = getattr(torch.ops.polar_express, op)
    for x in _samples():
        torch.library.opcheck(operator, (x, "polar-express-nanochat-d5", None, "torch"))
        torch.library.opcheck(operator, (x, "turbo-muon-aol-4step", 6, "torch"))


@pytest.mark.parametrize("backend", ["native", "torch"])
def test_no_graph_break_under_torch_compile(backend):
    def update(g, w):
        u = pet.orthogonalize(g, schedule="polar-express-paper-d5", backend=backend)
        v, nuc = pet.orthogonalize(g, nuclear_norm=True, backend=backend)
        return w - 0.1 * u + 0.01 * v * nuc[..., None, None]

    g, w = gaussian((2, 32, 48)), gaussian((2, 32, 48), seed=1)
    explanation = torch._dynamo.explain(update)(g, w)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    compiled = torch.compile(update, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(g, w), update(g, w), rtol=0, atol=0)


def test_muon_passes_the_backend_through():
    def run(backend):
        torch.manual_seed(0)
        weights = [torch.nn.Parameter(torch.randn(32, 48)), torch.nn.Parameter(torch.randn(3, 16, 24))]
        opt = pet.Muon(weights, lr=0.02, backend=backend)
        for step in range(3):
            for w in weights:
                w.grad = torch.randn(w.shape, generator=torch.Generator().manual_seed(step))
            opt.step()
        return weights

    for a, b in zip(run("native"), run("torch")):
        assert relative(a.detach(), b.detach()) <= 1e-5
    with pytest.raises(ValueError, match="backend must be one of"):
        pet.Muon([torch.nn.Parameter(torch.randn(4, 4))], backend="jax")


def test_the_program_on_other_devices_is_the_cuda_plans():
    # An executor for a device torch names "cuda" (or MPS, XPU) plans with the
    # CUDA plan's traits; building it touches no device.
    schedule = SCHEDULES["paper"]
    executor = _backend._executor(schedule, 1, 256, 2048, 12, torch.bfloat16, "cuda")
    from polar_express import _program

    assert executor.program is _program.compile_program(schedule, 1, 256, 2048, 12, "cuda", "bfloat16")
    assert executor.square_dtype == torch.float32  # the Gram form keeps k x k matrices in float32


# ------------------------------------------------------------------ CUDA

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_cuda_torch_backend_matches_the_cpu(dtype):
    schedule = SCHEDULES["nanochat"]
    g = torch.from_numpy(certified_batch(np.random.default_rng(2), (4, 128, 384), schedule)).float()
    u = pet.orthogonalize(g.to("cuda", dtype), schedule, backend="torch")
    assert u.device.type == "cuda" and u.dtype == dtype
    reference = pet.orthogonalize(g.to(dtype).float(), schedule)
    tolerance = {torch.bfloat16: 0.06, torch.float16: 0.02, torch.float32: 1e-4}[dtype]
    assert (u.float().cpu() - reference).abs().max().item() <= tolerance


@cuda
def test_cuda_torch_backend_captures_in_a_graph():
    g = torch.randn(8, 128, 256, device="cuda", dtype=torch.bfloat16)
    g[3] = float("nan")
    expected = pet.orthogonalize(g, backend="torch")
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        pet.orthogonalize(g, backend="torch")  # warm-up before capture
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            captured = pet.orthogonalize(g, backend="torch")
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(captured.isnan(), expected.isnan()) and torch.isnan(captured[3]).all()
    torch.testing.assert_close(captured.nan_to_num(), expected.nan_to_num(), rtol=0, atol=0)
