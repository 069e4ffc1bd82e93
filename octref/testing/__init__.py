"""octref as ground truth for other OctConv implementations: the conformance kit.

A PyTorch, JAX or TensorFlow OctConv is checked against octref in one call::

    from octref.testing import check_octconv
    check_octconv(my_octconv)      # returns a ConformanceResult, or raises ConformanceError

Every check examines the canonical layers first (alpha_in = alpha_out = 0.5
with all four paths, k = 3, C = 4 and 8, stride 1 and 2, even, odd and 2 mod
4 sides, with and without bias, the alpha edges, grouped and depthwise), then
a hypothesis draw that favours k = 3 and four-path layers. It does not stop at
the first failure: each failure is diagnosed by reproduction (a variant of
octref with exactly one catalogued bug, or a pair, must give the same outputs
or fail the same way), and each distinct bug is reported with its own
smallest layer, in one report.

Modules
-------
configs   OctConvConfig, ConfigSpace, octconv_configs, canonical_configs, inputs
bugs      KNOWN_BUGS (cited) and the variants that reproduce them
subjects  the implementation under test: a function or a layer
run       examine, diagnose, search, shrink
report    Coverage, Finding, ConformanceResult, ConformanceError and the text
torch_module  check_torch_module, for a PyTorch nn.Module (imports torch when called)

This package imports hypothesis (the ``test`` extra); octref's numerical core
never imports it.
"""

import math
import numbers

from . import bugs as _bugs
from .bugs import KnownBug, variant_forward
from .configs import (
    ConfigSpace,
    OctConvConfig,
    canonical_configs,
    make_octave_inputs,
    octave_inputs,
    octconv_configs,
)
from .report import ConformanceError, ConformanceResult, Coverage, Finding, finding_lines
from .run import search
from .subjects import FunctionSubject, LayerSubject, accepts_config
from .torch_module import check_torch_module

__all__ = ["OctConvConfig", "ConfigSpace", "octconv_configs", "canonical_configs",
           "octave_inputs", "make_octave_inputs", "check_octconv", "check_octconv_layer",
           "check_torch_module", "KnownBug", "KNOWN_BUGS", "variant_forward", "Coverage",
           "Finding", "ConformanceResult", "ConformanceError"]


#: The catalogue of known bugs (:data:`octref.testing.bugs.KNOWN_BUGS`), keyed by
#: :attr:`KnownBug.key`: every entry cites where it was seen and has a variant.
KNOWN_BUGS = _bugs.KNOWN_BUGS


