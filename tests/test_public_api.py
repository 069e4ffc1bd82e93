"""The public surface: the contract's names exist, and every public name is documented."""

import importlib
import inspect
import pkgutil

import pytest

import octref

MODULES = [importlib.import_module(f"octref.{info.name}")
           for info in pkgutil.iter_modules(octref.__path__) if not info.name.startswith("_")]


def test_contract_names_are_importable_as_written():
    from octref import (  # noqa: F401
        Octave,
        OctaveWeights,
        OctConv2d,
        conv_backward,
        conv_forward,
        init_octave_weights,
        octconv_backward,
        octconv_forward,
        split_channels,
    )
    for module in (octref.loops, octref.im2col):
        for name in ("conv_forward", "conv_backward", "octconv_forward", "octconv_backward"):
            assert callable(getattr(module, name))
    loops_sig = inspect.signature(octref.loops.octconv_forward)
    assert loops_sig == inspect.signature(octref.im2col.octconv_forward)
    assert str(loops_sig) == ("(x, w, b=None, *, stride=1, padding=None, groups=1, "
                              "downsample='avgpool')")
    assert str(inspect.signature(octref.loops.conv_forward)) == (
        "(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1)")
    assert inspect.signature(octref.loops.conv_forward) == inspect.signature(
        octref.im2col.conv_forward)


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_every_public_name_has_a_docstring(module):
    assert module.__doc__ and module.__doc__.strip(), f"{module.__name__} has no docstring"
    assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            assert doc and len(doc.strip()) > 20, f"{module.__name__}.{name} is undocumented"


@pytest.mark.parametrize("name", ["conv_forward", "octconv_forward", "conv_backward",
                                  "octconv_backward"])
def test_core_docstrings_state_shapes(name):
    for module in (octref.loops, octref.im2col):
        doc = getattr(module, name).__doc__
        assert "shape" in doc or "Shaped like" in doc or "as :func:" in doc, (module, name)
