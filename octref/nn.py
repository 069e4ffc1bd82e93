"""The other layers of a small octave CNN, each a forward/backward pair written by hand.

The octave convolution itself is :func:`octref.octconv_forward` /
:func:`octref.octconv_backward`. Around it a network needs a few more layers,
in the style of the rest of octref: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``, no hidden state. The layers that act
on a feature map act on each frequency group separately, as the paper's
networks do (Conv-BN-ReLU on each group, Section 4):

====================================  =====================================================
:func:`relu_forward`                  ``max(x, 0)`` on each group
:func:`batchnorm_forward`             batch normalisation, per channel of each group
:func:`global_avg_pool_forward`       the mean of every channel of both groups, concatenated
:func:`linear_forward`                ``x W^T + b`` (PyTorch's layout of W)
:func:`softmax_cross_entropy`         the loss and its gradient in one call
:func:`sgd_momentum`                  one step of SGD with momentum and weight decay
====================================  =====================================================

Octave-valued arguments are :class:`~octref.octave.Octave` pairs; a group that
is None stays None through every layer.

References
----------
Ioffe and Szegedy, "Batch Normalization", ICML 2015 (Algorithm 1 and the
backward of Section 3). PyTorch's conventions are followed where there is a
choice (running variance unbiased, momentum 0.1, weight decay added to the
gradient before the momentum), so the same network trains the same way there.
"""

import numpy as np

from octref.octave import Octave

__all__ = ["relu_forward", "relu_backward", "batchnorm_forward", "batchnorm_backward",
           "batchnorm_eval", "update_running_stats", "global_avg_pool_forward",
           "global_avg_pool_backward", "linear_forward", "linear_backward",
           "softmax_cross_entropy", "sgd_momentum", "BN_EPS", "BN_MOMENTUM"]

#: Added to the variance before the square root (PyTorch's default).
BN_EPS = 1e-5
#: Weight of the new batch in the running statistics (PyTorch's default).
BN_MOMENTUM = 0.1


def _per_group(fn, *octaves):
    """Apply ``fn`` to the high groups, then the low groups; None where a group is absent."""
    return tuple(None if args[0] is None else fn(*args) for args in zip(*octaves))


# --------------------------------------------------------------------------- ReLU

def relu_forward(x):
    """ReLU on each group: ``out = max(x, 0)``.

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_H, H, W), ``x.low`` (N, C_L, H/2, W/2), either None.

    Returns
    -------
    out : Octave shaped like x
    cache : Octave of bool masks ``x > 0``
    """
    mask = Octave(*_per_group(lambda a: a > 0, x))
    return Octave(*_per_group(lambda a: np.maximum(a, 0), x)), mask


def relu_backward(dout, cache):
    """``dx = dout * [x > 0]`` on each group (the derivative at 0 is taken as 0).

    Parameters
    ----------
    dout : Octave shaped like the output
    cache : from :func:`relu_forward`

    Returns
    -------
    dx : Octave
    """
    return Octave(*_per_group(lambda d, m: d * m, dout, cache))


# --------------------------------------------------------------------------- batch norm

def _bn_forward(x, gamma, beta, eps):
    # The in-place steps (*=, +=) act on arrays made here: the same numbers as
    # x.var() and the textbook formulas, with fewer passes over the map.
    mean = x.mean(axis=(0, 2, 3))
    x_hat = x - mean[:, None, None]
    var = np.square(x_hat).mean(axis=(0, 2, 3))  # biased, as Algorithm 1 normalises
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std[:, None, None]              # now (x - mean) / std
    out = x_hat * gamma[:, None, None]
    out += beta[:, None, None]
    return out, (x_hat, inv_std, gamma, mean, var, x.shape[0] * x.shape[2] * x.shape[3])


def _bn_backward(dout, cache):
    x_hat, inv_std, gamma, _, _, m = cache
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3))
    # dL/dx of x_hat = (x - mean) / std with mean and var taken over the same m values:
    # dx = gamma / std * (dout - mean(dout) - x_hat * mean(dout * x_hat)).
    dx = dout - (dbeta / m)[:, None, None]
    dx -= x_hat * (dgamma / m)[:, None, None]
    dx *= (gamma * inv_std)[:, None, None]
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, *, eps=BN_EPS):
    """Batch normalisation in training mode, per channel of each group.

    ``out = gamma * (x - mean) / sqrt(var + eps) + beta`` with the mean and the
    (biased) variance of each channel over the batch and both spatial axes
    (Ioffe and Szegedy, Algorithm 1). The high and low groups have their own
    gamma and beta.

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_H, H, W), ``x.low`` (N, C_L, H/2, W/2).
    gamma, beta : Octave
        ``.high`` (C_H,), ``.low`` (C_L,): scale and shift, None where x is.
    eps : float

    Returns
    -------
    out : Octave shaped like x
    cache : tuple
        Per group ``(x_hat, 1/std, gamma, mean, var, count)``; the batch
        statistics in it feed :func:`update_running_stats`.
    """
    pairs = _per_group(lambda a, g, b: _bn_forward(a, g, b, eps), x, gamma, beta)
    out = Octave(*(None if p is None else p[0] for p in pairs))
    return out, Octave(*(None if p is None else p[1] for p in pairs))


