"""Check a PyTorch OctConv ``nn.Module``, forward and autograd backward, in a few lines.

::

    from octref.testing import check_torch_module

    check_torch_module(
        lambda c: OctaveConv(c.in_channels, c.out_channels, c.kernel_size, c.alpha_in,
                             c.alpha_out, stride=c.stride, groups=c.groups, bias=c.bias),
        params={"w_hh": "conv_hh.weight", "w_hl": "conv_hl.weight",
                "w_lh": "conv_lh.weight", "w_ll": "conv_ll.weight",
                "b_high": "conv_hh.bias", "b_low": "conv_hl.bias"})

torch is imported when a check runs, never by ``import octref.testing``.
"""

from functools import reduce

__all__ = ["check_torch_module"]


def _resolve(module, where):
    """The tensor ``where`` names in ``module`` ("conv_hh.weight"), or None."""
    if callable(where):
        return where(module)
    return reduce(lambda obj, name: None if obj is None else getattr(obj, name),
                  where.split("."), module)


def _default_call(module, x_high, x_low):
    return module((x_high, x_low))


def check_torch_module(build, params, *, call=None, backward=True, configs=None, atol=1e-6,
                       rtol=1e-5, max_examples=100, derandomize=True):
    """Check a PyTorch OctConv module against octref, forward and (autograd) backward.

    Each layer is built for a configuration, converted to float64
    (``module.double()``), and its own parameters are read back, so its own
    initialisation is kept. Runs with one torch thread (these layers are tiny;
    the previous setting is restored).

    Parameters
    ----------
    build : callable
        ``build(config) -> torch.nn.Module`` for an :class:`~octref.testing.OctConvConfig`.
    params : dict
        octref's parameter names (``w_hh, w_hl, w_lh, w_ll`` and ``b_high,
        b_low``, or per-path ``b_hh, b_hl, b_lh, b_ll``) -> where the module
        keeps them: a dotted attribute path (``"conv_l2h.weight"``; None
        anywhere along it means absent) or a function ``module -> tensor or
        None``. Names left out are absent.
    call : callable, optional
        ``call(module, x_high, x_low) -> (y_high, y_low)`` on tensors (None
        for an absent group). Default: ``module((x_high, x_low))``.
    backward : bool
        Also compare the autograd gradients of the inputs, weights and biases.
    configs, atol, rtol, max_examples, derandomize
        As :func:`~octref.testing.check_octconv`.

    Returns
    -------
    ConformanceResult

    Raises
    ------
    ConformanceError
        With the report of every distinct failure.
    """
    import torch

    from octref.testing import check_octconv_layer

    if not callable(build):
        raise TypeError(f"build must be callable, got {type(build).__name__}")
    if not isinstance(params, dict) or not params:
        raise TypeError("params must be a non-empty dict: octref name -> attribute path")
    call = _default_call if call is None else call

    def make_layer(config):
        module = build(config).double()
        tensors = {name: _resolve(module, where) for name, where in params.items()}
        arrays = {name: None if t is None else t.detach().numpy().copy()
                  for name, t in tensors.items()}

        def run(x_high, x_low, grad):
            xs = [None if x is None else torch.from_numpy(x).requires_grad_(grad)
                  for x in (x_high, x_low)]
            return xs, call(module, *xs)

        def forward(x_high, x_low):
            with torch.no_grad():
                _, ys = run(x_high, x_low, False)
            return tuple(None if y is None else y.numpy() for y in ys)

        def gradients(x_high, x_low, dy_high, dy_low):
            xs, ys = run(x_high, x_low, True)
            pairs = [(y, torch.from_numpy(d)) for y, d in zip(ys, (dy_high, dy_low))
                     if y is not None and d is not None]
            names = ("w_hh", "w_hl", "w_lh", "w_ll")
            biases = {"b_high": ("b_high", "b_hh", "b_lh"), "b_low": ("b_low", "b_hl", "b_ll")}
            # A per-path bias has its map's bias gradient: report the first one present.
            bias_of = {m: next((tensors[n] for n in ns if tensors.get(n) is not None), None)
                       for m, ns in biases.items()}
            wanted = xs + [tensors.get(n) for n in names] + list(bias_of.values())
            present = [t for t in wanted if t is not None and t.requires_grad]
            grads = torch.autograd.grad([y for y, _ in pairs], present,
                                        [d for _, d in pairs], allow_unused=True)
            found = dict(zip(map(id, present), grads))
            return tuple(None if t is None or found.get(id(t)) is None
                         else found[id(t)].numpy() for t in wanted)

        if backward:
            return arrays, forward, gradients
        return arrays, forward

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return check_octconv_layer(make_layer, configs=configs, atol=atol, rtol=rtol,
                                   max_examples=max_examples, derandomize=derandomize)
    finally:
        torch.set_num_threads(threads)
