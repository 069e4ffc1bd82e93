"""Images to feed the figures: the bundled sample photograph, or any image file.

Everything comes back as one grayscale float64 plane, in [0, 1] for every
integer image mode (:func:`load_image` has the table), the single input
channel of a first layer (alpha_in = 0). Colour is reduced with the
ITU-R BT.601 luma weights, ``Y = 0.299 R + 0.587 G + 0.114 B``, the weights of
Pillow's own ``"L"`` conversion, here computed in float64 without rounding.

The sample is ``grace_hopper.jpg`` from Matplotlib's sample data (600 x 512
pixels), installed with Matplotlib, so nothing is downloaded. Decoding uses
Pillow, which Matplotlib itself requires.
"""

import contextlib
import os
import stat
import warnings
from typing import NamedTuple

import numpy as np

from octref.checks import check_int
from octref.sampling import pool2x2

__all__ = ["SAMPLE_IMAGE", "LUMA_WEIGHTS", "sample_image_path", "ImageHeader", "display_path",
           "read_header", "load_bytes", "load_image", "gray_from_pillow", "downscaled_shape",
           "downscale"]

#: The bundled default image, from matplotlib's sample data (no network).
SAMPLE_IMAGE = "grace_hopper.jpg"
#: ITU-R BT.601 weights of R, G, B in the grayscale conversion.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

# Single-band integer modes and the value that maps to 1.
_SCALE = {"1": 1.0, "L": 255.0, "I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0,
          "I;16N": 65535.0}
