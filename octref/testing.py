"""Ground truth for other OctConv implementations: strategies and a conformance check.

A PyTorch, JAX or TensorFlow OctConv is checked against octref in one call::

    from octref.testing import check_octconv
    check_octconv(my_octconv)          # raises AssertionError on the first mismatch

:func:`check_octconv` draws layer configurations with hypothesis, runs the
implementation on float64 NumPy arrays, compares with
:func:`octref.im2col.octconv_forward` (and, given a ``backward``, with
:func:`octref.im2col.octconv_backward`), lets hypothesis shrink a failure to a
smallest configuration, and names the known bug the failure matches.
:func:`check_octconv_layer` does the same for a layer that builds its own
parameters, which is the only place a wrong channel split can show.

Diagnoses come from re-running octref: every value bug in ``KNOWN_BUGS``
is a variant of Eq. 4 rebuilt here from octref's own im2col convolution and
sampling with that one bug switched on, and the implementation's output is
compared with each variant's on the same input (gradients: the variant's exact
vector-Jacobian product). A crash is matched by re-running the implementation
on the nearest configuration without the bug's trigger (alpha 1 -> 0.5, odd
sides -> even), and a wrong split by the shapes of the layer's parameters.

This module imports hypothesis (the ``test`` extra); octref's numerical core
never imports it.
"""

import math
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from octref.contract import PATHS
from octref.im2col import conv_forward, octconv_backward, octconv_forward
from octref.octave import (
    Octave,
    OctaveWeights,
    init_octave_weights,
    octave_weight_shapes,
    split_channels,
)
from octref.sampling import pool2x2, upsample2x_nearest

__all__ = ["OctConvConfig", "octconv_configs", "octave_inputs", "make_octave_inputs",
           "check_octconv", "check_octconv_layer", "KnownBug", "KNOWN_BUGS"]

FORWARD_NAMES = ("y_high", "y_low")
BACKWARD_NAMES = ("dx_high", "dx_low", "dw_hh", "dw_hl", "dw_lh", "dw_ll", "db_high", "db_low")


# --------------------------------------------------------------------------- configurations

@dataclass(frozen=True)
class OctConvConfig:
    """One octave convolution layer and the size of its input.

    Always valid: construction fails with ``ValueError`` unless
    :func:`octref.init_octave_weights` accepts the channels, alphas and groups.

    Attributes
    ----------
    in_channels, out_channels : int
        C_in and C_out, both frequency groups together.
    kernel_size : int
        k, odd; every path pads by ``(k - 1) // 2``.
    alpha_in, alpha_out : float in [0, 1]
        Low-frequency ratios; the split is :func:`octref.split_channels`
        (``c_low = int(alpha C)``, the high group takes the rest).
    stride : {1, 2}
    groups : int
        Same on every path; ``groups == in_channels > 1`` is depthwise (only
        H->H and L->L, needs ``alpha_in == alpha_out``).
    height, width : int
        H x W of the high-frequency input; the low input is ceil(H/2) x ceil(W/2).
    batch : int
        N.
    bias : bool
        Whether the layer has ``b_high`` and ``b_low``.
    downsample : {"avgpool", "strided"}
        How H->L reaches half resolution; "strided" is the paper's Table 3
        ablation (stride 1 only). Implementations under test receive no such
        argument: a config says which variant they are compared with.
    """

    in_channels: int
    out_channels: int
    kernel_size: int
    alpha_in: float
    alpha_out: float
    stride: int = 1
    groups: int = 1
    height: int = 8
    width: int = 8
    batch: int = 1
    bias: bool = False
    downsample: str = "avgpool"

    def __post_init__(self):
        for name in ("kernel_size", "height", "width", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (size-preserving padding), "
                             f"got {self.kernel_size}")
        if self.stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {self.stride!r}")
        if self.downsample not in ("avgpool", "strided"):
            raise ValueError(f"downsample must be 'avgpool' or 'strided', got {self.downsample!r}")
        if self.downsample == "strided" and self.stride != 1:
            raise ValueError("downsample='strided' needs stride=1")
        if self.depthwise and self.alpha_in != self.alpha_out:
            raise ValueError(f"a depthwise config (groups == in_channels) needs alpha_in == "
                             f"alpha_out, got {self.alpha_in} and {self.alpha_out}")
        # Raises ValueError (naming the path) when groups do not fit the split.
        octave_weight_shapes(self.in_channels, self.out_channels, 1, self.alpha_in,
                             self.alpha_out, groups=self.groups)

    @property
    def padding(self):
        """(k - 1) // 2, the size-preserving padding of every path."""
        return (self.kernel_size - 1) // 2

    @property
    def depthwise(self):
        """``groups == in_channels > 1``: only H->H and L->L, each depthwise."""
        return self.groups > 1 and self.groups == self.in_channels

    @property
    def in_split(self):
        """(C_in_high, C_in_low)."""
        return split_channels(self.in_channels, self.alpha_in)

    @property
    def out_split(self):
        """(C_out_high, C_out_low)."""
        return split_channels(self.out_channels, self.alpha_out)


