"""Exporting trained models: ONNX (fp32 or int8), ONNX Runtime's `.ort`, StableHLO.

Every artefact is written atomically (a temporary file, then a rename), so a failure never
leaves a half-written file, and can be verified by reloading it in its own runtime and
comparing with nndsl's JAX `predict` (`verify`). The runtime never prints: the CLI renders
the `ExportReport`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nndsl
from nndsl.backend.jax.compile import Tree
from nndsl.ir import Graph, TrainConfig
from nndsl.runtime.checkpoint import VECTORIZER_KEY, atomic_write, metadata_path, read_metadata
from nndsl.shapes import DType

FORMATS = ("onnx", "ort", "stablehlo")
SUFFIXES = {"onnx": ".onnx", "ort": ".ort", "stablehlo": ".stablehlo"}
STABLEHLO_FORMAT = "nndsl-stablehlo-1"
# fp32 artefacts must agree with JAX to this (ONNX Runtime's kernels round differently)
TOLERANCE = 1e-5


class ExportFailure(Exception):
    """An export that could not be completed; one line for the user."""


@dataclass
class Comparison:
    """The artefact run by its own runtime against nndsl's JAX `predict`."""

    what: str  # "batch 3", "batch 3, T = 7"
    max_abs_diff: float  # over every output
    outputs: dict[str, float] = field(default_factory=dict)  # each output's, by name


@dataclass
class Accuracy:
    """Classification accuracy on the model's test split, before and after quantization."""

    rows: int
    float32: float
    int8: float


@dataclass
class ExportReport:
    path: Path
    format: str
    size: int
    seconds: float
    files: list[Path] = field(default_factory=list)  # written besides `path`
    quantized: bool = False
    comparisons: list[Comparison] = field(default_factory=list)
    accuracy: Accuracy | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def max_abs_diff(self) -> float | None:
        return max((c.max_abs_diff for c in self.comparisons), default=None)


def artefact_metadata(graph: Graph, weights: Path) -> dict[str, str]:
    """What a consumer needs without the `.nn` file: names, types, class names, vocabulary
    (ONNX `metadata_props` values are strings: lists and objects as JSON)."""
    saved: dict[str, Any] = read_metadata(weights) if metadata_path(weights).is_file() else {}
    meta = {
        "producer": f"nndsl {nndsl.__version__}",
        "model": graph.name,
        "model_args": json.dumps({k: str(v) for k, v in graph.args.items()}),
        "inputs": json.dumps({i.name: str(i.type) for i in graph.inputs}),
        "outputs": json.dumps({o.name: str(o.type) for o in graph.outputs}),
    }
    names = saved.get("class_names")
    if isinstance(names, list) and names:
        meta["class_names"] = json.dumps([str(n) for n in names])
    if isinstance(saved.get(VECTORIZER_KEY), dict):
        meta[VECTORIZER_KEY] = json.dumps(saved[VECTORIZER_KEY])
    return meta


def sample_inputs(graph: Graph, batch: int, seed: int = 0, length: int = 5) -> list[np.ndarray]:
    """Deterministic inputs for verification: normal floats, ids 0..1 (valid for any table),
    half-true masks; `B` is `batch`, every other symbolic dim `length`."""
    rng = np.random.default_rng(seed)
    out = []
    for i in graph.inputs:
        shape = []
        for d in i.type.shape:
            n = d.as_int()
            shape.append(n if n is not None else batch if d.as_symbol() == "B" else length)
        if i.type.dtype is DType.BOOL:
            out.append(rng.random(shape) < 0.5)
        elif i.type.dtype.is_int:
            out.append(rng.integers(0, 2, shape).astype(i.type.dtype.numpy_name))
        else:
            out.append(rng.normal(0.0, 1.0, shape).astype(i.type.dtype.numpy_name))
    return out


def _has_symbolic_length(graph: Graph) -> bool:
    return any(
        d.as_int() is None and d.as_symbol() != "B" for i in graph.inputs for d in i.type.shape
    )


