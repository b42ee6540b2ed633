"""Data sources declared with `data name = source(...)`; the runtime loads them.

Paths are relative to the `.nn` file that declares the source, and stay inside its project
unless `--allow-outside-project` is given (`nndsl.check.paths`). Each spec also says what one
example of its inputs looks like as far as that is known without reading any file
(`DataSource.element`), so `nnrun check` can reject, say, token ids of length 100 fed to a
model whose input is `i32[B, 200]`; everything that needs the files is checked by the runtime
before the first step.
"""

from __future__ import annotations

from collections.abc import Callable

from nndsl.ops.registry import REGISTRY, register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    Attrs,
    Configured,
    Keyed,
    OpKind,
    OpSpec,
    ShapeError,
    Signature,
    as_int,
)
from nndsl.records import record
from nndsl.shapes import TensorType, format_shape

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # as Keras's image loader
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")


@record(frozen=True)
class Element:
    """One example of a source's inputs, as far as the declaration tells.

    `dims` excludes the batch axis; an entry None is a size only the files tell; `dims` None
    means even the rank is unknown. `kind` "int" or "float" when the values need an input of
    that dtype family (token ids, tf-idf weights); None when any numeric input takes them (they
    are cast to its dtype, as Keras casts to the layer's input dtype).
    """

    what: str
    dims: tuple[int | None, ...] | None
    kind: str | None = None


class DataSource(OpSpec):
    kind = OpKind.DATA
    inputs = ()
    # Arguments naming a file or folder to read: inside the project (E0803).
    reads: tuple[str, ...] = ("path",)

    def element(self, attrs: Attrs) -> Element | None:
        """What one input example looks like; None when only the files can tell."""
        return None

    def names(self, attrs: Attrs, role: str) -> tuple[str, ...] | None:
        """The inputs (`role` "x") or outputs ("y") the source feeds by name, each array keyed
        by the name of what it feeds; None when it gives one unnamed array."""
        given = attrs.get(role)
        if isinstance(given, Keyed):
            return given.keys()
        if isinstance(given, tuple):
            return tuple(str(k) for k in given)
        return None

    def elements(self, attrs: Attrs) -> dict[str, Element]:
        """What one example of each named input looks like, where the declaration tells."""
        return {}

    def check_input(self, attrs: Attrs, expected: TensorType) -> None:
        """Raise `ShapeError` when the declared data cannot feed an input of type `expected`."""
        el = self.element(attrs)
        if el is None:
            return
        check_element(el, expected, lambda axis, want: self.fix(attrs, expected, axis, want))

    def fix(self, attrs: Attrs, expected: TensorType, axis: int, want: int) -> str | None:
        """The argument change that makes axis `axis` (1-based, after the batch) `want`."""
        return None


def check_element(el: Element, expected: TensorType, fix: Callable[[int, int], str | None]) -> None:
    """Raise `ShapeError` when examples like `el` cannot feed an input of type `expected`; `fix`
    gives the change that makes axis `axis` `want`. One value per example (`dims` `()`) feeds
    `[B]` or `[B, 1]`."""
    if el.kind == "int" and not expected.dtype.is_int:
        raise ShapeError(
            f"{el.what} are integers, but the model's input is `{expected}`",
            help=f"declare the input as `i32{format_shape(expected.shape)}`",
            code="E0301",
        )
    if el.kind == "float" and not expected.dtype.is_float:
        raise ShapeError(
            f"{el.what} are floating point, but the model's input is `{expected}`",
            help=f"declare the input as `f32{format_shape(expected.shape)}`",
            code="E0301",
        )
    if el.dims is None:
        return
    if el.dims == () and expected.rank == 2 and expected.shape[1].as_int() == 1:
        return
    shown = "[B" + "".join(", ?" if d is None else f", {d}" for d in el.dims) + "]"
    if expected.rank != len(el.dims) + 1:
        raise ShapeError(
            f"{el.what} are `{shown}` (rank {len(el.dims) + 1}), but the model's input "
            f"is `{expected}`",
            help=f"declare the input with rank {len(el.dims) + 1} and reshape in the model",
        )
    for axis, (d, e) in enumerate(zip(el.dims, expected.shape[1:], strict=True), 1):
        want = e.as_int()
        if d is not None and want is not None and d != want:
            raise ShapeError(
                f"{el.what} are `{shown}`, but the model's input is `{expected}`: "
                f"{d} against {want} on axis {axis}",
                help=fix(axis, want),
            )


