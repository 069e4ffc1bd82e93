"""The octave representation: a feature map split into a high and a low group.

Section 3.1 of Chen et al., "Drop an Octave" (ICCV 2019): a feature map with C
channels is split by a ratio alpha into

* X^H, the high-frequency group: ``C - floor(alpha * C)`` channels at full
  resolution, shape ``(N, C_H, H, W)``;
* X^L, the low-frequency group: ``floor(alpha * C)`` channels at half
  resolution, shape ``(N, C_L, ceil(H / 2), ceil(W / 2))``.

An octave convolution has four weight tensors, one per path between the groups
(Eq. 4)::

    hh: H -> H   (C_out_high, C_in_high / groups, k, k)
    hl: H -> L   (C_out_low,  C_in_high / groups, k, k)
    lh: L -> H   (C_out_high, C_in_low  / groups, k, k)
    ll: L -> L   (C_out_low,  C_in_low  / groups, k, k)

A path whose input or output group is empty does not exist and its weight is
``None``.
"""

from typing import NamedTuple

import numpy as np

from octref.checks import check_alpha, check_int

__all__ = ["Octave", "OctaveWeights", "GROUPS", "PATHS", "PATH_NAMES", "path_ends",
           "split_channels", "OctaveLayout", "octave_layout", "octave_weight_shapes",
           "init_octave_weights", "ceil_half", "pooled_size", "conv_output_size",
           "path_source", "octave_output_sizes"]

#: The two frequency groups, spelled out, in :class:`Octave` field order.
GROUPS = ("high", "low")
#: The four paths, named ``<from><to>``, in :class:`OctaveWeights` order.
PATHS = ("hh", "hl", "lh", "ll")
#: Readable path names for messages.
PATH_NAMES = {"hh": "H->H", "hl": "H->L", "lh": "L->H", "ll": "L->L"}


class Octave(NamedTuple):
    """A feature map split into frequency groups (Section 3.1).

    Attributes
    ----------
    high : ndarray of shape (N, C_H, H, W), or None
        X^H, the high-frequency group at full resolution. ``None`` when the
        map has no high group (alpha = 1).
    low : ndarray of shape (N, C_L, ceil(H/2), ceil(W/2)), or None
        X^L, the low-frequency group at half resolution. ``None`` when the map
        has no low group (alpha = 0, e.g. the input of the first layer).

    Notes
    -----
    The same type holds biases, one vector per output map (as the official
    code): ``Octave(high=b_high, low=b_low)`` with ``b_high`` of shape
    (C_out_high,) and ``b_low`` of shape (C_out_low,).
    """

    high: np.ndarray | None
    low: np.ndarray | None


class OctaveWeights(NamedTuple):
    """The four weight tensors of an octave convolution (Eq. 4).

    The name of each field is ``<from><to>``: ``hl`` is H -> L.

    Attributes
    ----------
    hh : ndarray of shape (C_out_high, C_in_high / groups, k, k), or None
        W^HH, high to high.
    hl : ndarray of shape (C_out_low, C_in_high / groups, k, k), or None
        W^HL, high to low (applied to the pooled high map).
    lh : ndarray of shape (C_out_high, C_in_low / groups, k, k), or None
        W^LH, low to high (its output is upsampled).
    ll : ndarray of shape (C_out_low, C_in_low / groups, k, k), or None
        W^LL, low to low.

    Notes
    -----
    ``None`` marks an absent path: its input or output group is empty, or the
    layer is depthwise and the path crosses frequencies.
    """

    hh: np.ndarray | None
    hl: np.ndarray | None
    lh: np.ndarray | None
    ll: np.ndarray | None


_PATH_ENDS = {path: (GROUPS["hl".index(path[0])], GROUPS["hl".index(path[1])])
              for path in PATHS}


def path_ends(path):
    """The (input group, output group) of a path, spelled out: ``"hl"`` -> ("high", "low")."""
    return _PATH_ENDS[path]


def split_channels(channels, alpha):
    """Split a channel count into (high, low) groups by the ratio alpha.

    ``c_low = int(alpha * channels)``, computed in floating point and truncated,
    exactly as the official Gluon code does, and ``c_high = channels - c_low``.
    This is floor(alpha C) whenever the product is exact, but not always:
    ``0.29 * 100`` is 28.999999999999996 in binary floating point, so
    ``split_channels(100, 0.29)`` is (72, 28), not (71, 29). octref keeps the
    official rounding so that its layers have the same channel counts as
    models built with the official code.

    Parameters
    ----------
    channels : int
        Total number of channels C, >= 0.
    alpha : float
        Fraction of channels in the low group, in [0, 1].

    Returns
    -------
    c_high, c_low : int
        ``C - int(alpha * C)`` and ``int(alpha * C)``.

    Examples
    --------
    >>> split_channels(64, 0.5)
    (32, 32)
    >>> split_channels(3, 0.5)
    (2, 1)
    >>> split_channels(100, 0.29)
    (72, 28)
    """
    channels = check_int(channels, "channels", minimum=0)
    alpha = check_alpha(alpha, "alpha")
    c_low = int(alpha * channels)
    return channels - c_low, c_low


