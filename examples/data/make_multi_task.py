"""Writes multi_task.npz for examples/multi_task.nn from digits.npz (run from any directory).

Each digit gives the two inputs and the two targets, every array named as the model's input or
output it feeds:
- `image`   f32 [N, 8, 8, 1]: the pixels, in [0, 1];
- `profile` f32 [N, 16]: the ink of each row then of each column (a hand-made feature vector);
- `digit`   i32 [N]: the class, 0..9;
- `center`  f32 [N, 2]: the ink's centre of mass (row, column), in pixels from the middle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    digits = np.load(HERE / "digits.npz")
    image = digits["images_2d"].astype(np.float32)
    pixels = image[..., 0]
    rows, cols = pixels.sum(axis=2), pixels.sum(axis=1)
    total = np.maximum(pixels.sum(axis=(1, 2)), 1e-6)[:, None]
    profile = np.concatenate([rows, cols], axis=1) / 8.0
    position = np.arange(8, dtype=np.float32)
    center = np.stack([rows @ position, cols @ position], axis=1) / total
    np.savez_compressed(
        HERE / "multi_task.npz",
        image=image,
        profile=profile.astype(np.float32),
        digit=digits["labels"].astype(np.int32),
        center=(center - 3.5).astype(np.float32),
    )


if __name__ == "__main__":
    main()