def _test_split() -> Arg:
    return Arg(
        "test_split",
        "float",
        0.2,
        "fraction held out for the final test",
        min=0.0,
        max=1.0,
        max_exclusive=True,
    )


def _sample_weight(what: str) -> Arg:
    return Arg(
        "sample_weight",
        "str",
        None,
        f"{what} multiplying each example's loss (Keras's `fit(sample_weight = ...)`); none: "
        "every example weighs 1",
        nullable=True,
        keyword_only=True,
    )


def _stream(auto: bool = True) -> Arg:
    return Arg(
        "stream",
        "bool",
        None,
        "read the inputs from disk batch by batch, with bounded memory; none: "
        + ("when they would take more than 1 GiB in memory" if auto else "false"),
        nullable=True,
        keyword_only=True,
    )


def _class_names() -> Arg:
    return Arg(
        "class_names",
        "strs",
        None,
        "the class folders to use, in label order; none: every subfolder, sorted",
        nullable=True,
        keyword_only=True,
    )


# Keras's `TextVectorization` arguments, on every text source: strings cannot enter a JAX
# graph, so the vocabulary is adapted and the text turned into numbers on the host.
TEXT_ARGS = (
    Arg(
        "max_tokens",
        "int",
        None,
        "vocabulary size, padding and out-of-vocabulary included; none: unlimited",
        min=3,
        nullable=True,
        keyword_only=True,
    ),
    Arg(
        "output_sequence_length",
        "int",
        None,
        'token ids per text in "int" mode, cut or padded with 0; none: the longest training text',
        min=1,
        nullable=True,
        keyword_only=True,
    ),
    Arg(
        "standardize",
        "str",
        "lower_and_strip_punctuation",
        "ASCII lowercasing and/or removal of ASCII punctuation; none: the text as is",
        choices=STANDARDIZE,
        nullable=True,
        keyword_only=True,
    ),
    Arg(
        "split",
        "str",
        "whitespace",
        "how a text becomes tokens; none: the whole text is one token",
        choices=("whitespace", "character"),
        nullable=True,
        keyword_only=True,
    ),
    Arg(
        "ngrams",
        "int",
        None,
        "n: also the 2- to n-grams of the tokens, joined by spaces",
        min=1,
        nullable=True,
        keyword_only=True,
    ),
    Arg(
        "output_mode",
        "str",
        "int",
        '"int": token ids `i32[B, T]`; the others: one value per vocabulary entry `f32[B, V]`',
        choices=OUTPUT_MODES,
        keyword_only=True,
    ),
    Arg(
        "pad_to_max_tokens",
        "bool",
        False,
        "non-int modes: make the width `max_tokens` even if the vocabulary is smaller",
        keyword_only=True,
    ),
)


class TextSource(DataSource):
    def validate(self, attrs: Attrs) -> None:
        mode = attrs["output_mode"]
        if mode != "int" and attrs["output_sequence_length"] is not None:
            raise ArgError(
                "output_sequence_length",
                f'`output_sequence_length` applies to output_mode "int" only, not "{mode}"',
                help="remove it: the width of the other modes is the vocabulary size",
            )
        if attrs["pad_to_max_tokens"] and attrs["max_tokens"] is None:
            raise ArgError(
                "pad_to_max_tokens",
                "`pad_to_max_tokens = true` needs `max_tokens`",
                help="set `max_tokens`, the width to pad to",
            )

    def fix(self, attrs: Attrs, expected: TensorType, axis: int, want: int) -> str | None:
        if attrs["output_mode"] == "int":
            return f"set `output_sequence_length = {want}`"
        return f"set `max_tokens = {want}, pad_to_max_tokens = true`"

    def element(self, attrs: Attrs) -> Element:
        if attrs["output_mode"] == "int":
            return Element("token ids", (as_int(attrs["output_sequence_length"]),), "int")
        width = as_int(attrs["max_tokens"]) if attrs["pad_to_max_tokens"] else None
        kind = "float" if attrs["output_mode"] == "tf_idf" else None
        return Element(f"{attrs['output_mode']} vectors", (width,), kind)


