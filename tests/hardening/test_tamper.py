"""Checkpoint and weights tampering: every metadata field and header entry mutated (type,
range, missing, extra). Each outcome is a one-line `CheckpointError` naming the file and the
field, or one of the documented acceptances (`ACCEPTED`: fields nndsl does not need, unknown
keys, weights without a checksum)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from nndsl.runtime import CheckpointError, Note, fit, load_weights, read_metadata, save_checkpoint
from nndsl.runtime.checkpoint import latest_training_state, load_training_state
from tests.backend.graphs import call, mlp
from tests.runtime.helpers import blobs, config_for, write_npz

Mutation = Callable[[Any], Any]
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A run directory with training checkpoints (early stopping, plateau, checkpoint
    callbacks: every kind of callback state) and saved weights."""
    root = tmp_path_factory.mktemp("tamper")
    x, y = blobs(n=60)
    write_npz(root, x=x, y=y)
    callbacks = [
        call("early_stopping", monitor="loss", patience=5),
        call("reduce_lr_on_plateau", monitor="loss", factor=0.5, patience=1),
        call("checkpoint", every=1, every_steps=2, keep=2, best="val_accuracy"),
    ]
    cfg = dataclasses.replace(
        config_for(root, graph=mlp(batch_norm=True), epochs=1), callbacks=callbacks
    )
    fit(cfg, run_dir=root / "run")
    return root, cfg


def _copy_run(trained: tuple[Path, Any], tmp_path: Path) -> Path:
    shutil.copytree(trained[0] / "run", tmp_path / "run")
    return tmp_path / "run"


def _latest(run: Path) -> Path:
    latest = latest_training_state(run)
    assert latest is not None
    return latest


def _one_line(err: pytest.ExceptionInfo[CheckpointError], *parts: str) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    for part in parts:
        assert part in text, text
    return text


# -- training checkpoints: meta.json ---------------------------------------------------------
def _set(key: str, value: Any) -> Mutation:
    def mutate(meta: Any) -> Any:
        meta[key] = value
        return meta

    return mutate


def _drop(key: str) -> Mutation:
    def mutate(meta: Any) -> Any:
        del meta[key]
        return meta

    return mutate


REQUIRED = ["format", "model", "seed", "epoch", "step", "position", "loss_sum", "applied"]
REQUIRED += ["callbacks"]
OPTIONAL = ["nndsl_version", "skipped", "stop_training", "metric_stats", "text_vectorizer"]
OPTIONAL += ["state_sha256"]
INTS = ["epoch", "step", "position", "applied", "skipped"]

