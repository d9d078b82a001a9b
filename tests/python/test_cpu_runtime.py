"""The CPU runtime as the Python package sees it: which BLAS and kernels run
(pe.cpu_info() against /proc/cpuinfo), the CPUs a plan may use (affinity mask),
and 16-bit arrays (numpy float16, torch float16/bfloat16) computed in float32
inside: bit for bit the float32 result on the widened input, rounded."""

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import polar_express as pe


def _proc_cpuinfo():
    """(vendor, flags) of the first processor in /proc/cpuinfo."""
    vendor, flags = None, None
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "vendor_id" and vendor is None:
                vendor = value.strip()
            if key == "flags" and flags is None:
                flags = set(value.split())
    return vendor, flags or set()


def test_cpu_info_names_the_blas_and_its_kernels():
    info = pe.cpu_info()
    assert info["blas"] == "OpenBLAS"
    assert os.path.exists(info["library"])
    assert info["config"].startswith("OpenBLAS ")
    assert info["version"] == info["config"].split()[1]
    assert info["core"]
    assert 1 <= info["threads"] <= info["usable_cpus"] <= len(os.sched_getaffinity(0))


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86-64 /proc/cpuinfo flags")
def test_the_kernels_are_the_ones_the_cpu_flags_allow():
    """Linux lists AVX and AVX-512 in /proc/cpuinfo only where the OS saves
    their registers: the kernel set OpenBLAS runs must be the widest those allow."""
    info = pe.cpu_info()
    if os.environ.get("OPENBLAS_CORETYPE"):
        assert info["core_source"] == "OPENBLAS_CORETYPE (environment)"
        return
    vendor, flags = _proc_cpuinfo()
    amd = vendor in ("AuthenticAMD", "HygonGenuine")
    if {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"} <= flags:
        expected = "skylakex"
    elif {"avx2", "fma"} <= flags:
        expected = "zen" if amd else "haswell"
    elif not amd and "avx" in flags:
        expected = "sandybridge"
    else:
        pytest.skip(f"no expectation for this CPU ({vendor}, no AVX2)")
    assert info["core_source"] == "polar-express (CPU features)"
    assert info["core"].lower() == expected
    assert "OPENBLAS_CORETYPE" not in _environment_of_this_process()


def _environment_of_this_process():
    """The C-level environment now (os.environ is a snapshot from start-up)."""
    with open(f"/proc/{os.getpid()}/environ", "rb") as f:
        return {entry.split(b"=", 1)[0].decode() for entry in f.read().split(b"\0") if entry}


_CHILD = """
import json, os, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import numpy as np, polar_express as pe
pe.set_cpu_threads(int(sys.argv[1]))
pe.orthogonalize(np.ones((40, 30, 20), np.float32))
print(json.dumps(pe.cpu_info()))
"""


@pytest.mark.parametrize("threads", [0, 8])
def test_a_plan_never_uses_more_cpus_than_the_affinity_mask(threads):
    child = subprocess.run([sys.executable, "-c", _CHILD, str(threads)], capture_output=True, text=True, check=True)
    info = json.loads(child.stdout)
    assert info["usable_cpus"] == 1
    assert info["threads"] == 1


def _matrices(dtype, shape, seed=3):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture
def one_thread():
    """One thread per plan, so that float32 and 16-bit calls run the same split."""
    previous = pe.cpu_threads()
    pe.set_cpu_threads(1)
    yield
    pe.set_cpu_threads(previous)


@pytest.mark.parametrize("shape", [(40, 24), (24, 40), (3, 33, 17)])
def test_numpy_float16_is_the_float32_result_rounded(shape, one_thread):
    x = _matrices(np.float16, shape)
    expected = pe.orthogonalize(x.astype(np.float32)).astype(np.float16)
    y = pe.orthogonalize(x)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, expected)
    z = x.copy()
    pe.orthogonalize(z, out=z)
    np.testing.assert_array_equal(z, expected)


def test_float16_nan_and_zero_matrices():
    x = _matrices(np.float16, (3, 8, 12))
    x[1, 2, 3] = np.nan
    x[2] = 0
    with pytest.warns(pe.OrthogonalizeWarning, match="matrix 1: non-finite input"):
        y, report = pe.orthogonalize(x, return_report=True)
    assert report.status == ["ok", "non-finite input", "zero"]
    assert np.isnan(y[1]).all() and (y[2] == 0).all()
    s = np.linalg.svd(y[0].astype(np.float64), compute_uv=False)
    assert np.abs(s - 1).max() < 0.2  # nanochat's 5 steps: within its certified 0.1411, plus fp16 rounding


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_torch_16_bit_tensors_on_the_cpu(name, one_thread):
    torch = pytest.importorskip("torch")
    import polar_express.torch as pet

    dtype = getattr(torch, name)
    g = torch.from_numpy(_matrices(np.float32, (4, 48, 20))).to(dtype)
    expected = pe.orthogonalize(g.float()).to(dtype)
    column_major = g.mT.contiguous().mT  # runs on the transposes, in both dtypes
    assert column_major.float().stride() == column_major.stride()
    for x, result in ((g, pe.orthogonalize(g)), (g, pet.orthogonalize(g)),
                      (column_major, pet.orthogonalize(column_major))):
        assert result.dtype == dtype
        assert torch.equal(result, pe.orthogonalize(x.float()).to(dtype))
    out = torch.empty_like(g)
    pe.orthogonalize(g, out=out)
    assert torch.equal(out, expected)
