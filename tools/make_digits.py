"""Write `examples/data/digits.npz` from scikit-learn's bundled 8x8 digits (UCI optdigits test set).

Run once by a maintainer; the result is committed, so scikit-learn is NOT a runtime (or dev)
dependency of nndsl. The data ships inside the scikit-learn wheel: nothing is downloaded.

    python tools/make_digits.py            # needs `pip install scikit-learn` in this env only

Keys (all from the same 1797 samples, in scikit-learn's order, so the output is deterministic):
    images     float32 [1797, 64]       pixel intensities 0..16 scaled to [0, 1]
    images_2d  float32 [1797, 8, 8, 1]  the same, as channels-last images
    labels     int32   [1797]           digit 0..9
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "examples" / "data" / "digits.npz"


def build() -> dict[str, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - maintainer tool
        raise SystemExit(
            "tools/make_digits.py needs scikit-learn (maintainer-only): pip install scikit-learn"
        ) from exc
    digits = load_digits()
    images = (np.asarray(digits.data, dtype=np.float32) / 16.0).astype(np.float32)
    labels = np.asarray(digits.target, dtype=np.int32)
    assert images.shape == (1797, 64), images.shape
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    return {
        "images": images,
        "images_2d": images.reshape(-1, 8, 8, 1),
        "labels": labels,
    }


def write(arrays: dict[str, np.ndarray], out: Path) -> None:
    """Like `np.savez_compressed`, but with fixed zip timestamps so the bytes are reproducible."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    arrays = build()
    write(arrays, args.out)
    with np.load(args.out) as check:
        for name, arr in arrays.items():
            assert np.array_equal(check[name], arr) and check[name].dtype == arr.dtype
    size_kb = args.out.stat().st_size / 1024
    shapes = ", ".join(f"{k} {v.dtype}{list(v.shape)}" for k, v in sorted(arrays.items()))
    print(f"wrote {args.out} ({size_kb:.0f} KiB): {shapes}")


if __name__ == "__main__":
    main()
