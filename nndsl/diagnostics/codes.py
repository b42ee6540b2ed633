"""Every diagnostic code, with a title and the long explanation `nnrun explain` prints.

Groups: E00xx syntax, E01xx names and imports, E02xx shapes, E03xx dtypes and value kinds,
E04xx call arguments, E05xx statements, E06xx training sections, E07xx export, W01xx warnings,
E9999 internal.
"""

from __future__ import annotations

from nndsl.records import record


@record(frozen=True, slots=True)
class Code:
    id: str
    title: str
    explanation: str


_TABLE: list[tuple[str, str, str]] = [
    (
        "E0001",
        "unexpected token",
        "The parser met a token it did not expect. The message lists what would have been\n"
        "valid.\n\n"
        "    h = Dense(64 x)      # error: expected `)` or `,`\n    h = Dense(64)(x)     # fixed",
    ),
    (
        "E0002",
        "unexpected character",
        "A character that starts no token of the language, such as `$` or `?`.",
    ),
    (
        "E0003",
        "unexpected end of file",
        "The file ended inside a construct, usually an unclosed `{`, `(` or `[`.",
    ),
    (
        "E0101",
        "unknown name",
        "A name is used that is not defined in scope: not a parameter, input, tensor, constant,\n"
        "block, model, layer or function. Check the spelling; the hint lists the closest names.",
    ),
    (
        "E0102",
        "duplicate definition",
        "Two top-level definitions (or two parameters, or two inputs) share a name.",
    ),
    (
        "E0103",
        "import not found",
        '`import std.x` looks for `stdlib/x.nn`; `import "path.nn"` is relative to the importing\n'
        "file.",
    ),
    ("E0104", "import cycle", "A file imports itself, directly or through other files."),
    (
        "E0105",
        "wrong kind of name",
        "A name refers to something of another kind than the place needs: a tensor where a layer\n"
        "is expected, a model where a tensor is expected, and so on.",
    ),
    (
        "E0201",
        "shape mismatch",
        "A tensor's inferred shape differs from the shape it was declared or required to have.\n\n"
        "    input x: f32[B, 64]\n    h: f32[B, 32] = x |> Dense(16)   # inferred [B, 16]",
    ),
    (
        "E0202",
        "shapes do not broadcast",
        "Element-wise arithmetic needs shapes that are equal or broadcast (a size of 1 stretches).",
    ),
    (
        "E0203",
        "invalid input for a layer",
        "A layer's shape rule rejected its input: wrong rank, a window larger than the input, ...",
    ),
    (
        "E0204",
        "size must be known",
        "A weight's shape depends on a dimension that is only symbolic (such as the batch `B`).\n"
        "Give the dimension a concrete size in the input's type.",
    ),
    (
        "E0205",
        "invalid dimension",
        "A dimension expression is not a non-negative integer expression over sizes.",
    ),
    ("E0301", "dtype mismatch", "Two tensors of different dtypes meet, or a layer needs floats."),
    (
        "E0302",
        "wrong kind of value",
        "A tensor was given where a number was expected, or the other way round.",
    ),
    ("E0401", "unknown argument", "A keyword argument that the layer or function does not take."),
    ("E0402", "missing argument", "A required argument was not given."),
    ("E0403", "argument type mismatch", "An argument's value has the wrong type."),
    ("E0404", "argument out of range", "An argument's value lies outside its allowed values."),
    ("E0405", "too many arguments", "More positional arguments than the callee takes."),
    ("E0406", "argument given twice", "The same argument was passed twice."),
    (
        "E0407",
        "wrong number of inputs",
        "A layer or block was applied to a different number of tensors than it takes.",
    ),
    (
        "E0501",
        "condition not static",
        "`if` conditions must be decided at check time from parameters and known sizes.",
    ),
    (
        "E0502",
        "invalid repeat count",
        "`repeat N` needs a static integer N >= 0 (0 copies: the identity).",
    ),
    (
        "E0503",
        "invalid body",
        "A block or model needs at least one `input` and exactly one `return`, at its end.",
    ),
    (
        "E0504",
        "invalid constant",
        "A `const` must be a number, boolean or string known statically.",
    ),
    (
        "E0601",
        "invalid training section",
        "A `train` section needs a model, a data source, a `loss` and an `optimizer`; every\n"
        "setting "
        "must be one of: loss, optimizer, metrics, epochs, batch, seed, validation_split, shuffle.",
    ),
    ("E0602", "invalid data source", "A `data` declaration must call a known data source."),
    (
        "E0701",
        "cannot be exported to ONNX",
        "`nnrun export --format onnx` (and `nnrun check --target onnx`) lower every layer of\n"
        "the model to ONNX operators (opset 21). This layer has no ONNX form, or not with these\n"
        "arguments: typically a size known only at run time where ONNX needs a constant, or\n"
        "a dtype ONNX Runtime cannot compute with. docs/deploy.md lists every op and its export\n"
        "status. StableHLO export (`--format stablehlo`) runs the JAX code itself and has no\n"
        "such limits.\n\n"
        "    h = x |> Reshape([T, 4])      # error: needs T constant for this reshape\n"
        "    h = x |> Reshape([-1, 4])     # fixed: the size is inferred at run time",
    ),
    (
        "E0801",
        "writes outside the run directory",
        "A path a callback writes (`csv_log`, `jsonl_log`, `tensorboard`) is relative to the run\n"
        "directory (`--out`, default `runs/<model>/`) and must stay inside it: no absolute path,\n"
        "no `..`. A model file is data anyone may hand over; it must not overwrite other files.\n"
        "At run time a path that leads outside through a symlink is refused the same way.\n\n"
        '    callbacks = [csv_log("../results/log.csv")]   # error: leaves the run directory\n'
        '    callbacks = [csv_log("logs/log.csv")]         # fixed: runs/<model>/logs/log.csv',
    ),
    (
        "E0802",
        "import outside the project",
        '`import "file.nn"` reads files of the importing file\'s project only (and the standard\n'
        "library): the project is the nearest folder, from the entry file's upwards, holding\n"
        "`nndsl.toml` or `pyproject.toml`, else the entry file's folder. Symlinks are resolved\n"
        "first. The file is not read, so nothing of it is shown. `--allow-outside-project`\n"
        "lifts the rule for a model file you trust.\n\n"
        '    import "../../shared/blocks.nn"   # error: outside the project\n'
        '    import "shared/blocks.nn"         # fixed: the file copied into the project',
    ),
    (
        "E0803",
        "data outside the project",
        "A data source's paths (`npz`, `npy`, `csv`, `image_folder`, `text_folder`,\n"
        "`text_file`) follow the same rule as imports (E0802): inside the project, symlinks\n"
        "resolved, unless `--allow-outside-project` is given. The run checks again before\n"
        "reading, also every file of a folder source.\n\n"
        '    data d = npz("/home/me/digits.npz")   # error: outside the project\n'
        '    data d = npz("data/digits.npz")       # fixed: inside the project',
    ),
    ("W0101", "unused tensor", "A named tensor is computed but never used nor returned."),
    (
        "E9999",
        "internal error",
        "nndsl itself failed. This is a bug: please report it with the file that triggers it.",
    ),
]

CODES: dict[str, Code] = {cid: Code(cid, title, text) for cid, title, text in _TABLE}
