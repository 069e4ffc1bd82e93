"""Bad input: a clear ValueError/TypeError that names the argument, from every implementation."""

import numpy as np
import pytest

from octref import Octave, OctaveWeights, init_octave_weights, split_channels
from tests.implementations import IMPLS, ids

RNG = np.random.default_rng(0)
W = init_octave_weights(4, 4, 3, 0.5, 0.5, rng=RNG)
X = Octave(RNG.standard_normal((2, 2, 6, 6)), RNG.standard_normal((2, 2, 3, 3)))
W_FIRST = init_octave_weights(4, 4, 3, 0.0, 0.5, rng=RNG)       # hh, hl only
X_FIRST = Octave(RNG.standard_normal((2, 4, 6, 6)), None)


def without(weights, name):
    return weights._replace(**{name: None})


# (description, x, w, options, exception, words the message must contain)
OCTCONV_CASES = [
    ("x not an Octave", np.ones((2, 4, 6, 6)), W, {}, TypeError, ["x", "Octave"]),
    ("x.high wrong ndim", Octave(np.ones((2, 6, 6)), X.low), W, {}, ValueError, ["x.high", "4-D"]),
    ("x both None", Octave(None, None), W, {}, ValueError, ["x.high", "x.low"]),
    ("complex input", Octave(X.high + 1j, X.low), W, {}, TypeError, ["x.high", "complex"]),
    ("object input", Octave(X.high.astype(object), X.low), W, {}, TypeError, ["x.high", "object"]),
    ("low map of wrong size", Octave(X.high, np.ones((2, 2, 4, 3))), W, {}, ValueError,
     ["x.low", "(2, 2, 3, 3)"]),
    ("batch mismatch", Octave(X.high, np.ones((1, 2, 3, 3))), W, {}, ValueError,
     ["batch"]),
    ("channel mismatch", Octave(np.ones((2, 3, 6, 6)), X.low), W, {}, ValueError,
     ["w.hh", "(2, 3, 3, 3)"]),
    ("stride 3", X, W, {"stride": 3}, ValueError, ["stride", "1 or 2"]),
    ("stride not int", X, W, {"stride": 1.5}, TypeError, ["stride"]),
    ("negative padding", X_FIRST, OctaveWeights(W_FIRST.hh, None, None, None), {"padding": -1},
     ValueError, ["padding", ">= 0"]),
    ("padding not size-preserving", X, W, {"padding": 0}, ValueError, ["padding", "(k-1)/2"]),
    ("even kernel with two groups", X, OctaveWeights(*(np.ones((2, 2, 2, 2)),) * 4), {},
     ValueError, ["padding", "odd"]),
    ("kernel larger than padded input", Octave(np.ones((1, 2, 3, 3)), None),
     OctaveWeights(np.ones((2, 2, 5, 5)), None, None, None), {"padding": 0}, ValueError,
     ["kernel", "larger"]),
    ("groups not dividing channels", X, W, {"groups": 3}, ValueError, ["groups=3", "divide"]),
    ("groups zero", X, W, {"groups": 0}, ValueError, ["groups", ">= 1"]),
    ("unknown downsample", X, W, {"downsample": "maxpool"}, ValueError,
     ["downsample", "avgpool"]),
    ("strided with stride 2", X, W, {"stride": 2, "downsample": "strided"}, ValueError,
     ["downsample='strided'", "stride=1"]),
    ("missing weight for present path", X, without(W, "hl"), {}, ValueError,
     ["w.hl", "None"]),
    ("weight for absent path", X_FIRST, W, {}, ValueError, ["w.lh", "x.low is None"]),
    ("w not OctaveWeights", X, (W.hh, W.hl), {}, TypeError, ["w", "OctaveWeights"]),
    ("non-square kernel", X, OctaveWeights(*(np.ones((2, 2, 3, 1)),) * 4), {}, ValueError,
     ["square"]),
    ("kernels differ between paths", X, W._replace(ll=np.ones((2, 2, 5, 5))), {}, ValueError,
     ["same kernel size"]),
    ("output channels disagree", X, W._replace(lh=np.ones((3, 2, 3, 3))), {}, ValueError,
     ["high output", "disagree"]),
    ("crossing weight in depthwise layer", X,
     OctaveWeights(*(np.ones((2, 1, 3, 3)),) * 4), {"groups": 4}, ValueError,
     ["w.hl", "depthwise"]),
]


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
@pytest.mark.parametrize("case", OCTCONV_CASES, ids=[c[0] for c in OCTCONV_CASES])
def test_octconv_rejects_bad_input(impl, case):
    _, x, w, options, error, words = case
    with pytest.raises(error) as info:
        impl.octconv_forward(x, w, **options)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


