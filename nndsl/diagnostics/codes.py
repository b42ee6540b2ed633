"""Every diagnostic code, with a title and the long explanation `nnrun explain` prints.

Groups: E00xx syntax, E01xx names and imports, E02xx shapes, E03xx dtypes and value kinds,
E04xx call arguments, E05xx statements, E06xx training sections, E07xx export, E08xx files
and limits, E09xx distribution, W01xx warnings, E9999 internal.
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
        "E0106",
        "duplicate key",
        'A dict literal names the same key twice; `price` and `"price"` are the same key.\n\n'
        "    loss = {price: mse, price: mae}",
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
    # -- E0810-E0819: limits (nndsl.limits; docs/language.md, "Limits") --------------------
    (
        "E0810",
        "source file too large",
        "One source text (a file, an import, an editor buffer) may hold at most 512 Ki\n"
        "characters (524,288), far above any written model; beyond that nothing of it is\n"
        "parsed, so checking stays within seconds.\n"
        "Split a generated file into several, or generate less: repeated layers belong in a\n"
        "`repeat`, not in copies.\n\n"
        "    const W = [0.1, 0.2, ...]     # error: 1 MB of numbers in the model file\n"
        '    data w = npy("weights.npy")   # fixed: the numbers in a data file',
    ),
    (
        "E0811",
        "nesting too deep",
        "Expressions and statements may nest at most 100 levels inside one another (each `+`,\n"
        "`|>` stage, call, list or `if` is one level), so that every tool walks them safely.\n"
        "Name intermediate results, or use `repeat` for long pipelines.\n\n"
        "    return x |> Dense(8) |> Dense(8) |> ...   # error: 150 stages in one expression\n"
        "    h = x |> repeat 150 Dense(8)             # fixed\n"
        "    return h",
    ),
    (
        "E0812",
        "blocks nest too deeply",
        "A block may use blocks that use blocks ... at most 32 levels deep (the checker\n"
        "follows every use; real models nest a few levels).\n\n"
        "    block B40() { input x: f32[B, 4]; return x |> B39() }   # error: 40 levels\n"
        "    block B40() { input x: f32[B, 4]; return x |> repeat 40 Dense(4) }   # fixed",
    ),
    (
        "E0813",
        "repeat count too large",
        "A `repeat` count may be at most 10,000 where the checker unrolls every copy, and a\n"
        "model with more copies of a layer is far beyond what trains anyway. A repeat whose\n"
        "copies carry one tensor to the same type (`x |> repeat N Dense(4)` on `[B, 4]`) is\n"
        "one node: only the parameter budget (E0818) bounds its count.\n\n"
        "    repeat 1000000 { h = h + (x |> Dense(4)) }   # error: each copy also reads x\n"
        "    repeat 100 { h = h + (x |> Dense(4)) }       # fixed",
    ),
    (
        "E0814",
        "model too large to check",
        "One model may instantiate at most 20,000 layers and ops (repeats and block uses\n"
        "unrolled), so that checking it stays within seconds and memory stays small. Nested\n"
        "`repeat`s multiply their counts.\n\n"
        "    repeat 1000 { repeat 1000 { h = h + (x |> Dense(4)) } }   # error: 10^6 layers\n"
        "    repeat 10 { repeat 100 { h = h + (x |> Dense(4)) } }      # fixed: 1000 layers",
    ),
    (
        "E0815",
        "number out of range",
        "Integers, written or computed, must lie within int64 (|n| < 2^63), and a number must\n"
        "be finite as a float (below about 1.8e308). Beyond that no size, count or setting\n"
        "means anything.\n\n"
        "    const N = 100000000000000000000   # error: over 2^63\n"
        "    const N = 1000000                 # fixed",
    ),
    (
        "E0816",
        "negative size",
        "A size computed from an expression came out negative. Sizes are counts: a computed\n"
        "size must be 0 or more.\n\n"
        "    input x: f32[B, 4 - 8]   # error: the size is -4\n"
        "    input x: f32[B, 8 - 4]   # fixed",
    ),
    (
        "E0817",
        "tensor too large",
        "One tensor may have at most 2^32 elements per example (the batch size is not counted).\n"
        "A larger one fits no accelerator; the check refuses it before anything is allocated.\n\n"
        "    input x: f32[B, 100000, 100000]   # error: 10^10 elements per example\n"
        "    input x: f32[B, 1000, 1000]       # fixed",
    ),
    (
        "E0818",
        "model over the parameter budget",
        "A model may have at most 2^31 parameters (8 GiB of f32) by default, counted from the\n"
        "checked shapes before anything is allocated. Set the environment variable\n"
        "`NNDSL_MAX_PARAMS` to another count for a machine that holds more.\n\n"
        "    return x |> Dense(100000) |> Dense(100000)   # error: 10^10 parameters\n"
        "    return x |> Dense(1000) |> Dense(1000)       # fixed",
    ),
    (
        "E0819",
        "imports nest too deeply",
        "A file may import a file that imports a file ... at most 16 files deep (each level is\n"
        "read and checked inside the one importing it).\n\n"
        '    import "a.nn"   # error: a.nn imports b.nn imports ... 20 files deep\n'
        '    import "z.nn"   # fixed: the definitions imported where they are used',
    ),
    (
        "E0820",
        "remat needs one tensor in and one out",
        "`remat = true` on a block application recomputes the block's activations in the\n"
        "backward pass instead of keeping them (`jax.checkpoint`), trading compute for memory.\n"
        "It applies to a block that takes one tensor and returns one.\n\n"
        "    h = h |> Res(64, remat = true)              # a block: [B, 64] -> [B, 64]\n"
        "    h = h |> repeat 24 Res(64, remat = true)    # each of the 24 copies\n"
        "    y = Split2(remat = true)(h)                 # error: the block returns two tensors",
    ),
    # -- E0901-E0909, W0901: the `distribute` section of `train` (issue 16) -------------------
    (
        "E0901",
        "invalid distribute setting",
        "`distribute { ... }` inside `train` lays training out over several devices. It takes\n"
        '`mesh` (axis name -> size) or `devices = "all"`, `batch` (the axis the batch is split\n'
        "over), `shard` (weight pattern -> one axis or `_` per dimension), `preset` and\n"
        "`device_memory`; see docs/distributed.md.\n\n"
        '    distribute {\n        mesh = {"data": 4, "model": 2}\n        batch = "data"\n    }\n'
        '    distribute { devices = "all" }          # one axis, "data", over every device',
    ),
    (
        "E0902",
        "unknown mesh axis",
        "An axis named in `batch` or `shard` that the `mesh` does not declare.\n\n"
        '    mesh  = {"data": 4, "model": 2}\n'
        '    shard = {"*/kernel": [_, "modle"]}   # error: no axis `modle`',
    ),
    (
        "E0903",
        "dimension not divisible by its mesh axis",
        "A weight dimension sharded over a mesh axis is split into equal blocks, one per device\n"
        "along that axis, so its size must be a multiple of the axis size.\n\n"
        '    mesh  = {"data": 2, "model": 4}\n'
        '    shard = {"*/dense/kernel": [_, "model"]}   # error for a Dense(10): 10 % 4 != 0',
    ),
    (
        "E0904",
        "batch not divisible over the data axis",
        "The global batch (`batch = N` in `train`) is split into equal parts over the mesh axis\n"
        "named by `batch` in `distribute` (every device a slice): N must be a multiple of that\n"
        "axis's size.\n\n"
        '    batch = 30\n    distribute { mesh = {"data": 4} }   # error: 30 % 4 != 0',
    ),
    (
        "E0905",
        "layout does not fit device memory",
        '`device_memory = "16GB"` declares what one device holds. The parameters, optimizer\n'
        "state and activation estimate each device holds under the layout exceed it; shard more\n"
        '(`preset = "fsdp"`, `shard`), use more devices or a smaller batch. `nnrun summary\n'
        "--distribute` prints the figures.",
    ),
    (
        "E0906",
        "shard spec does not fit the weight",
        "A `shard` entry gives one mesh axis (or `_`, not sharded) per dimension of every weight\n"
        "its pattern matches, and uses each axis at most once.\n\n"
        '    shard = {"*/dense/kernel": ["model"]}   # error: a kernel has two dimensions\n'
        '    shard = {"*/dense/kernel": [_, "model"]}   # fixed',
    ),
    ("W0101", "unused tensor", "A named tensor is computed but never used nor returned."),
    (
        "W0601",
        "freeze pattern matches no weight",
        "A `freeze` pattern in `train` names weights by path (`layer/weight`, as the saved\n"
        "weights name them; `*` matches any characters, `/` included) or a layer or block\n"
        "instance around them. One that matches nothing freezes nothing: most likely a typo.\n\n"
        '    freeze = ["trnk/*"]   # warning: the block instance is `trunk`\n'
        '    freeze = ["trunk"]    # fixed: every weight inside `trunk`',
    ),
    (
        "W0901",
        "shard pattern matches no weight",
        "A `shard` pattern in `distribute` names weights by path, as `freeze` does (`*` matches\n"
        "any characters, `/` included). One that matches nothing shards nothing: most likely a\n"
        "typo.\n\n"
        '    shard = {"*/dnse*/kernel": [_, "model"]}   # warning: the layers are `dense...`',
    ),
    (
        "E9999",
        "internal error",
        "nndsl itself failed. This is a bug: please report it with the file that triggers it.",
    ),
]

CODES: dict[str, Code] = {cid: Code(cid, title, text) for cid, title, text in _TABLE}
