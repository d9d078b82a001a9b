"""orthogonalize: the polar factor of any DLPack matrix or batch of matrices."""

from __future__ import annotations

import sys
import warnings

from . import _core
from ._caller import user_stacklevel
from ._arrays import DEVICE_CUDA, arrays_for, batch_shape
from ._schedule import DEFAULT_SCHEDULE, _bounded, _steps, as_schedule


class OrthogonalizeWarning(RuntimeWarning):
    """Some matrices of a call have no polar-factor estimate: their input held a NaN
    or an infinity, or the iteration diverged.  Their outputs are all NaN; the other
    matrices are unaffected.  ``warnings.simplefilter("error", OrthogonalizeWarning)``
    turns it into an exception."""


Report = _core.Report


def orthogonalize(
    x,
    schedule=DEFAULT_SCHEDULE,
    steps=None,
    out=None,
    nuclear_norm: bool = False,
    return_report: bool = False,
):
    """The polar factor U of each matrix of ``x`` (G = U P, U with orthonormal rows or
    columns), by the schedule's polynomial iteration.

    ``x``: a 2-D matrix or a 3-D batch of matrices with DLPack: numpy, torch (CPU or
    CUDA), CuPy, JAX (CPU).  float64, float32, float16 or bfloat16 on the CPU (16-bit
    elements computed in float32, converted as the runtime reads and writes them),
    float32, float16 or bfloat16 on CUDA.  The result has x's type, device, dtype and shape; CUDA work
    runs on the caller's current stream.  Row-major or column-major matrices with any
    batch stride run as they are; other layouts are copied first.

    ``schedule``: a :class:`Schedule` or a built-in name; ``steps``: how many steps
    (default: the schedule's list once; past it the list's ``after_list`` rule).
    ``out``: write the result there (it may be ``x`` itself).
    ``nuclear_norm``: also return <G_b, U_b> per matrix (shape () or (B,)), the
    runtime's nuclear-norm estimate.  ``return_report``: also return the
    :class:`Report` (per-matrix status, the certified error bound).

    A matrix whose input holds NaN or Inf, or whose iteration diverges, comes back
    all NaN with an :class:`OrthogonalizeWarning` naming it (on CUDA the statuses
    are read, which synchronises the stream, only with ``nuclear_norm`` or
    ``return_report``); a zero matrix comes back zero.
    """
    result, report = run(x, as_schedule(schedule), 0 if steps is None else _steps(steps), out, nuclear_norm,
                         return_report)
    extras = []
    if nuclear_norm:
        extras.append(arrays_for(x).values(report.nuclear_norms, batch_shape(x.shape), x))
    if return_report:
        extras.append(report)
    return (result, *extras) if extras else result


def run(x, schedule, steps: int, out, nuclear_norm: bool, want_report: bool):
    """orthogonalize without its argument parsing: (result, report or None)."""
    arrays = arrays_for(x)
    device_type, device_id = arrays.device(x)
    if device_type == DEVICE_CUDA:  # before anything touches the data
        _core.require_cuda(device_id)
    source = arrays.prepare(x)
    _, _, _, layout = _core.inspect(source, "the input")
    stream = arrays.stream(source) if device_type == DEVICE_CUDA else 0
    if layout is None:
        source = arrays.contiguous(source)
        layout = "row"

    copy_back = None
    if out is None:
        target = arrays.empty_like(source)
        # Fresh arrays like a row-major one are row-major in every library;
        # a column-major layout a library may not keep.
        if layout != "row" and _core.inspect(target, "the input")[3] != layout:
            source, target = arrays.contiguous(source), arrays.empty_row_major(source)
    else:
        out_arrays = arrays_for(out)
        if not out_arrays.writable_output:
            raise TypeError(f"out must be a writable numpy, torch or CuPy array, not {type(out).__name__}")
        if not out_arrays.is_writable(out):
            raise ValueError(f"out ({type(out).__name__}) is not writable: a numpy array with flags.writeable "
                             "False, or a torch leaf tensor that requires grad")
        staged = out_arrays.is_lazy_view(out)  # its memory is not its values: write a copy, then copy in
        target = out_arrays.prepare(out)
        if staged or _core.inspect(target, "out")[3] != layout:  # run row-major, then copy into out
            if layout != "row":
                source = arrays.contiguous(source)
            target = out_arrays.empty_row_major(target)
            copy_back = out_arrays

    need_report = want_report or nuclear_norm or device_type != DEVICE_CUDA
    report = _core.execute(source, target, schedule._handle, steps, nuclear_norm, stream, need_report)
    if report is not None and not report.all_succeeded:
        _warn_failures(report)
    if copy_back is not None:
        copy_back.copy_into(out, target)
    if out is not None:
        return out, report
    return arrays.finish(target, x), report


