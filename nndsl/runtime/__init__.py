"""Running checked programs: data loading, the training loop, checkpoints, prediction.

The runtime never prints: progress goes out as events, problems as exceptions with one-line
messages (`DataError`, `TrainingError`, `CheckpointError`) for the CLI to render.
"""

from nndsl.runtime.checkpoint import CheckpointError, load_weights, read_metadata, save_checkpoint
from nndsl.runtime.data import DataError, Dataset, Splits, load_data
from nndsl.runtime.predict import predict
from nndsl.runtime.train import (
    EpochEnd,
    EpochStart,
    Event,
    FitEnd,
    FitResult,
    FitStart,
    Note,
    StepEnd,
    TestEnd,
    TrainingError,
    enable_compile_cache,
    evaluate,
    fit,
)

__all__ = [
    "CheckpointError",
    "DataError",
    "Dataset",
    "EpochEnd",
    "EpochStart",
    "Event",
    "FitEnd",
    "FitResult",
    "FitStart",
    "Note",
    "Splits",
    "StepEnd",
    "TestEnd",
    "TrainingError",
    "enable_compile_cache",
    "evaluate",
    "fit",
    "load_data",
    "load_weights",
    "predict",
    "read_metadata",
    "save_checkpoint",
]
