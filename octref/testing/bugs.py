"""The catalogue of bugs public OctConv implementations have, each as a variant of octref.

Every entry of :data:`KNOWN_BUGS` but one is a deviation from the official
semantics found by reading the source of public implementations (the
``seen_in`` field cites repository, commit, file and lines); the exception,
W^HL and W^LH swapped, is an adapter mistake only the canonical layer can
show. The kit names a bug only when a variant of octref with exactly that bug
(or that pair of bugs) reproduces the observed failure:

* a *value* bug: :func:`variant_forward` recomputes Eq. 4 from octref's own
  convolution and sampling with the bug switched on; its outputs must equal
  the implementation's within the tolerance (:func:`variant_gradients` gives
  the exact vector-Jacobian products of the same variant for a backward);
* a *crash* bug: the variant fails the same way at the same stage
  (:class:`VariantCrash`, e.g. the two map sizes floor pooling cannot add,
  which the implementation's error message must name);
* a *parameter* bug: the layer's parameter shapes are those the bug gives
  (:func:`parameter_shapes`).

The variants are our own code, written from the cited behaviour, not copied.
"""

import math
import re
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from octref import conv_forward
from octref.octave import Octave, OctaveWeights, split_channels
from octref.sampling import pool2x2

__all__ = ["KnownBug", "KNOWN_BUGS", "VariantCrash", "variant_forward", "variant_gradients",
           "parameter_shapes", "bug_sets"]

FORWARD_NAMES = ("y_high", "y_low")
BACKWARD_NAMES = ("dx_high", "dx_low", "dw_hh", "dw_hl", "dw_lh", "dw_ll", "db_high", "db_low")
PATHS = ("hh", "hl", "lh", "ll")


@dataclass(frozen=True)
class KnownBug:
    """A deviation from the official OctConv found in public implementations.

    Attributes
    ----------
    key : str
        Short identifier, the key in :data:`KNOWN_BUGS`.
    name : str
        What the report calls it.
    what : str
        What the buggy code computes, in one line.
    kind : {"values", "crash", "parameters"}
        How it shows: wrong outputs, an exception, or parameter shapes / a
        parameter layout the official layer does not have.
    seen_in : str
        Where: repository@commit file:line, from reading the source.
    """

    key: str
    name: str
    what: str
    kind: str
    seen_in: str

    def __str__(self):
        return f"{self.name} ({self.what})"


# Where each bug was seen: repository@commit file, then the lines at that commit.
_D_LI = "d-li14/octconv.pytorch@c07621f octconv.py"
_BRAIN = "braincreators/octconv@a1ed9f8 octconv/octconv.py"
_LXT2 = "lxtGH/OctaveConv_pytorch@079f7da libs/nn/OctaveConv2.py"
_LXT1 = "lxtGH/OctaveConv_pytorch@079f7da libs/nn/OctaveConv1.py"
_MX = "facebookresearch/OctConv@87c44f7 utils/symbol/symbol_octconv.py"
_GLUON = "facebookresearch/OctConv@87c44f7 utils/gluon/utils/octconv.py"
_KERAS = "titu1994/keras-octconv@d97be15 octave_conv.py"
_ETANG = "Etang21/octconv-pytorch@26dae36 modules.py"
_MOTO = "motokimura/octconv_pytorch@cf59938 octconv.py"
_KOSH = "koshian2/OctConv-TFKeras@6cf3501 oct_conv2d.py"
_IACO = "iacolippo/octconv-pytorch@0326414 octconv.py"
_AESFA = "Sooyyoungg/AesFA@43d1bae blocks.py"
_THOR = "ThoroughImages/OctConv@6d4c6b4 octconv.py"
_TL = "tensorlayer/TensorLayer@59df2c5 tensorlayer/layers/convolution/oct_conv.py (a PR)"

