"""What a conformance run returns and prints: coverage, findings, the report.

:class:`ConformanceResult` is returned by a passing check and attached (as
``.result``) to the :class:`ConformanceError` a failing one raises; its
``report`` is the text of that error.
"""

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .bugs import KNOWN_BUGS, PATHS

PATH_NAMES = {"hh": "H->H", "hl": "H->L", "lh": "L->H", "ll": "L->L"}


@dataclass(frozen=True)
class Coverage:
    """What a run exercised, counted over every layer it examined.

    Attributes
    ----------
    layers : int
        Layers examined.
    sources : dict
        Where they came from: "canonical", "drawn", "given", "outside a trigger".
    paths : dict
        Path ("hh", "hl", "lh", "ll") -> layers that have it.
    four_paths : int
        Layers with all four paths.
    equal_cross_shapes : int
        Layers whose W^HL and W^LH have the same shape (a swap of the two
        cannot show as a shape error there).
    kernels, strides, groups : dict
        Kernel size -> layers, stride -> layers, "plain"/"grouped"/"depthwise" -> layers.
    odd_sides, sides_2_mod_4, bias, alpha_edges : int
        Layers with an odd side, with a side = 2 (mod 4), with a bias, with an
        alpha of 0 or 1.
    """

    layers: int
    sources: dict
    paths: dict
    four_paths: int
    equal_cross_shapes: int
    kernels: dict
    strides: dict
    groups: dict
    odd_sides: int
    sides_2_mod_4: int
    bias: int
    alpha_edges: int

    @classmethod
    def of(cls, examined):
        configs = [c for c, _ in examined]
        shapes = [c.weight_shapes for c in configs]
        kind = Counter("depthwise" if c.depthwise else "grouped" if c.groups > 1 else "plain"
                       for c in configs)
        return cls(
            layers=len(configs), sources=dict(Counter(where for _, where in examined)),
            paths={p: sum(getattr(s, p) is not None for s in shapes) for p in PATHS},
            four_paths=sum(all(v is not None for v in s) for s in shapes),
            equal_cross_shapes=sum(s.hl is not None and s.hl == s.lh for s in shapes),
            kernels=dict(sorted(Counter(c.kernel_size for c in configs).items())),
            strides=dict(sorted(Counter(c.stride for c in configs).items())),
            groups={k: kind[k] for k in ("plain", "grouped", "depthwise")},
            odd_sides=sum(c.height % 2 == 1 or c.width % 2 == 1 for c in configs),
            sides_2_mod_4=sum(c.height % 4 == 2 or c.width % 4 == 2 for c in configs),
            bias=sum(c.bias for c in configs),
            alpha_edges=sum(bool({c.alpha_in, c.alpha_out} & {0.0, 1.0}) for c in configs))

    def lines(self):
        def counts(d, fmt="{} x{}"):
            return ", ".join(fmt.format(k, v) for k, v in d.items())
        return [
            f"examined {self.layers} layers: " + ", ".join(
                f"{v} {k}" for k, v in self.sources.items()),
            "    paths: " + ", ".join(f"{PATH_NAMES[p]} {n}" for p, n in self.paths.items())
            + f"; all four {self.four_paths} (W^HL and W^LH of one shape "
              f"{self.equal_cross_shapes})",
            f"    kernels: {counts(self.kernels, 'k={} x{}')}; strides: "
            f"{counts(self.strides, '{} x{}')}; an odd side {self.odd_sides}, "
            f"a side = 2 mod 4 {self.sides_2_mod_4}",
            f"    groups: {counts(self.groups, '{} {}')}; with bias {self.bias}; "
            f"alpha 0 or 1 {self.alpha_edges}",
        ]


@dataclass(frozen=True)
class Finding:
    """One distinct bug (or unexplained failure) with its smallest layer.

    Attributes
    ----------
    bugs : tuple of str
        Keys of :data:`~octref.testing.KNOWN_BUGS` that reproduce it (two when
        only a pair does); empty: no known bug matches.
    config : OctConvConfig
        The smallest layer found that shows it.
    seed : int
        ``make_octave_inputs(config, numpy.random.default_rng(seed))`` rebuilds the inputs.
    stage : str
        "make_layer", "parameters", "forward" or "backward".
    layers : int
        Examined layers that fail with the same diagnosis.
    lines : tuple of str
        The report's lines for this finding.
    """

    bugs: tuple
    config: object
    seed: int
    stage: str
    layers: int
    lines: tuple


@dataclass(frozen=True)
class ConformanceResult:
    """The outcome of a check: coverage, findings and the report text."""

    passed: bool
    coverage: Coverage
    findings: tuple
    report: str

    def __str__(self):
        return self.report


class ConformanceError(AssertionError):
    """A check failed; ``.result`` is its :class:`ConformanceResult`."""

    def __init__(self, result):
        super().__init__(result.report)
        self.result = result


# --------------------------------------------------------------------------- text

