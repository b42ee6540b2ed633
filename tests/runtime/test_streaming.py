"""Streamed sources (`stream = true`): the same batches as in memory for the same seed, the
same trained weights, a resumed run bit-identical, image folders decoded on the fly with
augmentation, one-line errors, and a `zip`'s sources streamed as they would be alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from PIL import Image

from nndsl.backend import DataError
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import fit, load_data
from nndsl.runtime.data import Dataset, Splits, eval_batches, train_calls
from nndsl.runtime.streaming import Rows

NPY_MODEL = """
model Tiny() {{
    input x: f32[B, 6]
    return x |> Dense(8, activation = "relu") |> Dropout(0.1) |> Dense(3)
}}
data d = npy(x = "x.npy", y = "y.npy", test_split = 0.25{stream})
train Tiny on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.01)
    epochs = {epochs}
    batch = 8
    seed = 3
    validation_split = 0.2
    steps_per_execution = {spe}
    callbacks = [checkpoint(every = 1, every_steps = 5, keep = 10)]
}}
"""


def _config(folder: Path, text: str) -> TrainConfig:
    path = folder / "model.nn"
    path.write_text(text)
    result = check_source(text, str(path))
    assert not result.has_errors, [d.message for d in result.diagnostics]
    assert result.program is not None and result.program.train is not None
    return result.program.train


def _npy_data(folder: Path, n: int = 75) -> None:
    rng = np.random.default_rng(0)
    np.save(folder / "x.npy", rng.normal(size=(n, 6)).astype(np.float64))  # cast when read
    np.save(folder / "y.npy", rng.integers(0, 3, n).astype(np.int64))


def _npy_config(folder: Path, stream: bool, epochs: int = 2, spe: int = 1) -> TrainConfig:
    flag = f", stream = {'true' if stream else 'false'}"
    return _config(folder, NPY_MODEL.format(stream=flag, epochs=epochs, spe=spe))


def _arrays(a: Any) -> list[np.ndarray]:
    """An array, or arrays by input (output) name in name order, read."""
    return [np.asarray(v) for _, v in sorted(a.items())] if isinstance(a, dict) else [np.asarray(a)]


def _batches(data: Dataset, per_call: int) -> list[np.ndarray]:
    out = []
    for epoch in (1, 2):
        for _, x, y in train_calls(data, 8, seed=3, epoch=epoch, per_call=per_call, start=1):
            out += [*_arrays(x), *_arrays(y)]
    return out


def _assert_same_data(memory: Splits, streamed: Splits) -> None:
    """The same training batches (one and three a call, two epochs) and the same evaluation
    batches and masks of the validation and test splits, dtypes included."""
    pairs = []
    for per_call in (1, 3):
        pairs += zip(
            _batches(memory.train, per_call), _batches(streamed.train, per_call), strict=True
        )
    for part in ("validation", "test"):
        mine, theirs = getattr(memory, part), getattr(streamed, part)
        for (x1, y1, m1), (x2, y2, m2) in zip(
            eval_batches(mine, 8), eval_batches(theirs, 8), strict=True
        ):
            pairs += zip(
                [*_arrays(x1), *_arrays(y1), m1], [*_arrays(x2), *_arrays(y2), m2], strict=True
            )
    assert pairs
    for a, b in pairs:
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_streamed_npy_gives_the_in_memory_batches(tmp_path: Path) -> None:
    _npy_data(tmp_path)
    memory = load_data(_npy_config(tmp_path, False))
    mapped = load_data(_npy_config(tmp_path, True))
    assert isinstance(mapped.train.x, Rows) and not isinstance(memory.train.x, Rows)
    assert mapped.train.x.shape == memory.train.x.shape
    assert mapped.train.x.dtype == memory.train.x.dtype == np.float32
    _assert_same_data(memory, mapped)


def _weights(params: object) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(params)]


def test_streamed_training_and_resume_are_bit_identical(tmp_path: Path) -> None:
    _npy_data(tmp_path)
    memory = fit(_npy_config(tmp_path, False), run_dir=tmp_path / "a")
    calls = iter(range(1000))  # 6 steps an epoch: stopped at epoch 2, step 5, after a checkpoint
    stopped = fit(
        _npy_config(tmp_path, True), run_dir=tmp_path / "b", stop=lambda: next(calls) > 10
    )
    assert stopped.stopped
    resumed = fit(_npy_config(tmp_path, True), run_dir=tmp_path / "b", resume=True)
    assert resumed.resumed_from is not None and resumed.resumed_from.name == "step-000000010"
    for a, b in zip(_weights(memory.params), _weights(resumed.params), strict=True):
        assert a.tobytes() == b.tobytes()
    assert memory.history[-1].train == resumed.history[-1].train
    assert memory.test == resumed.test


def test_streamed_npy_errors_are_one_line(tmp_path: Path) -> None:
    _npy_data(tmp_path)
    np.save(tmp_path / "x.npy", np.array([{"a": 1}] * 75, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"x\.npy: not a readable \.npy file"):
        load_data(_npy_config(tmp_path, True))
    np.save(tmp_path / "x.npy", np.zeros((75, 5), np.float32))
    with pytest.raises(DataError, match=r"x\.npy: array has shape \[75, 5\], but input `x`"):
        load_data(_npy_config(tmp_path, True))
    bad = np.zeros((75, 6), np.float32)
    bad[40, 2] = np.nan
    np.save(tmp_path / "x.npy", bad)
    splits = load_data(_npy_config(tmp_path, True))
    with pytest.raises(DataError, match=r"x\.npy: row 40 contains NaN") as info:
        for _ in train_calls(splits.train, 8, seed=3, epoch=1):
            pass
    assert "\n" not in str(info.value)


IMAGE_MODEL = """
model Net() {{
    input image: f32[B, 8, 8, 3]
    return image |> Rescaling(1 / 255) |> RandomFlip("horizontal") |> RandomRotation(0.1)
        |> Conv2D(4, 3, activation = "relu") |> GlobalAveragePooling2D() |> Dense(2)
}}
data pics = image_folder("pics", image_size = [8, 8], test_split = 0.2{stream})
train Net on pics {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.01)
    epochs = 2
    batch = 4
    seed = 1
}}
"""


def _image_tree(root: Path) -> None:
    rng = np.random.default_rng(1)
    for c, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(10):
            size = (10 + i, 12)  # resized to 8 x 8
            pixels = rng.integers(0, 256, (*size, 3)).astype(np.uint8) // (c + 1)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_image_folder_streams_with_augmentation(tmp_path: Path) -> None:
    _image_tree(tmp_path / "pics")
    memory_config = _config(tmp_path, IMAGE_MODEL.format(stream=", stream = false"))
    stream_config = _config(tmp_path, IMAGE_MODEL.format(stream=", stream = true"))
    memory, streamed = load_data(memory_config), load_data(stream_config)
    assert isinstance(streamed.train.x, Rows) and streamed.class_names == ("cat", "dog")
    np.testing.assert_array_equal(np.asarray(streamed.train.x), memory.train.x)
    a = fit(memory_config, run_dir=tmp_path / "a", data=memory)
    b = fit(stream_config, run_dir=tmp_path / "b")
    for p, q in zip(_weights(a.params), _weights(b.params), strict=True):
        np.testing.assert_array_equal(p, q)
    (tmp_path / "pics" / "dog" / "3.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"3\.png: not a readable image"):
        load_data(stream_config)  # headers are read before the first step


TEXT_MODEL = """
model Reviews() {{
    input tokens: i32[B, 6]
    return tokens |> Embedding(40, 4) |> GlobalAveragePooling1D() |> Dense(2)
}}
data d = text_folder("texts", max_tokens = 40, output_sequence_length = 6{stream})
"""


def test_text_folder_streams_with_the_same_vocabulary_and_ids(tmp_path: Path) -> None:
    words = "the cat sat on a mat dog ran far away good bad very much".split()
    rng = np.random.default_rng(2)
    for c, name in enumerate(("neg", "pos")):
        (tmp_path / "texts" / name).mkdir(parents=True)
        for i in range(12):
            text = " ".join(rng.choice(words, 3 + i % 5)) + (" good" if c else " bad")
            (tmp_path / "texts" / name / f"{i}.txt").write_text(text.title() + "!")
    train = "train Reviews on d {\n    loss = cross_entropy(from_logits = true)\n"
    train += "    optimizer = adam()\n}\n"
    memory = load_data(_config(tmp_path, TEXT_MODEL.format(stream="") + train))
    streamed = load_data(_config(tmp_path, TEXT_MODEL.format(stream=", stream = true") + train))
    assert isinstance(streamed.train.x, Rows) and streamed.train.x.dtype == np.int32
    assert streamed.vectorizer is not None and memory.vectorizer is not None
    assert streamed.vectorizer.vocabulary == memory.vectorizer.vocabulary
    for part in ("train", "validation", "test"):
        np.testing.assert_array_equal(
            np.asarray(getattr(streamed, part).x), getattr(memory, part).x
        )


def test_fortran_ordered_npy_and_unsized_images(tmp_path: Path) -> None:
    x = np.random.default_rng(4).normal(size=(40, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", np.asfortranarray(x))  # read from the map, not with preadv
    np.save(tmp_path / "y.npy", np.zeros(40, np.int64))
    splits = load_data(_npy_config(tmp_path, True))
    memory = load_data(_npy_config(tmp_path, False))
    for (_, a, _), (_, b, _) in zip(
        train_calls(splits.train, 8, seed=3, epoch=2),
        train_calls(memory.train, 8, seed=3, epoch=2),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    _image_tree(tmp_path / "pics")  # sizes differ, and no image_size
    text = IMAGE_MODEL.format(stream=", stream = true").replace("image_size = [8, 8], ", "")
    with pytest.raises(DataError, match=r"image of size \[1\d, 12\] .* set `image_size"):
        load_data(_config(tmp_path, text))


def _npz_data(folder: Path, n: int = 75, save: Any = np.savez) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype(np.float64)  # cast when read
    save(folder / "d.npz", labels=rng.integers(0, 3, n).astype(np.int64), inputs=x)


def _npz_config(folder: Path, stream: str, epochs: int = 2) -> TrainConfig:
    text = NPY_MODEL.format(stream="", epochs=epochs, spe=1).replace(
        'npy(x = "x.npy", y = "y.npy", test_split = 0.25)',
        f'npz("d.npz", x = "inputs", y = "labels", test_split = 0.25{stream})',
    )
    return _config(folder, text)


def test_streamed_npz_gives_the_in_memory_batches(tmp_path: Path) -> None:
    """`np.savez` members are read by row at their offset in the zip: the same batches."""
    _npz_data(tmp_path)
    memory = load_data(_npz_config(tmp_path, ""))  # the default: small, in memory
    mapped = load_data(_npz_config(tmp_path, ", stream = true"))
    assert isinstance(mapped.train.x, Rows) and not isinstance(memory.train.x, Rows)
    assert mapped.train.x.where.endswith("d.npz['inputs']")
    assert mapped.train.x.dtype == memory.train.x.dtype == np.float32
    _assert_same_data(memory, mapped)


def test_streamed_npz_errors_are_one_line(tmp_path: Path) -> None:
    config = _npz_config(tmp_path, ", stream = true")
    _npz_data(tmp_path, save=np.savez_compressed)
    with pytest.raises(DataError) as info:
        load_data(config)
    message = str(info.value)
    assert "\n" not in message and "d.npz: array 'inputs' is compressed" in message
    assert "re-save it with np.savez, or drop `stream = true`" in message
    assert isinstance(load_data(_npz_config(tmp_path, "")).train.x, np.ndarray)  # auto: memory

    _npz_data(tmp_path)
    whole = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(whole[: len(whole) // 2])  # no central directory
    with pytest.raises(DataError, match=r"d\.npz: not a readable \.npz file") as info:
        load_data(config)
    assert "\n" not in str(info.value)
    corrupt = bytearray(whole)
    at = corrupt.rfind(b"\x93NUMPY")  # the inputs' .npy header (written last)
    corrupt[at + 1 : at + 6] = b"XXXXX"
    (tmp_path / "d.npz").write_bytes(bytes(corrupt))
    with pytest.raises(DataError, match=r"array 'inputs' is not a readable \.npy member") as info:
        load_data(config)
    assert "\n" not in str(info.value)

    _npz_data(tmp_path)
    splits = load_data(config)
    with (tmp_path / "d.npz").open("r+b") as f:  # shorter than its members say, after opening
        f.truncate(len(whole) - 400)
    with pytest.raises(DataError, match=r"d\.npz\['inputs'\]: the file ends before row") as info:
        for _ in train_calls(splits.train, 8, seed=3, epoch=1):
            pass
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match=r"not a readable \.npz file|is cut short"):
        load_data(config)


NAMED_NPZ_MODEL = """
model M() {{
    input a: f32[B, 3]
    input b: f32[B, 1]
    return (a, b) |> Concatenate() |> Dense(2)
}}
data d = npz("m.npz", x = ["a", "b"], y = ["output"]{stream})
train M on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam()
    batch = 4
}}
"""


def test_streamed_npz_with_arrays_by_input(tmp_path: Path) -> None:
    """Keys by input: each input array streams, a column `[N]` fed to `[B, 1]` too."""
    rng = np.random.default_rng(0)
    a, b, labels = rng.normal(size=(40, 3)), rng.normal(size=40), rng.integers(0, 2, 40)
    np.savez(tmp_path / "m.npz", a=a, b=b, output=labels)
    memory = load_data(_config(tmp_path, NAMED_NPZ_MODEL.format(stream="")))
    mapped = load_data(_config(tmp_path, NAMED_NPZ_MODEL.format(stream=", stream = true")))
    assert isinstance(mapped.train.x, dict) and isinstance(memory.train.x, dict)
    assert isinstance(mapped.train.x["a"], Rows) and isinstance(mapped.train.x["b"], Rows)
    assert mapped.train.x["b"].shape == memory.train.x["b"].shape == (29, 1)  # unread
    calls = [list(train_calls(s.train, 4, seed=1, epoch=1)) for s in (memory, mapped)]
    for (_, x1, y1), (_, x2, y2) in zip(*calls, strict=True):
        for name in ("a", "b"):
            np.testing.assert_array_equal(np.asarray(x1[name]), np.asarray(x2[name]))
        np.testing.assert_array_equal(y1, y2)


def test_npz_streams_by_default_above_the_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stream = none` counts the stored input arrays; a compressed file stays in memory."""
    from nndsl.runtime import streaming

    _npz_data(tmp_path)
    config = _npz_config(tmp_path, "")
    assert not isinstance(load_data(config).train.x, Rows)  # 3.6 KB of inputs
    monkeypatch.setattr(streaming, "AUTO_STREAM_BYTES", 1000)
    assert isinstance(load_data(config).train.x, Rows)
    _npz_data(tmp_path, save=np.savez_compressed)
    assert not isinstance(load_data(config).train.x, Rows)


