"""Data sources on tiny files written here: npy, CSV, image and text folders, text files; the
text vectorizer against hand-computed vocabularies; prefetching; errors before training."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nndsl.backend import DataError
from nndsl.backend.jax import implementation
from nndsl.backend.jax.impls.data import crop_to_aspect, resize
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.ops import lookup
from nndsl.runtime import fit, load_data
from nndsl.runtime.data import Dataset, eval_batches, train_batches, train_calls
from nndsl.runtime.sources import TextVectorizer
from tests.cli import nnrun

ROOT = Path(__file__).resolve().parents[2]


def attrs_of(source: str, **given: object) -> dict[str, object]:
    """A source's arguments with the spec's defaults filled in, as the checker binds them."""
    spec = lookup(source)
    assert spec is not None
    out: dict[str, object] = {a.name: a.default for a in spec.args if not a.required}
    out.update(given)
    return out


def read(source: str, base: Path, **given: object) -> dict[str, np.ndarray]:
    return implementation(source)(attrs_of(source, **given), base)  # type: ignore[no-any-return]


def error(source: str, base: Path, **given: object) -> str:
    with pytest.raises(DataError) as info:
        read(source, base, **given)
    message = str(info.value)
    assert "\n" not in message
    return message


def config(tmp_path: Path, text: str) -> TrainConfig:
    """Check a program written next to its data; its `train` section must check clean."""
    path = tmp_path / "model.nn"
    path.write_text(text)
    result = check_source(text, str(path))
    assert not result.has_errors, [d.message for d in result.diagnostics]
    assert result.program is not None and result.program.train is not None
    return result.program.train


# -- npy -----------------------------------------------------------------------------------------
def test_npy_reads_both_files_and_refuses_pickles(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(12.0).reshape(6, 2))
    np.save(tmp_path / "y.npy", np.arange(6))
    out = read("npy", tmp_path, x="x.npy", y="y.npy")
    assert out["x"].shape == (6, 2) and list(out["y"]) == list(range(6))
    assert "y2.npy: data file not found" in error("npy", tmp_path, x="x.npy", y="y2.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "obj.npy: not a readable .npy file" in error("npy", tmp_path, x="obj.npy", y="y.npy")


# -- CSV -----------------------------------------------------------------------------------------
IRIS = """sepal,petal,species
5.1,1.4,setosa
7.0,4.7,versicolor
6.3,6.0,virginica
4.9,1.5,setosa
"""


def test_csv_named_labels_become_sorted_class_ids(tmp_path: Path) -> None:
    (tmp_path / "iris.csv").write_text(IRIS)
    out = read("csv", tmp_path, path="iris.csv", label="species")
    np.testing.assert_array_equal(out["x"], [[5.1, 1.4], [7.0, 4.7], [6.3, 6.0], [4.9, 1.5]])
    assert list(out["y"]) == [0, 1, 2, 0]
    assert list(out["class_names"]) == ["setosa", "versicolor", "virginica"]
    picked = read("csv", tmp_path, path="iris.csv", label="species", columns=("petal",))
    np.testing.assert_array_equal(picked["x"][:, 0], [1.4, 4.7, 6.0, 1.5])


def test_csv_without_header_delimiter_and_numeric_labels(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("1;2;0\n3;4;1\n\n5;6;1\n")
    out = read("csv", tmp_path, path="t.csv", label="-1", header=False, delimiter=";")
    np.testing.assert_array_equal(out["x"], [[1, 2], [3, 4], [5, 6]])
    assert list(out["y"]) == [0, 1, 1] and "class_names" not in out


def test_csv_errors_name_the_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,abc,1\n")
    assert error("csv", tmp_path, path="bad.csv", label="y").endswith(
        "bad.csv: line 3, column 'b': 'abc' is not a number"
    )
    (tmp_path / "bad.csv").write_text("a,b,y\n1,,0\n")
    assert "line 2, column 'b': empty cell" in error("csv", tmp_path, path="bad.csv", label="y")
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n1,2\n")
    assert "line 3 has 2 cells, but the header has 3" in error(
        "csv", tmp_path, path="bad.csv", label="y"
    )
    assert "no label column 'label' (the header has: a, b, y)" in error(
        "csv", tmp_path, path="bad.csv", label="label"
    )
    (tmp_path / "mixed.csv").write_text("a,y\n1,cat\n2,3\n")
    assert "line 3, column 'y': label '3' is a number" in error(
        "csv", tmp_path, path="mixed.csv", label="y"
    )
    (tmp_path / "head.csv").write_text("a,y\n")
    assert "head.csv: no data rows" in error("csv", tmp_path, path="head.csv", label="y")
    assert "nope.csv: CSV file not found" in error("csv", tmp_path, path="nope.csv", label="y")


# -- image folders -------------------------------------------------------------------------------
def write_image(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """A `size` = (height, width) image of one colour, with a white top-left pixel."""
    pixels = np.zeros((*size, 3), np.uint8)
    pixels[:] = colour
    pixels[0, 0] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def image_tree(root: Path, size: tuple[int, int] = (6, 8)) -> Path:
    write_image(root / "cats" / "a.png", size, (200, 10, 10))
    write_image(root / "cats" / "nested" / "b.jpg", size, (200, 10, 10))
    write_image(root / "dogs" / "c.png", size, (10, 10, 200))
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_image_folder_labels_sizes_and_modes(tmp_path: Path) -> None:
    image_tree(tmp_path / "pets")
    out = read("image_folder", tmp_path, path="pets")
    assert out["x"].shape == (3, 6, 8, 3) and out["x"].dtype == np.float32
    assert list(out["y"]) == [0, 0, 1] and list(out["class_names"]) == ["cats", "dogs"]
    assert out["x"][0, 0, 0].tolist() == [255, 255, 255]
    assert out["x"][2, 3, 3].tolist() == [10, 10, 200]  # PNG is lossless
    gray = read("image_folder", tmp_path, path="pets", image_size=(3, 4), color_mode="grayscale")
    assert gray["x"].shape == (3, 3, 4, 1)
    luma = (10 * 299 + 10 * 587 + 200 * 114) / 1000  # ITU-R 601-2, Pillow's "L"
    assert abs(float(gray["x"][2, 2, 2, 0]) - luma) <= 1
    only = read("image_folder", tmp_path, path="pets", class_names=("dogs",))
    assert list(only["y"]) == [0] and len(only["x"]) == 1


def test_bilinear_resize_matches_tf_style_resize_without_antialiasing() -> None:
    import jax

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (7, 10, 3)).astype(np.float32)
    for target in [(14, 20), (3, 4), (7, 5), (11, 3)]:
        ours = resize(image, target, "bilinear")
        ref = jax.image.resize(image, (*target, 3), "linear", antialias=False)
        np.testing.assert_allclose(ours, np.asarray(ref), atol=1e-3)
    nearest = resize(np.arange(4.0).reshape(1, 4, 1), (1, 2), "nearest")
    assert nearest[0, :, 0].tolist() == [1.0, 3.0]  # centres at 1 and 3, as TF's half-pixel


def test_crop_to_aspect_ratio_keeps_the_centre() -> None:
    image = np.arange(6 * 12, dtype=np.float32).reshape(6, 12, 1)
    crop = crop_to_aspect(image, (4, 4))
    assert crop.shape == (6, 6, 1)
    np.testing.assert_array_equal(crop, image[:, 3:9])


def test_image_folder_errors(tmp_path: Path) -> None:
    root = image_tree(tmp_path / "pets")
    write_image(root / "dogs" / "d.png", (5, 8), (1, 2, 3))
    message = error("image_folder", tmp_path, path="pets")
    assert "d.png: image of size [5, 8] (height, width)" in message
    assert "set `image_size = [height, width]`" in message
    assert read("image_folder", tmp_path, path="pets", image_size=(4, 4))["x"].shape[1:] == (
        4,
        4,
        3,
    )
    (root / "birds").mkdir()
    assert "birds: class 'birds' has no images (.bmp, .gif, .jpeg, .jpg, .png files)" in error(
        "image_folder", tmp_path, path="pets", image_size=(4, 4)
    )
    (root / "birds" / "broken.png").write_bytes(b"\x89PNG not really")
    assert "broken.png: not a readable image" in error(
        "image_folder", tmp_path, path="pets", image_size=(4, 4)
    )
    assert "no folder for class 'fish' (the subfolders are: birds, cats, dogs)" in error(
        "image_folder", tmp_path, path="pets", class_names=("cats", "fish")
    )
    assert "zoo: folder not found" in error("image_folder", tmp_path, path="zoo")
    (tmp_path / "empty").mkdir()
    assert "empty: no subfolders" in error("image_folder", tmp_path, path="empty")


# -- text ----------------------------------------------------------------------------------------
def test_vectorizer_vocabulary_order_padding_and_oov() -> None:
    v = TextVectorizer(output_sequence_length=5)
    v.adapt(["The cat, the HAT!", "a cat"])
    # the:2, cat:2, then hat:1, a:1; ties by decreasing token (Keras's lexsort(...)[::-1])
    assert v.vocabulary == ["", "[UNK]", "the", "cat", "hat", "a"]
    ids = v(["the dog sat on the cat mat", "Cat"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [[2, 1, 1, 1, 2], [3, 0, 0, 0, 0]]
    capped = TextVectorizer(max_tokens=4)
    capped.adapt(["The cat, the HAT!", "a cat"])
    assert capped.vocabulary == ["", "[UNK]", "the", "cat"]
    assert capped.output_sequence_length == 4  # the longest training text
    assert capped(["hat the a b c"]).tolist() == [[1, 2, 1, 1]]


def test_vectorizer_standardize_split_and_ngrams() -> None:
    v = TextVectorizer(ngrams=2)
    assert v.tokens("Don't  stop\tNOW.") == ["dont", "stop", "now", "dont stop", "stop now"]
    assert TextVectorizer(standardize="lower").tokens("Hi, Ünïcode!") == ["hi,", "Ünïcode!"]
    assert TextVectorizer(standardize=None, split="character").tokens("Ab c") == [
        "A",
        "b",
        " ",
        "c",
    ]
    assert TextVectorizer(split=None).tokens("One  Two") == ["one  two"]


def test_vectorizer_multi_hot_count_and_tf_idf() -> None:
    texts = ["a a b", "b c"]
    counts = TextVectorizer(output_mode="count")
    counts.adapt(texts)
    assert counts.vocabulary == ["[UNK]", "b", "a", "c"]  # b:2, a:2 (b > a), c:1
    assert counts(["a a z b"]).tolist() == [[1, 1, 2, 0]]
    hot = TextVectorizer(output_mode="multi_hot", max_tokens=6, pad_to_max_tokens=True)
    hot.adapt(texts)
    assert hot(["a a z"]).tolist() == [[1, 0, 1, 0, 0, 0]]
    tfidf = TextVectorizer(output_mode="tf_idf")
    tfidf.adapt(texts)
    idf_b, idf_a, idf_c = math.log(1 + 2 / 3), math.log(1 + 2 / 2), math.log(1 + 2 / 2)
    mean = (idf_b + idf_a + idf_c) / 3
    np.testing.assert_allclose(tfidf(["a a z b"])[0], [mean, idf_b, 2 * idf_a, 0.0], rtol=1e-6)


def text_tree(root: Path) -> Path:
    good = ["a great film", "great fun and great acting", "loved it", "a joy to watch"]
    bad = ["a dull film", "boring and slow", "hated it", "a waste of time"]
    for label, texts in (("pos", good), ("neg", bad)):
        (root / label).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / label / f"{i}.txt").write_text(t)
    return root


def test_text_folder_and_text_file(tmp_path: Path) -> None:
    text_tree(tmp_path / "reviews")
    out = read("text_folder", tmp_path, path="reviews")
    assert list(out["class_names"]) == ["neg", "pos"]
    assert out["x"][0] == "a dull film" and list(out["y"]) == [0] * 4 + [1] * 4
    (tmp_path / "sms.tsv").write_text("spam\tWIN now\nham\tsee you\n\nham\tok\tthen\n")
    sms = read("text_file", tmp_path, path="sms.tsv")
    assert list(sms["x"]) == ["WIN now", "see you", "ok\tthen"]
    assert list(sms["y"]) == [1, 0, 0] and list(sms["class_names"]) == ["ham", "spam"]
    (tmp_path / "ids.txt").write_text("2|x\n0|y\n")
    assert list(read("text_file", tmp_path, path="ids.txt", delimiter="|")["y"]) == [2, 0]


def test_text_errors(tmp_path: Path) -> None:
    (tmp_path / "sms.tsv").write_text("spam\tWIN\nno label here\n")
    assert "sms.tsv: line 2 has no '\\t' between a label and the text" in error(
        "text_file", tmp_path, path="sms.tsv"
    )
    root = text_tree(tmp_path / "reviews")
    (root / "neg" / "4.txt").write_bytes(b"caf\xe9")
    assert "4.txt: not UTF-8 text (byte 3 of the file)" in error(
        "text_folder", tmp_path, path="reviews"
    )
    (root / "meh").mkdir()
    assert "class 'meh' has no text files (.txt files)" in error(
        "text_folder", tmp_path, path="reviews", class_names=("meh", "pos")
    )


TEXT_MODEL = """
model Bag(classes: int = 2) {
    input tokens: i32[B, 6]
    h = tokens |> Embedding(20, 8) |> GlobalAveragePooling1D()
    return h |> Dense(classes)
}
data reviews = text_folder("reviews", max_tokens = 20, output_sequence_length = 6,
                           test_split = 0.25)
