"""octref: a pure-NumPy reference implementation of Octave Convolution.

Chen et al., "Drop an Octave: Reducing Spatial Redundancy in Convolutional
Neural Networks with Octave Convolution", ICCV 2019.

The top-level ``conv_forward``/``octconv_forward`` (and their backwards) are the
fast engine, :mod:`octref.rowshift`; ``octref.im2col`` is the textbook
im2col and ``octref.loops`` the per-pixel ground truth (Eq. 3).
"""

from octref.layer import OctConv2d, OctConvParams
from octref.octave import Octave, OctaveWeights, init_octave_weights, split_channels
from octref.rowshift import conv_backward, conv_forward, octconv_backward, octconv_forward

__version__ = "0.1.0"

__all__ = ["Octave", "OctaveWeights", "split_channels", "init_octave_weights",
           "conv_forward", "conv_backward", "octconv_forward", "octconv_backward",
           "OctConv2d", "OctConvParams"]
