"""Checkpoints: weights in `.safetensors` (never pickle), metadata in a JSON file beside it.

Tensor keys are `"{node path}/{weight name}"`. Both files are written atomically (temp file in
the same directory, fsync, `os.replace`, fsync of the directory), so a crash leaves either the
old or the new checkpoint, never a torn one.

A model trained on a text source also keeps its vectorizer (vocabulary, idf weights, sequence
length) in that JSON, under `text_vectorizer`, so `nnrun predict` can read raw text.

Files read back are untrusted input: every JSON field is checked (`WEIGHTS_META`, `TRAIN_META`:
types, ranges, required keys), the safetensors header is checked against the model before any
tensor is read, and the sha256 of the tensor bytes (in the header) is verified; anything else is
a one-line `CheckpointError` naming the file and the field. Accepted on purpose: unknown keys
(a newer version's), optional keys missing, weights without a checksum (written before it),
metrics that are NaN (a report), and a training checkpoint whose run had stopped early or
finished (resuming it trains nothing, and says so).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

import nndsl
from nndsl.backend.jax.compile import Tree
from nndsl.ir import Graph
from nndsl.ops import format_value
from nndsl.runtime import schema as s
from nndsl.runtime.sources import TextVectorizer
from nndsl.runtime.tensorfile import Entry, TensorFileError, decode, encode

FORMAT = "nndsl-checkpoint-1"
VECTORIZER_KEY = "text_vectorizer"


class CheckpointError(Exception):
    """A checkpoint that cannot be read or does not fit the model; one line for the user."""


def metadata_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def _flatten(tree: Tree) -> dict[str, np.ndarray]:
    return {
        f"{node}/{name}": np.asarray(host_array(value), order="C")  # keeps 0-d
        for node, weights in tree.items()
        for name, value in weights.items()
    }


def save_checkpoint(
    path: str | Path,
    graph: Graph,
    params: Tree,
    state: Tree,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    metrics: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
    vectorizer: TextVectorizer | None = None,
) -> Path:
    """Write `path` (.safetensors) and its `.json` metadata; returns the weights' path."""
    path = Path(path)
    tensors = _flatten(params) | _flatten(state)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "nndsl_version": nndsl.__version__,
        "model": graph.name,
        "args": {k: format_value(v) for k, v in graph.args.items()},
        "inputs": {i.name: str(i.type) for i in graph.inputs},
        "outputs": {o.name: str(o.type) for o in graph.outputs},
        "state": sorted(_flatten(state)),
        "seed": seed,
        "epochs": epochs,
        "metrics": dict(metrics or {}),
        **dict(extra or {}),
    }
    if vectorizer is not None:
        meta[VECTORIZER_KEY] = vectorizer.to_json()
    header = {"format": FORMAT, "model": graph.name, "state": json.dumps(meta["state"])}
    try:
        atomic_write(path, encode(tensors, header))
        atomic_write(metadata_path(path), (json.dumps(meta, indent=2) + "\n").encode())
    except OSError as exc:  # a full disk, a read-only folder: the previous files are intact
        raise CheckpointError(f"{exc.filename or path}: cannot write ({exc.strerror})") from None
    return path


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide artefacts from servers
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# The JSON beside saved weights. Keys nndsl does not read back are optional; unknown keys are
# ignored (a newer version may add some).
WEIGHTS_META = s.obj(
    {"format": s.equal(FORMAT), "model": s.string},
    {
        "nndsl_version": s.string,
        "args": s.mapping(s.string),
        "inputs": s.mapping(s.string),
        "outputs": s.mapping(s.string),
        "state": s.list_of(s.string),
        "seed": s.optional(s.integer(-(2**63), 2**64 - 1)),
        "epochs": s.optional(s.integer()),
        "metrics": s.mapping(s.number(finite=False)),  # a report: a NaN loss is still one
        "source": s.string,
        "class_names": s.list_of(s.string),
        VECTORIZER_KEY: s.optional(s.mapping(s.anything)),
    },
)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON written beside the weights (model name, types, metrics, version...), checked
    against `WEIGHTS_META`; a `CheckpointError` naming the file and the field otherwise."""
    meta = metadata_path(path)
    try:
        return dict(s.read_json(meta, WEIGHTS_META))
    except s.SchemaError as exc:
        raise CheckpointError(f"{meta}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"{meta}: cannot read checkpoint metadata ({exc})") from None


def load_vectorizer(path: str | Path) -> TextVectorizer | None:
    """The text vectorizer saved with the weights at `path`, None when there is none (the
    model was not trained on text, or the weights came without their JSON); a
    `CheckpointError` when it is there but unreadable."""
    if not metadata_path(path).is_file():
        return None
    saved = read_metadata(path).get(VECTORIZER_KEY)
    if saved is None:
        return None
    try:
        return TextVectorizer.from_json(saved)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{metadata_path(path)}: {exc}") from None


def load_weights(
    path: str | Path, graph: Graph | None = None, *, ignored: list[str] | None = None
) -> tuple[Tree, Tree]:
    """(params, state) from `path`; with `graph`, every weight must be present with the
    shape and dtype the graph lists, and nothing else may be there. Given an `ignored` list,
    the file may hold more (a larger model's weights, for a sub-model that applies the same
    blocks under the same paths): those are left out and their names added to the list."""
    path = Path(path)
    extra = ignored is not None
    expect = None if graph is None else (lambda found: _validate(path, graph, found, extra))
    tensors, header = read_tensors(path, expect)
    if graph is not None and ignored is not None:
        wanted = {f"{n.path}/{w.name}" for n, w in graph.weights()}
        ignored.extend(sorted(k for k in tensors if k not in wanted))
        tensors = {k: v for k, v in tensors.items() if k in wanted}
    if graph is None:
        try:
            state_keys = set(s.list_of(s.string)(json.loads(header.get("state", "[]")), ""))
        except (ValueError, RecursionError):
            raise CheckpointError(
                f"{path}: __metadata__.state: expected a JSON list of names"
            ) from None
        odd = sorted(k for k in tensors if "/" not in k)
        if odd:
            raise CheckpointError(f"{path}: {odd[0]}: not a weight name (node/weight)")
        return _unflatten(tensors, lambda k: k not in state_keys)
    trainable = {f"{n.path}/{w.name}": w.trainable for n, w in graph.weights()}
    return _unflatten(tensors, lambda k: trainable[k])


def read_tensors(path: Path, expect: Any = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, header metadata) of a `.safetensors` file, as `CheckpointError`s."""
    try:
        return decode(path, expect)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except TensorFileError as exc:
        raise CheckpointError(f"{path}: not a readable .safetensors file: {exc}") from None


