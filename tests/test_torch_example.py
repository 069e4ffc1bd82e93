"""The PyTorch examples of docs/testing.md, run exactly as printed there.

Each ``% example: NAME`` block of the page is executed; the module blocks define
the modules the check blocks use. A correct PyTorch OctConv passes forward and
autograd backward, the page's report of a four-bug module is what the kit
prints now, and an adapter that swaps W^HL and W^LH is caught and named.
torch is optional: without it this module is skipped (CI installs it).
"""

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from octref.testing import ConformanceError, OctConvConfig, check_torch_module  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "testing.md"


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Layers this small are ~30x slower when torch's threads fight over 2 busy cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def block(kind, name):
    """The fenced block after ``% <kind>: <name>`` on docs/testing.md."""
    found = re.search(rf"^% {kind}: {name}\n```\w+\n(.*?)^```", PAGE.read_text(),
                      re.MULTILINE | re.DOTALL)
    assert found, f"docs/testing.md has no '% {kind}: {name}' block"
    return found.group(1)


def run(*names, scope=None):
    scope = {} if scope is None else scope
    for name in names:
        exec(compile(block("example", name), f"docs/testing.md:{name}", "exec"), scope)
    return scope


# --------------------------------------------------------------------------- a functional OctConv

def octconv(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding, groups):
    """Eq. 4 in PyTorch, tensors in octref's argument order (None where absent)."""
    def conv(x, w):
        return F.conv2d(x, w, padding=padding, groups=x.shape[1] // w.shape[1])

    def pool(x):
        return F.avg_pool2d(x, 2, ceil_mode=True)

    def up(x, size):
        return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[:, :, :size[0], :size[1]]

    low_for_lh = x_low
    if stride == 2:  # pool every path's input; L->H then needs no upsampling
        x_high = None if x_high is None else pool(x_high)
        x_low = None if x_low is None else pool(x_low)
    y_high = y_low = None
    if w_hh is not None:
        y_high = conv(x_high, w_hh)
    if w_lh is not None:
        out = conv(low_for_lh, w_lh)
        if stride == 1:
            size = x_high.shape[2:] if x_high is not None else [2 * n for n in x_low.shape[2:]]
            out = up(out, size)
        y_high = out if y_high is None else y_high + out
    if w_ll is not None:
        y_low = conv(x_low, w_ll)
    if w_hl is not None:
        out = conv(pool(x_high), w_hl)
        y_low = out if y_low is None else y_low + out
    if b_high is not None:
        y_high = y_high + b_high[:, None, None]
    if b_low is not None:
        y_low = y_low + b_low[:, None, None]
    return y_high, y_low


# --------------------------------------------------------------------------- the page

def test_the_module_on_the_page_passes_forward_and_backward():
    scope = run("torch-module", "torch-check")
    result = scope["result"]
    assert result.passed and "octconv_forward and octconv_backward" in result.report
    assert result.coverage.sources["canonical"] >= 30 and result.coverage.four_paths >= 30


def test_the_gradient_example_passes():
    run("torch-gradients", scope={"octconv": octconv})


def test_the_report_on_the_page_is_what_the_kit_prints():
    scope = run("torch-module", "broken-module")
    with pytest.raises(ConformanceError) as info:
        run("broken-check", scope=scope)
    assert str(info.value) == block("report", "broken-check").rstrip("\n")


def test_the_broken_module_shows_the_same_bugs_with_the_default_draw():
    scope = run("torch-module", "broken-module")
    code = block("example", "broken-check").replace("max_examples=0", "max_examples=60")
    with pytest.raises(ConformanceError) as info:
        exec(code, scope)
    named = sorted(key for f in info.value.result.findings for key in f.bugs)
    assert named == ["floor_pool", "one_channel_depthwise", "per_path_bias",
                     "uncropped_upsample"]


PARAMS = {"w_hh": "conv_hh.weight", "w_hl": "conv_hl.weight", "w_lh": "conv_lh.weight",
          "w_ll": "conv_ll.weight", "b_high": "b_high", "b_low": "b_low"}


def build(module):
    return lambda c: module(c.in_channels, c.out_channels, c.kernel_size, c.alpha_in,
                            c.alpha_out, stride=c.stride, groups=c.groups, bias=c.bias)


def test_an_adapter_that_swaps_the_cross_weights_is_named():
    module = run("torch-module")["OctaveConv"]
    swapped = {**PARAMS, "w_hl": "conv_lh.weight", "w_lh": "conv_hl.weight"}
    with pytest.raises(ConformanceError) as info:
        check_torch_module(build(module), swapped, max_examples=0)
    assert [f.bugs for f in info.value.result.findings] == [("swapped_hl_lh",)]
    # On the canonical layer W^HL and W^LH have one shape: only the values show the swap.
    canonical = OctConvConfig(4, 4, 3, 0.5, 0.5, height=6, width=5)
    with pytest.raises(ConformanceError) as info:
        check_torch_module(build(module), swapped, configs=canonical)
    assert [f.bugs for f in info.value.result.findings] == [("swapped_hl_lh",)]
    assert "the variant with this bug gives the same outputs" in str(info.value)


def test_a_wrong_backward_is_caught():
    module = run("torch-module")["OctaveConv"]

    class HalfGradient(torch.autograd.Function):  # identity forward, halved gradient
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            return grad / 2

    def call(layer, x_high, x_low):
        x_high = None if x_high is None else HalfGradient.apply(x_high)
        return layer((x_high, x_low))

    with pytest.raises(ConformanceError, match="backward: dx_high"):
        check_torch_module(build(module), PARAMS, call=call, max_examples=0)


def test_module_arguments_are_checked():
    with pytest.raises(TypeError, match="params must be a non-empty dict"):
        check_torch_module(lambda c: None, ["conv_hh.weight"])
    with pytest.raises(TypeError, match="build must be callable"):
        check_torch_module(None, PARAMS)
