"""The report of the example run, built by snakemake --report and opened in
headless Chromium: every quick-look shows, and so does the source-flux table.

Screenshots go to test-artifacts/ in the repository (or $CONTIMG_TEST_ARTIFACTS);
their paths are printed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contimg.skymodel import read_sky_model
from contimg.steps import CLEAN_PRODUCTS
from tests.conftest import unavailable
from tests.integration.pipeline import (
    EXAMPLE_SETS,
    REPOSITORY,
    ExampleRun,
    base_config,
    snakemake,
    tail,
)

pytestmark = pytest.mark.integration

ARTIFACTS = Path(
    os.environ.get("CONTIMG_TEST_ARTIFACTS", REPOSITORY / "test-artifacts")
)
WAIT_S = 30


@dataclass
class BuiltReport:
    path: Path
    seconds: float


@pytest.fixture(scope="module")
def built_report(example_run: ExampleRun) -> BuiltReport:
    """snakemake --report on the example run's working directory."""
    assert example_run.result.returncode == 0, tail(example_run.result)
    path = example_run.workdir / "report.html"
    started = time.monotonic()
    result = snakemake(example_run.workdir, "--report", str(path))
    seconds = time.monotonic() - started
    assert result.returncode == 0, tail(result)
    return BuiltReport(path, seconds)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven through its chromedriver by Selenium."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        unavailable(
            "chromium or chromedriver is missing; run scripts/setup (Debian "
            "packages chromium and chromium-driver)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is missing from .venv; run scripts/setup")

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,900")
    if os.geteuid() == 0:
        # Chromium refuses to start its sandbox as root.
        options.add_argument("--no-sandbox")
    # An explicit driver path: Selenium then fetches nothing.
    driver = webdriver.Chrome(options=options, service=Service(str(chromedriver)))
    yield driver
    driver.quit()


def wait_for(browser: Any, condition: Any, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, WAIT_S).until(condition)
    except TimeoutException:
        path = screenshot(browser, "report-failure.png")
        pytest.fail(f"the report never showed {what} within {WAIT_S} s; see {path}")


def open_subcategory(browser: Any, report: Path, category: str, name: str) -> None:
    """Load the report, then open a category and one Measurement Set's folder."""
    from selenium.webdriver.common.by import By

    browser.get(report.as_uri())
    for entry in (category, name):
        xpath = f"//nav//a[span[normalize-space()='{entry}']]"
        wait_for(
            browser, lambda b, x=xpath: b.find_element(By.XPATH, x), repr(entry)
        ).click()


def result_rows(browser: Any) -> dict[str, Any]:
    """The listed results by their label, each with its 'view' button."""
    from selenium.webdriver.common.by import By

    rows = wait_for(
        browser, lambda b: b.find_elements(By.XPATH, "//nav//tbody/tr"), "results"
    )
    return {
        row.find_element(By.XPATH, "./td[1]").text: row.find_element(
            By.XPATH, ".//a[1]"
        )
        for row in rows
    }


SHOWN_IMAGE = """
const path = app.state.resultPath;
const picture = document.querySelector('#app img:not(nav img)');
if (!path || !path.endsWith(arguments[0]) || !picture) return null;
if (picture.src !== results[path].data_uri) return null;
if (!picture.complete || picture.naturalWidth === 0) return null;
return [picture.naturalWidth, picture.naturalHeight];
"""
"""The shown picture's size once it is the chosen result's and has loaded."""


def screenshot(browser: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    return path


def quicklook_names(name: str) -> dict[str, str]:
    """Each quick-look's label in the report and its path under quicklook/."""
    groups = base_config()["model_image"]["channels_out"]
    model = {"model image": f"model/{name}-model.png"}
    if groups > 1:
        model = {
            f"model image {g:04d}": f"model/{name}-{g:04d}-model.png"
            for g in range(groups)
        }
    return {**model, **{f"clean {p}": f"clean/{name}-{p}.png" for p in CLEAN_PRODUCTS}}


def test_every_quick_look_shows_in_headless_chromium(
    built_report: BuiltReport, browser: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shown: dict[str, list[int]] = {}
    for name in EXAMPLE_SETS:
        open_subcategory(browser, built_report.path, "Quick-looks", name)
        buttons = result_rows(browser)
        expected = quicklook_names(name)
        assert sorted(buttons) == sorted(expected)

        for label, file_name in expected.items():
            result_rows(browser)[label].click()
            shown[file_name] = wait_for(
                browser,
                lambda b, f=file_name: b.execute_script(SHOWN_IMAGE, f),
                f"the quick-look {file_name}",
            )
        if name == "cosmos":
            result_rows(browser)["clean image"].click()
            wait_for(
                browser,
                lambda b: b.execute_script(SHOWN_IMAGE, "clean/cosmos-image.png"),
                "the clean image again",
            )
            path = screenshot(browser, "report-clean-image.png")

    size_mb = built_report.path.stat().st_size / 1e6
    with capsys.disabled():
        print(
            f"\nreport {built_report.path}: {size_mb:.1f} MB, built in "
            f"{built_report.seconds:.1f} s; {len(shown)} quick-looks shown; "
            f"screenshot {path}"
        )
    assert len(shown) == 2 * len(quicklook_names("cosmos"))
    assert all(width > 100 and height > 100 for width, height in shown.values())


def test_the_source_flux_table_shows_in_headless_chromium(
    built_report: BuiltReport,
    browser: Any,
    example_run: ExampleRun,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from selenium.webdriver.common.by import By

    count = base_config()["report"]["brightest_sources"]
    components = read_sky_model(
        example_run.workdir / "results" / "cosmos" / "sky_model.txt"
    )
    brightest = max(components, key=lambda component: component.stokes_i_jy)
    open_subcategory(browser, built_report.path, "Source fluxes", "cosmos")
    result_rows(browser)["brightest sources"].click()

    frame = wait_for(
        browser, lambda b: b.find_element(By.TAG_NAME, "iframe"), "the table's page"
    )
    path = screenshot(browser, "report-source-fluxes.png")
    browser.switch_to.frame(frame)
    rows = wait_for(
        browser, lambda b: b.find_elements(By.XPATH, "//table/tbody/tr"), "the table"
    )
    first_cells = [cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td")]
    browser.switch_to.default_content()

    with capsys.disabled():
        print(f"\nsource-flux table: {len(rows)} rows; screenshot {path}")
    assert len(rows) == min(count, len(components))
    assert first_cells[0] == brightest.name
