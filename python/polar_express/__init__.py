"""polar_express: certified polynomial iterations for the matrix polar factor
(the orthogonalization of the Muon optimizer; Polar Express, Amsel et al. 2025).

    import polar_express as pe
    pe.schedules()                                   # the built-in catalogue
    s = pe.Schedule.builtin("polar-express-nanochat-d5")
    y = pe.orthogonalize(x, schedule=s)              # numpy, torch, CuPy, JAX
    y, nuc = pe.orthogonalize(x, nuclear_norm=True)  # nuc[b] = <G_b, U_b>
    pe.design(degree=5, lower=1e-3, steps=8)         # MPFR solver builds
    pe.verify(s)                                     # polar-express/verification/v1

PyTorch: ``polar_express.torch`` (the operator torch.ops.polar_express.orthogonalize
and the Muon / PolarGrad optimizer).  JAX: ``polar_express.jax`` (orthogonalize
under jit and vmap, and muon, an optax transform).
"""

from ._core import BackendUnavailable, Report
from ._orthogonalize import (
    OrthogonalizeWarning,
    clear_plan_cache,
    cpu_info,
    cpu_threads,
    cuda_available,
    max_cpu_threads,
    orthogonalize,
    plan_cache_capacity,
    plan_cache_size,
    set_cpu_threads,
    set_plan_cache_capacity,
)
from ._schedule import DEFAULT_SCHEDULE, Certificate, Schedule, design, has_solver, schedules, verify

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "Certificate",
    "DEFAULT_SCHEDULE",
    "OrthogonalizeWarning",
    "Report",
    "Schedule",
    "clear_plan_cache",
    "cpu_info",
    "cpu_threads",
    "cuda_available",
    "design",
    "has_solver",
    "max_cpu_threads",
    "orthogonalize",
    "plan_cache_capacity",
    "plan_cache_size",
    "schedules",
    "set_cpu_threads",
    "set_plan_cache_capacity",
    "verify",
]