BIAS_CASES = [
    ("bias of wrong length", Octave(np.ones(3), np.ones(2)), ValueError, ["b.high", "(2,)"]),
    ("bias not an Octave", np.ones(4), TypeError, ["b", "Octave"]),
]


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
@pytest.mark.parametrize("case", BIAS_CASES, ids=[c[0] for c in BIAS_CASES])
def test_octconv_rejects_bad_bias(impl, case):
    _, b, error, words = case
    with pytest.raises(error) as info:
        impl.octconv_forward(X, W, b)
    for word in words:
        assert word in str(info.value)


CONV_CASES = [
    ("x 3-D", np.ones((1, 6, 6)), np.ones((1, 1, 3, 3)), {}, ValueError, ["x", "4-D"]),
    ("w 2-D", np.ones((1, 1, 6, 6)), np.ones((3, 3)), {}, ValueError, ["w", "4-D"]),
    ("channel mismatch", np.ones((1, 2, 6, 6)), np.ones((1, 3, 3, 3)), {}, ValueError,
     ["w", "(1, 2, kh, kw)"]),
    ("stride 0", np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3)), {"stride": 0}, ValueError,
     ["stride", ">= 1"]),
    ("dilation 0", np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3)), {"dilation": 0}, ValueError,
     ["dilation"]),
    ("padding triple", np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3)), {"padding": (1, 1, 1)},
     ValueError, ["padding", "pair"]),
    ("kernel too large", np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), {}, ValueError,
     ["kernel", "larger"]),
    ("groups", np.ones((1, 4, 6, 6)), np.ones((3, 2, 3, 3)), {"groups": 2}, ValueError,
     ["groups=2"]),
    ("string input", np.array([["a"]]), np.ones((1, 1, 1, 1)), {}, TypeError, ["x", "dtype"]),
]


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_rejects_bad_input(impl, case):
    _, x, w, options, error, words = case
    with pytest.raises(error) as info:
        impl.conv_forward(x, w, **options)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_backward_rejects_wrong_gradient(impl):
    y, cache = impl.octconv_forward(X, W)
    with pytest.raises(ValueError, match="dy.low"):
        impl.octconv_backward(Octave(np.ones_like(y.high), np.ones((2, 2, 4, 4))), cache)
    with pytest.raises(ValueError, match="dy.high is None"):
        impl.octconv_backward(Octave(None, np.ones_like(y.low)), cache)
    with pytest.raises(TypeError, match="dy"):
        impl.octconv_backward(np.ones_like(y.high), cache)
    out, conv_cache = impl.conv_forward(X.high, W.hh)
    with pytest.raises(ValueError, match="dout"):
        impl.conv_backward(np.ones((1, 1, 1, 1)), conv_cache)


@pytest.mark.parametrize("call, error, words", [
    (lambda: split_channels(4, 1.5), ValueError, ["alpha", "[0, 1]"]),
    (lambda: split_channels(4, -0.1), ValueError, ["alpha"]),
    (lambda: split_channels(4.0, 0.5), TypeError, ["channels"]),
    (lambda: split_channels(-1, 0.5), ValueError, ["channels"]),
    (lambda: init_octave_weights(4, 4, 3, 0.5, 2.0), ValueError, ["alpha"]),
    (lambda: init_octave_weights(4, 4, 0, 0.5, 0.5), ValueError, ["kernel_size"]),
    (lambda: init_octave_weights(4, 4, 3, 0.5, 0.5, rng=0), TypeError, ["rng", "Generator"]),
    (lambda: init_octave_weights(4, 4, 3, 0.5, 0.5, groups=3), ValueError, ["groups=3"]),
    (lambda: init_octave_weights(4, 4, 3, 0.5, 0.5, dtype=int), TypeError, ["dtype"]),
    (lambda: init_octave_weights(4, 4, 3, 0.0, 0.5, groups=4), ValueError, ["depthwise"]),
])
def test_helpers_reject_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_weight_shapes_are_what_init_draws():
    from octref.cost import octconv_cost
    from octref.octave import octave_weight_shapes
    shapes = octave_weight_shapes(8, 8, 3, 0.5, 0.5, groups=8)
    assert shapes.hh == (4, 1, 3, 3) and shapes.ll == (4, 1, 3, 3)
    assert shapes.hl is None and shapes.lh is None
    for args, groups in [((6, 4, 5, 0.5, 0.25), 1), ((8, 8, 3, 0.5, 0.5), 2), ((3, 5, 1, 0, 1), 1)]:
        weights = init_octave_weights(*args, groups=groups, rng=RNG)
        assert [None if a is None else a.shape for a in weights] == list(
            octave_weight_shapes(*args, groups=groups))
    # The cost model refuses what the implementations refuse.
    with pytest.raises(ValueError, match="depthwise"):
        octconv_cost(4, 4, 3, 0.0, 0.5, 8, 8, groups=4)
