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