@register
class Npz(DataSource):
    """Arrays from a NumPy `.npz` file, split into train and test sets.

    Rows are shuffled with the training seed before the split; object arrays are refused
    (reading them would unpickle). With `stream`, the input arrays are read from the file batch
    by batch (the labels are read into memory); they must be stored uncompressed
    (`np.savez`, not `np.savez_compressed`).
    """

    name = "npz"
    args = (
        Arg(
            "path",
            "str",
            doc="the .npz file, relative to this .nn file; a glob pattern (`parts/train-*.npz`) "
            "reads several shards with the same keys as one data set, rows in file-name order",
        ),
        Arg(
            "x",
            "names",
            "x",
            "key of the inputs array; a list of keys for a model with several inputs, each key "
            "the name of the input it feeds",
        ),
        Arg(
            "y",
            "names",
            "y",
            "key of the labels array; a list of keys for a model with several outputs, each key "
            "the name of the output it labels (`[]`: no labels)",
        ),
        _test_split(),
        _sample_weight("key of a per-example weights array `[N]`"),
        _stream(),
    )
    example = 'data digits = npz("data/digits.npz", x = "images", y = "labels")'

    def validate(self, attrs: Attrs) -> None:
        for role in ("x", "y"):
            keys = attrs[role]
            if not isinstance(keys, tuple):
                continue
            if not keys and role == "x":
                raise ArgError(role, "`x` is an empty list", help="name at least one array")
            repeated = [k for i, k in enumerate(keys) if k in keys[:i]]
            if repeated:
                raise ArgError(role, f'array "{repeated[0]}" is listed twice')


@register
class Npy(DataSource):
    """Inputs and labels from two NumPy `.npy` files with the same number of rows.

    With `stream`, the inputs are memory-mapped and read batch by batch (the labels are read
    into memory)."""

    name = "npy"
    args = (
        Arg(
            "x",
            "str",
            doc="the inputs' .npy file, relative to this .nn file; a glob pattern "
            "(`parts/x-*.npy`) reads several shards as one array, rows in file-name order",
        ),
        Arg("y", "str", doc="the labels' .npy file (or a glob pattern of shards)"),
        _test_split(),
        _sample_weight("a `.npy` file of per-example weights `[N]`"),
        _stream(),
    )
    reads = ("x", "y", "sample_weight")
    example = 'data digits = npy(x = "data/x.npy", y = "data/y.npy")'


