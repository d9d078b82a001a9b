"""Schedules: the built-in catalogue, schedule files, coefficient lists, and
the MPFR solver's design and verification."""

from __future__ import annotations

import functools
import hashlib
import json
import numbers
import os
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple, Optional, Sequence, Union

from . import _core

#: The schedule orthogonalize() and Muon use when none is named: the
#: nanochat / modded-nanogpt Polar Express list (degree 5, 5 steps).
DEFAULT_SCHEDULE = "polar-express-nanochat-d5"

#: Whether this build carries the MPFR solver (design, verify, schedule files).
has_solver: bool = bool(_core.has_solver)


class Certificate(NamedTuple):
    """What verification proved about the numbers a schedule's list runs with: for
    t = 1..len(error_bounds), ``error_bounds[t-1]`` bounds max |1 - f_t(x)| over x in
    [lower, upper] from above for the schedule's doubles (``coefficients``, what
    float64 runs multiply by), and ``float_error_bounds[t-1]`` for those doubles
    rounded to float (what float32, float16 and bfloat16 runs multiply by); x are
    the singular values after the schedule's normalisation."""

    lower: float
    upper: float
    error_bounds: list
    float_error_bounds: list


# Schedules by token, so that the torch operator (whose arguments are
# tensors, numbers and strings) can name any schedule.
_registry: dict = {}