# -- CSV ---------------------------------------------------------------------------------------
def _csv_data(folder: Path, n: int = 75, tags: bool = False) -> None:
    """`\\r\\n` lines, a header, blank lines (one trailing), a quoted cell and a label holding a
    newline: the record boundaries the `csv` module finds, not the file's lines. `tags`: a
    last column of words, one of them quoted with the delimiter in it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6))
    names = ["ant", "bee", '"cat\ndog"']
    words = ["red", '"b,lue"', "green"]
    lines = ["f0,f1,f2,f3,f4,f5,kind" + (",tag" if tags else "")]
    for i, (row, label) in enumerate(zip(x, rng.integers(0, 3, n), strict=True)):
        cells = [repr(float(v)) for v in row]
        cells[1] = f'"{cells[1]}"' if i % 4 == 0 else cells[1]
        lines.append(",".join([*cells, names[label], *([words[i % 3]] if tags else [])]))
        if i % 10 == 3:
            lines.append("")
    (folder / "t.csv").write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode())


def _csv_config(folder: Path, stream: str, epochs: int = 2) -> TrainConfig:
    text = NPY_MODEL.format(stream="", epochs=epochs, spe=1).replace(
        'npy(x = "x.npy", y = "y.npy", test_split = 0.25)',
        f'csv("t.csv", label = "kind", test_split = 0.25{stream})',
    )
    return _config(folder, text)


GROUPS_MODEL = """
model Groups() {{
    input a: f32[B, 3]
    input b: f32[B, 1]
    input tag: i32[B]
    h = (a, b, tag |> Embedding(3, 2)) |> Concatenate() |> Dense(8, activation = "relu")
    h = h |> Dropout(0.1)
    kind = h |> Dense(3)
    score = h |> Dense(1)
    return kind, score
}}
data d = csv("t.csv", x = {{a: ["f0", "f1", "f2"], b: "f3", tag: "tag"}},
             y = {{kind: "kind", score: "f4"}}, test_split = 0.25{stream})