def reference_outputs(
    graph: Graph, params: Tree, state: Tree, inputs: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """nndsl's own outputs (JAX, inference mode)."""
    from nndsl.backend.jax.compile import compile_graph

    outputs, _ = compile_graph(graph).apply(params, state, list(inputs), training=False)
    return [np.asarray(y) for y in outputs]


def _verify(
    graph: Graph,
    params: Tree,
    state: Tree,
    run: Any,
) -> list[Comparison]:
    """`run(inputs) -> outputs` against JAX at batch 1 and 3 (and two lengths of `T`)."""
    lengths = (5, 9) if _has_symbolic_length(graph) else (5,)
    out = []
    for batch in (1, 3):
        for length in lengths:
            inputs = sample_inputs(graph, batch, seed=batch, length=length)
            want = reference_outputs(graph, params, state, inputs)
            got = list(run(inputs))
            if len(got) != len(want):
                raise ExportFailure(
                    f"the artefact returned {len(got)} outputs where {graph.name} has {len(want)}"
                )
            diffs: dict[str, float] = {}
            for o, w, g in zip(graph.outputs, want, got, strict=True):
                g = np.asarray(g)
                if g.shape != w.shape:
                    raise ExportFailure(
                        f"the artefact returned shape {list(g.shape)} for output `{o.name}` "
                        f"where nndsl returns {list(w.shape)}"
                    )
                diffs[o.name] = float(np.max(np.abs(g.astype(np.float64) - w), initial=0.0))
            what = f"batch {batch}" + (f", length {length}" if len(lengths) > 1 else "")
            out.append(Comparison(what, max(diffs.values(), default=0.0), diffs))
    return out


def _onnx_runner(blob: bytes, graph: Graph) -> Any:
    import onnxruntime as ort

    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    names = [i.name for i in graph.inputs]
    return lambda inputs: session.run(None, dict(zip(names, inputs, strict=True)))


def _test_accuracy(
    config: TrainConfig | None, graph: Graph, fp32: bytes, int8: bytes
) -> Accuracy | None:
    """Accuracy of both ONNX models on the test split of the file's data, when the file
    trains this model as a classifier and its data has a test split."""
    from nndsl.runtime.data import load_data

    if config is None or config.graph.name != graph.name or len(graph.inputs) != 1:
        return None
    out = graph.outputs[0].type.shape
    if len(out) != 2 or (out[1].as_int() or 0) < 2:
        return None
    splits = load_data(config)
    x, y = np.asarray(splits.test.x), np.asarray(splits.test.y)  # one input: an array
    if len(x) == 0:
        return None
    labels = y if y.ndim == 1 else np.argmax(y, axis=-1)
    scores = []
    for blob in (fp32, int8):
        run = _onnx_runner(blob, graph)
        predicted = np.concatenate(
            [np.argmax(run([x[i : i + 256]])[0], axis=-1) for i in range(0, len(x), 256)]
        )
        scores.append(float(np.mean(predicted == labels.reshape(-1))))
    return Accuracy(len(x), scores[0], scores[1])


def export(
    graph: Graph,
    params: Tree,
    state: Tree,
    *,
    weights: Path,
    format: str,
    out: Path,
    quantize: str | None = None,
    calibration: Mapping[str, np.ndarray] | None = None,
    platforms: Sequence[str] = ("cpu",),
    separate_weights: bool = False,
    check: bool = False,
    config: TrainConfig | None = None,
) -> ExportReport:
    """Write the artefact to `out` (atomically) and report on it; `ExportFailure` otherwise."""
    start = time.perf_counter()
    meta = artefact_metadata(graph, weights)
    if format == "stablehlo":
        report = _export_stablehlo(graph, params, state, meta, out, platforms, separate_weights)
        if check:
            report.comparisons = _verify_stablehlo(graph, params, state, out, report)
        report.seconds = time.perf_counter() - start
        return report

    from nndsl.backend.onnx import ExportError, export_onnx

    try:
        model = export_onnx(graph, params, state, metadata=meta)
    except ExportError as err:  # check_exportable ran first: only a lowering bug gets here
        raise ExportFailure(f"cannot export to ONNX: {err}") from None
    fp32 = model.SerializeToString()
    accuracy = None
    if quantize == "int8":
        from nndsl.backend.onnx.quantize import quantize_int8

        model = quantize_int8(model, calibration)
        blob = model.SerializeToString()
        accuracy = _test_accuracy(config, graph, fp32, blob)
    else:
        blob = fp32
    if format == "ort":
        from nndsl.backend.onnx.ort_format import OrtConversionError, to_ort

        try:
            blob = to_ort(model)
        except OrtConversionError as err:
            raise ExportFailure(str(err)) from None
    atomic_write(out, blob)
    report = ExportReport(out, format, len(blob), 0.0, quantized=quantize is not None)
    report.accuracy = accuracy
    if check or quantize:
        report.comparisons = _verify(graph, params, state, _onnx_runner(blob, graph))
    if check and not quantize and (report.max_abs_diff or 0.0) > TOLERANCE * 10:
        report.notes.append(
            f"ONNX Runtime differs from nndsl by {report.max_abs_diff:.2e} (more than "
            f"{TOLERANCE * 10:.0e}): please report this model"
        )
    report.seconds = time.perf_counter() - start
    return report


def _export_stablehlo(
    graph: Graph,
    params: Tree,
    state: Tree,
    meta: dict[str, str],
    out: Path,
    platforms: Sequence[str],
    separate_weights: bool,
) -> ExportReport:
    import safetensors.numpy

    from nndsl.backend.jax.export import export_stablehlo

    try:
        art = export_stablehlo(
            graph, params, state, platforms=platforms, separate_weights=separate_weights
        )
    except ValueError as err:
        raise ExportFailure(f"cannot export to StableHLO: {err}") from None
    files = []
    sidecar: dict[str, Any] = {
        **{k: _json_or_text(v) for k, v in meta.items()},
        "format": STABLEHLO_FORMAT,
        "platforms": list(art.platforms),
        "inputs": [_io(i.name, i.type) for i in graph.inputs],
        "outputs": [_io(o.name, o.type) for o in graph.outputs],
        "weights": None,
        "call": "exported.call(*inputs)",
    }
    if art.weights is not None:
        weights_file = out.with_name(out.name + ".safetensors")
        atomic_write(weights_file, safetensors.numpy.save(art.weights))
        sidecar["weights"] = weights_file.name
        sidecar["call"] = "exported.call(safetensors.numpy.load_file(weights), *inputs)"
        files.append(weights_file)
    atomic_write(out, art.blob)
    json_file = out.with_name(out.name + ".json")
    atomic_write(json_file, (json.dumps(sidecar, indent=2) + "\n").encode())
    files.append(json_file)
    return ExportReport(out, "stablehlo", len(art.blob), 0.0, files=files)


def _verify_stablehlo(
    graph: Graph, params: Tree, state: Tree, out: Path, report: ExportReport
) -> list[Comparison]:
    """Reload the written artefact (and weights) from disk and compare."""
    import jax
    import safetensors.numpy

    exported = jax.export.deserialize(bytearray(out.read_bytes()))
    weights_file = next((f for f in report.files if f.suffix == ".safetensors"), None)
    if weights_file is None:
        return _verify(graph, params, state, lambda xs: exported.call(*xs))  # type: ignore[no-untyped-call]
    flat = safetensors.numpy.load_file(str(weights_file))
    return _verify(
        graph,
        params,
        state,
        lambda xs: exported.call(flat, *xs),  # type: ignore[no-untyped-call]
    )


def _io(name: str, type: Any) -> dict[str, Any]:
    return {
        "name": name,
        "dtype": type.dtype.numpy_name,
        "shape": [d.as_int() if d.as_int() is not None else str(d) for d in type.shape],
    }


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
