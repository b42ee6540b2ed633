"""Writes docs/layers.md and docs/reference.md from the op registry, and the table of export
status in docs/deploy.md from the ONNX backend's lowerings.

python tools/gen_docs.py           # regenerate
python tools/gen_docs.py --check   # exit 1 if either page is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nndsl.ops.reference import PAGES  # noqa: E402

DOCS = ROOT / "docs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = parser.parse_args()
    from nndsl.backend.onnx.status import with_table

    pages = dict(PAGES)
    pages["deploy.md"] = lambda: with_table((DOCS / "deploy.md").read_text())
    stale = []
    for name, render in pages.items():
        target = DOCS / name
        text = render()
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(target)
            continue
        target.write_text(text)
        print(f"wrote {target}")
    for target in stale:
        print(f"{target} is stale: run python tools/gen_docs.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
