"""`nnrun plot`, the model picture, the REPL's `:plot` and the editor's "show graph" lens."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nndsl.cli.main import main
from nndsl.frontend import check_file
from nndsl.ide import Workspace
from nndsl.ide.model import SHOW_GRAPH
from nndsl.ir import Graph
from nndsl.plot.model import Cluster, picture
from nndsl.repl.session import Session

ROOT = Path(__file__).resolve().parents[2]
RESNET = ROOT / "stdlib" / "resnet.nn"
TRANSFORMER = ROOT / "stdlib" / "transformer.nn"
SVG = "{http://www.w3.org/2000/svg}"


def _graph(path: Path, name: str) -> Graph:
    result = check_file(path)
    assert not result.has_errors
    return result.program.graphs[name]  # type: ignore[union-attr]


def _boxes(graph: Graph) -> int:
    """Inputs and layers (constants are not drawn), as `nnrun summary` lists them."""
    return len(graph.inputs) + sum(1 for n in graph.nodes if n.op.name != "constant")


def _svg_boxes(path: Path) -> tuple[int, int, int]:
    root = ET.parse(path).getroot()  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    groups = list(root.iter(f"{SVG}g"))
    nodes = [g for g in groups if g.get("class") == "node"]
    clusters = [g for g in groups if g.get("class") == "cluster"]
    for g in nodes:  # each box says its shape, dtype and parameters
        lines = [t.text or "" for t in g.iter(f"{SVG}text")]
        assert lines[1].startswith("["), lines
        assert lines[0].endswith(": Input") or lines[-1].endswith(("params", "(frozen)")), lines
    edges = [p for p in root.iter(f"{SVG}path") if "edge" in (p.get("class") or "")]
    return len(nodes), len(clusters), len(edges)


@pytest.mark.parametrize(
    ("path", "model", "expand"),
    [(RESNET, "ResNet50", False), (RESNET, "ResNet50", True), (TRANSFORMER, None, False)],
)
def test_nnrun_plot_writes_svg_with_a_box_per_layer(
    path: Path, model: str | None, expand: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.svg"
    args = ["plot", str(path), "-o", str(out)]
    args += ["--model", model] if model else []
    args += ["--expand"] if expand else []
    assert main(args) == 0
    graph = _graph(path, model or "TransformerClassifier")
    if expand and hasattr(graph, "unrolled"):
        graph = graph.unrolled()
    nodes, clusters, edges = _svg_boxes(out)
    assert nodes == _boxes(graph)
    assert f"{nodes} boxes" in capsys.readouterr().out
    if model == "ResNet50" and expand:
        assert nodes == 177  # 176 layers, as Keras's ResNet50 (its Input plus 176)
        assert clusters == 22  # the stem, 4 stages, 16 bottlenecks, the head... as blocks
    if model is None:
        assert clusters == 2 and nodes == 18  # embedding and encoder blocks
    skips = ET.parse(out).getroot().iter(f"{SVG}path")
    assert any("skip" in (p.get("class") or "") for p in skips)  # residual edges drawn
    assert edges >= nodes - 1


def test_boxes_never_overlap_and_stay_inside_their_block() -> None:
    pic = picture(_graph(RESNET, "ResNet50"), expand=True)
    rects: list[tuple[str, float, float, float, float]] = []

    def walk(c: Cluster, ox: float, oy: float) -> None:
        assert c.layout is not None
        for item in c.items:
            p = c.layout.boxes[item.id]
            left, top = ox + p.x - item.width / 2, oy + p.y
            if c is not pic.root:  # inside the frame of `c`
                assert left >= ox - c.content_x - 1e-6 and top >= oy - 22 - 1e-6
                assert left + item.width <= ox - c.content_x + c.width + 1e-6
            if isinstance(item, Cluster):
                walk(item, left + item.content_x, top + 22)
            else:
                rects.append((item.id, left, top, item.width, item.height))

    walk(pic.root, 0.0, 0.0)
    assert len(rects) == pic.boxes == 177
    rects.sort(key=lambda r: r[2])
    for i, (a, ax, ay, aw, ah) in enumerate(rects):
        for b, bx, by, bw, _bh in rects[i + 1 :]:
            if by >= ay + ah:
                break
            assert ax + aw <= bx or bx + bw <= ax, f"{a} overlaps {b}"


def test_plot_html_png_and_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "t.html"
    assert main(["plot", str(TRANSFORMER), "-o", str(html)]) == 0
    text = html.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "nnplot-data" in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert main(["plot", str(TRANSFORMER), "-o", str(tmp_path / "t.pdf")]) == 2
    assert "write .svg, .html or .png" in capsys.readouterr().err
    assert main(["plot", str(RESNET), "--model", "Nope", "-o", str(html)]) == 2
    assert "no model `Nope`" in capsys.readouterr().err
    assert main(["plot", str(RESNET), "-o", str(html)]) == 2  # several models
    assert "--model" in capsys.readouterr().err


def test_png_without_chromium_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NNDSL_CHROMIUM", str(tmp_path / "no-such-browser"))
    assert main(["plot", str(TRANSFORMER), "-o", str(tmp_path / "t.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("nnrun: error: writing PNG needs Chromium") and "\n" not in err


def test_repl_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Session(autorun=False)
    s.handle("model M(n: int = 4) {\n input x: f32[B, 8]\n return x |> Dense(n)\n}")
    [reply] = s.handle(":plot")
    assert reply.kind == "ok" and "M.html" in reply.text
    assert (tmp_path / "M.html").is_file()
    [reply] = s.handle(":plot M -o m.svg")
    assert reply.kind == "ok" and "2 boxes" in reply.text
    assert s.handle(":plot Nope")[0].kind == "error"
    assert "usage" in s.handle(":plot M -o")[0].text
    assert "write .svg" in s.handle(":plot M -o m.gif")[0].text


def test_show_graph_lens_on_each_model() -> None:
    ws = Workspace()
    path = str(RESNET)
    ws.open(path, RESNET.read_text())
    lenses = ws.code_lenses(path)
    text = RESNET.read_text()
    assert [lens.arguments[1] for lens in lenses] == ["ResNet18", "ResNet34", "ResNet50"]
    for lens in lenses:
        assert lens.command == SHOW_GRAPH and lens.title == "show graph"
        assert text[lens.span.start : lens.span.end] == lens.arguments[1]
    graph = ws.model_graph(path, "ResNet50")
    assert isinstance(graph, Graph) and graph.name == "ResNet50"
    assert "no model `Bottleneck`" in str(ws.model_graph(path, "Bottleneck"))
    ws.open(path, text + "\nmodel Broken() { return y }\n")
    assert "has errors" in str(ws.model_graph(path, "ResNet50"))


NO_JAX = """
import contextlib, io, sys
from nndsl.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["plot", sys.argv[1], "-o", sys.argv[2] + "/t.html"]) == 0
    (open(sys.argv[2] + "/history.json", "w")).write('{"model": "M", "epochs": []}')
    assert main(["report", sys.argv[2]]) == 0
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "optax", "numpy"))
assert not bad, bad
print("NO-JAX-OK")
"""


def test_plot_and_report_do_not_import_jax(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", NO_JAX, str(TRANSFORMER), str(tmp_path)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "NO-JAX-OK" in proc.stdout, proc.stdout + proc.stderr
