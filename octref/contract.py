"""The contract every implementation shares: argument checks, casting, caches, memory.

``octref.loops``, ``octref.im2col`` and ``octref.rowshift`` validate their
public arguments here, so all three raise the same ``ValueError`` /
``TypeError`` for the same bad call. Nothing here convolves, and nothing here
decides semantics: which paths exist and how they are grouped come from
:func:`octref.octave.octave_layout`, the sizes from :mod:`octref.octave`.

Dtypes: a floating input keeps its dtype; integer and boolean inputs (handy for
hand-checked examples) compute in float64. float16 input is computed in
float32 and the result rounded back to float16 at the end, as the major
frameworks accumulate half precision: summing taps in float16 overflows
(250 * 250 + 250 * 250 is inf in float16) where the result itself fits.
Weights and biases are cast to the compute dtype, so the output dtype always
follows the input.

Private copies: the arrays a forward returns in its cache are octref's own
(copied), so an optimiser that updates ``w`` in place, or a caller who reuses
``x``, cannot change what the backward computes.

Memory: before allocating, each call estimates what it needs and refuses, with
a ``MemoryLimitError`` giving both numbers, what would exceed the limit
(default 4 GiB; the ``OCTREF_MEMORY_LIMIT`` environment variable, e.g. ``16G``,
or :func:`set_memory_limit` change it).
"""

import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from octref.checks import check_choice, check_int, check_pair, real_array
from octref.octave import (
    GROUPS,
    PATH_NAMES,
    PATHS,
    Octave,
    OctaveLayout,
    OctaveWeights,
    ceil_half,
    conv_output_size,
    octave_layout,
    octave_output_sizes,
    path_ends,
)

__all__ = ["DOWNSAMPLE_MODES", "ConvParams", "check_conv_args", "OctaveSpec",
           "check_octconv_args", "check_octave_options", "check_padding", "check_grad",
           "check_octave_grad", "Cache", "check_cache",
           "MemoryLimitError", "memory_limit", "set_memory_limit", "check_memory",
           "compute_dtype"]

#: The accepted values of ``downsample``.
DOWNSAMPLE_MODES = ("avgpool", "strided")

DEFAULT_MEMORY_LIMIT = 4 * 2**30
_memory_limit = None


# --------------------------------------------------------------------------- memory

class MemoryLimitError(ValueError, MemoryError):
    """A call would need more memory than octref's limit (see :func:`memory_limit`)."""


