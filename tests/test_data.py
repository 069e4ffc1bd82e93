"""Loading images: the bundled sample, other files, grayscale, downscaling, errors."""

import numpy as np
import pytest
from PIL import Image

from octref import data


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