train Groups on d {{
    loss = {{kind: cross_entropy(from_logits = true), score: mse}}
    optimizer = adam(learning_rate = 0.01)
    epochs = {epochs}
    batch = 8
    seed = 3
    validation_split = 0.2
    callbacks = [checkpoint(every = 1, every_steps = 5, keep = 10)]
}}
"""


def _csv_groups_data(folder: Path) -> None:
    _csv_data(folder, tags=True)


def _csv_groups_config(folder: Path, stream: str, epochs: int = 2) -> TrainConfig:
    """Column groups: a list of columns, a number column fed to `[B, 1]`, a word column as
    class ids, labels of two outputs (names, numbers)."""
    return _config(folder, GROUPS_MODEL.format(stream=stream, epochs=epochs))


CSV_KINDS = {"csv": (_csv_data, _csv_config), "csv groups": (_csv_groups_data, _csv_groups_config)}


@pytest.mark.parametrize("kind", ["csv", "csv groups"])
def test_streamed_csv_gives_the_in_memory_batches(kind: str, tmp_path: Path) -> None:
    write, config = CSV_KINDS[kind]
    write(tmp_path)
    memory = load_data(config(tmp_path, ""))  # the default: small, in memory
    streamed = load_data(config(tmp_path, ", stream = true"))
    if kind == "csv":
        assert isinstance(streamed.train.x, Rows) and not isinstance(memory.train.x, Rows)
        assert streamed.train.x.dtype == memory.train.x.dtype == np.float32
        assert streamed.class_names == memory.class_names == ("ant", "bee", "cat\ndog")
    else:  # one streamed input per group, the in-memory shapes and dtypes; labels in memory
        assert isinstance(streamed.train.x, dict) and isinstance(memory.train.x, dict)
        assert streamed.train.x.keys() == memory.train.x.keys() == {"a", "b", "tag"}
        for name, rows in streamed.train.x.items():
            assert isinstance(rows, Rows) and not isinstance(memory.train.x[name], Rows)
            assert (rows.shape, rows.dtype) == (
                memory.train.x[name].shape,
                memory.train.x[name].dtype,
            )
        assert streamed.train.x["tag"].dtype == np.int32
        assert isinstance(streamed.train.y, dict) and isinstance(
            streamed.train.y["kind"], np.ndarray
        )
    _assert_same_data(memory, streamed)


G = b"f0,f1,f2,f3,f4,f5,kind,tag\n"  # the header of the column groups' file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"f0,f1,f2,f3,f4,f5,kind\n1,2,3,4,5,6,a\n1,2,x,4,5,6,b\n", "line 3, column 'f2': 'x'"),
        (b"f0,f1,f2,f3,f4,f5,kind\n1,2,3,4,5,6,a\n\n1,2,3,4,5,b\n", "line 4 has 6 cells"),
        (b"f0,f1,f2,f3,f4,f5,kind\n1,2,3,4,5,6,a\n1,2,3,4,5,6,2\n", "label '2' is a number"),
        (b"f0,f1,f2,f3,f4,f5,kind\n1,2,3,4,5,6,a\n1,2,3,4,5,6,\n", "line 3, column 'kind': empty"),
        (b"f0,f1,f2,f3,f4,f5,kind\n1,2,,4,5,6,a\n", "line 2, column 'f2': empty cell"),
        (b"f0,f1,f2,f3,f4,f5,kind\n1,2,3,4,5,\xff,a\n", "not UTF-8 text"),
        (b"f0,f1,f2,f3,f4,f5,kind\n", "no data rows"),
        (b"", "the file is empty; expected a header row"),
        (b"f0,f1,f2,f3,f4,f5,label\n1,2,3,4,5,6,a\n", "no label column 'kind'"),
        (b"f0,f1,f2,f3,f4,f5,label\n", "no data rows"),
        # column groups: every row's width first, then group by group (labels first)
        (G + b"x,2,3,4,5,6,a,r\n1,2,3,4,5,6,a\n", "line 3 has 7 cells"),
        (G + b"x,2,3,4,5,6,a,r\n1,2,3,4,q,6,a,r\n", "line 2, column 'f4': label '5' is a"),
        (G + b"1,2,3,4,5,6,a,3\n1,2,3,4,5,6,,r\nx,2,3,4,5,6,a,r\n", "column 'kind': empty"),
        (G + b"1,2,3,4,5,6,a,3\nx,2,3,4,5,6,a,r\n", "line 3, column 'f0': 'x' is not"),
        (G + b"1,2,3,4,5,6,a,3\n1,2,3,4,5,6,a,r\n", "line 2, column 'tag': label '3'"),
        (G + b"1,2,3,,5,6,a,r\n", "line 2, column 'f3': empty label"),
        (G.replace(b"tag", b"t") + b"1,2,x,4,5,6,a,r\n", "line 2, column 'f2': 'x' is not"),
        (G.replace(b"tag", b"t") + b"1,2,3,4,5,6,a,r\n", "no column 'tag'"),
        (G.replace(b"f4", b"g") + b"x,2,3,4,5,6,a,r\n", "no label column 'f4'"),
        (G, "no data rows"),
    ],
)
def test_streamed_csv_errors_are_the_in_memory_ones(
    tmp_path: Path, text: bytes, expected: str
) -> None:
    (tmp_path / "t.csv").write_bytes(text)
    grouped = text.split(b"\n")[0].count(b",") == 7  # the header of 8 columns
    config = _csv_groups_config if grouped else _csv_config
    messages = []
    for stream in ("false", "true"):
        with pytest.raises(DataError) as info:
            load_data(config(tmp_path, f", stream = {stream}"))
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert expected in messages[1] and "t.csv" in messages[1] and "\n" not in messages[1]


def test_a_csv_changed_after_its_check_names_the_row(tmp_path: Path) -> None:
    _csv_data(tmp_path)
    splits = load_data(_csv_config(tmp_path, ", stream = true"))
    whole = (tmp_path / "t.csv").read_bytes()
    (tmp_path / "t.csv").write_bytes(whole.replace(b"\r\n-", b"\r\nz"))  # same length
    with pytest.raises(DataError, match=r"t\.csv: row \d+: 'z[\d.e-]+' is not a number") as info:
        for _ in train_calls(splits.train, 8, seed=3, epoch=1):
            pass
    assert "\n" not in str(info.value)
    (tmp_path / "t.csv").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"t\.csv: the file ends before row \d+"):
        for _ in train_calls(splits.train, 8, seed=3, epoch=1):
            pass


@pytest.mark.parametrize("kind", ["csv", "csv groups"])
def test_csv_streams_by_default_above_the_threshold(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nndsl.runtime import streaming

    write, config = CSV_KINDS[kind]
    write(tmp_path)

    def inputs() -> list[Any]:
        x = load_data(config(tmp_path, "")).train.x
        return list(x.values()) if isinstance(x, dict) else [x]

    assert not any(isinstance(x, Rows) for x in inputs())
    monkeypatch.setattr(streaming, "AUTO_STREAM_BYTES", 1000)
    assert all(isinstance(x, Rows) for x in inputs())


def test_csv_streaming_refuses_bare_cr_lines(tmp_path: Path) -> None:
    """Bare `\r` line ends: one line (the in-memory reader takes them)."""
    (tmp_path / "t.csv").write_bytes(b"f0,f1,f2,f3,f4,f5,kind\r1,2,3,4,5,6,a\r1,2,3,4,5,6,b\r")
    assert len(load_data(_csv_config(tmp_path, "")).train.x) == 2
    with pytest.raises(
        DataError, match=r"t\.csv: line 1 ends in a bare \\r, which cannot be streamed"
    ) as info:
        load_data(_csv_config(tmp_path, ", stream = true"))
    assert "\n" not in str(info.value)


# -- zip: each source streams as it would alone --------------------------------------------
def _zip_data(folder: Path, n: int = 75) -> None:
    """`_npz_data`'s inputs and labels, beside a second source's one-column input."""
    _npz_data(folder, n)
    with np.load(folder / "d.npz") as found:
        np.savez(folder / "z.npz", x=found["inputs"], output=found["labels"])
    np.savez(folder / "w.npz", w=np.random.default_rng(1).normal(size=(n, 1)))


def _zip_config(folder: Path, stream: str, epochs: int = 2) -> TrainConfig:
    """`zip(a, b)`: `stream` written on `a` (the wide input and the labels); `b` in memory."""
    text = (
        NPY_MODEL.format(stream="", epochs=epochs, spe=1)
        .replace(
            "input x: f32[B, 6]\n    return x |>",
            "input x: f32[B, 6]\n    input w: f32[B, 1]\n    return (x, w) |> Concatenate() |>",
        )
        .replace(
            'data d = npy(x = "x.npy", y = "y.npy", test_split = 0.25)',
            f'data a = npz("z.npz", x = ["x"], y = ["output"]{stream})\n'
            'data b = npz("w.npz", x = ["w"], y = [])\n'
            "data d = zip(a, b, test_split = 0.25)",
        )
    )
    return _config(folder, text)


def test_a_zipped_source_streams_as_it_would_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stream = true` on a source of a `zip`, or its size: that source's inputs are `Rows`,
    with the in-memory zip's splits and batches; the other source stays in memory. One that
    cannot stream (compressed) gives the error it gives alone."""
    from nndsl.runtime import streaming

    _zip_data(tmp_path)
    memory = load_data(_zip_config(tmp_path, ", stream = false"))
    mapped = load_data(_zip_config(tmp_path, ", stream = true"))
    assert isinstance(mapped.train.x, dict) and isinstance(memory.train.x, dict)
    assert isinstance(mapped.train.x["x"], Rows) and isinstance(mapped.train.x["w"], np.ndarray)
    assert not isinstance(memory.train.x["x"], Rows)
    _assert_same_data(memory, mapped)

    def streams(config: TrainConfig) -> bool:
        x = load_data(config).train.x
        return isinstance(x, dict) and isinstance(x["x"], Rows)

    assert not streams(_zip_config(tmp_path, ""))  # the default: small, in memory
    monkeypatch.setattr(streaming, "AUTO_STREAM_BYTES", 1000)  # `z.npz`'s inputs: 3.6 KB
    assert streams(_zip_config(tmp_path, ""))

    with np.load(tmp_path / "z.npz") as found:  # cannot stream: the error it gives alone
        np.savez_compressed(tmp_path / "z.npz", **dict(found))
    assert not streams(_zip_config(tmp_path, ""))
    with pytest.raises(DataError) as info:
        load_data(_zip_config(tmp_path, ", stream = true"))
    assert str(info.value) == (
        f"{tmp_path.resolve() / 'z.npz'}: array 'x' is compressed (np.savez_compressed), so "
        "its rows cannot be read one batch at a time; re-save it with np.savez, or drop "
        "`stream = true`"
    )


@pytest.mark.parametrize("fmt", ["npz", "csv", "csv groups", "zip"])
def test_streamed_resume_is_bit_identical(fmt: str, tmp_path: Path) -> None:
    write, config = {
        "npz": (_npz_data, _npz_config),
        **CSV_KINDS,
        "zip": (_zip_data, _zip_config),
    }[fmt]
    write(tmp_path)
    memory = fit(config(tmp_path, ", stream = false"), run_dir=tmp_path / "a")
    calls = iter(range(1000))
    stopped = fit(
        config(tmp_path, ", stream = true"),
        run_dir=tmp_path / "b",
        stop=lambda: next(calls) > 10,
    )
    assert stopped.stopped
    resumed = fit(config(tmp_path, ", stream = true"), run_dir=tmp_path / "b", resume=True)
    assert resumed.resumed_from is not None
    for a, b in zip(_weights(memory.params), _weights(resumed.params), strict=True):
        assert a.tobytes() == b.tobytes()
    assert memory.history[-1].train == resumed.history[-1].train
    assert memory.test == resumed.test
