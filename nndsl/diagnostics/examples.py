"""A failing example and its fix for every diagnostic code, for `nnrun explain CODE`.

Each example is a whole file that produces its code, and a fix (a replacement of one piece of
it) after which the code is gone; `tests/frontend/test_explain_examples.py` checks both for
every code, so the examples cannot drift from the checker. Examples that need other files
(imports) list them in `files`, written beside the example by the test; examples too long to
print (the size limits) have a short `shown` form.
"""

from __future__ import annotations

from nndsl.records import record


@record(frozen=True, slots=True)
class Example:
    broken: str  # a whole .nn file that produces the code
    old: str  # the piece of `broken` the fix replaces (its first occurrence)
    new: str
    files: tuple[tuple[str, str], ...] = ()  # (relative path, text) beside the example
    shown: str = ""  # what `explain` prints instead of `broken`, when that is too long
    shown_fixed: str = ""  # and instead of the fixed file

    def fixed(self) -> str:
        return self.broken.replace(self.old, self.new, 1)


# Codes without an example, and why (the test checks every other code has one).
NO_EXAMPLE: dict[str, str] = {
    "E9999": "an internal error is a bug in nndsl, not in the file: please report it",
}


def _model(body: str, inputs: str = "    input x: f32[B, 8]\n", head: str = "") -> str:
    return f"{head}model M() {{\n{inputs}{body}}}\n"


def _train(settings: str, model_body: str = "    return x |> Dense(2)\n") -> str:
    return (
        _model(model_body)
        + 'data d = npz("d.npz")\ntrain M on d {\n    loss = mse\n    optimizer = adam\n'
        + settings
        + "}\n"
    )


def _distribute(section: str, extra: str = "") -> str:
    body = "    h = x |> Dense(6) |> relu\n    return h |> Dense(4)\n"
    return _train(f"{extra}    distribute {{\n{section}    }}\n", body)


_DEEP = 150  # pipeline stages, over the nesting limit of 100
_BLOCKS = 40  # blocks using blocks, over the limit of 32