class Schedule:
    """An odd-polynomial schedule for the polar factor, as the runtime runs it
    (coefficients in double).

    ``Schedule(coefficients=[[a, b, c], ...])`` takes one list per step in
    increasing power (x, x^3, x^5, ...: a list of q numbers is a polynomial of
    degree 2q - 1); any iterable of iterables of real numbers will do, a 2-D
    numpy array of equal-degree steps among them. The input is scaled by ``X / (normalization_factor * ||X||_F + eps)``
    first (``normalization="aol"``: the AOL rescaling instead); steps past the
    list follow ``after_list`` ("repeat_last" or "cycle").  Schedules are
    immutable and compare equal when every field is equal.
    """

    __slots__ = ("_handle", "_document", "_token")

    def __init__(
        self,
        coefficients: Sequence[Sequence[float]],
        normalization_factor: float = 1.0,
        eps: float = 1e-7,
        after_list: str = "repeat_last",
        name: str = "custom",
        normalization: str = "frobenius",
    ):
        per_step = list(coefficients) if _is_list_like(coefficients) else []
        if not per_step:
            raise ValueError(f"coefficients must be a non-empty list of per-step coefficient lists, not {coefficients!r}")
        steps = []
        for index, step in enumerate(per_step):
            if not _is_list_like(step):
                raise ValueError(f"step {index + 1} of coefficients is not a list of numbers: {step!r}")
            steps.append([_real(value, f"coefficient of step {index + 1}") for value in step])
        handle = _core.schedule_from_coefficients(
            steps,
            _real(normalization_factor, "normalization_factor"),
            _real(eps, "eps"),
            str(normalization),
            str(after_list),
            str(name),
        )
        self._init(handle, None)

    def _init(self, handle, document) -> None:
        self._handle = handle
        self._document = document
        self._token = handle.name + "#" + hashlib.sha256(handle.key.encode()).hexdigest()[:16]
        _registry.setdefault(self._token, self)

    @classmethod
    def _wrap(cls, handle, document=None) -> "Schedule":
        schedule = cls.__new__(cls)
        schedule._init(handle, document)
        return schedule

    @classmethod
    def builtin(cls, name: str) -> "Schedule":
        """A schedule of the built-in catalogue (``schedules()`` lists the names),
        with the certificate of its list at the interval it was published for."""
        if not isinstance(name, str):
            raise TypeError(f"a built-in schedule is named by a string, not {type(name).__name__}")
        return _builtin(name)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], precision_bits: int = 256) -> "Schedule":
        """A schedule file: this tool's JSON (schema polar-express/schedule/v1) or one
        object of the published-list format.  The doubles it becomes are certified
        (MPFR) on the file's input interval.  Needs the solver (``has_solver``)."""
        _require_solver("Schedule.from_file")
        return cls._wrap(_core.read_schedule_file(os.fspath(path), _precision_bits(precision_bits)))

    # ------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        return self._handle.name

    @property
    def steps(self) -> int:
        """The length of the list (steps past it follow ``after_list``)."""
        return len(self._handle.degrees)

    @property
    def coefficients(self) -> list:
        """One list per step, increasing power (x, x^3, ...)."""
        return self._handle.coefficients

    @property
    def degrees(self) -> list:
        return self._handle.degrees

    @property
    def normalization(self) -> str:
        """ "frobenius" (X / (factor ||X||_F + eps)) or "aol"."""
        return self._handle.normalization

    @property
    def normalization_factor(self) -> float:
        return self._handle.normalization_factor

    @property
    def eps(self) -> float:
        return self._handle.eps

    @property
    def after_list(self) -> str:
        return self._handle.after_list

    @property
    def certificate(self) -> Optional[Certificate]:
        """The certified error of each step of the list, or None (a coefficient list
        nobody verified: ``verify()`` certifies any schedule)."""
        certificate = self._handle.certificate
        return None if certificate is None else Certificate(*certificate)

    @property
    def document(self) -> Optional[dict]:
        """The solver's JSON (schema polar-express/schedule/v1) of a designed schedule, else None."""
        return None if self._document is None else json.loads(self._document)

    def error_bound(self, steps: Optional[int] = None) -> Optional[float]:
        """The certified bound on max |1 - sigma| after ``steps`` steps (default: the
        list once), or None past the certified list or without a certificate."""
        return self._handle.error_bound(self.steps if steps is None else _steps(steps))

    def with_eps(self, eps: float) -> "Schedule":
        """The same schedule with another normalisation eps (X / (factor ||X||_F + eps))."""
        value = _real(eps, "eps")
        if value == self.eps:
            return self
        return Schedule._wrap(_core.with_eps(self._handle, value))

    def to_optax(self, steps: Optional[int] = None):
        """optax.contrib.muon's ``ns_coeffs`` for this schedule: a numpy array of
        shape (n, 3), row t the step's (a, b, c) in a X + b (X X^T) X + c (X X^T)^2 X,
        for the first n = ``steps`` steps (default: the list once; past it the
        list's ``after_list`` rule).  A cubic step is the quintic with c = 0.
        optax divides by ||X||_F + eps (``preconditioning="frobenius"``) or
        rescales by AOL (``preconditioning="aol"``), so the schedule must name one
        of those, the Frobenius one with normalisation factor 1 (pass its ``eps``
        to optax as well); ValueError otherwise, or for a step above degree 5."""
        import numpy as np

        count = self.steps if steps is None else _steps(steps)
        if self.normalization not in ("frobenius", "aol"):
            raise ValueError(
                f"schedule {self.name!r} normalises by {self.normalization!r}; optax's ns_coeffs run after "
                "Frobenius or AOL preconditioning only"
            )
        if self.normalization == "frobenius" and self.normalization_factor != 1.0:
            raise ValueError(
                f"schedule {self.name!r} divides by {self.normalization_factor!r} ||X||_F + eps; optax divides by "
                "||X||_F + eps (normalisation factor 1), so its ns_coeffs cannot express it"
            )
        rows = []
        for t in range(count):
            index = t if t < self.steps else (self.steps - 1 if self.after_list == "repeat_last" else t % self.steps)
            coefficients = self.coefficients[index]
            if len(coefficients) > 3:
                raise ValueError(
                    f"step {index + 1} of schedule {self.name!r} has degree {2 * len(coefficients) - 1}; optax's "
                    "ns_coeffs are quintic (a, b, c)"
                )
            rows.append(list(coefficients) + [0.0] * (3 - len(coefficients)))
        return np.asarray(rows, dtype=np.float64)

    def to_spec(self):
        """Plain data that ``Schedule.from_spec`` turns back into this schedule: the
        name of a built-in schedule, else a dict of the constructor's arguments
        (without the certificate)."""
        if self.name in _core.builtin_names() and _builtin(self.name) == self:
            return self.name
        return {
            "coefficients": self.coefficients,
            "normalization_factor": self.normalization_factor,
            "eps": self.eps,
            "after_list": self.after_list,
            "name": self.name,
            "normalization": self.normalization,
        }

    @classmethod
    def from_spec(cls, spec) -> "Schedule":
        """A schedule from a name, a Schedule, or the dict ``to_spec`` writes."""
        return as_schedule(spec)

    def __eq__(self, other) -> bool:
        return isinstance(other, Schedule) and self._handle.key == other._handle.key

    def __hash__(self) -> int:
        return hash(self._handle.key)

    def __repr__(self) -> str:
        bound = self.error_bound()
        certified = "" if bound is None else f", certified error {bound:.3g} on [{self.certificate.lower:g}, {self.certificate.upper:g}]"
        return f"<polar_express.Schedule {self.name!r}: degrees {self.degrees}, {self.normalization}{certified}>"


