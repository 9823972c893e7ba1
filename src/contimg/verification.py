"""Check MODEL_DATA against an independent direct Fourier transform of the sky model.

WSClean predicts MODEL_DATA through pixels: the sky model is rendered to
model images, which are Fourier transformed and degridded. A wrong centre, a
frequency mix-up, a sign flip or the wrong image would still give plausible
numbers. This module recomputes the visibilities of every unflagged
cross-correlation with `contimg.dft` (no pixels, no gridder) and states how
far MODEL_DATA lies from them.

The error of one visibility is |MODEL - DFT| divided by the mean |DFT| over
all compared visibilities (the reference amplitude), so that visibilities
near a null of the fringe pattern do not dominate. Statistics are taken over
all visibilities (median, 99th percentile) and per baseline.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contimg import dft, measurement_set, provenance
from contimg.errors import ContimgError, MeasurementSetError
from contimg.skymodel import Component, read_sky_model

logger = logging.getLogger(__name__)

ROWS_PER_CHUNK = 20_000

# Correlation type codes of the Measurement Set's POLARIZATION table.
PARALLEL_HANDS = {(9, 12): "XX, YY", (5, 8): "RR, LL"}
"""Pairs whose mean is Stokes I (the CASA convention, I = (XX + YY) / 2)."""

LENGTH_BINS = 8


class ModelCheckError(ContimgError):
    """MODEL_DATA does not match the sky model within the check's limits."""


@dataclass(frozen=True)
class Limits:
    """The largest relative errors the check accepts."""

    median: float = 1e-3
    p99: float = 1e-2


@dataclass(frozen=True)
class ModelGeometry:
    """The model image the components were drawn into (to tell who fell outside)."""

    size: int
    scale_arcsec: float


@dataclass
class CheckReport:
    """What the check found; written as JSON beside a plot."""

    measurement_set: str
    sky_model: str
    column: str
    components: int
    visibilities: int
    baselines: int
    reference_amplitude_jy: float
    median: float
    p90: float
    p99: float
    maximum: float
    limits: Limits
    sampling: dict[str, float | bool]
    components_outside_image: list[str]
    by_length: list[dict[str, float]]
    worst_baselines: list[dict[str, float]]
    problems: list[str] = field(default_factory=list)
    conventions: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line with the figures a person wants first."""
        return (
            f"{self.column} of {self.measurement_set} against the direct transform "
            f"of {self.components} component(s): median relative error "
            f"{self.median:.2e} (limit {self.limits.median:g}), 99th percentile "
            f"{self.p99:.2e} (limit {self.limits.p99:g}), over {self.visibilities} "
            f"unflagged visibilities on {self.baselines} baselines"
        )

    def as_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["passed"] = self.passed
        record["summary"] = self.summary()
        return record


CONVENTIONS = {
    "sign": "V = sum S(f) exp(+2 pi i (u l + v m + w (n - 1)) f / c), the sign "
    "WSClean's -predict uses; UVW as stored (antenna 2 minus antenna 1)",
    "w_term": "exact: the phase includes w (n - 1) for every component; no "
    "w-projection or faceting approximation",
    "stokes_i": "the mean of the parallel hands (XX, YY or RR, LL) of the column",
    "spectrum": "each component's own spectral model at each channel's centre "
    "frequency: logarithmic, S = I (f/f0)^(c0 + c1 log10(f/f0) + ...), or "
    "ordinary, S = I + c0 (f/f0 - 1) + c1 (f/f0 - 1)^2 + ..., with f0 the "
    "component's ReferenceFrequency",
    "error": "|MODEL - DFT| / mean |DFT| over the compared visibilities",
    "excluded": "flagged visibilities (either parallel hand) and autocorrelations",
}


def stokes_pair(path: Path) -> tuple[int, int]:
    """Indexes of the two parallel-hand correlations of the set's first setup."""
    types = [
        int(code)
        for code in measurement_set.open_table(path, "POLARIZATION").getcol(
            "CORR_TYPE"
        )[0]
    ]
    for pair in PARALLEL_HANDS:
        if all(code in types for code in pair):
            return types.index(pair[0]), types.index(pair[1])
    raise MeasurementSetError(
        f"Measurement Set {path} has the correlation types {types}; expected both "
        "parallel hands (XX and YY, or RR and LL) to form Stokes I; the check "
        "cannot compare a set without them"
    )


def outside_image(
    components: Sequence[Component],
    ra_deg: float,
    dec_deg: float,
    geometry: ModelGeometry,
) -> list[str]:
    """Names of components that lie outside the drawn model image (SIN projection)."""
    if not components:
        return []
    lmn = dft.direction_cosines(components, ra_deg, dec_deg)
    half_width = math.radians(geometry.size * geometry.scale_arcsec / 3600.0) / 2
    beyond = (np.abs(lmn[:, 0]) >= half_width) | (np.abs(lmn[:, 1]) >= half_width)
    return [components[int(index)].name for index in np.flatnonzero(beyond)]