def batchnorm_backward(dout, cache):
    """Gradients of :func:`batchnorm_forward`.

    Parameters
    ----------
    dout : Octave shaped like the output
    cache : from :func:`batchnorm_forward`

    Returns
    -------
    dx : Octave shaped like x
    dgamma, dbeta : Octave of (C,) vectors
    """
    grads = _per_group(_bn_backward, dout, cache)
    return tuple(Octave(*(None if g is None else g[i] for g in grads)) for i in range(3))


def update_running_stats(running_mean, running_var, cache, *, momentum=BN_MOMENTUM):
    """The running statistics after one training batch, as new arrays.

    ``running = (1 - momentum) running + momentum batch``, with the batch
    variance made unbiased (``* m / (m - 1)``) as PyTorch does.

    Parameters
    ----------
    running_mean, running_var : Octave of (C,) vectors
    cache : from :func:`batchnorm_forward`
    momentum : float

    Returns
    -------
    running_mean, running_var : Octave
    """
    def mean(old, c):
        return (1 - momentum) * old + momentum * c[3]

    def var(old, c):
        return (1 - momentum) * old + momentum * c[4] * (c[5] / max(c[5] - 1, 1))

    return (Octave(*_per_group(mean, running_mean, cache)),
            Octave(*_per_group(var, running_var, cache)))


def batchnorm_eval(x, gamma, beta, running_mean, running_var, *, eps=BN_EPS):
    """Batch normalisation in evaluation mode: the running statistics instead of the batch's.

    Parameters
    ----------
    x : Octave
    gamma, beta, running_mean, running_var : Octave of (C,) vectors

    Returns
    -------
    out : Octave shaped like x
        ``gamma * (x - running_mean) / sqrt(running_var + eps) + beta``.
    """
    def normalise(a, g, b, mu, var):
        scale = (g / np.sqrt(var + eps)).astype(a.dtype)
        return a * scale[:, None, None] + (b - mu * scale).astype(a.dtype)[:, None, None]

    return Octave(*_per_group(normalise, x, gamma, beta, running_mean, running_var))


# --------------------------------------------------------------------------- pooling, linear

def global_avg_pool_forward(x):
    """The mean of every channel over its map, both groups concatenated.

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_H, H, W), ``x.low`` (N, C_L, H/2, W/2), either None.

    Returns
    -------
    out : ndarray of shape (N, C_H + C_L)
        High channels first.
    cache : Octave of the input shapes
    """
    means = [a.mean(axis=(2, 3)) for a in x if a is not None]
    shapes = Octave(*(None if a is None else a.shape for a in x))
    return np.concatenate(means, axis=1), shapes


def global_avg_pool_backward(dout, cache):
    """Each pixel of a channel receives ``dout / (H W)`` of its channel's mean.

    Parameters
    ----------
    dout : ndarray of shape (N, C_H + C_L)
    cache : from :func:`global_avg_pool_forward`

    Returns
    -------
    dx : Octave shaped like x
    """
    dx, start = [], 0
    for shape in cache:
        if shape is None:
            dx.append(None)
            continue
        n, c, h, w = shape
        part = dout[:, start:start + c] / (h * w)
        dx.append(np.broadcast_to(part[:, :, None, None], shape).copy())
        start += c
    return Octave(*dx)


def linear_forward(x, w, b):
    """Fully connected layer ``out = x W^T + b``.

    Parameters
    ----------
    x : ndarray of shape (N, D_in)
    w : ndarray of shape (D_out, D_in)
    b : ndarray of shape (D_out,)

    Returns
    -------
    out : ndarray of shape (N, D_out)
    cache : (x, w)
    """
    return x @ w.T + b, (x, w)


def linear_backward(dout, cache):
    """Gradients of :func:`linear_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, D_out)
    cache : from :func:`linear_forward`

    Returns
    -------
    dx : (N, D_in), dw : (D_out, D_in), db : (D_out,)
    """
    x, w = cache
    return dout @ w, dout.T @ x, dout.sum(axis=0)


# --------------------------------------------------------------------------- loss, optimiser

def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    ``L = -1/N sum_n log softmax(z_n)[y_n]`` and ``dL/dz = (softmax(z) - onehot(y)) / N``.
    The max of each row is subtracted first, so large logits do not overflow.

    Parameters
    ----------
    logits : ndarray of shape (N, K)
    labels : ndarray of int, shape (N,), values in [0, K)

    Returns
    -------
    loss : float
    dlogits : ndarray of shape (N, K)
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -float(log_probs[np.arange(n), labels].astype(np.float64).mean())
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), labels] -= 1
    return loss, dlogits / n


def sgd_momentum(param, grad, velocity, *, lr, momentum=0.9, weight_decay=0.0):
    """One step of SGD with momentum and L2 weight decay, returning new arrays.

    PyTorch's form: ``g = grad + weight_decay * param``,
    ``velocity = momentum * velocity + g``, ``param = param - lr * velocity``.

    Parameters
    ----------
    param, grad, velocity : ndarrays of one shape
    lr, momentum, weight_decay : float

    Returns
    -------
    param, velocity : ndarrays, new (the inputs are not modified)
    """
    velocity = momentum * velocity + (grad + weight_decay * param)
    return (param - lr * velocity).astype(param.dtype, copy=False), velocity
