"""Host-side parts of the data sources that JAX cannot hold, such as text vectorization."""

from nndsl.runtime.sources.text import OOV_TOKEN, TextVectorizer

__all__ = ["OOV_TOKEN", "TextVectorizer"]