def sampling_facts(
    summary: measurement_set.MeasurementSetSummary, scale_arcsec: float
) -> dict[str, float | bool]:
    """Whether the model's pixels sample the longest baseline at the top of the band."""
    nyquist = measurement_set.nyquist_scale_arcsec(summary)
    return {
        "scale_arcsec": scale_arcsec,
        "nyquist_scale_arcsec": nyquist,
        "longest_baseline_m": summary.longest_baseline_m,
        "sampled": scale_arcsec <= nyquist,
    }


def compare_column(
    path: Path,
    components: Sequence[Component],
    column: str,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> tuple[pd.DataFrame, float]:
    """Absolute errors |column - DFT| of every compared visibility, and the mean |DFT|.

    The frame has one row per visibility: antenna1, antenna2, length_m, error.
    """
    summary = measurement_set.read_summary(path)
    measurement_set.require_column(summary, column)
    first, second = stokes_pair(path)
    frequencies = np.asarray(summary.channel_frequencies_hz)
    ra_deg = float(summary.phase_centre.ra.deg)
    dec_deg = float(summary.phase_centre.dec.deg)
    main = measurement_set.open_table(path)

    frames: list[pd.DataFrame] = []
    amplitude_sum, amplitude_count = 0.0, 0
    for start in range(0, summary.row_count, rows_per_chunk):
        count = min(rows_per_chunk, summary.row_count - start)
        antenna1 = np.asarray(main.getcol("ANTENNA1", start, count))
        antenna2 = np.asarray(main.getcol("ANTENNA2", start, count))
        uvw = np.asarray(main.getcol("UVW", start, count), dtype=np.float64)
        data = np.asarray(main.getcol(column, start, count))
        flags = np.asarray(main.getcol("FLAG", start, count))
        flagged_rows = np.asarray(main.getcol("FLAG_ROW", start, count))

        model = 0.5 * (data[:, :, first] + data[:, :, second])
        keep = ~(flags[:, :, first] | flags[:, :, second])
        keep &= (antenna1 != antenna2)[:, np.newaxis] & ~flagged_rows[:, np.newaxis]
        if not keep.any():
            continue
        expected = dft.predict_visibilities(
            components, ra_deg, dec_deg, uvw, frequencies
        )
        amplitude_sum += float(np.abs(expected[keep]).sum())
        amplitude_count += int(keep.sum())
        rows, _ = np.nonzero(keep)
        frames.append(
            pd.DataFrame(
                {
                    "antenna1": antenna1[rows].astype(np.int32),
                    "antenna2": antenna2[rows].astype(np.int32),
                    "length_m": np.hypot(uvw[rows, 0], uvw[rows, 1]).astype(np.float32),
                    "error": np.abs(model[keep] - expected[keep]).astype(np.float32),
                }
            )
        )
    if not frames or amplitude_count == 0:
        raise MeasurementSetError(
            f"Measurement Set {path} has no unflagged cross-correlation to compare; "
            "expected some unflagged data; check its FLAG column"
        )
    return pd.concat(frames, ignore_index=True), amplitude_sum / amplitude_count


def by_length(per_baseline: pd.DataFrame) -> list[dict[str, float]]:
    """Per-baseline statistics summarised in bins of baseline length."""
    edges = np.linspace(
        0.0, float(per_baseline["length_m"].max()) * 1.0001, LENGTH_BINS + 1
    )
    bins = pd.cut(per_baseline["length_m"], edges, include_lowest=True)
    rows = []
    for interval, group in per_baseline.groupby(bins, observed=True):
        rows.append(
            {
                "from_m": round(float(interval.left), 1),
                "to_m": round(float(interval.right), 1),
                "baselines": len(group),
                "median_of_medians": float(group["median"].median()),
                "largest_p99": float(group["p99"].max()),
            }
        )
    return rows


def check_model_column(
    path: Path,
    sky_model: Path,
    geometry: ModelGeometry,
    limits: Limits,
    column: str = "MODEL_DATA",
) -> tuple[CheckReport, pd.DataFrame]:
    """Compare a column with the sky model's direct transform; say what is wrong.

    Returns the report and the per-baseline statistics (for the plot). The
    report's problems list is empty when the column passes.
    """
    components = read_sky_model(sky_model)
    if not components:
        raise ModelCheckError(
            f"sky model {sky_model} has no components, so there is nothing to "
            "check MODEL_DATA against; the check needs a non-empty sky model"
        )
    summary = measurement_set.read_summary(path)
    errors, reference = compare_column(path, components, column)
    relative = errors["error"].to_numpy(dtype=np.float64) / reference
    errors["relative"] = relative
    grouped = errors.groupby(["antenna1", "antenna2"])
    per_baseline = pd.DataFrame(
        {
            "length_m": grouped["length_m"].mean(),
            "median": grouped["relative"].median(),
            "p99": grouped["relative"].quantile(0.99),
        }
    ).reset_index()
    worst = per_baseline.nlargest(10, "median")

    sampling = sampling_facts(summary, geometry.scale_arcsec)
    outside = outside_image(
        components,
        float(summary.phase_centre.ra.deg),
        float(summary.phase_centre.dec.deg),
        geometry,
    )
    report = CheckReport(
        measurement_set=str(path),
        sky_model=str(sky_model),
        column=column,
        components=len(components),
        visibilities=int(relative.size),
        baselines=len(per_baseline),
        reference_amplitude_jy=reference,
        median=float(np.median(relative)),
        p90=float(np.percentile(relative, 90)),
        p99=float(np.percentile(relative, 99)),
        maximum=float(relative.max()),
        limits=limits,
        sampling=sampling,
        components_outside_image=outside,
        by_length=by_length(per_baseline),
        worst_baselines=[
            {
                key: (int(value) if key.startswith("antenna") else float(value))
                for key, value in row.items()
            }
            for row in worst.to_dict(orient="records")
        ],
        conventions=CONVENTIONS,
    )
    report.problems = problems(report)
    return report, per_baseline


def problems(report: CheckReport) -> list[str]:
    """Each way the report falls short, as a sentence that says what to do."""
    found = []
    if not report.sampling["sampled"]:
        found.append(
            f"the model's pixels ({report.sampling['scale_arcsec']:g} arcsec) are "
            "too coarse for the longest baseline "
            f"({report.sampling['longest_baseline_m']:.0f} m), which needs "
            f"{report.sampling['nyquist_scale_arcsec']:.2f} arcsec or less: the "
            "image cannot represent the long baselines, so their model is wrong; "
            "lower model_image.scale_arcsec"
        )
    if report.components_outside_image:
        names = ", ".join(report.components_outside_image[:5])
        found.append(
            f"{len(report.components_outside_image)} component(s) lie outside the "
            f"drawn model image ({names}), so MODEL_DATA lacks them; enlarge "
            "model_image.size or lower sky_model.radius_deg"
        )
    if report.median > report.limits.median or report.p99 > report.limits.p99:
        found.append(
            f"median relative error {report.median:.2e} or 99th percentile "
            f"{report.p99:.2e} exceeds the limits ({report.limits.median:g}, "
            f"{report.limits.p99:g}): MODEL_DATA does not hold the sky model's "
            "visibilities; look for a wrong centre, frequency or model image "
            "(docs/model-visibilities.md lists what each looks like)"
        )
    return found


def plot(report: CheckReport, per_baseline: pd.DataFrame, output: Path) -> None:
    """Per-baseline median and 99th percentile of the error against baseline length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.0, 4.2), dpi=110)
    lengths = per_baseline["length_m"]
    for statistic, colour, limit, name in (
        ("p99", "tab:orange", report.limits.p99, "99th percentile"),
        ("median", "tab:blue", report.limits.median, "median"),
    ):
        axes.scatter(lengths, per_baseline[statistic], s=3, alpha=0.5, color=colour,
                     label=f"{name} per baseline")  # fmt: skip
        axes.axhline(limit, color=colour, linestyle="--", linewidth=1,
                     label=f"limit on the {name} ({limit:g})")  # fmt: skip
    axes.set_yscale("log")
    axes.set_xlabel("projected baseline length (m)")
    axes.set_ylabel("|MODEL - DFT| / mean |DFT|")
    verdict = "passed" if report.passed else "FAILED"
    axes.set_title(
        f"{Path(report.measurement_set).name}: median {report.median:.1e}, "
        f"p99 {report.p99:.1e} ({verdict})",
        fontsize=10,
    )
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial.png")
    figure.savefig(partial)
    plt.close(figure)
    partial.replace(output)


def write_report(report: CheckReport, output: Path) -> None:
    """The report as JSON, whole or not at all."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(json.dumps(provenance.plain(report.as_json()), indent=2) + "\n")
    partial.replace(output)


def verify_model(
    measurement_set_path: Path,
    sky_model: Path,
    report_path: Path,
    plot_path: Path,
    model_image: Mapping[str, Any],
    limits: Limits,
    failed_report: Path,
    column: str = "MODEL_DATA",
) -> CheckReport:
    """The verification step: write report and plot when MODEL_DATA passes.

    When it does not, the report goes to failed_report (not an output, so
    Snakemake will not take the step as done) and the error gives the figures.
    """
    geometry = ModelGeometry(
        int(model_image["size"]), float(model_image["scale_arcsec"])
    )
    report, per_baseline = check_model_column(
        measurement_set_path, sky_model, geometry, limits, column
    )
    logger.info("%s", report.summary())
    if not report.passed:
        write_report(report, failed_report)
        plot(report, per_baseline, failed_report.with_suffix(".png"))
        raise ModelCheckError(
            f"{report.summary()}. "
            + " ".join(report.problems)
            + f" The full report is in {failed_report}."
        )
    plot(report, per_baseline, plot_path)
    write_report(report, report_path)
    return report