_FEATURES = (
    ("stride 2", lambda c: c.stride == 2),
    ("an odd side", lambda c: c.height % 2 == 1 or c.width % 2 == 1),
    ("a side = 2 mod 4", lambda c: c.height % 4 == 2 or c.width % 4 == 2),
    ("a bias", lambda c: c.bias),
    ("groups > 1", lambda c: c.groups > 1),
    ("k > 1", lambda c: c.kernel_size > 1),
    ("a low-frequency input", lambda c: c.in_split[1] > 0),
    ("a low-frequency output", lambda c: c.out_split[1] > 0),
    ("alpha 0 or 1", lambda c: bool({c.alpha_in, c.alpha_out} & {0.0, 1.0})),
)


def evidence(obs, group, examined, atol, rtol):
    """What a human needs when no known bug matches: where, and on which layers."""
    lines = []
    # Where the wrong pixels are, over every failing layer whose maps can tell
    # (a map under 3x3 is all border; a 1x1 map is constant).
    border_only, constant = {}, {}
    for member in [obs] + list(group):
        for name in member.problems:
            got, expected = member.got.get(name), member.expected.get(name)
            if got is None or expected is None or got.shape != expected.shape:
                continue
            bad = ~(np.abs(got - expected) <= atol + rtol * np.abs(expected))
            rows, cols = np.nonzero(bad.any(axis=(0, 1)))
            height, width = bad.shape[-2:]
            if min(height, width) >= 3:
                interior = (rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)
                border_only[name] = border_only.get(name, True) and not interior.any()
            if height * width > 1:
                offset = got - expected
                same = np.allclose(offset, offset.mean(axis=(2, 3), keepdims=True), atol=1e-9)
                constant[name] = constant.get(name, True) and same
    lines += [f"{name}: only border pixels (first/last row or column) differ"
              for name, only in border_only.items() if only]
    lines += [f"{name}: the error is the same at every pixel of a channel (a bias?)"
              for name, same in constant.items() if same]
    failing = [o.config for o in group]
    failing_set = set(failing)
    others = [c for c, _ in examined if c not in failing_set]
    for text, has in _FEATURES if len(failing_set) > 1 else ():  # one layer proves nothing
        if all(has(c) for c in failing) and any(not has(c) for c in others):
            with_it = [c for c, _ in examined if has(c)]
            lines.append(f"every failing layer has {text} ({len(failing_set)} of "
                         f"{len(set(with_it))} layers with it fail, none without)")
    return lines


def finding_lines(index, total_layers, obs, group, examined, subject, atol, rtol):
    """The report lines of one finding."""
    tolerance = f"|got - expected| <= {atol:g} + {rtol:g} |expected|"
    config = obs.config
    if obs.bugs:
        if obs.either:
            title = " or ".join(KNOWN_BUGS[k].name for k in obs.bugs) + (
                " (each reproduces it alone; this layer cannot tell them apart)")
        else:
            title = " + ".join(KNOWN_BUGS[k].name for k in obs.bugs)
            if len(obs.bugs) > 1:
                title += " (only both together reproduce it)"
    else:
        title = "no known bug matches"
    lines = [f"{index}. {title}",
             f"   smallest layer: config = {config.short()}",
             f"       channels in (high, low) = {config.in_split}, out (high, low) = "
             f"{config.out_split}; paths {', '.join(PATH_NAMES[p] for p in config.paths)}; "
             f"padding {config.padding}",
             f"       {subject.reproduce(config, obs.seed)}"]
    if obs.stage == "parameters" and obs.params is not None:
        lines.append("   parameters (got, expected):")
        for name, expected in zip(("w_hh", "w_hl", "w_lh", "w_ll"), config.weight_shapes):
            got = obs.params[name]
            mark = "" if got == expected else "   <-"
            lines.append(f"       {name}: {got}, expected {expected}{mark}")
    elif obs.stage == "parameters":
        lines.append(f"   parameters: {obs.why}")
    elif obs.error is not None:
        cause = f"{type(obs.error).__name__}: {obs.error}"
        lines.append(f"   {obs.stage} raised {cause}")
    elif obs.why:
        lines.append(f"   {obs.why}")
    else:
        lines += [f"   {obs.stage}: {p}" for p in obs.problems.values()]
        lines.append(f"       (tolerance {tolerance})")
    if obs.bugs:
        lines.append(f"   diagnosis: reproduced: {obs.how}")
        for key in obs.bugs:
            bug = KNOWN_BUGS[key]
            lines.append(f"       {bug.name}: {bug.what}")
            lines.append(f"       seen in {bug.seen_in}")
    else:
        lines.append("   diagnosis: no variant in octref.testing.KNOWN_BUGS reproduces it; "
                     "octref.loops computes any pixel by Eq. 3 to compare by hand")
        lines += [f"   evidence: {e}" for e in evidence(obs, group, examined, atol, rtol)]
    lines.append(f"   fails on {len({o.config for o in group})} of {total_layers} layers")
    return lines
