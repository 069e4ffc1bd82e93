"""Simple images that once broke the tour (issue 13): each a float (H, W) array in [0, 1].

Also :func:`png_header_only`, a PNG file whose header declares a size it does not hold.
"""

import struct
import zlib

import numpy as np


def dot(size=64):
    """One white pixel on black."""
    image = np.zeros((size, size))
    image[size // 2, size // 2] = 1.0
    return image


def half(size=64):
    """Left half black, right half white: constant down every column."""
    image = np.zeros((size, size))
    image[:, size // 2:] = 1.0
    return image


def ramp(size=64):
    """A horizontal ramp from 0 to 1."""
    return np.broadcast_to(np.linspace(0.0, 1.0, size), (size, size)).copy()


def checkerboard(size=64):
    """The one-pixel checkerboard: all its energy at (0.5, 0.5) cycles/px."""
    return (np.indices((size, size)).sum(axis=0) % 2).astype(np.float64)


def grating(size=313):
    """A periodic texture, periods 4.46 px down and 3.3 px across: a peak-picking
    shift estimator landed 18 px away, a period off."""
    rows, cols = np.indices((size, size))
    return 0.5 + 0.5 * np.cos(2 * np.pi * (rows / 4.46 + cols / 3.3))


HOSTILE = {"dot": dot, "half": half, "ramp": ramp, "checkerboard": checkerboard,
           "grating": grating}


def png_header_only(path, height, width, colour_type=0):
    """A PNG that declares height x width pixels and holds none: readable header, no data."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"")
                     + chunk(b"IEND", b""))
    return path
