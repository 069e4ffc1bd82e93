"""The octave split of a map: exact reconstruction, orthogonality, where the energy lies."""

import numpy as np
import pytest

from octref import frequency
from octref.data import load_image
from octref.sampling import pool2x2


@pytest.fixture(scope="module")
def photo():
    return load_image(max_side=128)  # 75 x 64 after three poolings


@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (1, 1), (150, 128)])
def test_split_sums_back_and_is_orthogonal(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    low, high = frequency.octave_split(x)
    np.testing.assert_allclose(low + high, x, rtol=0, atol=1e-15)
    # up(pool(.)) is the orthogonal projection onto 2x2-block-constant maps,
    # odd edges included, so the parts are orthogonal and energies add up.
    assert abs(np.sum(low * high)) < 1e-12 * np.sum(x * x)
    np.testing.assert_allclose(pool2x2(high), 0, atol=1e-15)


def test_split_by_hand():
    x = np.array([[1.0, 3.0, 5.0], [5.0, 7.0, 9.0]])
    low, high = frequency.octave_split(x)
    np.testing.assert_array_equal(low, [[4, 4, 7], [4, 4, 7]])
    np.testing.assert_array_equal(high, [[-3, -1, -2], [1, 3, 2]])


@pytest.mark.parametrize("levels", [1, 3])
def test_bands_telescope_to_the_image(photo, levels):
    bands = frequency.octave_bands(photo[:75, :61], levels)  # odd sides on purpose
    assert len(bands) == levels + 1
    np.testing.assert_allclose(sum(bands), photo[:75, :61], rtol=0, atol=1e-14)
    np.testing.assert_allclose(bands[0], frequency.octave_split(photo[:75, :61])[1], atol=1e-15)


def test_bands_are_mutually_orthogonal(photo):
    # Orthogonal when the sides divide by 2^levels (at odd sides, pooling a
    # pooled map weighs a partial block like a full one).
    bands = frequency.octave_bands(photo[:72, :64], 3)
    gram = np.array([[np.sum(a * b) for b in bands] for a in bands])
    off_diagonal = gram - np.diag(np.diag(gram))
    assert np.abs(off_diagonal).max() < 1e-10 * np.trace(gram)


def test_power_spectrum_obeys_parseval_and_is_centred():
    x = np.random.default_rng(1).standard_normal((12, 10))
    power = frequency.power_spectrum(x)
    np.testing.assert_allclose(power.sum(), ((x - x.mean()) ** 2).sum(), rtol=1e-12)
    assert power[6, 5] == pytest.approx(0, abs=1e-20)  # the mean is removed
    radius = frequency.radial_frequency((12, 10))
    assert radius[6, 5] == 0 and radius.max() == pytest.approx(np.hypot(0.5, 0.5))


def test_a_pure_cosine_sits_at_its_frequency():
    rows = np.arange(32)[:, None]
    cosine = np.cos(2 * np.pi * 0.125 * rows) * np.ones((1, 16))
    assert frequency.energy_fraction_below(cosine, 0.12) == pytest.approx(0, abs=1e-12)
    assert frequency.energy_fraction_below(cosine, 0.13) == pytest.approx(1, abs=1e-12)


def test_low_part_holds_the_low_frequencies(photo):
    # The claim of frequency.png: up(pool(X)) keeps its energy below the
    # half-resolution Nyquist frequency, X - up(pool(X)) mostly above it.
    low, high = frequency.octave_split(photo)
    below_low = frequency.energy_fraction_below(low)
    below_high = frequency.energy_fraction_below(high)
    assert below_low > 0.9 > 0.3 > below_high
    # Coarser bands hold ever lower frequencies.
    fractions = [frequency.energy_fraction_below(b) for b in frequency.octave_bands(photo, 3)]
    assert fractions == sorted(fractions)


@pytest.mark.parametrize("shape", [(75, 64), (19, 16)])
def test_radial_profile_accounts_for_all_energy(photo, shape):
    x = photo[:shape[0], :shape[1]]
    edges, density = frequency.radial_energy_profile(x, bins=48)
    radius = frequency.radial_frequency(x.shape)
    count = np.histogram(radius[radius > 0], bins=edges)[0]
    assert np.isnan(density).sum() == (count == 0).sum()  # empty rings of a small map
    total = ((x - x.mean()) ** 2).sum()
    np.testing.assert_allclose(np.nansum(density * count), total, rtol=1e-10)


def test_high_energy_fraction_orders_the_filter_bank(photo):
    names, maps = frequency.filter_responses(photo)
    assert maps.shape == (len(frequency.FILTER_BANK),) + photo.shape
    lost = dict(zip(names, frequency.high_energy_fraction(maps)))
    assert lost["3x3 mean"] < lost["identity"] < lost["Sobel x"] < lost["Laplacian"]
    assert lost["Laplacian"] < lost["checkerboard"] <= 1
    assert frequency.high_energy_fraction(np.ones((4, 4))) == 0
    # A 2x2-block checkerboard is all low, a 1-pixel one all high.
    blocks = np.kron(np.indices((4, 4)).sum(axis=0) % 2, np.ones((2, 2)))
    pixels = np.indices((8, 8)).sum(axis=0) % 2
    assert frequency.high_energy_fraction(blocks) == 0
    assert frequency.high_energy_fraction(pixels) == pytest.approx(1)


def test_filter_responses_are_cross_correlations():
    image = np.zeros((5, 5))
    image[2, 2] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    _, maps = frequency.filter_responses(image, {"k": kernel})
    # Cross-correlation: the response to an impulse is the kernel flipped.
    np.testing.assert_array_equal(maps[0, 1:4, 1:4], kernel[::-1, ::-1])


def test_bad_levels():
    with pytest.raises(ValueError, match="levels"):
        frequency.octave_bands(np.ones((4, 4)), 0)
    with pytest.raises(ValueError, match="2-D"):
        frequency.octave_bands(np.ones((2, 4, 4)), 1)


def test_why_the_high_part_keeps_energy_below_the_half_resolution_nyquist(photo):
    parts = frequency.high_part_below_nyquist(photo)
    _, high = frequency.octave_split(photo)
    assert parts.total == pytest.approx(frequency.energy_fraction_below(high), abs=1e-12)
    assert parts.total == pytest.approx(parts.passed + parts.aliased + parts.cross, abs=1e-12)
    # On a photograph the non-ideal filter, not aliasing, is the main reason.
    assert parts.passed > parts.aliased > 0


@pytest.mark.parametrize("f0, passed", [(0.2, True), (0.3, False)])
def test_the_two_reasons_on_a_cosine(f0, passed):
    # A cosine below 0.25 reaches the high part only through 1 - cos^2(pi f); one
    # above 0.25 only as the alias pooling folds to 0.5 - f0 (below 0.25).
    rows = np.arange(40)[:, None]
    cosine = np.cos(2 * np.pi * f0 * rows) * np.ones((1, 8))
    parts = frequency.high_part_below_nyquist(cosine)
    if passed:
        assert parts.passed == pytest.approx(parts.total) and parts.aliased < 1e-20
        # The share of the high part's energy at f0: the rest is the alias at 0.5 - f0.
        assert 0 < parts.total < 1
    else:
        assert parts.passed < 1e-20 and parts.aliased == pytest.approx(parts.total)
        assert parts.total > 0
    assert np.isnan(frequency.high_part_below_nyquist(np.ones((4, 4))).total)
