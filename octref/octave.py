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

__all__ = ["Octave", "OctaveWeights", "split_channels", "octave_weight_shapes",
           "init_octave_weights"]


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

    The same type holds biases: ``Octave(high=b_high, low=b_low)`` with
    ``b_high`` of shape (C_out_high,) and ``b_low`` of shape (C_out_low,).
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

    ``None`` marks an absent path: its input or output group is empty, or the
    layer is depthwise and the path crosses frequencies.
    """

    hh: np.ndarray | None
    hl: np.ndarray | None
    lh: np.ndarray | None
    ll: np.ndarray | None


def split_channels(channels, alpha):
    """Split a channel count into (high, low) groups by the ratio alpha.

    ``c_low = int(alpha * channels)`` (rounded down, as the official Gluon code
    does) and ``c_high = channels - c_low``: the low group never gets more than
    its share, the high group takes the remainder.

    Parameters
    ----------
    channels : int
        Total number of channels C, >= 0.
    alpha : float
        Fraction of channels in the low group, in [0, 1].

    Returns
    -------
    c_high, c_low : int
        ``C - floor(alpha * C)`` and ``floor(alpha * C)``.

    Examples
    --------
    >>> split_channels(64, 0.5)
    (32, 32)
    >>> split_channels(3, 0.5)
    (2, 1)
    >>> split_channels(10, 0.25)
    (8, 2)
    """
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
        raise TypeError(f"channels must be an int, got {type(channels).__name__}")
    if channels < 0:
        raise ValueError(f"channels must be >= 0, got {channels}")
    alpha = _check_alpha(alpha, "alpha")
    c_low = int(alpha * channels)
    return int(channels) - c_low, c_low


def _check_alpha(alpha, name):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number in [0, 1], got {type(alpha).__name__}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {alpha}")
    return float(alpha)


def octave_weight_shapes(in_channels, out_channels, kernel_size, alpha_in, alpha_out, *,
                         groups=1):
    """The shape of each path's weight in an octave convolution layer, None if absent.

    A path exists when its input and output groups are non-empty, except the
    crossing paths (H->L, L->H) of a depthwise layer (``groups ==
    in_channels > 1``), whose H->H and L->L are each depthwise.

    Parameters
    ----------
    in_channels, out_channels : int
        Total channels C_in and C_out (both groups together).
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

    Raises
    ------
    ValueError, TypeError
        Non-integer or non-positive sizes, alpha outside [0, 1], groups that do
        not divide a path's channels, or a depthwise layer with an output group
        no input group feeds.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kernel_size), ("groups", groups)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    c_in = dict(zip("hl", split_channels(in_channels, alpha_in)))
    c_out = dict(zip("hl", split_channels(out_channels, alpha_out)))
    if groups > in_channels:
        raise ValueError(f"groups must be <= in_channels ({in_channels}), got {groups}")
    depthwise = groups == in_channels and groups > 1
    k = kernel_size
    shapes = {}
    for path in ("hh", "hl", "lh", "ll"):
        src, dst = path
        present = c_in[src] > 0 and c_out[dst] > 0 and not (depthwise and src != dst)
        if not present:
            shapes[path] = None
            continue
        path_groups = c_in[src] if depthwise else groups
        if c_in[src] % path_groups or c_out[dst] % path_groups:
            kind = "depthwise layer: " if depthwise else ""
            raise ValueError(
                f"{kind}groups={groups} must divide the channels of every path; path {path} "
                f"has {c_in[src]} input and {c_out[dst]} output channels")
        shapes[path] = (c_out[dst], c_in[src] // path_groups, k, k)
    for dst in "hl":
        fed = shapes["h" + dst] is not None or shapes["l" + dst] is not None
        if c_out[dst] > 0 and not fed:
            raise ValueError(
                f"depthwise layer (groups={groups}): output group {dst!r} has {c_out[dst]} "
                f"channels but no input group of the same frequency feeds it; use "
                f"alpha_out == alpha_in")
    return OctaveWeights(**shapes)


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