# (mutation, field named in the error), or (mutation, None) for a documented acceptance.
TRAIN_CASES: dict[str, tuple[Mutation, str | None]] = {
    **{f"missing {k}": (_drop(k), k) for k in REQUIRED},
    **{f"missing {k}": (_drop(k), None) for k in OPTIONAL},
    **{f"{k} a list": (_set(k, [1]), k) for k in REQUIRED + OPTIONAL if k != "metric_stats"},
    **{f"{k} a string": (_set(k, "abc"), k) for k in [*INTS, "seed", "loss_sum"]},
    **{f"{k} 10**30": (_set(k, 10**30), k) for k in INTS},
    **{f"{k} negative": (_set(k, -1), k) for k in INTS},
    **{f"{k} a float": (_set(k, 2.5), k) for k in INTS},
    **{f"{k} true": (_set(k, True), k) for k in INTS},
    "step 2**31 (int32 on the device)": (_set("step", 2**31), "step"),
    "position past the step count": (_set("position", 10**6), "position"),
    "epoch past the step count": (_set("epoch", 10**6), "epoch"),
    "loss_sum NaN": (_set("loss_sum", float("nan")), "loss_sum"),
    "loss_sum Infinity": (_set("loss_sum", float("inf")), "loss_sum"),
    "loss_sum 1e300": (_set("loss_sum", 1e300), None),  # a sum: large, harmless
    "format another": (_set("format", "nndsl-training-state-0"), "format"),
    "stop_training a string": (_set("stop_training", "yes"), "stop_training"),
    "model another (refused by fit)": (_set("model", "Other"), None),
    "nndsl_version another": (_set("nndsl_version", "9.9"), None),
    "extra key": (_set("extra", {"a": [1]}), None),
    "callbacks [{}]": (_set("callbacks", [{}]), "callbacks[0].name"),
    "callbacks [1]": (_set("callbacks", [1]), "callbacks[0]"),
    "callback state a list": (
        lambda m: _cb(m, 0, state=[1]),
        "callbacks[0].state",
    ),
    "callback wait a string": (lambda m: _cb(m, 1, wait="x"), "callbacks[1].state.wait"),
    "callback wait negative": (lambda m: _cb(m, 1, wait=-3), "callbacks[1].state.wait"),
    "callback cooling 10**30": (lambda m: _cb(m, 1, cooling=10**30), "cooling"),
    "callback best NaN": (lambda m: _cb(m, 0, best=float("nan")), "callbacks[0].state.best"),
    "callback best a string": (lambda m: _cb(m, 0, best="x"), "callbacks[0].state.best"),
    "callback best null": (lambda m: _cb(m, 0, best=None), None),
    "callback tensors a string": (
        lambda m: {**m, "callbacks": [{**m["callbacks"][0], "tensors": "no"}]},
        "callbacks[0].tensors",
    ),
    "metric_stats a number": (_set("metric_stats", 5), "metric_stats"),
    "metric_stats [[1]]": (_set("metric_stats", [[1]]), "metric_stats[0][0]"),
    "metric_stats an unknown statistic": (
        _set("metric_stats", [["count", "bogus"]]),
        "metric_stats[0][1]",
    ),
    "metric_stats of a second metric": (
        _set("metric_stats", [["count", "total"], ["count"]]),
        "metric_stats[1][0]",
    ),
    "stop_training without early_stopping": (
        lambda m: {**m, "stop_training": True, "callbacks": m["callbacks"][1:]},
        "stop_training",
    ),
    "state_sha256 another": (_set("state_sha256", "0" * 64), "state_sha256"),
    "text_vectorizer a number": (_set("text_vectorizer", 3), "text_vectorizer"),
}


def _cb(meta: Any, index: int, **state: Any) -> Any:
    if "state" in state and not isinstance(state["state"], dict):
        meta["callbacks"][index]["state"] = state["state"]
    else:
        meta["callbacks"][index]["state"].update(state)
    return meta


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_training_meta_field(trained: tuple[Path, Any], tmp_path: Path, case: str) -> None:
    latest = _latest(_copy_run(trained, tmp_path))
    meta_file = latest / "meta.json"
    mutate, field = TRAIN_CASES[case]
    meta = mutate(copy.deepcopy(json.loads(meta_file.read_text())))
    meta_file.write_text(json.dumps(meta))
    if field is None:
        load_training_state(latest)
        return
    with pytest.raises(CheckpointError) as err:
        load_training_state(latest)
    text = _one_line(err, field)
    assert text.startswith(str(latest)), text