def _warn_failures(report) -> None:
    failed = [(b, s) for b, s in enumerate(report.status) if s not in ("ok", "zero")]
    shown = "; ".join(f"matrix {b}: {s}" for b, s in failed[:8])
    more = f"; and {len(failed) - 8} more" if len(failed) > 8 else ""
    warnings.warn(
        f"polar_express.orthogonalize: {len(failed)} of {len(report.status)} matrices have no polar factor "
        f"({shown}{more}); their outputs are NaN",
        OrthogonalizeWarning,
        stacklevel=user_stacklevel(),
    )


def cuda_available(device: int = 0) -> bool:
    """Whether the CUDA backend loads here and sees CUDA device ``device``."""
    try:
        _core.require_cuda(device)
    except _core.BackendUnavailable:
        return False
    return True


def clear_plan_cache() -> None:
    """Drops every cached plan (their buffers, threads and CUDA workspaces)."""
    _core.clear_plan_cache()


def plan_cache_size() -> int:
    """Plans cached: one per (shape and strides, dtype, device, stream, schedule,
    steps, nuclear_norm) seen, up to ``plan_cache_capacity()`` (least recently used
    dropped first)."""
    return _core.plan_cache_size()


def plan_cache_capacity() -> int:
    return _core.plan_cache_capacity()


def set_plan_cache_capacity(capacity: int) -> None:
    """At most ``capacity`` plans (1 or more) stay cached; the least recently used
    past it are dropped now."""
    _core.set_plan_cache_capacity(_bounded(capacity, "capacity", 1, sys.maxsize))


def cpu_threads() -> int:
    """Threads of each CPU plan (0, the default: the CPUs this process may use, its
    affinity mask capped by a cgroup CPU quota; a plan never uses more)."""
    return _core.cpu_threads()


def cpu_info() -> dict:
    """The BLAS the CPU backend runs, and the machine it runs on (loads the BLAS):

    ``blas`` ("OpenBLAS"), ``library`` (the file loaded), ``version``, ``config``
    (``openblas_get_config()``), ``core`` (the kernel set running, e.g. "SkylakeX",
    "Haswell", "Zen"), ``core_source`` (who chose it: "polar-express (CPU features)",
    "OPENBLAS_CORETYPE (environment)", "OpenBLAS (its own detection)" or "loaded before
    polar-express"), ``requested_core`` (the core named at load, or None), ``cpu`` (the
    processor's name), ``features`` (the instruction sets the OS enables, as decoded),
    ``usable_cpus`` (the affinity mask, capped by a cgroup CPU quota) and ``threads``
    (what a CPU plan made now uses: :func:`cpu_threads`, at most ``usable_cpus``)."""
    info = _core.cpu_info()
    words = info["config"].split()
    info["version"] = words[1] if len(words) > 1 and words[0] == "OpenBLAS" else None
    setting = _core.cpu_threads()
    info["threads"] = info["usable_cpus"] if setting == 0 else min(setting, info["usable_cpus"])
    return info


def max_cpu_threads() -> int:
    """The most threads ``set_cpu_threads`` takes: the NUM_THREADS the OpenBLAS in
    use was built with (64 in Debian's and PyPI's builds).  All threads of a plan
    may be inside OpenBLAS at once, each holding one of its memory buffers, of
    which it has twice NUM_THREADS; past them OpenBLAS aborts the process."""
    return _core.max_cpu_threads()


def set_cpu_threads(threads: int) -> None:
    """Threads of each CPU plan made from now on, 0..``max_cpu_threads()``
    (ValueError outside; 0: the CPUs this process may use); a plan never runs
    more than those CPUs.  Drops the cached plans.  A plan spreads its threads over the matrices of a batch and
    gives the rest to OpenBLAS, whose results depend on its thread count: with
    one thread, a matrix's result does not depend on the batch it runs in (so a
    distributed call, which batches differently, equals the single-process one bit
    for bit), and processes sharing a machine do not oversubscribe it."""
    _core.set_cpu_threads(_bounded(threads, "threads", 0, max_cpu_threads()))
