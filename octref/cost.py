"""What an octave convolution costs: multiply-adds and activation memory (Table 1).

Section 3.3 of Chen et al., "Drop an Octave" (ICCV 2019), and its Table 1: with
``alpha_in = alpha_out = alpha``, an OctConv layer does, relative to the
vanilla convolution with the same channels and kernel,

    FLOPs  : (1 - alpha)^2 + 2 alpha (1 - alpha) / 4 + alpha^2 / 4 = 1 - 3/4 alpha (2 - alpha)
    memory : (1 - alpha) + alpha / 4                              = 1 - 3/4 alpha

(H->H at full resolution; H->L, L->H and L->L at a quarter of the pixels; the
low half of the activations at a quarter of the size). The paper's "FLOPs"
are multiply-accumulates (MACs) and leave pooling and upsampling out.

:func:`flops_ratio` and :func:`memory_ratio` are those formulas.
:func:`octconv_cost` and :func:`conv_cost` count a real layer instead, with
octref's exact semantics: ``c_low = floor(alpha C)`` channels
(:func:`~octref.octave.split_channels`), low maps of ceil(H/2) x ceil(W/2),
the stride-2 pooling of every path's input, depthwise layers keeping only
H->H and L->L. The paths and sizes come from :mod:`octref.octave` and the
option checks from :mod:`octref.contract`, the same the implementations use;
no array is made, so a layer of any size can be counted. :func:`table1` puts
the counted and the printed ratios side by side.
"""

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from octref.checks import check_alpha, check_bool, check_int, check_pair
from octref.contract import check_octave_options, check_padding
from octref.octave import (
    GROUPS,
    ceil_half,
    conv_output_size,
    octave_layout,
    octave_output_sizes,
    path_ends,
    path_source,
    pooled_size,
    split_channels,
)

__all__ = ["flops_ratio", "memory_ratio", "LayerCost", "octconv_cost", "conv_cost",
           "Table1Row", "table1", "TABLE1_ALPHAS", "TABLE1_PRINTED"]

#: The alphas of the paper's Table 1 (and 1, the all-low limit).
TABLE1_ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75, 0.875, 1.0)

#: Table 1 as printed: alpha -> (FLOPs %, memory %). At alpha = 0.875 the
#: formula gives 34.375 % memory, printed as 35 (see :func:`table1`).
TABLE1_PRINTED = {0.0: (100, 100), 0.125: (82, 91), 0.25: (67, 81), 0.5: (44, 63),
                  0.75: (30, 44), 0.875: (26, 35), 1.0: (25, 25)}


# --------------------------------------------------------------------------- theory

def flops_ratio(alpha):
    """Multiply-adds of OctConv over a vanilla convolution, Table 1 theory.

    ``1 - 3/4 alpha (2 - alpha) = (1 - alpha)^2 + alpha (1 - alpha) / 2 + alpha^2 / 4``,
    the sum of the four paths with ``alpha_in = alpha_out = alpha`` and the
    three low-resolution ones at a quarter of the pixels.

    Parameters
    ----------
    alpha : float in [0, 1]

    Returns
    -------
    float
        e.g. 0.4375 at alpha = 0.5 (Table 1 prints 44 %).

    Raises
    ------
    ValueError
        alpha outside [0, 1].
    """
    alpha = check_alpha(alpha, "alpha")
    return 1.0 - 0.75 * alpha * (2.0 - alpha)


def memory_ratio(alpha):
    """Activation memory of an octave feature map over a vanilla one, Table 1 theory.

    ``1 - 3/4 alpha = (1 - alpha) + alpha / 4``: the high channels at full size,
    the low ones at a quarter.

    Parameters
    ----------
    alpha : float in [0, 1]

    Returns
    -------
    float
        e.g. 0.625 at alpha = 0.5 (Table 1 prints 63 %).

    Raises
    ------
    ValueError
        alpha outside [0, 1].
    """
    alpha = check_alpha(alpha, "alpha")
    return 1.0 - 0.75 * alpha


# --------------------------------------------------------------------------- counted

