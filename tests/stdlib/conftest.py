"""Keras must pick the JAX backend before its first import in any stdlib test module."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "jax"