def _validate(path: Path, graph: Graph, tensors: Mapping[str, Entry], extra: bool = False) -> None:
    """The header's entries against the graph's weights, before any tensor is read; `extra`:
    weights the graph lacks are allowed (left out by `load_weights`)."""
    expected = {f"{n.path}/{w.name}": w for n, w in graph.weights()}
    missing = sorted(expected.keys() - tensors.keys())
    if missing:
        have = len(expected) - len(missing)
        raise CheckpointError(
            f"{path}: missing weights for {graph.name}: {_few(missing)}"
            + (f" (found {have} of its {len(expected)} by path)" if extra and have else "")
        )
    unexpected = sorted(tensors.keys() - expected.keys())
    if unexpected and not extra:
        raise CheckpointError(f"{path}: weights not in {graph.name}: {_few(unexpected)}")
    for key, w in expected.items():
        found = tensors[key]
        if tuple(found.shape) != w.shape:
            raise CheckpointError(
                f"{path}: weight {key} has shape {list(found.shape)}, "
                f"{graph.name} expects {list(w.shape)}"
            )
        if found.dtype != np.dtype(w.dtype.numpy_name):
            raise CheckpointError(
                f"{path}: weight {key} has dtype {found.dtype}, "
                f"{graph.name} expects {w.dtype.numpy_name}"
            )


