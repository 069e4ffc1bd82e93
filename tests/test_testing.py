"""octref.testing: a correct outside implementation passes; each known bug, alone or with
another, is named by reproduction; every distinct bug is reported; arguments are checked.

The implementation under test is ``tests/outsider.py``: Eq. 4 written without
octref's code, each catalogued bug a switch in it.
"""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings

from octref.testing import (
    KNOWN_BUGS,
    ConformanceError,
    OctConvConfig,
    canonical_configs,
    check_octconv,
    make_octave_inputs,
    octconv_configs,
    variant_forward,
)
from octref.testing.bugs import FORWARD_BUGS
from tests.outsider import outsider, outsider_grad

FEW = 20  # drawn layers per check, after the ~32 canonical ones: keeps each check ~1-3 s


def with_bugs(*bugs):
    def fn(*args, config):
        return outsider(*args, bugs=bugs, config=config)
    return fn


def failure(fn, **kwargs):
    """The ConformanceResult of a failing check."""
    kwargs.setdefault("max_examples", FEW)
    with pytest.raises(ConformanceError) as info:
        check_octconv(fn, **kwargs)
    assert isinstance(info.value, AssertionError)
    assert str(info.value) == info.value.result.report
    return info.value.result


def named(result):
    return {key for finding in result.findings for key in finding.bugs}


# --------------------------------------------------------------------------- passing

def test_independent_implementation_passes_forward_and_backward():
    result = check_octconv(outsider, backward=outsider_grad, max_examples=FEW)
    assert result.passed and not result.findings
    assert "matches octref.octconv_forward and octconv_backward" in result.report


def test_strided_variant_is_the_reference_when_configs_ask_for_it():
    strided = octconv_configs(downsamples=("strided",), strides=(1,))
    check_octconv(with_bugs("strided_hl"), configs=strided, max_examples=10, with_config=True)


def test_a_single_config_or_a_list_of_configs_runs_exactly_those():
    config = OctConvConfig(4, 4, 3, 0.5, 0.5, height=5, width=6, bias=True)
    assert check_octconv(outsider, configs=config).coverage.layers == 1
    both = [config, OctConvConfig(3, 5, 1, 0.0, 1.0, stride=2)]
    assert check_octconv(outsider, configs=both).coverage.sources == {"given": 2}


# --------------------------------------------------------------------------- known bugs

@pytest.mark.parametrize("bug", FORWARD_BUGS)
def test_each_bug_alone_is_named_and_nothing_else(bug):
    result = failure(with_bugs(bug), with_config=True)
    assert [f.bugs for f in result.findings] == [(bug,)]
    assert f"1. {KNOWN_BUGS[bug].name}" in result.report
    assert KNOWN_BUGS[bug].seen_in in result.report


@pytest.mark.parametrize("pair", [
    ("swapped_hl_lh", "floor_pool"),
    ("stride2_pool_all", "uncropped_upsample"),
    ("no_high_crash", "bias_every_path"),
    ("zero_channel_crash", "upsample_first"),
    ("reflect_padding", "stride_ignored"),
    ("one_channel_depthwise", "stride_ignored"),
    ("strided_all_paths", "swapped_hl_lh"),
])
def test_two_bugs_at_once_are_both_reported_each_on_its_own_layer(pair):
    result = failure(with_bugs(*pair), with_config=True)
    assert sorted(f.bugs for f in result.findings) == sorted((bug,) for bug in pair)
    assert "2 distinct failures" in result.report


def test_swapped_cross_weights_are_caught_on_the_canonical_layer():
    # Only at alpha_in = alpha_out = 0.5 do W^HL and W^LH have one shape: no crash tells.
    canonical = OctConvConfig(4, 4, 3, 0.5, 0.5, height=6, width=6)
    result = failure(with_bugs("swapped_hl_lh"), configs=canonical, with_config=True)
    assert result.findings[0].bugs == ("swapped_hl_lh",)
    assert "y_high" in result.report and "y_low" in result.report


def test_floor_pooling_at_stride_2_on_a_side_2_mod_4_is_a_wrong_shape_named():
    # X^H 6x6 -> 3x3 -> 1x1 (floor) where ceil gives 2x2: no crash, a short low output.
    config = OctConvConfig(4, 4, 3, 0.5, 0.5, stride=2, height=6, width=6)
    result = failure(with_bugs("floor_pool"), configs=config, with_config=True)
    assert result.findings[0].bugs == ("floor_pool",)
    assert "y_low: shape (1, 2, 1, 1), expected (1, 2, 2, 2)" in result.report


def test_a_crash_is_named_only_when_the_variant_fails_the_same_way():
    def unsupported(xh, *rest):
        if xh is None:  # an adapter's own refusal is not the known alpha = 1 crash
            raise NotImplementedError("alpha_in = 1 is not supported")
        return outsider(xh, *rest)

    result = failure(unsupported)
    assert [f.bugs for f in result.findings] == [()]
    assert "forward raised NotImplementedError: alpha_in = 1 is not supported" in result.report
    assert "no known bug matches" in result.report


