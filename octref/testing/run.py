"""The conformance run: examine layers, diagnose each failure by reproduction, shrink.

One run examines the canonical layers first, then the random draw, and never
stops at the first failure: every failing example is diagnosed, failures are
grouped by what explains them, and each distinct bug is shrunk to its own
smallest configuration. A crash hides whatever else is wrong on its layer, so
the run also examines, for every crash it can name, the nearest layers
outside that crash's trigger.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import octref

from .bugs import (
    BACKWARD_NAMES,
    FORWARD_NAMES,
    SHAPE_BUGS,
    UNBUILDABLE,
    VariantCrash,
    bug_sets,
    parameter_shapes,
    variant_forward,
    variant_gradients,
)
from .configs import SEEDS, OctConvConfig, canonical_configs, make_octave_inputs, octconv_configs
from .subjects import SubjectFailure, WrongParameters

#: Examinations one shrink may spend (each is one forward, and a diagnosis).
SHRINK_BUDGET = 60
#: Backward failures diagnosed in full per run (see _diagnose_all).
BACKWARD_DIAGNOSES = 6
#: Failures no single bug explains that are tried against every pair (see _diagnose_all).
FULL_PAIR_TRIES = 8


@dataclass(eq=False)
class Observation:
    """One failing example and what explains it.

    Attributes
    ----------
    config : OctConvConfig
    seed : int
        Rebuilds the inputs (``make_octave_inputs(config, default_rng(seed))``).
    stage : {"make_layer", "parameters", "forward", "backward"}
    error : Exception or None
        What the implementation raised.
    why : str or None
        What was unusable in what it returned, or the parameter finding.
    problems : dict
        Output name -> what differs (value failures).
    bugs : tuple of str
        Keys of the known bugs that reproduce it; empty when none does.
    how : str
        How the diagnosis was reproduced.
    """

    config: OctConvConfig
    seed: int
    stage: str
    error: Exception | None = None
    why: str | None = None
    problems: dict = field(default_factory=dict)
    got: dict | None = None
    expected: dict | None = None
    inputs: tuple | None = None
    dy: tuple | None = None
    params: dict | None = None
    bugs: tuple = ()
    how: str = ""
    either: bool = False
    found: list = field(default_factory=list)

    @property
    def signature(self):
        """What makes two failures the same bug: the bugs, or the unexplained symptom."""
        if self.bugs:
            return ("either" if self.either else "bugs",) + tuple(sorted(self.bugs))
        kind = ("raised " + type(self.error).__name__) if self.error is not None else (
            "returned" if self.why else "values")
        return ("unknown", self.stage, kind)


def cost(config):
    """The order 'smaller' means when shrinking: fewer of everything."""
    return (config.batch, len(config.paths), config.in_channels + config.out_channels,
            config.height * config.width, config.height + config.width, config.kernel_size,
            config.stride, config.groups,
            sum(a not in (0.0, 0.5, 1.0) for a in (config.alpha_in, config.alpha_out)),
            config.bias)


# --------------------------------------------------------------------------- one example

def compare(name, got, expected, atol, rtol):
    """None if ``got`` matches ``expected`` within |g - e| <= atol + rtol |e|, else why not."""
    if expected is None:
        return None if got is None else (
            f"{name}: expected None (the layer has no such map), got shape {got.shape}")
    if got is None:
        return f"{name}: got None, expected shape {expected.shape}"
    if got.shape != expected.shape:
        return f"{name}: shape {got.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(got)):
        return f"{name}: {np.count_nonzero(~np.isfinite(got))} non-finite values"
    error = np.abs(got - expected)
    bad = error > atol + rtol * np.abs(expected)
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    worst = np.unravel_index(np.argmax(error), error.shape)
    return (f"{name}: {np.count_nonzero(bad)} of {bad.size} values differ; first at "
            f"{first} (got {got[first]:.6g}, expected {expected[first]:.6g}); largest "
            f"error {error[worst]:.3g}")


def _matches(got, expected, atol, rtol):
    if got is None or expected is None:
        return got is None and expected is None
    return got.shape == expected.shape and bool(
        np.all(np.abs(got - expected) <= atol + rtol * np.abs(expected)))


def examine(subject, config, seed, atol, rtol):
    """Run one example: the list of its failures (empty when it passes)."""
    found = []
    try:
        x, w, b, handle, doubled = subject.setup(config, seed)
    except SubjectFailure as failure:
        return [Observation(config, seed, failure.stage, error=failure.__cause__,
                            why=failure.why)]
    except WrongParameters as wrong:
        return [Observation(config, seed, "parameters", params=wrong.got,
                            why="the layer's weights have the wrong shapes")]
    if doubled:
        found.append(Observation(config, seed, "parameters", why=doubled,
                                 bugs=("per_path_bias",),
                                 how="the layer reports a bias for each path"))
    y, cache = octref.octconv_forward(x, w, b, stride=config.stride, groups=config.groups,
                                      downsample=config.downsample)
    inputs = (x, w, b)
    try:
        got = subject.forward(config, x, w, b, handle)
    except SubjectFailure as failure:
        return found + [Observation(config, seed, "forward", error=failure.__cause__,
                                    why=failure.why, inputs=inputs)]
    expected = dict(zip(FORWARD_NAMES, y))
    problems = {n: p for n in FORWARD_NAMES if (p := compare(n, got[n], expected[n], atol, rtol))}
    if problems:
        return found + [Observation(config, seed, "forward", problems=problems, got=got,
                                    expected=expected, inputs=inputs)]
    if not subject.has_backward:
        return found
    rng = np.random.default_rng([seed, 1])
    dy = tuple(None if a is None else rng.standard_normal(a.shape) for a in y)
    dx, dw, db = octref.octconv_backward(octref.Octave(*dy), cache)
    expected = dict(zip(BACKWARD_NAMES, (*dx, *dw, *(db if db is not None else (None, None)))))
    try:
        got = subject.backward(config, x, w, b, handle, dy)
    except SubjectFailure as failure:
        return found + [Observation(config, seed, "backward", error=failure.__cause__,
                                    why=failure.why, inputs=inputs, dy=dy)]
    # Where octref has no gradient (absent input, path or bias) anything returned is ignored.
    problems = {n: p for n in BACKWARD_NAMES if expected[n] is not None
                and (p := compare(n, got[n], expected[n], atol, rtol))}
    if problems:
        found.append(Observation(config, seed, "backward", problems=problems, got=got,
                                 expected=expected, inputs=inputs, dy=dy))
    return found


# --------------------------------------------------------------------------- diagnosis

def _twin(config, changes):
    """``config`` with only the trigger changed (both alphas of a depthwise layer)."""
    if config.depthwise:
        alpha = next(iter(changes.values()))
        changes = {"alpha_in": alpha, "alpha_out": alpha}
    try:
        return replace(config, **changes)
    except ValueError:
        return None


def diagnose(subject, obs, atol, rtol, pairs=None):
    """Set ``obs.bugs`` and ``obs.how``: the bugs whose variant reproduces the failure.

    ``pairs``: the pairs to try when no single bug reproduces it (default: all).
    """
    config = obs.config
    if obs.bugs or obs.why and obs.error is None and obs.stage != "parameters":
        return obs  # already named (per-path bias), or an unusable return value
    if obs.stage == "parameters":
        got = tuple(obs.params[n] for n in ("w_hh", "w_hl", "w_lh", "w_ll"))
        found = [key for key in SHAPE_BUGS if parameter_shapes(config, key) == got]
        if found:
            obs.bugs, obs.either = tuple(found), len(found) > 1
            obs.found = [(key,) for key in found]
            obs.how = "the layer's weight shapes are those " + (
                "this bug gives" if len(found) == 1 else "each of these bugs gives")
        return obs
    if obs.stage == "make_layer" and "divisible by groups" in str(obs.error):
        # A layout bug that makes this layer impossible to build fails right here too,
        # as nn.Conv2d does: "in_channels must be divisible by groups".
        found = [key for key in SHAPE_BUGS if parameter_shapes(config, key) == UNBUILDABLE]
        if found:
            obs.bugs, obs.either = tuple(found), len(found) > 1
            obs.found = [(key,) for key in found]
            obs.how = ("with this bug the layer cannot be built here either (its groups do "
                       "not divide its channels)")
            return obs
    if obs.inputs is None:  # make_layer raised: octref's inputs stand in for the variant's
        obs.inputs = make_octave_inputs(config, np.random.default_rng(obs.seed))
    singles, all_pairs = bug_sets(config)
    for candidates in (singles, all_pairs if pairs is None else pairs):
        found = [bugs for bugs in candidates if _reproduces(subject, obs, bugs, atol, rtol)]
        if obs.stage == "backward" and not found:
            break  # gradients of pairs cost too much for what they would tell
        if found:
            obs.found = found
            obs.bugs = tuple(dict.fromkeys(k for bugs in found for k in bugs))
            obs.either = len(found) > 1
            if len(found) > 1:
                obs.how = ("reproduced equally by " + " and by ".join(
                    " + ".join(bugs) for bugs in found) + " on this layer")
            elif obs.error is not None:
                obs.how = "the variant with this bug fails the same way"
            else:
                obs.how = "the variant with this bug gives the same " + (
                    "outputs" if obs.stage == "forward" else "gradients")
            return obs
    return obs


def _reproduces(subject, obs, bugs, atol, rtol):
    x, w, b = obs.inputs
    config = obs.config
    if obs.error is not None:  # a crash: the variant must fail the same way, here
        if obs.stage == "backward":
            return False
        try:
            variant_forward(x, w, b, config, bugs)
        except VariantCrash as crash:
            if not crash.consistent_with(obs.error):
                return False
            if crash.twin is not None:
                twin = _twin(config, crash.twin)
                if twin is None:
                    return False
                return not any(o.error is not None and o.stage == obs.stage
                               for o in examine(subject, twin, obs.seed, atol, rtol))
            return True
        return False
    if obs.stage == "forward":
        try:
            y = variant_forward(x, w, b, config, bugs)
        except VariantCrash:
            return False
        return all(_matches(obs.got[n], y[n], atol, rtol) for n in FORWARD_NAMES)
    try:
        grads = variant_gradients(x, w, b, config, bugs, obs.dy, tuple(obs.problems))
    except VariantCrash:
        return False
    return all(_matches(obs.got[n], grads.get(n), atol, rtol) for n in obs.problems)


# --------------------------------------------------------------------------- the search

def _untrigger(key, config):
    """Layers near ``config`` outside the trigger of bug ``key`` (where it may crash)."""
    even = {"height": config.height + config.height % 2, "width": config.width + config.width % 2}
    by_four = {"height": 4 * math.ceil(config.height / 4), "width": 4 * math.ceil(config.width / 4)}
    options = {
        "floor_pool": [even, by_four],
        "uncropped_upsample": [even],
        "no_high_crash": [{"alpha_in": min(config.alpha_in, 0.5),
                           "alpha_out": min(config.alpha_out, 0.5)}],
        "zero_channel_crash": [{"in_channels": max(config.in_channels, 2),
                                "out_channels": max(config.out_channels, 2)}],
        "one_channel_depthwise": [{"in_channels": 2}],
        "stride_ignored": [{"stride": 1}],
        "reflect_padding": [{"height": max(config.height, 4), "width": max(config.width, 4)}],
        "swapped_hl_lh": [{"alpha_in": 0.5, "alpha_out": 0.5, "in_channels": 4,
                           "out_channels": 4, "groups": 1}],
    }.get(key, [])
    for changes in options:
        try:
            yield replace(config, **changes)
        except ValueError:
            continue


def _resolve(configs):
    """(space or None, strategy or None, explicit configs) from the ``configs`` argument."""
    if configs is None:
        configs = octconv_configs()
    if isinstance(configs, OctConvConfig):
        return None, None, [configs]
    if isinstance(configs, (list, tuple)):
        if not configs or not all(isinstance(c, OctConvConfig) for c in configs):
            raise TypeError("configs must be a strategy from octconv_configs, an OctConvConfig "
                            "or a non-empty sequence of OctConvConfig")
        return None, None, list(configs)
    if not isinstance(configs, st.SearchStrategy):
        raise TypeError(f"configs must be a hypothesis strategy of OctConvConfig, got "
                        f"{type(configs).__name__}")
    space = getattr(configs, "space", None)
    return space, configs, canonical_configs(space)


def _draw(strategy, max_examples, derandomize):
    drawn = []
    if not max_examples:
        return drawn

    @settings(max_examples=max_examples, deadline=None, derandomize=derandomize, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(config=strategy, seed=SEEDS)
    def draw(config, seed):
        if not isinstance(config, OctConvConfig):
            raise TypeError(f"configs drew {type(config).__name__}, not OctConvConfig")
        drawn.append((config, seed))

    draw()
    return drawn


def search(subject, configs, atol, rtol, max_examples, derandomize):
    """Examine every layer, diagnose every failure, shrink each distinct bug.

    Returns
    -------
    examined : list of (OctConvConfig, str)
        Every layer examined and where it came from ("canonical", "drawn",
        "outside a trigger").
    findings : list of (Observation, list of Observation)
        For each distinct bug or unexplained symptom: its smallest failing
        example and every failing example with the same signature.
    space : ConfigSpace or None
    """
    space, strategy, explicit = _resolve(configs)
    source = "canonical" if strategy is not None else "given"
    examples = [(c, i, source) for i, c in enumerate(explicit)]
    if strategy is not None:
        examples += [(c, s, "drawn") for c, s in _draw(strategy, max_examples, derandomize)]
    examined, failures = [], []
    for config, seed, where in examples:
        examined.append((config, where))
        failures += examine(subject, config, seed, atol, rtol)
    _diagnose_all(subject, failures, atol, rtol)
    # A crash hides the other bugs of its layer: look next to it, outside its trigger.
    looked = {c for c, _ in examined}
    for obs in list(failures):
        for key in obs.bugs:
            for near in _untrigger(key, obs.config):
                if near in looked or (space is not None and not space.allows(near)):
                    continue
                looked.add(near)
                examined.append((near, "outside a trigger"))
                more = examine(subject, near, obs.seed, atol, rtol)
                _diagnose_all(subject, more, atol, rtol)
                failures += more
    return examined, _distinct(subject, failures, space, atol, rtol), space


def _diagnose_all(subject, failures, atol, rtol):
    """Diagnose every failure, smallest first; only the first few backward ones in full.

    A backward diagnosis costs a forward per weight entry per candidate bug,
    so beyond the first ``BACKWARD_DIAGNOSES`` a backward failure takes the
    diagnosis of an earlier one that failed in the same gradients.
    """
    diagnosed, unexplained, pairs_found = {}, 0, []
    for obs in sorted(failures, key=lambda o: cost(o.config)):
        if obs.stage != "backward":
            # Every pair for the first few failures no single bug explains; later ones
            # try the pairs found so far (their group's smallest layer had the full try).
            full = unexplained < FULL_PAIR_TRIES
            diagnose(subject, obs, atol, rtol, pairs=None if full else pairs_found)
            pairs_found += [p for p in obs.found if len(p) == 2 and p not in pairs_found]
            unexplained += len(obs.bugs) != 1
            continue
        names = tuple(sorted(obs.problems)) or ("raised",)
        if len(diagnosed) < BACKWARD_DIAGNOSES or names not in diagnosed:
            diagnose(subject, obs, atol, rtol)
            diagnosed.setdefault(names, obs)
        else:
            earlier = diagnosed[names]
            obs.bugs = earlier.bugs
            obs.how = "(not re-diagnosed: fails in the same gradients as a diagnosed layer)"


def _distinct(subject, failures, space, atol, rtol):
    def grouped():
        by_signature = {}
        for obs in failures:
            by_signature.setdefault(obs.signature, []).append(obs)
        return by_signature

    # An unexplained failure gets every pair before it is called unexplained
    # (_diagnose_all tries all of them only for the first few).
    for obs in failures:
        if not obs.bugs and obs.stage != "backward":
            diagnose(subject, obs, atol, rtol)
    alone = {obs.bugs[0] for obs in failures if len(obs.bugs) == 1}
    findings = []
    for signature, group in grouped().items():
        # A pair is reported only for a bug never seen alone, and an ambiguity
        # ("A or B") only when neither is seen alone.
        if signature[0] == "bugs" and len(signature) > 2 and set(signature[1:]) <= alone:
            continue
        if signature[0] == "either" and set(signature[1:]) & alone:
            continue
        smallest = min(group, key=lambda o: cost(o.config))
        findings.append((shrink(subject, smallest, space, atol, rtol), group))
    return findings


def _candidates(config, space):
    alphas = space.alphas if space is not None else (0.0, 0.5, 1.0)
    kernels = space.kernel_sizes if space is not None else (1, 3)
    steps = [dict(batch=1), dict(bias=False), dict(groups=1), dict(stride=1)]
    steps += [dict(kernel_size=k) for k in sorted(kernels) if k < config.kernel_size]
    for name in ("in_channels", "out_channels"):
        for smaller in range(1, getattr(config, name)):
            steps.append({name: smaller})
    if config.depthwise:
        steps += [dict(in_channels=c, groups=c, out_channels=c)
                  for c in range(2, config.in_channels)]
    for name in ("height", "width"):
        value = getattr(config, name)
        steps += [{name: value - 2}, {name: value - 1}, {name: value - 4}]
    steps += [dict(height=config.height - d, width=config.width - d) for d in (1, 2, 4)]
    steps += [dict(alpha_in=a) for a in alphas] + [dict(alpha_out=a) for a in alphas]
    steps += [dict(alpha_in=a, alpha_out=a) for a in alphas]
    for changes in steps:
        try:
            candidate = replace(config, **changes)
        except ValueError:
            continue
        if candidate != config and (space is None or space.allows(candidate)):
            yield candidate


def shrink(subject, obs, space, atol, rtol):
    """The smallest failing example near ``obs`` with the same signature (greedy)."""
    if space is None:
        return obs
    budget = SHRINK_BUDGET
    improved = True
    while improved and budget > 0:
        improved = False
        for candidate in sorted(_candidates(obs.config, space), key=cost):
            if cost(candidate) >= cost(obs.config):
                continue
            budget -= 1
            for again in examine(subject, candidate, obs.seed, atol, rtol):
                if again.stage == obs.stage or again.bugs:
                    diagnose(subject, again, atol, rtol)
                    if again.signature == obs.signature:
                        obs, improved = again, True
                        break
            if improved or budget <= 0:
                break
    return obs
