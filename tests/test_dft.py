"""The direct-Fourier-transform predictor against hand-computed visibilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from contimg.dft import SPEED_OF_LIGHT_M_S, predict_visibilities
from contimg.errors import ContimgError
from contimg.skymodel import Component, GaussianShape

RA0_DEG = 150.1
DEC0_DEG = 2.2
FREQUENCIES_HZ = np.array([1.28e9, 1.405e9, 1.53e9])


def point(
    name: str,
    ra_deg: float,
    dec_deg: float,
    flux_jy: float = 2.0,
    spectral_index: float = -0.7,
) -> Component:
    """A point component with a logarithmic spectral index at 1.4 GHz."""
    return Component(name, ra_deg, dec_deg, flux_jy, (spectral_index,), True, 1.4e9)


def test_component_at_phase_centre_gives_its_flux_on_every_baseline() -> None:
    rng = np.random.default_rng(7)
    uvw = rng.uniform(-2600.0, 2600.0, size=(50, 3))
    centre = point("centre", RA0_DEG, DEC0_DEG)

    visibilities = predict_visibilities(
        [centre], RA0_DEG, DEC0_DEG, uvw, FREQUENCIES_HZ
    )

    expected = 2.0 * (FREQUENCIES_HZ / 1.4e9) ** -0.7
    assert visibilities.shape == (50, 3)
    np.testing.assert_allclose(
        visibilities, np.broadcast_to(expected, (50, 3)), rtol=0, atol=1e-12
    )


def test_offset_in_ra_gives_positive_phase_on_an_east_baseline() -> None:
    offset_rad = 1e-4
    source = point("east", math.degrees(offset_rad), 0.0, spectral_index=0.0)
    u_m = 100.0

    visibility = predict_visibilities([source], 0.0, 0.0, [[u_m, 0.0, 0.0]], [1.4e9])[
        0, 0
    ]

    # l = sin(offset) at Dec 0; V = S exp(+2 pi i u l / lambda).
    wavelength_m = SPEED_OF_LIGHT_M_S / 1.4e9
    expected_phase = 2 * math.pi * u_m * math.sin(offset_rad) / wavelength_m
    assert 0.1 < expected_phase < math.pi
    assert abs(visibility) == pytest.approx(2.0, abs=1e-12)
    assert np.angle(visibility) == pytest.approx(expected_phase, abs=1e-9)


def test_w_term_uses_n_minus_one() -> None:
    offset_rad = math.radians(1.0)
    source = point("north", 0.0, math.degrees(offset_rad), spectral_index=0.0)
    w_m = 100.0

    visibility = predict_visibilities([source], 0.0, 0.0, [[0.0, 0.0, w_m]], [1.4e9])[
        0, 0
    ]

    wavelength_m = SPEED_OF_LIGHT_M_S / 1.4e9
    n_minus_one = math.cos(offset_rad) - 1.0
    expected_phase = 2 * math.pi * w_m * n_minus_one / wavelength_m
    assert expected_phase < -0.1
    assert np.angle(visibility) == pytest.approx(expected_phase, abs=1e-9)


def test_north_offset_on_a_pure_v_baseline() -> None:
    # At Dec0 = 30 deg a source 0.1 deg north has m = sin(0.1 deg), l = 0.
    source = point("north", 45.0, 30.1, spectral_index=0.0)
    visibility = predict_visibilities(
        [source], 45.0, 30.0, [[0.0, 500.0, 0.0]], [1.4e9]
    )[0, 0]

    wavelength_m = SPEED_OF_LIGHT_M_S / 1.4e9
    expected_phase = 2 * math.pi * 500.0 * math.sin(math.radians(0.1)) / wavelength_m
    wrapped = (expected_phase + math.pi) % (2 * math.pi) - math.pi
    assert np.angle(visibility) == pytest.approx(wrapped, abs=1e-6)


def test_spectral_index_sets_the_flux_in_each_channel() -> None:
    source = point(
        "steep", RA0_DEG + 0.3, DEC0_DEG - 0.2, flux_jy=1.5, spectral_index=-1.2
    )
    uvw = [[120.0, -40.0, 3.0], [-900.0, 30.0, -1.0]]

    visibilities = predict_visibilities(
        [source], RA0_DEG, DEC0_DEG, uvw, [1.3e9, 1.5e9]
    )

    np.testing.assert_allclose(np.abs(visibilities[:, 0]), 1.5 * (1.3 / 1.4) ** -1.2)
    np.testing.assert_allclose(np.abs(visibilities[:, 1]), 1.5 * (1.5 / 1.4) ** -1.2)


def test_components_add_up() -> None:
    first = point("a", RA0_DEG + 0.5, DEC0_DEG)
    second = point("b", RA0_DEG - 0.2, DEC0_DEG + 0.7, flux_jy=0.3)
    uvw = np.array([[300.0, 200.0, 5.0], [-1500.0, 800.0, -20.0]])

    together = predict_visibilities(
        [first, second], RA0_DEG, DEC0_DEG, uvw, FREQUENCIES_HZ
    )
    apart = sum(
        predict_visibilities([one], RA0_DEG, DEC0_DEG, uvw, FREQUENCIES_HZ)
        for one in (first, second)
    )

    np.testing.assert_allclose(together, apart, rtol=0, atol=1e-12)
    assert not np.allclose(together, together[0, 0])


def test_chunking_does_not_change_the_result() -> None:
    rng = np.random.default_rng(3)
    uvw = rng.uniform(-2600.0, 2600.0, size=(37, 3))
    components = [
        point(f"c{index}", RA0_DEG + rng.uniform(-1, 1), DEC0_DEG + rng.uniform(-1, 1))
        for index in range(5)
    ]

    whole = predict_visibilities(
        components, RA0_DEG, DEC0_DEG, uvw, FREQUENCIES_HZ, chunk_elements=10**9
    )
    row_by_row = predict_visibilities(
        components, RA0_DEG, DEC0_DEG, uvw, FREQUENCIES_HZ, chunk_elements=1
    )
    uneven = predict_visibilities(
        components, RA0_DEG, DEC0_DEG, uvw, FREQUENCIES_HZ, chunk_elements=5 * 3 * 8
    )

    np.testing.assert_allclose(row_by_row, whole, rtol=0, atol=1e-12)
    np.testing.assert_allclose(uneven, whole, rtol=0, atol=1e-12)


def test_no_components_gives_zeros() -> None:
    visibilities = predict_visibilities(
        [], RA0_DEG, DEC0_DEG, [[1.0, 2.0, 3.0]], FREQUENCIES_HZ
    )
    assert visibilities.shape == (1, 3)
    assert not visibilities.any()


def test_component_behind_the_phase_centre_is_refused() -> None:
    opposite = point("far", RA0_DEG + 180.0, -DEC0_DEG)
    with pytest.raises(ContimgError, match="far"):
        predict_visibilities(
            [opposite], RA0_DEG, DEC0_DEG, [[1.0, 2.0, 3.0]], FREQUENCIES_HZ
        )


def test_uvw_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ContimgError, match=r"\(nrow, 3\)"):
        predict_visibilities(
            [point("a", RA0_DEG, DEC0_DEG)],
            RA0_DEG,
            DEC0_DEG,
            np.zeros((4, 2)),
            FREQUENCIES_HZ,
        )


def gaussian(
    major_arcsec: float, minor_arcsec: float, orientation_deg: float
) -> Component:
    """A flat-spectrum Gaussian of 1 Jy at the phase centre."""
    return Component(
        "g", RA0_DEG, DEC0_DEG, 1.0, (0.0,), True, 1.4e9,
        GaussianShape(major_arcsec, minor_arcsec, orientation_deg),
    )  # fmt: skip


def gaussian_visibility(fwhm_arcsec: float, baseline_wavelengths: float) -> float:
    """exp(-2 pi^2 sigma^2 u^2), sigma = FWHM / sqrt(8 ln 2): the transform of a
    unit Gaussian along one axis."""
    sigma = math.radians(fwhm_arcsec / 3600) / math.sqrt(8 * math.log(2))
    return math.exp(-2 * math.pi**2 * sigma**2 * baseline_wavelengths**2)


def test_a_gaussian_tapers_with_its_major_axis_along_the_position_angle() -> None:
    # Orientation 0: major axis north-south, so a pure-v baseline sees the major
    # axis (more taper) and a pure-u baseline the minor axis (less taper).
    wavelength_m = SPEED_OF_LIGHT_M_S / 1.4e9
    length_m = 2000.0
    uvw = [[0.0, length_m, 0.0], [length_m, 0.0, 0.0]]
    source = gaussian(60.0, 20.0, 0.0)

    north, east = predict_visibilities([source], RA0_DEG, DEC0_DEG, uvw, [1.4e9])[:, 0]

    assert north.real == pytest.approx(gaussian_visibility(60, length_m / wavelength_m))
    assert east.real == pytest.approx(gaussian_visibility(20, length_m / wavelength_m))
    assert abs(north.imag) < 1e-12 and abs(east.imag) < 1e-12


def test_a_gaussian_turned_by_ninety_degrees_swaps_its_axes() -> None:
    uvw = [[0.0, 1500.0, 0.0], [1500.0, 0.0, 0.0]]

    upright = predict_visibilities(
        [gaussian(60, 20, 0)], RA0_DEG, DEC0_DEG, uvw, [1.4e9]
    )
    turned = predict_visibilities(
        [gaussian(60, 20, 90)], RA0_DEG, DEC0_DEG, uvw, [1.4e9]
    )

    np.testing.assert_allclose(turned[::-1], upright, rtol=1e-12)


def test_a_gaussian_keeps_its_flux_at_zero_spacing_and_its_phase() -> None:
    source = Component(
        "g", RA0_DEG + 0.01, DEC0_DEG, 1.5, (0.0,), True, 1.4e9,
        GaussianShape(30.0, 30.0, 0.0),
    )  # fmt: skip
    as_point = Component("p", RA0_DEG + 0.01, DEC0_DEG, 1.5, (0.0,), True, 1.4e9)
    uvw = [[0.0, 0.0, 0.0], [800.0, 300.0, 10.0]]

    extended = predict_visibilities([source], RA0_DEG, DEC0_DEG, uvw, [1.4e9])
    point_like = predict_visibilities([as_point], RA0_DEG, DEC0_DEG, uvw, [1.4e9])

    assert extended[0, 0] == pytest.approx(1.5)
    assert np.angle(extended[1, 0]) == pytest.approx(np.angle(point_like[1, 0]))
    assert abs(extended[1, 0]) < abs(point_like[1, 0])