def _parse_bytes(text):
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in units else ""
    try:
        value = float(text[:len(text) - len(unit)]) * units[unit]
    except ValueError:
        raise ValueError(f"OCTREF_MEMORY_LIMIT must be a number of bytes such as 8G or "
                         f"500M, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"OCTREF_MEMORY_LIMIT must be positive, got {text!r}")
    return int(value)


def memory_limit():
    """The most bytes one octref call may allocate.

    :func:`set_memory_limit` if it was called, else the ``OCTREF_MEMORY_LIMIT``
    environment variable (bytes, or with a K/M/G/T suffix), else 4 GiB.
    """
    if _memory_limit is not None:
        return _memory_limit
    text = os.environ.get("OCTREF_MEMORY_LIMIT")
    return DEFAULT_MEMORY_LIMIT if not text else _parse_bytes(text)


def set_memory_limit(nbytes):
    """Set the limit of :func:`memory_limit` (an int of bytes), or None for the default.

    Returns the previous setting, so a caller can restore it.
    """
    global _memory_limit
    previous = _memory_limit
    _memory_limit = None if nbytes is None else check_int(nbytes, "nbytes", minimum=1)
    return previous


def _human(nbytes):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def check_memory(nbytes, what):
    """Refuse (``MemoryLimitError``) a call that would allocate more than the limit.

    Parameters
    ----------
    nbytes : int
        The estimated working memory of the call.
    what : str
        What needs it, for the message (e.g. "conv_forward's output").
    """
    limit = memory_limit()
    if nbytes > limit:
        raise MemoryLimitError(
            f"{what} needs {_human(nbytes)}, more than octref's memory limit of "
            f"{_human(limit)}; raise it with OCTREF_MEMORY_LIMIT (e.g. 16G) or "
            f"octref.contract.set_memory_limit(nbytes) if the machine has the memory")


# --------------------------------------------------------------------------- dtypes

def compute_dtype(*arrays):
    """(compute dtype, output dtype) of a call on these arrays.

    The inputs' float dtype; float64 for integer and boolean inputs; float16
    computes in float32 and is rounded back to float16 at the end.
    """
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    out = np.result_type(*floats) if floats else np.dtype(np.float64)
    return (np.dtype(np.float32) if out == np.float16 else out), out


def _cast(array, dtype, private):
    """``array`` in ``dtype``; a copy of its own when ``private``, else maybe a view."""
    if private:
        return np.array(array, dtype=dtype, copy=True, order="C")
    return array.astype(dtype, copy=False)


def _ndim4(array, name, layout):
    if array.ndim != 4:
        raise ValueError(f"{name} must be 4-D {layout}, got shape {array.shape}")
    return array


# --------------------------------------------------------------------------- caches

class Cache(NamedTuple):
    """What a forward leaves for its backward; the same layout in every implementation.

    Attributes
    ----------
    made_by : str
        The forward that made it, e.g. ``"octref.loops.octconv_forward"``; a
        backward refuses a cache made by another function.
    x, w :
        The forward's input and weights, cast to the compute dtype and copied
        (octref's own arrays; None where an implementation keeps ``saved``
        instead).
    has_bias : bool or dict
        Whether the forward had a bias (octave: ``{"high": bool, "low": bool}``).
    spec : ConvParams or OctaveSpec
        The validated configuration.
    saved : object
        Whatever else the implementation keeps (None for most).
    """

    made_by: str
    x: object
    w: object
    has_bias: object
    spec: object
    saved: object = None


def check_cache(cache, made_by):
    """``cache`` if ``made_by`` made it, else a TypeError naming who did."""
    if not isinstance(cache, Cache):
        raise TypeError(f"cache must be the cache returned by {made_by}, got "
                        f"{type(cache).__name__}")
    if cache.made_by != made_by:
        raise TypeError(f"cache was made by {cache.made_by}, not by {made_by}: pass it to "
                        f"the backward of the function that made it")
    return cache


# --------------------------------------------------------------------------- conv

@dataclass(frozen=True)
class ConvParams:
    """Validated hyper-parameters of a plain convolution (all pairs are (rows, cols)).

    ``dtype`` is the compute dtype, ``out_dtype`` the dtype of the results.
    """

    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out_size: tuple
    dtype: np.dtype = np.dtype(np.float64)
    out_dtype: np.dtype = np.dtype(np.float64)


def check_conv_args(x, w, b, stride, padding, dilation, groups, *, private=True):
    """Validate a plain convolution call.

    Returns ``(x, w, b, params)``: the arrays in the compute dtype (copies of
    their own when ``private``) and a :class:`ConvParams`.
    """
    x = _ndim4(real_array(x, "x"), "x", "(N, C, H, W)")
    w = _ndim4(real_array(w, "w"), "w", "(C_out, C_in / groups, kh, kw)")
    groups = check_int(groups, "groups", minimum=1)
    stride = check_pair(stride, "stride", 1)
    padding = check_pair(padding, "padding", 0)
    dilation = check_pair(dilation, "dilation", 1)
    n, c_in, height, width = x.shape
    c_out = w.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({c_in}) and the "
                         f"output channels ({c_out})")
    if w.shape[1] * groups != c_in:
        raise ValueError(f"w must have shape (C_out, C_in / groups, kh, kw) = "
                         f"({c_out}, {c_in // groups}, kh, kw) for x with {c_in} channels and "
                         f"groups={groups}, got {w.shape}")
    if min(w.shape) == 0 or min(x.shape) == 0:
        raise ValueError(f"x and w must not be empty, got x {x.shape}, w {w.shape}")
    out_size = conv_output_size((height, width), w.shape[2:], stride, padding, dilation)
    if min(out_size) < 1:
        raise ValueError(f"w: the kernel {w.shape[2:]} with dilation {dilation} is larger than "
                         f"the padded input {(height + 2 * padding[0], width + 2 * padding[1])}")
    dtype, out_dtype = compute_dtype(x)
    check_memory(dtype.itemsize * (x.size + n * c_out * out_size[0] * out_size[1]),
                 f"a convolution of x {x.shape} with w {w.shape} (its input copy and output)")
    if b is not None:
        b = real_array(b, "b")
        if b.shape != (c_out,):
            raise ValueError(f"b must have shape (C_out,) = ({c_out},), got {b.shape}")
        b = _cast(b, dtype, private)
    params = ConvParams(stride, padding, dilation, groups, out_size, dtype, out_dtype)
    return _cast(x, dtype, private), _cast(w, dtype, private), b, params


