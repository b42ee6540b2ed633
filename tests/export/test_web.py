"""The exported digits model outside Python: in a web page (onnxruntime-web in Debian's
Chromium, driven by playwright-core) and in Node (onnxruntime-node), each predicting exactly what
`nnrun predict` does with the same weights.

The chain is the one a user follows: `nnrun train` (a few epochs: the predictions must agree
whatever the accuracy), `nnrun export --format onnx`, `examples/web/build_site.py` lays out the
page, Python's http.server serves it on 127.0.0.1, and `examples/web/drive_page.mjs` clicks and
draws in it. The page and the Node script read the ONNX file alone, so a lowering or layout
mistake in the exporter, or a page that feeds the model the wrong pixels, shows up here.

Needs node, examples/web/node_modules (`npm ci`) and /usr/bin/chromium; without them the tests
are skipped with a hint (`make test-web` installs them and runs this file), except where
NNDSL_REQUIRE_WEB_TESTS=1 (CI and `make test-web` set it), where a missing piece fails.
NNDSL_UPDATE_SCREENSHOT=1 also copies the page's screenshot to docs/images/web_digits.png.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.cli import ROOT, nnrun

pytestmark = pytest.mark.slow

WEB = ROOT / "examples" / "web"
NN_FILE = ROOT / "examples" / "digits_mlp.nn"
CHROMIUM = Path(os.environ.get("NNDSL_CHROMIUM", "/usr/bin/chromium"))
DOCS_SCREENSHOT = ROOT / "docs" / "images" / "web_digits.png"
EPOCHS = 20  # enough for a page worth a screenshot; compiling dominates the training time
DIGITS = 36  # the page's grid of test digits (three rows of twelve)
CLICKS = 20  # of which the test clicks these, reading each prediction off the page
ATOL = 1e-4  # ONNX Runtime and XLA sum in different orders: logits agree to ~1e-6
BROWSER_NEEDS = ("node", "chromium", "onnxruntime-web", "playwright-core")
HOW = (
    "run `make test-web`: it installs Chromium (apt) and examples/web/node_modules (npm ci), "
    "then runs tests/export/test_web.py"
)


def _missing(*needs: str) -> list[str]:
    """Which of these are absent: 'node', 'chromium', or packages of examples/web/node_modules."""
    missing = []
    for need in needs:
        if need == "node":
            ok = shutil.which("node") is not None
        elif need == "chromium":
            ok = CHROMIUM.is_file()
        else:
            ok = (WEB / "node_modules" / need / "package.json").is_file()
        if not ok:
            missing.append(need if need in ("node", "chromium") else f"node_modules/{need}")
    return missing


def _require(*needs: str) -> None:
    """Skip unless every need is met or, where the web tests are required (CI, `make
    test-web`: NNDSL_REQUIRE_WEB_TESTS=1), fail: there a skip would hide a broken install."""
    missing = _missing(*needs)
    if missing:
        message = f"needs {', '.join(missing)}; {HOW}"
        if os.environ.get("NNDSL_REQUIRE_WEB_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _build_site_module() -> ModuleType:
    """examples/web/build_site.py, which is a script, not a package."""
    spec = importlib.util.spec_from_file_location("build_site", WEB / "build_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def node_ready() -> None:
    """First among a test's fixtures, so a missing piece skips before anything is trained."""
    _require("node", "onnxruntime-node")


