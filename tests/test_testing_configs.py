"""octref.testing's configurations: valid, restrictable without health-check failures,
reproducible inputs, clear errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octref import init_octave_weights, octconv_forward
from octref.testing import (
    OctConvConfig,
    canonical_configs,
    check_octconv,
    make_octave_inputs,
    octave_inputs,
    octconv_configs,
)
from tests.outsider import outsider


@settings(max_examples=60)
@given(config=octconv_configs(max_channels=6, max_size=5, downsamples=("avgpool", "strided")),
       data=st.data())
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


RESTRICTED = octconv_configs(even_sizes=True, square=True, equal_alphas=True, allow_groups=False,
                             allow_depthwise=False, strides=(2,), kernel_sizes=(3,), max_size=6)


@settings(max_examples=100)
@given(config=RESTRICTED)
def test_restrictions_are_built_into_the_draw(config):
    # 100 draws and no FailedHealthCheck: nothing is filtered away.
    assert config.height == config.width and config.height % 2 == 0
    assert config.alpha_in == config.alpha_out and config.groups == 1
    assert config.stride == 2 and config.kernel_size == 3
    assert RESTRICTED.space.allows(config)


def test_a_restricted_check_runs_inside_its_space():
    seen = []

    def recording(*args, config):
        seen.append(config)
        return outsider(*args)

    check_octconv(recording, configs=RESTRICTED, max_examples=15, with_config=True)
    assert len(seen) > 15 and all(RESTRICTED.space.allows(c) for c in seen)
    assert any(len(c.paths) == 4 for c in seen)


def test_the_draw_favours_k3_and_four_paths_and_has_every_kind():
    seen = []

    @settings(max_examples=150, derandomize=True, database=None)
    @given(octconv_configs())
    def collect(config):
        seen.append(config)
    collect()
    kinds = {"depthwise" if c.depthwise else "grouped" if c.groups > 1 else "plain"
             for c in seen}
    assert kinds == {"plain", "grouped", "depthwise"}
    assert sum(c.kernel_size == 3 for c in seen) > 0.6 * len(seen)
    assert sum(len(c.paths) == 4 for c in seen) > 0.3 * len(seen)


def test_canonical_layers_come_first_in_a_fixed_order():
    assert canonical_configs() == canonical_configs()
    first = canonical_configs()[0]
    assert (first.alpha_in, first.alpha_out, first.kernel_size, len(first.paths)) == (
        0.5, 0.5, 3, 4)


def test_inputs_are_reproducible_from_the_seed():
    config = OctConvConfig(5, 3, 3, 0.25, 0.75, height=4, width=3, batch=2, bias=True)
    first = make_octave_inputs(config, np.random.default_rng(7))
    again = make_octave_inputs(config, np.random.default_rng(7))
    for a, b in zip(first[0] + first[1] + first[2], again[0] + again[1] + again[2]):
        assert (a is None and b is None) or np.array_equal(a, b)
    ref = init_octave_weights(5, 3, 3, 0.25, 0.75, rng=np.random.default_rng(2))
    assert [None if a is None else a.shape for a in first[1]] == [
        None if a is None else a.shape for a in ref]


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


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel_sizes=(2,)), "kernel_sizes"), (dict(strides=(3,)), "strides"),
    (dict(alphas=(1.5,)), "alphas"), (dict(max_size=0), "max_size"),
    (dict(downsamples=("max",)), "downsamples"),
    (dict(even_sizes=True, min_size=3, max_size=3), "even side"),
    (dict(kernel_sizes=3), "kernel_sizes must be a tuple"),
])
def test_bad_strategy_bounds_are_refused(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        octconv_configs(**kwargs)
