"""The layers of octref.nn and octref.network: gradient checks (float64) and their semantics.

Every backward is compared with central differences by octref.gradcheck,
whose tolerances (RTOL 1e-5, ATOL 1e-7) are stated there once. Batch
normalisation and softmax are not linear, so their finite differences carry an
O(h^2) truncation error too; with h = 1e-5 and O(1) curvature it is ~1e-10,
far below the tolerance.
"""

import numpy as np
import pytest

from octref import Octave, network, nn
from octref.gradcheck import check_directional, check_vjp


def _octave(rng, n=3, c_high=2, c_low=3, size=4):
    return Octave(rng.standard_normal((n, c_high, size, size)),
                  rng.standard_normal((n, c_low, size // 2, size // 2)))


def _flat(octave):
    return np.concatenate([a.ravel() for a in octave if a is not None])


def _check_groups(f_of, x, dout, analytic, name):
    """Full VJP check of every group of an Octave input x; f_of(group, value) -> flat output."""
    results = []
    for g, (value, grad) in enumerate(zip(x, analytic)):
        if value is None:
            assert grad is None
            continue
        results.append(check_vjp(lambda v, g=g: f_of(g, v), value, dout, grad,
                                 name=f"{name}[{g}]"))
    for result in results:
        assert result.passed, str(result)
    return results


def _replace(octave, g, value):
    parts = list(octave)
    parts[g] = value
    return Octave(*parts)


def test_relu_gradient_and_values():
    rng = np.random.default_rng(0)
    x = _octave(rng)
    out, cache = nn.relu_forward(x)
    np.testing.assert_array_equal(out.high, np.where(x.high > 0, x.high, 0))
    dout = Octave(*(rng.standard_normal(a.shape) for a in out))
    dx = nn.relu_backward(dout, cache)
    _check_groups(lambda g, v: _flat(nn.relu_forward(_replace(x, g, v))[0]), x, _flat(dout),
                  dx, "relu")


def test_relu_keeps_a_missing_group_missing():
    x = Octave(np.ones((1, 2, 4, 4)), None)
    out, cache = nn.relu_forward(x)
    assert out.low is None and nn.relu_backward(out, cache).low is None


def test_batchnorm_gradients():
    rng = np.random.default_rng(1)
    x = _octave(rng)
    gamma = Octave(rng.standard_normal(2), rng.standard_normal(3))
    beta = Octave(rng.standard_normal(2), rng.standard_normal(3))
    out, cache = nn.batchnorm_forward(x, gamma, beta)
    dout = Octave(*(rng.standard_normal(a.shape) for a in out))
    dx, dgamma, dbeta = nn.batchnorm_backward(dout, cache)
    c = _flat(dout)
    _check_groups(lambda g, v: _flat(nn.batchnorm_forward(_replace(x, g, v), gamma, beta)[0]),
                  x, c, dx, "bn.dx")
    _check_groups(lambda g, v: _flat(nn.batchnorm_forward(x, _replace(gamma, g, v), beta)[0]),
                  gamma, c, dgamma, "bn.dgamma")
    _check_groups(lambda g, v: _flat(nn.batchnorm_forward(x, gamma, _replace(beta, g, v))[0]),
                  beta, c, dbeta, "bn.dbeta")


def test_batchnorm_normalises_each_channel_of_each_group():
    rng = np.random.default_rng(2)
    x = Octave(3 + 5 * rng.standard_normal((8, 2, 6, 6)), -1 + rng.standard_normal((8, 3, 3, 3)))
    ones = Octave(np.ones(2), np.ones(3))
    zeros = Octave(np.zeros(2), np.zeros(3))
    out, _ = nn.batchnorm_forward(x, ones, zeros)
    for a in out:
        np.testing.assert_allclose(a.mean(axis=(0, 2, 3)), 0, atol=1e-12)
        np.testing.assert_allclose(a.var(axis=(0, 2, 3)), 1, rtol=1e-4)


def test_running_stats_and_eval_mode():
    rng = np.random.default_rng(3)
    x = _octave(rng, n=4)
    gamma = Octave(rng.standard_normal(2), rng.standard_normal(3))
    beta = Octave(rng.standard_normal(2), rng.standard_normal(3))
    out, cache = nn.batchnorm_forward(x, gamma, beta)
    mean0, var0 = Octave(np.zeros(2), np.zeros(3)), Octave(np.ones(2), np.ones(3))
    mean, var = nn.update_running_stats(mean0, var0, cache, momentum=1.0)
    # momentum 1: the running statistics are the batch's (variance unbiased).
    np.testing.assert_allclose(mean.low, x.low.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(var.high, x.high.var(axis=(0, 2, 3), ddof=1))
    assert var0.high[0] == 1.0  # inputs untouched
    mean, var = nn.update_running_stats(mean0, var0, cache, momentum=0.1)
    np.testing.assert_allclose(mean.high, 0.1 * x.high.mean(axis=(0, 2, 3)))
    # Evaluation with the biased batch statistics reproduces the training output.
    biased = Octave(*(a.var(axis=(0, 2, 3)) for a in x))
    means = Octave(*(a.mean(axis=(0, 2, 3)) for a in x))
    evaluated = nn.batchnorm_eval(x, gamma, beta, means, biased)
    for a, b in zip(evaluated, out):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_global_avg_pool_gradient_and_order():
    rng = np.random.default_rng(4)
    x = _octave(rng)
    out, cache = nn.global_avg_pool_forward(x)
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out[:, :2], x.high.mean(axis=(2, 3)))  # high channels first
    np.testing.assert_allclose(out[:, 2:], x.low.mean(axis=(2, 3)))
    dout = rng.standard_normal(out.shape)
    dx = nn.global_avg_pool_backward(dout, cache)
    _check_groups(lambda g, v: nn.global_avg_pool_forward(_replace(x, g, v))[0].ravel(), x,
                  dout.ravel(), dx, "gap")


def test_global_avg_pool_of_one_group():
    x = Octave(np.arange(32.0).reshape(1, 2, 4, 4), None)
    out, cache = nn.global_avg_pool_forward(x)
    np.testing.assert_allclose(out, [[7.5, 23.5]])
    assert nn.global_avg_pool_backward(np.ones((1, 2)), cache).low is None


def test_linear_gradients():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((3, 6)), rng.standard_normal(3)
    out, cache = nn.linear_forward(x, w, b)
    np.testing.assert_allclose(out, x @ w.T + b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = nn.linear_backward(dout, cache)
    c = dout.ravel()
    for name, value, grad, f in (
            ("dx", x, dx, lambda v: nn.linear_forward(v, w, b)[0].ravel()),
            ("dw", w, dw, lambda v: nn.linear_forward(x, v, b)[0].ravel()),
            ("db", b, db, lambda v: nn.linear_forward(x, w, v)[0].ravel())):
        result = check_vjp(f, value, c, grad, name=name)
        assert result.passed, str(result)


def test_softmax_cross_entropy_gradient_and_value():
    rng = np.random.default_rng(6)
    logits, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    loss, dlogits = nn.softmax_cross_entropy(logits, labels)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(5), labels])), rel=1e-12)
    result = check_vjp(lambda z: np.array([nn.softmax_cross_entropy(z, labels)[0]]), logits,
                       np.ones(1), dlogits, name="dlogits")
    assert result.passed, str(result)
    # Large logits do not overflow.
    loss, grad = nn.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([0]))
    assert loss == pytest.approx(0.0) and np.all(np.isfinite(grad))