def test_crash_report_names_the_exception_and_the_reproduction():
    result = failure(with_bugs("floor_pool"), with_config=True)
    assert "forward raised RuntimeError" in result.report
    assert "reproduced: the variant with this bug fails the same way" in result.report


# --------------------------------------------------------------------------- unknown bugs

def test_a_bug_no_variant_explains_gets_evidence():
    def scaled(*args):
        return tuple(None if y is None else 1.01 * y for y in outsider(*args))

    result = failure(scaled)
    assert [f.bugs for f in result.findings] == [()]
    assert "no known bug matches" in result.report and "first at (0, 0, 0, 0)" in result.report


def test_evidence_says_when_only_borders_and_only_stride_2_fail():
    def border_bug(*args):
        y_high, y_low = outsider(*args)
        if args[8] == 2 and y_high is not None:
            y_high = y_high.copy()
            y_high[..., 0, :] += 1.0
        return y_high, y_low

    report = failure(border_bug).report
    assert "only border pixels (first/last row or column) differ" in report
    assert "every failing layer has stride 2" in report


def test_evidence_says_when_the_error_is_a_constant_per_channel():
    def offset(*args):
        y_high, y_low = outsider(*args)
        return (None if y_high is None else y_high + 0.5), y_low

    report = failure(offset).report
    assert "y_high: the error is the same at every pixel of a channel (a bias?)" in report
    assert "only border pixels" not in report


def test_a_backward_bug_no_variant_explains_names_the_gradient():
    result = failure(outsider, backward=lambda *a: outsider_grad(*a, bug="one_pixel_upsample_grad"),
                     configs=octconv_configs(max_channels=4, max_size=5), max_examples=5)
    assert "octconv_backward" in result.report
    assert "backward: dx_low" in result.report
    assert "no known bug matches" in result.report


def test_unusable_returns_are_failures_not_kit_errors():
    report = failure(lambda *args: outsider(*args)[0]).report
    assert "must return a tuple (y_high, y_low)" in report
    complex_out = failure(lambda *a: tuple(None if y is None else y + 0j for y in outsider(*a)))
    assert "complex" in complex_out.report
    strings = failure(lambda *a: tuple(None if y is None else y.astype(str) for y in outsider(*a)))
    assert "must hold real numbers" in strings.report


# --------------------------------------------------------------------------- arguments

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(atol=float("nan")), ValueError, "atol must be finite and >= 0"),
    (dict(rtol=float("nan")), ValueError, "rtol must be finite and >= 0"),
    (dict(atol=-1.0), ValueError, "atol"),
    (dict(rtol=float("inf")), ValueError, "rtol"),
    (dict(atol="1e-6"), TypeError, "atol must be a real number"),
    (dict(max_examples=-1), ValueError, "max_examples"),
    (dict(derandomize=1), TypeError, "derandomize"),
    (dict(configs="layers"), TypeError, "configs"),
    (dict(backward=3), TypeError, "backward must be callable"),
    (dict(with_config=True), TypeError, "takes no 'config' argument"),
])
def test_bad_arguments_are_refused_before_anything_runs(kwargs, error, match):
    calls = []
    with pytest.raises(error, match=match):
        check_octconv(lambda *a: calls.append(a), **kwargs)
    assert not calls


def test_a_wrong_function_fails_at_any_valid_tolerance():
    def wrong(*args):
        return tuple(None if y is None else 1.5 * y for y in outsider(*args))
    small = [OctConvConfig(4, 4, 3, 0.5, 0.5, height=5, width=6, bias=True)]
    failure(wrong, configs=small, atol=0.0, rtol=0.0)
    failure(wrong, configs=small, atol=1e-3, rtol=1e-3)


# --------------------------------------------------------------------------- coverage first

def test_canonical_layers_run_first_and_are_summarised():
    seen = []

    def recording(*args, config):
        seen.append(config)
        return outsider(*args)

    result = check_octconv(recording, with_config=True, max_examples=FEW)
    canonical = canonical_configs(octconv_configs().space)
    assert seen[:len(canonical)] == canonical
    coverage = result.coverage
    assert coverage.sources == {"canonical": len(canonical), "drawn": FEW}
    assert coverage.four_paths >= 16 and coverage.equal_cross_shapes >= 16
    assert coverage.kernels[3] > coverage.kernels.get(1, 0)
    assert coverage.strides[2] >= 10 and coverage.odd_sides >= 5 and coverage.sides_2_mod_4 >= 5
    assert coverage.groups["grouped"] >= 2 and coverage.groups["depthwise"] >= 2
    assert "all four" in result.report and "k=3 x" in result.report


def test_canonical_layers_cover_what_the_issue_lists():
    layers = canonical_configs()
    four = [c for c in layers if len(c.paths) == 4 and c.kernel_size == 3]
    assert {c.in_channels for c in four} >= {4, 8} and {c.stride for c in four} == {1, 2}
    assert {c.alpha_in for c in four} == {0.5} and {c.bias for c in four} == {False, True}
    sides = {c.height for c in four}
    assert any(s % 2 for s in sides) and any(s % 4 == 2 for s in sides) and any(
        s % 4 == 0 for s in sides)
    assert {0.0, 1.0} <= {c.alpha_in for c in layers} | {c.alpha_out for c in layers}
    assert any(c.depthwise for c in layers) and any(1 < c.groups < c.in_channels for c in layers)


