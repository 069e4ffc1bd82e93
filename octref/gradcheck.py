"""Numerical gradient checks: is a hand-written backward right?

A backward pass computes a vector-Jacobian product (VJP): given the upstream
gradient ``c = dL/dy``, it returns ``J^T c = dL/dx``. Central differences
estimate the same quantity without any calculus::

    (J^T c)[k] = d<f(x), c>/dx[k] ~ (<f(x + h e_k), c> - <f(x - h e_k), c>) / 2h

with an error of O(h^2) (truncation) plus ``O(eps |f| / h)`` (round-off). Two
checks are built on it:

* :func:`check_vjp`, the full elementwise comparison, for small inputs (one
  pair of forward calls per input element);
* :func:`check_directional`, for larger ones: for a random direction t,
  ``<t, J^T c> = <J t, c>`` and ``J t ~ (f(x + h t) - f(x - h t)) / 2h``; two
  forward calls, whatever the size.

Tolerances, stated once. Everything runs in float64 (eps = 2.2e-16): in
float32 (eps = 1.2e-7) the round-off of a difference quotient is ~1e-2
relative at h = 1e-5, too large to tell a small bug from noise, so float32
input is refused. The error of a central difference is O(h^2) truncation plus
about ``eps |L| / h`` round-off, ``L = <f(x), c>``. Every map in octref is linear in
each argument, so the truncation term vanishes and only round-off is left:
with h = 1e-5 it is ``~2e-11 |L|``, below 1e-8 for the ``|L| <~ 1e2`` of the small
problems checked here. An element passes when

    ``|analytic - numeric| <= ATOL + RTOL * |numeric|``,   RTOL = 1e-5, ATOL = 1e-7,

an order of magnitude above that error and far below any real mistake (a
wrong index or a missing 1/count changes entries by O(1) relative).
"""

import importlib
from dataclasses import dataclass

import numpy as np

from octref.checks import check_choice, check_int, check_real
from octref.layer import IMPLEMENTATIONS
from octref.octave import Octave, OctaveWeights

__all__ = ["STEP", "RTOL", "ATOL", "rel_error", "eval_numerical_gradient_array",
           "check_vjp", "check_directional", "GradCheckResult", "check_octconv_gradients"]

#: Finite-difference step h (see the module docstring for the error budget).
STEP = 1e-5
#: Relative tolerance of an element: ``|analytic - numeric| <= ATOL + RTOL |numeric|``.
RTOL = 1e-5
#: Absolute tolerance of an element.
ATOL = 1e-7


