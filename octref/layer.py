"""OctConv2d: an octave convolution layer that holds its parameters and gradients.

A thin stateful shell over the functional core: ``forward`` calls
``octconv_forward`` of the chosen implementation and keeps the cache,
``backward`` calls ``octconv_backward`` and stores the gradients in
``grads``. Nothing here computes anything the functions do not.
"""

from typing import NamedTuple

import numpy as np

from octref import im2col, loops
from octref.contract import DOWNSAMPLE_MODES
from octref.octave import Octave, OctaveWeights, init_octave_weights, split_channels

__all__ = ["OctConv2d", "OctConvParams"]


class OctConv2d:
    """Octave convolution layer (Eq. 4), im2col or loops.

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
    impl : {"im2col", "loops"}
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
                 impl="im2col", rng=None, dtype=np.float64):
        if impl not in ("im2col", "loops"):
            raise ValueError(f"impl must be 'im2col' or 'loops', got {impl!r}")
        if downsample not in DOWNSAMPLE_MODES:
            raise ValueError(f"downsample must be one of {DOWNSAMPLE_MODES}, got {downsample!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        weights = init_octave_weights(in_channels, out_channels, kernel_size, alpha_in,
                                      alpha_out, groups=groups, rng=rng, dtype=dtype)
        c_out_high, c_out_low = split_channels(out_channels, alpha_out)
        biases = None
        if bias:
            biases = Octave(np.zeros(c_out_high, dtype) if weights.hh is not None
                            or weights.lh is not None else None,
                            np.zeros(c_out_low, dtype) if weights.hl is not None
                            or weights.ll is not None else None)
        self.params = OctConvParams(weights, biases)
        self.grads = None
        self.options = {"stride": stride, "padding": padding, "groups": groups,
                        "downsample": downsample}
        self.impl = impl
        self._module = im2col if impl == "im2col" else loops
        self._cache = None

    def forward(self, x):
        """Y = OctConv(X) for an :class:`~octref.octave.Octave` x; keeps the cache."""
        y, self._cache = self._module.octconv_forward(x, self.params.weights, self.params.bias,
                                                      **self.options)
        return y

    def backward(self, dy):
        """Given dL/dY (an Octave), store dL/dparams in ``grads`` and return dL/dX."""
        if self._cache is None:
            raise RuntimeError("backward called before forward")
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