# --------------------------------------------------------------------------- octconv

@dataclass(frozen=True)
class OctaveSpec:
    """Validated configuration of one octave convolution call.

    Attributes
    ----------
    stride : int
        1 or 2.
    padding : int
        Zero padding of every path, in the coordinates of the map each path reads.
    kernel : int
        k, the side of the square kernel.
    downsample : str
        "avgpool" (Eq. 4) or "strided" (the H->L path as a stride-2 convolution).
    layout : OctaveLayout
        Which paths exist and their groups (:func:`octref.octave.octave_layout`).
    in_size, out_size : dict
        Spatial sizes (rows, cols) of the ``"high"`` and ``"low"`` maps; absent
        groups missing.
    batch : int
        N, the batch size.
    dtype, out_dtype : numpy dtype
        The compute dtype and the dtype of the results.
    """

    stride: int
    padding: int
    kernel: int
    downsample: str
    layout: OctaveLayout
    in_size: dict
    out_size: dict
    batch: int
    dtype: np.dtype
    out_dtype: np.dtype

    @property
    def paths(self):
        """The present paths, a subset of ("hh", "hl", "lh", "ll")."""
        return self.layout.paths

    @property
    def path_groups(self):
        """``{path: groups}`` of the present paths."""
        return self.layout.path_groups

    @property
    def depthwise(self):
        return self.layout.depthwise

    @property
    def out_channels(self):
        """``{group: channels}`` of the present output groups."""
        return {g: c for g, c in self.layout.out_channels.items() if c > 0}

    @property
    def in_shapes(self):
        """``{group: (N, C, H, W)}`` of the present input groups."""
        return {g: (self.batch, self.layout.in_channels[g]) + tuple(size)
                for g, size in self.in_size.items()}

    @property
    def out_shapes(self):
        """``{group: (N, C, H', W')}`` of the present output groups."""
        return {g: (self.batch, self.out_channels[g]) + tuple(size)
                for g, size in self.out_size.items()}


def _octave_arrays(x, name):
    if not isinstance(x, tuple) or len(x) != 2:
        raise TypeError(f"{name} must be an Octave(high, low), got {type(x).__name__}")
    arrays = {}
    for group, value in zip(GROUPS, x):
        field = f"{name}.{group}"
        if value is not None:
            arrays[group] = _ndim4(real_array(value, field), field, "(N, C, H, W)")
    return arrays


def _weight_arrays(w):
    if not isinstance(w, tuple) or len(w) != 4:
        raise TypeError(f"w must be an OctaveWeights(hh, hl, lh, ll), got {type(w).__name__}")
    ws = {}
    for path, value in zip(PATHS, w):
        if value is not None:
            ws[path] = _ndim4(real_array(value, f"w.{path}"), f"w.{path}",
                              "(C_out_part, C_in_part / groups, k, k)")
    if not ws:
        raise ValueError("w must have at least one weight: all of w.hh, w.hl, w.lh, w.ll are None")
    return ws