def _check_run_args(atol, rtol, max_examples, derandomize):
    for name, value in (("atol", atol), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise ValueError(f"max_examples must be an int >= 0, got {max_examples!r}")
    if not isinstance(derandomize, bool):
        raise TypeError(f"derandomize must be True or False, got {derandomize!r}")


def _conclude(subject, configs, atol, rtol, max_examples, derandomize):
    examined, distinct, _ = search(subject, configs, float(atol), float(rtol), max_examples,
                                   derandomize)
    coverage = Coverage.of(examined)
    tolerance = f"|got - expected| <= {atol:g} + {rtol:g} |expected|"
    reference = "octref.octconv_forward" + (" and octconv_backward" if subject.has_backward
                                            else "")
    findings = []
    for index, (obs, group) in enumerate(distinct, 1):
        lines = finding_lines(index, coverage.layers, obs, group, examined, subject, atol,
                              rtol)
        findings.append(Finding(obs.bugs, obs.config, obs.seed, obs.stage,
                                len({o.config for o in group}), tuple(lines)))
    if findings:
        count = len(findings)
        head = [f"{subject.label} does not match {reference}: " + (
            "1 distinct failure, on its smallest layer." if count == 1 else
            f"{count} distinct failures, each on its smallest layer.")]
    else:
        head = [f"{subject.label} matches {reference} on every layer examined."]
    text = head + [""] + coverage.lines() + [f"tolerance: {tolerance}"]
    for finding in findings:
        text += [""] + list(finding.lines)
    result = ConformanceResult(not findings, coverage, tuple(findings), "\n".join(text))
    if findings:
        raise ConformanceError(result)
    return result


def check_octconv(fn, *, configs=None, atol=1e-6, rtol=1e-5, backward=None, max_examples=100,
                  derandomize=True, with_config=False):
    """Check an octave convolution function against octref on many layers.

    Calling convention: every argument positional, NumPy float64 arrays
    (fresh copies) and ints, None for an absent group, path or bias::

        fn(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding, groups)
            -> (y_high, y_low)
        backward(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding,
                 groups, dy_high, dy_low)
            -> (dx_high, dx_low, dw_hh, dw_hl, dw_lh, dw_ll, db_high, db_low)

    with the shapes of :func:`octref.octconv_forward`: ``x_high`` (N,
    C_in_high, H, W), ``x_low`` (N, C_in_low, ceil(H/2), ceil(W/2)), ``w_hl``
    (C_out_low, C_in_high / groups, k, k) and so on, ``padding = (k - 1) // 2``.
    With ``with_config=True`` both are also given ``config=`` the
    :class:`OctConvConfig` (alphas, kernel, ...), for code that must be told
    its layer. Return real numbers (anything ``numpy.asarray`` makes a real
    array of: no complex values, no strings), None (or an empty array) for an
    output the layer does not have. Gradients octref does not have (absent
    inputs, paths, biases) are not checked.

    Parameters
    ----------
    fn : callable
        The forward under test.
    configs : strategy, OctConvConfig or sequence of OctConvConfig, optional
        A strategy from :func:`octconv_configs` (default: its defaults): the
        canonical layers it allows, then ``max_examples`` drawn ones. A
        single config or a list: exactly those layers.
    atol, rtol : float
        Finite, >= 0. Elementwise ``|got - expected| <= atol + rtol |expected|``;
        the defaults suit float64; float32 code needs about 1e-4 each.
    backward : callable, optional
        The gradients under test, called with a standard normal ``dy`` on
        every example whose forward passed.
    max_examples : int
        Layers drawn after the canonical ones.
    derandomize : bool
        True (default): the same layers on every run.
    with_config : bool
        Pass ``config=`` to ``fn`` and ``backward``.

    Returns
    -------
    ConformanceResult
        ``coverage`` says what was exercised; ``report`` is the text.

    Raises
    ------
    ConformanceError (an AssertionError)
        When any layer fails: the report lists every distinct failure with its
        smallest layer, the seed that rebuilds its inputs, what differs or
        what was raised, and the known bug(s) whose variant reproduces it, or
        "no known bug matches" with the evidence. ``.result`` holds the
        :class:`ConformanceResult`.
    TypeError, ValueError
        Bad arguments.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if backward is not None and not callable(backward):
        raise TypeError(f"backward must be callable, got {type(backward).__name__}")
    if not isinstance(with_config, bool):
        raise TypeError(f"with_config must be True or False, got {with_config!r}")
    for name, f in (("fn", fn), ("backward", backward)):
        if with_config and f is not None and not accepts_config(f):
            raise TypeError(f"with_config=True passes config= to {name}, but {name} takes no "
                            f"'config' argument")
    _check_run_args(atol, rtol, max_examples, derandomize)
    return _conclude(FunctionSubject(fn, backward, with_config), configs, atol, rtol,
                     max_examples, derandomize)


def check_octconv_layer(make_layer, *, configs=None, atol=1e-6, rtol=1e-5, max_examples=100,
                        derandomize=True):
    """Check a layer that builds its own parameters, channel split and bias layout included.

    ``make_layer(config)`` builds the layer for an :class:`OctConvConfig`
    with its own initial parameters and returns ``(params, forward)`` or
    ``(params, forward, backward)``:

    * ``params``: ``(w_hh, w_hl, w_lh, w_ll, b_high, b_low)``, or a dict of
      those names; a layer with a bias in each path's convolution reports
      ``b_hh, b_hl, b_lh, b_ll`` instead of ``b_high, b_low``. Arrays in the
      shapes of :class:`octref.OctaveWeights`, None where absent. Their shapes
      show the layer's channel split and groups.
    * ``forward(x_high, x_low) -> (y_high, y_low)`` on float64 arrays.
    * ``backward(x_high, x_low, dy_high, dy_low) -> (dx_high, dx_low, dw_hh,
      dw_hl, dw_lh, dw_ll, db_high, db_low)``, optional.

    The output is compared with octref's for the layer's own parameters (with
    per-path biases, a map's bias is the sum of its paths'). Arguments,
    result and errors as :func:`check_octconv`.
    """
    if not callable(make_layer):
        raise TypeError(f"make_layer must be callable, got {type(make_layer).__name__}")
    _check_run_args(atol, rtol, max_examples, derandomize)
    return _conclude(LayerSubject(make_layer), configs, atol, rtol, max_examples, derandomize)


# The API reference documents these here, where users import them from.
for _public in (OctConvConfig, ConfigSpace, octconv_configs, canonical_configs, octave_inputs,
                make_octave_inputs, check_torch_module, KnownBug, variant_forward, Coverage,
                Finding, ConformanceResult, ConformanceError):
    _public.__module__ = __name__
del _public