def test_sgd_momentum_matches_the_written_rule_and_leaves_inputs_alone():
    p, g, v = np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([0.1, 0.0])
    new_p, new_v = nn.sgd_momentum(p, g, v, lr=0.1, momentum=0.9, weight_decay=0.01)
    np.testing.assert_allclose(new_v, 0.9 * v + g + 0.01 * p)
    np.testing.assert_allclose(new_p, p - 0.1 * new_v)
    assert p[0] == 1.0 and v[0] == 0.1


def _tiny_network(rng, **kwargs):
    return network.build_network(0.5, width=4, rng=rng, dtype=np.float64, **kwargs)


@pytest.mark.parametrize("removed", [(), ("hl",), ("lh",)])
@pytest.mark.parametrize("downsample", ["avgpool", "strided"])
def test_whole_network_gradient(removed, downsample):
    """The composed network's backward: a directional check on the input and every parameter."""
    rng = np.random.default_rng(7)
    layers = _tiny_network(rng, removed=removed, downsample=downsample)
    images, labels = rng.standard_normal((3, 1, 9, 9)), np.array([1, 2, 3])
    dlogits = nn.softmax_cross_entropy(network.forward(layers, images, train=True), labels)[1]
    dimages = network.backward(layers, dlogits).high

    def loss_of_images(v):
        return np.array([nn.softmax_cross_entropy(network.forward(layers, v, train=True),
                                                  labels)[0]])

    result = check_directional(loss_of_images, images, np.ones(1), dimages, rng=rng,
                               name="dimages")
    assert result.passed, str(result)
    for index, layer in enumerate(layers):
        for name, value in layer.params.items():
            def loss(v, layer=layer, name=name, value=value):
                layer.params[name] = v
                try:
                    return np.array([nn.softmax_cross_entropy(
                        network.forward(layers, images, train=True), labels)[0]])
                finally:
                    layer.params[name] = value
            if name in getattr(layer, "removed", ()):
                assert not np.any(layer.grads[name])
                continue
            result = check_directional(loss, value, np.ones(1), layer.grads[name], rng=rng,
                                       name=f"{index}.{name}")
            assert result.passed, str(result)


def test_the_network_trains_on_the_fast_engine():
    """The training stack uses the package default, not the textbook (2x slower per step)."""
    import octref
    from octref import network
    assert network.octconv_forward is octref.octconv_forward
    assert network.octconv_backward is octref.octconv_backward
