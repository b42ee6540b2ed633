"""PNG through headless Chromium: the one way nndsl turns its SVG/HTML into pixels.

Why Chromium and not Graphviz or cairosvg: the pictures are laid out in Python and written as
SVG, so no layout engine is needed, only a rasterizer. Graphviz's `dot` is a system binary
that would have to lay out again (and differently); cairosvg needs the system's Cairo library.
A browser draws exactly what the HTML page shows, and PNG is optional: SVG and HTML need
nothing. Chromium is found as `$NNDSL_CHROMIUM`, else `chromium`, `chromium-browser`,
`google-chrome` on the PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# headless, and quiet on a machine without network (see /work/shared design notes)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--default-background-color=ffffffff",
)
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MAX_SIDE = 16384  # Chromium's largest screenshot side


class BrowserError(Exception):
    """No Chromium, or it failed: one line for the user."""


def find_chromium() -> str | None:
    given = os.environ.get("NNDSL_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def run_chromium(args: list[str], timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    """Chromium with the headless flags, a throw-away profile and `args`."""
    exe = find_chromium()
    if exe is None:
        raise BrowserError(
            "writing PNG needs Chromium (Debian: `apt install chromium`; or set "
            "NNDSL_CHROMIUM to its path); .svg and .html need nothing"
        )
    with tempfile.TemporaryDirectory(prefix="nndsl-chromium-") as profile:
        try:
            return subprocess.run(
                [exe, *FLAGS, f"--user-data-dir={profile}", *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise BrowserError(f"Chromium ({exe}) failed: {err}") from None


def screenshot(page: Path, png: Path, width: int, height: int) -> Path:
    """`page` (an .svg or .html file, or an http address) as a `width` x `height` PNG."""
    width, height = min(max(width, 64), MAX_SIDE), min(max(height, 64), MAX_SIDE)
    target = png.resolve()
    url = page.resolve().as_uri() if isinstance(page, Path) else str(page)
    proc = run_chromium([f"--screenshot={target}", f"--window-size={width},{height}", url])
    if not target.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise BrowserError(f"Chromium wrote no screenshot ({tail[0]})")
    return target
