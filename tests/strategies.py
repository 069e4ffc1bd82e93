"""Hypothesis strategies for the tests: random, always-valid OctConv problems."""

from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from octref import Octave, init_octave_weights, split_channels
from octref.octave import octave_weight_shapes

ALPHAS = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.floats(0.0, 1.0))


@dataclass(frozen=True)
class Problem:
    x: Octave
    w: object
    b: Octave | None
    stride: int
    padding: int | None
    groups: int
    downsample: str

    @property
    def options(self):
        return {"stride": self.stride, "padding": self.padding, "groups": self.groups,
                "downsample": self.downsample}


def _layout_ok(c_in, c_out, alpha_in, alpha_out, groups):
    try:
        octave_weight_shapes(c_in, c_out, 1, alpha_in, alpha_out, groups=groups)
    except ValueError:
        return False
    return True


@st.composite
def octconv_problems(draw, max_size=9, max_channels=6, kernels=(1, 3, 5), dtype=np.float64):
    """A valid (x, w, b, options) for octconv_forward, of every kind the contract allows."""
    if draw(st.integers(0, 3)) == 0:
        # Grouped: channel counts whose halves the group count divides.
        g = draw(st.sampled_from([2, 3]))
        c_in, c_out = 2 * g, 2 * g * draw(st.integers(1, 2))
        alpha_in, alpha_out = (draw(st.sampled_from([0.0, 0.5, 1.0])) for _ in range(2))
    else:
        c_in = draw(st.integers(1, max_channels))
        c_out = draw(st.integers(1, max_channels))
        alpha_in, alpha_out = draw(ALPHAS), draw(ALPHAS)
    stride = draw(st.sampled_from([1, 2]))
    downsample = draw(st.sampled_from(["avgpool", "strided"])) if stride == 1 else "avgpool"
    c_high, c_low = split_channels(c_in, alpha_in)
    c_out_high, c_out_low = split_channels(c_out, alpha_out)
    single = (c_low == 0 and c_out_low == 0) or (c_high == 0 and c_out_high == 0)
    counts = [c for c in (c_high, c_low, c_out_high, c_out_low) if c]
    common = [g for g in range(2, max_channels + 1) if all(c % g == 0 for c in counts)]
    # Plain, grouped (a common divisor of every group's channels) or depthwise, among
    # those the one layout rule accepts: drawn valid, never rejected afterwards.
    groups = draw(st.sampled_from([g for g in dict.fromkeys([1] + common + [c_in])
                                   if _layout_ok(c_in, c_out, alpha_in, alpha_out, g)]))
    if single and draw(st.booleans()):
        # A single-group layer is a plain convolution: any kernel and padding.
        k = draw(st.integers(1, 4))
        padding = draw(st.integers(0, 2))
    else:
        k = draw(st.sampled_from(kernels))
        padding = draw(st.sampled_from([None, (k - 1) // 2]))
    height, width = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    batch = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    w = init_octave_weights(c_in, c_out, k, alpha_in, alpha_out, groups=groups, rng=rng)
    high = rng.standard_normal((batch, c_high, height, width)) if c_high else None
    low = (rng.standard_normal((batch, c_low, (height + 1) // 2, (width + 1) // 2))
           if c_low else None)
    if dtype != np.float64:
        high = None if high is None else high.astype(dtype)
        low = None if low is None else low.astype(dtype)
    b = None
    if draw(st.booleans()):
        out_high = w.hh is not None or w.lh is not None
        out_low = w.hl is not None or w.ll is not None
        b = Octave(rng.standard_normal(c_out_high) if out_high else None,
                   rng.standard_normal(c_out_low) if out_low else None)
    if single:
        size = height if high is not None else (height + 1) // 2
        width_ = width if high is not None else (width + 1) // 2
        if stride == 2:
            size, width_ = (size + 1) // 2, (width_ + 1) // 2
        pad = (k - 1) // 2 if padding is None else padding
        assume(min(size, width_) + 2 * pad - k + 1 >= 1)
        assume(padding is not None or k % 2 == 1)
    return Problem(Octave(high, low), w, b, stride, padding, groups, downsample)


@st.composite
def conv_problems(draw, max_size=8, max_channels=6):
    """A valid plain conv problem: x, w, b, and keyword options."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, max_channels // groups or 1))
    c_out = groups * draw(st.integers(1, max_channels // groups or 1))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    height, width = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    assume(height + 2 * padding[0] >= dilation[0] * (kh - 1) + 1)
    assume(width + 2 * padding[1] >= dilation[1] * (kw - 1) + 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(1, 2)), c_in, height, width))
    w = rng.standard_normal((c_out, c_in // groups, kh, kw))
    b = rng.standard_normal(c_out) if draw(st.booleans()) else None
    options = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return x, w, b, options