def rel_error(a, b):
    """Largest relative error ``max |a - b| / max(|a| + |b|, 1e-300)``, elementwise.

    Parameters
    ----------
    a, b : array_like of the same shape

    Returns
    -------
    float
        0 for identical arrays; about 1e-16 for float64 round-off.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-300)))


def _require_float64(x, name):
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a float64 array, got {type(x).__name__}")
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise TypeError(f"{name} must be float64 for a gradient check (float32 round-off "
                        f"swamps the finite differences), got {x.dtype}")
    return x


def _check_step(h):
    """The finite-difference step: a finite real number > 0."""
    h = check_real(h, "h")
    if h <= 0:
        raise ValueError(f"h must be > 0, got {h}")
    return h


def _check_callable(f):
    if not callable(f):
        raise TypeError(f"f must be a callable f(x) -> ndarray, got {type(f).__name__}")
    return f


def _evaluate(f, x, shape):
    """f(x) as a float64 array of exactly ``shape``: no silent broadcasting against df."""
    out = np.asarray(f(x), dtype=np.float64)
    if out.shape != shape:
        raise ValueError(f"f(x) must have the shape of df, {shape}, got {out.shape}")
    return out


def _check_analytic(analytic, x):
    if analytic is None or isinstance(analytic, (str, bytes)):
        raise TypeError(f"analytic must be an array shaped like x, got {type(analytic).__name__}")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"analytic must have the shape of x, {x.shape}, got {analytic.shape}")
    return analytic


def eval_numerical_gradient_array(f, x, df, h=STEP):
    """Central-difference vector-Jacobian product ``J^T df`` of f at x.

    ``grad[k] = sum(df * (f(x + h e_k) - f(x - h e_k))) / (2 h)``.
    x is perturbed on a private copy, so the caller's array is never changed.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray``, the function whose gradient is wanted.
    x : ndarray, float64
    df : ndarray, float64, shaped like f(x)
        The upstream gradient c.
    h : float

    Returns
    -------
    ndarray shaped like x
    """
    f = _check_callable(f)
    x = _require_float64(x, "x").copy()
    df = _require_float64(df, "df")
    h = _check_step(h)
    grad = np.zeros_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + h
        plus = np.sum(_evaluate(f, x, df.shape) * df)
        flat[k] = old - h
        minus = np.sum(_evaluate(f, x, df.shape) * df)
        flat[k] = old
        grad_flat[k] = (plus - minus) / (2 * h)
    return grad


@dataclass(frozen=True)
class GradCheckResult:
    """Outcome of one gradient check.

    Attributes
    ----------
    name : str
        What was checked, e.g. "dx.high" or "dw.hl".
    passed : bool
    max_abs_error : float
        Largest ``|analytic - numeric|``.
    rel_error : float
        :func:`rel_error` of analytic and numeric.
    kind : str
        "full" (elementwise) or "directional".
    """

    name: str
    passed: bool
    max_abs_error: float
    rel_error: float
    kind: str

    def __str__(self):
        status = "ok  " if self.passed else "FAIL"
        return (f"{status} {self.name:<8} {self.kind:<11} rel_error={self.rel_error:.1e} "
                f"max_abs_error={self.max_abs_error:.1e}")


def check_vjp(f, x, df, analytic, *, name="grad", h=STEP):
    """Full check: every element of a hand-written VJP against central differences.

    Parameters
    ----------
    f : callable, ``f(x) -> ndarray``
    x : ndarray, float64
    df : ndarray, float64, shaped like f(x)
    analytic : ndarray shaped like x
        The hand-written ``J^T df``.
    name : str
    h : float

    Returns
    -------
    GradCheckResult
        passed when ``|analytic - numeric| <= ATOL + RTOL |numeric|`` everywhere.
    """
    analytic = _check_analytic(analytic, _require_float64(x, "x"))
    numeric = eval_numerical_gradient_array(f, x, df, h)
    error = np.abs(analytic - numeric)
    passed = bool(np.all(error <= ATOL + RTOL * np.abs(numeric)))
    return GradCheckResult(name, passed, float(error.max(initial=0.0)),
                           rel_error(analytic, numeric), "full")


def check_directional(f, x, df, analytic, *, rng, name="grad", h=STEP):
    """Random-direction check: ``<t, J^T df> = <(f(x + h t) - f(x - h t)) / 2h, df>``.

    Two forward calls whatever the size of x, so it suits large inputs. A
    wrong gradient passes only if its error is orthogonal to the random t,
    which happens with probability zero.

    Parameters
    ----------
    f : callable, ``f(x) -> ndarray``
    x : ndarray, float64
    df : ndarray, float64, shaped like f(x)
    analytic : ndarray shaped like x
    rng : numpy.random.Generator
        Draws the direction t (standard normal).
    name : str
    h : float

    Returns
    -------
    GradCheckResult
        The two inner products compared with ``ATOL + RTOL |numeric|``.
    """
    f = _check_callable(f)
    x = _require_float64(x, "x")
    df = _require_float64(df, "df")
    analytic = _check_analytic(analytic, x)
    h = _check_step(h)
    rng = _check_rng(rng)
    t = rng.standard_normal(x.shape)
    numeric = float(np.sum((_evaluate(f, x + h * t, df.shape) - _evaluate(f, x - h * t, df.shape))
                           * df) / (2 * h))
    projected = float(np.sum(t * analytic))
    error = abs(projected - numeric)
    return GradCheckResult(name, bool(error <= ATOL + RTOL * abs(numeric)), error,
                           rel_error(projected, numeric), "directional")


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _fields(value, cls, name):
    """A tuple of the right length as ``cls`` (Octave or OctaveWeights), else a TypeError."""
    if not isinstance(value, (tuple, list)) or len(value) != len(cls._fields):
        raise TypeError(f"{name} must be a {cls.__name__}{cls._fields} (or a tuple of "
                        f"{len(cls._fields)}), got {type(value).__name__}")
    return cls(*value)


def check_octconv_gradients(x, w, b=None, *, stride=1, padding=None, groups=1,
                            downsample="avgpool", impl=None, full_limit=200, rng=None):
    """Check every gradient an octave convolution returns against finite differences.

    The scalar checked is ``L = <y.high, c.high> + <y.low, c.low>`` for a
    random upstream gradient c. Each input, weight and bias is perturbed in
    turn with the others fixed; arrays with at most ``full_limit`` elements get
    the full elementwise check, larger ones the directional check.

    Parameters
    ----------
    x : Octave, w : OctaveWeights, b : Octave or None
        float64 arrays, as for :func:`octref.octconv_forward`.
    stride, padding, groups, downsample
        As for the forward.
    impl : str, optional
        Which implementation's backward to check, one of
        :data:`octref.layer.IMPLEMENTATIONS` (the module of that name); the
        package default (the first of them) when omitted.
    full_limit : int
    rng : numpy.random.Generator, optional

    Returns
    -------
    list of GradCheckResult
        One per returned gradient: "dx.high", "dx.low", "dw.hh", ..., "db.low".
    """
    impl = IMPLEMENTATIONS[0] if impl is None else check_choice(impl, "impl", IMPLEMENTATIONS)
    module = importlib.import_module(f"octref.{impl}")
    rng = np.random.default_rng() if rng is None else _check_rng(rng)
    full_limit = check_int(full_limit, "full_limit", minimum=0)
    x = _fields(x, Octave, "x")
    w = _fields(w, OctaveWeights, "w")
    b = None if b is None else _fields(b, Octave, "b")
    params = {"high": x.high, "low": x.low}
    for field, value in zip(OctaveWeights._fields, w):
        params[field] = value
    if b is not None:
        params["b_high"], params["b_low"] = b.high, b.low
    for key, value in params.items():
        if value is not None:
            _require_float64(value, key)
    options = {"stride": stride, "padding": padding, "groups": groups, "downsample": downsample}

    def unpack(values):
        xs = Octave(values["high"], values["low"])
        ws = OctaveWeights(*(values[f] for f in OctaveWeights._fields))
        bs = Octave(values["b_high"], values["b_low"]) if b is not None else None
        return xs, ws, bs

    y, cache = module.octconv_forward(*unpack(params), **options)
    dy = Octave(*(rng.standard_normal(a.shape) if a is not None else None for a in y))
    dx, dw, db = module.octconv_backward(dy, cache)
    analytic = {"high": dx.high, "low": dx.low, **dict(zip(OctaveWeights._fields, dw))}
    if b is not None:
        analytic["b_high"], analytic["b_low"] = (db.high, db.low) if db is not None else (None,) * 2
    names = {"high": "dx.high", "low": "dx.low", "b_high": "db.high", "b_low": "db.low",
             **{f: f"dw.{f}" for f in OctaveWeights._fields}}
    # Flatten the two output groups into one vector so one upstream gradient serves.
    present = [g for g, a in enumerate(y) if a is not None]
    c = np.concatenate([dy[g].ravel() for g in present])

    results = []
    for key, value in params.items():
        if value is None:
            continue

        def f(v, key=key):
            values = dict(params, **{key: v})
            out, _ = module.octconv_forward(*unpack(values), **options)
            return np.concatenate([out[g].ravel() for g in present])

        if value.size <= full_limit:
            results.append(check_vjp(f, value, c, analytic[key], name=names[key]))
        else:
            results.append(check_directional(f, value, c, analytic[key], rng=rng,
                                             name=names[key]))
    return results
