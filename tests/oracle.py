"""An independent OctConv oracle built on scipy.signal.correlate.

Written from Eq. 4 and the official code's semantics without any of octref's
code: padding with np.pad, pooling as a NaN-padded nanmean, upsampling with
np.repeat, convolution with scipy. Tests compare octref against it.
"""

import numpy as np
from scipy.signal import correlate


def conv(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Grouped cross-correlation, (N, C, H, W) * (F, C/g, kh, kw) -> (N, F, H', W')."""
    n, c = x.shape[:2]
    f, c_group, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # Dilation: a kernel with (d - 1) zeros between taps.
    w_dil = np.zeros((f, c_group, dh * (kh - 1) + 1, dw * (kw - 1) + 1), dtype=w.dtype)
    w_dil[:, :, ::dh, ::dw] = w
    per_out = f // groups
    rows = []
    for i in range(n):
        maps = []
        for o in range(f):
            g = o // per_out
            acc = sum(correlate(x_pad[i, g * c_group + ci], w_dil[o, ci], mode="valid")
                      for ci in range(c_group))
            maps.append(acc[::sh, ::sw])
        rows.append(maps)
    out = np.array(rows, dtype=np.result_type(x, w))
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def pool(x):
    """2x2 average pooling, ceil mode, mean over the in-bounds pixels only."""
    h, w = x.shape[-2:]
    padded = np.pad(x.astype(float), ((0, 0), (0, 0), (0, h % 2), (0, w % 2)),
                    constant_values=np.nan)
    blocks = padded.reshape(x.shape[:2] + ((h + 1) // 2, 2, (w + 1) // 2, 2))
    return np.nanmean(blocks, axis=(3, 5))


def upsample(x, size):
    """Nearest-neighbour x2, cropped to size."""
    return np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)[:, :, :size[0], :size[1]]


def octconv(x_high, x_low, w, b_high=None, b_low=None, stride=1, padding=None, groups=1,
            downsample="avgpool"):
    """Eq. 4 with the official code's stride-2, depthwise and bias semantics.

    ``w`` is a dict with keys among "hh", "hl", "lh", "ll".
    Returns (y_high, y_low), None for an absent output.
    """
    k = next(iter(w.values())).shape[-1]
    pad = (k - 1) // 2 if padding is None else padding
    c_in = (0 if x_high is None else x_high.shape[1]) + (0 if x_low is None else x_low.shape[1])
    depthwise = groups > 1 and groups == c_in

    def f(x, weight, stride_=1):
        g = x.shape[1] if depthwise else groups
        return conv(x, weight, stride=(stride_, stride_), padding=(pad, pad), groups=g)

    hi, lo = x_high, x_low
    if stride == 2:
        hi_s = pool(hi) if hi is not None else None
        lo_s = pool(lo) if lo is not None else None
    else:
        hi_s, lo_s = hi, lo
    y_high = y_low = None
    if "hh" in w:
        y_high = f(hi_s, w["hh"])
    if "lh" in w:
        t = f(lo if stride == 2 else lo_s, w["lh"])
        if stride == 1:
            size = hi.shape[2:] if hi is not None else (2 * lo.shape[2], 2 * lo.shape[3])
            t = upsample(t, size)
        y_high = t if y_high is None else y_high + t
    if "ll" in w:
        y_low = f(lo_s, w["ll"])
    if "hl" in w:
        t = f(hi, w["hl"], 2) if downsample == "strided" else f(pool(hi_s), w["hl"])
        y_low = t if y_low is None else y_low + t
    if b_high is not None:
        y_high = y_high + b_high[None, :, None, None]
    if b_low is not None:
        y_low = y_low + b_low[None, :, None, None]
    return y_high, y_low
