"""The implementation under test, behind one interface: a function or a layer.

A subject builds (or is given) the parameters of a configuration, runs its
forward and, when it has one, its backward, on float64 NumPy arrays. Every
exception it raises and every unusable value it returns becomes a
:class:`SubjectFailure` naming the stage; nothing it does can escape as an
error of the kit.
"""

import inspect
from dataclasses import replace

import numpy as np

from octref.octave import Octave, OctaveWeights

from .bugs import BACKWARD_NAMES, FORWARD_NAMES, PATHS
from .configs import make_octave_inputs

WEIGHT_NAMES = ("w_hh", "w_hl", "w_lh", "w_ll")
MAP_BIASES = ("b_high", "b_low")
PATH_BIASES = ("b_hh", "b_hl", "b_lh", "b_ll")


class SubjectFailure(Exception):
    """The implementation raised (``__cause__``) or returned something unusable (``why``)."""

    def __init__(self, stage, why=None):
        super().__init__(stage)
        self.stage, self.why = stage, why


class WrongParameters(Exception):
    """A layer's weights have shapes octref's layout does not give."""

    def __init__(self, got, expected):
        super().__init__("parameter shapes")
        self.got, self.expected = got, expected


def _copy(array):
    return None if array is None else array.copy()


def as_real_array(value, name, shape=None):
    """``value`` as a float64 array, or None; ValueError naming ``name`` otherwise.

    Real numbers only: a complex array, strings (even numeric ones) and
    objects are refused, never cast.
    """
    if value is None:
        return None
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise ValueError(f"{name} is not an array: {type(value).__name__} ({exc})") from exc
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}"
                         + (" (complex)" if array.dtype.kind == "c" else ""))
    if array.size == 0:
        return None
    return array.astype(np.float64)


def results(value, names, who):
    """A returned tuple as {name: float64 array or None}; SubjectFailure if unusable."""
    if isinstance(value, dict):
        value = tuple(value.get(n) for n in names)
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        length = f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""
        raise SubjectFailure(who, f"{who} must return a tuple ({', '.join(names)}), got "
                                  f"{type(value).__name__}{length}")
    out = {}
    for name, item in zip(names, value):
        try:
            out[name] = as_real_array(item, name)
        except ValueError as exc:
            raise SubjectFailure(who, f"{who} returned {exc}") from None
    return out


class FunctionSubject:
    """fn(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding, groups)."""

    label = "fn"

    def __init__(self, fn, backward, with_config):
        self.fn, self.backward_fn, self.with_config = fn, backward, with_config

    @property
    def has_backward(self):
        return self.backward_fn is not None

    def setup(self, config, seed):
        x, w, b = make_octave_inputs(config, np.random.default_rng(seed))
        return x, w, b, None, False

    def _arguments(self, config, x, w, b):
        biases = b if b is not None else (None, None)
        return ([_copy(a) for a in x] + [_copy(a) for a in w] + [_copy(a) for a in biases]
                + [config.stride, config.padding, config.groups])

    def _keywords(self, config):
        return {"config": config} if self.with_config else {}

    def forward(self, config, x, w, b, handle):
        try:
            value = self.fn(*self._arguments(config, x, w, b), **self._keywords(config))
        except Exception as exc:
            raise SubjectFailure("forward") from exc
        return results(value, FORWARD_NAMES, "fn")

    def backward(self, config, x, w, b, handle, dy):
        try:
            value = self.backward_fn(*self._arguments(config, x, w, b),
                                     *(_copy(a) for a in dy), **self._keywords(config))
        except Exception as exc:
            raise SubjectFailure("backward") from exc
        return results(value, BACKWARD_NAMES, "backward")

    def reproduce(self, config, seed):
        return f"x, w, b = make_octave_inputs(config, numpy.random.default_rng({seed}))"