@pytest.fixture(scope="module")
def browser_ready() -> None:
    _require(*BROWSER_NEEDS)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the chain's files go. Under xdist both tests of this file may land on different
    workers: a folder shared by the workers, and a lock held while one worker runs them, let
    the second reuse the first's files (each step below skips itself when its file is there)
    instead of training and starting Chromium twice."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield tmp_path_factory.mktemp("web")
        return
    shared = tmp_path_factory.getbasetemp().parent
    (shared / "web").mkdir(exist_ok=True)
    with open(shared / "web.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield shared / "web"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def site_tools() -> ModuleType:
    return _build_site_module()


@pytest.fixture(scope="module")
def weights(work: Path) -> Path:
    out = work / "run" / "model.safetensors"
    if not out.is_file():
        _ok(
            nnrun(
                "train", str(NN_FILE), "--epochs", str(EPOCHS), "--out", str(out.parent), "--quiet"
            )
        )
    return out


@pytest.fixture(scope="module")
def onnx_model(weights: Path, work: Path) -> Path:
    out = work / "digits.onnx"
    if not out.is_file():
        args = ["--weights", str(weights), "--format", "onnx", "-o", str(out)]
        _ok(nnrun("export", str(NN_FILE), *args))
    return out


@pytest.fixture(scope="module")
def grid_digits(site_tools: ModuleType, work: Path) -> np.ndarray:
    """The page's grid: the first held-out test rows of the .nn file's data."""
    path = work / "grid.npy"
    if not path.is_file():
        images, _ = site_tools.held_out_digits(NN_FILE, DIGITS)
        np.save(path, np.asarray(images, dtype=np.float32))
    return np.asarray(np.load(path))


@pytest.fixture(scope="module")
def served_site(site_tools: ModuleType, onnx_model: Path, work: Path) -> Iterator[str]:
    """The site built from the exported model, on a free port of 127.0.0.1."""
    site = site_tools.build_site(work / "site", onnx_model, nn_file=NN_FILE, count=DIGITS)
    server = site_tools.make_server(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def page(request: pytest.FixtureRequest, work: Path) -> dict[str, Any] | None:
    """What the page showed (see drive_page.mjs), None without a browser. It runs before
    `nnrun predict` so that one call also predicts the digit drawn on the page."""
    if _missing(*BROWSER_NEEDS):
        return None
    out, screenshot = work / "page.json", work / "web_digits.png"
    log = work / "page.log"
    if not out.is_file():
        url = request.getfixturevalue("served_site")
        cmd = ["node", str(WEB / "drive_page.mjs"), "--url", url, "--out", str(out)]
        cmd += ["--screenshot", str(screenshot), "--clicks", str(CLICKS)]
        cmd += ["--chromium", str(CHROMIUM)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        log.write_text(f"{' '.join(cmd)}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    result["screenshot"] = str(screenshot)
    result["log"] = log.read_text() if log.is_file() else ""
    return result


@pytest.fixture(scope="module")
def inputs(grid_digits: np.ndarray, page: dict[str, Any] | None, work: Path) -> Path:
    """The grid digits, then the page's drawn digit when there is one, as a .npy."""
    rows = [grid_digits]
    if page is not None and "drawing" in page:
        rows.append(np.asarray([page["drawing"]["input"]], dtype=np.float32))
    path = work / ("inputs.npy" if len(rows) > 1 else "grid-inputs.npy")
    if not path.is_file():
        np.save(path, np.concatenate(rows))
    return path


@pytest.fixture(scope="module")
def reference(weights: Path, inputs: Path) -> np.ndarray:
    """`nnrun predict`'s logits for `inputs`: what every runtime must reproduce."""
    out = inputs.with_name(f"{inputs.stem}-nnrun-logits.npy")
    if not out.is_file():
        args = ["--weights", str(weights), "--input", str(inputs), "--output", str(out)]
        _ok(nnrun("predict", str(NN_FILE), *args))
    return np.asarray(np.load(out))


def test_node_predicts_what_nnrun_predicts(
    node_ready: None, onnx_model: Path, inputs: Path, reference: np.ndarray
) -> None:
    proc = _ok(
        subprocess.run(
            ["node", str(WEB / "node_predict.mjs"), str(onnx_model), str(inputs)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    )
    got = json.loads(proc.stdout)
    assert (got["input"], got["output"]) == ("image", "logits")
    assert got["predictions"] == np.argmax(reference, axis=1).tolist()
    np.testing.assert_allclose(np.asarray(got["logits"]), reference, rtol=0, atol=ATOL)


def test_page_predicts_what_nnrun_predicts(
    browser_ready: None, page: dict[str, Any] | None, reference: np.ndarray, tmp_path: Path
) -> None:
    assert page is not None
    context = f"{page['log']}\n{json.dumps(page, indent=1)[:4000]}"
    assert page.get("status") == "ready" and "failure" not in page, context
    assert page["errors"] == [], context
    assert not [m for m in page["console"] if m.startswith("error")], context

    # metadata_props, read from the ONNX bytes by the page (onnx_metadata.js)
    assert page["metadata"]["model"] == "DigitsMLP"
    assert json.loads(page["metadata"]["inputs"]) == {"image": "f32[B, 64]"}

    expected = np.argmax(reference, axis=1)
    # the grid: every test digit, classified in one batch when the page loads
    grid = page["grid"]
    assert [d["predicted"] for d in grid] == expected[:DIGITS].tolist()
    np.testing.assert_allclose([d["logits"] for d in grid], reference[:DIGITS], rtol=0, atol=ATOL)
    # the clicks: one digit at a time, the prediction as the page shows it
    assert len(page["clicks"]) == CLICKS
    for i, click in enumerate(page["clicks"]):
        assert click["source"] == click["shownFor"] == f"test-{i}"
        assert click["predicted"] == expected[i]
        assert click["text"] == page["classNames"][expected[i]]
        np.testing.assert_allclose(click["logits"], reference[i], rtol=0, atol=ATOL)
    # the drawing: the page's own 8x8 input, as the data has it (sixteenths in 0..1), the last
    # row given to `nnrun predict`
    drawn = np.asarray(page["drawing"]["input"])
    assert drawn.shape == (64,) and drawn.max() == 1.0 and drawn.min() == 0.0
    assert np.array_equal(drawn * 16, np.round(drawn * 16))
    assert len(reference) == DIGITS + 1
    assert page["drawing"]["predicted"] == expected[DIGITS]
    np.testing.assert_allclose(page["drawing"]["logits"], reference[DIGITS], rtol=0, atol=ATOL)

    screenshot = Path(page["screenshot"])
    assert screenshot.stat().st_size > 10_000
    shutil.copyfile(screenshot, tmp_path / screenshot.name)
    if os.environ.get("NNDSL_UPDATE_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)
    print(f"page timings (s): {page.get('timings')}", file=sys.stderr)
