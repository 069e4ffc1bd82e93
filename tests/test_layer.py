"""OctConv2d: parameters, gradients and a tiny training run."""

import numpy as np
import pytest

from octref import Octave, OctConv2d, octconv_backward, octconv_forward


def make_stack(impl="im2col", seed=0):
    rng = np.random.default_rng(seed)
    first = OctConv2d(3, 8, 3, 0.0, 0.5, impl=impl, rng=rng)     # alpha_in 0 -> 0.5
    last = OctConv2d(8, 2, 3, 0.5, 0.0, impl=impl, rng=rng)      # 0.5 -> alpha_out 0
    return first, last


def loss_and_grad(first, last, x, target):
    y = last.forward(first.forward(Octave(x, None)))
    assert y.low is None
    residual = y.high - target
    loss = 0.5 * float(np.sum(residual ** 2))
    dx = first.backward(last.backward(Octave(residual, None)))
    return loss, dx


def test_sgd_strictly_lowers_the_loss():
    rng = np.random.default_rng(42)
    x = rng.standard_normal((4, 3, 8, 8))
    target = rng.standard_normal((4, 2, 8, 8))
    first, last = make_stack()
    losses = []
    for _ in range(6):
        loss, _ = loss_and_grad(first, last, x, target)
        losses.append(loss)
        for layer in (first, last):
            for param, grad in zip(_arrays(layer.params), _arrays(layer.grads)):
                param -= 1e-3 * grad
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def _arrays(params):
    out = [a for a in params.weights if a is not None]
    return out + [a for a in (params.bias or ()) if a is not None]


@pytest.mark.parametrize("impl", ["im2col", "loops"])
def test_layer_gradients_equal_the_functional_ones(impl):
    rng = np.random.default_rng(7)
    first, last = make_stack(impl, seed=7)
    x = rng.standard_normal((2, 3, 5, 5))
    for layer in (first, last):
        layer.params.bias.high[:] = rng.standard_normal(layer.params.bias.high.shape)
    h = first.forward(Octave(x, None))
    y = last.forward(h)
    dy = Octave(rng.standard_normal(y.high.shape), None)
    dh = last.backward(dy)
    first.backward(dh)
    y_ref, cache = octconv_forward(h, last.params.weights, last.params.bias)
    np.testing.assert_allclose(y.high, y_ref.high, rtol=1e-12)
    dh_ref, dw_ref, db_ref = octconv_backward(dy, cache)
    for a, b in zip(dh, dh_ref):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    for a, b in zip(last.grads.weights, dw_ref):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(last.grads.bias.high, db_ref.high, rtol=1e-12)
    assert first.grads.weights.lh is None and first.grads.weights.hl is not None


def test_layer_structure_and_errors():
    layer = OctConv2d(8, 8, 3, 0.5, 0.5, bias=False, rng=np.random.default_rng(0))
    assert layer.params.bias is None
    assert set(layer.params.arrays()) == {"w.hh", "w.hl", "w.lh", "w.ll"}
    depthwise = OctConv2d(8, 8, 3, 0.5, 0.5, groups=8, rng=np.random.default_rng(0))
    assert depthwise.params.weights.hl is None and depthwise.params.weights.hh.shape == (4, 1, 3, 3)
    with pytest.raises(RuntimeError, match="before a successful forward"):
        layer.backward(Octave(None, None))
    with pytest.raises(ValueError, match="impl"):
        OctConv2d(8, 8, 3, 0.5, 0.5, impl="cuda")
    with pytest.raises(ValueError, match="downsample"):
        OctConv2d(8, 8, 3, 0.5, 0.5, downsample="max")
    with pytest.raises(TypeError, match="bias"):
        OctConv2d(8, 8, 3, 0.5, 0.5, bias=1)
