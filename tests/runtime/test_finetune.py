"""Fine-tuning: `trainable = false` on a layer or block application, `freeze` patterns and
`init` from saved weights in `train`; frozen weights keep their values and carry no
optimizer state, a frozen BatchNormalization runs in inference mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

from nndsl.backend.jax.training import steps_for
from nndsl.frontend import check_source
from nndsl.ir import Graph, TrainConfig
from nndsl.runtime import fit

BLOCK = """
block Trunk(units: int) {
  input x: f32[B, F]
  return x |> Dense(units, activation = "relu") |> BatchNormalization()
}
"""

MODEL = (
    BLOCK
    + """
model Net() {
  input x: f32[B, 4]
  h = x |> Trunk(8, trainable = false) |> Dense(6, trainable = false)
  return h |> Dense(3)
}
"""
)

DATA = 'data d = npz("d.npz")\n'

TRAIN = """
train Net on d {
  loss = cross_entropy(from_logits = true)
  optimizer = adam(lr = 0.05)
  epochs = 2
  batch = 16
  seed = 1
}
"""


def _write(tmp_path: Path, text: str) -> Path:
    r = np.random.default_rng(0)
    x = r.normal(size=(96, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    path = tmp_path / "m.nn"
    path.write_text(text)
    return path


def _config(tmp_path: Path, text: str) -> TrainConfig:
    path = _write(tmp_path, text)
    checked = check_source(text, str(path))
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train


def _messages(tmp_path: Path, text: str) -> list[tuple[str, str, str]]:
    path = _write(tmp_path, text)
    out = []
    for d in check_source(text, str(path)).diagnostics:
        start = d.primary.span.start if d.primary is not None else 0
        out.append((d.code, d.message, text[start : start + 40]))
    return out


def _initial(config: TrainConfig) -> tuple[Any, Any]:
    """The weights `fit` starts from."""
    return steps_for(config).model.init(jax.random.fold_in(jax.random.key(config.seed), 0))


def _frozen(graph: Graph) -> dict[str, bool]:
    return {f"{n.path}/{w.name}": w.frozen for n, w in graph.weights()}


def _changed(before: dict[str, dict[str, jax.Array]], after: dict[str, dict[str, jax.Array]]):
    return {
        f"{p}/{k}": not np.array_equal(np.asarray(v), np.asarray(after[p][k]))
        for p, ws in before.items()
        for k, v in ws.items()
    }


def test_trainable_false_freezes_a_layer_and_a_block(tmp_path: Path) -> None:
    config = _config(tmp_path, MODEL + DATA + TRAIN)
    graph = config.graph
    frozen = _frozen(graph)
    assert frozen["trunk/dense/kernel"] and frozen["trunk/batch_normalization/gamma"]
    assert frozen["dense/kernel"] and frozen["dense/bias"]
    assert not frozen["dense_1/kernel"]
    trainable, non_trainable = graph.param_counts()
    assert trainable == 6 * 3 + 3  # the head only
    assert non_trainable == (4 * 8 + 8) + 4 * 8 + (8 * 6 + 6)

    steps = steps_for(config)
    params, state = steps.model.init(jax.random.key(0))
    opt_state = steps.init_opt_state(params)
    # Adam's moments exist for the head only: the frozen weights are masked out.
    leaves = jax.tree.leaves(opt_state)
    sizes = sorted(int(np.size(a)) for a in leaves if np.ndim(a) > 0)
    assert sizes == sorted([18, 3, 18, 3])

    params, state = _initial(config)
    result = fit(config, run_dir=tmp_path / "run")
    changed = _changed(params, result.params)
    assert changed["dense_1/kernel"] and changed["dense_1/bias"]
    assert not any(v for k, v in changed.items() if not k.startswith("dense_1/"))
    # A frozen BatchNormalization normalises with its moving statistics, left unchanged.
    for name, value in state["trunk/batch_normalization"].items():
        np.testing.assert_array_equal(value, result.state["trunk/batch_normalization"][name])


def test_unfrozen_batchnorm_updates_its_statistics(tmp_path: Path) -> None:
    config = _config(
        tmp_path, MODEL.replace("Trunk(8, trainable = false)", "Trunk(8)") + DATA + TRAIN
    )
    _, state = _initial(config)
    result = fit(config, run_dir=tmp_path / "run")
    before = state["trunk/batch_normalization"]["moving_mean"]
    assert not np.array_equal(before, result.state["trunk/batch_normalization"]["moving_mean"])


def test_frozen_batchnorm_uses_moving_statistics_in_training(tmp_path: Path) -> None:
    config = _config(tmp_path, MODEL + DATA + TRAIN)
    model = steps_for(config).model
    params, state = model.init(jax.random.key(0))
    x = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32) * 3 + 1
    train_out, new_state = model.apply(params, state, [x], training=True)
    infer_out, _ = model.apply(params, state, [x], training=False)
    np.testing.assert_allclose(train_out[0], infer_out[0], rtol=1e-6)
    assert jax.tree.all(jax.tree.map(np.array_equal, new_state, state))


def test_trainable_must_be_a_boolean(tmp_path: Path) -> None:
    text = MODEL.replace("Dense(6, trainable = false)", 'Dense(6, trainable = "no")')
    found = _messages(tmp_path, text + DATA + TRAIN)
    assert [c for c, _, _ in found] == ["E0403"], found
    assert found[0][2].startswith('trainable = "no"')


def test_a_block_parameter_named_trainable_is_the_blocks(tmp_path: Path) -> None:
    text = """
