"""octref.testing on layers that build their own parameters: split, groups, bias layout.

``make_layer`` here builds the parameters the way each cited implementation
does (its own channel split, group counts, one bias per path) and runs
``tests/outsider.py``; the kit sees only the shapes and the outputs.
"""

import math

import numpy as np
import pytest

from octref.testing import KNOWN_BUGS, ConformanceError, OctConvConfig, check_octconv_layer
from tests.outsider import outsider, outsider_grad

FEW = 20


def layer_factory(*bugs, backward=False):
    """make_layer for a layer with ``bugs`` (parameter bugs and outsider switches)."""
    def split(channels, alpha):
        if "split_high_first" in bugs:
            c_high = int((1 - alpha) * channels)
            return c_high, channels - c_high
        if "split_both_floor" in bugs:
            return int((1 - alpha) * channels), int(alpha * channels)
        if "alpha_high_share" in bugs:
            return int(alpha * channels), channels - int(alpha * channels)
        return channels - int(alpha * channels), int(alpha * channels)

    def make_layer(config):
        rng = np.random.default_rng(0)
        if "zero_channel_crash" in bugs:
            for alpha, c in ((config.alpha_in, config.in_channels),
                             (config.alpha_out, config.out_channels)):
                if 0 < alpha < 1 and int(alpha * c) == 0:
                    raise RuntimeError("Given groups=1, expected weight to be at least 1 at "
                                       "dimension 0")
        c_in = split(config.in_channels, config.alpha_in)
        c_out = split(config.out_channels, config.alpha_out)
        depthwise = config.groups == config.in_channels and (
            config.groups > 1 or "one_channel_depthwise" in bugs)
        groups = {"hh": config.groups, "hl": config.groups, "lh": config.groups,
                  "ll": config.groups}
        if depthwise:
            groups.update(hh=c_in[0], ll=c_in[1])
        if "groups_split_rounded_up" in bugs and config.groups > 1:
            groups["hh"] = math.ceil(config.groups - config.alpha_in * config.groups)
            groups["ll"] = math.ceil(config.alpha_in * config.groups)
        k = config.kernel_size
        weights = []
        for path, src, dst in (("hh", 0, 0), ("hl", 0, 1), ("lh", 1, 0), ("ll", 1, 1)):
            present = c_in[src] and c_out[dst] and not (depthwise and src != dst)
            g = groups[path]
            if present and (g == 0 or c_in[src] % g or c_out[dst] % g):
                raise ValueError("in_channels must be divisible by groups")  # nn.Conv2d's
            weights.append(rng.standard_normal((c_out[dst], c_in[src] // g, k, k))
                           if present else None)
        if "per_path_bias" in bugs:
            names = ("b_hh", "b_hl", "b_lh", "b_ll")
            biases = [rng.standard_normal(c_out[dst]) if w is not None and config.bias else None
                      for w, dst in zip(weights, (0, 1, 0, 1))]
            params = dict(zip(("w_hh", "w_hl", "w_lh", "w_ll") + names, weights + biases))
            map_bias = [None, None]
            for b, dst in zip(biases, (0, 1, 0, 1)):
                if b is not None:
                    map_bias[dst] = b if map_bias[dst] is None else map_bias[dst] + b
        else:
            map_bias = [rng.standard_normal(c) if c and config.bias else None for c in c_out]
            params = (*weights, *map_bias)

        def forward(xh, xl):
            return outsider(xh, xl, *weights, *map_bias, config.stride, config.padding,
                            config.groups, bugs=bugs, config=config)

        def grads(xh, xl, dyh, dyl):
            return outsider_grad(xh, xl, *weights, *map_bias, config.stride, config.padding,
                                 config.groups, dyh, dyl)

        return (params, forward, grads) if backward else (params, forward)
    return make_layer


def layer_failure(*bugs, **kwargs):
    kwargs.setdefault("max_examples", FEW)
    with pytest.raises(ConformanceError) as info:
        check_octconv_layer(layer_factory(*bugs), **kwargs)
    return info.value.result


def test_a_layer_with_the_official_layout_passes_forward_and_backward():
    result = check_octconv_layer(layer_factory(backward=True), max_examples=FEW)
    assert "matches octref.octconv_forward and octconv_backward" in result.report


@pytest.mark.parametrize("bug", ["split_high_first", "split_both_floor", "alpha_high_share",
                                 "groups_split_rounded_up",
                                 "one_channel_depthwise", "per_path_bias", "zero_channel_crash"])
def test_each_layer_bug_alone_is_named(bug):
    result = layer_failure(bug)
    assert [f.bugs for f in result.findings] == [(bug,)]
    assert KNOWN_BUGS[bug].name in result.report


def test_wrong_shapes_are_listed_with_marks():
    config = OctConvConfig(5, 5, 3, 0.25, 0.25, height=4, width=4)
    report = layer_failure("split_high_first", configs=config).report
    assert "w_hh: (3, 3, 3, 3), expected (4, 4, 3, 3)   <-" in report
    assert "the layer's weight shapes are those this bug gives" in report


def test_per_path_bias_is_named_and_the_values_still_compared():
    # The same function class as one bias per map, but two parameters per map:
    # named from the parameters; with floor pooling too, both are reported.
    result = layer_failure("per_path_bias", "floor_pool")
    assert sorted(f.bugs for f in result.findings) == [("floor_pool",), ("per_path_bias",)]
    per_path = next(f for f in result.findings if f.bugs == ("per_path_bias",))
    assert per_path.config.bias and "the layer reports a bias for each path" in result.report


def test_split_and_a_value_bug_are_both_reported():
    result = layer_failure("split_high_first", "stride2_pool_all")
    assert sorted(f.bugs for f in result.findings) == [("split_high_first",),
                                                      ("stride2_pool_all",)]


@pytest.mark.parametrize("params, match", [
    (lambda w, b: (w, b), "must be \\(w_hh, w_hl, w_lh, w_ll, b_high, b_low\\)"),
    (lambda w, b: {"w_hh": w[0], "bias": b[0]}, "unknown names \\['bias'\\]"),
    (lambda w, b: {"w_hh": w[0], "b_high": b[0], "b_hh": b[0]}, "mix per-map biases"),
])
def test_badly_described_parameters_are_a_clear_failure(params, match):
    def make_layer(config):
        own, forward = layer_factory()(config)
        return params(own[:4], own[4:]), forward

    with pytest.raises(ConformanceError, match=match):
        check_octconv_layer(make_layer, configs=OctConvConfig(4, 4, 3, 0.5, 0.5, bias=True))
