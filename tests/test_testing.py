"""octref.testing: a correct outside implementation passes, each known bug is caught and named.

The implementation under test here is written from Eq. 4 without any of
octref's code: its forward pieces (convolution by ``scipy.signal.correlate``,
pooling, upsampling) are the independent oracle of ``tests/oracle.py``, its
gradients are written here with ``scipy.signal`` and NumPy slicing. Each
known bug is one switch in it, written the way public re-implementations
write it, so the kit meets the bug as a user's code would present it.
"""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import convolve, correlate

from octref import Octave, init_octave_weights
from octref.im2col import octconv_backward, octconv_forward
from octref.testing import (  # and, private, the diagnoses' variants (tested below)
    _VALUE_BUGS,
    BACKWARD_NAMES,
    KNOWN_BUGS,
    OctConvConfig,
    _variant_forward,
    _variant_gradients,
    check_octconv,
    check_octconv_layer,
    make_octave_inputs,
    octave_inputs,
    octconv_configs,
)
from tests import oracle

# --------------------------------------------------------------------------- the outsider

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


def pool(x, floor=False):
    """2x2 average pooling; ceil mode averages the in-bounds pixels of an edge window."""
    height, width = x.shape[-2:]
    if floor:
        if height < 2 or width < 2:
            raise ValueError("Output size is too small")  # what torch says
        # Floor mode drops the odd last row and column; what is left pools evenly.
        x = x[..., :height // 2 * 2, :width // 2 * 2]
    return oracle.pool(x)


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


def outsider(xh, xl, whh, whl, wlh, wll, bh, bl, stride, padding, groups, bug=None):
    """Eq. 4 with scipy; ``bug`` switches on one known bug."""
    if bug == "crash_alpha1":
        _ = xh.shape, whh.shape  # "every layer has a high group"
    weights = {"hh": whh, "hl": whl, "lh": wlh, "ll": wll}
    if bug == "transposed_kernel":
        weights = {k: None if v is None else v.transpose(0, 1, 3, 2) for k, v in weights.items()}
    sources = {"h": xh, "l": xl}
    plan, floor = paths(xh, xl, weights, stride, bug)
    y = {}
    for name, src, pools, conv_stride, up_to in plan:
        inp = sources[src]
        for _ in range(pools):
            inp = pool(inp, floor)
        if name == "lh" and up_to is not None and bug == "upsample_first":
            out = corr(oracle.upsample(inp, up_to), weights[name], padding)
        else:
            out = corr(inp, weights[name], padding)[:, :, ::conv_stride, ::conv_stride]
            if up_to is not None:
                out = oracle.upsample(out, up_to)
        bias = bh if name[1] == "h" else bl
        if bug == "bias_every_path" and bias is not None:
            out = out + bias[:, None, None]
        y[name[1]] = y[name[1]] + out if name[1] in y else out
    if bug != "bias_every_path":
        for group, bias in (("h", bh), ("l", bl)):
            if bias is not None:
                y[group] = y[group] + bias[:, None, None]
    return y.get("h"), y.get("l")


def outsider_grad(xh, xl, whh, whl, wlh, wll, bh, bl, stride, padding, groups, dyh, dyl,
                  bug=None):
    """Gradients of outsider (bugs: None, "transposed_kernel", "one_pixel_upsample_grad")."""
    weights = {"hh": whh, "hl": whl, "lh": wlh, "ll": wll}
    if bug == "transposed_kernel":
        weights = {k: None if v is None else v.transpose(0, 1, 3, 2) for k, v in weights.items()}
    sources, dys = {"h": xh, "l": xl}, {"h": dyh, "l": dyl}
    plan, _ = paths(xh, xl, weights, stride)
    dx = {g: None if a is None else np.zeros_like(a) for g, a in sources.items()}
    dw = dict.fromkeys(weights)
    for name, src, pools, _, up_to in plan:
        inputs = [sources[src]]
        for _ in range(pools):
            inputs.append(pool(inputs[-1]))
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


def buggy(bug):
    return lambda *args: outsider(*args, bug=bug)


def caught(fn, **kwargs):
    """The AssertionError check_octconv raises for fn."""
    with pytest.raises(AssertionError) as info:
        check_octconv(fn, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------- passing

def test_independent_implementation_passes_forward_and_backward():
    check_octconv(outsider, backward=outsider_grad)


def test_strided_variant_is_the_reference_when_configs_ask_for_it():
    strided = octconv_configs(downsamples=("strided",), strides=(1,))
    check_octconv(buggy("strided_hl"), configs=strided, max_examples=20)


def test_a_single_config_or_a_list_of_configs():
    config = OctConvConfig(4, 4, 3, 0.5, 0.5, height=5, width=6, bias=True)
    check_octconv(outsider, configs=config, max_examples=2)
    check_octconv(outsider, configs=[config, OctConvConfig(3, 5, 1, 0.0, 1.0, stride=2)],
                  max_examples=5)


# --------------------------------------------------------------------------- known bugs

@pytest.mark.parametrize("bug", ["upsample_first", "strided_hl", "floor_pool", "bias_every_path",
                                 "strided_stride2", "transposed_kernel", "missing_ll",
                                 "crash_alpha1"])
def test_known_bug_is_caught_and_named(bug):
    message = caught(buggy(bug))
    assert f"matches known bug: {KNOWN_BUGS[bug].name}" in message
    assert "config = OctConvConfig(" in message


def test_strided_hl_diagnosis_is_the_one_the_issue_promises():
    message = caught(buggy("strided_hl"))
    assert "matches known bug: strided H->L convolution (half-pixel shift, paper Table 3" in message


def test_crash_reports_the_exception_and_chains_it():
    with pytest.raises(AssertionError) as info:
        check_octconv(buggy("crash_alpha1"))
    message = str(info.value)
    assert "fn raised AttributeError" in message
    assert "1.0" in message.split("config = ")[1].split("\n")[0]
    assert "runs on alpha_" in message
    assert isinstance(info.value.__cause__, AttributeError)


def test_floor_pooling_without_crash_gives_floor_shapes():
    # A first layer (no low input): Y^L = f(pool(X^H)) alone, so floor pooling
    # shows as a wrong shape rather than a crash.
    first = [OctConvConfig(2, 4, 3, 0.0, 0.5, height=5, width=3),
             OctConvConfig(2, 2, 1, 0.0, 0.0, stride=2, height=3, width=4)]
    message = caught(buggy("floor_pool"), configs=first)
    assert "shape" in message and "expected" in message
    assert "matches known bug: floor-mode pooling" in message


def test_channel_split_bug_is_caught_in_a_layer():
    message = check_layer_message(split="buggy")
    assert f"matches known bug: {KNOWN_BUGS['split'].name}" in message
    assert "<-" in message


def test_backward_bug_names_the_gradient():
    message = caught(outsider, backward=lambda *a: outsider_grad(
        *a, bug="one_pixel_upsample_grad"))
    assert "octconv_backward" in message
    assert "dx_low" in message
    assert "no known bug matches" in message


def test_backward_of_a_buggy_forward_is_diagnosed():
    message = caught(outsider, backward=lambda *a: outsider_grad(*a, bug="transposed_kernel"))
    assert "dw_" in message or "dx_" in message
    assert f"matches known bug: {KNOWN_BUGS['transposed_kernel'].name}" in message


def test_wrong_return_type_and_unknown_crash():
    message = caught(lambda *args: outsider(*args)[0])
    assert "must return a tuple (y_high, y_low)" in message
    message = caught(lambda *args: 1 / 0)
    assert "ZeroDivisionError" in message and "no known bug matches" in message


def test_a_bug_no_variant_explains():
    message = caught(lambda *args: tuple(None if y is None else 1.01 * y
                                         for y in outsider(*args)))
    assert "no known bug matches" in message and "largest error" in message


# --------------------------------------------------------------------------- the variants

@settings(max_examples=60)
@given(config=octconv_configs(downsamples=("avgpool", "strided")), seed=st.integers(0, 99))
def test_variant_without_bug_is_octref(config, seed):
    # Every diagnosis compares against a variant; with no bug switched on it must be octref.
    x, w, b = make_octave_inputs(config, np.random.default_rng(seed))
    y, _ = octconv_forward(x, w, b, stride=config.stride, groups=config.groups,
                           downsample=config.downsample)
    variant = _variant_forward(x, w, b, config)
    for got, expected in zip((variant["y_high"], variant["y_low"]), y):
        assert (got is None and expected is None) or np.allclose(got, expected, 1e-12, 1e-12)


@pytest.mark.parametrize("stride", [1, 2])
def test_variant_gradients_without_bug_are_octrefs(stride):
    # Backward diagnoses use the variants' exact VJPs by linearity; with no bug, octref's.
    config = OctConvConfig(4, 2, 3, 0.5, 0.5, stride=stride, height=5, width=4, batch=2,
                           bias=True)
    x, w, b = make_octave_inputs(config, np.random.default_rng(3))
    y, cache = octconv_forward(x, w, b, stride=stride)
    dy = tuple(np.random.default_rng(4).standard_normal(a.shape) for a in y)
    dx, dw, db = octconv_backward(Octave(*dy), cache)
    grads = _variant_gradients(x, w, b, config, None, dy, BACKWARD_NAMES)
    for name, expected in zip(BACKWARD_NAMES, (*dx, *dw, *db)):
        assert np.allclose(grads[name], expected, rtol=1e-10, atol=1e-12), name


@pytest.mark.parametrize("bug", _VALUE_BUGS)
def test_every_variant_differs_from_octref_on_a_full_layer(bug):
    stride = 2 if bug == "strided_stride2" else 1
    config = OctConvConfig(4, 4, 3, 0.5, 0.5, stride=stride, height=5, width=6, bias=True)
    x, w, b = make_octave_inputs(config, np.random.default_rng(0))
    reference = _variant_forward(x, w, b, config)
    if bug == "floor_pool":  # Y^L = 3x3 map + 2x3 map: crashes, as the code it stands for
        with pytest.raises(ValueError, match="broadcast"):
            _variant_forward(x, w, b, config, bug)
        return
    variant = _variant_forward(x, w, b, config, bug)
    assert any(v is None or v.shape != r.shape or not np.allclose(v, r)
               for v, r in zip(variant.values(), reference.values()))


# --------------------------------------------------------------------------- layers

def make_layer_factory(split):
    def split_of(channels, alpha):
        if split == "buggy":
            c_high = int((1 - alpha) * channels)
            return c_high, channels - c_high
        c_low = int(alpha * channels)
        return channels - c_low, c_low

    def make_layer(config):
        rng = np.random.default_rng(0)
        c_in, c_out = split_of(config.in_channels, config.alpha_in), split_of(
            config.out_channels, config.alpha_out)
        k = config.kernel_size
        weights = []
        for src, dst in ((0, 0), (0, 1), (1, 0), (1, 1)):
            dw = config.groups == config.in_channels and config.groups > 1
            present = c_in[src] and c_out[dst] and not (dw and src != dst)
            g = c_in[src] if dw else config.groups
            weights.append(rng.standard_normal((c_out[dst], c_in[src] // g, k, k))
                           if present else None)
        biases = [rng.standard_normal(c) if c and config.bias else None for c in c_out]

        def forward(xh, xl):
            return outsider(xh, xl, *weights, *biases, config.stride, config.padding,
                            config.groups)
        return (*weights, *biases), forward
    return make_layer


def check_layer_message(split):
    with pytest.raises(AssertionError) as info:
        check_octconv_layer(make_layer_factory(split))
    return str(info.value)


def test_layer_with_the_official_split_passes():
    check_octconv_layer(make_layer_factory("official"))


# --------------------------------------------------------------------------- strategies

@settings(max_examples=60)
@given(config=octconv_configs(max_channels=6, max_size=5, strides=(1, 2),
                              downsamples=("avgpool", "strided")), data=st.data())
def test_configs_are_valid_and_inputs_fit_them(config, data):
    x, w, b = data.draw(octave_inputs(config))
    assert config.height <= 5 and config.in_channels <= 6
    if config.depthwise:
        assert config.alpha_in == config.alpha_out
    y, _ = octconv_forward(x, w, b, stride=config.stride, groups=config.groups,
                           downsample=config.downsample)
    assert (x.high is None) == (config.in_split[0] == 0)
    assert (y.low is None) == (config.out_split[1] == 0)
    assert (b is not None) == config.bias


def test_inputs_are_reproducible_from_the_seed():
    config = OctConvConfig(5, 3, 3, 0.25, 0.75, groups=1, height=4, width=3, batch=2, bias=True)
    first = make_octave_inputs(config, np.random.default_rng(7))
    again = make_octave_inputs(config, np.random.default_rng(7))
    for a, b in zip(first[0] + first[1] + first[2], again[0] + again[1] + again[2]):
        assert (a is None and b is None) or np.array_equal(a, b)


def test_grouped_and_depthwise_configs_are_drawn():
    seen = set()

    @settings(max_examples=80)
    @given(octconv_configs())
    def collect(config):
        seen.add("depthwise" if config.depthwise else "grouped" if config.groups > 1 else "plain")
    collect()
    assert seen == {"plain", "grouped", "depthwise"}


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel_size=2), "odd"),
    (dict(stride=3), "stride"),
    (dict(downsample="strided", stride=2), "stride=1"),
    (dict(groups=2, in_channels=3), "groups"),
    (dict(groups=4, alpha_out=0.0), "alpha_in == alpha_out"),
])
def test_invalid_configs_are_refused(kwargs, match):
    base = dict(in_channels=4, out_channels=4, kernel_size=3, alpha_in=0.5, alpha_out=0.5)
    with pytest.raises(ValueError, match=match):
        OctConvConfig(**{**base, **kwargs})