#: The catalogue, keyed by :attr:`KnownBug.key`, in the order diagnoses try them.
KNOWN_BUGS = {bug.key: bug for bug in (
    KnownBug("swapped_hl_lh", "W^HL and W^LH swapped",
             "the H->L path convolves with W^LH and L->H with W^HL (equal shapes at "
             "alpha_in = alpha_out = 0.5, where no shape error shows it)", "values",
             "not seen in the implementations read; an adapter mistake (conv_lh.weight "
             "reported as w_hl) the canonical layer must catch"),
    KnownBug("bias_every_path", "bias added on every path",
             "each output map gets its one bias once per path into it (conv + 2b)", "values",
             f"{_LXT1} L47, L50, L53, L56"),
    KnownBug("per_path_bias", "a bias per path",
             "a bias in each of the four convolutions: Y^H gets b^HH + b^LH, two bias vectors "
             "per output map where the official layer has one", "parameters",
             f"{_D_LI} L19-28; {_BRAIN} L93, L102, L111, L120; {_LXT2} L19-27; {_MOTO} L16, "
             f"L35-41; {_ETANG} L60-67"),
    KnownBug("floor_pool", "floor-mode pooling",
             "2x2 average pooling drops an odd last row/column (nn.AvgPool2d(2) default): "
             "odd sides crash or lose a row, and at stride 2 a side = 2 mod 4 gives the low "
             "output floor(H/4) rows, not ceil(H/4)", "values",
             f"{_D_LI} L10; {_BRAIN} L85; {_LXT2} L16; {_MX} L95, L99, L105; {_KERAS} L137"),
    KnownBug("uncropped_upsample", "L->H upsampled without cropping",
             "nearest x2 upsampling of a ceil(H/2) map gives H + 1 rows for odd H, which "
             "cannot be added to H->H", "values",
             f"{_GLUON} L236, L261; {_D_LI} L43-44; {_LXT2} L43-44"),
    KnownBug("upsample_first", "L->H upsampled before its convolution",
             "f(up(X^L); W^LH) instead of up(f(X^L; W^LH)): other values for k > 1, 4x the "
             "cost", "values", f"{_AESFA} L187"),
    KnownBug("stride2_pool_all", "stride 2 by pooling both inputs, L->H still upsampled",
             "stride 2 pools X^H and X^L and then runs the stride-1 layer: L->H = "
             "up(f(pool(X^L))) instead of f(X^L)", "values",
             f"{_LXT2} L32-33, L35, L43; {_KERAS} L139-141, L151"),
    KnownBug("strided_all_paths", "stride 2 by strided convolutions, L->H upsampled",
             "every path convolves at stride 2 (H->L after one pooling) and L->H is "
             "upsampled: a half-pixel shift on every path", "values",
             f"{_ETANG} L60-67, L92, L96; {_MOTO} L35-41, L59, L61; {_KOSH} L94-111; "
             f"{_TL} L181-186"),
    KnownBug("stride_ignored", "stride ignored, only the padding changes",
             "no convolution is strided and the padding is (k - stride) // 2: at stride 2 "
             "the maps shrink by k - 1 instead of halving", "values", f"{_IACO} L28, L45-54"),
    KnownBug("one_channel_depthwise", "a one-channel input treated as depthwise",
             "depthwise tested as groups == in_channels, true for C_in = 1 and groups = 1: "
             "the crossing paths are dropped", "values",
             f"{_D_LI} L14, L23, L35; {_AESFA} L138"),
    KnownBug("reflect_padding", "reflection padding",
             "every path pads by reflecting the map instead of with zeros: the border "
             "pixels differ", "values", f"{_AESFA} L121, L142-167"),
    KnownBug("no_high_crash", "crash without a high-frequency group",
             "alpha_in = 1 or alpha_out = 1: the H->H convolution or X^H is used "
             "unconditionally", "crash",
             f"{_D_LI} L26, L34; {_BRAIN} L126, L132; {_ETANG} L60"),
    KnownBug("zero_channel_crash", "a zero-channel convolution at a fractional alpha",
             "0 < alpha < 1 but int(alpha C) or C - int(alpha C) is 0: the path's convolution "
             "is still built and its forward fails", "crash",
             f"{_D_LI} L17-18, L23; {_BRAIN} L94, L150; {_LXT2} L19"),
    KnownBug("split_high_first", "channel split c_high = int((1 - alpha) C)",
             "the high group gets int((1 - alpha) C) channels and the low group the rest; the "
             "official split gives the low group int(alpha C)", "parameters",
             f"{_BRAIN} L53, L56, L60-63; {_LXT1} L44; {_IACO} L14; {_AESFA} L130"),
    KnownBug("split_both_floor", "both channel groups rounded down",
             "c_high = int((1 - alpha) C) and c_low = int(alpha C): a channel is lost when "
             "alpha C is fractional", "parameters", f"{_THOR} L36-37"),
    KnownBug("alpha_high_share", "alpha taken as the high-frequency share",
             "c_high = int(alpha C): the groups are swapped against the paper's alpha (the "
             "low-frequency share)", "parameters", f"{_TL} L82, L123-124"),
    KnownBug("groups_split_rounded_up", "group count split by alpha and rounded up",
             "H->H gets ceil((1 - alpha_in) groups) groups and L->L ceil(alpha_in groups) "
             "instead of groups each", "parameters",
             f"{_D_LI} L19, L28; {_AESFA} L151, L167"),
)}