@register
class Csv(DataSource):
    """Numeric columns of a CSV file as the inputs, one column as the labels; or column groups
    feeding several inputs and outputs by name.

    Each row is an example. A label column of numbers gives the labels as they are; one of
    words gives class ids, the names sorted. Without a header, columns are named by their
    0-based position: `label = "4"`. With `x = {name: columns, ...}` (and `y = {...}`), each
    group feeds the model input (labels the output) of its name: a list of columns is stacked
    into one float vector per row `[B, k]`, one column gives one value per row (`[B]` or
    `[B, 1]`, as the input is declared), its words as class ids like a label column.

    With `stream`, one pass checks every row and keeps each row's byte offset; each batch then
    reads and parses only its rows (the labels and weights are read into memory; each input
    group reads its own columns).
    """

    name = "csv"
    args = (
        Arg(
            "path",
            "str",
            doc="the .csv file, relative to this .nn file; a glob pattern (`logs/part-*.csv`) "
            "reads several shards as one table, rows in file-name order, each with the same "
            "header",
        ),
        Arg(
            "label",
            "str",
            None,
            "the label column: its header name, or its position as text (or `y` groups)",
            nullable=True,
        ),
        Arg("header", "bool", True, "whether the first row names the columns"),
        Arg(
            "columns",
            "strs",
            None,
            "the input columns, in order; none: every column but the label",
            nullable=True,
        ),
        Arg("delimiter", "str", ",", "the one character between cells"),
        _test_split(),
        _sample_weight("a column of per-example weights (not an input column)"),
        Arg(
            "x",
            "groups",
            None,
            "column groups by model input: `{input: column or [columns], ...}`",
            nullable=True,
            keyword_only=True,
        ),
        Arg(
            "y",
            "groups",
            None,
            "label columns by model output: `{output: column, ...}` (`{}`: no labels)",
            nullable=True,
            keyword_only=True,
        ),
        _stream(),
    )
    example = 'data iris = csv("data/iris.csv", label = "species")'

    def validate(self, attrs: Attrs) -> None:
        delimiter = str(attrs["delimiter"])
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise ArgError(
                "delimiter",
                f"the delimiter must be one character other than a quote or a newline, "
                f"not {delimiter!r}",
                help='e.g. `delimiter = ";"` or `delimiter = "\\t"`',
            )
        columns = attrs["columns"]
        weight = attrs["sample_weight"]
        label = attrs["label"]
        xg, yg = attrs["x"], attrs["y"]
        if label is None and yg is None:
            raise ArgError(
                "label",
                "no labels: give the label column, or label columns by output",
                help='e.g. `label = "species"`, or `y = {price: "p"}`',
            )
        if label is not None and yg is not None:
            raise ArgError(
                "y", "`label` and `y` both name labels", help="keep one: `y` for several outputs"
            )
        if columns is not None and xg is not None:
            raise ArgError(
                "x",
                "`columns` and `x` both name input columns",
                help="keep one: `x` groups columns by model input",
            )
        if weight is not None and weight == label:
            raise ArgError(
                "sample_weight",
                f'the label column "{weight}" cannot also be the sample weights',
                help="name another column",
            )
        if isinstance(columns, tuple):
            if not columns:
                raise ArgError("columns", "`columns` is empty", help="name at least one column")
            if label in columns:
                raise ArgError(
                    "columns",
                    f'the label column "{label}" is also an input column',
                    help="remove it from `columns`",
                )
            if weight is not None and weight in columns:
                raise ArgError(
                    "columns",
                    f'the sample weight column "{weight}" is also an input column',
                    help="remove it from `columns`",
                )
            repeated = sorted({c for c in columns if columns.count(c) > 1}, key=str)
            if repeated:
                raise ArgError("columns", f'column "{repeated[0]}" is listed twice')
        used = _check_groups(attrs, weight, label)
        if not attrs["header"]:
            listed = columns if isinstance(columns, tuple) else ()
            extra = (weight,) if weight is not None else ()
            labels = (label,) if label is not None else ()
            for name in (*labels, *listed, *extra, *used):
                if not str(name).lstrip("-").isdigit():
                    raise ArgError(
                        "label"
                        if name == label
                        else "sample_weight"
                        if name == weight and name not in listed
                        else "columns"
                        if name in listed
                        else "x"
                        if name in used and used[name][0] == "x"
                        else "y",
                        f'without a header, columns are named by position, not "{name}"',
                        help='write the 0-based position as text, e.g. `label = "4"`',
                    )

    def fix(self, attrs: Attrs, expected: TensorType, axis: int, want: int) -> str | None:
        return f"list {want} input columns in `columns`"

    def element(self, attrs: Attrs) -> Element:
        columns = attrs["columns"]
        width = len(columns) if isinstance(columns, tuple) else None
        return Element("CSV rows", (width,))

    def elements(self, attrs: Attrs) -> dict[str, Element]:
        groups = attrs["x"]
        if not isinstance(groups, Keyed):
            return {}
        out = {}
        for name, cols in groups.items:
            if isinstance(cols, tuple):
                out[name] = Element(f"columns {_quoted(cols)}", (len(cols),), "float")
            else:
                out[name] = Element(f'the values of column "{cols}"', ())
        return out