@dataclass(frozen=True)
class LayerCost:
    """Counted cost of one convolution layer (counts are per call, whole batch).

    Attributes
    ----------
    macs : dict of str to int
        Multiply-accumulates of each path that exists: "hh", "hl", "lh", "ll"
        for an octave layer (absent paths missing), "conv" for a vanilla one.
        ``N * C_out * H_out * W_out * (C_in / groups) * k * k`` per path, at the
        resolution the path convolves (L->H at the low one, before upsampling).
    pool_adds : int
        Additions inside the 2x2 pooling windows (``count - 1`` per window).
    pool_multiplies : int
        One scaling by ``1 / count`` per pooled output element.
    upsample_copies : int
        Elements written by the nearest upsampling of L->H (one per high
        output element; octref broadcasts it into the sum, the count is the same).
    merge_adds : int
        Element-wise additions that sum two paths into one output map.
    input_elements, output_elements : int
        Activation memory of the input and output maps, in elements (both groups).
    weight_elements : int
        Number of weights (all paths).
    input_shapes, output_shapes : dict of str to tuple
        Shape of each map, keyed "high"/"low" (octave) or "x"/"out" (vanilla).
    count_padding : bool
        Whether taps that fall on the zero padding were counted in ``macs``.
    """

    macs: dict
    pool_adds: int
    pool_multiplies: int
    upsample_copies: int
    merge_adds: int
    input_elements: int
    output_elements: int
    weight_elements: int
    input_shapes: dict = field(default_factory=dict)
    output_shapes: dict = field(default_factory=dict)
    count_padding: bool = True

    @property
    def total_macs(self):
        """Sum of the paths' multiply-accumulates: the "FLOPs" of Table 1."""
        return sum(self.macs.values())

    @property
    def resampling_ops(self):
        """Pooling adds and multiplies plus upsampling copies (not in Table 1)."""
        return self.pool_adds + self.pool_multiplies + self.upsample_copies

    @property
    def output_memory(self):
        """Output activation memory in elements: the "memory" of Table 1."""
        return self.output_elements

    @property
    def input_memory(self):
        """Input activation memory in elements."""
        return self.input_elements


