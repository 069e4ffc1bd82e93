"""A small octave CNN as a list of layers, and what one layer of it costs.

Each layer is a thin shell over a forward/backward pair (:mod:`octref.nn`, or
:func:`octref.octconv_forward` for the convolutions): ``forward`` keeps the
cache, ``backward`` stores the gradients in ``grads`` and returns the gradient
of its input. ``params`` and ``grads`` are flat dicts of arrays, so the
optimiser is one loop over them.

The reference network (:func:`build_network`), for 28 x 28 digits::

    OctConv 1 -> w      alpha_in = 0 (the image has no low group)   28 x 28 | 14 x 14
    OctConv w -> w                                                 28 x 28 | 14 x 14
    OctConv w -> 2w     stride 2                                    14 x 14 |  7 x  7
    OctConv 2w -> 2w                                                14 x 14 |  7 x  7
    OctConv 2w -> 4w    stride 2                                     7 x  7 |  4 x  4
    OctConv 4w -> 4w    alpha_out = 0 (the classifier reads one map)  7 x  7
    global average pooling, linear 4w -> 10

every convolution 3 x 3 without bias, followed by batch normalisation and
ReLU on each group (the paper's Conv-BN-ReLU, Section 4). At stride 2 every
path's input is pooled first (as the official code does); ``downsample``
(average pooling or a strided convolution for H->L, Table 3) applies to the
stride-1 layers, where H->L has a choice.

The connectivity ablation of Table 3 removes H->L or L->H from the layers
that have both groups on both sides (the four interior ones): the first
layer's H->L creates the low group and the last layer's L->H reads it, so
those stay. A removed path keeps a weight fixed at zero (its gradient is
zeroed), since the octave convolution runs every path its groups allow; its
multiply-adds are left out of the count.
"""

import numpy as np

from octref import cost, nn
from octref.octave import PATHS, Octave, OctaveWeights, init_octave_weights, split_channels
from octref.rowshift import octconv_backward, octconv_forward  # the fast engine

__all__ = ["OctConv", "BatchNorm", "ReLU", "GlobalAvgPool", "Linear", "build_network",
           "forward", "backward", "sgd_step", "network_cost", "conv_layers"]

KERNEL = 3


class OctConv:
    """Octave convolution, 3 x 3, no bias; ``removed`` paths held at zero.

    Parameters
    ----------
    in_channels, out_channels : int
    alpha_in, alpha_out : float in [0, 1]
    stride : {1, 2}
    downsample : {"avgpool", "strided"}
    removed : iterable of {"hl", "lh"}
    rng : numpy.random.Generator
    dtype : float dtype
    """

    def __init__(self, in_channels, out_channels, alpha_in, alpha_out, *, stride=1,
                 downsample="avgpool", removed=(), rng, dtype=np.float32):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.alpha_in, self.alpha_out = alpha_in, alpha_out
        self.stride, self.downsample = stride, downsample
        weights = init_octave_weights(in_channels, out_channels, KERNEL, alpha_in, alpha_out,
                                      rng=rng, dtype=dtype)
        self.params = {p: a for p, a in zip(PATHS, weights) if a is not None}
        self.removed = tuple(p for p in removed if p in self.params)
        for path in self.removed:
            self.params[path] = np.zeros_like(self.params[path])
        self.grads, self.cache = {}, None

    def forward(self, x, train=True):
        weights = OctaveWeights(*(self.params.get(p) for p in PATHS))
        y, self.cache = octconv_forward(x, weights, stride=self.stride,
                                        downsample=self.downsample)
        return y

    def backward(self, dy):
        dx, dw, _ = octconv_backward(dy, self.cache)
        self.grads = {p: g for p, g in zip(PATHS, dw) if g is not None}
        for path in self.removed:
            self.grads[path] = np.zeros_like(self.grads[path])
        return dx


