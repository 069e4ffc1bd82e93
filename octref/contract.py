"""The shared contract of both implementations: argument checks and output shapes.

``octref.loops`` and ``octref.im2col`` validate their public arguments here, so
both raise the same ``ValueError``/``TypeError`` for the same bad call, and both
agree on which paths exist and on every output size. Nothing here computes a
convolution: the loops stay an independent witness of the im2col code.

Dtypes: a floating input keeps its dtype; integer and boolean inputs (handy for
hand-checked examples) compute in float64. Weights and biases are cast to the
dtype of the input, so the output dtype always follows the input.
"""

from dataclasses import dataclass

import numpy as np

from octref.octave import Octave, OctaveWeights

__all__ = ["PATHS", "PATH_NAMES", "DOWNSAMPLE_MODES", "ceil_half", "pooled_size",
           "path_source", "conv_output_size",
           "ConvParams", "check_conv_args", "OctaveSpec", "check_octconv_args", "check_grad",
           "check_octave_grad"]

#: The four paths, named ``<from><to>``, in :class:`~octref.octave.OctaveWeights` order.
PATHS = ("hh", "hl", "lh", "ll")
#: Readable path names for messages.
PATH_NAMES = {"hh": "H->H", "hl": "H->L", "lh": "L->H", "ll": "L->L"}
#: The accepted values of ``downsample``.
DOWNSAMPLE_MODES = ("avgpool", "strided")


def ceil_half(n):
    """Size of a side after ceil-mode 2x2 pooling: ceil(n / 2)."""
    return (n + 1) // 2


def pooled_size(size, times):
    """Spatial size (rows, cols) after ceil-mode 2x2 pooling ``times`` times."""
    for _ in range(times):
        size = (ceil_half(size[0]), ceil_half(size[1]))
    return tuple(size)


def path_source(path, spec):
    """(input group, times pooled) of the map a path's convolution reads (Eq. 4).

    Stride 2 pools every path's input once more, except L->H, where that
    pooling and the upsampling cancel; H->L pools X^H once (avgpool) or not
    at all ("strided": a stride-2 convolution of X^H itself).
    """
    times = spec.stride - 1
    if path == "hl" and spec.downsample == "avgpool":
        times += 1
    if path == "lh":
        times = 0
    return path[0], times


# --------------------------------------------------------------------------- scalars

def _int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


def _pair(value, name, minimum):
    """An int or a pair of ints, each >= minimum, as a tuple (rows, cols)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        pair = (_int(value[0], name), _int(value[1], name))
    else:
        pair = (_int(value, name),) * 2
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


# --------------------------------------------------------------------------- arrays

def _numeric_array(value, name):
    """``value`` as an ndarray of a real numeric dtype, or a TypeError naming it."""
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must have a real numeric dtype (float, int or bool), "
                        f"got dtype {array.dtype}")
    return array


def _compute_dtype(*arrays):
    """The dtype the output follows: the inputs' float dtype, float64 for integers."""
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.float64)


def _ndim4(array, name, layout):
    if array.ndim != 4:
        raise ValueError(f"{name} must be 4-D {layout}, got shape {array.shape}")
    return array


# --------------------------------------------------------------------------- conv

@dataclass(frozen=True)
class ConvParams:
    """Validated hyper-parameters of a plain convolution (all pairs are (rows, cols))."""

    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out_size: tuple


def conv_output_size(size, kernel, stride, padding, dilation):
    """H' = floor((H + 2 pad - d (k - 1) - 1) / s) + 1, per axis."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))


def check_conv_args(x, w, b, stride, padding, dilation, groups):
    """Validate a plain convolution call.

    Returns ``(x, w, b, params)``: the arrays in the compute dtype (the input's
    float dtype, float64 for integers) and a :class:`ConvParams`.
    """
    x = _ndim4(_numeric_array(x, "x"), "x", "(N, C, H, W)")
    w = _ndim4(_numeric_array(w, "w"), "w", "(C_out, C_in / groups, kh, kw)")
    groups = _int(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
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
    dtype = _compute_dtype(x)
    if b is not None:
        b = _numeric_array(b, "b")
        if b.shape != (c_out,):
            raise ValueError(f"b must have shape (C_out,) = ({c_out},), got {b.shape}")
        b = b.astype(dtype, copy=False)
    params = ConvParams(stride, padding, dilation, groups, out_size)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), b, params


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
    paths : tuple of str
        The present paths, a subset of ("hh", "hl", "lh", "ll").
    groups : dict
        The ``groups`` each present path convolves with (depthwise: the path's
        input channels).
    depthwise : bool
        groups equals the total input channels (and exceeds 1).
    in_size, out_size : dict
        Spatial sizes (rows, cols) of the "h" and "l" maps; absent groups missing.
    out_channels : dict
        Channels of the "h" and "l" outputs; absent groups missing.
    batch : int
        N, the batch size.
    dtype : numpy dtype
        The compute dtype (the input's float dtype, float64 for integers).
    """

    stride: int
    padding: int
    kernel: int
    downsample: str
    paths: tuple
    groups: dict
    depthwise: bool
    in_size: dict
    out_size: dict
    out_channels: dict
    batch: int
    dtype: np.dtype