@functools.lru_cache(maxsize=None)
def _builtin(name: str) -> Schedule:
    return Schedule._wrap(_core.builtin_schedule(name))


def as_schedule(schedule) -> Schedule:
    """A Schedule from a Schedule, a built-in name, a token of a registered
    schedule, or the dict ``Schedule.to_spec`` writes."""
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        registered = _registry.get(schedule)
        return registered if registered is not None else _builtin(schedule)
    if isinstance(schedule, dict):
        return _from_dict(json.dumps(schedule, sort_keys=True))
    raise TypeError(
        f"schedule must be a polar_express.Schedule, a built-in name or a dict, not {type(schedule).__name__}"
    )


@functools.lru_cache(maxsize=256)
def _from_dict(text: str) -> Schedule:
    arguments = json.loads(text)
    try:
        return Schedule(**arguments)
    except TypeError as error:
        raise ValueError(f"not a schedule description: {error}") from None


def schedules() -> list:
    """Names of the built-in (catalogue) schedules, in catalogue order."""
    return list(_core.builtin_names())


def design(
    degree: Union[int, Sequence[int]] = 5,
    lower: Union[float, str] = 1e-3,
    steps: Optional[int] = None,
    *,
    target_error: Union[float, str, None] = None,
    upper: Union[float, str] = 1.0,
    cushion: Union[float, str] = 0.0,
    safety: Union[float, str] = 0.0,
    safety_mode: str = "inloop",
    precision_bits: int = 256,
    name: Optional[str] = None,
) -> Schedule:
    """The greedy Polar Express schedule (``polar-express design``): at each step the
    minimax odd polynomial of the degree on the current interval, in MPFR, with the
    certified error after every step.  Give ``steps`` or ``target_error``.  Numbers
    are read as the decimal they print as (1e-3 is exactly 1/1000), or pass strings.
    Returns the schedule (its ``document`` holds the polar-express/schedule/v1 JSON)."""
    _require_solver("design")
    if (steps is None) == (target_error is None):
        raise ValueError("design needs exactly one of steps or target_error")
    degrees = [degree] if isinstance(degree, numbers.Integral) else list(degree) if _is_list_like(degree) else []
    if not degrees or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in degrees):
        raise ValueError(f"degree must be an odd integer or a list of them, not {degree!r}")
    for d in degrees:
        if not _INT_MIN <= d <= _INT_MAX:  # the solver checks the rest, naming the degree
            raise ValueError(f"degree {d} is not an odd integer in [3, 255]")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string or None, not {name!r}")
    handle, document = _core.design(
        [int(d) for d in degrees],
        _decimal(lower, "lower"),
        _decimal(upper, "upper"),
        None if steps is None else _steps(steps),
        None if target_error is None else _decimal(target_error, "target_error"),
        _decimal(cushion, "cushion"),
        _decimal(safety, "safety"),
        str(safety_mode),
        _precision_bits(precision_bits),
        name,
    )
    return Schedule._wrap(handle, document)


