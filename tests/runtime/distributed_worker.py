"""Run by tests/runtime/test_distribute.py in a subprocess with simulated CPU devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=4` must be set before JAX is imported).

`python distributed_worker.py DIR`: trains a tiny digits MLP on one device and under
data-parallel, 2x2 data x model and fsdp layouts, evaluating its validation split (44 rows:
batches of 32 and 12, the second padded) each epoch and its test split (38 rows) at the end,
recording where each evaluation batch's arrays were; then 4 devices for one epoch, resumed on 2
devices and on 1; then a tiny `std.transformer` text classifier (the 40 example reviews, 5
steps) on one device and under the same three layouts, its attention, dense and embedding
kernels split over `model` in the 2x2 one. Prints one JSON object: losses, weight differences
against the reference runs and the partition spec each weight ended with.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import jax
import numpy as np

import nndsl.runtime.train as train_module
from nndsl.backend.jax.training import Steps, steps_for
from nndsl.frontend import check_source
from nndsl.ir.distribute import FSDP, Distribution, ShardRule
from nndsl.runtime.data import load_data
from nndsl.runtime.train import enable_compile_cache, fit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SOURCE = """
model Net() {
    input x: f32[B, 64]
    return x |> Dense(8) |> relu |> Dense(10)
}
data digits = npz("digits.npz", x = "images", y = "labels", test_split = 0.15)
train Net on digits {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(0.01)
    metrics = [accuracy]
    batch = 32
    epochs = EPOCHS
    validation_split = 0.2
    callbacks = [checkpoint(every = 1, keep = 2)]
}
"""

LAYOUTS = {
    "dp": Distribution((("data", 4),), "data"),
    "dp_model": Distribution(
        (("data", 2), ("model", 2)),
        "data",
        (ShardRule("dense*/kernel", (None, "model")),),
    ),
    "fsdp": Distribution((("data", 4),), "data", preset=FSDP),
}


# The Transformer example's model at a tiny size: 8 tokens of a 64-word vocabulary, width 8, 2
# heads (each split over `model`). One epoch of 5 steps of 8 reviews. Dropout is off: its
# random bits double the step's compile time on CPU (sharding does not change them: with
# `rate = 0.1` the layouts measured the same differences).
TRANSFORMER = """
import std.transformer
data reviews = text_folder("reviews", max_tokens = 64, output_sequence_length = 8, test_split = 0.0)
train TransformerClassifier(
    vocab = 64, maxlen = 8, dim = 8, heads = 2, ff_dim = 8, hidden = 4, rate = 0.0,
    classifier_activation = "linear"
) on reviews {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 1e-2)
    epochs = 1
    batch = 8
    validation_split = 0.0
}
"""

_HEADS = (None, "model", None)  # query/key/value kernels [dim, heads, key_dim]: heads split
TRANSFORMER_LAYOUTS = {
    "dp": LAYOUTS["dp"],
    "dp_model": Distribution(
        (("data", 2), ("model", 2)),
        "data",
        (
            ShardRule("*/query.kernel", _HEADS),
            ShardRule("*/key.kernel", _HEADS),
            ShardRule("*/value.kernel", _HEADS),
            ShardRule("*/attention_output.kernel", ("model", None, None)),  # [heads, key_dim, dim]
            ShardRule("*dense*/kernel", (None, "model")),
            ShardRule("*/embedding/embeddings", ("model", None)),  # the vocabulary's rows
        ),
    ),
    "fsdp": LAYOUTS["fsdp"],
}


# The digits CNN example with a BatchNormalization after its second convolution: its moving
# statistics are state, which every layout must reduce over the global batch. SGD, not Adam:
# the bias before the BatchNormalization has a gradient of float noise (the normalization
# cancels it), which Adam scales up to a full step whose sign the summation order decides.
CNN = """
data digits = npz("digits.npz", x = "images_2d", y = "labels", test_split = 0.15)
train DigitsCNN on digits {
    loss = cross_entropy(from_logits = true)
    optimizer = sgd(0.05, momentum = 0.9)
    metrics = [accuracy]
    batch = 32
    epochs = EPOCHS
    validation_split = 0.2
}
"""
CNN_LAYOUTS = {
    "dp": LAYOUTS["dp"],
    "dp_model": Distribution(  # output channels split over `model`
        (("data", 2), ("model", 2)),
        "data",
        (ShardRule("conv2d*/kernel", (None, None, None, "model")),),
    ),
    "fsdp": LAYOUTS["fsdp"],
}


def _cnn_source() -> str:
    text = (EXAMPLES / "digits_cnn.nn").read_text()
    model = text[: text.index("data digits")]
    conv = 'h = h |> Conv2D(32, 3, padding = "same", activation = "relu")'
    assert conv in model
    return model.replace(conv, f"{conv} |> BatchNormalization()") + CNN


def _config(root: Path, epochs: int, source: str = SOURCE):  # type: ignore[no-untyped-def]
    text = source.replace("EPOCHS", str(epochs))
    path = root / "net.nn"
    path.write_text(text)
    result = check_source(text, str(path))
    assert not result.has_errors, result.diagnostics
    return result.program.train


def _flat(params: dict) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    return {f"{n}/{k}": np.asarray(v) for n, ws in params.items() for k, v in ws.items()}


def _specs(params: dict) -> dict[str, list[str | None]]:  # type: ignore[type-arg]
    out = {}
    for n, ws in params.items():
        for k, v in ws.items():
            spec = getattr(v.sharding, "spec", ())
            out[f"{n}/{k}"] = [None if a is None else str(a) for a in spec]
    return out


def _diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


_FINAL: dict[str, dict[str, np.ndarray]] = {}  # each layout's final weights


def _spec(a: Any) -> list[str | None]:
    return [None if x is None else str(x) for x in getattr(a.sharding, "spec", ())]


def _recording_steps_for(*args: Any, **kwargs: Any) -> Steps:
    """`steps_for` whose `eval_step` records the partition spec and per-device shape of each
    call's inputs (`seen`), keeping the jitted step (`jitted`) to count its programs."""
    steps = steps_for(*args, **kwargs)
    jitted = steps.eval_step

    def eval_step(params: Any, state: Any, x: Any, y: Any, mask: Any) -> Any:
        eval_step.seen.append(  # type: ignore[attr-defined]
            {
                "x": _spec(x),
                "y": _spec(y),
                "mask": _spec(mask),
                "x_shard": list(x.sharding.shard_shape(x.shape)),
                "devices": len(x.sharding.device_set),
            }
        )
        return jitted(params, state, x, y, mask)

    eval_step.seen = []  # type: ignore[attr-defined]
    eval_step.jitted = jitted  # type: ignore[attr-defined]
    return replace(steps, eval_step=eval_step)


