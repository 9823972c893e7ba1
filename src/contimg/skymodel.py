"""Sky models: catalogue rows in, WSClean (BBS/DP3) text sky models out.

A component's flux follows the spectral model of the WSClean text format:
with a logarithmic spectral index, S(f) = I * (f/f0) ** (c0 + c1*log10(f/f0) + ...);
with an ordinary polynomial, S(f) = I + c0*(f/f0 - 1) + c1*(f/f0 - 1)**2 + ...
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import Angle, SkyCoord
from astropy.table import Column, Table

from contimg.errors import SkyModelError

FORMAT_LINE = (
    "Format = Name, Type, Ra, Dec, I, SpectralIndex, LogarithmicSI, "
    "ReferenceFrequency='{reference_hz}', MajorAxis, MinorAxis, Orientation"
)


@dataclass(frozen=True)
class GaussianShape:
    """The shape of a GAUSSIAN component, as the text format gives it."""

    major_arcsec: float
    """MajorAxis: full width at half maximum along the major axis."""
    minor_arcsec: float
    """MinorAxis: full width at half maximum along the minor axis."""
    orientation_deg: float
    """Orientation: position angle of the major axis, from north through east."""


@dataclass(frozen=True)
class Component:
    """One component of a sky model (point or Gaussian), in the text format's terms."""

    name: str
    ra_deg: float
    dec_deg: float
    stokes_i_jy: float
    """Stokes I flux density at the reference frequency."""
    spectral_terms: tuple[float, ...]
    """The SpectralIndex list: spectral index terms, or polynomial terms."""
    logarithmic: bool
    """LogarithmicSI: whether spectral_terms are a logarithmic spectral index."""
    reference_hz: float
    shape: GaussianShape | None = None
    """None for a POINT component."""

    def flux_at(self, frequency_hz: float | np.ndarray) -> float | np.ndarray:
        """Stokes I flux density (Jy) at the given frequency or frequencies."""
        ratio = np.asarray(frequency_hz, dtype=float) / self.reference_hz
        flux: np.ndarray
        if self.logarithmic:
            log_ratio = np.log10(ratio)
            exponent = sum(
                term * log_ratio**power
                for power, term in enumerate(self.spectral_terms)
            )
            flux = self.stokes_i_jy * ratio**exponent
        else:
            flux = self.stokes_i_jy + np.asarray(
                sum(
                    term * (ratio - 1.0) ** (power + 1)
                    for power, term in enumerate(self.spectral_terms)
                )
            )
        return float(flux) if np.ndim(flux) == 0 else flux


@dataclass(frozen=True)
class Selection:
    """Which catalogue sources become sky-model components, and their spectra."""

    centre: SkyCoord
    radius_deg: float
    min_flux_jy: float
    spectral_index: float
    reference_hz: float
    max_sources: int | None = None


FIELD_NAMES = [
    "Name", "Type", "Ra", "Dec", "I", "SpectralIndex", "LogarithmicSI",
    "ReferenceFrequency", "MajorAxis", "MinorAxis", "Orientation",
]  # fmt: skip
"""The fields of a sky model without a Format line, in the order written here."""

CATALOGUE_COLUMNS = ("name", "ra_deg", "dec_deg", "stokes_I_Jy")

CATALOGUE_FORMATS = (
    "a FITS binary table (.fits, .fit, .fits.gz), a VOTable (.vot, .xml), an ECSV "
    "table (.ecsv), or delimited UTF-8 text (CSV, TSV: commas, tabs, semicolons, "
    "vertical bars or whitespace between the columns, # starting a comment)"
)
"""The catalogue formats read_catalogue reads, as its messages name them."""