FILE_CASES: dict[str, Callable[[Path], None]] = {
    "a list instead of an object": lambda p: p.write_text("[1, 2]"),
    "empty": lambda p: p.write_text(""),
    "not JSON": lambda p: p.write_text("{'step': 1"),
    "100k-deep nesting": lambda p: p.write_text(DEEP),
    "not UTF-8": lambda p: p.write_bytes(b'{"step": "\xff"}'),
    "a folder": lambda p: (p.unlink(), p.mkdir()),  # type: ignore[func-returns-value]
    "a FIFO": lambda p: (p.unlink(), os.mkfifo(p)),  # type: ignore[func-returns-value]
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_training_meta_file(trained: tuple[Path, Any], tmp_path: Path, case: str) -> None:
    latest = _latest(_copy_run(trained, tmp_path))
    FILE_CASES[case](latest / "meta.json")
    with pytest.raises(CheckpointError) as err:
        load_training_state(latest)
    _one_line(err, "meta.json")


def test_state_file_from_another_checkpoint(trained: tuple[Path, Any], tmp_path: Path) -> None:
    run = _copy_run(trained, tmp_path)
    older, latest = sorted((run / "checkpoints").glob("step-*"))
    shutil.copy(older / "state.safetensors", latest / "state.safetensors")
    with pytest.raises(CheckpointError) as err:
        load_training_state(latest)
    _one_line(err, "state_sha256", "different checkpoints")


def test_flipped_byte_in_the_state_file(trained: tuple[Path, Any], tmp_path: Path) -> None:
    latest = _latest(_copy_run(trained, tmp_path))
    data = bytearray((latest / "state.safetensors").read_bytes())
    data[-3] ^= 0x40
    (latest / "state.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        load_training_state(latest)
    _one_line(err, "state.safetensors", "checksum")


def test_checkpoint_folders(trained: tuple[Path, Any], tmp_path: Path) -> None:
    run = _copy_run(trained, tmp_path)
    good = _latest(run)
    (run / "checkpoints/step-abc").mkdir()  # not nndsl's: ignored
    (run / "checkpoints/step-999999999").mkdir()  # incomplete: skipped
    assert latest_training_state(run) == good
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").write_text("")
    with pytest.raises(CheckpointError) as err:
        latest_training_state(run)
    _one_line(err, "checkpoints: not a folder")


# -- training checkpoints through fit(resume=True): what only the section can tell ------------
def _resume(trained: tuple[Path, Any], tmp_path: Path, mutate: Mutation) -> list[object]:
    run = _copy_run(trained, tmp_path)
    meta_file = _latest(run) / "meta.json"
    meta_file.write_text(json.dumps(mutate(json.loads(meta_file.read_text()))))
    events: list[object] = []
    fit(trained[1], run_dir=run, resume=True, on_event=events.append, data=None)
    return events


FIT_CASES: dict[str, tuple[Mutation, str]] = {
    "model another": (_set("model", "Other"), "written for model Other"),
    "seed another": (_set("seed", 99), "with seed 99"),
    "callbacks renamed": (lambda m: _cb_names(m), "written with callbacks"),
    "metric_stats missing a metric": (_set("metric_stats", []), "metric_stats"),
    "position past the epoch's end": (lambda m: {**m, "position": 4, "step": 4}, "position"),
}


def _cb_names(meta: Any) -> Any:
    meta["callbacks"][0]["name"] = "csv_log"
    return meta


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(FIT_CASES))
def test_resume_refuses(trained: tuple[Path, Any], tmp_path: Path, case: str) -> None:
    mutate, part = FIT_CASES[case]
    with pytest.raises(CheckpointError) as err:
        _resume(trained, tmp_path, mutate)
    _one_line(err, part)


@pytest.mark.slow
def test_resume_of_an_early_stopped_run_trains_nothing(
    trained: tuple[Path, Any], tmp_path: Path
) -> None:
    """`stop_training = true` with an early_stopping callback is a run that had stopped: a
    documented acceptance, said in a note."""
    events = _resume(trained, tmp_path, _set("stop_training", True))
    notes = [e.message for e in events if isinstance(e, Note)]
    assert any("had stopped early" in n and "nothing is left to train" in n for n in notes)


# -- saved weights: the safetensors header ---------------------------------------------------
@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    graph = mlp(batch_norm=True)
    params, state = compile_graph(graph).init(jax.random.key(0))
    root = tmp_path_factory.mktemp("weights")
    path = save_checkpoint(
        root / "model.safetensors", graph, params, state, extra={"class_names": ["a", "b", "c"]}
    )
    return path, graph


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _join(header: dict[str, Any], body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def _entry(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(header: dict[str, Any]) -> None:
        header[name].update(changes)

    return mutate


KERNEL = "dense/kernel"  # f32[4, 16]
HEADER_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str | None]] = {
    "dtype unknown": (_entry(KERNEL, dtype="F99"), f"{KERNEL}.dtype"),
    "dtype a number": (_entry(KERNEL, dtype=5), f"{KERNEL}.dtype"),
    "dtype another of the same size": (_entry(KERNEL, dtype="I32"), "has dtype int32"),
    "shape another of the same size": (_entry(KERNEL, shape=[16, 4]), "has shape [16, 4]"),
    "shape larger than its bytes": (_entry(KERNEL, shape=[400, 16]), f"{KERNEL}.data_offsets"),
    "shape negative": (_entry(KERNEL, shape=[-4, 16]), f"{KERNEL}.shape"),
    "shape huge": (_entry(KERNEL, shape=[2**40, 2**40]), f"{KERNEL}.data_offsets"),
    "shape a string": (_entry(KERNEL, shape="4x16"), f"{KERNEL}.shape"),
    "data_offsets missing": (lambda h: h[KERNEL].pop("data_offsets"), "data_offsets"),
    "data_offsets past the end": (
        _entry(KERNEL, data_offsets=[10**9, 10**9 + 256]),
        "data_offsets",
    ),
    "data_offsets overlapping": (_entry("dense/bias", data_offsets=[0, 64]), "data_offsets"),
    "entry a list": (lambda h: h.update({KERNEL: [1]}), KERNEL),
    "entry missing": (lambda h: h.pop("dense/bias"), "gap"),
    "entry renamed": (lambda h: h.update({"other/w": h.pop("dense/bias")}), "missing weights"),
    "entry extra (empty)": (
        lambda h: h.update({"extra/w": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}),
        "weights not in MLP: extra/w",
    ),
    "__metadata__ a number": (lambda h: h.update({"__metadata__": 5}), "__metadata__"),
    "checksum changed": (lambda h: h["__metadata__"].update(sha256="0" * 64), "checksum"),
    "checksum missing": (lambda h: h["__metadata__"].pop("sha256"), None),
    "format missing": (lambda h: h["__metadata__"].pop("format"), None),
    "extra metadata": (lambda h: h["__metadata__"].update(note="hello"), None),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_weights_header_entry(weights: tuple[Path, Any], tmp_path: Path, case: str) -> None:
    path, graph = weights
    header, body = _split(path.read_bytes())
    mutate, part = HEADER_CASES[case]
    mutate(header)
    target = tmp_path / "model.safetensors"
    target.write_bytes(_join(header, body))
    if part is None:
        load_weights(target, graph)
        return
    with pytest.raises(CheckpointError) as err:
        load_weights(target, graph)
    assert _one_line(err, part).startswith(str(target))


BYTES_CASES: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda d: b"",
    "truncated": lambda d: d[: len(d) - 5],
    "header length huge": lambda d: (2**62).to_bytes(8, "little") + d[8:],
    "header length zero": lambda d: bytes(8) + d[8:],
    "header not JSON": lambda d: d[:8] + b"\x00" * (len(d) - 8),
    "header 100k-deep": lambda d: len(DEEP).to_bytes(8, "little") + DEEP.encode(),
    "flipped byte in the data": lambda d: d[:-1] + bytes([d[-1] ^ 1]),
    "flipped byte in the header": lambda d: d[:20] + bytes([d[20] ^ 0x20]) + d[21:],
    "trailing bytes": lambda d: d + b"\x00" * 8,
}


@pytest.mark.parametrize("case", sorted(BYTES_CASES))
def test_weights_bytes(weights: tuple[Path, Any], tmp_path: Path, case: str) -> None:
    path, graph = weights
    target = tmp_path / "model.safetensors"
    target.write_bytes(BYTES_CASES[case](path.read_bytes()))
    with pytest.raises(CheckpointError) as err:
        load_weights(target, graph)
    _one_line(err, str(target))


def test_weights_are_byte_identical_across_saves(tmp_path: Path) -> None:
    graph = mlp(batch_norm=True)
    params, state = compile_graph(graph).init(jax.random.key(0))
    a = save_checkpoint(tmp_path / "a.safetensors", graph, params, state, seed=1)
    # the same arrays in another dict order
    shuffled = {k: dict(reversed(v.items())) for k, v in reversed(params.items())}
    b = save_checkpoint(tmp_path / "b.safetensors", graph, shuffled, state, seed=1)
    assert a.read_bytes() == b.read_bytes()
    header, _ = _split(a.read_bytes())
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])
    import safetensors.numpy  # still a valid file for the `safetensors` package

    loaded = safetensors.numpy.load_file(str(a))
    assert np.array_equal(loaded["dense/kernel"], np.asarray(params["dense"]["kernel"]))