train_module.steps_for = _recording_steps_for  # what `fit` builds its steps with


def _evaluations(r: Any) -> dict[str, object]:
    """Each epoch's validation logs, the test split's, and where the evaluation inputs were."""
    return {
        "validation": [e.validation for e in r.history],
        "test": r.test,
        "eval_inputs": r.steps.eval_step.seen,
        "eval_compiles": r.steps.eval_step.jitted._cache_size(),  # full and padded: one
    }


def layouts(
    root: Path, source: str = SOURCE, runs: str = "runs", dists: dict[str, Distribution] = LAYOUTS
) -> dict[str, object]:
    config = _config(root, 2, source)
    splits = load_data(config, base_dir=root)
    base = fit(config, data=splits, base_dir=root, run_dir=root / f"{runs}/base")
    ref = _flat(base.params)
    out: dict[str, object] = {
        "devices": jax.device_count(),
        "base": [e.train["loss"] for e in base.history],
        "base_eval": _evaluations(base),
        "state": sorted(_flat(base.state)),
    }
    for name, dist in dists.items():
        r = fit(
            replace(config, distribute=dist),
            data=splits,
            base_dir=root,
            run_dir=root / f"{runs}/{name}",
        )
        if source is SOURCE:
            _FINAL[name] = _flat(r.params)
        opt_specs = [
            [None if a is None else str(a) for a in getattr(leaf.sharding, "spec", ())]
            for leaf in jax.tree.leaves(r.opt_state)
            if getattr(leaf, "ndim", 0) == 2
        ]
        out[name] = {
            "losses": [e.train["loss"] for e in r.history],
            "max_param_diff": _diff(_flat(r.params), ref),
            "max_state_diff": _diff(_flat(r.state), _flat(base.state)) if base.state else 0.0,
            "specs": _specs(r.params),
            "opt_specs": opt_specs,
            "n_devices": len(next(iter(jax.tree.leaves(r.params))).sharding.device_set),
            "compiles": r.steps.train_step._cache_size(),  # one program for every step
            **_evaluations(r),
        }
        query = r.params.get("transformer_encoder/multi_head_attention", {}).get("query.kernel")
        if query is not None:  # the array itself: where its pieces are
            out[name]["query_shard"] = [  # type: ignore[index]
                list(query.sharding.shard_shape(query.shape)),
                len(query.sharding.device_set),
            ]
    return out


def resume(root: Path) -> dict[str, object]:
    """The `dp` run of `layouts` (2 epochs on 4 devices) is the uninterrupted reference."""
    whole = _config(root, 2)
    splits = load_data(whole, base_dir=root)
    ref = _FINAL["dp"]
    four = LAYOUTS["dp"]
    first = fit(
        replace(_config(root, 1), distribute=four),
        data=splits,
        base_dir=root,
        run_dir=root / "runs/r",
    )
    assert first.global_steps > 0
    out: dict[str, object] = {}
    for name, dist in (("two", Distribution((("data", 2),), "data")), ("one", None)):
        run_dir = root / f"runs/{name}"
        shutil.copytree(root / "runs/r", run_dir)
        r = fit(
            replace(whole, distribute=dist),
            data=splits,
            base_dir=root,
            run_dir=run_dir,
            resume=True,
        )
        out[name] = {
            "resumed": r.resumed_from is not None,
            "max_param_diff": _diff(_flat(r.params), ref),
        }
    return out


def transformer(root: Path) -> dict[str, object]:
    shutil.copytree(EXAMPLES / "data/reviews", root / "reviews")
    return layouts(root, TRANSFORMER, "runs-transformer", TRANSFORMER_LAYOUTS)


def _small_digits(root: Path) -> None:
    """The first 256 digits: 6 steps an epoch (174 rows train) keep each run to its compilation."""
    with np.load(EXAMPLES / "data/digits.npz") as d:
        images, labels = d["images"][:256], d["labels"][:256]
    np.savez(
        root / "digits.npz", images=images, images_2d=images.reshape(-1, 8, 8, 1), labels=labels
    )


def cnn(root: Path) -> dict[str, object]:
    return layouts(root, _cnn_source(), "runs-cnn", CNN_LAYOUTS)


if __name__ == "__main__":
    root = Path(sys.argv[1])
    _small_digits(root)
    enable_compile_cache(root / "cache")  # runs with the same programs compile once
    out = {
        "layouts": layouts(root),
        "resume": resume(root),
        "cnn": cnn(root),
        "transformer": transformer(root),
    }
    print(json.dumps(out))
