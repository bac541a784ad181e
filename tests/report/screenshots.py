"""Make docs/images/report-*.png: one screenshot per report kind, from real evaluations of ../shared/data.

    nice -n 10 .venv/bin/python tests/report/screenshots.py [--out docs/images] [--keep-html DIR]

Needs Playwright and /usr/bin/chromium (like the browser test). Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import conftest  # noqa: E402  (the evaluation builders of the tests)

_spec = importlib.util.spec_from_file_location("suite_conftest", HERE.parent / "conftest.py")
suite_conftest = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(suite_conftest)  # type: ignore[union-attr]
CHROMIUM, CHROMIUM_ARGS = suite_conftest.CHROMIUM, suite_conftest.CHROMIUM_ARGS  # the suite's browser

from bugsift.report import write_report  # noqa: E402

WIDTH, HEIGHT = 1100, 1900
MAX_BYTES = 400_000


def shoot(html: Path, png: Path) -> int:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(html.as_uri(), wait_until="load")
        raw = page.screenshot(full_page=False)
        browser.close()
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    for colors in (256, 128, 64):
        buffer = io.BytesIO()
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
        if buffer.tell() <= MAX_BYTES:
            break
    png.write_bytes(buffer.getvalue())
    return buffer.tell()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "docs" / "images")
    parser.add_argument("--keep-html", type=Path, default=None)
    args = parser.parse_args()
    data = Path(conftest.DEFAULT_DATA)
    kinds = {
        "classification": ("type", lambda: conftest.type_evaluation(data)),
        "component": ("component", lambda: conftest.component_evaluation(data, per_project=600)),
        "files": ("files", lambda: conftest.files_evaluation(data, ("AspectJ", "SWT"), n=400)),
    }
    folder = args.keep_html or Path(tempfile.mkdtemp())
    args.out.mkdir(parents=True, exist_ok=True)
    for kind, (task, build) in kinds.items():
        html = write_report(build(), folder / f"report-{kind}.html", task)
        size = shoot(html, args.out / f"report-{kind}.png")
        print(f"{kind}: {html} -> {args.out / f'report-{kind}.png'} ({size / 1000:.0f} kB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