def _few(keys: list[str], limit: int = 5) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _unflatten(tensors: Mapping[str, np.ndarray], is_trainable: Any) -> tuple[Tree, Tree]:
    params: Tree = {}
    state: Tree = {}
    for key, value in tensors.items():
        node, name = key.rsplit("/", 1)
        (params if is_trainable(key) else state).setdefault(node, {})[name] = jnp.asarray(value)
    return params, state


# -- full training state, for `--resume` ------------------------------------------------------
# A training checkpoint is a directory `checkpoints/step-000000123/` holding `state.safetensors`
# (every array: weights, optimizer state, loss scale, PRNG key, the epoch's running metric sums,
# callback arrays) and `meta.json` (step, epoch, position in the epoch's batch order, callback
# state). It is written under a temporary name and renamed into place, so a directory with the
# final name is complete; a kill at any moment leaves the previous checkpoints intact.
TRAIN_FORMAT = "nndsl-training-state-1"
_PREFIX = "step-"


def host_array(value: Any) -> Any:
    """`value` whole on the host: an array split over several processes (`jax.distributed`)
    is gathered from all of them (every process must call this), so checkpoints load on any
    device count."""
    if type(value).__module__.startswith("jax") and not getattr(
        value, "is_fully_addressable", True
    ):
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return value


def flatten_tree(tree: Any, prefix: str) -> dict[str, np.ndarray]:
    """Every leaf of a pytree (optax states included) under `prefix/<key path>`."""
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        f"{prefix}/{jax.tree_util.keystr(path)}": np.asarray(host_array(leaf), order="C")
        for path, leaf in leaves
    }


def restore_tree(template: Any, arrays: Mapping[str, np.ndarray], prefix: str, where: Path) -> Any:
    """`template`'s structure with its leaves read from `arrays` (as `flatten_tree` wrote
    them); shapes and dtypes must match, so a checkpoint of another model or optimizer is a
    `CheckpointError`, not garbage."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    out = []
    for path, leaf in leaves:
        key = f"{prefix}/{jax.tree_util.keystr(path)}"
        if key not in arrays:
            raise CheckpointError(f"{where}: no {key}; the checkpoint is of another setup")
        found = arrays[key]
        want = np.asarray(leaf)
        if found.shape != want.shape or found.dtype != want.dtype:
            raise CheckpointError(
                f"{where}: {key} is {found.dtype}{list(found.shape)}, "
                f"expected {want.dtype}{list(want.shape)}"
            )
        out.append(jnp.asarray(found))
    return jax.tree_util.tree_unflatten(treedef, [leaf for leaf in out])


_STEP = re.compile(r"step-(\d{1,18})")
_DEBRIS = re.compile(r"\.step-(\d{1,18})\.(tmp|old|del)-.*")  # see save_training_state
STATE_FILES = ("meta.json", "state.safetensors")

_CALLBACK_STATE = s.obj(  # what the callbacks' `state()` hold (`_Watcher` and the plateau's)
    {},
    {
        "best": s.optional(s.number()),
        "wait": s.integer(),
        "cooling": s.integer(),
        "best_epoch": s.integer(),
    },
)
TRAIN_META = s.obj(
    {
        "format": s.equal(TRAIN_FORMAT),
        "model": s.string,
        "seed": s.integer(-(2**63), 2**64 - 1),
        "epoch": s.integer(),
        "step": s.integer(),  # a step number is an int32 on the device
        "position": s.integer(),
        "loss_sum": s.number(),  # a sum of applied steps' losses: finite
        "applied": s.integer(),
        "callbacks": s.list_of(
            s.obj({"name": s.string, "state": _CALLBACK_STATE, "tensors": s.boolean})
        ),
    },
    {
        "nndsl_version": s.string,
        "skipped": s.integer(),
        "stop_training": s.boolean,
        "metric_stats": s.optional(s.list_of(s.list_of(s.string))),
        VECTORIZER_KEY: s.optional(s.mapping(s.anything)),
        "state_sha256": s.string,
    },
)


def _checkpoints_root(run_dir: Path) -> Path | None:
    root = run_dir / "checkpoints"
    if not root.exists():
        return None
    if not root.is_dir():
        raise CheckpointError(f"{root}: not a folder (checkpoints are folders inside it)")
    return root


def _entries(root: Path) -> list[Path]:
    try:
        return list(root.iterdir())
    except OSError as exc:
        raise CheckpointError(f"{root}: cannot list checkpoints ({exc.strerror})") from None


def _complete(p: Path) -> bool:
    return p.is_dir() and all((p / name).is_file() for name in STATE_FILES)


def _step_dirs(run_dir: Path) -> list[Path]:
    """Complete `step-N` folders, oldest first; other names are not nndsl's and are left."""
    root = _checkpoints_root(run_dir)
    if root is None:
        return []
    found = [p for p in _entries(root) if _STEP.fullmatch(p.name) and _complete(p)]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX) :]))


