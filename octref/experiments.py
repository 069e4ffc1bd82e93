"""The training experiments of the paper in miniature: one run, its spectra, mean and spread.

Used by ``benchmarks/train_experiments.py`` (the full runs) and by notebook 8
(a reduced budget). Nothing here draws or writes files.

* :func:`run` trains one :class:`~octref.train.TrainConfig` and returns its
  numbers: final test accuracy, seconds per epoch, counted cost and, if asked,
  the spectra of one layer's feature maps before and after training.
* :func:`low_frequency_share`: how smooth a layer's high and low maps are.
* :func:`spread`: mean, sample standard deviation and range over seeds.
"""

import numpy as np

from octref import network, train
from octref.frequency import HALF_RES_NYQUIST, energy_fraction_below

__all__ = ["run", "low_frequency_share", "conv_output", "spread"]


def conv_output(layers, images, conv_index):
    """The output of the ``conv_index``-th octave convolution, in evaluation mode.

    Parameters
    ----------
    layers : list from :func:`octref.network.build_network`
    images : ndarray of shape (N, 1, H, W)
    conv_index : int
        0 for the first convolution.

    Returns
    -------
    Octave
        That convolution's output (before its batch normalisation).
    """
    convs = network.conv_layers(layers)
    target = convs[conv_index]
    x = network.Octave(images, None)
    for layer in layers:
        x = layer.forward(x, False)
        if layer is target:
            return x
    raise ValueError(f"conv_index must be < {len(convs)}, got {conv_index}")


def low_frequency_share(octave):
    """Mean share of each map's energy below half of its own grid's Nyquist frequency.

    For a high map (full resolution) that is the energy below 0.25 cycles
    per pixel, the part a map at half the resolution could hold: the
    frequencies the low group exists for. For a low map the same cutoff in
    its own pixels, 0.25 cycles per low pixel, is 0.125 cycles per image
    pixel: the share a grid half as fine again could hold. A batch
    normalisation only shifts and scales each channel, and the spectrum
    removes the mean, so the share is the same before and after it.

    Parameters
    ----------
    octave : Octave
        Feature maps, ``high`` (N, C_H, H, W) and ``low`` (N, C_L, H/2, W/2).

    Returns
    -------
    dict
        ``{"high": float, "low": float}`` (a group that is None is left out),
        each the mean of :func:`~octref.frequency.energy_fraction_below` over
        all maps with any variation.
    """
    shares = {}
    for name, maps in zip(("high", "low"), octave):
        if maps is None:
            continue
        flat = np.asarray(maps, dtype=np.float64).reshape(-1, *maps.shape[-2:])
        values = [energy_fraction_below(m, HALF_RES_NYQUIST) for m in flat if np.ptp(m) > 0]
        shares[name] = float(np.mean(values)) if values else float("nan")
    return shares


def run(config, data, *, spectra_layer=None, spectra_images=100, progress=None):
    """Train one configuration and summarise it.

    Parameters
    ----------
    config : octref.train.TrainConfig
    data : dict from :func:`octref.train.load_data`
    spectra_layer : int, optional
        Also measure :func:`low_frequency_share` of this convolution's output
        on the first ``spectra_images`` test digits, at initialisation and
        after training.
    spectra_images : int
    progress : callable, optional
        Passed to :func:`octref.train.train_epochs`.

    Returns
    -------
    dict
        ``alpha``, ``downsample``, ``removed``, ``seed``, ``test_accuracy``,
        ``seconds_per_epoch`` (the mean over epochs), ``history`` (test
        accuracy per epoch), ``cost`` (:func:`octref.train.cost_summary`) and,
        with ``spectra_layer``, ``spectra`` ``{"init": {...}, "trained": {...}}``.
    """
    layers, rng = train.make_network(config)
    result = {"alpha": config.alpha, "downsample": config.downsample,
              "removed": list(config.removed), "seed": config.seed,
              "cost": train.cost_summary(layers)}
    probe = data["x_test"][:spectra_images]
    if spectra_layer is not None:
        result["spectra"] = {"init": low_frequency_share(conv_output(layers, probe,
                                                                     spectra_layer))}
    records = list(train.train_epochs(layers, rng, config, data, progress=progress))
    result["test_accuracy"] = records[-1].test_accuracy
    result["train_accuracy"] = records[-1].train_accuracy
    result["seconds_per_epoch"] = float(np.mean([r.seconds for r in records]))
    result["history"] = [r.test_accuracy for r in records]
    if spectra_layer is not None:
        result["spectra"]["trained"] = low_frequency_share(conv_output(layers, probe,
                                                                       spectra_layer))
    return result


def spread(values):
    """Mean, sample standard deviation (ddof 1; 0 for one value), min and max.

    Parameters
    ----------
    values : sequence of float

    Returns
    -------
    dict
        ``mean``, ``std``, ``min``, ``max``, ``n``.
    """
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max()), "n": int(len(values))}
