"""Keras's `TextVectorization`, on the host with the standard library and NumPy.

Strings cannot enter a JAX graph, so text sources are turned into numbers before training.
The semantics follow Keras 3 (`keras/src/layers/preprocessing/text_vectorization.py` and
`index_lookup.py`), checked by hand-computed tests since TensorFlow is not installed:

- standardize: ASCII lowercasing (`tf.strings.lower` touches ASCII only) and removal of the
  ASCII punctuation `!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~`;
- split: on runs of ASCII whitespace, or into characters (code points);
- ngrams n: the tokens, then the 2-grams, ..., then the n-grams, each joined by a space;
- the vocabulary counts tokens over the training texts and sorts them by decreasing count,
  ties by decreasing token (Keras's `np.lexsort((tokens, counts))[::-1]`); in "int" mode index
  0 is padding ("") and 1 out-of-vocabulary ("[UNK]"), in the other modes 0 is
  out-of-vocabulary; `max_tokens` counts these special entries;
- "tf_idf" weighs counts by `log(1 + documents / (1 + documents containing the token))`, the
  out-of-vocabulary entry by the mean of the others.

What `adapt` learns is saved as JSON beside the trained weights (`to_json`, `from_json`), so
`nnrun predict` turns raw text into the same numbers as training did.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STRIP = str.maketrans("", "", string.punctuation)
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")
JSON_FORMAT = "nndsl-text-vectorizer-1"
_SETTINGS = (
    "max_tokens",
    "output_sequence_length",
    "standardize",
    "split",
    "ngrams",
    "output_mode",
    "pad_to_max_tokens",
)


@dataclass
class TextVectorizer:
    max_tokens: int | None = None
    output_sequence_length: int | None = None
    standardize: str | None = "lower_and_strip_punctuation"
    split: str | None = "whitespace"
    ngrams: int | None = None
    output_mode: str = "int"
    pad_to_max_tokens: bool = False
    vocabulary: list[str] = field(default_factory=list)  # special entries first
    idf: np.ndarray | None = None  # "tf_idf": one weight per vocabulary entry
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, object]) -> TextVectorizer:
        """From a text source's bound arguments (`nndsl.ops.data.TEXT_ARGS`)."""

        def opt_int(key: str) -> int | None:
            v = attrs.get(key)
            return int(v) if isinstance(v, int) else None

        def opt_str(key: str) -> str | None:
            v = attrs.get(key)
            return str(v) if v is not None else None

        return cls(
            max_tokens=opt_int("max_tokens"),
            output_sequence_length=opt_int("output_sequence_length"),
            standardize=opt_str("standardize"),
            split=opt_str("split"),
            ngrams=opt_int("ngrams"),
            output_mode=str(attrs.get("output_mode", "int")),
            pad_to_max_tokens=bool(attrs.get("pad_to_max_tokens", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The settings and what `adapt` learned, as JSON values (idf weights as floats:
        float32 -> float64 -> JSON -> float32 gives the same bits back)."""
        if not self.vocabulary:
            raise RuntimeError("adapt() the vectorizer before saving it")
        return {
            "format": JSON_FORMAT,
            **{key: getattr(self, key) for key in _SETTINGS},
            "vocabulary": list(self.vocabulary),
            "idf": None if self.idf is None else [float(w) for w in self.idf],
        }

    @classmethod
    def from_json(cls, data: Any) -> TextVectorizer:
        """The vectorizer `to_json` described; `ValueError` (one line) if it is not one."""
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise ValueError(f"not a saved text vectorizer ({JSON_FORMAT})")
        vocabulary, idf = data.get("vocabulary"), data.get("idf")
        if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
            raise ValueError("the saved vocabulary is not a list of strings")
        try:
            out = cls(**{key: data[key] for key in _SETTINGS})
        except KeyError as exc:
            raise ValueError(f"the saved vectorizer has no {exc.args[0]!r}") from None
        if out.output_mode not in ("int", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"unknown output mode {out.output_mode!r}")
        if vocabulary[: len(out._specials)] != out._specials:
            raise ValueError("the saved vocabulary does not start with its special entries")
        out.vocabulary = vocabulary
        out._index = {token: i for i, token in enumerate(vocabulary)}
        if out.output_mode == "tf_idf":
            if not isinstance(idf, list) or len(idf) != out.width:
                raise ValueError(f"the saved idf weights are not {out.width} numbers")
            out.idf = np.asarray(idf, np.float32)
        return out

    @property
    def _specials(self) -> list[str]:
        return [PAD_TOKEN, OOV_TOKEN] if self.output_mode == "int" else [OOV_TOKEN]

    @property
    def oov_index(self) -> int:
        return len(self._specials) - 1

    def tokens(self, text: str) -> list[str]:
        """Standardize, split and add n-grams, in Keras's order."""
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(_LOWER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = text.translate(_STRIP)
        if self.split == "whitespace":
            words = [w for w in _WHITESPACE.split(text) if w]
        elif self.split == "character":
            words = list(text)
        else:
            words = [text]
        if not self.ngrams:
            return words
        out: list[str] = []
        for n in range(1, self.ngrams + 1):
            out.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return out

    def adapt(self, texts: Iterable[str]) -> None:
        """Learn the vocabulary (and idf weights, sequence length) from the training texts, in
        one pass that keeps only the counts (a streamed text folder is read once here)."""
        counts: Counter[str] = Counter()
        in_docs: Counter[str] = Counter()
        n_docs = longest = 0
        for text in texts:
            d = self.tokens(text)
            counts.update(d)
            if self.output_mode == "tf_idf":
                in_docs.update(set(d))
            n_docs += 1
            longest = max(longest, len(d))
        counts.pop(PAD_TOKEN, None)
        counts.pop(OOV_TOKEN, None)
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        learned = [token for token, _ in ranked]
        if self.max_tokens is not None:
            learned = learned[: max(self.max_tokens - len(self._specials), 0)]
        self.vocabulary = [*self._specials, *learned]
        self._index = {token: i for i, token in enumerate(self.vocabulary)}
        if self.output_mode == "int" and self.output_sequence_length is None:
            self.output_sequence_length = longest or 1
        if self.output_mode == "tf_idf":
            weights = [math.log(1 + n_docs / (1 + in_docs[t])) for t in learned]
            mean = float(np.mean(weights)) if weights else 0.0
            self.idf = np.zeros(self.width, np.float32)
            self.idf[: len(self.vocabulary)] = [mean, *weights]

    @property
    def width(self) -> int:
        """Entries per example: the sequence length ("int") or the vocabulary width."""
        if self.output_mode == "int":
            return int(self.output_sequence_length or 1)
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return self.max_tokens
        return len(self.vocabulary)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """`i32[N, T]` token ids, or `f32[N, V]` multi-hot, counts or tf-idf."""
        if not self.vocabulary:
            raise RuntimeError("adapt() the vectorizer before use")
        oov = self.oov_index
        if self.output_mode == "int":
            ids = np.zeros((len(texts), self.width), np.int32)
            for row, text in enumerate(texts):
                found = [self._index.get(t, oov) for t in self.tokens(text)[: self.width]]
                ids[row, : len(found)] = found
            return ids
        out = np.zeros((len(texts), self.width), np.float32)
        for row, text in enumerate(texts):
            for token, n in Counter(self.tokens(text)).items():
                if token != PAD_TOKEN:
                    out[row, self._index.get(token, oov)] += n
        if self.output_mode == "multi_hot":
            return np.minimum(out, 1.0)
        if self.output_mode == "tf_idf":
            assert self.idf is not None
            weighted: np.ndarray = out * self.idf
            return weighted
        return out


__all__ = ["OOV_TOKEN", "PAD_TOKEN", "TextVectorizer"]
