"""`nnrun predict` on image files and folders: read as the training source reads them, one
row per file with class names and `--top-k`, or a CSV / .npy (issue 18)."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from nndsl.backend.jax.training import steps_for
from nndsl.cli.main import main
from nndsl.frontend import check_file
from nndsl.runtime import save_checkpoint

SOURCE = """
model Pets() {
    input x: f32[B, 8, 8, 1]
    return x |> Rescaling(1 / 255) |> Flatten() |> Dense(3)
}
data pets = image_folder("pets", image_size = [8, 8], color_mode = "grayscale")
train Pets on pets {
    loss = cross_entropy(from_logits = true)
    optimizer = adam
}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "pets.nn"
    path.write_text(SOURCE)
    result = check_file(str(path))
    assert result.program is not None and result.program.train is not None
    params, state = steps_for(result.program.train).model.init(jax.random.key(0))
    graph = result.program.train.graph
    save_checkpoint(
        tmp_path / "w.safetensors", graph, params, state, extra={"class_names": ["a", "b", "c"]}
    )
    photos = tmp_path / "photos"
    (photos / "more").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, size in (("one.png", (20, 12)), ("more/two.jpg", (8, 8)), ("three.bmp", (5, 9))):
        pixels = rng.integers(0, 255, (*size, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(photos / name)  # colour, any size: converted, resized
    return tmp_path


def test_a_folder_of_images_gives_one_row_per_file_with_top_k(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["predict", str(project / "pets.nn"), "--weights", str(project / "w.safetensors")]
    assert main([*args, "--input", str(project / "photos"), "--top-k", "2", "--no-cache"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["more/two.jpg", "one.png", "three.bmp"]
    for line in lines:
        classes = line.split()[1::2]
        assert len(classes) == 2 and set(classes) <= {"a", "b", "c"}
    out = project / "p.csv"
    assert (
        main([*args, "--input", str(project / "photos"), "--output", str(out), "--no-cache"]) == 0
    )
    rows = out.read_text().splitlines()
    assert rows[0] == "file,class_1,score_1" and len(rows) == 4
    npy = project / "p.npy"
    assert (
        main(
            [*args, "--input", str(project / "photos/one.png"), "--output", str(npy), "--no-cache"]
        )
        == 0
    )
    assert np.load(npy).shape == (1, 3)


def test_a_csv_is_read_with_the_training_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "iris.nn"
    path.write_text(
        "model Iris() {\n    input x: f32[B, 2]\n    return x |> Dense(3)\n}\n"
        'data iris = csv("iris.csv", label = "species", columns = ["petal", "sepal"])\n'
        "train Iris on iris {\n    loss = cross_entropy(from_logits = true)\n"
        "    optimizer = adam\n}\n"
    )
    result = check_file(str(path))
    assert result.program is not None and result.program.train is not None
    params, state = steps_for(result.program.train).model.init(jax.random.key(0))
    graph = result.program.train.graph
    save_checkpoint(tmp_path / "w.safetensors", graph, params, state)
    (tmp_path / "new.csv").write_text("sepal,extra,petal\n1.5,x,2\n0,y,1\n")  # no label
    args = ["predict", str(path), "--weights", str(tmp_path / "w.safetensors"), "--no-cache"]
    assert main([*args, "--input", str(tmp_path / "new.csv"), "--top-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["row 1", "row 2"]
    assert all(len(line.split("(")) == 4 for line in lines)  # three classes with scores
    (tmp_path / "bad.csv").write_text("sepal,petal\n1,a\n")
    assert main([*args, "--input", str(tmp_path / "bad.csv")]) == 1
    assert "row 2, column 'petal': 'a' is not a number" in capsys.readouterr().err