def test_restricted_space_keeps_canonical_layers_inside_it():
    space = octconv_configs(even_sizes=True, square=True, equal_alphas=True, allow_groups=False,
                            allow_depthwise=False, strides=(1,)).space
    layers = canonical_configs(space)
    assert layers and all(space.allows(c) for c in layers)
    assert any(len(c.paths) == 4 for c in layers)


# --------------------------------------------------------------------------- the variants

@settings(max_examples=40)
@given(config=octconv_configs(downsamples=("avgpool", "strided"), max_size=6))
def test_variant_without_bug_is_octref(config):
    from octref import octconv_forward
    x, w, b = make_octave_inputs(config, np.random.default_rng(0))
    y, _ = octconv_forward(x, w, b, stride=config.stride, groups=config.groups,
                           downsample=config.downsample)
    variant = variant_forward(x, w, b, config)
    for got, expected in zip((variant["y_high"], variant["y_low"]), y):
        assert (got is None and expected is None) or np.allclose(got, expected, 1e-12, 1e-12)


def test_octref_loops_pass_the_kit():
    from octref import Octave, OctaveWeights, loops

    def fn(xh, xl, whh, whl, wlh, wll, bh, bl, stride, padding, groups):
        b = None if bh is None and bl is None else Octave(bh, bl)
        y, _ = loops.octconv_forward(Octave(xh, xl), OctaveWeights(whh, whl, wlh, wll), b,
                                     stride=stride, padding=padding, groups=groups)
        return y

    check_octconv(fn, configs=octconv_configs(max_size=5, max_channels=4), max_examples=FEW)


def test_octref_core_does_not_import_the_kit():
    code = ("import sys, octref, octref.loops, octref.im2col, octref.sampling, "
            "octref.contract; assert 'hypothesis' not in sys.modules; "
            "assert 'octref.testing' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_catalogue_table_in_the_docs_is_the_catalogue():
    from pathlib import Path
    page = (Path(__file__).resolve().parents[1] / "docs" / "testing.md").read_text()
    table = page.split("% table: known-bugs\n")[1].split("\n\n")[0].splitlines()[2:]
    rows = [tuple(cell.strip().strip("`") for cell in line.strip("|").split("|"))
            for line in table]
    assert rows == [(b.key, b.name, b.kind) for b in KNOWN_BUGS.values()]
    for bug in KNOWN_BUGS.values():
        assert bug.seen_in and bug.what


def test_a_failure_only_a_pair_reproduces_is_reported_as_the_pair():
    # One layer, two bugs that both change its values: no single variant gives them.
    config = OctConvConfig(4, 4, 3, 0.5, 0.5, height=5, width=5, bias=True)
    result = failure(with_bugs("swapped_hl_lh", "bias_every_path"), configs=config,
                     with_config=True)
    assert [f.bugs for f in result.findings] == [("swapped_hl_lh", "bias_every_path")]
    assert "(only both together reproduce it)" in result.report


@pytest.mark.parametrize("stride", [1, 2])
def test_variant_gradients_without_bug_are_octrefs(stride):
    from octref import Octave, octconv_backward, octconv_forward
    from octref.testing.bugs import BACKWARD_NAMES, variant_gradients
    config = OctConvConfig(4, 2, 3, 0.5, 0.5, stride=stride, height=5, width=4, batch=2,
                           bias=True)
    x, w, b = make_octave_inputs(config, np.random.default_rng(3))
    y, cache = octconv_forward(x, w, b, stride=stride)
    dy = tuple(np.random.default_rng(4).standard_normal(a.shape) for a in y)
    dx, dw, db = octconv_backward(Octave(*dy), cache)
    grads = variant_gradients(x, w, b, config, (), dy, BACKWARD_NAMES)
    for name, expected in zip(BACKWARD_NAMES, (*dx, *dw, *db)):
        assert np.allclose(grads[name], expected, rtol=1e-10, atol=1e-12), name


def test_the_backward_of_a_buggy_forward_is_named():
    from octref import Octave, OctaveWeights
    from octref.testing.bugs import BACKWARD_NAMES, variant_gradients

    def backward(xh, xl, whh, whl, wlh, wll, bh, bl, stride, padding, groups, dyh, dyl,
                 config):
        # Right forward, but the gradients of a layer that upsamples before L->H.
        b = None if bh is None and bl is None else Octave(bh, bl)
        grads = variant_gradients(Octave(xh, xl), OctaveWeights(whh, whl, wlh, wll), b, config,
                                  ("upsample_first",), (dyh, dyl), BACKWARD_NAMES)
        return tuple(grads.get(n) for n in BACKWARD_NAMES)

    config = OctConvConfig(2, 2, 3, 0.5, 0.5, height=4, width=3)
    result = failure(lambda *a, config: outsider(*a), backward=backward, configs=config,
                     with_config=True)
    assert [f.bugs for f in result.findings] == [("upsample_first",)]
    assert "the variant with this bug gives the same gradients" in result.report