block Own(trainable: bool = true) {
  input x: f32[B, F]
  return x |> Dense(2)
}
model Net() {
  input x: f32[B, 4]
  return x |> Own(trainable = false)
}
"""
    config = _config(tmp_path, text + DATA + TRAIN)
    assert not any(_frozen(config.graph).values())


def test_summary_counts_frozen_weights_as_non_trainable(tmp_path: Path) -> None:
    from nndsl.ir.summary import summarize

    config = _config(tmp_path, MODEL + DATA + TRAIN)
    s = summarize(config.graph)
    assert (s.trainable, s.non_trainable) == config.graph.param_counts()


@pytest.mark.parametrize("reuse", [False, True])
def test_frozen_flag_survives_the_memos(tmp_path: Path, reuse: bool) -> None:
    """Block instances replayed from the memo, and a model replayed around its block calls
    after an edit, keep the frozen flags a fresh elaboration gives."""
    from nndsl.check.program import CheckMemo, analyze

    text = MODEL + DATA + TRAIN
    path = str(_write(tmp_path, text))
    memo = CheckMemo()
    edited = text.replace("Dense(units, ", "Dense(units, use_bias = true, ")
    for t in (text, edited, text):
        a = analyze(t, path, memo=memo, reuse=reuse)
        assert a.program is not None and a.program.train is not None
        frozen = _frozen(a.program.train.graph)
        assert frozen["trunk/dense/kernel"] and frozen["dense/kernel"]
        assert not frozen["dense_1/kernel"]


PLAIN = (
    BLOCK
    + """
model Net() {
  input x: f32[B, 4]
  return x |> Trunk(8) |> Dense(6) |> Dense(3)
}
"""
)


def _with(settings: str, model: str = PLAIN) -> str:
    return model + DATA + TRAIN.replace("  seed = 1\n", f"  seed = 1\n{settings}")


def test_freeze_patterns_by_weight_path(tmp_path: Path) -> None:
    config = _config(tmp_path, _with('  freeze = ["trunk", "dense/kernel"]\n'))
    frozen = _frozen(config.graph)
    assert frozen["trunk/dense/kernel"] and frozen["trunk/batch_normalization/beta"]
    assert frozen["dense/kernel"] and not frozen["dense/bias"]
    assert not frozen["dense_1/kernel"]
    # `*` crosses `/`, as fnmatch does
    frozen = _frozen(_config(tmp_path, _with('  freeze = ["trunk/*"]\n')).graph)
    assert [k for k, v in frozen.items() if v] == [k for k in frozen if k.startswith("trunk/")]


def test_freeze_trains_only_the_rest(tmp_path: Path) -> None:
    config = _config(tmp_path, _with('  freeze = ["trunk/*", "dense"]\n'))
    params, _ = _initial(config)
    result = fit(config, run_dir=tmp_path / "run")
    changed = _changed(params, result.params)
    assert {k for k, v in changed.items() if v} == {"dense_1/kernel", "dense_1/bias"}


def test_a_freeze_pattern_matching_nothing_is_a_warning(tmp_path: Path) -> None:
    found = _messages(tmp_path, _with('  freeze = ["trunk", "trnk/*"]\n'))
    assert [(c, s[:8]) for c, _, s in found] == [("W0601", '"trnk/*"')], found
    assert "`trnk/*` matches no weight of `Net`" in found[0][1]


def test_freeze_and_init_need_strings(tmp_path: Path) -> None:
    found = _messages(tmp_path, _with("  freeze = [trunk]\n  init = 3\n  strict = 1\n"))
    assert [c for c, _, _ in found] == ["E0601", "E0601", "E0403"], found


# -- init: start from saved weights ------------------------------------------------------------
PRE = (
    BLOCK
    + """
