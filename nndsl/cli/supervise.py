"""A multi-process run's training in a child process, so a dead peer ends it with one line.

When a peer of a `jax.distributed` run stops sending heartbeats, JAX's coordination service
terminates every other process from C++ (`abort`, a stack trace on stderr): nothing Python can
catch. `nnrun train --coordinator ...` therefore trains in a child process (the same command,
marked by `SUPERVISED`) and watches it: the child's standard output passes through untouched
(the progress view), its standard error too except JAX's and Gloo's C++ log lines, which are
kept; if the child dies of a signal, the kept lines say why in one `nnrun: error:` line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from nndsl.cli.errors import EXIT_ERRORS

SUPERVISED = "NNDSL_SUPERVISED"
# glog lines (`E1207 12:42:08.092164 12491 file.cc:1549] ...`), their stack traces, Gloo's
_NATIVE = re.compile(r"^([EFWI]\d{4} \d\d:\d\d:\d\d|\s+@\s+0x|\*\*\* |\[Gloo\])")
_UNHEALTHY = re.compile(r"unhealthy \(stopped sending heartbeats\):\s*\n?\s*([\d, ]+)")


def is_supervised() -> bool:
    return os.environ.get(SUPERVISED) == "1"


def supervise(argv: list[str]) -> int:
    """Run `nnrun argv` in a child and return its exit status (after one clear line when it
    was killed, by the coordination service or otherwise)."""
    code = "import sys; from nndsl.cli.main import main; sys.exit(main())"
    env = {**os.environ, SUPERVISED: "1", "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child gets Ctrl-C itself
    previous_term = signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    native: list[str] = []
    held = False  # after a C++ error line, its continuation lines are held too
    try:
        assert child.stderr is not None
        for line in child.stderr:
            if held or _NATIVE.match(line):
                held = held or line[:1] in ("E", "F")
                native.append(line)
                continue
            sys.stderr.write(line)
            sys.stderr.flush()
        status = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    if status >= 0 and status != 134:  # 134: a shell's report of abort()
        # the child went on after a C++ error line: what Python printed since still shows
        sys.stderr.write("".join(ln for ln in native if ln.startswith("nnrun:")))
        return status
    print(f"nnrun: error: {_why(''.join(native), status)}", file=sys.stderr)
    return EXIT_ERRORS


def _why(log: str, status: int) -> str:
    dead = _UNHEALTHY.search(log)
    if dead is not None:
        ids = ", ".join(x.strip() for x in dead.group(1).split(",") if x.strip())
        return (
            f"process {ids} of the distributed run stopped responding (no heartbeat); "
            "this process stopped too"
        )
    if "detected fatal errors" in log or "coordination service" in log.lower():
        return "the distributed run failed: another process died or the coordinator is gone"
    sig = -status if status < 0 else signal.SIGABRT
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = str(sig)
    last = next((ln.strip() for ln in reversed(log.splitlines()) if ln.strip()), "")
    return f"training stopped by {name}" + (f": {last}" if last else "")
