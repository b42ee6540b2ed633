"""Several processes as one JAX program (`jax.distributed`), for `nnrun train --coordinator`.

Each process runs the same file; `jax.distributed.initialize` joins them into one set of
global devices, the `distribute` mesh spans them all, and each process puts only its own
devices' share of every batch (`nndsl.runtime.distribute.put`). Only process 0 writes logs,
TensorBoard files, checkpoints and weights (`is_writer`); the others write to a scratch folder
that is removed, so every process still runs the same collectives (checkpoints gather arrays
from every process). A peer that dies is noticed by the coordination service's heartbeat: the
survivors stop with its message after `heartbeat_s` instead of waiting forever.
"""

from __future__ import annotations

import jax

from nndsl.backend import DataError


def initialize(
    coordinator: str | None,
    num_processes: int | None,
    process_id: int | None,
    *,
    timeout_s: int = 120,
    heartbeat_s: int = 30,
) -> None:
    """Join the other processes; with no argument, JAX detects the cluster (SLURM, TPU pods,
    Open MPI, Kubernetes' environment). Raises `DataError` with one line when it cannot."""
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise DataError(
            "--coordinator, --num-processes and --process-id go together (or give none of "
            "them with --distributed to detect the cluster)"
        )
    if num_processes is not None and process_id is not None:
        if num_processes < 1 or not 0 <= process_id < num_processes:
            raise DataError(
                f"--process-id {process_id} must be in 0..{num_processes - 1} "
                f"(--num-processes {num_processes})"
            )
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=timeout_s,
            heartbeat_timeout_seconds=heartbeat_s,
        )
    except (RuntimeError, ValueError) as err:  # XlaRuntimeError is a RuntimeError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        where = f" at {coordinator}" if coordinator else ""
        raise DataError(
            f"cannot join the distributed run{where} within {timeout_s}s: {first}"
        ) from None


def is_writer() -> bool:
    """Whether this process writes files (process 0; the only one outside `jax.distributed`)."""
    return jax.process_index() == 0