@pytest.mark.parametrize("kwargs", [dict(kernel_sizes=(2,)), dict(strides=(3,)),
                                    dict(alphas=(1.5,)), dict(max_size=0),
                                    dict(downsamples=("max",))])
def test_bad_strategy_bounds_are_refused(kwargs):
    with pytest.raises(ValueError):
        octconv_configs(**kwargs)


def test_configs_weights_come_from_octref():
    config = OctConvConfig(6, 6, 3, 0.5, 0.5, groups=3)
    _, w, _ = make_octave_inputs(config, np.random.default_rng(1))
    ref = init_octave_weights(6, 6, 3, 0.5, 0.5, groups=3, rng=np.random.default_rng(2))
    assert [None if a is None else a.shape for a in w] == [a.shape for a in ref]


def test_octref_loops_pass_the_kit():
    # octref's pixel-by-pixel loops against its im2col, through the kit's own door.
    from octref import Octave, OctaveWeights, loops

    def fn(xh, xl, whh, whl, wlh, wll, bh, bl, stride, padding, groups):
        b = None if bh is None and bl is None else Octave(bh, bl)
        y, _ = loops.octconv_forward(Octave(xh, xl), OctaveWeights(whh, whl, wlh, wll), b,
                                     stride=stride, padding=padding, groups=groups)
        return y

    check_octconv(fn, configs=octconv_configs(max_size=5, max_channels=4), max_examples=40)


def test_octref_core_does_not_import_the_kit():
    code = ("import sys, octref, octref.loops, octref.im2col, octref.sampling, "
            "octref.contract; assert 'hypothesis' not in sys.modules; "
            "assert 'octref.testing' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