EXAMPLES: dict[str, Example] = {
    "E0001": Example(
        _model('    return x |> Dense(64 activation = "relu")\n'),
        "64 activation",
        "64, activation",
    ),
    "E0002": Example(_model("    return x |> Dense(8) $ 2\n"), " $ 2", ""),
    "E0003": Example(
        "model M() {\n    input x: f32[B, 8]\n    return x\n", "return x\n", "return x\n}\n"
    ),
    "E0101": Example(
        _model("    return x |> Dense(10)\n", "    input x: f23[B, 8]\n"), "f23", "f32"
    ),
    "E0102": Example(
        _model("    return x\n", "    input x: f32[B, 8]\n    input x: f32[B, 4]\n"),
        "input x: f32[B, 4]",
        "input y: f32[B, 4]",
    ),
    "E0103": Example(
        _model("    return x |> Dense(2)\n", head="import std.does_not_exist\n"),
        "import std.does_not_exist\n",
        "import std.resnet\n",
    ),
    "E0104": Example(
        _model("    return x |> Dense(2)\n", head='import "example.nn"\n'),
        'import "example.nn"\n',
        "",
    ),
    "E0105": Example(_model("    return x |> x\n"), "x |> x", "x |> Dense(8)"),
    "E0106": Example(
        _model("    price = x |> Dense(1)\n    kind = x |> Dense(3)\n    return price, kind\n")
        + 'data d = npz("d.npz", y = ["price", "kind"])\ntrain M on d {\n'
        "    loss = {price: mse, kind: cross_entropy(from_logits = true), price: mae}\n"
        "    optimizer = adam\n}\n",
        ", price: mae}",
        "}",
    ),
    "E0201": Example(
        _model("    h: f32[B, 32] = x |> Dense(16)\n    return h\n"), "Dense(16)", "Dense(32)"
    ),
    "E0202": Example(_model("    h = x |> Dense(32)\n    return h + x\n"), "Dense(32)", "Dense(8)"),
    "E0203": Example(
        _model("    return x |> Dense(3)\n", "    input x: f32[B, 4]\n")
        + 'data d = csv("iris.csv", label = "species", columns = ["a", "b", "c"])\n'
        "train M on d {\n    loss = cross_entropy(from_logits = true)\n    optimizer = adam\n}\n",
        '["a", "b", "c"]',
        '["a", "b", "c", "d"]',
    ),
    "E0204": Example(
        _model("    return x |> Dense(10)\n", "    input x: f32[B, D]\n"), "[B, D]", "[B, 8]"
    ),
    "E0205": Example(_model("    return x\n", "    input x: f32[B, 2.5]\n"), "2.5", "2"),
    "E0301": Example(
        _model("    return tokens |> Dense(2)\n", "    input tokens: f32[B, 50]\n")
        + 'data sms = text_file("sms.tsv", output_sequence_length = 50)\n'
        "train M on sms {\n    loss = cross_entropy(from_logits = true)\n"
        "    optimizer = adam\n}\n",
        "f32[B, 50]\n    return tokens |> Dense(2)",
        "i32[B, 50]\n    return tokens |> Embedding(1000, 8) |> GlobalAveragePooling1D()"
        " |> Dense(2)",
    ),
    "E0302": Example(_model("    return (x, 3) |> Concatenate()\n"), "(x, 3)", "(x, x)"),
    "E0401": Example(
        _model('    return x |> Dense(10, activaton = "relu")\n'), "activaton", "activation"
    ),
    "E0402": Example(_model("    return x |> Dense()\n"), "Dense()", "Dense(10)"),
    "E0403": Example(_model('    return x |> Dense(int("64"))\n'), 'int("64")', "64"),
    "E0404": Example(
        _train("", "    return x |> Dense(1)\n").replace(
            "optimizer = adam", "optimizer = adam(learning_rate = -0.001)"
        ),
        "-0.001",
        "0.001",
    ),
    "E0405": Example(_model('    return x |> Dense(10, "relu", true, 7)\n'), ", 7)", ")"),
    "E0406": Example(
        _model("    return x |> Dense(10, units = 12)\n"), "10, units = 12", "units = 12"
    ),
    "E0407": Example(
        _model(
            "    return Subtract()(a, b, c)\n",
            "    input a: f32[B, 8]\n    input b: f32[B, 8]\n    input c: f32[B, 8]\n",
        ),
        "Subtract()(a, b, c)",
        "Subtract()(a, b) + c",
    ),
    "E0501": Example(
        _model("    h = x\n    if B > 2 {\n        h = x |> Dense(8)\n    }\n    return h\n"),
        "if B > 2",
        "if 8 > 2",
    ),
    "E0502": Example(
        _model("    h = x\n    repeat 0 - 2 {\n        h = h |> Dense(8)\n    }\n    return h\n"),
        "0 - 2",
        "2",
    ),
    "E0503": Example(_model("    return x |> Dense(8)\n    h = x\n"), "    h = x\n", ""),
    "E0504": Example(
        "const SIZE = Dense(3)\n" + _model("    return x |> Dense(SIZE)\n"),
        "Dense(3)",
        "3",
    ),
    "E0601": Example(_train("    epoch = 3\n"), "epoch =", "epochs ="),
    "E0602": Example(
        _train("").replace('npz("d.npz")', 'parquet("d.parquet")'),
        'parquet("d.parquet")',
        'npz("d.npz")',
    ),
    "E0701": Example(
        _model(
            "    return counts / groups\n",
            "    input counts: i32[B, 4]\n    input groups: i32[B, 4]\n",
        ),
        "i32[B, 4]\n    input groups: i32",
        "f32[B, 4]\n    input groups: f32",
    ),
    "E0801": Example(
        _train('    callbacks = [csv_log("../outside/log.csv")]\n'), "../outside/", ""
    ),
    "E0802": Example(
        _model("    return x |> Dense(2)\n", head='import "../../elsewhere/lib.nn"\n'),
        '"../../elsewhere/lib.nn"',
        '"lib.nn"',
        files=(("lib.nn", "const UNITS = 2\n"),),
    ),
    "E0803": Example(_train("").replace('"d.npz"', '"/etc/d.npz"'), '"/etc/d.npz"', '"data/d.npz"'),
    "E0810": Example(
        _model("    return x |> Dense(2)\n") + "# " + "x" * 524_300 + "\n",
        "# " + "x" * 524_300 + "\n",
        "",
        shown="model M() { ... }\n# ... more than 524,288 characters in one file ...\n",
        shown_fixed="model M() { ... }\n# the generated part in data files, or as a `repeat`\n",
    ),
    "E0811": Example(
        _model("    return x" + " |> Dense(8)" * _DEEP + "\n"),
        "x" + " |> Dense(8)" * _DEEP,
        f"x |> repeat {_DEEP} Dense(8)",
        shown=_model("    return x |> Dense(8) |> Dense(8) |> ... (150 stages)\n"),
        shown_fixed=_model(f"    return x |> repeat {_DEEP} Dense(8)\n"),
    ),
    "E0812": Example(
        "block B0() {\n    input x: f32[B, 4]\n    return x |> Dense(4)\n}\n"
        + "".join(
            f"block B{i}() {{\n    input x: f32[B, 4]\n    return x |> B{i - 1}()\n}}\n"
            for i in range(1, _BLOCKS + 1)
        )
        + _model(f"    return x |> B{_BLOCKS}()\n", "    input x: f32[B, 4]\n"),
        "return x |> B20()",
        "return x |> Dense(4)",
        shown="block B1() { input x: f32[B, 4]; return x |> B0() }\n...  # each uses the last\n"
        f"block B{_BLOCKS}() {{ input x: f32[B, 4]; return x |> B{_BLOCKS - 1}() }}\n"
        + _model(f"    return x |> B{_BLOCKS}()\n", "    input x: f32[B, 4]\n"),
        shown_fixed="block B21() { input x: f32[B, 4]; return x |> Dense(4) }   # no deeper\n"
        "...  # each uses the last, 20 levels\n"
        f"block B{_BLOCKS}() {{ input x: f32[B, 4]; return x |> B{_BLOCKS - 1}() }}\n"
        + _model(f"    return x |> B{_BLOCKS}()\n", "    input x: f32[B, 4]\n"),
    ),
    # copied repeats: each copy reads `x` besides the tensor it carries (one that carries only
    # its tensor, to the same type, is one node without these limits)
    "E0813": Example(
        _model("    h = x\n    repeat 20000 { h = h + (x |> Dense(8)) }\n    return h\n"),
        "20000",
        "20",
    ),
    "E0814": Example(
        _model(
            "    h = x\n    repeat 150 {\n        repeat 150 {\n"
            "            h = h + (x |> Dense(8))\n        }\n    }\n    return h\n"
        ),
        "repeat 150 {\n        repeat 150",
        "repeat 10 {\n        repeat 10",
    ),
    "E0815": Example("const HUGE = 1e400\n" + _model("    return x\n"), "1e400", "1e30"),
    "E0816": Example(
        _model("    return x |> Dense(8)\n", "    input x: f32[B, 0 - 5]\n"), "0 - 5", "5"
    ),
    "E0817": Example(
        _model("    return x\n", "    input x: f32[B, 100000, 100000]\n"),
        "100000, 100000",
        "100, 100",
    ),
    "E0818": Example(
        _model("    return x |> Dense(40000) |> Dense(40000)\n", "    input x: f32[B, 40000]\n"),
        "Dense(40000) |> Dense(40000)",
        "Dense(400) |> Dense(40)",
    ),
    "E0819": Example(
        _model("    return x |> Dense(C1)\n", head='import "c01.nn"\n'),
        'import "c01.nn"\n',
        "const C1 = 2\n",
        files=(
            *(
                (f"c{i:02}.nn", f'import "c{i + 1:02}.nn"\nconst C{i} = C{i + 1}\n')
                for i in range(1, 17)
            ),
            ("c17.nn", "const C17 = 2\n"),
        ),
        shown='import "c01.nn"   # which imports c02.nn, ... c17.nn: 17 files deep\n'
        + _model("    return x |> Dense(C1)\n"),
        shown_fixed="const C1 = 2   # defined where it is used, not 17 imports away\n"
        + _model("    return x |> Dense(C1)\n"),
    ),
    "E0820": Example(
        "block Split(width: int) {\n    input x: f32[B, width]\n"
        "    return x |> Dense(width), x |> Dense(width)\n}\n"
        + _model("    a, b = Split(8, remat = true)(x)\n    return a + b\n"),
        "Split(8, remat = true)",
        "Split(8)",
    ),
    "E0901": Example(
        _distribute('        preset = "fsdp"\n'),
        'preset = "fsdp"',
        'preset = "fsdp"\n        devices = 2',
    ),
    "E0902": Example(
        _distribute(
            '        mesh = {"data": 2, "model": 2}\n'
            '        shard = {"dense/kernel": [_, "modle"]}\n'
        ),
        '"modle"',
        '"model"',
    ),
    "E0903": Example(
        _distribute(
            '        mesh = {"data": 2, "model": 4}\n'
            '        shard = {"dense*/kernel": [_, "model"]}\n'
        ),
        '"model": 4',
        '"model": 2',
    ),
    "E0904": Example(
        _distribute('        mesh = {"data": 4}\n', "    batch = 30\n"), "batch = 30", "batch = 32"
    ),
    "E0905": Example(
        _distribute('        mesh = {"data": 2}\n        device_memory = "1KB"\n'),
        '"1KB"',
        '"16GB"',
    ),
    "E0906": Example(
        _distribute(
            '        mesh = {"data": 2, "model": 2}\n        shard = {"dense/kernel": ["model"]}\n'
        ),
        '["model"]',
        '[_, "model"]',
    ),
    "W0101": Example(
        _model("    h = x |> Dense(8)\n    return x |> Dense(2)\n"),
        "return x |> Dense(2)",
        "return h |> Dense(2)",
    ),
    "W0601": Example(
        "block Trunk() {\n    input x: f32[B, F]\n    return x |> Dense(8)\n}\n"
        + _train('    freeze = ["trnk"]\n', "    return x |> Trunk() |> Dense(2)\n"),
        '"trnk"',
        '"trunk"',
    ),
    "W0901": Example(
        _distribute(
            '        mesh = {"data": 2, "model": 2}\n'
            '        shard = {"dnse/kernel": [_, "model"]}\n'
        ),
        '"dnse/kernel"',
        '"dense/kernel"',
    ),
}