def _quoted(names: tuple[object, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _check_groups(attrs: Attrs, weight: object, label: object) -> dict[str, tuple[str, str]]:
    """Every column of the `x` and `y` groups once, none of them the sample weights or the
    label column; the columns used -> (role, group)."""
    used: dict[str, tuple[str, str]] = {}
    if label is not None:
        used[str(label)] = ("y", "label")
    for role in ("x", "y"):
        groups = attrs[role]
        if not isinstance(groups, Keyed):
            continue
        if role == "x" and not groups.items:
            raise ArgError("x", "`x` has no groups", help="name at least one input's columns")
        for name, cols in groups.items:
            listed = cols if isinstance(cols, tuple) else (cols,)
            if not listed:
                raise ArgError(role, f"group `{name}` has no columns", help="name at least one")
            if role == "y" and isinstance(cols, tuple):
                raise ArgError(
                    "y",
                    f"the labels of `{name}` are a list of columns; labels are one column",
                    help=f'e.g. `y = {{{name}: "{listed[0]}"}}`',
                )
            for col in listed:
                c = str(col)
                if c == weight:
                    raise ArgError(
                        role,
                        f'the sample weight column "{c}" is also in group `{name}`',
                        help="remove it from the group",
                    )
                if c in used:
                    other = used[c][1]
                    where = "twice" if other == name else f"in `{other}` and in `{name}`"
                    raise ArgError(role, f'column "{c}" is used {where}')
                used[c] = (role, name)
    return used


@register
class ImageFolder(DataSource):
    """Images in one subfolder per class, as Keras's `image_dataset_from_directory`.

    PNG, JPEG, BMP and GIF (first frame), read with Pillow; the labels are class ids in the
    order of `class_names` (sorted folder names by default). Pixels are floats in [0, 255],
    `[B, H, W, C]`: scale them in the model (`Rescaling(1 / 255)`). With `stream`, each batch's
    images are decoded on the fly by worker threads instead of all at once.
    """

    name = "image_folder"
    args = (
        Arg("path", "str", doc="the folder holding one subfolder per class"),
        Arg(
            "image_size",
            "ints",
            None,
            "[height, width] every image is resized to; none: all images must share one size",
            length=2,
            min=1,
            nullable=True,
        ),
        Arg(
            "color_mode",
            "str",
            "rgb",
            "channels: 1 (grayscale), 3 (rgb) or 4 (rgba)",
            choices=tuple(COLOR_MODES),
        ),
        Arg(
            "interpolation",
            "str",
            "bilinear",
            "how images are resized",
            choices=("bilinear", "nearest"),
        ),
        Arg(
            "crop_to_aspect_ratio",
            "bool",
            False,
            "crop the largest centred window of the target's aspect ratio before resizing",
        ),
        _class_names(),
        _test_split(),
        _stream(),
    )
    example = 'data flowers = image_folder("data/flowers", image_size = [64, 64])'

    def validate(self, attrs: Attrs) -> None:
        if attrs["crop_to_aspect_ratio"] and attrs["image_size"] is None:
            raise ArgError(
                "crop_to_aspect_ratio",
                "`crop_to_aspect_ratio` needs `image_size`, the aspect ratio to crop to",
                help="add e.g. `image_size = [64, 64]`",
            )
        _distinct_classes(attrs)

    def fix(self, attrs: Attrs, expected: TensorType, axis: int, want: int) -> str | None:
        if axis == 3:
            modes = [m for m, c in COLOR_MODES.items() if c == want]
            return f'set `color_mode = "{modes[0]}"`' if modes else None
        given = [as_int(v) for v in attrs["image_size"]]  # type: ignore[union-attr]
        h, w = (e.as_int() or g for e, g in zip(expected.shape[1:3], given, strict=True))
        return f"set `image_size = [{h}, {w}]`"

    def element(self, attrs: Attrs) -> Element:
        size = attrs["image_size"]
        channels = COLOR_MODES[str(attrs["color_mode"])]
        h, w = (as_int(size[0]), as_int(size[1])) if isinstance(size, tuple) else (None, None)
        return Element("images", (h, w, channels))


@register
class TextFolder(TextSource):
    """Text files in one subfolder per class, as Keras's `text_dataset_from_directory`.

    Each `.txt` file (UTF-8) is one example; its label is its folder's class id. The texts
    are vectorized like Keras's `TextVectorization`, the vocabulary adapted from the training
    split only: in "int" mode 0 is padding and 1 out-of-vocabulary, then tokens by decreasing
    frequency. With `stream`, the files are read and vectorized batch by batch.
    """

    name = "text_folder"
    args = (
        Arg("path", "str", doc="the folder holding one subfolder of .txt files per class"),
        *TEXT_ARGS,
        _class_names(),
        _test_split(),
        _stream(auto=False),
    )
    example = 'data reviews = text_folder("data/reviews", output_sequence_length = 200)'

    def validate(self, attrs: Attrs) -> None:
        super().validate(attrs)
        _distinct_classes(attrs)


@register
class TextFile(TextSource):
    """One example per line of a UTF-8 text file: a label, the delimiter, then the text.

    Labels that are all integers are the class ids themselves; otherwise they are class names,
    numbered in sorted order. The text is vectorized as for `text_folder`.
    """

    name = "text_file"
    args = (
        Arg("path", "str", doc="the text file, relative to this .nn file"),
        Arg("delimiter", "str", "\t", "what separates the label from the text on each line"),
        *TEXT_ARGS,
        _test_split(),
    )
    example = 'data sms = text_file("data/sms.tsv", max_tokens = 5000, output_sequence_length = 50)'

    def validate(self, attrs: Attrs) -> None:
        super().validate(attrs)
        if not str(attrs["delimiter"]) or "\n" in str(attrs["delimiter"]):
            raise ArgError(
                "delimiter",
                f"the delimiter must be non-empty and on one line, not {attrs['delimiter']!r}",
                help='e.g. `delimiter = "\\t"`',
            )


def _distinct_classes(attrs: Attrs) -> None:
    names = attrs["class_names"]
    if not isinstance(names, tuple):
        return
    if not names:
        raise ArgError("class_names", "`class_names` is empty", help="name at least one class")
    repeated = [n for i, n in enumerate(names) if n in names[:i]]
    if repeated:
        raise ArgError("class_names", f'class "{repeated[0]}" is listed twice')


ZIP = "zip"


@register
class Zip(DataSource):
    """Several data sources read side by side, row i of each making example i: `zip(photos,
    table)` with each source a `data` name declared in the same file.

    Each source feeds the inputs and labels it names (an `npz` with key lists, a `csv` with
    column groups); together they must feed every input and every output that has a loss,
    each once. Their row counts must agree. The rows are shuffled and split once, with the same
    permutation for every source (the sources' own `test_split` is not used). Each source
    streams as it would alone (its own `stream`).
    """

    name = ZIP
    args = (_test_split(),)
    reads = ()
    example = (
        'data images = npz("images.npz", x = ["image"], y = ["label"])\n'
        'data table = csv("table.csv", x = {static: ["age", "income"]}, y = {})\n'
        "data both = zip(images, table)"
    )

    @classmethod
    def signature(cls) -> Signature:
        return _ZipSignature(cls.name, cls.args, cls.inputs, cls.doc(), cls.kind)

    def names(self, attrs: Attrs, role: str) -> tuple[str, ...] | None:
        out: list[str] = []
        for member in zip_members(attrs):
            spec = lookup_source(member.name)
            out += spec.names(member.options, role) or ()
        return tuple(out)

    def elements(self, attrs: Attrs) -> dict[str, Element]:
        out: dict[str, Element] = {}
        for member in zip_members(attrs):
            out.update(lookup_source(member.name).elements(member.options))
        return out


class _ZipSignature(Signature):
    """`zip(source, source, ..., test_split = 0.2)`: the sources are data names, not values."""

    def text(self) -> str:
        return "zip(source, source, ..., " + super().text().removeprefix("zip(")


def zip_members(attrs: Attrs) -> list[Configured]:
    """The sources of a `zip`, each its spec's name with its arguments bound (the checker puts
    them in `attrs["sources"]`, their `data` names in `attrs["names"]`)."""
    return [m for m in attrs.get("sources") or () if isinstance(m, Configured)]  # type: ignore[union-attr]


def lookup_source(name: str) -> DataSource:
    spec = REGISTRY[name]
    assert isinstance(spec, DataSource)
    return spec
