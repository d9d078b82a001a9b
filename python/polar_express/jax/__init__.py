"""JAX integration: the polar factor as one traced XLA computation (jit, vmap,
any device XLA runs on) and Muon as an optax transform, both running the
runtime's own iteration program for each shape.

    import polar_express.jax as pej
    u = jax.jit(pej.orthogonalize, static_argnames=("schedule", "steps"))(g, schedule="polar-express-nanochat-d5")
    opt = pej.muon(learning_rate=0.02, schedule="polar-express-nanochat-d5")   # as optax.contrib.muon

``pip install ".[jax]"`` brings jax and optax; ``orthogonalize`` needs only jax,
``muon`` and ``scale_by_muon`` optax as well.
"""

from __future__ import annotations

from ._orthogonalize import orthogonalize

__all__ = ["muon", "orthogonalize", "scale_by_muon"]


def __getattr__(name):
    # optax is imported only when the optimizer is asked for.
    if name in ("muon", "scale_by_muon"):
        from . import _muon

        return getattr(_muon, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
