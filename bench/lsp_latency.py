"""How fast does `nnrun lsp` answer an editor, on a ~2,000-line file?

    python bench/lsp_latency.py [--edits 30] [--queries 50] [--blocks 220] [--starts 5]

Generates a valid ~2,000-line `.nn` file (the generator of bench/check_speed.py), starts the
server as an editor does (`python -m nndsl lsp`, stdio) and drives it with a minimal JSON-RPC
client, timing:

    start -> first diagnostics   process spawn, initialize, didOpen, until publishDiagnostics
                                 (median of --starts fresh servers; the 5-line file likewise)
    didChange -> diagnostics     a one-character edit (a Dropout rate), until the diagnostics of
                                 that version are published; edits are spaced apart, so each is an
                                 isolated edit (no debounce burst); also for a blank line
                                 inserted in a block and deleted again (moves what follows), and
                                 for each keystroke of typing a statement into a block (most of
                                 its prefixes are syntax errors or unknown names)
    hover, completion            requests on tensor names / inside a call, on the current text

It prints a table (p50, p95, max, target) and writes bench/results/lsp_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "lsp_latency.json"
sys.path.insert(0, str(ROOT / "bench"))
from check_speed import generate  # noqa: E402

TARGETS_MS = {
    "diagnostics": 50.0,
    "insert": None,
    "typing": None,
    "hover": 20.0,
    "completion": None,
    "start": 500.0,
}


class Client:
    """JSON-RPC over the server's stdin/stdout, Content-Length framed."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.diagnostics: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return await future

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = await out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message = json.loads(await out.readexactly(length))
            now = time.perf_counter()
            if "id" in message and "method" not in message:
                future = self.waiting.pop(message["id"])
                if "error" in message:
                    future.set_exception(RuntimeError(message["error"]))
                else:
                    future.set_result(message.get("result"))
            elif message.get("method") == "textDocument/publishDiagnostics":
                self.diagnostics.put_nowait((now, message["params"]))
            elif "id" in message:  # a request from the server (e.g. configuration): decline
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})


def _stats(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1], "n": len(ordered)}


async def _published(client: Client, version: int | None) -> tuple[float, dict[str, Any]]:
    while True:
        at, params = await asyncio.wait_for(client.diagnostics.get(), timeout=60)
        if version is None or params.get("version") == version:
            return at, params


SMALL = """model M(classes: int = 10) {
    input x: f32[B, 64]
    h = x |> Dense(128, activation = "relu") |> Dropout(0.2)
    return h |> Dense(classes)
}
"""


async def _spawn() -> tuple[asyncio.subprocess.Process, Client]:
    """`nnrun lsp` on pipes, as an editor starts it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nndsl",
        "lsp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    return proc, Client(proc)


async def start_only(text: str) -> float:
    """Spawn to first published diagnostics, in ms (the server and the check of `text`)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small.nn"
        path.write_text(text)
        start = time.perf_counter()
        proc, client = await _spawn()
        await client.request("initialize", {"processId": None, "capabilities": {}})
        client.notify("initialized", {})
        client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": path.as_uri(),
                    "languageId": "nn",
                    "version": 1,
                    "text": text,
                }
            },
        )
        at, _ = await _published(client, None)
        await client.request("shutdown", None)
        client.notify("exit", None)
        await proc.wait()
        client.reader.cancel()
        return (at - start) * 1000


