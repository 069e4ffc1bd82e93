"""Which layers the kit tries: configurations, the canonical layers, the random draw, inputs.

A configuration (:class:`OctConvConfig`) is one octave convolution layer and
the size of its input. :class:`ConfigSpace` is a set of them, described by the
restrictions a real implementation needs (even sizes only, square maps, equal
alphas, no groups, ...); :func:`octconv_configs` draws from a space with
hypothesis, and :func:`canonical_configs` lists the layers every check runs
first. Restrictions are built into the draw, never filtered afterwards, so a
narrow space cannot fail hypothesis' health checks.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import strategies as st

from octref.octave import Octave, init_octave_weights, octave_weight_shapes, split_channels

__all__ = ["OctConvConfig", "ConfigSpace", "octconv_configs", "canonical_configs",
           "make_octave_inputs", "octave_inputs"]


@dataclass(frozen=True)
class OctConvConfig:
    """One octave convolution layer and the size of its input.

    Always valid: construction fails with ``ValueError`` unless
    :func:`octref.octave.octave_weight_shapes` accepts the channels, alphas
    and groups.

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
        ablation (stride 1 only).
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
        _ = self.weight_shapes

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

    @property
    def weight_shapes(self):
        """:func:`octref.octave.octave_weight_shapes` of this layer (None: absent path)."""
        return octave_weight_shapes(self.in_channels, self.out_channels, self.kernel_size,
                                    self.alpha_in, self.alpha_out, groups=self.groups)

    @property
    def paths(self):
        """The paths this layer has, e.g. ``("hh", "hl", "lh", "ll")``."""
        return tuple(p for p, s in self.weight_shapes._asdict().items() if s is not None)

    def short(self):
        """The fields that differ from the defaults, as constructor arguments."""
        text = (f"OctConvConfig({self.in_channels}, {self.out_channels}, {self.kernel_size}, "
                f"{self.alpha_in}, {self.alpha_out}")
        defaults = OctConvConfig(1, 1, 1, 0.0, 0.0)
        for name in ("stride", "groups", "height", "width", "batch", "bias", "downsample"):
            if getattr(self, name) != getattr(defaults, name):
                text += f", {name}={getattr(self, name)!r}"
        return text + ")"


