"""The training report: history.json written by training, report.html from it, `nnrun report`,
and both pages (report, model graph) opened in headless Chromium."""

from __future__ import annotations

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
TRANSFORMER = ROOT / "stdlib" / "transformer.nn"


TINY = """\
model Tiny() {
    input x: f32[B, 4]
    return x |> Dense(3)
}

data points = npz("points.npz", x = "x", y = "y", test_split = 0.25)

train Tiny on points {
    loss = cross_entropy(from_logits = true)
    optimizer = sgd(learning_rate = exponential_decay(0.5, 2, 0.5))
    metrics = [accuracy]
    epochs = 2
    batch = 16
    validation_split = 0.25
}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of a tiny classifier with `report=True`, as `nnrun train` runs it."""
    import numpy as np

    from nndsl.runtime import fit

    folder = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    np.savez(folder / "points.npz", x=x, y=np.argmax(x[:, :3], axis=1).astype(np.int32))
    (folder / "tiny.nn").write_text(TINY)
    config = check_file(folder / "tiny.nn").program.train  # type: ignore[union-attr]
    assert config is not None
    out = folder / "runs" / "Tiny"
    fit(config, run_dir=out, report=True)
    return out


def test_training_writes_history_and_report(run_dir: Path) -> None:
    doc = json.loads((run_dir / "history.json").read_text())
    assert doc["model"] == "Tiny" and [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert set(doc["epochs"][0]["train"]) == {"loss", "accuracy"}
    assert set(doc["epochs"][0]["validation"]) == {"loss", "accuracy"}
    # 36 training rows in batches of 16: 3 steps an epoch; the rate halves every 2 steps
    rates = dict((int(s), r) for s, r in doc["learning_rate"])
    assert sorted(rates) == list(range(6))
    assert rates[0] == pytest.approx(0.5) and rates[4] == pytest.approx(0.5 * 0.5**2)
    assert doc["epochs"][-1]["learning_rate"] == pytest.approx(rates[5])
    assert (
        doc["learning_rate"][0][0] == 0
        and doc["learning_rate"][-1][0] == doc["epochs"][-1]["step"] - 1
    )
    confusion = doc["confusion"]
    assert confusion["labels"] == ["0", "1", "2"]
    total = sum(map(sum, confusion["matrix"]))
    assert total == doc["sizes"]["test"]
    correct = sum(confusion["matrix"][i][i] for i in range(3))
    assert correct / total == pytest.approx(doc["test"]["accuracy"], abs=1e-6)
    assert doc["summary"]["trainable"] == 15
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


def _dom_data(url: str, key: str, screenshot: Path | None = None) -> dict[str, object]:
    """What the page wrote into `<body data-KEY>` once loaded (and a screenshot of it, taken
    by the same Chromium)."""
    shot = [f"--screenshot={screenshot}", "--window-size=1000,1400"] if screenshot else []
    proc = run_chromium([*shot, "--dump-dom", url])
    found = re.search(rf'data-{key}="([^"]*)"', proc.stdout)
    assert found, f"the page wrote no data-{key}: {proc.stderr[-500:]}"
    if screenshot is not None:
        assert screenshot.is_file() and screenshot.stat().st_size > 5000, "no screenshot"
    data: dict[str, object] = json.loads(unescape(found.group(1)))
    return data


@needs_chromium
def test_pages_render_in_headless_chromium(run_dir: Path, served: tuple[str, Path]) -> None:
    base, folder = served
    (folder / "report.html").write_text((run_dir / "report.html").read_text())
    assert main(["plot", str(TRANSFORMER), "-o", str(folder / "graph.html")]) == 0
    drawn = _dom_data(f"{base}/report.html", "rendered", folder / "report.png")  # kept
    # loss, accuracy, learning rate, confusion matrix: all drawn with marks
    assert drawn == {"charts": 4, "drawn": 4}
    check = _dom_data(f"{base}/graph.html#selftest", "selftest")
    assert check["rendered"] is True and check["boxes"] == 18
    assert check["same"] is True  # folding all and unfolding gives back Python's drawing
    assert float(check["foldedHeight"]) < float(check["height"])  # type: ignore[arg-type]
    png = folder / "graph.png"  # `nnrun plot -o x.png` goes through the same Chromium
    assert main(["plot", str(TRANSFORMER), "-o", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000
