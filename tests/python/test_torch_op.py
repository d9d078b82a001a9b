"""The torch operators: accuracy on torch tensors, opcheck, torch.compile
without graph breaks, the autograd error, and CUDA (skipped without a GPU)."""

import numpy as np
import pytest

from conftest import import_torch

torch = import_torch()

import polar_express as pe  # noqa: E402
import polar_express.torch as pet  # noqa: E402
from conftest import certified_batch, polar_by_svd, rounding, sigma_error  # noqa: E402


@pytest.mark.parametrize("shape", [(24, 40), (40, 24), (3, 24, 40), (3, 40, 24)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("through", ["pe", "op"])
def test_torch_within_certified_error(shape, dtype, through):
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    g = torch.from_numpy(certified_batch(np.random.default_rng(len(shape) + shape[-1]), shape, schedule)).to(dtype)
    y = pe.orthogonalize(g, schedule=schedule) if through == "pe" else pet.orthogonalize(g, schedule=schedule)
    assert isinstance(y, torch.Tensor) and y.dtype == dtype and y.shape == g.shape and y.device == g.device
    bound = schedule.error_bound() + rounding(np.float64 if dtype == torch.float64 else np.float32, shape)
    assert sigma_error(y.numpy()) <= bound
    polar, _ = polar_by_svd(g.numpy())
    assert np.max(np.linalg.norm(y.double().numpy() - polar, ord=2, axis=(-2, -1))) <= bound


def test_op_and_pe_agree_bit_for_bit_and_out_works():
    g = torch.randn(3, 20, 36, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = pet.orthogonalize(g)
    assert torch.equal(y, pe.orthogonalize(g))
    out = torch.empty_like(g)
    assert pe.orthogonalize(g, out=out) is out and torch.equal(out, y)
    u, nuc = pet.orthogonalize(g, nuclear_norm=True)
    _, nuc_pe = pe.orthogonalize(g, nuclear_norm=True)
    assert torch.equal(u, y) and nuc.dtype == torch.float64 and nuc.shape == (3,) and torch.equal(nuc, nuc_pe)


def test_transposed_tensors_keep_their_layout():
    g = torch.randn(2, 36, 20, dtype=torch.float64).mT  # column-major matrices
    y = pet.orthogonalize(g)
    assert y.stride() == g.stride()
    assert torch.equal(y, pet.orthogonalize(g.contiguous().mT.contiguous()).mT)


def _samples():
    gen = torch.Generator().manual_seed(1)
    return [
        torch.randn(16, 24, generator=gen),
        torch.randn(24, 16, dtype=torch.float64, generator=gen),
        torch.randn(3, 16, 24, generator=gen),
        torch.randn(3, 24, 16, generator=gen).mT,
        torch.randn(4, 16, 24, generator=gen)[::2],
    ]


@pytest.mark.parametrize("op", ["orthogonalize", "orthogonalize_nuclear"])
def test_opcheck(op):
    operator = getattr(torch.ops.polar_express, op)
    for x in _samples():
        torch.library.opcheck(operator, (x, "polar-express-nanochat-d5", None))
        torch.library.opcheck(operator, (x, "polar-express-paper-d5", 9))


def test_compiled_function_equals_eager():
    schedule = pe.Schedule(coefficients=[[3.4445, -4.775, 2.0315]], eps=1e-7, name="ns5")

    def update(g, w):
        u = pet.orthogonalize(g * 2.0, schedule=schedule, steps=5)
        v, nuc = pet.orthogonalize(g, schedule="polar-express-paper-d5", nuclear_norm=True)
        return w - 0.1 * u + 0.01 * v * nuc[..., None, None]

    compiled = torch.compile(update, fullgraph=True, backend="aot_eager")
    for shape in [(32, 48), (2, 48, 32)]:
        g, w = torch.randn(*shape), torch.randn(*shape)
        torch.testing.assert_close(compiled(g, w), update(g, w), rtol=0, atol=0)


def test_compiled_with_inductor_equals_eager():
    def step(g):  # elementwise work that rounds the same in both (exact, then one rounding)
        return pet.orthogonalize(g * 2.0) * 3.0

    compiled = torch.compile(step, fullgraph=True)
    g = torch.randn(24, 40)
    assert torch.equal(compiled(g), step(g))


def test_not_differentiable():
    g = torch.randn(8, 12, requires_grad=True)
    y = pet.orthogonalize(g)  # the forward runs
    with pytest.raises(RuntimeError, match="not differentiable"):
        y.sum().backward()
    with pytest.raises(TypeError, match="not differentiable"):
        pe.orthogonalize(g)
    with torch.no_grad():
        assert torch.equal(pe.orthogonalize(g), y.detach())


def test_bad_tensors():
    with pytest.raises(ValueError, match="2-D matrix or a 3-D batch"):
        pet.orthogonalize(torch.ones(4))
    with pytest.raises(ValueError, match="empty"):
        pet.orthogonalize(torch.ones(0, 3))
    with pytest.raises(TypeError, match="int64"):
        pet.orthogonalize(torch.ones(3, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="complex"):
        pe.orthogonalize(torch.ones(3, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="uint8"):
        pe.orthogonalize(torch.ones(3, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="unknown schedule"):
        pet.orthogonalize(torch.ones(3, 3), schedule="nope")


def test_non_finite_matrices_warn_through_the_op():
    g = torch.randn(3, 8, 12, dtype=torch.float64)
    g[1, 0, 0] = float("nan")
    with pytest.warns(pe.OrthogonalizeWarning, match="matrix 1: non-finite input"):
        y = pet.orthogonalize(g)
    assert torch.isnan(y[1]).all() and torch.isfinite(y[0]).all() and torch.isfinite(y[2]).all()


# ------------------------------------------------------------------ CUDA

cuda = pytest.mark.skipif(
    not (torch.cuda.is_available() and pe.cuda_available()), reason="needs a CUDA device and the CUDA backend"
)


@cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_cuda_matches_the_cpu(dtype):
    schedule = pe.Schedule.builtin("polar-express-nanochat-d5")
    g = torch.from_numpy(certified_batch(np.random.default_rng(2), (4, 128, 384), schedule)).float()
    y = pet.orthogonalize(g.to("cuda", dtype), schedule=schedule)
    assert y.device.type == "cuda" and y.dtype == dtype
    reference = pet.orthogonalize(g.to(dtype).float(), schedule=schedule)
    tolerance = {torch.bfloat16: 0.06, torch.float16: 0.02, torch.float32: 1e-4}[dtype]
    assert (y.float().cpu() - reference).abs().max().item() <= tolerance


@cuda
def test_cuda_runs_on_the_current_stream_and_captures_in_a_graph():
    g = torch.randn(8, 128, 256, device="cuda", dtype=torch.bfloat16)
    expected = pet.orthogonalize(g)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        pet.orthogonalize(g)  # a plan for this stream, made before capture
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            captured = pet.orthogonalize(g)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(captured, expected)


def test_first_call_does_not_import_the_compiler():
    # torch.library.custom_op kernels import torch._dynamo on their first call
    # (seconds and about 150 MB); the operators are Library kernels instead.
    import subprocess
    import sys

    code = (
        "import sys, torch, polar_express.torch as pet\n"
        "pet.orthogonalize(torch.randn(16, 24))\n"
        "pet.orthogonalize(torch.randn(2, 16, 24), nuclear_norm=True)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