async def run(edits: int, queries: int, blocks: int, starts: int) -> dict[str, Any]:
    small = [await start_only(SMALL) for _ in range(starts)]
    text = generate(blocks)
    big = [await start_only(text) for _ in range(starts - 1)]  # and the session's own start
    lines = text.splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.nn"
        path.write_text(text)
        uri = path.as_uri()
        start = time.perf_counter()
        proc, client = await _spawn()
        await client.request(
            "initialize",
            {"processId": None, "rootUri": Path(tmp).as_uri(), "capabilities": {}},
        )
        client.notify("initialized", {})
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "nn", "version": 1, "text": text}},
        )
        at, params = await _published(client, None)
        start_ms = (at - start) * 1000
        assert params["diagnostics"] == [], params["diagnostics"][:2]

        # one-character edits of `Dropout(rate)` -> `Dropout(rate)` with a new default rate
        targets = [i for i, line in enumerate(lines) if line.startswith("block Dense")]
        change_ms: list[float] = []
        for n in range(edits):
            line_no = targets[n % len(targets)]
            col = lines[line_no].index("rate: float = 0.") + len("rate: float = 0.")
            digit = str((n + 4) % 9 + 1)  # block n has rate 0.{n % 9 + 1}: a real change
            await asyncio.sleep(0.3)  # an isolated edit, not part of a typing burst
            sent = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": n + 2},
                    "contentChanges": [
                        {
                            "range": {
                                "start": {"line": line_no, "character": col},
                                "end": {"line": line_no, "character": col + 1},
                            },
                            "text": digit,
                        }
                    ],
                },
            )
            at, params = await _published(client, n + 2)
            assert params["diagnostics"] == [], params["diagnostics"][:2]
            change_ms.append((at - sent) * 1000)

        # typing moves what follows: a blank line inserted inside a block, then deleted
        version = edits + 1
        insert_ms: list[float] = []
        for n in range(edits):
            line_no = targets[(n // 2 * 7) % len(targets)] + 1
            end = {"line": line_no + (n % 2), "character": 0}
            await asyncio.sleep(0.3)
            version += 1
            sent = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [
                        {
                            "range": {"start": {"line": line_no, "character": 0}, "end": end},
                            "text": "\n" if n % 2 == 0 else "",
                        }
                    ],
                },
            )
            at, params = await _published(client, version)
            assert params["diagnostics"] == [], params["diagnostics"][:2]
            insert_ms.append((at - sent) * 1000)

        # typing a statement into a block, a character at a time: most of its prefixes are
        # syntax errors (`z =`, `Dense(`) or unknown names (`Den`), each published
        typed = "    z = x |> Dense(4)"
        typing_ms: list[float] = []
        block = targets[len(targets) // 2]
        line_no = next(i for i in range(block, len(lines)) if "input x" in lines[i]) + 1
        keys = [((line_no, 0), "\n")] + [((line_no, n), ch) for n, ch in enumerate(typed)]
        for (line, col), ch in keys:  # Enter, then the statement
            await asyncio.sleep(0.3)
            version += 1
            sent = time.perf_counter()
            at_pos = {"line": line, "character": col}
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"range": {"start": at_pos, "end": at_pos}, "text": ch}],
                },
            )
            at, _ = await _published(client, version)
            typing_ms.append((at - sent) * 1000)
        version += 1  # and the line removed again
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": line_no, "character": 0},
                            "end": {"line": line_no + 1, "character": 0},
                        },
                        "text": "",
                    }
                ],
            },
        )
        at, params = await _published(client, version)
        assert params["diagnostics"] == [], params["diagnostics"][:2]

        # hover on `h<i>` (a tensor: its type), completion inside `Dense(`
        tensors = [i for i, line in enumerate(lines) if line.lstrip().startswith("g")]
        dense = [i for i, line in enumerate(lines) if "|> Dense(units" in line]
        hover_ms: list[float] = []
        completion_ms: list[float] = []
        for n in range(queries):
            line_no = tensors[(n * 7) % len(tensors)]
            pos = {"line": line_no, "character": 5}
            sent = time.perf_counter()
            result = await client.request(
                "textDocument/hover", {"textDocument": {"uri": uri}, "position": pos}
            )
            hover_ms.append((time.perf_counter() - sent) * 1000)
            assert result is not None and "f32[" in result["contents"]["value"], result
            line_no = dense[(n * 5) % len(dense)]
            col = lines[line_no].index("Dense(units") + len("Dense(")
            pos = {"line": line_no, "character": col}
            sent = time.perf_counter()
            result = await client.request(
                "textDocument/completion", {"textDocument": {"uri": uri}, "position": pos}
            )
            completion_ms.append((time.perf_counter() - sent) * 1000)
            assert result, "no completions"
        await client.request("shutdown", None)
        client.notify("exit", None)
        await proc.wait()
        client.reader.cancel()
    return {
        "lines": len(lines),
        "start_to_first_diagnostics_ms": statistics.median([*big, start_ms]),
        "start_samples_ms": [round(ms, 1) for ms in [*big, start_ms]],
        "start_small_file_ms": statistics.median(small),
        "diagnostics": _stats(change_ms),
        "diagnostics_samples_ms": [round(ms, 1) for ms in change_ms],
        "insert": _stats(insert_ms),
        "typing": _stats(typing_ms),
        "typing_samples_ms": [round(ms, 1) for ms in typing_ms],
        "hover": _stats(hover_ms),
        "completion": _stats(completion_ms),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--blocks", type=int, default=220, help="~9 lines per block")
    parser.add_argument("--starts", type=int, default=5, help="fresh servers per start figure")
    args = parser.parse_args()
    result = asyncio.run(run(args.edits, args.queries, args.blocks, args.starts))
    result["python"] = platform.python_version()
    result["machine"] = platform.machine()
    result["date"] = time.strftime("%Y-%m-%d")
    print(f"nnrun lsp on a {result['lines']}-line file (ms)")
    print(f"{'measure':<28}{'p50':>9}{'p95':>9}{'max':>9}{'target':>10}")
    for name, label in (
        ("diagnostics", "didChange -> diagnostics"),
        ("insert", "  same, line in/out"),
        ("typing", "  typing a statement"),
        ("hover", "hover"),
        ("completion", "completion"),
    ):
        s = result[name]
        target = TARGETS_MS[name]
        shown = f"p95<{target:.0f}" if target else "-"
        print(f"{label:<28}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['max']:>9.1f}{shown:>10}")
    start = result["start_to_first_diagnostics_ms"]
    worst = max(result["start_samples_ms"])
    print(f"{'start -> first diagnostics':<28}{start:>9.1f}{'':>9}{worst:>9.1f}{'<500':>10}")
    small = result["start_small_file_ms"]
    print(f"{'  same, 5-line file (median)':<28}{small:>9.1f}{'':>9}{'':>9}{'<500':>10}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