def _check_input_shapes(xs):
    if "high" in xs and "low" in xs:
        high, low = xs["high"].shape, xs["low"].shape
        if high[0] != low[0]:
            raise ValueError(f"x.high and x.low must have the same batch size, got "
                             f"{high[0]} and {low[0]}")
        expected = (ceil_half(high[2]), ceil_half(high[3]))
        if low[2:] != expected:
            raise ValueError(f"x.low must have shape (N, C_L, ceil(H/2), ceil(W/2)) = "
                             f"({low[0]}, {low[1]}, {expected[0]}, {expected[1]}) for x.high of "
                             f"shape {high}, got {low}")
    for group, array in xs.items():
        if min(array.shape) == 0:
            raise ValueError(f"x.{group} must not be empty, got shape {array.shape}")


def _output_channels(ws):
    """{group: channels} each output group gets, read off the weights into it."""
    c_out = {}
    for path, weight in ws.items():
        dst = path_ends(path)[1]
        if min(weight.shape) == 0:
            raise ValueError(f"w.{path} must not be empty, got shape {weight.shape}")
        if c_out.setdefault(dst, weight.shape[0]) != weight.shape[0]:
            raise ValueError(f"w: the paths into the {dst} output disagree on its channels: "
                             f"w.{path} has {weight.shape[0]}, another path {c_out[dst]}")
    return c_out


def _check_paths(ws, xs, layout):
    """The weights given are exactly the layout's paths."""
    for path in PATHS:
        src, dst = path_ends(path)
        if path in ws and path not in layout.paths:
            if src not in xs:
                why = f"x.{src} is None"
            else:
                why = f"the layer is depthwise (groups={layout.groups} == input channels)"
            raise ValueError(f"w.{path} is given but the {PATH_NAMES[path]} path is absent: {why}")
        if path in layout.paths and path not in ws:
            raise ValueError(f"w.{path} is None but the {PATH_NAMES[path]} path is present "
                             f"(x has a {src} group and another weight writes the {dst} output)")


def _check_kernel(ws):
    kernels = {weight.shape[2:] for weight in ws.values()}
    if len(kernels) != 1:
        raise ValueError(f"w: every path must have the same kernel size, got {sorted(kernels)}")
    kh, kw = kernels.pop()
    if kh != kw:
        raise ValueError(f"w: kernels must be square (k, k), got ({kh}, {kw})")
    return kh


def check_octave_options(stride, groups, downsample):
    """(stride, groups, downsample) of an octave convolution, checked."""
    stride = check_int(stride, "stride")
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2 (pooling before every path), got {stride}")
    groups = check_int(groups, "groups", minimum=1)
    downsample = check_choice(downsample, "downsample", DOWNSAMPLE_MODES)
    if downsample == "strided" and stride != 1:
        raise ValueError("downsample='strided' replaces the pooling of the H->L path by a "
                         f"stride-2 convolution and needs stride=1, got stride={stride}")
    return stride, groups, downsample