def latest_training_state(run_dir: str | Path) -> Path | None:
    """The newest complete training checkpoint under `run_dir/checkpoints`, or None."""
    dirs = _step_dirs(Path(run_dir))
    return dirs[-1] if dirs else None


def clean_training_debris(run_dir: str | Path) -> list[str]:
    """Remove what a killed run leaves in `run_dir/checkpoints`: temporary folders of a write
    or a prune, and incomplete `step-N` folders; a checkpoint moved aside to be replaced (a
    kill between the two renames) is moved back. Returns the names dealt with."""
    root = _checkpoints_root(Path(run_dir))
    if root is None:
        return []
    done = []
    for p in sorted(_entries(root)):
        debris = _DEBRIS.fullmatch(p.name)
        if debris is not None and p.is_dir():
            final = root / f"{_PREFIX}{debris.group(1)}"
            if debris.group(2) == "old" and _complete(p) and not final.exists():
                os.replace(p, final)
            else:
                shutil.rmtree(p, ignore_errors=True)
            done.append(p.name)
        elif _STEP.fullmatch(p.name) and p.is_dir() and not _complete(p):
            shutil.rmtree(p, ignore_errors=True)
            done.append(p.name)
    return done


def save_training_state(
    run_dir: str | Path,
    step: int,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    *,
    keep: int,
) -> Path:
    """Write `checkpoints/step-<step>/` atomically, then drop all but the newest `keep`.

    Every change of a final name is one rename: the write goes to `.step-N.tmp-*` first; a
    checkpoint of the same step is moved to `.step-N.old-*` before the new one takes its name;
    a pruned one goes to `.step-N.del-*` before it is deleted. A kill at any moment leaves
    complete `step-N` folders and debris `clean_training_debris` knows. A failed write (a full
    disk) is a `CheckpointError`; the previous checkpoints are kept."""
    root = Path(run_dir) / "checkpoints"
    final = root / f"{_PREFIX}{step:09d}"
    if root.exists() and not root.is_dir():
        raise CheckpointError(f"{root}: not a folder (checkpoints are folders inside it)")
    tmp: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.tmp-"))
        data = encode(arrays, {"format": TRAIN_FORMAT})
        checksum = _checksum_of(data)
        body = {
            "format": TRAIN_FORMAT,
            "nndsl_version": nndsl.__version__,
            **meta,
            "state_sha256": checksum,
        }
        _write_synced(tmp / "state.safetensors", data)
        _write_synced(tmp / "meta.json", (json.dumps(body, indent=2) + "\n").encode())
        _fsync_dir(tmp)
        old = None
        if final.exists():  # the same step saved twice (epoch end on a step boundary)
            old = root / f".{final.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
            os.replace(final, old)
        os.replace(tmp, final)
        tmp = None
        _fsync_dir(root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        what = exc.strerror or str(exc)
        raise CheckpointError(
            f"{exc.filename or root}: cannot write checkpoint {final.name} ({what}); "
            "the previous checkpoints are kept"
        ) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for gone in _step_dirs(Path(run_dir))[:-keep]:
        doomed = root / f".{gone.name}.del-{os.getpid()}"
        try:
            os.replace(gone, doomed)
        except OSError:
            continue
        shutil.rmtree(doomed, ignore_errors=True)
    return final


def _checksum_of(data: bytes) -> str:
    """The checksum `encode` put in the header of the file `data`."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return str(header["__metadata__"]["sha256"])


def load_training_state(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, metadata) of a directory written by `save_training_state`, every field of
    `meta.json` checked (`TRAIN_META`, then against each other and the arrays), the arrays'
    checksum verified; a one-line `CheckpointError` naming the file and the field otherwise."""
    path = Path(path)
    meta_file, state_file = path / "meta.json", path / "state.safetensors"
    try:
        meta: dict[str, Any] = s.read_json(meta_file, TRAIN_META)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: incomplete checkpoint (meta.json missing)") from None
    except s.SchemaError as exc:
        raise CheckpointError(f"{meta_file}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"{meta_file}: cannot read it ({exc.strerror})") from None
    try:
        _consistent(meta)
    except s.SchemaError as exc:
        raise CheckpointError(f"{meta_file}: {exc}") from None
    if not state_file.exists():
        raise CheckpointError(f"{path}: incomplete checkpoint (state.safetensors missing)")
    arrays, header = read_tensors(state_file)
    if header.get("format") != TRAIN_FORMAT:
        raise CheckpointError(f"{state_file}: not an nndsl training checkpoint")
    saved = meta.get("state_sha256")
    if saved is not None and saved != header.get("sha256"):
        raise CheckpointError(
            f"{meta_file}: state_sha256: does not match state.safetensors (the two files "
            "come from different checkpoints)"
        )
    _arrays_fit(meta, arrays, meta_file)
    return arrays, meta


def _consistent(meta: Mapping[str, Any]) -> None:
    """What the fields say about each other: counts within the step count, and an early stop
    only where a callback could have made it."""
    step = meta["step"]
    for key in ("epoch", "position", "applied", "skipped"):
        if meta.get(key, 0) > step:
            raise s.SchemaError(key, f"{meta[key]} is more than the step count {step}")
    names = [c["name"] for c in meta["callbacks"]]
    if meta.get("stop_training") and "early_stopping" not in names:
        raise s.SchemaError("stop_training", "true, but the run has no early_stopping callback")


def _arrays_fit(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], where: Path) -> None:
    """The arrays the fields refer to are there, and the epoch's sums are finite."""
    import jax

    key_shape = jax.random.key_data(jax.random.key(0)).shape
    root = arrays.get("rng/step_root")
    if root is None or root.dtype != np.uint32 or root.shape != key_shape:
        raise CheckpointError(
            f"{where.parent / 'state.safetensors'}: rng/step_root: missing or not a PRNG key"
        )
    for i, keys in enumerate(meta.get("metric_stats") or ()):
        for j, k in enumerate(keys):
            found = arrays.get(f"epoch/metric{i}/{k}")
            if found is None:
                raise CheckpointError(
                    f"{where}: metric_stats[{i}][{j}]: no array epoch/metric{i}/{k}"
                )
            if found.dtype.kind != "f" or not np.all(np.isfinite(found)):
                raise CheckpointError(
                    f"{where}: metric_stats[{i}][{j}]: epoch/metric{i}/{k} is not finite numbers"
                )


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