#: Bugs the forward variants implement (values and crashes).
FORWARD_BUGS = tuple(k for k, b in KNOWN_BUGS.items() if b.kind in ("values", "crash"))
# Alternative ways to do stride 2: never two at once.
_STRIDE_BUGS = {"stride2_pool_all", "strided_all_paths", "stride_ignored"}


def bug_sets(config):
    """The single bugs, then the pairs, a failure on ``config`` is tried against."""
    singles = [(k,) for k in FORWARD_BUGS]
    pairs = [p for p in combinations(FORWARD_BUGS, 2) if len(set(p) & _STRIDE_BUGS) < 2]
    return singles, pairs


class VariantCrash(Exception):
    """The buggy code a variant stands for would raise here.

    Attributes
    ----------
    bugs : tuple of str
    reason : str
        What fails, e.g. "cannot add a 3-row map to a 2-row map".
    sizes : list of (int, int) or (int, int, int)
        Pairs of sizes that cannot be added (with the NCHW dimension where
        they differ, when known); the implementation's message must name both
        numbers of one of them, and its dimension when it names one
        ("... at non-singleton dimension 3", PyTorch).
    needs_none : bool
        The failure is a use of a missing (None) group or convolution: the
        implementation's exception must be a TypeError or AttributeError
        about None.
    twin : dict or None
        Config fields that remove only the trigger (same layout otherwise);
        the implementation must run there.
    """

    def __init__(self, bugs, reason, sizes=(), needs_none=False, twin=None, word=None):
        super().__init__(reason)
        self.bugs, self.reason, self.sizes = tuple(bugs), reason, list(sizes)
        self.needs_none, self.twin, self.word = needs_none, twin, word

    def consistent_with(self, exc):
        """Whether the implementation's exception ``exc`` is this failure.

        A use of None must raise TypeError/AttributeError about None; a size
        mismatch must name both sizes of one of the predicted pairs; a
        channel mismatch or an empty map must also say so ("channel",
        "small"/"empty"), as PyTorch's messages do.
        """
        text = f"{type(exc).__name__}: {exc}"
        none_use = isinstance(exc, (TypeError, AttributeError, UnboundLocalError)) and (
            "None" in text or isinstance(exc, UnboundLocalError))
        if self.needs_none and none_use:
            return True
        if self.word is None:
            if self.needs_none:
                return False
        elif not any(w in text.lower() for w in self.word):
            return False
        if self.sizes:
            dims = {int(d) for d in re.findall(r"dimension (\d+)", text)}
            numbers = {int(n) for n in re.findall(r"\d+", re.sub(r"dimension \d+", "", text))}
            return any(pair[0] in numbers and pair[1] in numbers
                       and (len(pair) < 3 or not dims or pair[2] in dims)
                       for pair in self.sizes)
        return True


# --------------------------------------------------------------------------- the variants