class OctaveLayout(NamedTuple):
    """Which paths an octave convolution has and how each one is grouped.

    The one description of a layer's layout: initialisation, argument
    checking, the cost model and the conformance kit all ask
    :func:`octave_layout` instead of deciding it again.

    Attributes
    ----------
    in_channels, out_channels : dict
        ``{"high": C_H, "low": C_L}``; a group with 0 channels is absent.
    groups : int
        The ``groups`` argument of the layer.
    depthwise : bool
        ``groups`` equals the total input channels (and exceeds 1).
    paths : tuple of str
        The present paths, in ``PATHS`` order.
    path_groups : dict
        ``{path: groups}``: the ``groups`` each present path convolves with
        (a depthwise layer's H->H and L->L are each depthwise).
    """

    in_channels: dict
    out_channels: dict
    groups: int
    depthwise: bool
    paths: tuple
    path_groups: dict

    def weight_shape(self, path, kernel_size):
        """(C_out_part, C_in_part / groups, k, k) of a present path."""
        src, dst = path_ends(path)
        return (self.out_channels[dst], self.in_channels[src] // self.path_groups[path],
                kernel_size, kernel_size)


def octave_layout(in_channels, out_channels, groups=1):
    """The paths of an octave convolution and their groups, from its channel counts.

    Rules (Eq. 4, and the official code where the paper is silent):

    * a path exists when its input group and its output group both have
      channels;
    * ``groups`` applies to every path, and must divide each path's input and
      output channels;
    * a depthwise layer (``groups`` equal to the total input channels, > 1)
      keeps only H->H and L->L, each depthwise, and every output group needs an
      input group of the same frequency.

    Parameters
    ----------
    in_channels, out_channels : (int, int)
        (C_high, C_low) of the input and of the output, each >= 0.
    groups : int, default 1

    Returns
    -------
    OctaveLayout

    Raises
    ------
    ValueError, TypeError
        Negative or non-integer counts, no input or no output channels,
        ``groups`` that does not divide a path, or an output group nothing
        feeds.
    """
    c_in = {g: check_int(c, f"in_channels ({g})", minimum=0) for g, c in zip(GROUPS, in_channels)}
    c_out = {g: check_int(c, f"out_channels ({g})", minimum=0)
             for g, c in zip(GROUPS, out_channels)}
    groups = check_int(groups, "groups", minimum=1)
    total_in = sum(c_in.values())
    if total_in == 0 or sum(c_out.values()) == 0:
        raise ValueError(f"an octave convolution needs input and output channels, got "
                         f"in_channels {tuple(c_in.values())}, out_channels "
                         f"{tuple(c_out.values())}")
    if groups > total_in:
        raise ValueError(f"groups must be <= the input channels ({total_in}), got {groups}")
    depthwise = groups > 1 and groups == total_in
    paths, path_groups = [], {}
    for path in PATHS:
        src, dst = path_ends(path)
        if c_in[src] == 0 or c_out[dst] == 0 or (depthwise and src != dst):
            continue
        g = c_in[src] if depthwise else groups
        if c_in[src] % g or c_out[dst] % g:
            kind = "depthwise layer: " if depthwise else ""
            raise ValueError(
                f"{kind}groups={groups} must divide the channels of every path; the "
                f"{PATH_NAMES[path]} path has {c_in[src]} input and {c_out[dst]} output channels")
        paths.append(path)
        path_groups[path] = g
    for dst in GROUPS:
        if c_out[dst] > 0 and not any(path_ends(p)[1] == dst for p in paths):
            raise ValueError(
                f"depthwise layer (groups={groups}): the {dst} output group has {c_out[dst]} "
                f"channels but no input group of the same frequency feeds it; use "
                f"alpha_out == alpha_in")
    return OctaveLayout(c_in, c_out, groups, depthwise, tuple(paths), path_groups)


def octave_weight_shapes(in_channels, out_channels, kernel_size, alpha_in, alpha_out, *,
                         groups=1):
    """The shape of each path's weight in an octave convolution layer, None if absent.

    The channels are split by :func:`split_channels` and the paths decided by
    :func:`octave_layout`.

    Parameters
    ----------
    in_channels, out_channels : int
        Total channels C_in and C_out (both groups together), >= 1.
    kernel_size : int
        k, the side of the square kernel.
    alpha_in, alpha_out : float in [0, 1]
    groups : int, default 1

    Returns
    -------
    OctaveWeights of tuples
        ``hh`` (C_out_high, C_in_high/g, k, k), ``hl`` (C_out_low, C_in_high/g, k, k),
        ``lh`` (C_out_high, C_in_low/g, k, k), ``ll`` (C_out_low, C_in_low/g, k, k);
        ``None`` for absent paths.
    """
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    out_channels = check_int(out_channels, "out_channels", minimum=1)
    kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
    check_int(groups, "groups", minimum=1)
    alpha_in, alpha_out = check_alpha(alpha_in, "alpha_in"), check_alpha(alpha_out, "alpha_out")
    if groups > in_channels:
        raise ValueError(f"groups must be <= in_channels ({in_channels}), got {groups}")
    layout = octave_layout(split_channels(in_channels, alpha_in),
                           split_channels(out_channels, alpha_out), groups)
    return OctaveWeights(*(layout.weight_shape(p, kernel_size) if p in layout.paths else None
                           for p in PATHS))


