"""Images to feed the figures: the bundled sample photograph, or any image file.

Everything comes back as one grayscale float64 plane in [0, 1], the single
input channel of a first layer (alpha_in = 0). Colour is reduced with the
ITU-R BT.601 luma weights, ``Y = 0.299 R + 0.587 G + 0.114 B``, the weights of
Pillow's own ``"L"`` conversion, here computed in float64 without rounding.

The sample is ``grace_hopper.jpg`` from Matplotlib's sample data (600 x 512
pixels), installed with Matplotlib, so nothing is downloaded. Decoding uses
Pillow, which Matplotlib itself requires.
"""

import os

import numpy as np

from octref.sampling import pool2x2

__all__ = ["SAMPLE_IMAGE", "LUMA_WEIGHTS", "sample_image_path", "load_image", "downscale"]

#: The bundled default image, from matplotlib's sample data (no network).
SAMPLE_IMAGE = "grace_hopper.jpg"
#: ITU-R BT.601 weights of R, G, B in the grayscale conversion.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

# Pillow modes that hold 16-bit samples; every other mode is read as 8-bit.
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def sample_image_path():
    """Path of the bundled sample photograph, ``grace_hopper.jpg``.

    ``matplotlib.cbook.get_sample_data`` returns an open file object in
    Matplotlib 3.8 and later (and a path in some older versions), so both are
    handled. Only :mod:`matplotlib.cbook` is imported, never a plotting module.

    Returns
    -------
    str
    """
    from matplotlib import cbook

    sample = cbook.get_sample_data(SAMPLE_IMAGE)
    if hasattr(sample, "read"):
        sample.close()
        return str(sample.name)
    return os.fspath(sample)


def load_image(path=None, *, max_side=None):
    """Read an image as a grayscale float64 array in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike, optional
        Any image Pillow decodes (PNG, JPEG, ...). The bundled sample when
        omitted. Alpha channels are ignored; 16-bit images are scaled by
        1/65535, all others by 1/255.
    max_side : int, optional
        When given, the image is averaged down with :func:`downscale` until its
        longer side is at most ``max_side`` pixels.

    Returns
    -------
    ndarray of shape (H, W), float64
        Luma ``0.299 R + 0.587 G + 0.114 B`` in [0, 1] (the gray level itself
        for a grayscale image).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is not a readable image, or ``max_side`` < 1.
    """
    from PIL import Image, UnidentifiedImageError

    if path is None:
        path = sample_image_path()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"image not found: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"cannot read image {path!r}: it is a directory")
    try:
        with Image.open(path) as image:
            image.load()
            pixels = _luma(image)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        # Pillow reports a truncated or malformed file as OSError or SyntaxError.
        raise ValueError(f"cannot read image {path!r}: {exc}") from None
    if max_side is not None:
        pixels = downscale(pixels, max_side)
    return pixels


def _luma(image):
    """(H, W) float64 luma in [0, 1] of an open Pillow image."""
    if image.mode in _SIXTEEN_BIT_MODES:
        return np.clip(np.asarray(image, dtype=np.float64) / 65535.0, 0.0, 1.0)
    if image.mode in ("1", "L", "LA"):
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    return rgb @ np.asarray(LUMA_WEIGHTS)


def downscale(image, max_side):
    """Halve an image with 2x2 average pooling until its longer side is <= max_side.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    max_side : int, >= 1

    Returns
    -------
    ndarray of shape (ceil(H / 2^n), ceil(W / 2^n))
        n the smallest count with ``max(ceil(H / 2^n), ceil(W / 2^n)) <= max_side``;
        the image itself when it is already small enough.
    """
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)):
        raise TypeError(f"max_side must be an int, got {type(max_side).__name__}")
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    while max(image.shape[-2:]) > max_side:
        image = pool2x2(image)
    return image
