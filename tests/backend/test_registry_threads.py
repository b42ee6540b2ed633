"""The implementation table loads once, completely, even when threads race to use it."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_threads_racing_to_load_the_table_all_see_it_complete() -> None:
    # A fresh interpreter: the table is not loaded yet. Before the lock, the first thread
    # marked it loaded before importing, so the second could miss implementations.
    code = textwrap.dedent(
        """
        import threading
        from nndsl.backend.jax import registry
        from nndsl.ops import lookup

        names = ["Dense", "adam", "cross_entropy", "accuracy", "npz", "LSTM"]
        barrier = threading.Barrier(4)
        errors = []

        def use():
            barrier.wait()
            try:
                for name in names:
                    registry.implementation(lookup(name))
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=use) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert registry.missing_implementations() == []
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