def octconv_configs(*, max_batch=2, max_channels=6, min_size=1, max_size=7, kernel_sizes=(1, 3),
                    strides=(1, 2), alphas=(0.0, 0.25, 0.5, 0.75, 1.0), allow_groups=True,
                    allow_depthwise=True, downsamples=("avgpool",), biases=(False, True)):
    """Hypothesis strategy of valid :class:`OctConvConfig`.

    Draws shrink towards the first element of every tuple argument and towards
    small numbers, and towards plain (ungrouped) layers, so a failure is
    reported on the simplest layer that shows it.

    Parameters
    ----------
    max_batch, max_channels : int
        Upper bounds of N and of C_in and C_out.
    min_size, max_size : int
        Bounds of H and W (each drawn separately, so odd and non-square sides occur).
    kernel_sizes : tuple of odd int
    strides : tuple, subset of (1, 2)
    alphas : tuple of float in [0, 1]
        Drawn for alpha_in and alpha_out independently (equal when depthwise).
    allow_groups : bool
        Also draw ``1 < groups < in_channels`` dividing every group's channels.
    allow_depthwise : bool
        Also draw depthwise layers: ``groups == in_channels``, ``alpha_out ==
        alpha_in``, out_channels a multiple of in_channels.
    downsamples : tuple, subset of ("avgpool", "strided")
    biases : tuple of bool

    Returns
    -------
    hypothesis.strategies.SearchStrategy of OctConvConfig
    """
    for name, value in (("max_batch", max_batch), ("max_channels", max_channels),
                        ("min_size", min_size), ("max_size", max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if max_size < min_size:
        raise ValueError(f"max_size ({max_size}) must be >= min_size ({min_size})")
    kernel_sizes, strides, alphas = tuple(kernel_sizes), tuple(strides), tuple(alphas)
    downsamples, biases = tuple(downsamples), tuple(biases)
    if not kernel_sizes or any(not isinstance(k, int) or k < 1 or k % 2 == 0
                               for k in kernel_sizes):
        raise ValueError(f"kernel_sizes must be odd ints >= 1, got {kernel_sizes}")
    if not strides or not set(strides) <= {1, 2}:
        raise ValueError(f"strides must be a non-empty subset of (1, 2), got {strides}")
    if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas):
        raise ValueError(f"alphas must be numbers in [0, 1], got {alphas}")
    if not downsamples or not set(downsamples) <= {"avgpool", "strided"}:
        raise ValueError(f"downsamples must be a non-empty subset of ('avgpool', 'strided'), "
                         f"got {downsamples}")
    if downsamples == ("strided",) and 1 not in strides:
        raise ValueError("downsample 'strided' needs stride 1 among strides")
    if not biases or not set(biases) <= {False, True}:
        raise ValueError(f"biases must be a non-empty subset of (False, True), got {biases}")
    # Plain layers twice as often: most bugs show on them, and they shrink best.
    kinds = ["plain", "plain"] + ["grouped"] * allow_groups
    kinds += ["depthwise"] * (allow_depthwise and max_channels >= 2)

    # Every (alpha_in, alpha_out, groups, C_in, C_out) whose four channel counts
    # groups divides, with groups < C_in (groups == C_in is the depthwise kind).
    grouped = [(a, b, g, c_in, c_out) for a in alphas for b in alphas
               for g in range(2, max_channels) for c_in in range(g + 1, max_channels + 1)
               for c_out in range(1, max_channels + 1)
               if all(c % g == 0 for c in split_channels(c_in, a) + split_channels(c_out, b))]

    @st.composite
    def configs(draw):
        # Every kind draws the plain choices first and adds its own after them, so
        # a plain layer is always the simpler example and shrinking prefers it.
        kind = draw(st.sampled_from(kinds))
        # One draw for the features that decide which code runs: hypothesis likes
        # to repeat a value it has just drawn, which would make alpha_in ==
        # alpha_out, or kernel and stride move together, most of the time.
        alpha_in, alpha_out, kernel_size, stride = draw(st.sampled_from(
            [(a, b, k, s) for a in alphas for b in alphas for k in kernel_sizes
             for s in strides]))
        # sampled_from, not integers: uniform over the range (integers favours
        # the smallest values, and one channel has no low group for alpha < 1).
        in_channels = draw(st.sampled_from(range(1, max_channels + 1)))
        out_channels = draw(st.sampled_from(range(1, max_channels + 1)))
        groups = 1
        if kind == "grouped" and grouped:
            alpha_in, alpha_out, groups, in_channels, out_channels = draw(
                st.sampled_from(grouped))
        elif kind == "depthwise":
            alpha_out = alpha_in
            in_channels = groups = max(2, in_channels)
            out_channels = in_channels * draw(st.integers(1, max(1, max_channels // in_channels)))
            if not _valid(in_channels, out_channels, alpha_in, alpha_out, groups):
                out_channels = in_channels  # the same split in and out always fits
        downsample = draw(st.sampled_from(downsamples))
        stride = 1 if downsample == "strided" else stride
        return OctConvConfig(
            in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
            alpha_in=alpha_in, alpha_out=alpha_out, stride=stride, groups=groups,
            height=draw(st.sampled_from(range(min_size, max_size + 1))),
            width=draw(st.sampled_from(range(min_size, max_size + 1))),
            batch=draw(st.integers(1, max_batch)), bias=draw(st.sampled_from(biases)),
            downsample=downsample)

    return configs()


def _valid(in_channels, out_channels, alpha_in, alpha_out, groups):
    try:
        octave_weight_shapes(in_channels, out_channels, 1, alpha_in, alpha_out, groups=groups)
    except ValueError:
        return False
    return True


def make_octave_inputs(config, rng):
    """Input, weights and bias for ``config``, drawn from ``rng``.

    Parameters
    ----------
    config : OctConvConfig
    rng : numpy.random.Generator

    Returns
    -------
    x : Octave
        ``x.high`` (N, C_in_high, H, W), ``x.low`` (N, C_in_low, ceil(H/2),
        ceil(W/2)), standard normal float64; None for an empty group.
    w : OctaveWeights
        From :func:`octref.init_octave_weights` (He-normal); None for absent paths.
    b : Octave or None
        Standard normal ``b.high`` (C_out_high,) and ``b.low`` (C_out_low,)
        when ``config.bias``; None otherwise.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    c_high, c_low = config.in_split
    n, height, width = config.batch, config.height, config.width
    low_size = ((height + 1) // 2, (width + 1) // 2)
    x = Octave(rng.standard_normal((n, c_high, height, width)) if c_high else None,
               rng.standard_normal((n, c_low) + low_size) if c_low else None)
    w = init_octave_weights(config.in_channels, config.out_channels, config.kernel_size,
                            config.alpha_in, config.alpha_out, groups=config.groups, rng=rng)
    b = None
    if config.bias:
        b = Octave(*(rng.standard_normal(c) if c else None for c in config.out_split))
    return x, w, b


def octave_inputs(config):
    """Hypothesis strategy of ``(x, w, b)`` for ``config`` (see :func:`make_octave_inputs`).

    Hypothesis draws only an integer seed; the arrays come from
    ``numpy.random.default_rng(seed)``, so an example is reproducible from
    the config and the seed alone.
    """
    return _SEEDS.map(lambda seed: make_octave_inputs(config, np.random.default_rng(seed)))


_SEEDS = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------- known bugs

@dataclass(frozen=True)
class KnownBug:
    """A bug found in public OctConv implementations.

    Attributes
    ----------
    key : str
        Short identifier.
    name : str
        What the diagnosis calls it ("matches known bug: <name> (<why>)").
    why : str
        What goes wrong, in one line.
    """

    key: str
    name: str
    why: str

    def __str__(self):
        return f"{self.name} ({self.why})"


#: The catalogue of known OctConv bugs, keyed by :attr:`KnownBug.key`.
KNOWN_BUGS = {bug.key: bug for bug in (
    KnownBug("upsample_first", "upsampling before the L->H convolution",
             "f(up(X^L); W^LH) instead of up(f(X^L; W^LH)): 4x the cost, other values for k > 1"),
    KnownBug("strided_hl", "strided H->L convolution",
             "half-pixel shift, paper Table 3: f(X^H; W^HL) at stride 2 instead of "
             "f(pool(X^H); W^HL)"),
    KnownBug("floor_pool", "floor-mode pooling",
             "an odd side loses its last row/column: ceil(H/2) expected, floor(H/2) given"),
    KnownBug("split", "channel split c_high = int((1 - alpha) C)",
             "the official code gives the low group int(alpha C) channels and the high group "
             "the rest"),
    KnownBug("bias_every_path", "bias added on every path",
             "each output map gets its bias once, not once per path into it"),
    KnownBug("strided_stride2", "stride 2 by strided convolutions",
             "stride 2 average-pools each path's input (official code); subsampling the "
             "convolution shifts the map by half a pixel"),
    KnownBug("transposed_kernel", "transposed kernel",
             "w[f, c, i, j] read as w[f, c, j, i]; weights are (C_out, C_in / groups, kh, kw), "
             "cross-correlation"),
    KnownBug("missing_ll", "missing L->L path", "Y^L lacks f(X^L; W^LL)"),
    KnownBug("crash_alpha1", "crash at alpha = 1",
             "a layer without a high-frequency group (x_high or y_high is None) must run"),
)}

# Bugs that change values or shapes, each re-run by _variant_forward.
_VALUE_BUGS = ("upsample_first", "strided_hl", "floor_pool", "bias_every_path",
               "strided_stride2", "transposed_kernel", "missing_ll")


def _floor_pool(x):
    """2x2 average pooling in floor mode: an odd last row/column is dropped."""
    height, width = x.shape[-2:]
    h, w = height // 2, width // 2
    blocks = x[..., :2 * h, :2 * w].reshape(x.shape[:-2] + (h, 2, w, 2))
    return blocks.mean(axis=(-3, -1))


def _variant_forward(x, w, b, config, bug=None):
    """Eq. 4 from octref's im2col convolution and sampling, with one known bug on.

    ``bug=None`` is octref's own forward. Maps of different sizes are added
    with NumPy broadcasting, as PyTorch would, so a variant fails exactly
    where the buggy code it stands for would.

    Returns
    -------
    dict
        ``{"y_high": (N, C_out_high, ...) or None, "y_low": ... or None}``.
    """
    high, low = x
    stride = config.stride
    pool = _floor_pool if bug == "floor_pool" else pool2x2
    by_striding = bug == "strided_stride2" and stride == 2

    def conv(inp, weight, conv_stride=1):
        if bug == "transposed_kernel":
            weight = weight.transpose(0, 1, 3, 2)
        if min(inp.shape[2:]) == 0:  # floor pooling emptied the map
            size = tuple(-(-n // conv_stride) for n in inp.shape[2:])
            return np.zeros((inp.shape[0], weight.shape[0]) + size)
        groups = inp.shape[1] // weight.shape[1]  # depthwise paths: their own channels
        return conv_forward(inp, weight, stride=conv_stride, padding=config.padding,
                            groups=groups)[0]

    outs = {}
    if w.hh is not None:
        if stride == 1:
            outs["hh"] = conv(high, w.hh)
        else:
            outs["hh"] = conv(high, w.hh, 2) if by_striding else conv(pool(high), w.hh)
    if w.hl is not None:
        source = high if stride == 1 else pool(high)
        if bug == "strided_hl" or by_striding or config.downsample == "strided":
            outs["hl"] = conv(source, w.hl, 2)
        else:
            outs["hl"] = conv(pool(source), w.hl)
    if w.lh is not None:
        high_size = high.shape[2:] if high is not None else tuple(2 * n for n in low.shape[2:])
        if stride == 2:
            outs["lh"] = conv(low, w.lh)
        elif bug == "upsample_first":
            outs["lh"] = conv(upsample2x_nearest(low, high_size), w.lh)
        else:
            outs["lh"] = upsample2x_nearest(conv(low, w.lh), high_size)
    if w.ll is not None and bug != "missing_ll":
        if stride == 1:
            outs["ll"] = conv(low, w.ll)
        else:
            outs["ll"] = conv(low, w.ll, 2) if by_striding else conv(pool(low), w.ll)

    biases = dict(zip("hl", b)) if b is not None else {}
    y = {}
    for path in ("hh", "lh", "ll", "hl"):
        if path not in outs:
            continue
        dst, out = path[1], outs[path]
        if bug == "bias_every_path" and biases.get(dst) is not None:
            out = out + biases[dst][:, None, None]
        y[dst] = out if dst not in y else y[dst] + out
    if bug != "bias_every_path":
        for dst, bias in biases.items():
            if bias is not None and dst in y:
                y[dst] = y[dst] + bias[:, None, None]
    return {"y_high": y.get("h"), "y_low": y.get("l")}


def _variant_gradients(x, w, b, config, bug, dy, names):
    """Exact vector-Jacobian products of a variant, for the gradients in ``names``.

    Every variant is bilinear in (x, w) plus a bias term linear in b, so
    ``<dy, F(e_j)>`` for each basis vector e_j is the gradient's j-th entry:
    no finite differences, no rounding beyond the forward's own. Only run to
    diagnose a failure; the weight probes cost one forward per weight.
    """
    def pairing(y):
        total = 0.0
        for name, grad in zip(FORWARD_NAMES, dy):
            if grad is not None:
                total = total + np.sum(grad * y[name])
        return total

    grads = {}
    if {"dx_high", "dx_low"} & set(names):
        # All basis inputs of one sample as one batch; sample n of dx is dy[n] paired with them.
        sample_shapes = [None if a is None else a.shape[1:] for a in x]
        sizes = [0 if s is None else math.prod(s) for s in sample_shapes]
        probes = np.eye(sum(sizes))
        probe_x, start = [], 0
        for shape, size in zip(sample_shapes, sizes):
            probe_x.append(None if shape is None
                           else probes[:, start:start + size].reshape((-1,) + shape))
            start += size
        y = _variant_forward(Octave(*probe_x), w, None, config, bug)
        flat = 0.0
        for name, grad in zip(FORWARD_NAMES, dy):
            if grad is not None:
                flat = flat + grad.reshape(grad.shape[0], -1) @ y[name].reshape(len(probes), -1).T
        start = 0
        for name, a, size in zip(("dx_high", "dx_low"), x, sizes):
            grads[name] = None if a is None else flat[:, start:start + size].reshape(a.shape)
            start += size
    for path in PATHS:
        name = f"dw_{path}"
        weight = getattr(w, path)
        if name not in names or weight is None:
            continue
        zeros = OctaveWeights(*(None if v is None else np.zeros_like(v) for v in w))
        grad = np.zeros_like(weight)
        for j in range(weight.size):
            getattr(zeros, path).flat[j] = 1.0
            grad.flat[j] = pairing(_variant_forward(x, zeros, None, config, bug))
            getattr(zeros, path).flat[j] = 0.0
        grads[name] = grad
    if b is not None:
        x_zero = Octave(*(None if a is None else np.zeros_like(a) for a in x))
        for index, name in enumerate(("db_high", "db_low")):
            if name not in names or b[index] is None:
                continue
            grad = np.zeros_like(b[index])
            for j in range(grad.size):
                probe = [None if v is None else np.zeros_like(v) for v in b]
                probe[index][j] = 1.0
                grad[j] = pairing(_variant_forward(x_zero, w, Octave(*probe), config, bug))
            grads[name] = grad
    return grads


def _split_bug(channels, alpha):
    """The rounding some re-implementations use: c_high = int((1 - alpha) C)."""
    c_high = int((1.0 - alpha) * channels)
    return c_high, channels - c_high


def _param_shapes(config, split):
    """Expected shapes of (w_hh, w_hl, w_lh, w_ll, b_high, b_low) under a split rule."""
    c_in = dict(zip("hl", split(config.in_channels, config.alpha_in)))
    c_out = dict(zip("hl", split(config.out_channels, config.alpha_out)))
    k = config.kernel_size
    shapes = []
    for src, dst in PATHS:
        present = c_in[src] and c_out[dst] and not (config.depthwise and src != dst)
        groups = c_in[src] if config.depthwise else config.groups
        shapes.append((c_out[dst], c_in[src] // groups, k, k) if present else None)
    return tuple(shapes) + tuple((c_out[g],) if c_out[g] else None for g in "hl")


# --------------------------------------------------------------------------- subjects

class _Crash(Exception):
    """The implementation under test raised; ``__cause__`` is its exception."""

    def __init__(self, stage, returned=False):
        super().__init__(stage)
        self.stage, self.returned = stage, returned


class _WrongParams(Exception):
    """A layer's parameters have shapes octref's split does not give."""

    def __init__(self, got, expected):
        super().__init__("parameter shapes")
        self.got, self.expected = got, expected


def _as_float(value):
    return None if value is None else np.asarray(value, dtype=np.float64)


def _copy(array):
    return None if array is None else array.copy()


def _results(value, names, who):
    """A returned tuple as {name: float64 array or None}, or a _Crash naming the problem."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        kind = type(value).__name__
        length = f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""
        try:
            raise TypeError(f"{who} must return a tuple ({', '.join(names)}), "
                            f"got {kind}{length}")
        except TypeError as exc:
            raise _Crash(who, returned=True) from exc
    out = {}
    for name, item in zip(names, value):
        try:
            out[name] = _as_float(item)
        except Exception as exc:
            raise _Crash(who, returned=True) from exc
    return out


class _FunctionSubject:
    """fn(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding, groups)."""

    label = "fn"

    def __init__(self, fn, backward):
        self.fn, self.backward_fn = fn, backward

    def setup(self, config, seed):
        x, w, b = make_octave_inputs(config, np.random.default_rng(seed))
        return x, w, b, None

    def _arguments(self, config, x, w, b):
        biases = b if b is not None else (None, None)
        return ([_copy(a) for a in x] + [_copy(a) for a in w] + [_copy(a) for a in biases]
                + [config.stride, config.padding, config.groups])

    def forward(self, config, x, w, b, handle):
        try:
            value = self.fn(*self._arguments(config, x, w, b))
        except Exception as exc:
            raise _Crash("fn") from exc
        return _results(value, FORWARD_NAMES, "fn")

    def backward(self, config, x, w, b, handle, dy):
        try:
            value = self.backward_fn(*self._arguments(config, x, w, b),
                                     *(_copy(a) for a in dy))
        except Exception as exc:
            raise _Crash("backward") from exc
        return _results(value, BACKWARD_NAMES, "backward")

    def reproduce(self, seed):
        return f"x, w, b = make_octave_inputs(config, numpy.random.default_rng({seed}))"


class _LayerSubject:
    """make_layer(config) -> ((w_hh, w_hl, w_lh, w_ll, b_high, b_low), forward)."""

    label = "layer"
    backward_fn = None

    def __init__(self, make_layer):
        self.make_layer = make_layer

    def setup(self, config, seed):
        try:
            made = self.make_layer(config)
            if not isinstance(made, (tuple, list)) or len(made) != 2:
                raise TypeError(f"make_layer must return (params, forward), got "
                                f"{type(made).__name__}")
            params, forward = made
            if not isinstance(params, (tuple, list)) or len(params) != 6:
                raise TypeError("make_layer's params must be (w_hh, w_hl, w_lh, w_ll, b_high, "
                                "b_low), None for absent ones")
            params = [_as_float(p) for p in params]
        except Exception as exc:
            raise _Crash("make_layer") from exc
        got = tuple(None if p is None else p.shape for p in params)
        expected = _param_shapes(config, split_channels)
        # Weights must match exactly; a bias may be missing (a layer without bias).
        if got[:4] != expected[:4] or any(g is not None and g != e
                                          for g, e in zip(got[4:], expected[4:])):
            raise _WrongParams(got, expected)
        x, _, _ = make_octave_inputs(replace(config, bias=False), np.random.default_rng(seed))
        b = None if params[4] is None and params[5] is None else Octave(*params[4:])
        return x, OctaveWeights(*params[:4]), b, forward

    def forward(self, config, x, w, b, handle):
        try:
            value = handle(*(_copy(a) for a in x))
        except Exception as exc:
            raise _Crash("the layer's forward") from exc
        return _results(value, FORWARD_NAMES, "forward")

    def reproduce(self, seed):
        return (f"x, _, _ = make_octave_inputs(dataclasses.replace(config, bias=False), "
                f"numpy.random.default_rng({seed})); weights and bias from make_layer(config)")


# --------------------------------------------------------------------------- comparison

@dataclass(eq=False)
class _Failure(Exception):
    """One failing example: what went wrong, with everything needed to diagnose it."""

    config: OctConvConfig
    seed: int
    crash: _Crash | None = None
    params: _WrongParams | None = None
    problems: dict | None = None       # name -> message
    stage: str = "forward"
    x: Octave | None = None
    w: OctaveWeights | None = None
    b: Octave | None = None
    got: dict | None = None
    dy: tuple | None = None


def _compare(name, got, expected, atol, rtol):
    """None if ``got`` matches ``expected`` within |g - e| <= atol + rtol |e|, else why not."""
    if expected is None:
        if got is None or got.size == 0:
            return None
        return f"{name}: expected None (the layer has no such map), got shape {got.shape}"
    if got is None:
        return f"{name}: got None, expected shape {expected.shape}"
    if got.shape != expected.shape:
        return f"{name}: shape {got.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(got)):
        return f"{name}: {np.count_nonzero(~np.isfinite(got))} non-finite values"
    error = np.abs(got - expected)
    bad = error > atol + rtol * np.abs(expected)
    if not bad.any():
        return None
    index = np.unravel_index(np.argmax(error), error.shape)
    return (f"{name}: {np.count_nonzero(bad)} of {bad.size} values differ; largest error "
            f"{error[index]:.3g} at index {tuple(int(i) for i in index)} "
            f"(got {got[index]:.6g}, expected {expected[index]:.6g})")


def _matches(got, expected, atol, rtol):
    if expected is None or got is None:
        return (got is None or got.size == 0) and (expected is None or expected.size == 0)
    return (got.shape == expected.shape
            and bool(np.all(np.abs(got - expected) <= atol + rtol * np.abs(expected))))


def _examine(subject, config, seed, atol, rtol):
    """Run one example; a _Failure describing the first problem, or None."""
    failure = _Failure(config, seed)
    try:
        x, w, b, handle = subject.setup(config, seed)
    except _Crash as crash:
        failure.crash = crash
        return failure
    except _WrongParams as params:
        failure.params = params
        return failure
    failure.x, failure.w, failure.b = x, w, b
    y, cache = octconv_forward(x, w, b, stride=config.stride, groups=config.groups,
                               downsample=config.downsample)
    try:
        got = subject.forward(config, x, w, b, handle)
    except _Crash as crash:
        failure.crash = crash
        return failure
    expected = dict(zip(FORWARD_NAMES, y))
    problems = {n: p for n in FORWARD_NAMES
                if (p := _compare(n, got[n], expected[n], atol, rtol))}
    if problems:
        failure.problems, failure.got = problems, got
        return failure
    if subject.backward_fn is None:
        return None

    rng = np.random.default_rng([seed, 1])
    dy = tuple(None if a is None else rng.standard_normal(a.shape) for a in y)
    dx, dw, db = octconv_backward(Octave(*dy), cache)
    expected = dict(zip(BACKWARD_NAMES, (*dx, *dw, *(db if db is not None else (None, None)))))
    failure.stage, failure.dy = "backward", dy
    try:
        got = subject.backward(config, x, w, b, handle, dy)
    except _Crash as crash:
        failure.crash = crash
        return failure
    # Where octref has no gradient (absent input, path or bias) anything returned is ignored.
    problems = {n: p for n in BACKWARD_NAMES if expected[n] is not None
                and (p := _compare(n, got[n], expected[n], atol, rtol))}
    if problems:
        failure.problems, failure.got = problems, got
        return failure
    return None


# --------------------------------------------------------------------------- diagnosis

def _diagnose(subject, failure, atol, rtol):
    """Names of the known bugs the failure matches, each with its evidence."""
    config = failure.config
    if failure.params is not None:
        if failure.params.got[:4] == _param_shapes(config, _split_bug)[:4]:
            return [str(KNOWN_BUGS["split"])]
        return []
    if failure.crash is not None:
        return _diagnose_crash(subject, failure, atol, rtol)
    found = []
    for key in _VALUE_BUGS:
        try:
            if failure.stage == "forward":
                variant = _variant_forward(failure.x, failure.w, failure.b, config, key)
            else:
                variant = _variant_gradients(failure.x, failure.w, failure.b, config, key,
                                             failure.dy, failure.problems)
        except Exception:  # the buggy code would crash here: no values to compare
            continue
        if all(_matches(failure.got[name], variant[name], atol, rtol)
               for name in failure.problems):
            found.append(str(KNOWN_BUGS[key]))
    return found


def _twins(config):
    """(bug key, changes to config that remove that crash bug's trigger)."""
    if 1.0 in (config.alpha_in, config.alpha_out):
        yield "crash_alpha1", {"alpha_in": 0.5 if config.alpha_in == 1 else config.alpha_in,
                               "alpha_out": 0.5 if config.alpha_out == 1 else config.alpha_out}
    pools = config.stride == 2 or (config.in_split[0] and config.out_split[1])
    if pools and (config.height % 2 or config.width % 2):
        yield "floor_pool", {"height": config.height + config.height % 2,
                             "width": config.width + config.width % 2}


def _diagnose_crash(subject, failure, atol, rtol):
    """Crash bugs whose trigger the config has and without which the subject runs."""
    found = []
    for key, changes in _twins(failure.config):
        try:
            twin = replace(failure.config, **changes)
        except ValueError:  # the groups no longer divide the new split
            try:
                twin = replace(failure.config, **changes, groups=1)
            except ValueError:
                continue
        again = _examine(subject, twin, failure.seed, atol, rtol)
        if again is None or again.crash is None:  # it runs, right or wrong
            found.append(f"{KNOWN_BUGS[key]}; runs on {_short(twin, failure.config)}")
    return found


def _short(twin, config):
    changed = [f"{f}={getattr(twin, f)!r}" for f in ("alpha_in", "alpha_out", "groups",
                                                       "height", "width")
               if getattr(twin, f) != getattr(config, f)]
    return ", ".join(changed)


def _report(subject, failure, atol, rtol):
    """The AssertionError message for a (minimised) failing example."""
    config = failure.config
    reference = "octref.im2col.octconv_" + failure.stage
    lines = [f"{subject.label} does not match {reference}.", "",
             "configuration (minimised by hypothesis):",
             f"    config = {config!r}",
             f"    channels in (high, low) = {config.in_split}, out (high, low) = "
             f"{config.out_split}; padding {config.padding}",
             f"    {subject.reproduce(failure.seed)}", ""]
    if failure.params is not None:
        names = ("w_hh", "w_hl", "w_lh", "w_ll", "b_high", "b_low")
        lines.append("the layer's parameters have the wrong shapes:")
        for name, got, expected in zip(names, failure.params.got, failure.params.expected):
            if name[0] == "b" and expected is not None:  # a layer may have no bias
                mark = "" if got in (None, expected) else "   <-"
                lines.append(f"    {name}: {got}, expected {expected} or None{mark}")
            else:
                mark = "" if got == expected else "   <-"
                lines.append(f"    {name}: {got}, expected {expected}{mark}")
    elif failure.crash is not None:
        cause = failure.crash.__cause__
        if failure.crash.returned:
            lines.append(f"{failure.crash.stage} returned something unusable: "
                         f"{type(cause).__name__}: {cause}")
        else:
            lines.append(f"{failure.crash.stage} raised {type(cause).__name__}: {cause}")
    else:
        lines += [f"    {failure.problems[n]}" for n in failure.problems]
        lines.append(f"    (tolerance |got - expected| <= {atol:g} + {rtol:g} |expected|)")
    found = _diagnose(subject, failure, atol, rtol)
    lines.append("")
    if found:
        lines += [f"diagnosis: matches known bug: {text}" for text in found]
    else:
        lines.append("diagnosis: no known bug matches; octref.loops computes every pixel "
                     "by Eq. 3 to compare by hand")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the checks

def _run(subject, configs, atol, rtol, max_examples, derandomize):
    if configs is None:
        configs = octconv_configs()
    elif isinstance(configs, OctConvConfig):
        configs = st.just(configs)
    elif isinstance(configs, (list, tuple)):
        if not configs or not all(isinstance(c, OctConvConfig) for c in configs):
            raise TypeError("configs must be a strategy, an OctConvConfig or a non-empty "
                            "sequence of OctConvConfig")
        configs = st.sampled_from(list(configs))
    elif not isinstance(configs, st.SearchStrategy):
        raise TypeError(f"configs must be a hypothesis strategy of OctConvConfig, got "
                        f"{type(configs).__name__}")

    @settings(max_examples=max_examples, deadline=None, derandomize=derandomize,
              database=None, report_multiple_bugs=False,
              # no explain phase: it re-runs the failure hundreds of times for a
              # line-coverage note that the report below does not use
              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(config=configs, seed=_SEEDS)
    def conformance(config, seed):
        if not isinstance(config, OctConvConfig):
            raise TypeError(f"configs drew {type(config).__name__}, not OctConvConfig")
        failure = _examine(subject, config, seed, atol, rtol)
        if failure is not None:
            raise failure

    try:
        conformance()
    except _Failure as failure:  # hypothesis re-raises the smallest failing example
        raise AssertionError(_report(subject, failure, atol, rtol)) from (
            failure.crash.__cause__ if failure.crash is not None else None)


def check_octconv(fn, *, configs=None, atol=1e-6, rtol=1e-5, backward=None, max_examples=200,
                  derandomize=True):
    """Check an octave convolution function against octref on many layers.

    Calling convention: every argument positional, NumPy float64 arrays
    (fresh copies) and ints, None for an absent group, path or bias::

        fn(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding, groups)
            -> (y_high, y_low)
        backward(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding,
                 groups, dy_high, dy_low)
            -> (dx_high, dx_low, dw_hh, dw_hl, dw_lh, dw_ll, db_high, db_low)

    with the shapes of :func:`octref.im2col.octconv_forward`: ``x_high`` (N,
    C_in_high, H, W), ``x_low`` (N, C_in_low, ceil(H/2), ceil(W/2)), ``w_hl``
    (C_out_low, C_in_high / groups, k, k) and so on, ``padding = (k - 1) // 2``.
    Returned values may be anything ``numpy.asarray`` converts; None (or an
    empty array) for an output the layer does not have. Gradients octref does
    not have (absent inputs, paths, biases) are not checked.

    Parameters
    ----------
    fn : callable
        The forward under test.
    configs : strategy, OctConvConfig or sequence of OctConvConfig, optional
        Layers to try; :func:`octconv_configs` with its defaults when omitted.
    atol, rtol : float
        Elementwise ``|got - expected| <= atol + rtol |expected|``. The
        defaults suit float64; a float32 implementation needs about 1e-4 each.
    backward : callable, optional
        The gradients under test, called with a standard normal ``dy`` on
        every example whose forward passed.
    max_examples : int
        Hypothesis examples (before shrinking).
    derandomize : bool
        True (default): the same examples on every run, no example database.

    Raises
    ------
    AssertionError
        On the smallest failing configuration hypothesis finds: the
        configuration, the seed that reproduces its inputs, the failing
        outputs with their largest error and its index (or the exception fn
        raised, chained), and every known bug of ``KNOWN_BUGS`` the
        failure matches ("diagnosis: matches known bug: ...").
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if backward is not None and not callable(backward):
        raise TypeError(f"backward must be callable, got {type(backward).__name__}")
    _run(_FunctionSubject(fn, backward), configs, atol, rtol, max_examples, derandomize)


def check_octconv_layer(make_layer, *, configs=None, atol=1e-6, rtol=1e-5, max_examples=200,
                        derandomize=True):
    """Check a layer that builds its own parameters, channel split included.

    ``make_layer(config)`` builds the layer for an :class:`OctConvConfig`
    with its own initial parameters and returns ``(params, forward)``:

    * ``params = (w_hh, w_hl, w_lh, w_ll, b_high, b_low)``, the layer's
      parameters as arrays (None where absent), in the shapes of
      :class:`octref.OctaveWeights`. Their shapes show the layer's channel
      split: a layer that splits C other than ``c_low = int(alpha C)`` fails
      here, before anything runs.
    * ``forward(x_high, x_low) -> (y_high, y_low)`` runs it on float64 arrays.

    The output is compared with octref's for the layer's own parameters.
    Parameters, tolerances, defaults and the error are as :func:`check_octconv`.
    """
    if not callable(make_layer):
        raise TypeError(f"make_layer must be callable, got {type(make_layer).__name__}")
    _run(_LayerSubject(make_layer), configs, atol, rtol, max_examples, derandomize)