def init_octave_weights(in_channels, out_channels, kernel_size, alpha_in, alpha_out,
                        *, groups=1, rng=None, dtype=np.float64):
    """Random weights for an octave convolution, He-normal scaled.

    Every weight is drawn from N(0, 2 / fan_in) with
    ``fan_in = (in_channels / groups) * k * k`` (depthwise: ``k * k``), the
    fan-in of the vanilla convolution the layer replaces, so an OctConv layer
    starts with the same output scale as the layer it replaces.

    Parameters
    ----------
    in_channels, out_channels : int
        Total channels C_in and C_out (both groups together).
    kernel_size : int
        k, the side of the square kernel.
    alpha_in, alpha_out : float in [0, 1]
        Low-frequency ratios of the input and output.
    groups : int, default 1
        Passed to every path. ``groups == in_channels`` means depthwise: only
        H->H and L->L exist, each depthwise, and out_channels must split into
        multiples of the input groups.
    rng : numpy.random.Generator, optional
        Source of randomness; a fresh ``default_rng()`` when omitted.
    dtype : numpy float dtype, default float64

    Returns
    -------
    OctaveWeights
        ``hh`` (C_out_high, C_in_high/g, k, k), ``hl`` (C_out_low, C_in_high/g, k, k),
        ``lh`` (C_out_high, C_in_low/g, k, k), ``ll`` (C_out_low, C_in_low/g, k, k);
        ``None`` for absent paths.
    """
    shapes = octave_weight_shapes(in_channels, out_channels, kernel_size, alpha_in, alpha_out,
                                  groups=groups)
    if rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    depthwise = groups == in_channels and groups > 1
    fan_in = kernel_size**2 if depthwise else in_channels / groups * kernel_size**2
    std = np.sqrt(2.0 / fan_in)
    return OctaveWeights(*(None if shape is None else
                           (rng.standard_normal(shape) * std).astype(dtype)
                           for shape in shapes))


# --------------------------------------------------------------------------- sizes

def ceil_half(n):
    """Size of a side after ceil-mode 2x2 pooling: ceil(n / 2)."""
    return (n + 1) // 2


def pooled_size(size, times):
    """Spatial size (rows, cols) after ceil-mode 2x2 pooling ``times`` times."""
    for _ in range(times):
        size = (ceil_half(size[0]), ceil_half(size[1]))
    return tuple(size)


def conv_output_size(size, kernel, stride, padding, dilation):
    """H' = floor((H + 2 pad - d (k - 1) - 1) / s) + 1, per axis (rows, cols)."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))


def path_source(path, stride, downsample):
    """(input group, times pooled) of the map a path's convolution reads (Eq. 4).

    Stride 2 pools every path's input once more, except L->H, where that
    pooling and the upsampling cancel; H->L pools X^H once ("avgpool") or not
    at all ("strided": a stride-2 convolution of X^H itself).
    """
    times = stride - 1
    if path == "hl" and downsample == "avgpool":
        times += 1
    if path == "lh":
        times = 0
    return path_ends(path)[0], times


def octave_output_sizes(paths, in_sizes, kernel_size, stride, padding):
    """Spatial sizes (rows, cols) of the output groups, ``{"high": ..., "low": ...}``.

    A single-group layer (only H->H or only L->L) is a plain convolution of the
    (at stride 2, pooled) map. Otherwise every path preserves size, so the
    high output is the high input (pooled at stride 2) and the low output is
    half of that (ceil); without a high input the high output is twice the
    low input, which is what nearest upsampling of L->H produces.

    Parameters
    ----------
    paths : tuple of str
        The present paths.
    in_sizes : dict
        ``{group: (H, W)}`` of the present input groups.
    kernel_size, stride, padding : int
    """
    k = kernel_size
    if tuple(paths) in (("hh",), ("ll",)):
        group = path_ends(paths[0])[0]
        size = pooled_size(in_sizes[group], stride - 1)
        return {group: conv_output_size(size, (k, k), (1, 1), (padding,) * 2, (1, 1))}
    if "high" in in_sizes:
        high = pooled_size(in_sizes["high"], stride - 1)
    else:
        low = in_sizes["low"]
        high = tuple(low) if stride == 2 else (2 * low[0], 2 * low[1])
    out_groups = {path_ends(p)[1] for p in paths}
    sizes = {}
    if "high" in out_groups:
        sizes["high"] = tuple(high)
    if "low" in out_groups:
        sizes["low"] = pooled_size(high, 1)
    return sizes
