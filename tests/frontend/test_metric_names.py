"""Keras's metric spellings (`acc`, strings), logged names without arguments, and monitors
that use them (issue 18)."""

from __future__ import annotations

from nndsl.frontend import check_source
from nndsl.ops import lookup
from nndsl.ops.callbacks import metric_labels


def _train(settings: str, optimizer: str = "adam") -> object:
    src = f"""
model M() {{
    input x: f32[B, 4]
    return x |> Dense(3)
}}
data d = npz("d.npz")
train M on d {{
    validation_split = 0.2
    optimizer = {optimizer}
    {settings}
}}
"""
    return check_source(src, "m.nn")


def _labels(*calls: tuple[str, dict[str, object]]) -> list[str]:
    specs = [(lookup(n), attrs) for n, attrs in calls]
    return metric_labels(
        (s.name, {a.name: attrs.get(a.name, a.default) for a in s.args}, s.args)
        for s, attrs in specs
        if s is not None
    )


def test_keras_string_spellings_and_acc() -> None:
    result = _train('loss = "cross_entropy"\n    metrics = ["acc", "auc", acc]', optimizer='"adam"')
    assert not result.diagnostics, result.diagnostics  # type: ignore[attr-defined]
    t = result.program.train  # type: ignore[attr-defined]
    assert t.loss.op.name == "cross_entropy" and t.optimizer.op.name == "adam"
    assert [m.op.name for m in t.metrics] == ["accuracy", "auc", "accuracy"]


def test_a_misspelt_string_metric_is_a_diagnostic_with_did_you_mean() -> None:
    result = _train('loss = cross_entropy\n    metrics = ["acuracy"]')
    (d,) = result.diagnostics  # type: ignore[attr-defined]
    assert d.code == "E0101" and "`acuracy`" in d.message and "accuracy" in (d.help or "")


def test_logged_names_have_no_arguments_unless_two_share_a_name() -> None:
    assert _labels(("auc", {"from_logits": True}), ("acc", {})) == ["auc", "accuracy"]
    assert _labels(("top_k_accuracy", {"k": 2}), ("top_k_accuracy", {"k": 3})) == [
        "top_k_accuracy_k2",
        "top_k_accuracy_k3",
    ]
    assert _labels(("auc", {}), ("auc", {})) == ["auc", "auc_1"]


def test_monitor_takes_aliases_and_old_spellings() -> None:
    result = _train(
        "loss = cross_entropy(from_logits = true)\n"
        "    metrics = [acc, auc(from_logits = true)]\n"
        '    callbacks = [early_stopping(monitor = "val_acc"), '
        'reduce_lr_on_plateau(monitor = "auc(from_logits=True)"), checkpoint(best = "val_auc")]'
    )
    assert not result.diagnostics, result.diagnostics  # type: ignore[attr-defined]
    callbacks = result.program.train.callbacks  # type: ignore[attr-defined]
    assert [c.attrs.get("monitor") or c.attrs.get("best") for c in callbacks] == [
        "val_accuracy",
        "auc",
        "val_auc",
    ]


def test_a_monitor_no_metric_logs_is_a_diagnostic_with_did_you_mean() -> None:
    result = _train(
        "loss = cross_entropy\n    metrics = [accuracy]\n"
        '    callbacks = [early_stopping(monitor = "val_acuracy")]'
    )
    (d,) = result.diagnostics  # type: ignore[attr-defined]
    assert d.code == "E0601" and "`val_acuracy`" in d.message
    assert "val_accuracy" in (d.help or "")