TABLE_SUFFIXES = {
    "fits": (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz"),
    "votable": (".vot", ".xml", ".votable"),
    "ascii.ecsv": (".ecsv",),
}
"""Astropy's format for the catalogues whose content does not already tell."""

FORMAT_NAMES = {"fits": "a FITS table", "votable": "a VOTable", "ascii.ecsv": "ECSV"}

DELIMITERS = {
    ",": "commas",
    "\t": "tabs",
    ";": "semicolons",
    "|": "vertical bars",
    " ": "whitespace",
}
"""The delimiters of a text catalogue, in the order they are tried."""

SUSPECT_CHARACTERS = {**DELIMITERS, ":": "colons"}
"""Characters that, splitting a column name into expected columns, show that the
delimiter was not found."""


def read_catalogue(path: Path) -> pd.DataFrame:
    """Read a source catalogue: a FITS, VOTable or ECSV table, or delimited text.

    Expected columns: name, ra_deg, dec_deg, stokes_I_Jy (as in the bundled NVSS
    extract); fluxes in Jy at the catalogue's frequency. The format comes from
    the file's first bytes (FITS, gzipped FITS, XML, ECSV), else from its suffix
    (TABLE_SUFFIXES), else it is text: the delimiter is the one that splits the
    header into the expected columns, or else the one csv.Sniffer finds.
    """
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise SkyModelError(
            f"catalogue {path} {state}; set sky_model.catalogue in the config to an "
            f"existing file: {CATALOGUE_FORMATS}"
        )
    table_format = catalogue_format(path)
    if table_format == "text":
        table, lines = read_text_catalogue(path)

        def where(row: int) -> str:
            return (
                f"line {lines[row]}"
                if len(lines) == len(table)
                else f"data row {row + 1}"
            )
    else:
        table = read_table_catalogue(path, table_format)

        def where(row: int) -> str:
            return f"row {row + 1}"

    check_catalogue_columns(table, path)
    check_catalogue_values(table, path, where)
    return table


def unreadable(path: Path, reason: str) -> SkyModelError:
    """The error for a catalogue that no supported format reads."""
    return SkyModelError(
        f"catalogue {path} cannot be read: {reason}; expected {CATALOGUE_FORMATS}, "
        f"with the columns {', '.join(CATALOGUE_COLUMNS)}; convert the file to "
        "one of these formats, or point sky_model.catalogue at the right file"
    )


def catalogue_format(path: Path) -> str:
    """Astropy's name for the catalogue's table format, or "text"."""
    try:
        with path.open("rb") as file:
            head = file.read(512)
        if head.startswith(b"\x1f\x8b"):
            with gzip.open(path) as file:
                head = file.read(512)
    except (OSError, EOFError) as error:
        raise unreadable(path, f"{type(error).__name__}: {error}") from error
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if start.startswith((b"<?xml", b"<VOTABLE")):
        return "votable"
    if start.startswith(b"# %ECSV"):
        return "ascii.ecsv"
    name = path.name.lower()
    for table_format, suffixes in TABLE_SUFFIXES.items():
        if name.endswith(suffixes):
            return table_format
    return "text"


def read_table_catalogue(path: Path, table_format: str) -> pd.DataFrame:
    """A FITS, VOTable or ECSV catalogue read by astropy, as a data frame.

    Byte strings become str; a column of the catalogue's four with one value
    per row in a multi-dimensional cell is flattened; other multi-dimensional
    columns, which pandas cannot hold, are dropped. Masked values become NaN
    (or pandas' NA), which the value checks then refuse.
    """
    try:
        table = Table.read(path, format=table_format)
        table.convert_bytestring_to_unicode()
    except Exception as error:
        raise unreadable(
            path,
            f"it is not {FORMAT_NAMES[table_format]} that astropy can read "
            f"({type(error).__name__}: {error})",
        ) from error
    for column in list(table.itercols()):
        if not isinstance(column, Column) or column.ndim <= 1:
            continue
        if column.name not in CATALOGUE_COLUMNS:
            table.remove_column(column.name)
        elif math.prod(column.shape[1:]) == 1:
            table.replace_column(column.name, column.reshape(len(table)))
        else:
            raise SkyModelError(
                f"catalogue {path}: the column {column.name} holds "
                f"{math.prod(column.shape[1:])} values per source (cells of shape "
                f"{column.shape[1:]}); expected one value per source; write that "
                "column as one number (or name) per row"
            )
    try:
        return table.to_pandas()
    except Exception as error:
        raise unreadable(
            path,
            f"its table has columns pandas cannot hold ({type(error).__name__}: "
            f"{error})",
        ) from error


def read_text_catalogue(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """A delimited text catalogue, and the file's line number of each row.

    Blank lines and lines that hold only a comment are set aside first, so the
    line numbers are the file's; pandas reads the rest with the delimiter found.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise unreadable(path, f"{type(error).__name__}: {error}") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise unreadable(
            path,
            "it is compressed (gzip); decompress it"
            if raw.startswith(b"\x1f\x8b")
            else f"byte 0x{raw[error.start]:02x} at offset {error.start} is neither "
            "UTF-8 text nor the start of a FITS, VOTable or ECSV table",
        ) from error
    if "\x00" in text:
        raise unreadable(path, "it holds NUL bytes, so it is no text table")
    kept = [
        (number, line)
        for number, line in enumerate(
            text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1
        )
        if line.split("#", 1)[0].strip()
    ]
    if not kept:
        raise unreadable(path, "it holds no header line, only blank or comment lines")
    header = kept[0][1]
    delimiter = text_delimiter(header, "\n".join(line for _, line in kept[:20]))
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(line for _, line in kept) + "\n"),
            comment="#",
            **(
                {"sep": r"\s+"}
                if delimiter == " "
                else {"sep": delimiter, "skipinitialspace": True}
            ),
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:

        def file_line(match: re.Match[str]) -> str:
            number = int(match.group(1))
            return f"line {kept[number - 1][0] if 0 < number <= len(kept) else number}"

        said = re.sub(r"line (\d+)", file_line, str(error).strip())
        raise unreadable(
            path,
            f"pandas, reading it as text with {DELIMITERS[delimiter]} between the "
            f"columns, says: {said}",
        ) from error
    table.columns = [str(column).strip() for column in table.columns]
    return table, [number for number, _ in kept[1:]]


def text_delimiter(header: str, sample: str) -> str:
    """The delimiter of a text catalogue (" " for any run of whitespace).

    The one that splits the header into fields holding the expected columns;
    failing that, csv.Sniffer's guess from the first lines; failing that, a comma.
    """
    for delimiter in DELIMITERS:
        fields = header.split() if delimiter == " " else header.split(delimiter)
        if set(CATALOGUE_COLUMNS) <= {field.strip().strip("\"'") for field in fields}:
            return delimiter
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


def check_catalogue_columns(table: pd.DataFrame, path: Path) -> None:
    """Refuse a catalogue without the expected columns; hint at a wrong delimiter."""
    missing = [column for column in CATALOGUE_COLUMNS if column not in table.columns]
    if not missing:
        return
    names = [str(column) for column in table.columns]
    suspects = [
        description
        for character, description in SUSPECT_CHARACTERS.items()
        if any(
            len(fields) > 1 and set(fields) & set(CATALOGUE_COLUMNS)
            for fields in (
                name.split() if character == " " else name.split(character)
                for name in names
            )
        )
    ]
    advice = (
        f"the header holds {' and '.join(suspects)} inside what was read as one "
        "column name, so the delimiter is the "
        "likely problem: separate the columns with commas, tabs, semicolons, "
        "vertical bars or whitespace, the same on every line"
        if suspects
        else "rename them in the file"
    )
    found = ", ".join(name if name.isprintable() else repr(name) for name in names)
    raise SkyModelError(
        f"catalogue {path} lacks the column(s) {', '.join(missing)}; expected "
        f"the columns {', '.join(CATALOGUE_COLUMNS)} (found {found}); {advice}"
    )


def check_catalogue_values(
    table: pd.DataFrame, path: Path, where: Callable[[int], str] | None = None
) -> None:
    """Refuse fluxes that are not numbers, positions out of range, missing or
    repeated names.

    where names a row (0 for the first row of data) in the messages; by default
    by its line in a CSV file without comments (header on line 1).
    """
    if where is None:

        def where(row: int) -> str:
            return f"line {row + 2}"

    for column, low, high in (
        ("stokes_I_Jy", -np.inf, np.inf),
        ("ra_deg", 0.0, 360.0),
        ("dec_deg", -90.0, 90.0),
    ):
        values = pd.to_numeric(table[column], errors="coerce").astype(float)
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise SkyModelError(
                f"catalogue {path}, {where(row)}: {column} is "
                f"{shown(table[column].iloc[row])}; expected a number"
                + (f" from {low:g} to {high:g}" if np.isfinite(low) else "")
                + "; correct or remove that row"
            )
    blank = table["name"].isna() | (table["name"].astype(str).str.strip() == "")
    unnamed = np.flatnonzero(blank.to_numpy(dtype=bool))
    if len(unnamed):
        raise SkyModelError(
            f"catalogue {path}, {where(int(unnamed[0]))}: the source has no name; "
            "WSClean needs a unique name for every source: name it or remove that row"
        )
    names = table["name"].astype(str)
    with_comma = np.flatnonzero(names.str.contains(",").to_numpy())
    if len(with_comma):
        row = int(with_comma[0])
        raise SkyModelError(
            f"catalogue {path}, {where(row)}: the source name {names.iloc[row]!r} "
            "holds a comma, which ends a field of a WSClean sky model; rename it"
        )
    repeated = table["name"][table["name"].duplicated()]
    if len(repeated):
        name = repeated.iloc[0]
        row = int(np.flatnonzero(table["name"].to_numpy() == name)[1])
        raise SkyModelError(
            f"catalogue {path}: the source name {name!r} appears more than once "
            f"({where(row)}); WSClean needs unique names: rename or drop the repeat"
        )


def shown(value: object) -> str:
    """A catalogue value as a message shows it: 'lots', 400.0, or empty."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "empty"
    return repr(value)


def select_components(catalogue: pd.DataFrame, selection: Selection) -> list[Component]:
    """Sources within the radius and above the flux cut, brightest first."""
    positions = SkyCoord(
        ra=catalogue["ra_deg"].to_numpy(dtype=float) * u.deg,
        dec=catalogue["dec_deg"].to_numpy(dtype=float) * u.deg,
    )
    separation = positions.separation(selection.centre).deg
    fluxes = catalogue["stokes_I_Jy"].to_numpy(dtype=float)
    keep = (separation <= selection.radius_deg) & (fluxes >= selection.min_flux_jy)

    chosen = catalogue[keep].sort_values("stokes_I_Jy", ascending=False)
    if selection.max_sources is not None:
        chosen = chosen.head(selection.max_sources)
    return [
        Component(
            name=str(row.name),
            ra_deg=float(row.ra_deg),
            dec_deg=float(row.dec_deg),
            stokes_i_jy=float(row.stokes_I_Jy),
            spectral_terms=(selection.spectral_index,),
            logarithmic=True,
            reference_hz=selection.reference_hz,
        )
        for row in chosen.itertuples(index=False)
    ]


def format_ra(ra_deg: float) -> str:
    """Right ascension as the text format wants it: hh:mm:ss.ssss."""
    # Round first (in seconds of time), so 23:59:59.99999 wraps to 00:00:00.0000.
    seconds = round(ra_deg * 240.0, 4) % 86400.0
    return str(
        Angle(seconds / 240.0, u.deg).to_string(
            unit=u.hourangle, sep=":", precision=4, pad=True
        )
    )


def format_dec(dec_deg: float) -> str:
    """Declination as the text format wants it: +dd.mm.ss.sss."""
    arcseconds = round(dec_deg * 3600.0, 3)
    return str(
        Angle(arcseconds / 3600.0, u.deg).to_string(
            unit=u.deg, sep=".", precision=3, pad=True, alwayssign=True
        )
    )


def component_line(component: Component) -> str:
    """One line of a WSClean text sky model for a component."""
    terms = ",".join(repr(float(term)) for term in component.spectral_terms)
    shape = component.shape
    return ",".join(
        [
            component.name,
            "POINT" if shape is None else "GAUSSIAN",
            format_ra(component.ra_deg),
            format_dec(component.dec_deg),
            repr(float(component.stokes_i_jy)),
            f"[{terms}]",
            "true" if component.logarithmic else "false",
            repr(float(component.reference_hz)),
            *(
                ("", "", "")
                if shape is None
                else (
                    repr(float(shape.major_arcsec)),
                    repr(float(shape.minor_arcsec)),
                    repr(float(shape.orientation_deg)),
                )
            ),
        ]
    )


def sky_model_text(components: Iterable[Component], reference_hz: float) -> str:
    """The whole text sky model: the format line, then one line per component."""
    lines = [FORMAT_LINE.format(reference_hz=repr(float(reference_hz)))]
    lines.extend(component_line(component) for component in components)
    return "\n".join(lines) + "\n"


def write_sky_model(
    path: Path, components: Sequence[Component], reference_hz: float
) -> None:
    """Write a text sky model, whole or not at all."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(sky_model_text(components, reference_hz), encoding="utf-8")
    partial.replace(path)


def brightest(components: Sequence[Component]) -> Component:
    """The component with the largest flux at its reference frequency."""
    if not components:
        raise SkyModelError("the sky model has no components")
    return max(components, key=lambda component: component.stokes_i_jy)


def hms_to_deg(text: str) -> float:
    """hh:mm:ss.s right ascension in degrees (for reading sky models back)."""
    return float(Angle(text, unit=u.hourangle).deg)


def dms_dots_to_deg(text: str) -> float:
    """+dd.mm.ss.s declination in degrees (for reading sky models back)."""
    sign = -1.0 if text.strip().startswith("-") else 1.0
    fields = text.strip().lstrip("+-").split(".")
    degrees, minutes, seconds = fields[0], fields[1], ".".join(fields[2:])
    return sign * (float(degrees) + float(minutes) / 60 + float(seconds) / 3600)


def angle_deg(text: str, hours: bool) -> float:
    """A sky-model angle in degrees: hh:mm:ss / +dd.mm.ss, or a number with 'deg'."""
    text = text.strip()
    if text.endswith("deg"):
        return float(text.removesuffix("deg"))
    if hours:
        return hms_to_deg(text)
    if text.count(".") >= 2:
        return dms_dots_to_deg(text)
    return float(Angle(text, unit=u.deg).deg)


def split_fields(line: str) -> list[str]:
    """Comma-separated fields, keeping commas inside [brackets] in one field."""
    fields: list[str] = []
    current: list[str] = []
    depth = 0
    for character in line:
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        if character == "," and depth == 0:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(character)
    fields.append("".join(current).strip())
    return fields


def read_format(line: str) -> tuple[list[str], dict[str, str]]:
    """The field names of a Format line, and the defaults some of them carry."""
    _, _, spec = line.partition("=")
    names, defaults = [], {}
    for field_text in split_fields(spec.strip().strip("()")):
        name, _, default = field_text.partition("=")
        name = name.strip()
        names.append(name)
        if default.strip():
            defaults[name] = default.strip().strip("'\"")
    return names, defaults


def parse_component(values: dict[str, str], path: Path, number: int) -> Component:
    """One component from the named fields of a sky-model line."""
    kind = values.get("Type", "POINT").upper()
    if kind not in {"POINT", "GAUSSIAN"}:
        raise SkyModelError(
            f"{path}, line {number}: component type {kind!r} is not supported; "
            "expected POINT or GAUSSIAN; convert or remove that component"
        )
    terms_text = values.get("SpectralIndex", "").strip().strip("[]")
    shape = None
    if kind == "GAUSSIAN":
        shape = GaussianShape(
            major_arcsec=float(values["MajorAxis"]),
            minor_arcsec=float(values["MinorAxis"]),
            orientation_deg=float(values.get("Orientation") or 0.0),
        )
    return Component(
        name=values["Name"],
        ra_deg=angle_deg(values["Ra"], hours=True),
        dec_deg=angle_deg(values["Dec"], hours=False),
        stokes_i_jy=float(values["I"]),
        spectral_terms=tuple(
            float(term) for term in terms_text.split(",") if term.strip()
        ),
        logarithmic=values.get("LogarithmicSI", "true").strip().lower() == "true",
        reference_hz=float(values["ReferenceFrequency"]),
        shape=shape,
    )


def read_sky_model(path: Path) -> list[Component]:
    """Read the POINT and GAUSSIAN components of a WSClean (BBS/DP3) text sky model.

    The Format line names the fields and their order, and may give defaults
    (ReferenceFrequency='...'); empty fields take the default. Patches (lines
    without a name) and comments are skipped.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    names: list[str] = FIELD_NAMES
    defaults: dict[str, str] = {}
    components = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.lower().startswith("format"):
            names, defaults = read_format(stripped)
            continue
        fields = split_fields(stripped)
        values = dict(defaults)
        values.update(
            {name: value for name, value in zip(names, fields, strict=False) if value}
        )
        if not values.get("Name"):
            continue
        try:
            component = parse_component(values, path, number)
        except (KeyError, IndexError, ValueError) as error:
            raise SkyModelError(
                f"{path}, line {number}: cannot read a component from {line!r} "
                f"({type(error).__name__}: {error}); expected the fields of the "
                f"Format line ({', '.join(names)}), e.g. Name,POINT,hh:mm:ss,"
                "+dd.mm.ss,I,[terms],true|false,reference_hz,,,"
            ) from error
        if not math.isfinite(component.stokes_i_jy):
            raise SkyModelError(
                f"{path}, line {number}: the flux {component.stokes_i_jy} of "
                f"{component.name} is not a number; correct that line"
            )
        components.append(component)
    return components