# -- saved weights: the JSON beside them ------------------------------------------------------
WEIGHTS_META_CASES: dict[str, tuple[Mutation, str | None]] = {
    "missing format": (_drop("format"), "format"),
    "missing model": (_drop("model"), "model"),
    "format another": (_set("format", "x"), "format"),
    "model a number": (_set("model", 1), "model"),
    "class_names a number": (_set("class_names", 5), "class_names"),
    "class_names of numbers": (_set("class_names", [1, 2]), "class_names[0]"),
    "args a list": (_set("args", []), "args"),
    "inputs of numbers": (_set("inputs", {"x": 1}), "inputs.x"),
    "state a string": (_set("state", "x"), "state"),
    "seed a string": (_set("seed", "x"), "seed"),
    "epochs negative": (_set("epochs", -1), "epochs"),
    "metrics a list": (_set("metrics", [1]), "metrics"),
    "metrics a string value": (_set("metrics", {"loss": "x"}), "metrics.loss"),
    "metrics NaN": (_set("metrics", {"loss": float("nan")}), None),  # a report of a NaN loss
    "text_vectorizer a list": (_set("text_vectorizer", [1]), "text_vectorizer"),
    "missing metrics": (_drop("metrics"), None),
    "missing class_names": (_drop("class_names"), None),
    "extra key": (_set("extra", [1]), None),
    "a list": (lambda m: [m], "expected an object"),
}


