"""An outside OctConv for the kit's tests: Eq. 4 from scipy, with the catalogued bugs as switches.

Written without any of octref's code: the forward pieces (convolution,
pooling, upsampling) come from the independent oracle of ``tests/oracle.py``,
the gradients are written here with ``scipy.signal`` and NumPy slicing. Each
bug of ``octref.testing.KNOWN_BUGS`` is a switch written the way the cited
public implementation writes it, raising PyTorch's messages where PyTorch
would raise, so the kit meets each bug as a user's code presents it.
"""

import numpy as np
from scipy.signal import convolve, correlate

from tests import oracle


def _size_error(a, b):
    for dim in (3, 2, 1, 0):
        if a.shape[dim] != b.shape[dim]:
            return RuntimeError(f"The size of tensor a ({a.shape[dim]}) must match the size of "
                                f"tensor b ({b.shape[dim]}) at non-singleton dimension {dim}")
    return RuntimeError("shape mismatch")


def outsider(xh, xl, whh, whl, wlh, wll, bh, bl, stride, padding, groups, bugs=(), config=None):
    bugs = set(bugs)

    def conv(x, w, s=1):
        if x is None or w is None:
            return None
        if "reflect_padding" in bugs and padding:
            if min(x.shape[2:]) <= padding:
                raise RuntimeError(f"Argument #4: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding "
                                   f"({padding}, {padding}) at dimension 3 of input "
                                   f"{list(x.shape)}")
            x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), "reflect")
            out = oracle.conv(x, w, groups=x.shape[1] // w.shape[1])
            return out[:, :, ::s, ::s]
        if x.shape[1] % w.shape[1] or w.shape[0] % (x.shape[1] // w.shape[1]):
            raise RuntimeError(f"expected input{list(x.shape)} to have {w.shape[1]} channels, "
                               f"but got {x.shape[1]} channels instead")
        if min(x.shape[2:]) + 2 * padding < w.shape[-1]:
            side = [n + 2 * padding for n in x.shape[2:]]
            raise RuntimeError(f"Calculated padded input size per channel: ({side[0]} x "
                               f"{side[1]}). Kernel size: ({w.shape[-1]} x {w.shape[-1]}). "
                               f"Kernel size can't be greater than actual input size")
        out = oracle.conv(x, w, padding=(padding, padding), groups=x.shape[1] // w.shape[1])
        return out[:, :, ::s, ::s]

    def pool(x):
        if x is None:
            return None
        if "floor_pool" in bugs:
            h, w = x.shape[-2:]
            if h < 2 or w < 2:
                raise RuntimeError(f"Given input size: ({x.shape[1]}x{h}x{w}). Calculated "
                                   f"output size: ({x.shape[1]}x{h // 2}x{w // 2}). Output size "
                                   f"is too small")
            x = x[..., :h // 2 * 2, :w // 2 * 2]
        return oracle.pool(x)

    def up(x, size):
        if x is None:
            return None
        r = np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)
        return r if "uncropped_upsample" in bugs else r[:, :, :size[0], :size[1]]

    def add(a, b):
        if a is None or b is None:
            return b if a is None else a
        if a.shape != b.shape:
            raise _size_error(a, b)
        return a + b

    if "swapped_hl_lh" in bugs and whl is not None and wlh is not None:
        whl, wlh = wlh, whl
    c_in = sum(0 if x is None else x.shape[1] for x in (xh, xl))
    if "one_channel_depthwise" in bugs and groups == c_in:
        whl = wlh = None
    if "zero_channel_crash" in bugs:  # paths built by alpha, not by channel count
        for alpha, split in ((config.alpha_in, config.in_split),
                             (config.alpha_out, config.out_split)):
            if 0 < alpha < 1 and 0 in split:
                raise RuntimeError("Given groups=1, expected weight to be at least 1 at "
                                   "dimension 0")
    if "no_high_crash" in bugs and whh is None:
        _ = xh.shape[1], whh.shape  # the H->H convolution is called unconditionally
    if "stride_ignored" in bugs:  # padding (k - stride) // 2, no strided convolution
        k = next(w.shape[-1] for w in (whh, whl, wlh, wll) if w is not None)
        padding, stride = (k - stride) // 2, 1
        if padding < 0:
            raise RuntimeError("negative padding is not supported")
    high_size = xh.shape[2:] if xh is not None else (2 * xl.shape[2], 2 * xl.shape[3])
    if stride == 2 and "stride2_pool_all" in bugs:
        xh, xl, stride = pool(xh), pool(xl), 1
        high_size = xh.shape[2:] if xh is not None else (2 * xl.shape[2], 2 * xl.shape[3])
    if stride == 2 and "strided_all_paths" in bugs:
        hh = conv(xh, whh, 2)
        hl = None if whl is None else conv(pool(xh), whl, 2)
        ll = conv(xl, wll, 2)
        lh = conv(xl, wlh, 2)
        target = hh.shape[2:] if hh is not None else ((high_size[0] + 1) // 2,
                                                      (high_size[1] + 1) // 2)
        lh = up(lh, target)
    elif stride == 2:
        xh_s = pool(xh) if whh is not None or whl is not None else None
        xl_s = pool(xl) if wll is not None else None
        hh = conv(xh_s, whh)
        hl = None if whl is None else (conv(xh_s, whl, 2) if "strided_hl" in bugs
                                        else conv(pool(xh_s), whl))
        lh = conv(xl, wlh)
        ll = conv(xl_s, wll)
    else:
        hh = conv(xh, whh)
        hl = None if whl is None else (conv(xh, whl, 2) if "strided_hl" in bugs
                                        else conv(pool(xh), whl))
        if "upsample_first" in bugs:
            lh = None if wlh is None else conv(up(xl, high_size), wlh)
        else:
            lh = up(conv(xl, wlh), high_size)
        ll = conv(xl, wll)
    if "bias_every_path" in bugs:
        def with_bias(out, b):
            return None if out is None or b is None else out + b[:, None, None]
        hh, lh = (with_bias(o, bh) if bh is not None else o for o in (hh, lh))
        hl, ll = (with_bias(o, bl) if bl is not None else o for o in (hl, ll))
    y_high, y_low = add(hh, lh), add(ll, hl)
    if "bias_every_path" not in bugs:
        y_high = y_high if bh is None or y_high is None else y_high + bh[:, None, None]
        y_low = y_low if bl is None or y_low is None else y_low + bl[:, None, None]
    return y_high, y_low


def corr(x, w, padding):
    """Grouped 'same' cross-correlation; groups from the shapes. (N,C,H,W) -> (N,F,H,W)."""
    return oracle.conv(x, w, padding=(padding, padding), groups=x.shape[1] // w.shape[1])


def corr_grad(x, w, padding, dy):
    """(dx, dw) of corr for the upstream gradient dy."""
    n, c_in = x.shape[:2]
    f, c_group = w.shape[:2]
    per_out = f // (c_in // c_group)
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(n):
        for o in range(f):
            g = o // per_out
            chans = slice(g * c_group, (g + 1) * c_group)
            dw[o] += correlate(x_pad[i, chans], dy[i, o][None], mode="valid")
            dx_pad[i, chans] += convolve(dy[i, o][None], w[o], mode="full")
    height, width = x.shape[2:]
    return dx_pad[:, :, padding:padding + height, padding:padding + width], dw


def pool_grad(dy, size):
    height, width = size
    count = np.zeros(dy.shape[-2:])
    for a in (0, 1):
        for b in (0, 1):
            count[:len(range(a, height, 2)), :len(range(b, width, 2))] += 1
    share = dy / count
    dx = np.zeros(dy.shape[:-2] + (height, width))
    for a in (0, 1):
        for b in (0, 1):
            part = dx[..., a::2, b::2]
            part += share[..., :part.shape[-2], :part.shape[-1]]
    return dx


def up_grad(dy, size, one_pixel=False):
    dx = np.zeros(dy.shape[:-2] + tuple(size))
    for a, b in ((0, 0),) if one_pixel else ((0, 0), (0, 1), (1, 0), (1, 1)):
        part = dy[..., a::2, b::2]
        dx[..., :part.shape[-2], :part.shape[-1]] += part
    return dx


def paths(xh, xl, weights, stride, bug=None):
    """Each present path as (name, source, pools before the conv, conv stride, upsample to)."""
    floor = bug == "floor_pool"
    high_size = xh.shape[2:] if xh is not None else tuple(2 * n for n in xl.shape[2:])
    by_striding = bug == "strided_stride2" and stride == 2
    s2 = 1 if stride == 1 or by_striding else 2  # pools for the stride
    out = []
    if weights["hh"] is not None:
        out.append(("hh", "h", s2 - 1, 2 if by_striding else 1, None))
    if weights["hl"] is not None:
        strided = bug == "strided_hl" or by_striding
        out.append(("hl", "h", s2 - 1 + (not strided), 2 if strided else 1, None))
    if weights["lh"] is not None:
        out.append(("lh", "l", 0, 1, high_size if stride == 1 else None))
    if weights["ll"] is not None and bug != "missing_ll":
        out.append(("ll", "l", s2 - 1, 2 if by_striding else 1, None))
    return out, floor


def _plan(xh, xl, weights, stride):
    """Each present path as (name, source, pools before the conv, conv stride, upsample to)."""
    high_size = xh.shape[2:] if xh is not None else tuple(2 * n for n in xl.shape[2:])
    s2 = stride - 1
    out = []
    for name, src, pools, up_to in (("hh", "h", s2, None), ("hl", "h", s2 + 1, None),
                                    ("lh", "l", 0, high_size if stride == 1 else None),
                                    ("ll", "l", s2, None)):
        if weights[name] is not None:
            out.append((name, src, pools, 1, up_to))
    return out


def outsider_grad(xh, xl, whh, whl, wlh, wll, bh, bl, stride, padding, groups, dyh, dyl,
                  bug=None):
    """Gradients of outsider (bugs: None, "transposed_kernel", "one_pixel_upsample_grad")."""
    weights = {"hh": whh, "hl": whl, "lh": wlh, "ll": wll}
    if bug == "transposed_kernel":
        weights = {k: None if v is None else v.transpose(0, 1, 3, 2) for k, v in weights.items()}
    sources, dys = {"h": xh, "l": xl}, {"h": dyh, "l": dyl}
    plan = _plan(xh, xl, weights, stride)
    dx = {g: None if a is None else np.zeros_like(a) for g, a in sources.items()}
    dw = dict.fromkeys(weights)
    for name, src, pools, _, up_to in plan:
        inputs = [sources[src]]
        for _ in range(pools):
            inputs.append(oracle.pool(inputs[-1]))
        grad = dys[name[1]]
        if up_to is not None:
            grad = up_grad(grad, inputs[-1].shape[2:], bug == "one_pixel_upsample_grad")
        d_in, dw[name] = corr_grad(inputs[-1], weights[name], padding, grad)
        for before in reversed(inputs[:-1]):
            d_in = pool_grad(d_in, before.shape[2:])
        dx[src] += d_in
    if bug == "transposed_kernel":
        dw = {k: None if v is None else v.transpose(0, 1, 3, 2) for k, v in dw.items()}
    db = [None if b is None else g.sum(axis=(0, 2, 3)) for b, g in ((bh, dyh), (bl, dyl))]
    return dx["h"], dx["l"], dw["hh"], dw["hl"], dw["lh"], dw["ll"], *db