def check_padding(padding, k, paths):
    """The padding of an octave convolution: (k-1)/2 unless the layer has one plain path."""
    # Maps only line up when every path preserves size, so a layer with more
    # than one path, or one that crosses frequencies, needs odd k and (k-1)/2.
    if padding is None:
        if k % 2 == 0:
            raise ValueError(f"padding=None means size-preserving (k-1)/2 and needs an odd "
                             f"kernel, got k={k}")
        return (k - 1) // 2
    padding = check_int(padding, "padding", minimum=0)
    if paths not in (("hh",), ("ll",)) and (k % 2 == 0 or padding != (k - 1) // 2):
        raise ValueError(f"padding must be (k-1)/2 = {(k - 1) / 2:g} with an odd kernel "
                         f"(got k={k}, padding={padding}): the high and low maps only line up "
                         "when every path preserves size")
    return padding


def _check_biases(b, c_out, dtype, private):
    if b is None:
        return None
    if not isinstance(b, tuple) or len(b) != 2:
        raise TypeError(f"b must be an Octave(high, low) of bias vectors, got "
                        f"{type(b).__name__}")
    biases = []
    for group, value in zip(GROUPS, b):
        field = f"b.{group}"
        if value is None:
            biases.append(None)
            continue
        if group not in c_out:
            raise ValueError(f"{field} is given but the layer has no {group} output")
        value = real_array(value, field)
        if value.shape != (c_out[group],):
            raise ValueError(f"{field} must have shape ({c_out[group]},), got {value.shape}")
        biases.append(_cast(value, dtype, private))
    return Octave(*biases)


def check_octconv_args(x, w, b, stride, padding, groups, downsample, *, private=True):
    """Validate an octave convolution call.

    Returns ``(x, w, b, spec)``: ``x`` an :class:`Octave`, ``w`` an
    :class:`OctaveWeights` and ``b`` an :class:`Octave` of biases (or None), all
    in the compute dtype (copies of their own when ``private``), and an
    :class:`OctaveSpec`.
    """
    xs = _octave_arrays(x, "x")
    if not xs:
        raise ValueError("x must have at least one group: x.high and x.low are both None")
    ws = _weight_arrays(w)
    stride, groups, downsample = check_octave_options(stride, groups, downsample)
    _check_input_shapes(xs)

    c_in = {g: xs[g].shape[1] if g in xs else 0 for g in GROUPS}
    c_out = _output_channels(ws)
    layout = octave_layout(tuple(c_in.values()), tuple(c_out.get(g, 0) for g in GROUPS),
                           groups)
    _check_paths(ws, xs, layout)
    k = _check_kernel(ws)
    for path in layout.paths:
        expected = layout.weight_shape(path, k)
        if ws[path].shape != expected:
            src = path_ends(path)[0]
            raise ValueError(f"w.{path} must have shape (C_out_part, C_in_part / groups, k, k) = "
                             f"{expected} for x.{src} with {c_in[src]} channels and "
                             f"groups={layout.path_groups[path]}, got {ws[path].shape}")
    padding = check_padding(padding, k, layout.paths)

    in_size = {group: array.shape[2:] for group, array in xs.items()}
    out_size = octave_output_sizes(layout.paths, in_size, k, stride, padding)
    if min(min(size) for size in out_size.values()) < 1:
        raise ValueError(f"w: the kernel ({k}, {k}) is larger than the padded input "
                         f"(sizes {in_size}, stride {stride}, padding {padding})")
    dtype, out_dtype = compute_dtype(*xs.values())
    batch = next(iter(xs.values())).shape[0]
    out_elements = sum(batch * c_out[g] * size[0] * size[1] for g, size in out_size.items())
    in_elements = sum(array.size for array in xs.values())
    check_memory(dtype.itemsize * (in_elements + out_elements),
                 "an octave convolution of x "
                 f"{tuple(xs[g].shape if g in xs else None for g in GROUPS)} "
                 "(its input copy and output)")

    x = Octave(*(_cast(xs[g], dtype, private) if g in xs else None for g in GROUPS))
    w = OctaveWeights(*(_cast(ws[p], dtype, private) if p in ws else None for p in PATHS))
    b = _check_biases(b, c_out, dtype, private)
    spec = OctaveSpec(stride, padding, k, downsample, layout, in_size, out_size, batch,
                      dtype, out_dtype)
    return x, w, b, spec


# --------------------------------------------------------------------------- gradients

def check_grad(grad, shape, name, dtype):
    """An upstream gradient as an array of ``shape`` in ``dtype``, or a clear error."""
    grad = real_array(grad, name)
    if grad.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {grad.shape}")
    return grad.astype(dtype, copy=False)


def check_octave_grad(dy, spec):
    """dL/dY of an octave convolution as ``{group: array}``, checked against ``spec``.

    ``dy.high``/``dy.low`` must be None exactly for the outputs the layer
    does not have, and shaped like the outputs otherwise.
    """
    if not isinstance(dy, tuple) or len(dy) != 2:
        raise TypeError(f"dy must be an Octave(high, low), got {type(dy).__name__}")
    grads = {}
    for group, grad in zip(GROUPS, dy):
        name = f"dy.{group}"
        if group not in spec.out_size:
            if grad is not None:
                raise ValueError(f"{name} must be None: the layer has no such output")
            continue
        if grad is None:
            raise ValueError(f"{name} is None but the layer has that output")
        grads[group] = check_grad(grad, spec.out_shapes[group], name, spec.dtype)
    return grads