@pytest.mark.parametrize("case", sorted(WEIGHTS_META_CASES))
def test_weights_meta_field(weights: tuple[Path, Any], tmp_path: Path, case: str) -> None:
    path, _ = weights
    target = tmp_path / "model.safetensors"
    shutil.copy(path, target)
    mutate, field = WEIGHTS_META_CASES[case]
    meta = mutate(json.loads(path.with_suffix(".json").read_text()))
    target.with_suffix(".json").write_text(json.dumps(meta))
    if field is None:
        read_metadata(target)
        return
    with pytest.raises(CheckpointError) as err:
        read_metadata(target)
    assert _one_line(err, field).startswith(str(target.with_suffix(".json")))


def test_weights_meta_deep_nesting(weights: tuple[Path, Any], tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    target.with_suffix(".json").write_text(DEEP)
    with pytest.raises(CheckpointError) as err:
        read_metadata(target)
    _one_line(err, "nested too deeply")


@pytest.mark.slow
def test_predict_with_tampered_metadata_is_one_line(
    weights: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nndsl.cli.main import main

    path, _ = weights
    (tmp_path / "m.nn").write_text(MLP_SOURCE)
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.float32))
    shutil.copy(path, tmp_path / "w.safetensors")
    meta = json.loads(path.with_suffix(".json").read_text())
    argv = ["predict", str(tmp_path / "m.nn"), "--weights", str(tmp_path / "w.safetensors")]
    argv += ["--input", str(tmp_path / "x.npy"), "--no-cache"]
    for bad in ({**meta, "class_names": 5}, DEEP):
        (tmp_path / "w.json").write_text(bad if isinstance(bad, str) else json.dumps(bad))
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("nnrun: error: "), err
        assert "w.json" in err


MLP_SOURCE = """
model MLP() {
    input x: f32[B, 4]
    h = x |> Dense(16, activation = "relu") |> BatchNorm()
    return h |> Dense(3)
}
"""
