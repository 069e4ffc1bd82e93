"""Loading images: the bundled sample, other files, grayscale, downscaling, errors."""

import os

import numpy as np
import pytest
from PIL import Image

from octref import data
from tests.hostile_images import png_header_only


def test_sample_image_loads_as_grayscale_unit_range():
    image = data.load_image()
    assert image.shape == (600, 512) and image.dtype == np.float64
    assert 0.0 <= image.min() < 0.1 and 0.9 < image.max() <= 1.0
    assert data.sample_image_path().endswith(data.SAMPLE_IMAGE)


def test_downscale_by_pooling():
    assert data.load_image(max_side=320).shape == (300, 256)
    assert data.load_image(max_side=64).shape == (38, 32)  # ceil-mode: 75 -> 38
    small = np.ones((10, 7))
    assert data.downscale(small, 10) is small
    with pytest.raises(ValueError, match="max_side"):
        data.downscale(small, 0)


@pytest.mark.parametrize("mode, value, expected", [
    ("L", 51, 0.2),
    ("RGB", (255, 0, 0), 0.299),
    ("RGBA", (0, 255, 0, 7), 0.587),
    ("I;16", 65535, 1.0),
])
def test_modes(tmp_path, mode, value, expected):
    path = tmp_path / "image.png"
    Image.new(mode, (5, 3), value).save(path)
    image = data.load_image(path)
    assert image.shape == (3, 5)
    np.testing.assert_allclose(image, expected, rtol=1e-12)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        data.load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="directory"):
        data.load_image(tmp_path)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        data.load_image(junk)
    truncated = tmp_path / "truncated.png"
    Image.new("L", (64, 64), 3).save(tmp_path / "whole.png")
    truncated.write_bytes((tmp_path / "whole.png").read_bytes()[:60])
    with pytest.raises(ValueError, match="cannot read image"):
        data.load_image(truncated)


# Every mode Pillow creates, by its real range (issue 13, item 13): (mode, fill value,
# expected gray level). Integer modes land in [0, 1]; "F" is taken as stored.
MODES = [
    ("1", 1, 1.0),
    ("L", 51, 0.2),
    ("LA", (51, 9), 0.2),
    ("La", (51, 255), 0.2),
    ("P", 0, 0.0),
    ("PA", (0, 255), 0.0),
    ("RGB", (255, 0, 0), 0.299),
    ("RGBA", (0, 255, 0, 7), 0.587),
    ("RGBX", (0, 0, 255, 0), 0.114),
    ("RGBa", (0, 0, 255, 255), 0.114),
    ("CMYK", (0, 0, 0, 0), 1.0),
    ("YCbCr", (102, 128, 128), 0.4),
    ("LAB", (153, 128, 128), 0.6),
    ("HSV", (0, 0, 255), 1.0),
    ("I;16", 65535, 1.0),
    ("I;16L", 13107, 0.2),
    ("I;16B", 13107, 0.2),
    ("I;16N", 13107, 0.2),
    ("I", 0, 2 ** 31 / (2 ** 32 - 1)),
    ("I", 2 ** 31 - 1, 1.0),
    ("I", -2 ** 31, 0.0),
    ("F", 0.25, 0.25),
]


@pytest.mark.parametrize("mode, value, expected", MODES)
def test_every_pillow_mode_by_its_real_range(mode, value, expected):
    gray = data.gray_from_pillow(Image.new(mode, (5, 3), value))
    assert gray.shape == (3, 5) and gray.dtype == np.float64
    np.testing.assert_allclose(gray, expected, rtol=1e-12, atol=1e-15)


def test_a_float_tiff_in_the_unit_interval_keeps_its_values(tmp_path):
    # It used to go through an 8-bit RGB conversion and load as zeros.
    values = np.random.default_rng(0).random((6, 7)).astype(np.float32)
    Image.fromarray(values).save(tmp_path / "float.tif")
    np.testing.assert_array_equal(data.load_image(tmp_path / "float.tif"), values)


def test_a_32_bit_tiff_is_not_read_as_16_bit(tmp_path):
    # Values past 65535 used to clip to 1.
    values = np.array([[0, 70000, 2 ** 30, 2 ** 31 - 1]], dtype=np.int32)
    Image.fromarray(values).save(tmp_path / "int32.tif")
    gray = data.load_image(tmp_path / "int32.tif")
    np.testing.assert_allclose(gray, (values + 2.0 ** 31) / (2 ** 32 - 1), rtol=1e-15)
    assert len(np.unique(gray)) == 4


def test_a_16_bit_png(tmp_path):
    values = np.array([[0, 1000, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    np.testing.assert_allclose(data.load_image(tmp_path / "deep.png"), values / 65535)


def test_non_finite_float_pixels_are_refused(tmp_path):
    values = np.zeros((4, 4), dtype=np.float32)
    values[1, 2] = np.nan
    Image.fromarray(values).save(tmp_path / "nan.tif")
    with pytest.raises(ValueError, match="NaN or infinite"):
        data.load_image(tmp_path / "nan.tif")


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        data.load_image(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        data.read_header(fifo)


def test_the_header_gives_size_and_memory_without_decoding(tmp_path):
    gray = data.read_header(png_header_only(tmp_path / "big.png", 10000, 12000))
    assert (gray.height, gray.width, gray.mode) == (10000, 12000, "L")
    assert gray.decoded_bytes == 10000 * 12000
    assert data.load_bytes(gray) == 10000 * 12000 * 17  # 1 byte + two float64 planes
    colour = data.read_header(png_header_only(tmp_path / "rgb.png", 10, 20, colour_type=2))
    assert colour.mode == "RGB" and data.load_bytes(colour) == 200 * (3 + 3 + 16)


def test_downscaled_shape_matches_downscale():
    for shape in [(75, 64), (600, 512), (17, 3), (1, 1)]:
        for side in (1, 16, 64, 320):
            expected = data.downscale(np.zeros(shape), side).shape
            assert data.downscaled_shape(shape, side)[0] == expected


def test_display_path_escapes_undecodable_bytes():
    name = os.fsdecode(b"bad\xff.png")
    assert data.display_path(name) == "bad\\xff.png"
    assert data.display_path("plain/été.png") == "plain/été.png"
