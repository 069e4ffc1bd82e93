"""Receptive fields through the high and the low group, measured by backpropagation.

Section 3.2 of the paper: a k x k kernel applied to the half-resolution X^L
covers 2k x 2k pixels of the full-resolution image, so information that takes
a detour through the low group sees twice as far. This module measures that
with octref's own backward pass: the effective receptive field of output pixel
p is the gradient ``dY^H[p] / dX``, obtained by sending a one-hot ``dY^H``
back through :func:`octref.octconv_backward`. Its support (the pixels
with a non-zero gradient) is the receptive field.

Every scenario is a short stack of octave convolutions on a one-channel image
X (alpha_in = 0) ending in a one-channel high output (alpha_out = 0), with
all-ones kernels on the paths under study and zero kernels on the others:
the ones make the support exact (no cancellation), the zeros isolate a path.

=====================  =========================================  ================
scenario               layers (k x k kernels unless said)         support, pixels
=====================  =========================================  ================
``"H->H"``             1x1 split X -> (X, pool(X)); H->H          k
``"L->H"``             1x1 split X -> (X, pool(X)); L->H          2k
``"H->H->H"``          H->H; H->H                                 2k - 1
``"H->L->H"``          H->L; L->H                                 2(2k - 1)
=====================  =========================================  ================

The low routes are twice as wide: L->H reads k low pixels, 2k image pixels;
H->L->H stacks two k-tap kernels on the low grid (2k - 1 low pixels) and
pooling's adjoint doubles that.
"""

import numpy as np

from octref import octconv_backward, octconv_forward
from octref.checks import check_int
from octref.octave import Octave, OctaveWeights

__all__ = ["SCENARIOS", "scenario_weights", "receptive_field", "support_size",
           "expected_support"]

#: The routes whose receptive fields are compared.
SCENARIOS = ("H->H", "L->H", "H->H->H", "H->L->H")


def scenario_weights(scenario, kernel_size):
    """The stack of layer weights that isolates one route from X to Y^H.

    Parameters
    ----------
    scenario : {"H->H", "L->H", "H->H->H", "H->L->H"}
    kernel_size : int, odd, >= 1
        k of the k x k layers (the split layer is always 1 x 1).

    Returns
    -------
    list of OctaveWeights
        Each weight of shape (1, 1, k, k) (or (1, 1, 1, 1) for the split),
        ones on the route, zeros elsewhere. The first layer has alpha
        0 -> 0.5 (hh, hl), the second 0.5 -> 0 (hh, lh).
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    if check_int(kernel_size, "kernel_size", minimum=1) % 2 == 0:
        raise ValueError(f"kernel_size must be an odd int >= 1, got {kernel_size!r}")
    ones = np.ones((1, 1, kernel_size, kernel_size))
    zeros = np.zeros_like(ones)
    one = np.ones((1, 1, 1, 1))
    split = OctaveWeights(hh=one, hl=one, lh=None, ll=None)
    if scenario == "H->H":
        return [split, OctaveWeights(hh=ones, hl=None, lh=zeros, ll=None)]
    if scenario == "L->H":
        return [split, OctaveWeights(hh=zeros, hl=None, lh=ones, ll=None)]
    if scenario == "H->H->H":
        return [OctaveWeights(hh=ones, hl=zeros, lh=None, ll=None),
                OctaveWeights(hh=ones, hl=None, lh=zeros, ll=None)]
    return [OctaveWeights(hh=zeros, hl=ones, lh=None, ll=None),
            OctaveWeights(hh=zeros, hl=None, lh=ones, ll=None)]


def receptive_field(scenario, kernel_size=3, size=24, position=None):
    """Effective receptive field ``dY^H[position] / dX`` of one output pixel.

    The stack of :func:`scenario_weights` runs forward on a zero image (the
    layers are linear, so the gradient does not depend on X), then a one-hot
    ``dY^H`` runs back through :func:`octref.octconv_backward`, layer
    by layer.

    Parameters
    ----------
    scenario : {"H->H", "L->H", "H->H->H", "H->L->H"}
    kernel_size : int, odd
    size : int
        Side of the square image, large enough for the field not to reach
        the border (>= 2 (2k - 1) + 4 or so).
    position : (int, int), optional
        The output pixel (row, col); ``(size // 2, size // 2)`` by default.

    Returns
    -------
    ndarray of shape (size, size)
        The gradient with respect to each image pixel; with all-ones kernels,
        the number of paths from that pixel to the output pixel, weighted by
        the 1/4 of each pooling.
    """
    layers = scenario_weights(scenario, kernel_size)
    if position is None:
        position = (size // 2, size // 2)
    x = Octave(np.zeros((1, 1, size, size)), None)
    caches = []
    for weights in layers:
        x, cache = octconv_forward(x, weights)
        caches.append(cache)
    if not (0 <= position[0] < size and 0 <= position[1] < size):
        raise ValueError(f"position must lie in the {size} x {size} output, got {position}")
    dy_high = np.zeros_like(x.high)
    dy_high[0, 0, position[0], position[1]] = 1.0
    grad = Octave(dy_high, None if x.low is None else np.zeros_like(x.low))
    for cache in reversed(caches):
        grad, _, _ = octconv_backward(grad, cache)
    return grad.high[0, 0]


def support_size(field, rtol=1e-12):
    """Rows and columns a receptive field spans: how many hold a non-zero gradient.

    Parameters
    ----------
    field : ndarray of shape (H, W)
    rtol : float
        Entries with ``|g| <= rtol * max |g|`` count as zero (round-off).

    Returns
    -------
    (int, int)
        (rows, cols) that contain at least one non-zero entry.
    """
    field = np.abs(np.asarray(field, dtype=np.float64))
    nonzero = field > rtol * field.max(initial=0.0)
    return int(nonzero.any(axis=1).sum()), int(nonzero.any(axis=0).sum())


def expected_support(scenario, kernel_size):
    """The support width each scenario must have (see the module table).

    Parameters
    ----------
    scenario : {"H->H", "L->H", "H->H->H", "H->L->H"}
    kernel_size : int
        k.

    Returns
    -------
    int
        k, 2k, 2k - 1 or 2(2k - 1) pixels.
    """
    k = kernel_size
    widths = {"H->H": k, "L->H": 2 * k, "H->H->H": 2 * k - 1, "H->L->H": 2 * (2 * k - 1)}
    if scenario not in widths:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    return widths[scenario]