class BatchNorm:
    """Batch normalisation on each group; running statistics for evaluation.

    Parameters
    ----------
    channels : int
        Total channels, split by ``alpha`` as the convolution before it.
    alpha : float in [0, 1]
    dtype : float dtype
    """

    def __init__(self, channels, alpha, *, dtype=np.float32):
        sizes = dict(zip(("high", "low"), split_channels(channels, alpha)))
        self.params, self.state = {}, {}
        for group, c in sizes.items():
            if c:
                self.params[f"gamma.{group}"] = np.ones(c, dtype)
                self.params[f"beta.{group}"] = np.zeros(c, dtype)
                self.state[f"mean.{group}"] = np.zeros(c, dtype)
                self.state[f"var.{group}"] = np.ones(c, dtype)
        self.grads, self.cache = {}, None

    def _octave(self, source, name):
        return Octave(source.get(f"{name}.high"), source.get(f"{name}.low"))

    def forward(self, x, train=True):
        gamma, beta = self._octave(self.params, "gamma"), self._octave(self.params, "beta")
        if not train:
            return nn.batchnorm_eval(x, gamma, beta, self._octave(self.state, "mean"),
                                     self._octave(self.state, "var"))
        out, self.cache = nn.batchnorm_forward(x, gamma, beta)
        mean, var = nn.update_running_stats(self._octave(self.state, "mean"),
                                            self._octave(self.state, "var"), self.cache)
        for group, m, v in zip(("high", "low"), mean, var):
            if m is not None:
                self.state[f"mean.{group}"], self.state[f"var.{group}"] = m, v
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = nn.batchnorm_backward(dout, self.cache)
        self.grads = {}
        for group, dg, db in zip(("high", "low"), dgamma, dbeta):
            if dg is not None:
                self.grads[f"gamma.{group}"], self.grads[f"beta.{group}"] = dg, db
        return dx


class ReLU:
    """ReLU on each group of an Octave: ``max(x, 0)``."""

    def __init__(self):
        self.params, self.grads, self.cache = {}, {}, None

    def forward(self, x, train=True):
        out, self.cache = nn.relu_forward(x)
        return out

    def backward(self, dout):
        return nn.relu_backward(dout, self.cache)


class GlobalAvgPool:
    """The mean of each channel of both groups: Octave -> (N, C_H + C_L)."""

    def __init__(self):
        self.params, self.grads, self.cache = {}, {}, None

    def forward(self, x, train=True):
        out, self.cache = nn.global_avg_pool_forward(x)
        return out

    def backward(self, dout):
        return nn.global_avg_pool_backward(dout, self.cache)


class Linear:
    """``x W^T + b``, W He-normal, b zero.

    Parameters
    ----------
    in_features, out_features : int
    rng : numpy.random.Generator
    dtype : float dtype
    """

    def __init__(self, in_features, out_features, *, rng, dtype=np.float32):
        std = np.sqrt(2.0 / in_features)
        self.params = {"w": (rng.standard_normal((out_features, in_features)) * std).astype(dtype),
                       "b": np.zeros(out_features, dtype)}
        self.grads, self.cache = {}, None

    def forward(self, x, train=True):
        out, self.cache = nn.linear_forward(x, self.params["w"], self.params["b"])
        return out

    def backward(self, dout):
        dx, dw, db = nn.linear_backward(dout, self.cache)
        self.grads = {"w": dw, "b": db}
        return dx


def build_network(alpha, *, width=16, downsample="avgpool", removed=(), classes=10, rng,
                  dtype=np.float32):
    """The reference octave CNN (see the module docstring) as a list of layers.

    Parameters
    ----------
    alpha : float in [0, 1]
        Low-frequency ratio of every map between the first and the last
        convolution; alpha = 0 is the same network with vanilla convolutions.
    width : int
        w, the channels of the first two convolutions.
    downsample : {"avgpool", "strided"}
        H->L of the stride-1 layers.
    removed : iterable of {"hl", "lh"}
        Paths removed from the interior layers (Table 3's connectivity ablation).
    classes : int
    rng : numpy.random.Generator
    dtype : float dtype

    Returns
    -------
    list of layers
    """
    removed = tuple(removed)
    for path in removed:
        if path not in ("hl", "lh"):
            raise ValueError(f"removed must hold 'hl' or 'lh', got {path!r}")
    plan = [(1, width, 1), (width, width, 1), (width, 2 * width, 2), (2 * width, 2 * width, 1),
            (2 * width, 4 * width, 2), (4 * width, 4 * width, 1)]
    layers = []
    for i, (c_in, c_out, stride) in enumerate(plan):
        first, last = i == 0, i == len(plan) - 1
        a_in, a_out = (0.0 if first else alpha), (0.0 if last else alpha)
        layers.append(OctConv(c_in, c_out, a_in, a_out, stride=stride,
                              downsample=downsample if stride == 1 else "avgpool",
                              removed=() if first or last else removed, rng=rng, dtype=dtype))
        layers += [BatchNorm(c_out, a_out, dtype=dtype), ReLU()]
    return layers + [GlobalAvgPool(), Linear(4 * width, classes, rng=rng, dtype=dtype)]


