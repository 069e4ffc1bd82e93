"""plot_octave_layer draws the shapes octref computes, for any layer configuration.

Each configuration is run through octref's own forward pass on zeros; the map
shapes, weight shapes and per-step sizes the figure reports (``fig.octave_layer``)
and the numbers written in its labels (text artists found by ``gid``) must equal
what that run produced.
"""

import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import octref  # noqa: E402
from octref import Octave, init_octave_weights, viz  # noqa: E402
from octref.sampling import pool2x2  # noqa: E402

CONFIGS = [
    dict(in_channels=16, out_channels=16, kernel_size=3, alpha_in=0.5, alpha_out=0.5,
         height=12, width=12),
    dict(in_channels=6, out_channels=10, kernel_size=3, alpha_in=0.25, alpha_out=0.75,
         height=7, width=9),
    dict(in_channels=3, out_channels=8, kernel_size=3, alpha_in=0.0, alpha_out=0.25,
         height=7, width=5, stride=2),  # first layer, stride 2: no X^L
    dict(in_channels=8, out_channels=4, kernel_size=1, alpha_in=0.5, alpha_out=0.0,
         height=5, width=6),  # last layer: no Y^L
    dict(in_channels=8, out_channels=8, kernel_size=3, alpha_in=0.5, alpha_out=0.5,
         height=9, width=9, groups=8),  # depthwise
    dict(in_channels=8, out_channels=8, kernel_size=3, alpha_in=0.5, alpha_out=0.5,
         height=10, width=7, groups=2, stride=2),
    dict(in_channels=4, out_channels=4, kernel_size=3, alpha_in=0.5, alpha_out=0.5,
         height=11, width=11, downsample="strided"),
    dict(in_channels=4, out_channels=4, kernel_size=5, alpha_in=1.0, alpha_out=1.0,
         height=6, width=6),  # all low
]


def _run_octref(config):
    """Octref's forward pass on zeros: (x, w, y) with the shapes the layer really has."""
    c = dict(config)
    stride, groups = c.pop("stride", 1), c.pop("groups", 1)
    downsample = c.pop("downsample", "avgpool")
    height, width = c.pop("height"), c.pop("width")
    rng = np.random.default_rng(0)
    w = init_octave_weights(c["in_channels"], c["out_channels"], c["kernel_size"],
                            c["alpha_in"], c["alpha_out"], groups=groups, rng=rng)
    c_low = int(c["alpha_in"] * c["in_channels"])
    c_high = c["in_channels"] - c_low
    x = Octave(np.zeros((1, c_high, height, width)) if c_high else None,
               np.zeros((1, c_low, (height + 1) // 2, (width + 1) // 2)) if c_low else None)
    y, _ = octref.octconv_forward(x, w, stride=stride, groups=groups, downsample=downsample)
    return x, w, y


def _numbers(text):
    return [int(n) for n in re.findall(r"\d+", text)]


def _labels(fig):
    return {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_drawn_shapes_are_octrefs(config):
    x, w, y = _run_octref(config)
    fig = viz.plot_octave_layer(**config)
    layer, labels = fig.octave_layer, _labels(fig)
    for name, array in (("x_high", x.high), ("x_low", x.low), ("y_high", y.high),
                        ("y_low", y.low)):
        if array is None:
            assert layer[name] is None
            assert "no channels" in labels[name]
        else:
            assert layer[name] == array.shape[1:]
            assert _numbers(labels[name].split("$")[-1]) == list(array.shape[1:])
    for path, weight in zip(("hh", "hl", "lh", "ll"), w):
        info = layer["paths"][path]
        if weight is None:
            assert info is None, f"{path} drawn although octref has no such weight"
            assert labels[path].startswith("absent")
            continue
        assert info["weight"] == weight.shape
        # The label writes each step's size as "→ H×W" and the weight as "(a, b, k, k)".
        sizes = [tuple(map(int, m)) for m in re.findall(r"→ (\d+)×(\d+)", labels[path])]
        assert sizes == [size for _, size in info["steps"]], f"{path}: {labels[path]!r}"
        drawn_weight = re.findall(r"\((\d+), (\d+), (\d+), (\d+)\)", labels[path])
        assert [tuple(map(int, m)) for m in drawn_weight] == [weight.shape]
        # The last step's size is the output map's size that path adds into.
        target = y.high if path[1] == "h" else y.low
        assert info["steps"][-1][1] == target.shape[2:]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_pool_steps_match_octrefs_pooling(config):
    x, _, _ = _run_octref(config)
    layer = viz.octave_layer_shapes(**config)
    for path, info in layer["paths"].items():
        if info is None:
            continue
        source = x.high if path[0] == "h" else x.low
        for op, size in info["steps"]:
            if op == "pool":
                source = pool2x2(source)
                assert source.shape[2:] == size


def test_absent_paths_say_why():
    labels = _labels(viz.plot_octave_layer(8, 8, 3, 0.5, 0.5, 8, 8, groups=8))
    assert "depthwise" in labels["hl"] and "depthwise" in labels["lh"]
    labels = _labels(viz.plot_octave_layer(3, 8, 3, 0.0, 0.5, 8, 8))
    assert "X^L" in labels["lh"] and "α_in = 0" in labels["ll"]
    labels = _labels(viz.plot_octave_layer(8, 3, 3, 0.5, 0.0, 8, 8))
    assert "Y^L" in labels["hl"]


def test_invalid_layer_is_refused_with_octrefs_message():
    with pytest.raises(ValueError, match="groups"):
        viz.plot_octave_layer(8, 8, 3, 0.5, 0.5, 8, 8, groups=3)
    with pytest.raises(ValueError, match="alpha"):
        viz.plot_octave_layer(8, 8, 3, 1.5, 0.5, 8, 8)