def _floor_pool(x):
    """2x2 average pooling in floor mode: an odd last row/column is dropped."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    return x[..., :2 * h, :2 * w].reshape(x.shape[:-2] + (h, 2, w, 2)).mean(axis=(-3, -1))


def _upsample(x, size, crop=True):
    """Nearest x2; cropped to ``size`` (octref), or all 2h x 2w rows (no crop)."""
    up = x.repeat(2, axis=-2).repeat(2, axis=-1)
    if not crop:
        return up
    if up.shape[-2] < size[0] or up.shape[-1] < size[1]:
        return up  # the sum below reports the mismatch
    return up[..., :size[0], :size[1]]


def _zero_channel_trigger(config):
    """(side, twin alpha) when 0 < alpha < 1 leaves a group of 0 channels, else None."""
    for name, channels in (("alpha_in", config.in_channels), ("alpha_out", config.out_channels)):
        alpha = getattr(config, name)
        if 0.0 < alpha < 1.0 and 0 in split_channels(channels, alpha):
            c_high, _ = split_channels(channels, alpha)
            return name, 1.0 if c_high == 0 else 0.0
    return None


def variant_forward(x, w, b, config, bugs=()):
    """Eq. 4 from octref's convolution and sampling, with the bugs in ``bugs`` switched on.

    ``bugs=()`` is octref's own forward (every stride, downsample, group and
    alpha it supports). Maps of different sizes are never added: the variant
    raises :class:`VariantCrash` with both sizes, as the buggy code would.

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_in_high, H, W), ``x.low`` (N, C_in_low, ceil(H/2), ceil(W/2)).
    w : OctaveWeights
    b : Octave or None
    config : OctConvConfig
    bugs : iterable of str
        Keys of :data:`KNOWN_BUGS` of kind "values" or "crash".

    Returns
    -------
    dict
        ``{"y_high": (N, C_out_high, H', W') or None, "y_low": ... or None}``.
    """
    bugs = frozenset(bugs)
    high, low = x
    if "no_high_crash" in bugs and (high is None or config.out_split[0] == 0):
        # The missing convolution is None (d-li14), or built with 0 channels (Etang21).
        raise VariantCrash(bugs, "the H->H convolution or X^H is used but absent",
                           needs_none=True, word=("at least 1",))
    if "zero_channel_crash" in bugs and (trigger := _zero_channel_trigger(config)):
        name, alpha = trigger
        raise VariantCrash(bugs, f"a convolution with 0 channels at {name} = "
                                 f"{getattr(config, name)}", twin={name: alpha})
    stride, padding = config.stride, config.padding
    if "stride_ignored" in bugs:
        stride, padding = 1, (config.kernel_size - config.stride) // 2
        if padding < 0:
            raise VariantCrash(bugs, f"padding (k - stride) // 2 = {padding}",
                               word=("negative",))
    pool_mode = _floor_pool if "floor_pool" in bugs else pool2x2

    def pool(inp):
        if inp is None:
            raise VariantCrash(bugs, "pooling an absent (None) group", needs_none=True)
        return pool_mode(inp)

    crop = "uncropped_upsample" not in bugs
    if "swapped_hl_lh" in bugs and w.hl is not None and w.lh is not None:
        w = w._replace(hl=w.lh, lh=w.hl)
    if "one_channel_depthwise" in bugs and config.in_channels == 1 and config.groups == 1:
        w = w._replace(hl=None, lh=None)
    mismatches = []

    def conv(inp, weight, conv_stride=1):
        if inp is None:  # a weight moved onto a path whose input group is empty
            raise VariantCrash(bugs, "a convolution of an absent (None) group",
                               needs_none=True)
        if min(inp.shape[2:]) == 0:  # floor pooling emptied the map
            raise VariantCrash(bugs, "floor pooling of a side of 1 gives an empty map",
                               sizes=[(1, 0)], word=("small", "empty", "zero"))
        groups = max(1, inp.shape[1] // weight.shape[1])  # depthwise: their own channels
        pad = padding
        if "reflect_padding" in bugs and pad:
            if min(inp.shape[2:]) <= pad:  # PyTorch refuses to reflect more than the map
                raise VariantCrash(bugs, "reflection padding wider than the map",
                                   sizes=[(pad, min(inp.shape[2:]))], word=("padding",))
            inp, pad = np.pad(inp, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "reflect"), 0
        padded = [n + 2 * pad for n in inp.shape[2:]]
        if min(padded) < weight.shape[-1]:  # stride ignored: padding 0 on a small map
            raise VariantCrash(bugs, "kernel larger than the padded map",
                               sizes=[(min(padded), weight.shape[-1])], word=("kernel",))
        try:
            return conv_forward(inp, weight, stride=conv_stride, padding=pad,
                                groups=groups)[0]
        except ValueError:  # a weight on the wrong path: torch names both channel counts
            raise VariantCrash(bugs, "weight and input channels disagree",
                               sizes=[(inp.shape[1], weight.shape[1] * groups)],
                               word=("channel",)) from None

    high_size = high.shape[2:] if high is not None else tuple(2 * n for n in low.shape[2:])
    outs = {}
    pool_all = stride == 2 and "stride2_pool_all" in bugs
    strided = stride == 2 and "strided_all_paths" in bugs
    if pool_all:  # then the stride-1 layer on the pooled inputs
        high = None if high is None else pool_mode(high)
        low = None if low is None else pool_mode(low)
        high_size = high.shape[2:] if high is not None else tuple(2 * n for n in low.shape[2:])
        stride = 1
    if w.hh is not None:
        if stride == 1:
            outs["hh"] = conv(high, w.hh)
        else:
            outs["hh"] = conv(high, w.hh, 2) if strided else conv(pool(high), w.hh)
    if w.hl is not None:
        source = high if stride == 1 else pool(high)
        if strided or config.downsample == "strided":
            outs["hl"] = conv(source, w.hl, 2)
        else:
            outs["hl"] = conv(pool(source), w.hl)
    if w.lh is not None:
        if stride == 2 and strided:
            target = outs["hh"].shape[2:] if "hh" in outs else tuple(
                (n + 1) // 2 for n in high_size)
            outs["lh"] = _upsample(conv(low, w.lh, 2), target, crop)
        elif stride == 2:
            outs["lh"] = conv(low, w.lh)
        elif "upsample_first" in bugs:
            outs["lh"] = conv(_upsample(low, high_size, crop), w.lh)
        else:
            outs["lh"] = _upsample(conv(low, w.lh), high_size, crop)
    if w.ll is not None:
        outs["ll"] = conv(low, w.ll, 2) if strided else conv(
            low if stride == 1 else pool(low), w.ll)

    biases = dict(zip("hl", b)) if b is not None else {}
    y = {}
    for path in ("hh", "lh", "ll", "hl"):
        if path not in outs:
            continue
        dst, out = path[1], outs[path]
        if "bias_every_path" in bugs and biases.get(dst) is not None:
            out = out + biases[dst][:, None, None]
        if dst not in y:
            y[dst] = out
        elif y[dst].shape != out.shape:
            mismatches += [(a, c, dim) for dim, (a, c) in enumerate(zip(y[dst].shape, out.shape))
                           if a != c]
        else:
            y[dst] = y[dst] + out
    if mismatches:
        raise VariantCrash(bugs, "maps of different sizes are added: " + ", ".join(
            f"{a} vs {c}" for a, c, _ in mismatches), sizes=mismatches)
    if "bias_every_path" not in bugs:
        for dst, bias in biases.items():
            if bias is not None and dst in y:
                y[dst] = y[dst] + bias[:, None, None]
    return {"y_high": y.get("h"), "y_low": y.get("l")}


def variant_gradients(x, w, b, config, bugs, dy, names):
    """Exact vector-Jacobian products of a variant, for the gradients in ``names``.

    Every variant is bilinear in (x, w) plus a bias term linear in b, so
    ``<dy, F(e_j)>`` for each basis vector e_j is the gradient's j-th entry:
    no finite differences. Only run to diagnose a failure (one forward per
    weight entry; the layers are tiny).

    Returns
    -------
    dict
        name -> gradient array, for the names in ``names`` the layer has.
    """
    def fitted(y):
        # A map the variant lacks contributes nothing; one of another shape cannot be paired.
        for n, g in zip(FORWARD_NAMES, dy):
            if g is not None and y[n] is not None and y[n].shape[1:] != g.shape[1:]:
                raise VariantCrash(bugs, f"{n} has another shape than dy", sizes=[])
        return [(g, y[n]) for n, g in zip(FORWARD_NAMES, dy)
                if g is not None and y[n] is not None]

    def pairing(y):
        return sum(np.sum(g * out) for g, out in fitted(y))

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
        y = variant_forward(Octave(*probe_x), w, None, config, bugs)
        flat = sum((g.reshape(g.shape[0], -1) @ out.reshape(len(probes), -1).T
                    for g, out in fitted(y)), np.zeros((dy_batch(dy), len(probes))))
        start = 0
        for name, a, size in zip(("dx_high", "dx_low"), x, sizes):
            grads[name] = None if a is None else flat[:, start:start + size].reshape(a.shape)
            start += size
    for path in PATHS:
        name, weight = f"dw_{path}", getattr(w, path)
        if name not in names or weight is None:
            continue
        zeros = OctaveWeights(*(None if v is None else np.zeros_like(v) for v in w))
        grad = np.zeros_like(weight)
        for j in range(weight.size):
            getattr(zeros, path).flat[j] = 1.0
            grad.flat[j] = pairing(variant_forward(x, zeros, None, config, bugs))
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
                grad[j] = pairing(variant_forward(x_zero, w, Octave(*probe), config, bugs))
            grads[name] = grad
    return grads


def dy_batch(dy):
    return next(g.shape[0] for g in dy if g is not None)


# --------------------------------------------------------------------------- parameter bugs

#: The channel splits (c_high, c_low) of the split bugs.
_SPLITS = {
    "split_high_first": lambda c, a: (int((1.0 - a) * c), c - int((1.0 - a) * c)),
    "split_both_floor": lambda c, a: (int((1.0 - a) * c), int(a * c)),
    "alpha_high_share": lambda c, a: (int(a * c), c - int(a * c)),
}


#: What :func:`parameter_shapes` returns for a layer the bug makes impossible to build.
UNBUILDABLE = "cannot be built"


def parameter_shapes(config, bug=None):
    """Weight shapes (w_hh, w_hl, w_lh, w_ll) a layer with ``bug`` has, None if absent.

    ``bug=None`` is :attr:`OctConvConfig.weight_shapes`, the one layout rule
    (:func:`octref.octave.octave_weight_shapes`); each bug changes one thing
    in it (the official shapes where it changes nothing). :data:`UNBUILDABLE`
    when the buggy layer cannot be built for ``config`` (its groups do not
    divide its channels), as PyTorch's ``nn.Conv2d`` refuses it.
    """
    official = tuple(config.weight_shapes)
    if bug is None:
        return official
    if bug in _SPLITS:
        # The official path rule, applied to the bug's channel counts.
        split = _SPLITS[bug]
        c_in = dict(zip("hl", split(config.in_channels, config.alpha_in)))
        c_out = dict(zip("hl", split(config.out_channels, config.alpha_out)))
        shapes = []
        for path in PATHS:
            src, dst = path
            groups = c_in[src] if config.depthwise else config.groups
            if not (c_in[src] and c_out[dst]) or (config.depthwise and src != dst):
                shapes.append(None)
            elif c_in[src] % groups or c_out[dst] % groups:
                return UNBUILDABLE
            else:
                shapes.append((c_out[dst], c_in[src] // groups) + (config.kernel_size,) * 2)
        return tuple(shapes)
    if bug == "groups_split_rounded_up":
        if config.groups == 1:
            return official
        g_high = math.ceil(config.groups - config.alpha_in * config.groups)
        g_low = math.ceil(config.alpha_in * config.groups)
        shapes = list(official)
        for index, channels, groups in ((0, config.in_split[0], g_high),
                                        (3, config.in_split[1], g_low)):
            if shapes[index] is not None:
                if groups == 0 or channels % groups or shapes[index][0] % groups:
                    return UNBUILDABLE
                shapes[index] = (shapes[index][0], channels // groups) + shapes[index][2:]
        return tuple(shapes)
    if bug == "swapped_hl_lh":  # an adapter reading conv_lh for w_hl: the shapes trade places
        return (official[0], official[2], official[1], official[3])
    if bug == "one_channel_depthwise":
        if config.in_channels != 1 or config.groups != 1:
            return official
        return (official[0], None, None, official[3])
    raise ValueError(f"unknown parameter bug {bug!r}")


#: Parameter-shape bugs, tried in order.
SHAPE_BUGS = ("split_high_first", "split_both_floor", "alpha_high_share",
              "groups_split_rounded_up", "one_channel_depthwise", "swapped_hl_lh")