# Modes whose first band is the gray level itself (L*, Y, L with alpha).
_OWN_BAND = ("LA", "La", "YCbCr", "LAB")
# Bits per band of the decoded pixels, where not 8.
_BITS = {"1": 8, "I": 32, "F": 32, "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16}


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


class ImageHeader(NamedTuple):
    """What an image file says about itself before any pixel is decoded."""

    height: int
    width: int
    mode: str
    """The Pillow mode, e.g. ``"L"``, ``"RGB"``, ``"I;16"``, ``"F"``."""
    decoded_bytes: int
    """Bytes Pillow holds once the pixels are decoded."""


def display_path(path):
    """``path`` as printable text: undecodable bytes of a file name as ``\\xff`` escapes.

    A file name that is not valid UTF-8 reaches Python as a str with lone
    surrogates, which cannot be printed or written to a UTF-8 file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
    """
    raw = os.fsencode(path)
    return raw.decode("utf-8", errors="backslashreplace")


def _open_regular_file(path):
    """Checks shared by :func:`read_header` and :func:`load_image`; the normalised path."""
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"image not found: {display_path(path)!r}") from None
    except OSError as exc:
        raise ValueError(f"cannot read image {display_path(path)!r}: "
                         f"{exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"cannot read image {display_path(path)!r}: it is a directory")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or a device would block or never end: only files are read.
        raise ValueError(f"cannot read image {display_path(path)!r}: not a regular file "
                         "(a pipe, device or socket)")
    return path


def read_header(path=None):
    """Size and mode of an image, read from its header without decoding the pixels.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The bundled sample when omitted.

    Returns
    -------
    ImageHeader

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is not a regular file or not an image Pillow recognises.
    """
    from PIL import Image

    path = _open_regular_file(sample_image_path() if path is None else path)
    try:
        with _quiet_pillow(), Image.open(path) as image:
            bands = len(image.getbands())
            bits = _BITS.get(image.mode, 8)
            return ImageHeader(image.height, image.width, image.mode,
                               image.height * image.width * max(bands * bits // 8, 1))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"cannot read image {display_path(path)!r}: {exc}") from None


def load_bytes(header):
    """Peak bytes :func:`load_image` needs to decode an image to float64 luma.

    Pillow's decoded pixels, a copy for a mode converted to RGB, and two
    float64 planes (the gray image and one temporary).

    Parameters
    ----------
    header : ImageHeader

    Returns
    -------
    int
    """
    pixels = header.height * header.width
    converted = 0 if header.mode in _SCALE or header.mode in _OWN_BAND else 3 * pixels
    return header.decoded_bytes + converted + 2 * 8 * pixels


def load_image(path=None, *, max_side=None):
    """Read an image as one grayscale float64 plane, each mode by its real range.

    =====================================  =========================================
    Pillow mode                            value
    =====================================  =========================================
    ``"1"``                                0 or 1
    ``"L"``, ``"LA"``, ``"La"``            gray / 255
    ``"I;16"``, ``"I;16L"/"B"/"N"``        gray / 65535
    ``"I"`` (32-bit signed)                (gray + 2^31) / (2^32 - 1)
    ``"F"`` (32-bit float)                 as stored (a float image in [0, 1] stays
                                           there); NaN or infinite pixels are refused
    ``"YCbCr"``                            Y / 255 (the luma itself)
    ``"LAB"``                              L* / 255 (L* of CIELAB, as Pillow stores it)
    every other mode (RGB, RGBA, P, ...)   luma of Pillow's RGB conversion / 255
    =====================================  =========================================

    Alpha is ignored. All but ``"F"`` land in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike, optional
        A regular file Pillow decodes (PNG, JPEG, TIFF, ...). The bundled
        sample when omitted.
    max_side : int, optional
        When given, the image is averaged down with :func:`downscale` until its
        longer side is at most ``max_side`` pixels.

    Returns
    -------
    ndarray of shape (H, W), float64

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is not a regular file or not a readable image, a float
        image holds NaN or infinity, or ``max_side`` < 1.
    """
    from PIL import Image, UnidentifiedImageError

    path = _open_regular_file(sample_image_path() if path is None else path)
    try:
        with _quiet_pillow(), Image.open(path) as image:
            image.load()
            pixels = gray_from_pillow(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        # Pillow reports a truncated or malformed file as OSError or SyntaxError.
        raise ValueError(f"cannot read image {display_path(path)!r}: {exc}") from None
    if not np.isfinite(pixels).all():
        raise ValueError(f"cannot use image {display_path(path)!r}: it holds NaN or infinite "
                         "pixels")
    if max_side is not None:
        pixels = downscale(pixels, max_side)
    return pixels


@contextlib.contextmanager
def _quiet_pillow():
    """Silence Pillow's decompression-bomb warning: the caller checks memory itself."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def gray_from_pillow(image):
    """(H, W) float64 gray level of a Pillow image, by the table of :func:`load_image`.

    Parameters
    ----------
    image : PIL.Image.Image
        Any mode.

    Returns
    -------
    ndarray of shape (H, W), float64
    """
    mode = image.mode
    if mode in _SCALE:
        gray = np.asarray(image, dtype=np.float64)
        gray /= _SCALE[mode]
        return gray
    if mode == "I":
        gray = np.asarray(image, dtype=np.float64)
        gray += 2.0 ** 31
        gray /= 2.0 ** 32 - 1
        return gray
    if mode == "F":
        return np.asarray(image, dtype=np.float64)
    if mode in _OWN_BAND:
        gray = np.asarray(image.getchannel(0), dtype=np.float64)
        gray /= 255.0
        return gray
    rgb = np.asarray(image.convert("RGB"))
    luma = np.zeros(rgb.shape[:2])
    for channel, weight in enumerate(LUMA_WEIGHTS):
        luma += weight * rgb[..., channel]
    return luma / 255.0


def downscaled_shape(shape, max_side):
    """The (H, W) :func:`downscale` returns, from the input's (H, W) alone.

    Parameters
    ----------
    shape : (int, int)
    max_side : int, >= 1

    Returns
    -------
    (int, int), int
        The shape, and how many 2x2 poolings lead to it.
    """
    max_side = check_int(max_side, "max_side", minimum=1)
    height, width = shape
    times = 0
    while max(height, width) > max_side:
        height, width, times = -(-height // 2), -(-width // 2), times + 1
    return (height, width), times


def downscale(image, max_side):
    """Halve an image with 2x2 average pooling until its longer side is <= max_side.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    max_side : int, >= 1

    Returns
    -------
    ndarray of shape (ceil(H / 2^n), ceil(W / 2^n))
        n the smallest count with ``max(ceil(H / 2^n), ceil(W / 2^n)) <= max_side``
        (:func:`downscaled_shape`); the image itself when it is already small enough.
    """
    _, times = downscaled_shape(image.shape[-2:], max_side)
    for _ in range(times):
        image = pool2x2(image)
    return image
