"""A text source's vectorizer saved with the weights and the training checkpoints, and
`nnrun predict` on raw text with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import CheckpointError, fit, load_data
from nndsl.runtime.checkpoint import (
    latest_training_state,
    load_training_state,
    load_vectorizer,
    read_metadata,
    save_checkpoint,
)
from nndsl.runtime.sources import TextVectorizer
from tests.backend.graphs import mlp
from tests.cli import nnrun
from tests.runtime.test_sources import text_tree

TEXTS = [
    "The cat sat on the mat.",
    "A dog, a cat; and a bird!",
    "the the the mat",
    "Birds fly over the dog",
]
UNSEEN = ["a cat and an owl", "", "MAT mat Mat?", "zebra"]


@pytest.mark.parametrize(
    "settings",
    [
        {"output_mode": "int"},
        {"output_mode": "int", "output_sequence_length": 3, "max_tokens": 6},
        {"output_mode": "multi_hot", "ngrams": 2},
        {"output_mode": "multi_hot", "max_tokens": 12, "pad_to_max_tokens": True},
        {"output_mode": "count", "split": "character", "standardize": "lower"},
        {"output_mode": "count", "split": None, "standardize": None},
        {"output_mode": "tf_idf"},
        {"output_mode": "tf_idf", "ngrams": 3, "max_tokens": 10, "pad_to_max_tokens": True},
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()),
)
def test_every_mode_round_trips_through_json(settings: dict[str, object]) -> None:
    adapted = TextVectorizer(**settings)  # type: ignore[arg-type]
    adapted.adapt(TEXTS)
    text = json.dumps(adapted.to_json())
    loaded = TextVectorizer.from_json(json.loads(text))
    assert loaded.vocabulary == adapted.vocabulary
    assert loaded.width == adapted.width
    if adapted.idf is not None:
        assert loaded.idf is not None and loaded.idf.tobytes() == adapted.idf.tobytes()
    for texts in (TEXTS, UNSEEN):
        a, b = adapted(texts), loaded(texts)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert loaded.to_json() == adapted.to_json()


def test_malformed_saved_vectorizers_are_one_line_errors() -> None:
    good = TextVectorizer(output_mode="tf_idf")
    good.adapt(TEXTS)
    saved = good.to_json()
    for broken, message in [
        ({**saved, "format": "pickle"}, "not a saved text vectorizer"),
        ({**saved, "vocabulary": "cat"}, "not a list of strings"),
        ({**saved, "vocabulary": ["cat", *saved["vocabulary"]]}, "special entries"),
        ({**saved, "idf": saved["idf"][:-1]}, "idf weights are not"),
        ({k: v for k, v in saved.items() if k != "split"}, "has no 'split'"),
    ]:
        with pytest.raises(ValueError, match=message):
            TextVectorizer.from_json(broken)


def test_checkpoint_metadata_holds_the_vectorizer(tmp_path: Path) -> None:
    import jax

    vec = TextVectorizer(output_mode="count")
    vec.adapt(TEXTS)
    from nndsl.backend.jax.compile import compile_graph

    graph = mlp()
    params, state = compile_graph(graph).init(jax.random.key(0))
    with_text = save_checkpoint(tmp_path / "t.safetensors", graph, params, state, vectorizer=vec)
    plain = save_checkpoint(tmp_path / "p.safetensors", graph, params, state)
    loaded = load_vectorizer(with_text)
    assert loaded is not None and loaded(UNSEEN).tolist() == vec(UNSEEN).tolist()
    assert load_vectorizer(plain) is None
    meta = read_metadata(with_text)
    meta["text_vectorizer"]["vocabulary"] = 3
    (tmp_path / "t.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"t\.json: the saved vocabulary is not a list"):
        load_vectorizer(with_text)


BAG = """
model Bag(classes: int = 2) {
    input tokens: i32[B, 6]
    h = tokens |> Embedding(20, 8) |> GlobalAveragePooling1D()
    return h |> Dense(classes)
}
data reviews = text_folder("reviews", max_tokens = 20, output_sequence_length = 6)
train Bag on reviews {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.05)
    epochs = 3
    batch = 4
    validation_split = 0.25
    callbacks = [checkpoint(every = 1, keep = 5, best = "val_loss")]
}
"""


def _config(tmp_path: Path, source: str = BAG) -> TrainConfig:
    checked = check_source(source, str(tmp_path / "bag.nn"))
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train


def test_training_checkpoints_and_best_weights_hold_the_vocabulary(tmp_path: Path) -> None:
    text_tree(tmp_path / "reviews")
    cfg = _config(tmp_path)
    vocabulary = load_data(cfg).vectorizer
    assert vocabulary is not None
    fit(cfg, run_dir=tmp_path / "run")
    latest = latest_training_state(tmp_path / "run")
    assert latest is not None
    assert load_training_state(latest)[1]["text_vectorizer"] == vocabulary.to_json()
    best = load_vectorizer(tmp_path / "run/best.safetensors")
    assert best is not None and best.to_json() == vocabulary.to_json()
    assert fit(_config(tmp_path), run_dir=tmp_path / "run", resume=True).resumed_from == latest
    # The texts change: the vocabulary a resumed run would learn differs from the saved one.
    for path in (tmp_path / "reviews/pos").iterdir():
        path.write_text("an entirely new review of the film")
    with pytest.raises(CheckpointError, match="another text vocabulary"):
        fit(_config(tmp_path), run_dir=tmp_path / "run", resume=True)


@pytest.mark.slow
def test_nnrun_predict_reads_raw_text_with_the_saved_vocabulary(tmp_path: Path) -> None:
    text_tree(tmp_path / "reviews")
    (tmp_path / "bag.nn").write_text(BAG)
    run = nnrun("bag.nn", "--quiet", "--out", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "text vocabulary" in run.stdout
    texts = ["a great film", "boring and slow", "an unseen review, loved it!"]
    (tmp_path / "new.txt").write_text("\n".join([texts[0], "", *texts[1:]]) + "\n")
    folder = tmp_path / "new"
    for i, text in enumerate(texts):
        (folder / f"part{i // 2}").mkdir(parents=True, exist_ok=True)
        (folder / f"part{i // 2}" / f"{i}.txt").write_text(text)
    # The ids the training run's own vectorizer gives, predicted as an array.
    vectorizer = load_data(_config(tmp_path)).vectorizer
    assert vectorizer is not None
    np.save(tmp_path / "ids.npy", vectorizer(texts))
    np.save(tmp_path / "strings.npy", np.asarray(texts))
    outputs = {}
    for name in ("ids.npy", "new.txt", "new", "strings.npy"):
        pred = nnrun(
            "predict",
            "bag.nn",
            "--weights",
            "out/model.safetensors",
            "--input",
            name,
            "--output",
            f"{name}.out.npy",
            cwd=tmp_path,
        )
        assert pred.returncode == 0, pred.stdout + pred.stderr
        outputs[name] = np.load(tmp_path / f"{name}.out.npy")
    assert outputs["ids.npy"].shape == (3, 2)
    shown = nnrun(
        "predict",
        "bag.nn",
        "--weights",
        "out/model.safetensors",
        "--input",
        "new.txt",
        cwd=tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    names = ["neg" if p[0] > p[1] else "pos" for p in outputs["ids.npy"]]
    rows = shown.stdout.splitlines()  # one row per non-blank line, its best class by name
    assert [r.split("  ")[0] for r in rows] == ["line 1", "line 3", "line 4"]
    assert [r.split()[2] for r in rows] == names
    for name in ("new.txt", "new", "strings.npy"):
        assert outputs[name].tobytes() == outputs["ids.npy"].tobytes(), name


@pytest.mark.slow
def test_nnrun_predict_says_when_text_cannot_be_read(tmp_path: Path) -> None:
    text_tree(tmp_path / "reviews")
    (tmp_path / "bag.nn").write_text(BAG)
    assert nnrun("bag.nn", "--quiet", "--out", "out", cwd=tmp_path).returncode == 0
    (tmp_path / "new.txt").write_text("a great film\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.csv").write_text("1,2,3\n")
    # Weights without a vocabulary (as written before it was saved, or by another model).
    meta = json.loads((tmp_path / "out/model.json").read_text())
    del meta["text_vectorizer"]
    shutil.copy(tmp_path / "out/model.safetensors", tmp_path / "old.safetensors")
    (tmp_path / "old.json").write_text(json.dumps(meta))

    def predict(weights: str, name: str) -> str:
        run = nnrun("predict", "bag.nn", "--weights", weights, "--input", name, cwd=tmp_path)
        assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
        return run.stderr

    assert "old.safetensors has no saved text vocabulary" in predict("old.safetensors", "new.txt")
    assert "empty: no .txt files in this folder" in predict("out/model.safetensors", "empty")
    assert "a .txt file with one text per line" in predict("out/model.safetensors", "x.csv")
    assert "no such file or folder: nope.txt" in predict("out/model.safetensors", "nope.txt")
    np.save(tmp_path / "big.npy", np.full((2, 6), 25, np.int32))
    np.save(tmp_path / "frac.npy", np.full((2, 6), 1.5, np.float32))
    big = predict("out/model.safetensors", "big.npy")
    size = len(
        json.loads((tmp_path / "out/model.json").read_text())["text_vectorizer"]["vocabulary"]
    )
    assert (
        f"big.npy: token ids must lie in 0..{size - 1} (the saved vocabulary has {size} "
        "entries); this array holds 25..25"
    ) in big
    assert "must be whole numbers" in predict("out/model.safetensors", "frac.npy")
    # Weights copied without their JSON still predict from arrays, and say why not from text.
    shutil.copy(tmp_path / "out/model.safetensors", tmp_path / "bare.safetensors")
    assert "bare.safetensors has no saved text vocabulary" in predict("bare.safetensors", "new.txt")
    np.save(tmp_path / "ids.npy", np.ones((2, 6), np.int32))
    run = nnrun(
        "predict", "bag.nn", "--weights", "bare.safetensors", "--input", "ids.npy", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
