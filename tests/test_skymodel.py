"""Catalogue to sky model: selection, formatting, and the spectral model."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, Table

from contimg.errors import SkyModelError
from contimg.skymodel import (
    Component,
    GaussianShape,
    Selection,
    component_line,
    format_dec,
    format_ra,
    read_catalogue,
    read_sky_model,
    select_components,
    sky_model_text,
    write_sky_model,
)

REPOSITORY = Path(__file__).resolve().parents[1]
NVSS = REPOSITORY / "resources" / "nvss" / "COSMOS_NVSS_model_extracted.csv"


def component(**changes: object) -> Component:
    values: dict[str, object] = {
        "name": "s1",
        "ra_deg": 150.0,
        "dec_deg": 1.7,
        "stokes_i_jy": 1.0,
        "spectral_terms": (-0.7,),
        "logarithmic": True,
        "reference_hz": 1.4e9,
    }
    values.update(changes)
    return Component(**values)  # type: ignore[arg-type]


def test_coordinates_are_written_as_the_text_format_wants() -> None:
    assert format_ra(150.0) == "10:00:00.0000"
    assert format_ra(359.99999999) == "00:00:00.0000"
    assert format_dec(1.7) == "+01.42.00.000"
    assert format_dec(-30.5125) == "-30.30.45.000"


def test_a_component_line_has_every_field_in_order() -> None:
    line = component_line(component(name="NVSS_J1", stokes_i_jy=0.25))

    assert line == (
        "NVSS_J1,POINT,10:00:00.0000,+01.42.00.000,0.25,[-0.7],true,1400000000.0,,,"
    )


def test_the_format_line_carries_the_default_reference_frequency() -> None:
    text = sky_model_text([component()], reference_hz=1.4e9)

    assert text.splitlines()[0].startswith("Format = Name, Type, Ra, Dec, I,")
    assert "ReferenceFrequency='1400000000.0'" in text.splitlines()[0]


def test_logarithmic_spectral_index_scales_as_a_power_law() -> None:
    source = component(stokes_i_jy=2.0, spectral_terms=(-0.7,))

    assert source.flux_at(1.4e9) == pytest.approx(2.0)
    assert source.flux_at(2.8e9) == pytest.approx(2.0 * 2**-0.7)


def test_ordinary_polynomial_adds_terms_in_frequency_ratio() -> None:
    source = component(stokes_i_jy=2.0, spectral_terms=(1.0, 0.5), logarithmic=False)

    # 2 + 1 * (2 - 1) + 0.5 * (2 - 1)**2
    assert source.flux_at(2.8e9) == pytest.approx(3.5)
    assert np.allclose(source.flux_at(np.array([1.4e9, 2.8e9])), [2.0, 3.5])


def test_selection_keeps_sources_inside_radius_and_above_flux_brightest_first() -> None:
    catalogue = pd.DataFrame(
        {
            "name": ["near_faint", "near_bright", "far_bright", "edge"],
            "ra_deg": [150.0, 150.1, 152.0, 150.0],
            "dec_deg": [1.7, 1.7, 1.7, 2.19],
            "stokes_I_Jy": [0.001, 0.5, 0.9, 0.05],
        }
    )
    selection = Selection(
        centre=SkyCoord(ra=150.0 * u.deg, dec=1.7 * u.deg),
        radius_deg=0.5,
        min_flux_jy=0.01,
        spectral_index=-0.7,
        reference_hz=1.4e9,
    )

    chosen = select_components(catalogue, selection)

    assert [source.name for source in chosen] == ["near_bright", "edge"]
    assert chosen[0].spectral_terms == (-0.7,)


def test_the_real_nvss_extract_reads_and_selects() -> None:
    catalogue = read_catalogue(NVSS)
    selection = Selection(
        centre=SkyCoord(ra=150.0 * u.deg, dec=1.7 * u.deg),
        radius_deg=0.7,
        min_flux_jy=0.005,
        spectral_index=-0.7,
        reference_hz=1.4e9,
    )

    chosen = select_components(catalogue, selection)

    assert len(catalogue) == 848
    assert 20 < len(chosen) < 100
    assert chosen[0].name == "NVSS_J095921+011801"


def test_written_sky_model_reads_back_the_same(tmp_path: Path) -> None:
    sources = [
        component(name="a", ra_deg=149.5, dec_deg=-2.25, stokes_i_jy=0.3),
        component(name="b", ra_deg=0.25, dec_deg=45.125, spectral_terms=(-0.8, 0.1)),
    ]
    path = tmp_path / "sky.txt"

    write_sky_model(path, sources, 1.4e9)
    again = read_sky_model(path)

    assert [s.name for s in again] == ["a", "b"]
    for before, after in zip(sources, again, strict=True):
        assert after.ra_deg == pytest.approx(before.ra_deg, abs=1e-6)
        assert after.dec_deg == pytest.approx(before.dec_deg, abs=1e-6)
        assert after.spectral_terms == before.spectral_terms
    assert not list(tmp_path.glob(".*partial"))


def test_a_catalogue_without_a_flux_column_names_what_is_missing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text("name,ra_deg,dec_deg,flux\nx,1,2,3\n")

    with pytest.raises(SkyModelError, match=r"lacks the column\(s\) stokes_I_Jy"):
        read_catalogue(path)


def test_a_malformed_sky_model_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "sky.txt"
    path.write_text(sky_model_text([component()], 1.4e9) + "broken,POINT,xx\n")

    with pytest.raises(SkyModelError, match="line 3"):
        read_sky_model(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,150.0,1.7,lots", r"line 3: stokes_I_Jy is 'lots'; expected a number"),
        ("x,400.0,1.7,0.1", r"line 3: ra_deg is .*from 0 to 360"),
        ("x,150.0,-95,0.1", r"line 3: dec_deg is .*from -90 to 90"),
        ("a,150.1,1.7,0.2", r"'a' appears more than once \(line 3\)"),
    ],
)
def test_bad_catalogue_rows_are_named_by_line(
    tmp_path: Path, row: str, message: str
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text(f"name,ra_deg,dec_deg,stokes_I_Jy\na,150.0,1.7,0.1\n{row}\n")

    with pytest.raises(SkyModelError, match=message):
        read_catalogue(path)


def test_a_real_sky_model_with_three_spectral_terms_reads(tmp_path: Path) -> None:
    # PKS B1934-638 as flint ships it: default reference frequency on the
    # Format line, dot-separated declination, empty shape fields.
    path = tmp_path / "1934.txt"
    path.write_text(
        "Format = Name, Type, Ra, Dec, I, SpectralIndex, LogarithmicSI, "
        "ReferenceFrequency='888500000.0', MajorAxis, MinorAxis, Orientation\n"
        "s0,POINT,19:39:25.0261,-63.42.45.625,14.23058308,"
        "[0.42280414,-1.74293221,0.605334],true,888500000.0,,,\n"
    )

    (source,) = read_sky_model(path)

    assert source.ra_deg == pytest.approx(294.854275, abs=1e-6)
    assert source.dec_deg == pytest.approx(-63.712674, abs=1e-6)
    assert source.spectral_terms == (0.42280414, -1.74293221, 0.605334)
    assert source.shape is None


def test_fields_follow_the_format_line_and_take_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "reordered.txt"
    path.write_text(
        "format = Name, Type, Ra, Dec, I, MajorAxis, MinorAxis, Orientation, "
        "ReferenceFrequency='1.4e9', SpectralIndex='[]'\n"
        "\n"
        "# a comment\n"
        "blob,GAUSSIAN,10:00:00.0,+02.00.00.0,0.5,40.0,10.0,30.0,,[-0.8]\n"
        "dot,POINT,10:00:01.0,+02.00.10.0,0.2,,,,1.3e9,\n"
    )

    blob, dot = read_sky_model(path)

    assert blob.shape == GaussianShape(40.0, 10.0, 30.0)
    assert blob.reference_hz == 1.4e9 and blob.spectral_terms == (-0.8,)
    assert dot.shape is None and dot.reference_hz == 1.3e9
    assert dot.spectral_terms == ()
    assert dot.flux_at(2.6e9) == pytest.approx(0.2)


def test_a_gaussian_component_is_written_and_read_back(tmp_path: Path) -> None:
    shaped = component(name="g", shape=GaussianShape(45.0, 15.0, 120.0))
    path = tmp_path / "sky.txt"

    write_sky_model(path, [shaped], 1.4e9)
    (again,) = read_sky_model(path)

    assert ",GAUSSIAN," in path.read_text()
    assert again.shape == GaussianShape(45.0, 15.0, 120.0)


def test_an_unsupported_component_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "sky.txt"
    path.write_text(
        sky_model_text([component()], 1.4e9)
        + "shell,SHAPELET,10:00:00,+02.00.00,1.0,[],true,1.4e9,,,\n"
    )

    with pytest.raises(SkyModelError, match="line 3: component type 'SHAPELET'"):
        read_sky_model(path)


SOURCES = pd.DataFrame(
    {
        "name": ["NVSS_J100000+014200", "NVSS_J100024+015000", "3C 237"],
        "ra_deg": [150.0, 150.1, 151.25],
        "dec_deg": [1.7, 1.8333, -2.5],
        "stokes_I_Jy": [0.25, 0.0125, 6.5],
    }
)
"""A few sources, one name with a space, for catalogues written in other formats."""


def assert_same_sources(read: pd.DataFrame, expected: pd.DataFrame) -> None:
    columns = ["name", "ra_deg", "dec_deg", "stokes_I_Jy"]
    assert list(read["name"]) == list(expected["name"])
    assert all(isinstance(name, str) for name in read["name"])
    assert np.array_equal(
        read[columns[1:]].to_numpy(dtype=float),
        expected[columns[1:]].to_numpy(dtype=float),
    )


@pytest.mark.parametrize(
    ("file_name", "astropy_format"),
    [
        ("catalogue.fits", "fits"),
        ("catalogue.fit", "fits"),
        ("catalogue.fits.gz", "fits"),
        ("catalogue.ecsv", "ascii.ecsv"),
        ("catalogue.vot", "votable"),
        ("catalogue.dat", "fits"),
    ],
)
def test_a_table_catalogue_reads_the_same_sources_as_the_csv(
    tmp_path: Path, file_name: str, astropy_format: str
) -> None:
    path = tmp_path / file_name
    Table.read(NVSS, format="ascii.csv").write(path, format=astropy_format)

    assert_same_sources(read_catalogue(path), read_catalogue(NVSS))


def test_fits_cells_of_one_value_and_array_columns_convert_to_plain_columns(
    tmp_path: Path,
) -> None:
    table = Table()
    table["name"] = np.array(SOURCES["name"], dtype="S24")
    table["ra_deg"] = SOURCES["ra_deg"].to_numpy()
    table["dec_deg"] = SOURCES["dec_deg"].to_numpy().reshape(-1, 1)
    table["stokes_I_Jy"] = MaskedColumn(SOURCES["stokes_I_Jy"].to_numpy())
    table["spectrum_Jy"] = np.ones((len(SOURCES), 8))
    path = tmp_path / "catalogue.fits"
    table.write(path)

    catalogue = read_catalogue(path)

    assert_same_sources(catalogue, SOURCES)
    assert "spectrum_Jy" not in catalogue.columns


def test_a_masked_flux_in_a_fits_catalogue_is_named_by_its_row(
    tmp_path: Path,
) -> None:
    table = Table.from_pandas(SOURCES)
    table["stokes_I_Jy"] = MaskedColumn(table["stokes_I_Jy"], mask=[False, True, False])
    path = tmp_path / "catalogue.fits"
    table.write(path)

    with pytest.raises(SkyModelError, match=r"row 2: stokes_I_Jy is empty"):
        read_catalogue(path)


def test_a_fits_column_of_several_values_per_source_is_refused_by_name(
    tmp_path: Path,
) -> None:
    table = Table.from_pandas(SOURCES)
    table["stokes_I_Jy"] = np.ones((len(SOURCES), 2))
    path = tmp_path / "catalogue.fits"
    table.write(path)

    with pytest.raises(SkyModelError, match=r"stokes_I_Jy holds 2 values per source"):
        read_catalogue(path)


@pytest.mark.parametrize(
    ("file_name", "delimiter"),
    [
        ("catalogue.tsv", "\t"),
        ("catalogue.csv", ";"),
        ("catalogue.psv", "|"),
        ("catalogue.csv", ", "),
        ("catalogue.txt", "   "),
    ],
)
def test_text_catalogues_with_other_delimiters_read_the_same_sources(
    tmp_path: Path, file_name: str, delimiter: str
) -> None:
    names = SOURCES["name"].str.replace(" ", "_") if delimiter.isspace() else None
    expected = SOURCES.assign(name=names) if names is not None else SOURCES
    rows = [delimiter.join(map(str, row)) for row in expected.itertuples(index=False)]
    path = tmp_path / file_name
    path.write_text(
        "# sources around COSMOS\n"
        + delimiter.join(expected.columns)
        + "\n\n# the brightest first\n"
        + "\n".join(rows)
        + "\n"
    )

    assert_same_sources(read_catalogue(path), expected)


def test_a_header_split_by_an_unknown_delimiter_is_refused_with_a_delimiter_hint(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text("name:ra_deg:dec_deg:stokes_I_Jy\nx:150.0:1.7:0.1\n")

    with pytest.raises(SkyModelError) as refused:
        read_catalogue(path)

    message = str(refused.value)
    assert str(path) in message
    assert "lacks the column(s) name, ra_deg, dec_deg, stokes_I_Jy" in message
    assert "colons" in message and "the delimiter is the likely problem" in message
    assert "rename them" not in message


def test_a_tab_separated_catalogue_without_a_flux_column_is_told_to_rename_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalogue.tsv"
    path.write_text("name\tra_deg\tdec_deg\tflux\nx\t150.0\t1.7\t0.1\n")

    with pytest.raises(SkyModelError) as refused:
        read_catalogue(path)

    message = str(refused.value)
    assert "lacks the column(s) stokes_I_Jy" in message
    assert "(found name, ra_deg, dec_deg, flux); rename them in the file" in message


@pytest.mark.parametrize("file_name", ["cat.csv", "cat.tsv", "cat.fits", "cat.vot"])
def test_a_binary_file_is_refused_naming_the_file_and_the_formats(
    tmp_path: Path, file_name: str
) -> None:
    path = tmp_path / file_name
    path.write_bytes(b"\x95\x00\xff" + bytes(range(256)) * 8)

    with pytest.raises(SkyModelError) as refused:
        read_catalogue(path)

    message = str(refused.value)
    assert f"catalogue {path} cannot be read" in message
    for expected in ("FITS binary table", "VOTable", "ECSV", "CSV, TSV"):
        assert expected in message
    assert "name, ra_deg, dec_deg, stokes_I_Jy" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"holds no header line"),
        ("# nothing yet\n\n", r"holds no header line"),
        (
            "# two sources\nname,ra_deg,dec_deg,stokes_I_Jy\n\n# the first\n"
            "a,150.0,1.7,0.1\nb,150.1,1.7,0.1,0.2\n",
            r"Expected 4 fields in line 6, saw 5",
        ),
    ],
)
def test_an_unreadable_text_catalogue_is_refused_with_the_formats(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text(text)

    with pytest.raises(SkyModelError, match=message) as refused:
        read_catalogue(path)

    assert "delimited UTF-8 text" in str(refused.value)


def test_bad_rows_are_named_by_their_line_in_the_file_past_comments(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text(
        "# NVSS around COSMOS\nname,ra_deg,dec_deg,stokes_I_Jy\n\n  # indented\n"
        "a,150.0,1.7,0.1 # trailing comment\nb,150.1,1.7,lots\n"
    )

    with pytest.raises(SkyModelError, match=r"line 6: stokes_I_Jy is 'lots'"):
        read_catalogue(path)


def test_a_source_without_a_name_is_refused_by_line(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text("name,ra_deg,dec_deg,stokes_I_Jy\na,150.0,1.7,0.1\n,150.1,1.7,1\n")

    with pytest.raises(SkyModelError, match=r"line 3: the source has no name"):
        read_catalogue(path)
