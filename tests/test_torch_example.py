"""The PyTorch examples of docs/testing.md, run exactly as printed there.

Each ``% example: NAME`` block of the page is executed with a small PyTorch
OctConv (below) in scope, so the page cannot drift from what works. torch is
optional: without it this module is skipped, the one skip in the suite.
"""

import math
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

PAGE = Path(__file__).resolve().parents[1] / "docs" / "testing.md"


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Layers this small are ~30x slower when torch's threads fight over 2 busy cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- a PyTorch OctConv

def octconv(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding, groups,
            floor_pool=False):
    """Eq. 4 in PyTorch, tensors in octref's argument order (None where absent)."""
    def conv(x, w):
        return F.conv2d(x, w, padding=padding, groups=x.shape[1] // w.shape[1])

    def pool(x):
        return F.avg_pool2d(x, 2, ceil_mode=not floor_pool)

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


class OctConv2d(torch.nn.Module):
    """A minimal OctConv layer, parameters ``w_hh, w_hl, w_lh, w_ll, b_high, b_low``."""

    def __init__(self, in_channels, out_channels, kernel_size, alpha_in, alpha_out, stride=1,
                 groups=1, bias=False, split="official", floor_pool=False):
        super().__init__()
        def high_low(channels, alpha):
            if split == "official":
                return channels - int(alpha * channels), int(alpha * channels)
            # the rounding some re-implementations use
            return int((1 - alpha) * channels), channels - int((1 - alpha) * channels)

        c_in, c_out = high_low(in_channels, alpha_in), high_low(out_channels, alpha_out)
        depthwise = groups == in_channels and groups > 1
        self.stride, self.padding, self.groups = stride, (kernel_size - 1) // 2, groups
        self.floor_pool = floor_pool
        for name, src, dst in (("w_hh", 0, 0), ("w_hl", 0, 1), ("w_lh", 1, 0), ("w_ll", 1, 1)):
            weight = None
            if c_in[src] and c_out[dst] and not (depthwise and src != dst):
                per_group = c_in[src] // (c_in[src] if depthwise else groups)
                shape = (c_out[dst], per_group, kernel_size, kernel_size)
                weight = torch.nn.Parameter(torch.randn(shape) / math.sqrt(per_group))
            setattr(self, name, weight)
        for name, c in (("b_high", c_out[0]), ("b_low", c_out[1])):
            setattr(self, name, torch.nn.Parameter(torch.randn(c)) if bias and c else None)

    def forward(self, x):
        return octconv(*x, self.w_hh, self.w_hl, self.w_lh, self.w_ll, self.b_high, self.b_low,
                       self.stride, self.padding, self.groups, floor_pool=self.floor_pool)


# --------------------------------------------------------------------------- the page's examples

def example(name):
    """The code block after ``% example: name`` on docs/testing.md."""
    found = re.search(rf"^% example: {name}\n```python\n(.*?)^```", PAGE.read_text(),
                      re.MULTILINE | re.DOTALL)
    assert found, f"docs/testing.md has no '% example: {name}' code block"
    return found.group(1)


def run_example(name, **scope):
    exec(compile(example(name), f"docs/testing.md:{name}", "exec"), scope)


def test_layer_example_passes():
    run_example("torch-layer", OctConv2d=OctConv2d)


def test_gradient_example_passes():
    run_example("torch-gradients", octconv=octconv)


@pytest.mark.parametrize("variant, diagnosis", [
    (dict(split="int((1 - alpha) C)"), "channel split c_high = int((1 - alpha) C)"),
    (dict(floor_pool=True), "floor-mode pooling"),
])
def test_layer_example_catches_a_broken_module(variant, diagnosis):
    class Broken(OctConv2d):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, **variant)

    with pytest.raises(AssertionError, match=re.escape(f"matches known bug: {diagnosis}")):
        run_example("torch-layer", OctConv2d=Broken)


def test_gradient_example_catches_a_broken_function():
    def strided_hl(x_high, x_low, w_hh, w_hl, *rest):
        # H->L as a stride-2 convolution of X^H: the paper's Table 3 variant.
        w_lh, w_ll, b_high, b_low, stride, padding, groups = rest
        y_high, y_low = octconv(x_high, x_low, w_hh, None, w_lh, w_ll, b_high, None, stride,
                                padding, groups)
        if w_hl is not None:
            source = x_high if stride == 1 else F.avg_pool2d(x_high, 2, ceil_mode=True)
            out = F.conv2d(source, w_hl, stride=2, padding=padding,
                           groups=x_high.shape[1] // w_hl.shape[1])
            y_low = out if y_low is None else y_low + out
        if b_low is not None:
            y_low = y_low + b_low[:, None, None]
        return y_high, y_low

    with pytest.raises(AssertionError, match="matches known bug: strided H->L convolution"):
        run_example("torch-gradients", octconv=strided_hl)