model Net() {
  input x: f32[B, 4]
  return x |> Trunk(8) |> Dense(HEAD)
}
"""
)


def _saved(tmp_path: Path, head: int = 3) -> tuple[TrainConfig, Any, Any]:
    """A model trained one epoch and saved as `runs/Pre/model.safetensors` in the project."""
    from nndsl.runtime.checkpoint import save_checkpoint

    (tmp_path / "nndsl.toml").write_text("")
    text = PRE.replace("HEAD", str(head)) + DATA + TRAIN.replace("epochs = 2", "epochs = 1")
    config = _config(tmp_path, text)
    result = fit(config, run_dir=tmp_path / "runs" / "Pre")
    save_checkpoint(
        tmp_path / "runs" / "Pre" / "model.safetensors",
        config.graph,
        result.params,
        result.state,
    )
    return config, result.params, result.state


def _fit_with_notes(config: TrainConfig, run_dir: Path) -> tuple[Any, list[str]]:
    from nndsl.runtime import Note

    notes: list[str] = []

    def on_event(event: object) -> None:
        if isinstance(event, Note):
            notes.append(event.message)

    return fit(config, run_dir=run_dir, on_event=on_event), notes


def test_init_loads_by_path_and_skips_a_new_head(tmp_path: Path) -> None:
    _, saved, saved_state = _saved(tmp_path)
    # `dense` keeps its path and shape (loaded, trained); `dense_1` is a new head (skipped)
    model = PRE.replace("Dense(HEAD)", "Dense(3) |> Dense(6)")
    text = _with('  init = "runs/Pre/model.safetensors"\n  freeze = ["trunk"]\n', model)
    config = _config(tmp_path, text)
    assert config.init is not None and config.init.strict
    result, notes = _fit_with_notes(config, tmp_path / "runs" / "Net")
    # the trunk (frozen) holds the saved weights; `dense` (same shape) was loaded and trained
    for name, value in saved["trunk/dense"].items():
        np.testing.assert_array_equal(result.params["trunk/dense"][name], value)
    for name, value in saved_state["trunk/batch_normalization"].items():
        np.testing.assert_array_equal(result.state["trunk/batch_normalization"][name], value)
    (note,) = [n for n in notes if n.startswith("init from")]
    assert "loaded 8 of 10 weights" in note
    assert "skipped (not in the file, initialised afresh): dense_1/kernel, dense_1/bias" in note


def test_init_shape_mismatch_is_an_error_naming_the_weight(tmp_path: Path) -> None:
    from nndsl.runtime import CheckpointError

    _saved(tmp_path, head=3)
    text = _with('  init = "runs/Pre/model.safetensors"\n', PRE.replace("HEAD", "5"))
    config = _config(tmp_path, text)
    with pytest.raises(CheckpointError, match=r"weight dense/kernel has shape \[8, 3\], Net "):
        fit(config, run_dir=tmp_path / "runs" / "Net")


def test_init_not_strict_reports_and_skips_a_mismatch(tmp_path: Path) -> None:
    _, saved, _ = _saved(tmp_path, head=3)
    text = _with(
        '  init = "runs/Pre/model.safetensors"\n  strict = false\n', PRE.replace("HEAD", "5")
    )
    config = _config(tmp_path, text)
    assert config.init is not None and not config.init.strict
    result, notes = _fit_with_notes(config, tmp_path / "runs" / "Net")
    (note,) = [n for n in notes if n.startswith("init from")]
    assert "loaded 6 of 8 weights" in note
    assert not np.array_equal(
        result.params["trunk/dense"]["kernel"], saved["trunk/dense"]["kernel"]
    )
    assert "mismatched (shape; initialised afresh): dense/kernel [8, 3] -> [8, 5]" in note
    assert result.params["dense"]["kernel"].shape == (8, 5)


def test_init_from_another_models_weights_is_one_line(tmp_path: Path) -> None:
    from nndsl.runtime import CheckpointError
    from nndsl.runtime.tensorfile import encode

    config = _config(tmp_path, _with('  init = "other.safetensors"\n'))
    (tmp_path / "other.safetensors").write_bytes(
        encode({"enc/x/w": np.zeros((2,), np.float32)}, {})
    )
    with pytest.raises(CheckpointError) as err:
        fit(config, run_dir=tmp_path / "runs" / "Net")
    message = str(err.value)
    assert "\n" not in message
    assert "no weight matches Net's: the file has enc/x/w; the model has trunk/dense/kernel" in (
        message
    )


def test_init_outside_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "nndsl.toml").write_text("")
    found = _messages(project, _with('  init = "../elsewhere/model.safetensors"\n'))
    assert [(c, s[:10]) for c, _, s in found] == [("E0803", '"../elsewh')], found
    assert "`init` would read `../elsewhere/model.safetensors`, outside the project" in found[0][1]


def test_resume_with_frozen_weights_is_bit_identical(tmp_path: Path) -> None:
    """The masked optimizer state (no moments for frozen weights) checkpoints and resumes."""
    text = (
        MODEL
        + DATA
        + TRAIN.replace(
            "  seed = 1\n", "  seed = 1\n  callbacks = [checkpoint(every = 1, every_steps = 3)]\n"
        )
    )
    config = _config(tmp_path, text)
    full = fit(config, run_dir=tmp_path / "full")
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 4

    assert fit(config, run_dir=tmp_path / "part", stop=stop).stopped
    resumed = fit(config, run_dir=tmp_path / "part", resume=True)
    assert resumed.resumed_from is not None
    for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(resumed.params), strict=True):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