def forward(layers, images, *, train):
    """Logits of a batch of images.

    Parameters
    ----------
    layers : list from :func:`build_network`
    images : ndarray of shape (N, 1, H, W)
    train : bool
        Batch statistics (and running-statistics updates) or running statistics.

    Returns
    -------
    ndarray of shape (N, classes)
    """
    x = Octave(images, None)
    for layer in layers:
        x = layer.forward(x, train)
    return x


def backward(layers, dlogits):
    """Backpropagate dL/dlogits; every layer's ``grads`` is set.

    Returns
    -------
    Octave
        dL/dimages in ``.high`` (N, 1, H, W).
    """
    grad = dlogits
    for layer in reversed(layers):
        grad = layer.backward(grad)
    return grad


def sgd_step(layers, velocities, *, lr, momentum=0.9, weight_decay=0.0):
    """One SGD step on every parameter (:func:`octref.nn.sgd_momentum`).

    Parameters
    ----------
    layers : list
        Their ``params`` are replaced by the updated arrays.
    velocities : list of dict, one per layer, or None
        None starts every velocity at zero.

    Returns
    -------
    list of dict
        The new velocities.
    """
    if velocities is None:
        velocities = [{k: np.zeros_like(v) for k, v in layer.params.items()} for layer in layers]
    new = []
    for layer, velocity in zip(layers, velocities):
        updated = {}
        for name, param in layer.params.items():
            layer.params[name], updated[name] = nn.sgd_momentum(
                param, layer.grads[name], velocity[name], lr=lr, momentum=momentum,
                weight_decay=weight_decay)
        new.append(updated)
    return new


def conv_layers(layers):
    """The OctConv layers of a network, in order."""
    return [layer for layer in layers if isinstance(layer, OctConv)]


def network_cost(layers, height=28, width=28):
    """Multiply-adds and activation memory of the convolutions, per image (Table 1's terms).

    Counted by :func:`octref.cost.octconv_cost` layer by layer (removed paths
    left out) beside :func:`octref.cost.conv_cost` of the same layers with
    vanilla convolutions.

    Parameters
    ----------
    layers : list from :func:`build_network`
    height, width : int
        The input image size.

    Returns
    -------
    dict
        ``macs`` and ``vanilla_macs`` (convolutions), ``linear_macs``,
        ``activation_memory`` and ``vanilla_activation_memory`` (elements of
        every convolution output, both groups), each per image.
    """
    totals = dict.fromkeys(("macs", "vanilla_macs", "activation_memory",
                            "vanilla_activation_memory"), 0)
    h, w = height, width
    for layer in conv_layers(layers):
        octave = cost.octconv_cost(layer.in_channels, layer.out_channels, KERNEL,
                                   layer.alpha_in, layer.alpha_out, h, w, stride=layer.stride,
                                   downsample=layer.downsample)
        vanilla = cost.conv_cost(layer.in_channels, layer.out_channels, KERNEL, h, w,
                                 stride=layer.stride)
        totals["macs"] += sum(m for p, m in octave.macs.items() if p not in layer.removed)
        totals["vanilla_macs"] += vanilla.total_macs
        totals["activation_memory"] += octave.output_memory
        totals["vanilla_activation_memory"] += vanilla.output_memory
        h, w = vanilla.output_shapes["out"][2:]
    linear = next(layer for layer in layers if isinstance(layer, Linear))
    totals["linear_macs"] = int(linear.params["w"].size)
    return totals
