"""The gradient checker itself: it must refuse what it cannot judge and catch real bugs."""

import numpy as np
import pytest

from octref import Octave, init_octave_weights, octconv_backward, octconv_forward
from octref.gradcheck import (
    check_directional,
    check_octconv_gradients,
    check_vjp,
    eval_numerical_gradient_array,
    rel_error,
)
from octref.sampling import pool2x2, pool2x2_backward
from tests.implementations import IMPLS


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.0 + 4e-12]) == pytest.approx(1e-12, rel=1e-3)
    assert rel_error([1.0], [-1.0]) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.ones(2), np.ones(3))


def test_numerical_vjp_of_a_known_function():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    df = rng.standard_normal(3)
    # f(x) = A x: the VJP is A^T df.
    grad = eval_numerical_gradient_array(lambda v: a @ v, x, df)
    np.testing.assert_allclose(grad, a.T @ df, rtol=1e-8)
    x_before = x.copy()
    eval_numerical_gradient_array(lambda v: a @ v, x, df)
    assert np.array_equal(x, x_before)


def test_float32_is_refused():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        eval_numerical_gradient_array(lambda v: v, x, np.ones(3))
    with pytest.raises(TypeError, match="float64"):
        check_directional(lambda v: v, x, np.ones(3), np.ones(3), rng=np.random.default_rng())
    w = init_octave_weights(2, 2, 1, 0.5, 0.5, dtype=np.float32, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="float64"):
        check_octconv_gradients(Octave(np.ones((1, 1, 2, 2), np.float32),
                                       np.ones((1, 1, 1, 1), np.float32)), w)


def test_a_wrong_pool_gradient_fails_both_checks():
    """Forgetting the 1/count of an odd edge is exactly the bug the checks must catch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, 3, 3))
    df = rng.standard_normal((1, 1, 2, 2))
    right = pool2x2_backward(df, (3, 3))
    wrong = pool2x2_backward(df, (4, 4))[..., :3, :3]      # divides the edge by 4, not 2
    assert check_vjp(pool2x2, x, df, right).passed
    assert not check_vjp(pool2x2, x, df, wrong).passed
    assert check_directional(pool2x2, x, df, right, rng=rng).passed
    assert not check_directional(pool2x2, x, df, wrong, rng=rng).passed


def test_octconv_check_catches_a_broken_backward(monkeypatch):
    default = IMPLS[0]      # check_octconv_gradients checks the package default
    rng = np.random.default_rng(2)
    w = init_octave_weights(4, 4, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((1, 2, 2, 2)))
    assert all(r.passed for r in check_octconv_gradients(x, w, rng=rng))

    def broken(dy, cache):
        dx, dw, db = octconv_backward(dy, cache)
        return dx, dw._replace(hl=dw.hl * 1.01), db
    monkeypatch.setattr(default, "octconv_backward", broken)
    results = {r.name: r.passed for r in check_octconv_gradients(x, w, rng=rng)}
    assert results.pop("dw.hl") is False
    assert all(results.values())
    y, _ = octconv_forward(x, w)          # the forward is untouched
    assert y.high.shape == (1, 2, 4, 4)
