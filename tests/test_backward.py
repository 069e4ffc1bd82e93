"""The backward contract: loops == im2col == rowshift == finite differences, every gradient."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octref import Octave, OctaveWeights, init_octave_weights, loops
from octref.gradcheck import check_octconv_gradients, check_vjp
from tests.implementations import FAST, IMPLS, ids
from tests.strategies import conv_problems, octconv_problems

TIGHT = {"rtol": 1e-11, "atol": 1e-11}


def random_like(rng, octave):
    return Octave(*(None if a is None else rng.standard_normal(a.shape) for a in octave))


def assert_tree_close(a, b, name):
    assert (a is None) == (b is None), name
    if a is None:
        return
    for field, u, v in zip(a._fields, a, b):
        assert (u is None) == (v is None), f"{name}.{field}"
        if u is not None:
            np.testing.assert_allclose(u, v, err_msg=f"{name}.{field}", **TIGHT)


@pytest.mark.parametrize("impl", FAST, ids=ids(FAST))
@given(problem=octconv_problems(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60)
def test_loops_backward_equals_the_others(impl, problem, seed):
    rng = np.random.default_rng(seed)
    y, cache_loops = loops.octconv_forward(problem.x, problem.w, problem.b, **problem.options)
    _, cache_fast = impl.octconv_forward(problem.x, problem.w, problem.b, **problem.options)
    dy = random_like(rng, y)
    dx_a, dw_a, db_a = loops.octconv_backward(dy, cache_loops)
    dx_b, dw_b, db_b = impl.octconv_backward(dy, cache_fast)
    assert_tree_close(dx_a, dx_b, "dx")
    assert_tree_close(dw_a, dw_b, "dw")
    assert_tree_close(db_a, db_b, "db")
    # None exactly where the forward had None.
    assert [a is None for a in dx_a] == [a is None for a in problem.x]
    assert [a is None for a in dw_a] == [a is None for a in problem.w]
    if problem.b is None:
        assert db_a is None
    else:
        assert [a is None for a in db_a] == [a is None for a in problem.b]


@pytest.mark.parametrize("impl", FAST, ids=ids(FAST))
@given(problem=octconv_problems(max_size=6, max_channels=4), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30)
def test_gradients_match_finite_differences(impl, problem, seed):
    name = impl.__name__.rsplit(".", 1)[1]
    results = check_octconv_gradients(problem.x, problem.w, problem.b, **problem.options,
                                      impl=name, rng=np.random.default_rng(seed))
    assert results and all(r.passed for r in results), "\n".join(map(str, results))
    expected = {f"dx.{n}" for n, a in zip(Octave._fields, problem.x) if a is not None}
    expected |= {f"dw.{n}" for n, a in zip(OctaveWeights._fields, problem.w) if a is not None}
    if problem.b is not None:
        expected |= {f"db.{n}" for n, a in zip(Octave._fields, problem.b) if a is not None}
    assert {r.name for r in results} == expected


@given(octconv_problems(max_size=5, max_channels=4), st.integers(0, 2**32 - 1))
@settings(max_examples=25)
def test_loops_gradients_match_finite_differences(problem, seed):
    # The loops forward is slow, so most arrays get the two-call directional check;
    # the smallest (<= 24 elements) still get the full elementwise one.
    results = check_octconv_gradients(problem.x, problem.w, problem.b, **problem.options,
                                      impl="loops", full_limit=24,
                                      rng=np.random.default_rng(seed))
    assert results and all(r.passed for r in results), "\n".join(map(str, results))


@pytest.mark.parametrize("impl", FAST, ids=ids(FAST))
@given(problem=conv_problems(max_size=6, max_channels=4), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30)
def test_conv_backward_equals_loops_and_finite_differences(impl, problem, seed):
    x, w, b, options = problem
    rng = np.random.default_rng(seed)
    out, cache_fast = impl.conv_forward(x, w, b, **options)
    _, cache_loops = loops.conv_forward(x, w, b, **options)
    dout = rng.standard_normal(out.shape)
    fast = impl.conv_backward(dout, cache_fast)
    slow = loops.conv_backward(dout, cache_loops)
    for name, u, v in zip(("dx", "dw", "db"), fast, slow):
        assert (u is None) == (v is None) == (name == "db" and b is None)
        if u is not None:
            np.testing.assert_allclose(u, v, err_msg=name, **TIGHT)
    dx, dw, db = fast
    assert check_vjp(lambda v: impl.conv_forward(v, w, b, **options)[0], x, dout, dx).passed
    assert check_vjp(lambda v: impl.conv_forward(x, v, b, **options)[0], w, dout, dw).passed
    if b is not None:
        assert check_vjp(lambda v: impl.conv_forward(x, w, v, **options)[0], b, dout,
                         db).passed


@pytest.mark.parametrize("impl", ids(IMPLS))
@pytest.mark.parametrize("options", [
    {"stride": 1}, {"stride": 2}, {"downsample": "strided"}, {"groups": 2},
])
def test_gradcheck_full_on_a_fixed_layer(impl, options):
    """Every gradient elementwise, odd sizes, bias, on a layer with all four paths."""
    rng = np.random.default_rng(3)
    w = init_octave_weights(4, 4, 3, 0.5, 0.5, groups=options.get("groups", 1), rng=rng)
    x = Octave(rng.standard_normal((1, 2, 5, 3)), rng.standard_normal((1, 2, 3, 2)))
    b = Octave(rng.standard_normal(2), rng.standard_normal(2))
    results = check_octconv_gradients(x, w, b, **options, impl=impl, full_limit=10**6, rng=rng)
    assert len(results) == 8
    assert all(r.passed and r.kind == "full" for r in results), "\n".join(map(str, results))
