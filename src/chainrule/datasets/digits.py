"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), offline."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from chainrule.data.dataset import TensorDataset


@lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images[:, None] / 16.0).astype(np.float32)  # pixel values are 0..16
    labels = bunch.target.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False  # shared by every split
    return images, labels


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (train, test); each class gives round(test_fraction * count) to test."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        test.append(rng.permutation(members)[: round(test_fraction * len(members))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


def digits(split: str = "train", test_fraction: float = 0.2, seed: int = 0) -> TensorDataset:
    """The 8x8 digits: samples are (image float32 (1, 8, 8) in [0, 1], label int64 in 0..9).

    The split is stratified and deterministic in ``seed``: ``test_fraction`` of each class goes to
    "test" (1,797 images: 1,438 train and 359 test at the defaults). ``split="all"`` gives every
    image. Images keep a channel axis so that convolutional models take them as they are; use
    ``nn.Flatten`` for an MLP (64 features).
    """
    images, labels = _load()
    if split == "all":
        return TensorDataset(images, labels)
    if split not in ("train", "test"):
        raise ValueError(f"digits: split must be 'train', 'test' or 'all', got {split!r}")
    train_idx, test_idx = stratified_split(labels, test_fraction, seed)
    idx = train_idx if split == "train" else test_idx
    return TensorDataset(images[idx], labels[idx])
