"""Muon for optax with polar_express schedules: the update rule and arguments of
optax.contrib.muon, with its Newton-Schulz coefficients (``ns_coeffs``,
``ns_steps``) replaced by a schedule and a step count and its
``preconditioning`` by the schedule's own normalisation.

Per step, for the parameters Muon takes (2-D ones by default; any rank through
``muon_weight_dimension_numbers``), with momentum M (state ``mu``) and count t:

    M <- beta M + (1 - beta) G
    N = beta M / (1 - beta^(t+1)) + (1 - beta) G / (1 - beta^t)   if nesterov
        M / (1 - beta^t)                                           otherwise
    U = orthogonalize(N) per matrix (batch axes, reduction axes, output axes)
    U <- <N, U> U                                                  if adaptive
    U <- sqrt(max(1, fan_out / fan_in)) U, or sqrt(max(fan_in, fan_out)) consistent_rms U
    update = -learning_rate (U + weight_decay P)

and AdamW (optax.adamw with the ``adam_*`` arguments) for the others.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax
from optax.contrib import MuonDimensionNumbers

from .._schedule import DEFAULT_SCHEDULE, _steps, as_schedule
from ._orthogonalize import orthogonalize

#: The adam branch's eps when ``eps`` is None (optax.contrib.muon's default).
_ADAM_EPS = 1e-8


class MuonState(NamedTuple):
    count: Any  # int32 scalar: steps taken
    mu: Any  # the momentum, a tree like the parameters


def _is_spec(value) -> bool:
    return value is None or isinstance(value, MuonDimensionNumbers)


def _axes(value, ndim: int) -> tuple:
    axes = (value,) if isinstance(value, int) else tuple(value)
    return tuple(axis % ndim for axis in axes)


class _Matrices(NamedTuple):
    """How one parameter becomes a batch of matrices (batch, fan_in, fan_out):
    the batch axes (every axis the spec does not name), then the reduction
    axes, then the output axes, each group flattened."""

    order: tuple
    flat: tuple
    grouped: tuple
    fan_in: int
    fan_out: int

    @classmethod
    def of(cls, x, spec: MuonDimensionNumbers) -> "_Matrices":
        if x.ndim < 2:
            raise ValueError(f"Muon takes parameters of rank 2 or more, not shape {x.shape}")
        reduction, output = _axes(spec.reduction_axis, x.ndim), _axes(spec.output_axis, x.ndim)
        if set(reduction) & set(output):
            raise ValueError(
                f"muon_weight_dimension_numbers {spec} name axes {sorted(set(reduction) & set(output))} as both "
                f"reduction and output axes of shape {x.shape}"
            )
        batch = tuple(axis for axis in range(x.ndim) if axis not in reduction and axis not in output)
        order = batch + reduction + output
        size = lambda axes: math.prod(x.shape[axis] for axis in axes)  # noqa: E731
        fan_in, fan_out = size(reduction), size(output)
        return cls(order, (size(batch), fan_in, fan_out), tuple(x.shape[axis] for axis in order), fan_in, fan_out)

    def to_batch(self, x):
        return jnp.transpose(x, self.order).reshape(self.flat)

    def from_batch(self, x):
        inverse = tuple(sorted(range(len(self.order)), key=lambda i: self.order[i]))
        return jnp.transpose(x.reshape(self.grouped), inverse)


def scale_by_muon(
    schedule=DEFAULT_SCHEDULE,
    steps: Optional[int] = None,
    beta: float = 0.95,
    eps: Optional[float] = None,
    mu_dtype=None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    weight_dimension_numbers=None,
    consistent_rms: Optional[float] = None,
) -> optax.GradientTransformation:
    """Muon's momentum, orthogonalisation and shape scaling (the rule above without
    weight decay and learning rate).  ``weight_dimension_numbers``: a
    :class:`optax.contrib.MuonDimensionNumbers`, a tree of them (a prefix of the
    updates), or a callable giving such a tree from the updates; None: every
    parameter is one matrix (reduction axis 0, output axis 1).  ``eps``: None
    keeps the schedule's normalisation eps, a number replaces it."""
    resolved = as_schedule(schedule)
    if eps is not None:
        resolved = resolved.with_eps(float(eps))
    count_steps = None if steps is None else _steps(steps)
    mu_dtype = None if mu_dtype is None else jnp.dtype(mu_dtype)

    def init_fn(params):
        return MuonState(
            count=jnp.zeros([], jnp.int32),
            mu=jax.tree.map(lambda p: jnp.zeros_like(p, dtype=mu_dtype or p.dtype), params),
        )

    def update_fn(updates, state, params=None):
        del params
        mu = optax.tree.update_moment(updates, state.mu, beta, 1)
        count = optax.safe_increment(state.count)
        if nesterov:
            ahead = optax.tree.bias_correction(mu, beta, optax.safe_increment(count))
            now = optax.tree.bias_correction(updates, beta, count)
            directions = jax.tree.map(lambda m, g: beta * m + (1 - beta) * g, ahead, now)
        else:
            directions = optax.tree.bias_correction(mu, beta, count)
        leaves, treedef = jax.tree.flatten(directions)
        specs = _specs(weight_dimension_numbers, updates, len(leaves))
        polar = [_polar(leaf, spec, resolved, count_steps, adaptive, consistent_rms) for leaf, spec in zip(leaves, specs)]
        mu = jax.tree.map(lambda m: m.astype(mu_dtype) if mu_dtype is not None else m, mu)
        return jax.tree.unflatten(treedef, polar), MuonState(count=count, mu=mu)

    return optax.GradientTransformation(init_fn, update_fn)