train Bag on reviews {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.05)
    epochs = 2
    batch = 4
    validation_split = 0.0
}
"""


def test_vocabulary_comes_from_the_training_split_only(tmp_path: Path) -> None:
    text_tree(tmp_path / "reviews")
    splits = load_data(config(tmp_path, TEXT_MODEL))
    assert (len(splits.train), len(splits.test)) == (6, 2)
    assert splits.class_names == ("neg", "pos") and splits.vectorizer is not None
    vocab = set(splits.vectorizer.vocabulary)
    train_ids = set(splits.train.x.ravel().tolist())
    assert 1 not in train_ids  # every training token is in the vocabulary
    assert splits.train.x.dtype == np.int32 and splits.train.x.shape == (6, 6)
    assert len(vocab) <= 20
    test_only = {
        t for x in ("hated it", "boring and slow", "a joy to watch") for t in x.split()
    } - vocab
    assert test_only  # some words of the held-out rows are unknown, hence 1 there
    assert 1 in set(splits.test.x.ravel().tolist())


def test_too_many_classes_names_the_folders(tmp_path: Path) -> None:
    root = text_tree(tmp_path / "reviews")
    (root / "meh").mkdir()
    (root / "meh" / "0.txt").write_text("fine")
    with pytest.raises(DataError, match=r"3 classes \(meh, neg, pos\), but Bag predicts 2"):
        fit(config(tmp_path, TEXT_MODEL))


# -- batching with prefetch ----------------------------------------------------------------------
def test_prefetched_batches_equal_the_plain_ones() -> None:
    data = Dataset(np.arange(22.0)[:, None], np.arange(22))
    plain = list(train_batches(data, 4, seed=1, epoch=2, prefetch=0))
    ahead = list(train_batches(data, 4, seed=1, epoch=2, prefetch=2))
    assert len(plain) == len(ahead) == 6
    for (px, py), (ax, ay) in zip(plain, ahead, strict=True):
        np.testing.assert_array_equal(px, ax)
        np.testing.assert_array_equal(py, ay)
    resumed = list(train_batches(data, 4, seed=1, epoch=2, start=4))
    assert [by.tolist() for _, by in resumed] == [by.tolist() for _, by in plain[4:]]
    evals = [b[2].sum() for b in eval_batches(data, 8, prefetch=3)]
    assert evals == [8, 8, 6]


@pytest.mark.parametrize(("per_call", "start"), [(1, 0), (3, 0), (3, 2), (4, 5), (40, 0)])
def test_train_calls_hold_the_same_batches_as_train_batches(per_call: int, start: int) -> None:
    """A call's stack is one gather; the batches, their order and the call sizes must be what
    single steps from `start` would see (resume and `steps_per_execution` rely on it)."""
    data = Dataset(np.arange(70.0).reshape(35, 2), np.arange(35))
    plain = list(train_batches(data, 4, seed=3, epoch=2, prefetch=0))[start:]
    calls = list(train_calls(data, 4, seed=3, epoch=2, per_call=per_call, start=start))
    expected, left = [], len(plain)
    while left:  # calls of `per_call` steps while that many remain, then single steps
        expected.append(per_call if per_call > 1 and left >= per_call else 1)
        left -= expected[-1]
    assert [take for take, _, _ in calls] == expected
    batches = [(x[i], y[i]) if take > 1 else (x, y) for take, x, y in calls for i in range(take)]
    assert len(batches) == len(plain)
    for (px, py), (cx, cy) in zip(plain, batches, strict=True):
        np.testing.assert_array_equal(px, cx)
        np.testing.assert_array_equal(py, cy)


def test_train_calls_stop_their_producer_when_closed() -> None:
    data = Dataset(np.zeros((4000, 1)), np.zeros(4000))
    calls = train_calls(data, 2, seed=0, epoch=1)
    next(calls)
    before = {t.ident for t in threading.enumerate() if t.name == "nndsl-prefetch"}
    assert before
    calls.close()
    after = {t.ident for t in threading.enumerate() if t.name == "nndsl-prefetch"}
    assert not before & after


def test_prefetch_passes_errors_on_and_stops_when_closed() -> None:
    from nndsl.runtime.data import _prefetched

    def failing() -> Iterator[int]:
        yield 1
        raise DataError("boom")

    it = _prefetched(failing(), 2)
    assert next(it) == 1
    with pytest.raises(DataError, match="boom"):
        next(it)
    produced: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    gen = _prefetched(endless(), 2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    settled = len(produced)
    assert settled <= 3 + 2 + 2  # bounded: the queue, plus the item in hand
    assert len(produced) == settled


# -- end to end through `nnrun` -----------------------------------------------------------------
IMAGE_MODEL = """
model Colours() {
    input image: f32[B, 8, 8, 3]
    h = image |> Rescaling(1 / 255) |> Flatten()
    return h |> Dense(2)
}
data pets = image_folder("pets", image_size = [8, 8], test_split = 0.25)
train Colours on pets {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.05)
    metrics = [accuracy]
    epochs = 15
    batch = 4
    validation_split = 0.0
}
"""


@pytest.mark.slow
def test_nnrun_trains_from_an_image_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(8):
        for name, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
            jitter = tuple(int(c + rng.integers(-15, 15)) for c in colour)
            write_image(tmp_path / "pets" / name / f"{i}.png", (10 + i % 3, 12), jitter)  # type: ignore[arg-type]
    (tmp_path / "colours.nn").write_text(IMAGE_MODEL)
    run = nnrun("colours.nn", "--quiet", "--out", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "out").is_dir()
    assert "accuracy" in run.stdout + run.stderr


@pytest.mark.slow
def test_nnrun_trains_from_a_text_folder_and_reports_bad_data(tmp_path: Path) -> None:
    text_tree(tmp_path / "reviews")
    (tmp_path / "bag.nn").write_text(TEXT_MODEL)
    run = nnrun("bag.nn", "--quiet", "--out", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    (tmp_path / "reviews" / "neg" / "9.txt").write_bytes(b"\xff\xfe")
    bad = nnrun("bag.nn", "--quiet", "--out", "out", cwd=tmp_path)
    assert bad.returncode != 0
    assert "9.txt: not UTF-8 text" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr


# -- what `nnrun check` knows without reading files ------------------------------------------------
def test_checker_accepts_what_only_the_files_can_refute() -> None:
    src = """
model Tokens() {
    input tokens: i32[B, T]
    return tokens |> Embedding(50, 4) |> GlobalAveragePooling1D() |> Dense(2)
}
model Pictures() {
    input image: f32[B, H, W, 1]
    return image |> GlobalAveragePooling2D() |> Dense(2)
}
data texts = text_file("t.tsv")
data scans = image_folder("scans", color_mode = "grayscale")
train Tokens on texts {
    loss = cross_entropy(from_logits = true)
    optimizer = adam
}
train Pictures on scans {
    loss = cross_entropy(from_logits = true)
    optimizer = adam
}
"""
    assert check_source(src, "ok.nn").diagnostics == []


def test_nnrun_check_imports_neither_pillow_nor_numpy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from nndsl.cli.main import main\n"
        f"status = main(['check', {str(ROOT / 'examples' / 'text_classifier.nn')!r}])\n"
        "assert status == 0, status\n"
        "print(sorted(m for m in ('PIL', 'numpy', 'jax') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
