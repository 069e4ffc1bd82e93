"""OctConv2d: an octave convolution layer that holds its parameters and gradients.

A thin stateful shell over the functional core: ``forward`` calls
``octconv_forward`` of the chosen implementation and keeps the cache,
``backward`` calls ``octconv_backward`` and stores the gradients in
``grads``. Nothing here computes anything the functions do not.
"""

import importlib
from typing import NamedTuple

import numpy as np

from octref.checks import check_bool, check_choice
from octref.contract import check_octave_options, check_padding
from octref.octave import (
    GROUPS,
    Octave,
    OctaveWeights,
    init_octave_weights,
    octave_weight_shapes,
    path_ends,
    split_channels,
)

__all__ = ["OctConv2d", "OctConvParams", "IMPLEMENTATIONS"]

#: The implementations a layer can run on, each a module of octref.
IMPLEMENTATIONS = ("rowshift", "im2col", "loops")


class OctConv2d:
    """Octave convolution layer (Eq. 4), computed by rowshift (default), im2col or loops.

    Parameters
    ----------
    in_channels, out_channels : int
        Total channels C_in and C_out, split by alpha_in and alpha_out with
        :func:`~octref.octave.split_channels`.
    kernel_size : int
        k (odd whenever the layer has more than one path).
    alpha_in, alpha_out : float in [0, 1]
        0 for a first layer's input / last layer's output (no low group).
    stride : {1, 2}
    padding : int or None
        None means (k - 1) / 2.
    groups : int
        ``groups == in_channels`` makes the layer depthwise.
    bias : bool
        One bias vector per output map (``b.high``, ``b.low``), zero-initialised.
    downsample : {"avgpool", "strided"}
    impl : {"rowshift", "im2col", "loops"}
        Which implementation computes it (the module of that name); the fast
        engine by default.
    rng : numpy.random.Generator, optional
        For the He-normal weight initialisation.
    dtype : float dtype

    Attributes
    ----------
    params : OctConvParams
        ``params.weights`` (an OctaveWeights, None for absent paths) and
        ``params.bias`` (an Octave of bias vectors, or None).
    grads : OctConvParams or None
        The same structure holding dL/dparams, set by :meth:`backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from octref import Octave
    >>> layer = OctConv2d(8, 8, 3, 0.5, 0.5, rng=np.random.default_rng(0))
    >>> x = Octave(np.ones((1, 4, 6, 6)), np.ones((1, 4, 3, 3)))
    >>> y = layer.forward(x)
    >>> y.high.shape, y.low.shape
    ((1, 4, 6, 6), (1, 4, 3, 3))
    """

    def __init__(self, in_channels, out_channels, kernel_size, alpha_in, alpha_out, *,
                 stride=1, padding=None, groups=1, bias=True, downsample="avgpool",
                 impl="rowshift", rng=None, dtype=np.float64):
        impl = check_choice(impl, "impl", IMPLEMENTATIONS)
        bias = check_bool(bias, "bias")
        # Every option is checked here, at construction, with the checks the
        # functions run at call time: a bad layer never reaches forward().
        stride, groups, downsample = check_octave_options(stride, groups, downsample)
        shapes = octave_weight_shapes(in_channels, out_channels, kernel_size, alpha_in,
                                      alpha_out, groups=groups)
        paths = tuple(p for p, shape in zip(OctaveWeights._fields, shapes) if shape is not None)
        padding = check_padding(padding, kernel_size, paths)
        weights = init_octave_weights(in_channels, out_channels, kernel_size, alpha_in,
                                      alpha_out, groups=groups, rng=rng, dtype=dtype)
        biases = None
        if bias:
            # One bias per output map (the official code), for each group a path feeds.
            fed = {path_ends(p)[1] for p in paths}
            channels = split_channels(out_channels, alpha_out)
            biases = Octave(*(np.zeros(c, dtype) if g in fed else None
                              for g, c in zip(GROUPS, channels)))
        self.params = OctConvParams(weights, biases)
        self.grads = None
        self.options = {"stride": stride, "padding": padding, "groups": groups,
                        "downsample": downsample}
        self.impl = impl
        self._module = importlib.import_module(f"octref.{impl}")
        self._cache = None

    def forward(self, x):
        """Y = OctConv(X) for an :class:`~octref.octave.Octave` x; keeps the cache."""
        # A failed forward must not leave the previous call's cache for backward.
        self._cache = None
        y, self._cache = self._module.octconv_forward(x, self.params.weights, self.params.bias,
                                                      **self.options)
        return y

    def backward(self, dy):
        """Given dL/dY (an Octave), store dL/dparams in ``grads`` and return dL/dX."""
        if self._cache is None:
            raise RuntimeError("backward called before a successful forward")
        dx, dw, db = self._module.octconv_backward(dy, self._cache)
        self.grads = OctConvParams(dw, db)
        return dx


class OctConvParams(NamedTuple):
    """Parameters (or their gradients) of an :class:`OctConv2d`.

    Attributes
    ----------
    weights : OctaveWeights
        hh, hl, lh, ll; None for absent paths.
    bias : Octave or None
        (high, low) bias vectors; None for a layer without bias.
    """

    weights: OctaveWeights
    bias: Octave | None

    def arrays(self):
        """All present arrays as a flat dict {"w.hh": ..., "b.high": ...}."""
        out = {f"w.{name}": a for name, a in zip(OctaveWeights._fields, self.weights)
               if a is not None}
        if self.bias is not None:
            out.update({f"b.{name}": a for name, a in zip(Octave._fields, self.bias)
                        if a is not None})
        return out