def _valid(**fields):
    try:
        OctConvConfig(**fields)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ConfigSpace:
    """The layers an implementation supports: the bounds :func:`octconv_configs` draws in.

    Built by :func:`octconv_configs` (see there for every field). ``allows``
    decides whether a configuration (a canonical layer, a shrinking step) is
    in the space.
    """

    max_batch: int = 2
    max_channels: int = 8
    min_size: int = 1
    max_size: int = 8
    kernel_sizes: tuple = (1, 3)
    strides: tuple = (1, 2)
    alphas: tuple = (0.0, 0.25, 0.5, 0.75, 1.0)
    allow_groups: bool = True
    allow_depthwise: bool = True
    downsamples: tuple = ("avgpool",)
    biases: tuple = (False, True)
    even_sizes: bool = False
    square: bool = False
    equal_alphas: bool = False
    sizes: tuple = field(init=False)

    def __post_init__(self):
        for name in ("max_batch", "max_channels", "min_size", "max_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.max_size < self.min_size:
            raise ValueError(f"max_size ({self.max_size}) must be >= min_size ({self.min_size})")
        for name in ("kernel_sizes", "strides", "alphas", "downsamples", "biases"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise TypeError(f"{name} must be a tuple, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not self.kernel_sizes or any(isinstance(k, bool) or not isinstance(k, int) or k < 1
                                        or k % 2 == 0 for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd ints >= 1, got {self.kernel_sizes}")
        if not self.strides or not set(self.strides) <= {1, 2}:
            raise ValueError(f"strides must be a non-empty subset of (1, 2), got {self.strides}")
        if not self.alphas or any(isinstance(a, bool) or not isinstance(a, (int, float))
                                  or not 0.0 <= a <= 1.0 for a in self.alphas):
            raise ValueError(f"alphas must be numbers in [0, 1], got {self.alphas}")
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if not self.downsamples or not set(self.downsamples) <= {"avgpool", "strided"}:
            raise ValueError(f"downsamples must be a non-empty subset of ('avgpool', "
                             f"'strided'), got {self.downsamples}")
        if self.downsamples == ("strided",) and 1 not in self.strides:
            raise ValueError("downsample 'strided' needs stride 1 among strides")
        if not self.biases or not set(self.biases) <= {False, True}:
            raise ValueError(f"biases must be a non-empty subset of (False, True), "
                             f"got {self.biases}")
        sizes = tuple(n for n in range(self.min_size, self.max_size + 1)
                      if not (self.even_sizes and n % 2))
        if not sizes:
            raise ValueError(f"even_sizes=True needs an even side between min_size "
                             f"({self.min_size}) and max_size ({self.max_size})")
        object.__setattr__(self, "sizes", sizes)

    def allows(self, config):
        """Whether ``config`` lies in this space."""
        kind_ok = (config.groups == 1 or (config.depthwise and self.allow_depthwise)
                   or (not config.depthwise and self.allow_groups))
        return (kind_ok and config.batch <= self.max_batch
                and max(config.in_channels, config.out_channels) <= self.max_channels
                and config.height in self.sizes and config.width in self.sizes
                and (not self.square or config.height == config.width)
                and config.kernel_size in self.kernel_sizes and config.stride in self.strides
                and config.alpha_in in self.alphas and config.alpha_out in self.alphas
                and (not self.equal_alphas or config.alpha_in == config.alpha_out)
                and config.downsample in self.downsamples and config.bias in self.biases)

    def alpha_pairs(self):
        return [(a, b) for a in self.alphas for b in self.alphas
                if not self.equal_alphas or a == b]


def octconv_configs(*, max_batch=2, max_channels=8, min_size=1, max_size=8, kernel_sizes=(1, 3),
                    strides=(1, 2), alphas=(0.0, 0.25, 0.5, 0.75, 1.0), allow_groups=True,
                    allow_depthwise=True, downsamples=("avgpool",), biases=(False, True),
                    even_sizes=False, square=False, equal_alphas=False):
    """Hypothesis strategy of valid :class:`OctConvConfig` in a :class:`ConfigSpace`.

    The draw favours the layer people use: k = 3 three times as often as each
    other kernel, and half the layers have all four paths (both alphas
    fractional, enough channels for both groups). The rest are plain layers
    of any alphas, grouped and depthwise layers. The returned strategy carries
    its space as ``.space``: :func:`check_octconv` uses it to pick the
    canonical layers that fit and to keep shrunk examples inside it.

    Parameters
    ----------
    max_batch, max_channels : int
        Upper bounds of N and of C_in and C_out.
    min_size, max_size : int
        Bounds of H and W.
    kernel_sizes : tuple of odd int
    strides : tuple, subset of (1, 2)
    alphas : tuple of float in [0, 1]
        Drawn for alpha_in and alpha_out (independently unless ``equal_alphas``).
    allow_groups : bool
        Also draw ``1 < groups < in_channels`` dividing every group's channels.
    allow_depthwise : bool
        Also draw depthwise layers (``groups == in_channels``, equal alphas).
    downsamples : tuple, subset of ("avgpool", "strided")
    biases : tuple of bool
    even_sizes : bool
        Only even H and W.
    square : bool
        Only H == W.
    equal_alphas : bool
        Only alpha_in == alpha_out.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of OctConvConfig, with attribute ``space``
    """
    space = ConfigSpace(max_batch, max_channels, min_size, max_size, kernel_sizes, strides,
                        alphas, allow_groups, allow_depthwise, downsamples, biases, even_sizes,
                        square, equal_alphas)
    strategy = _draw(space)
    strategy.space = space
    return strategy


def _draw(space):
    channels = range(1, space.max_channels + 1)
    pairs = space.alpha_pairs()
    # Each kernel once, and k = 3 twice more: the kernel of nearly every OctConv layer.
    kernels = [k for k in space.kernel_sizes for _ in range(3 if k == 3 else 1)]
    four_path = [(a, b, c_in, c_out) for a, b in pairs for c_in in channels for c_out in channels
                 if min(split_channels(c_in, a) + split_channels(c_out, b)) > 0]
    grouped = [(a, b, g, c_in, c_out) for a, b in pairs
               for g in range(2, space.max_channels)
               for c_in in range(g + 1, space.max_channels + 1)
               for c_out in channels
               if _valid(in_channels=c_in, out_channels=c_out, kernel_size=1, alpha_in=a,
                         alpha_out=b, groups=g)] if space.allow_groups else []
    depthwise = [(a, c_in, c_out) for a in space.alphas
                 for c_in in range(2, space.max_channels + 1)
                 for c_out in range(c_in, space.max_channels + 1, c_in)
                 if _valid(in_channels=c_in, out_channels=c_out, kernel_size=1, alpha_in=a,
                           alpha_out=a, groups=c_in)] if space.allow_depthwise else []
    kinds = ["plain"] + ["four-path"] * 2 * bool(four_path)
    kinds += ["grouped"] * bool(grouped) + ["depthwise"] * bool(depthwise)

    @st.composite
    def configs(draw):
        kind = draw(st.sampled_from(kinds))
        groups = 1
        if kind == "plain":
            alpha_in, alpha_out = draw(st.sampled_from(pairs))
            in_channels, out_channels = draw(st.sampled_from(channels)), draw(
                st.sampled_from(channels))
        elif kind == "four-path":
            alpha_in, alpha_out, in_channels, out_channels = draw(st.sampled_from(four_path))
        elif kind == "grouped":
            alpha_in, alpha_out, groups, in_channels, out_channels = draw(st.sampled_from(grouped))
        else:
            alpha_in, in_channels, out_channels = draw(st.sampled_from(depthwise))
            alpha_out, groups = alpha_in, in_channels
        stride = draw(st.sampled_from(space.strides))
        downsample = draw(st.sampled_from(space.downsamples))
        if downsample == "strided" and stride == 2:
            downsample = "avgpool" if "avgpool" in space.downsamples else downsample
            stride = 1 if downsample == "strided" else 2
        height = draw(st.sampled_from(space.sizes))
        width = height if space.square else draw(st.sampled_from(space.sizes))
        return OctConvConfig(
            in_channels=in_channels, out_channels=out_channels,
            kernel_size=draw(st.sampled_from(kernels)), alpha_in=alpha_in, alpha_out=alpha_out,
            stride=stride, groups=groups, height=height, width=width,
            batch=draw(st.integers(1, space.max_batch)), bias=draw(st.sampled_from(space.biases)),
            downsample=downsample)

    return configs()


def canonical_configs(space=None):
    """The layers every check runs first, in order, those ``space`` allows.

    The canonical OctConv layer (alpha_in = alpha_out = 0.5, all four paths,
    k = 3) with C = 4 and 8, stride 1 and 2, sides even (4, 8), odd (5) and
    2 mod 4 (6), with and without bias; then the alpha edges (0 and 1, a first
    and a last layer), a first layer on a one-channel image, a grouped and a
    depthwise layer, and k = 1. A space
    with only the "strided" downsample gets the same layers at stride 1 with
    that downsample.

    Parameters
    ----------
    space : ConfigSpace, optional
        Default: every canonical layer.

    Returns
    -------
    list of OctConvConfig
    """
    def layer(c, alpha_in=0.5, alpha_out=0.5, k=3, size=(5, 5), **kw):
        return OctConvConfig(c, c, k, alpha_in, alpha_out, height=size[0], width=size[1], **kw)

    layers = []
    for stride in (1, 2):
        for size in ((4, 4), (5, 5), (6, 6)):
            for bias in (False, True):
                layers.append(layer(4, size=size, stride=stride, bias=bias))
        layers.append(layer(8, size=(8, 8), stride=stride, bias=True))
        layers.append(layer(8, size=(6, 5), stride=stride, bias=True))
    for alpha_in, alpha_out in ((0.0, 0.0), (1.0, 1.0), (0.0, 0.5), (0.5, 0.0), (0.5, 1.0)):
        for stride in (1, 2):
            layers.append(layer(4, alpha_in, alpha_out, stride=stride, bias=True))
    # The first layer on a one-channel (grey) image.
    layers += [OctConvConfig(1, 4, 3, 0.0, 0.5, height=6, width=5, bias=True)]
    layers += [layer(4, groups=2, bias=True), layer(4, groups=2, stride=2, size=(6, 6)),
               layer(4, groups=4, bias=True), layer(4, groups=4, stride=2, size=(6, 6)),
               layer(4, k=1, size=(6, 5), bias=True)]
    if space is None:
        return layers
    if "avgpool" not in space.downsamples:
        layers = [replace(c, downsample="strided") for c in layers if c.stride == 1]
    else:
        layers = [replace(c, downsample=space.downsamples[0]) if c.stride == 1 else c
                  for c in layers]
    # A smaller batch, channel count or side than the canonical one, when the space
    # asks for it, keeps the layer's character (four paths, odd side) where it can.
    fitted = []
    for config in layers:
        config = _fit(config, space)
        if config is not None and space.allows(config) and config not in fitted:
            fitted.append(config)
    return fitted


def _fit(config, space):
    def side(n):
        options = [s for s in space.sizes if s % 2 == n % 2 or space.even_sizes]
        options = options or list(space.sizes)
        return min(options, key=lambda s: (abs(s - n), -s))
    height, width = side(config.height), side(config.width)
    if space.square:
        width = height
    c_in, c_out = config.in_channels, config.out_channels
    if max(c_in, c_out) > space.max_channels:
        c_in = c_out = 2 * (space.max_channels // 2) or 1
    groups = config.groups if config.groups == 1 or c_in % config.groups == 0 else 1
    if config.depthwise:
        groups = c_in
    try:
        return replace(config, height=height, width=width, in_channels=c_in, out_channels=c_out,
                       groups=groups, batch=min(config.batch, space.max_batch))
    except ValueError:
        return None


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
    low_size = (math.ceil(height / 2), math.ceil(width / 2))
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
    return SEEDS.map(lambda seed: make_octave_inputs(config, np.random.default_rng(seed)))


SEEDS = st.integers(0, 2**32 - 1)