def _specs(weight_dimension_numbers, updates, count: int) -> list:
    """One MuonDimensionNumbers per leaf of ``updates`` (masked leaves, optax's
    MaskedNode, hold none), from a spec, a prefix tree of specs, or a callable."""
    spec = weight_dimension_numbers(updates) if callable(weight_dimension_numbers) else weight_dimension_numbers
    if spec is None:
        return [MuonDimensionNumbers()] * count
    if isinstance(spec, MuonDimensionNumbers):
        return [spec] * count
    expanded = jax.tree.map(
        lambda s, subtree: jax.tree.map(lambda _: s, subtree), spec, updates, is_leaf=_is_spec
    )
    specs = jax.tree.leaves(expanded, is_leaf=lambda v: isinstance(v, MuonDimensionNumbers))
    if len(specs) != count or any(s is None for s in specs):
        raise ValueError("muon_weight_dimension_numbers does not give every Muon parameter a MuonDimensionNumbers")
    return specs


def _polar(direction, spec, schedule, steps, adaptive, consistent_rms):
    matrices = _Matrices.of(direction, spec)
    u = matrices.from_batch(orthogonalize(matrices.to_batch(direction), schedule=schedule, steps=steps))
    if adaptive:
        u = jnp.sum(direction * u) * u
    if consistent_rms is None:
        scale = math.sqrt(max(1.0, matrices.fan_out / matrices.fan_in))
    else:
        scale = math.sqrt(max(matrices.fan_in, matrices.fan_out)) * consistent_rms
    return (scale * u).astype(u.dtype)


def muon(
    learning_rate,
    schedule=DEFAULT_SCHEDULE,
    steps: Optional[int] = None,
    beta: float = 0.95,
    eps: Optional[float] = None,
    weight_decay: float = 0.0,
    weight_decay_mask=None,
    mu_dtype=None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps_root: float = 0.0,
    adam_weight_decay: float = 0.0,
    adam_learning_rate=None,
    muon_weight_dimension_numbers=None,
    consistent_rms: Optional[float] = None,
) -> optax.GradientTransformation:
    """optax.contrib.muon with a polar_express schedule: the same arguments, update
    rule and AdamW branch, with ``schedule`` (a :class:`polar_express.Schedule`
    or a built-in name) and ``steps`` (default the schedule's list) in place of
    ``ns_coeffs`` and ``ns_steps``, and the schedule's normalisation in place of
    ``preconditioning``.  ``eps``: None keeps the schedule's normalisation eps
    (and optax's 1e-8 for AdamW); a number replaces both, as optax uses its eps.

    ``muon_weight_dimension_numbers``: None (Muon for the 2-D parameters, AdamW
    for the rest), or a tree (a prefix of the parameters) of
    :class:`optax.contrib.MuonDimensionNumbers` with None for AdamW parameters,
    or a callable giving that tree from the parameters.

    ``s.to_optax()`` gives optax.contrib.muon's ``ns_coeffs`` for an all-quintic
    schedule, so the two can be compared on the same coefficients."""
    if adam_learning_rate is None:
        adam_learning_rate = learning_rate

    def specs(params):
        """A MuonDimensionNumbers or None (AdamW) per leaf; called on the whole
        parameters for the labels and on the Muon branch's updates, whose AdamW
        leaves optax.partition has replaced by optax.MaskedNode (no leaves)."""
        if muon_weight_dimension_numbers is None:
            return jax.tree.map(lambda p: MuonDimensionNumbers() if p.ndim == 2 else None, params)
        given = (muon_weight_dimension_numbers(params) if callable(muon_weight_dimension_numbers)
                 else muon_weight_dimension_numbers)
        return jax.tree.map(lambda s, subtree: jax.tree.map(lambda _: s, subtree), given, params, is_leaf=_is_spec)

    def labels(params):
        return jax.tree.map(lambda s: "adam" if s is None else "muon", specs(params), is_leaf=_is_spec)

    return optax.partition(
        transforms={
            "muon": optax.chain(
                scale_by_muon(
                    schedule, steps, beta, eps, mu_dtype, nesterov=nesterov, adaptive=adaptive,
                    weight_dimension_numbers=specs, consistent_rms=consistent_rms,
                ),
                optax.add_decayed_weights(weight_decay, weight_decay_mask),
                optax.scale_by_learning_rate(learning_rate),
            ),
            "adam": optax.adamw(
                learning_rate=adam_learning_rate, b1=adam_b1, b2=adam_b2, eps=_ADAM_EPS if eps is None else eps,
                eps_root=adam_eps_root, weight_decay=adam_weight_decay, mu_dtype=mu_dtype, nesterov=nesterov,
            ),
        },
        param_labels=labels,
    )