def _layer_parameters(params):
    """The params a make_layer returned, as {name: float64 array or None}."""
    if isinstance(params, dict):
        unknown = set(params) - set(WEIGHT_NAMES + MAP_BIASES + PATH_BIASES)
        if unknown:
            raise TypeError(f"make_layer's params have unknown names {sorted(unknown)}; "
                            f"expected {WEIGHT_NAMES + MAP_BIASES} or per-path biases "
                            f"{PATH_BIASES}")
        if any(params.get(n) is not None for n in MAP_BIASES) and any(
                params.get(n) is not None for n in PATH_BIASES):
            raise TypeError("make_layer's params mix per-map biases (b_high, b_low) with "
                            "per-path biases (b_hh, ...)")
        names = WEIGHT_NAMES + MAP_BIASES + PATH_BIASES
        return {n: as_real_array(params.get(n), n) for n in names}
    if not isinstance(params, (tuple, list)) or len(params) != 6:
        raise TypeError("make_layer's params must be (w_hh, w_hl, w_lh, w_ll, b_high, b_low) "
                        "or a dict of those names (per-path biases: b_hh, b_hl, b_lh, b_ll)")
    out = dict(zip(WEIGHT_NAMES + MAP_BIASES,
                   (as_real_array(p, n) for p, n in zip(params, WEIGHT_NAMES + MAP_BIASES))))
    return {**out, **dict.fromkeys(PATH_BIASES)}


class LayerSubject:
    """make_layer(config) -> (params, forward) or (params, forward, backward)."""

    label = "layer"

    def __init__(self, make_layer):
        self.make_layer = make_layer
        self.has_backward = False  # known after the first layer is built

    def setup(self, config, seed):
        try:
            made = self.make_layer(config)
            if not isinstance(made, (tuple, list)) or len(made) not in (2, 3):
                raise TypeError(f"make_layer must return (params, forward) or (params, "
                                f"forward, backward), got {type(made).__name__}")
            params = _layer_parameters(made[0])
            handle = tuple(made[1:])
            if not all(callable(f) for f in handle):
                raise TypeError("make_layer's forward (and backward) must be callable")
        except Exception as exc:
            raise SubjectFailure("make_layer") from exc
        self.has_backward = len(handle) == 2
        got = tuple(None if params[n] is None else params[n].shape for n in WEIGHT_NAMES)
        expected = tuple(config.weight_shapes)
        c_out = dict(zip("hl", config.out_split))
        bias_ok = all(params[n] is None or params[n].shape == (c_out[n[-1]],)
                      for n in PATH_BIASES) and all(
            params[n] is None or params[n].shape == (c_out[n[2]],) for n in MAP_BIASES)
        if got != expected or not bias_ok:
            shapes = {n: None if params[n] is None else params[n].shape
                      for n in WEIGHT_NAMES + MAP_BIASES + PATH_BIASES}
            raise WrongParameters(shapes, expected)
        per_path = {p: params["b_" + p] for p in PATHS if params["b_" + p] is not None}
        if per_path:  # the official layer's bias of a map is the sum of its paths' biases
            maps = []
            for dst in "hl":
                parts = [v for p, v in per_path.items() if p[1] == dst]
                maps.append(sum(parts) if parts else None)
            b = Octave(*maps)
        else:
            b = None if params["b_high"] is None and params["b_low"] is None else Octave(
                params["b_high"], params["b_low"])
        # Two biases into one output map: the per-path bias finding (values still compared);
        # "" when every map has at most one.
        doubled = "; ".join(
            " and ".join(f"b_{p}" for p in per_path if p[1] == dst)
            + f" both add to Y^{dst.upper()}"
            for dst in "hl" if sum(p[1] == dst for p in per_path) > 1)
        x, _, _ = make_octave_inputs(replace(config, bias=False), np.random.default_rng(seed))
        w = OctaveWeights(*(params[n] for n in WEIGHT_NAMES))
        return x, w, b, handle, doubled

    def forward(self, config, x, w, b, handle):
        try:
            value = handle[0](*(_copy(a) for a in x))
        except Exception as exc:
            raise SubjectFailure("forward") from exc
        return results(value, FORWARD_NAMES, "the layer's forward")

    def backward(self, config, x, w, b, handle, dy):
        try:
            value = handle[1](*(_copy(a) for a in x), *(_copy(a) for a in dy))
        except Exception as exc:
            raise SubjectFailure("backward") from exc
        return results(value, BACKWARD_NAMES, "the layer's backward")

    def reproduce(self, config, seed):
        return (f"x, _, _ = make_octave_inputs(dataclasses.replace(config, bias=False), "
                f"numpy.random.default_rng({seed})); weights and bias from make_layer(config)")


def accepts_config(fn):
    """Whether ``fn`` takes a ``config`` keyword (for error messages)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "config" or p.kind == p.VAR_KEYWORD for p in parameters)
