"""The training report: history.json written by training, report.html from it, `nnrun report`,
and both pages (report, model graph) opened in headless Chromium."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from nndsl.cli.main import main
from nndsl.frontend import check_file
from nndsl.plot.browser import find_chromium, run_chromium
from nndsl.plot.report import ReportError, load_history, render_run, report_html

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "digits_mlp.nn"
TRANSFORMER = ROOT / "stdlib" / "transformer.nn"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-epoch run of the digits MLP with `report=True`, as `nnrun train` runs it."""
    from nndsl.runtime import fit

    config = check_file(DIGITS).program.train  # type: ignore[union-attr]
    assert config is not None
    out = tmp_path_factory.mktemp("run") / "DigitsMLP"
    fit(dataclasses.replace(config, epochs=2), run_dir=out, report=True)
    return out


def test_training_writes_history_and_report(run_dir: Path) -> None:
    doc = json.loads((run_dir / "history.json").read_text())
    assert doc["model"] == "DigitsMLP" and [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert set(doc["epochs"][0]["train"]) == {"loss", "accuracy"}
    assert set(doc["epochs"][0]["validation"]) == {"loss", "accuracy"}
    assert doc["epochs"][-1]["learning_rate"] == pytest.approx(1e-3)
    assert (
        doc["learning_rate"][0][0] == 0
        and doc["learning_rate"][-1][0] == doc["epochs"][-1]["step"] - 1
    )
    confusion = doc["confusion"]
    assert confusion["labels"] == [str(i) for i in range(10)]
    total = sum(map(sum, confusion["matrix"]))
    assert total == doc["sizes"]["test"]
    correct = sum(confusion["matrix"][i][i] for i in range(10))
    assert correct / total == pytest.approx(doc["test"]["accuracy"], abs=1e-6)
    assert doc["summary"]["trainable"] == 26_122
    page = (run_dir / "report.html").read_text()
    for part in ("Training curves", "Learning rate", "Test metrics", "Confusion matrix", "summary"):
        assert part in page
    assert "<script src" not in page and "https://" not in page  # self-contained


def test_nnrun_report_rerenders_from_the_logs(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "again.html"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    assert out.read_text() == (run_dir / "report.html").read_text()
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 1
    assert "has no history.json" in capsys.readouterr().err


def test_report_from_a_csv_log_and_bad_history(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "epoch,loss,accuracy,val_loss\n1,0.9,0.5,1.0\n2,0.5,0.7,0.8\n"
    )
    doc = load_history(tmp_path)
    assert [e["validation"] for e in doc["epochs"]] == [{"loss": 1.0}, {"loss": 0.8}]
    assert "accuracy" in render_run(tmp_path).read_text()
    (tmp_path / "history.json").write_text("[1, 2]")
    with pytest.raises(ReportError, match="not a history file"):
        load_history(tmp_path)


def test_report_of_an_interrupted_run_and_nonfinite_values() -> None:
    page = report_html(
        {
            "model": "M",
            "epochs": [{"epoch": 1, "train": {"loss": None}, "validation": None}],
            "stopped": True,
        }
    )
    assert "interrupted" in page and "No test split" in page and "no values" in page


# -- in a browser ----------------------------------------------------------------------------
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium (Debian: apt install chromium, or set NNDSL_CHROMIUM) "
    "to open the pages headless",
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The folder `tmp_path` over http on 127.0.0.1, as the browser tests serve pages."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def _dom_data(url: str, key: str) -> dict[str, object]:
    proc = run_chromium(["--dump-dom", url])
    found = re.search(rf'data-{key}="([^"]*)"', proc.stdout)
    assert found, f"the page wrote no data-{key}: {proc.stderr[-500:]}"
    data: dict[str, object] = json.loads(unescape(found.group(1)))
    return data


def _screenshot(url: str, png: Path, width: int, height: int) -> None:
    run_chromium([f"--screenshot={png}", f"--window-size={width},{height}", url])
    assert png.is_file() and png.stat().st_size > 5000, "no screenshot"


@needs_chromium
def test_pages_render_in_headless_chromium(run_dir: Path, served: tuple[str, Path]) -> None:
    base, folder = served
    (folder / "report.html").write_text((run_dir / "report.html").read_text())
    assert main(["plot", str(TRANSFORMER), "-o", str(folder / "graph.html")]) == 0
    drawn = _dom_data(f"{base}/report.html", "rendered")
    # loss, accuracy, learning rate, confusion matrix: all drawn with marks
    assert drawn == {"charts": 4, "drawn": 4}
    check = _dom_data(f"{base}/graph.html#selftest", "selftest")
    assert check["rendered"] is True and check["boxes"] == 18
    assert check["same"] is True  # folding all and unfolding gives back Python's drawing
    assert float(check["foldedHeight"]) < float(check["height"])  # type: ignore[arg-type]
    _screenshot(f"{base}/report.html", folder / "report.png", 1000, 1400)  # kept in tmp_path