def _octave_arrays(x, name):
    if not isinstance(x, tuple) or len(x) != 2:
        raise TypeError(f"{name} must be an Octave(high, low), got {type(x).__name__}")
    arrays = {}
    for group, value in zip("hl", x):
        field = f"{name}.{'high' if group == 'h' else 'low'}"
        if value is not None:
            arrays[group] = _ndim4(_numeric_array(value, field), field, "(N, C, H, W)")
    return arrays


def check_octconv_args(x, w, b, stride, padding, groups, downsample):
    """Validate an octave convolution call.

    Returns ``(x, w, b, spec)``: ``x`` an :class:`Octave`, ``w`` an
    :class:`OctaveWeights` and ``b`` an :class:`Octave` of biases (or None), all
    in the compute dtype, and an :class:`OctaveSpec`.
    """
    xs = _octave_arrays(x, "x")
    if not xs:
        raise ValueError("x must have at least one group: x.high and x.low are both None")
    if not isinstance(w, tuple) or len(w) != 4:
        raise TypeError(f"w must be an OctaveWeights(hh, hl, lh, ll), got {type(w).__name__}")
    ws = {}
    for path, value in zip(PATHS, w):
        if value is not None:
            ws[path] = _ndim4(_numeric_array(value, f"w.{path}"), f"w.{path}",
                              "(C_out_part, C_in_part / groups, k, k)")
    if not ws:
        raise ValueError("w must have at least one weight: all of w.hh, w.hl, w.lh, w.ll are None")

    stride = _int(stride, "stride")
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2 (pooling before every path), got {stride}")
    groups = _int(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    if downsample not in DOWNSAMPLE_MODES:
        raise ValueError(f"downsample must be one of {DOWNSAMPLE_MODES}, got {downsample!r}")
    if downsample == "strided" and stride != 1:
        raise ValueError("downsample='strided' replaces the pooling of the H->L path by a "
                         f"stride-2 convolution and needs stride=1, got stride={stride}")

    # Input shapes: same batch, low map ceil(H/2) x ceil(W/2) of the high map.
    if "h" in xs and "l" in xs:
        high, low = xs["h"].shape, xs["l"].shape
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
            raise ValueError(f"x.{'high' if group == 'h' else 'low'} must not be empty, "
                             f"got shape {array.shape}")
    c_in = {group: array.shape[1] for group, array in xs.items()}

    # Which paths exist: input group present, output group present (some weight
    # writes to it), and not a crossing path of a depthwise layer.
    out_groups = {dst for (_, dst) in ws}
    depthwise = groups > 1 and groups == sum(c_in.values())
    paths = tuple(p for p in PATHS
                  if p[0] in xs and p[1] in out_groups and not (depthwise and p[0] != p[1]))
    for path in PATHS:
        src, dst = path
        if path in ws and path not in paths:
            if src not in xs:
                why = f"x.{'high' if src == 'h' else 'low'} is None"
            else:
                why = f"the layer is depthwise (groups={groups} == input channels)"
            raise ValueError(f"w.{path} is given but the {PATH_NAMES[path]} path is absent: {why}")
        if path in paths and path not in ws:
            raise ValueError(f"w.{path} is None but the {PATH_NAMES[path]} path is present "
                             f"(x has a {'high' if src == 'h' else 'low'} group and another "
                             f"weight writes the {'high' if dst == 'h' else 'low'} output)")
    for dst in out_groups:
        if not any(p[1] == dst for p in paths):
            raise ValueError(f"w: the {'high' if dst == 'h' else 'low'} output group has "
                             "weights but no path feeds it")

    # Kernel: square, the same on every path.
    kernels = {ws[p].shape[2:] for p in paths}
    if len(kernels) != 1:
        raise ValueError(f"w: every path must have the same kernel size, got {sorted(kernels)}")
    kh, kw = kernels.pop()
    if kh != kw:
        raise ValueError(f"w: kernels must be square (k, k), got ({kh}, {kw})")
    k = kh
    if k < 1:
        raise ValueError(f"w: kernel size must be >= 1, got {k}")

    # Channels and groups, path by path.
    path_groups = {}
    c_out = {}
    for path in paths:
        src, dst = path
        g = c_in[src] if depthwise else groups
        weight = ws[path]
        if c_in[src] % g or weight.shape[0] % g:
            raise ValueError(f"groups={groups} must divide the input ({c_in[src]}) and output "
                             f"({weight.shape[0]}) channels of the {PATH_NAMES[path]} path")
        if weight.shape[1] * g != c_in[src]:
            field = "x.high" if src == "h" else "x.low"
            raise ValueError(f"w.{path} must have shape (C_out_part, C_in_part / groups, k, k) = "
                             f"({weight.shape[0]}, {c_in[src] // g}, {k}, {k}) for {field} with "
                             f"{c_in[src]} channels and groups={g}, got {weight.shape}")
        if c_out.setdefault(dst, weight.shape[0]) != weight.shape[0]:
            raise ValueError(f"w: the paths into the {'high' if dst == 'h' else 'low'} output "
                             f"disagree on its channels: w.{path} has {weight.shape[0]}, "
                             f"another path {c_out[dst]}")
        if min(weight.shape) == 0:
            raise ValueError(f"w.{path} must not be empty, got shape {weight.shape}")
        path_groups[path] = g

    # Padding. Maps only line up when every path preserves size, so a layer with
    # more than one path, or one that crosses frequencies, needs odd k and (k-1)/2.
    single_group = paths in (("hh",), ("ll",))
    if padding is None:
        if k % 2 == 0:
            raise ValueError(f"padding=None means size-preserving (k-1)/2 and needs an odd "
                             f"kernel, got k={k}")
        padding = (k - 1) // 2
    padding = _int(padding, "padding")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if not single_group and (k % 2 == 0 or padding != (k - 1) // 2):
        raise ValueError(f"padding must be (k-1)/2 = {(k - 1) / 2:g} with an odd kernel "
                         f"(got k={k}, padding={padding}): the high and low maps only line up "
                         "when every path preserves size")

    in_size = {group: array.shape[2:] for group, array in xs.items()}
    out_size = _octave_out_size(paths, in_size, stride, padding, k)
    if min(min(size) for size in out_size.values()) < 1:
        raise ValueError(f"w: the kernel ({k}, {k}) is larger than the padded input "
                         f"(sizes {in_size}, stride {stride}, padding {padding})")

    dtype = _compute_dtype(*xs.values())
    x = Octave(*(xs[g].astype(dtype, copy=False) if g in xs else None for g in "hl"))
    w = OctaveWeights(*(ws[p].astype(dtype, copy=False) if p in ws else None for p in PATHS))
    if b is not None:
        if not isinstance(b, tuple) or len(b) != 2:
            raise TypeError(f"b must be an Octave(high, low) of bias vectors, got "
                            f"{type(b).__name__}")
        biases = []
        for group, value in zip("hl", b):
            field = f"b.{'high' if group == 'h' else 'low'}"
            if value is None:
                biases.append(None)
                continue
            if group not in c_out:
                raise ValueError(f"{field} is given but the layer has no "
                                 f"{'high' if group == 'h' else 'low'} output")
            value = _numeric_array(value, field)
            if value.shape != (c_out[group],):
                raise ValueError(f"{field} must have shape ({c_out[group]},), got {value.shape}")
            biases.append(value.astype(dtype, copy=False))
        b = Octave(*biases)
    batch = next(iter(xs.values())).shape[0]
    spec = OctaveSpec(stride, padding, k, downsample, paths, path_groups, depthwise,
                      in_size, out_size, c_out, batch, dtype)
    return x, w, b, spec


# --------------------------------------------------------------------------- gradients

def check_grad(grad, shape, name, dtype):
    """An upstream gradient as an array of ``shape`` in ``dtype``, or a clear error."""
    grad = _numeric_array(grad, name)
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
    for group, grad in zip("hl", dy):
        name = f"dy.{'high' if group == 'h' else 'low'}"
        if group not in spec.out_size:
            if grad is not None:
                raise ValueError(f"{name} must be None: the layer has no such output")
            continue
        if grad is None:
            raise ValueError(f"{name} is None but the layer has that output")
        shape = (spec.batch, spec.out_channels[group]) + tuple(spec.out_size[group])
        grads[group] = check_grad(grad, shape, name, spec.dtype)
    return grads


def _octave_out_size(paths, in_size, stride, padding, k):
    """Output sizes of the high and low maps.

    A single-group layer is a plain convolution of the (pooled, at stride 2)
    map. Otherwise every path preserves size, so the high output is the high
    input size (pooled at stride 2) and the low output is half of that (ceil).
    Without a high input the high output is twice the low input, which is
    what nearest upsampling of L->H produces.
    """
    if len(paths) == 1 and paths[0] in ("hh", "ll"):
        group = paths[0][0]
        size = in_size[group]
        if stride == 2:
            size = (ceil_half(size[0]), ceil_half(size[1]))
        return {group: tuple(n + 2 * padding - k + 1 for n in size)}
    if "h" in in_size:
        high = in_size["h"]
        if stride == 2:
            high = (ceil_half(high[0]), ceil_half(high[1]))
    else:
        low = in_size["l"]
        high = low if stride == 2 else (2 * low[0], 2 * low[1])
    out_groups = {p[1] for p in paths}
    out = {}
    if "h" in out_groups:
        out["h"] = tuple(high)
    if "l" in out_groups:
        out["l"] = (ceil_half(high[0]), ceil_half(high[1]))
    return out