def _taps_in_bounds(n_out, n_in, k, stride, padding):
    """(output, tap) pairs along one axis whose input ``s o + t - pad`` lies in [0, n_in)."""
    total = 0
    for t in range(k):
        shift = t - padding
        first = max(0, -(shift // stride))
        last = min(n_out - 1, (n_in - 1 - shift) // stride)
        total += max(0, last - first + 1)
    return total


def _conv_macs(batch, c_out, c_in_group, k, in_size, out_size, stride, padding, count_padding):
    if count_padding:
        pairs = out_size[0] * out_size[1] * k * k
    else:
        pairs = (_taps_in_bounds(out_size[0], in_size[0], k, stride, padding)
                 * _taps_in_bounds(out_size[1], in_size[1], k, stride, padding))
    return batch * c_out * c_in_group * pairs


def _pool_work(batch, channels, size):
    """(adds, multiplies) of one ceil-mode 2x2 average pooling of (batch, channels, *size)."""
    windows = ceil_half(size[0]) * ceil_half(size[1])
    return batch * channels * (size[0] * size[1] - windows), batch * channels * windows


def octconv_cost(in_channels, out_channels, kernel_size, alpha_in, alpha_out, height, width, *,
                 batch=1, stride=1, groups=1, downsample="avgpool", padding=None,
                 count_padding=True):
    """Count the multiply-adds, resampling work and memory of one OctConv layer.

    Per path (Eq. 4), at the resolution it convolves::

        MACs = N * C_out_path * H_out * W_out * (C_in_path / groups) * k^2

    H->H at the high output size, H->L and L->L at the low output size, L->H at
    the low input size (it is upsampled afterwards; at stride 2 it is not).
    Summed with ``alpha_in = alpha_out = alpha`` and divided by
    :func:`conv_cost`, this is Table 1's ``1 - 3/4 alpha (2 - alpha)`` up to the
    rounding of ``floor(alpha C)`` and of ceil(H/2).

    Parameters
    ----------
    in_channels, out_channels : int
        Total channels C_in and C_out (both groups together).
    kernel_size : int
        k, odd unless the layer has a single group.
    alpha_in, alpha_out : float in [0, 1]
        Low-frequency ratios; ``c_low = int(alpha C)``.
    height, width : int
        H, W of the high-frequency input map (of the map the layer replaces
        when alpha_in = 1: the low input is then ceil(H/2) x ceil(W/2)).
    batch : int, default 1
    stride : {1, 2}
        2 pools every path's input first (the official code's stride).
    groups : int, default 1
        ``groups == in_channels > 1`` is depthwise: only H->H and L->L.
    downsample : {"avgpool", "strided"}
        "strided" makes H->L a stride-2 convolution with no pooling.
    padding : int or None
        None: size-preserving (k - 1) / 2.
    count_padding : bool, default True
        True counts every tap, as the paper does; False counts only the taps
        that land on the map (the zero-padding taps a sparse loop skips).

    Returns
    -------
    LayerCost

    Raises
    ------
    ValueError, TypeError
        An invalid configuration, with the message the implementations give.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kernel_size), ("height", height), ("width", width),
                        ("batch", batch)):
        check_int(value, name, minimum=1)
    count_padding = check_bool(count_padding, "count_padding")
    stride, groups, downsample = check_octave_options(stride, groups, downsample)
    if groups > in_channels:
        raise ValueError(f"groups must be <= in_channels ({in_channels}), got {groups}")
    alpha_in, alpha_out = check_alpha(alpha_in, "alpha_in"), check_alpha(alpha_out, "alpha_out")
    c_in = dict(zip(GROUPS, split_channels(in_channels, alpha_in)))
    c_out = dict(zip(GROUPS, split_channels(out_channels, alpha_out)))
    layout = octave_layout(tuple(c_in.values()), tuple(c_out.values()), groups)
    k = kernel_size
    padding = check_padding(padding, k, layout.paths)
    in_sizes = {"high": (height, width), "low": (ceil_half(height), ceil_half(width))}
    in_sizes = {g: size for g, size in in_sizes.items() if c_in[g]}
    out_sizes = octave_output_sizes(layout.paths, in_sizes, k, stride, padding)
    if min(min(size) for size in out_sizes.values()) < 1:
        raise ValueError(f"kernel_size {k} is larger than the padded input (sizes {in_sizes}, "
                         f"stride {stride}, padding {padding})")

    macs = {}
    pooled = set()  # (group, times): each pooling is done once and shared
    for path in layout.paths:
        src, dst = path_ends(path)
        _, times = path_source(path, stride, downsample)
        conv_stride = 2 if path == "hl" and downsample == "strided" else 1
        for t in range(1, times + 1):
            pooled.add((src, t))
        conv_in = pooled_size(in_sizes[src], times)
        conv_out = conv_output_size(conv_in, (k, k), (conv_stride,) * 2, (padding,) * 2, (1, 1))
        macs[path] = _conv_macs(batch, c_out[dst], c_in[src] // layout.path_groups[path], k,
                                conv_in, conv_out, conv_stride, padding, count_padding)
    pool_adds = pool_multiplies = 0
    for src, times in pooled:
        adds, multiplies = _pool_work(batch, c_in[src], pooled_size(in_sizes[src], times - 1))
        pool_adds += adds
        pool_multiplies += multiplies

    out_shapes = {g: (batch, c_out[g], *size) for g, size in out_sizes.items()}
    upsample_copies = 0
    if "lh" in layout.paths and stride == 1:
        upsample_copies = _product(out_shapes["high"])
    merge_adds = 0
    for group in GROUPS:
        paths_in = sum(1 for p in layout.paths if path_ends(p)[1] == group)
        merge_adds += max(0, paths_in - 1) * _product(out_shapes.get(group, (0,)))
    in_shapes = {g: (batch, c_in[g], *size) for g, size in in_sizes.items()}
    return LayerCost(
        macs=macs, pool_adds=pool_adds, pool_multiplies=pool_multiplies,
        upsample_copies=upsample_copies, merge_adds=merge_adds,
        input_elements=sum(_product(s) for s in in_shapes.values()),
        output_elements=sum(_product(s) for s in out_shapes.values()),
        weight_elements=sum(_product(layout.weight_shape(p, k)) for p in layout.paths),
        input_shapes=in_shapes, output_shapes=out_shapes, count_padding=count_padding)


def conv_cost(in_channels, out_channels, kernel_size, height, width, *, batch=1, stride=1,
              padding=None, groups=1, count_padding=True):
    """Count the multiply-adds and memory of a vanilla convolution.

    ``MACs = N * C_out * H' * W' * (C_in / groups) * k^2`` with
    ``H' = (H + 2 pad - k) // stride + 1``: the denominator of Table 1.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, height, width : int
    batch : int, default 1
    stride : int, default 1
    padding : int or None
        None: (k - 1) // 2, size-preserving for odd k at stride 1.
    groups : int, default 1
    count_padding : bool, default True
        As in :func:`octconv_cost`.

    Returns
    -------
    LayerCost
        ``macs = {"conv": ...}``; no resampling work.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kernel_size), ("height", height), ("width", width),
                        ("batch", batch), ("groups", groups)):
        check_int(value, name, minimum=1)
    count_padding = check_bool(count_padding, "count_padding")
    k = kernel_size
    if padding is None:
        padding = (k - 1) // 2
    padding = check_pair(padding, "padding", 0)
    stride = check_pair(stride, "stride", 1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels ({in_channels}) and "
                         f"out_channels ({out_channels})")
    out_size = conv_output_size((height, width), (k, k), stride, padding, (1, 1))
    if min(out_size) < 1:
        raise ValueError(f"kernel_size {k} is larger than the padded input "
                         f"({height + 2 * padding[0]}, {width + 2 * padding[1]})")
    macs = _conv_macs(batch, out_channels, in_channels // groups, k, (height, width),
                      out_size, stride[0], padding[0], count_padding)
    in_shape = (batch, in_channels, height, width)
    out_shape = (batch, out_channels, *out_size)
    w_shape = (out_channels, in_channels // groups, k, k)
    return LayerCost(macs={"conv": macs}, pool_adds=0, pool_multiplies=0, upsample_copies=0,
                     merge_adds=0, input_elements=_product(in_shape),
                     output_elements=_product(out_shape),
                     weight_elements=_product(w_shape), input_shapes={"x": in_shape},
                     output_shapes={"out": out_shape}, count_padding=count_padding)


def _product(shape):
    """The number of elements of a shape, as an exact Python int (no overflow)."""
    return math.prod(int(n) for n in shape)


# --------------------------------------------------------------------------- Table 1

class Table1Row(NamedTuple):
    """One row of Table 1: counted ratios beside the formulas (fractions, not %)."""

    alpha: float
    flops_counted: float
    flops_theory: float
    memory_counted: float
    memory_theory: float


def table1(alphas=TABLE1_ALPHAS, *, channels=64, kernel_size=3, height=56, width=56, batch=1):
    """Table 1 counted on a real layer: OctConv over vanilla, FLOPs and memory.

    Each row counts ``octconv_cost(C, C, k, alpha, alpha, H, W)`` over
    ``conv_cost(C, C, k, H, W)``: MACs for FLOPs, output elements for memory.
    With C a multiple of 8 and even H, W (the default 64 channels, 56 x 56)
    every count is exact and equals the formulas :func:`flops_ratio` and
    :func:`memory_ratio`.

    The paper prints these to whole percents: 100/82/67/44/30/26/25 % FLOPs
    and 100/91/81/63/44/35/25 % memory. All agree with the formulas rounded
    half up except the memory at alpha = 0.875, where ``1 - 3/4 * 0.875 =
    34.375 %`` rounds to 34, not the printed 35 (see ``TABLE1_PRINTED``).

    Parameters
    ----------
    alphas : sequence of float in [0, 1]
        alpha_in = alpha_out of each row.
    channels, kernel_size, height, width, batch : int
        The layer counted (C_in = C_out = channels).

    Returns
    -------
    list of Table1Row
    """
    vanilla = conv_cost(channels, channels, kernel_size, height, width, batch=batch)
    rows = []
    for alpha in alphas:
        octave = octconv_cost(channels, channels, kernel_size, alpha, alpha, height, width,
                              batch=batch)
        rows.append(Table1Row(float(alpha), octave.total_macs / vanilla.total_macs,
                              flops_ratio(alpha), octave.output_memory / vanilla.output_memory,
                              memory_ratio(alpha)))
    return rows