def verify(
    schedule,
    lower: Union[float, str, None] = None,
    upper: Union[float, str, None] = None,
    steps: Optional[int] = None,
    *,
    precision_bits: int = 256,
    dtype: Optional[str] = None,
    shape=None,
) -> dict:
    """Certifies the doubles the runtime runs for ``schedule`` over [lower, upper]
    (``polar-express verify``): the exact image of the interval through each step and
    the certified error after it, diagnostics, the smallest lower bound reaching the
    final error and its sensitivity.  Defaults: the interval of the schedule's
    certificate, else [1e-3, 1]; the list's length.  With ``dtype`` ("f64", "f32",
    "bf16", "f16") and ``shape`` (rows, cols) also the certificate for that precision
    (``verify --dtype --shape``, the runtime's standard form, probabilistic bound):
    the result's "rounding" holds the error after each step with rounding and the
    blow-up step, if any.  Returns the JSON (schema polar-express/verification/v1)
    as a dict."""
    _require_solver("verify")
    s = as_schedule(schedule)
    certificate = s.certificate
    if lower is None:
        lower = certificate.lower if certificate else "1e-3"
    if upper is None:
        upper = certificate.upper if certificate else "1"
    rows, cols = _rounding_shape(dtype, shape)
    text = _core.verify(
        s._handle,
        _decimal(lower, "lower"),
        _decimal(upper, "upper"),
        None if steps is None else _steps(steps),
        _precision_bits(precision_bits),
        dtype,
        rows,
        cols,
    )
    return json.loads(text)


def _rounding_shape(dtype, shape):
    """(rows, cols) of a rounding certificate, checked; (0, 0) without one."""
    if dtype is None:
        if shape is not None:
            raise ValueError("shape needs dtype (the precision to certify)")
        return 0, 0
    names = [name for name, _, _, _ in _core.element_types()]  # the runtime vocabulary's
    if dtype not in names:
        raise ValueError(f"dtype {dtype!r} is not one of {names}")
    if shape is None:
        raise ValueError("dtype needs shape=(rows, cols), the matrix the certificate is for")
    try:
        rows, cols = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape {shape!r} is not a pair (rows, cols)") from None
    for side in (rows, cols):
        if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= 1 << 30:
            raise ValueError(f"shape {shape!r} is not two positive integers")
    return rows, cols


# ---------------------------------------------------------------- helpers


def _require_solver(what: str) -> None:
    if not has_solver:
        raise RuntimeError(
            f"polar_express.{what} needs the MPFR solver, which this build lacks "
            "(install libmpfr-dev, libgmp-dev and libboost-dev, then reinstall the package)"
        )


def _real(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a real number, not {value!r}")
    return float(value)


def _decimal(value, what: str) -> str:
    """The decimal text of a number: a float as its shortest round-trip repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        raise ValueError(f"{what} must be a number or a decimal string, not {value!r}")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return repr(float(value)) if not isinstance(value, Decimal) else str(value)


# The range of a C int, which the extension's step counts and degrees are.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _is_list_like(value) -> bool:
    """Iterable and not a string (a list, a tuple, a numpy array ...)."""
    return not isinstance(value, (str, bytes, dict)) and isinstance(value, Iterable)


def _integer(value, what: str) -> int:
    """``value`` as an int; TypeError naming ``what`` for anything else (a float, a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    return int(value)


def _bounded(value, what: str, lowest: int, highest: int) -> int:
    """An integer in lowest..highest: TypeError for a non-integer, ValueError outside."""
    number = _integer(value, what)
    if not lowest <= number <= highest:
        raise ValueError(f"{what} must be in {lowest}..{highest}, not {number}")
    return number


def _precision_bits(value) -> int:
    """MPFR's working precision, within the solver's range."""
    lowest, highest = _core.precision_bits_range
    return _bounded(value, "precision_bits", lowest, highest)


def _steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or not 1 <= steps <= _INT_MAX:
        raise ValueError(f"steps must be an integer in 1..{_INT_MAX}, not {steps!r}")
    return int(steps)
