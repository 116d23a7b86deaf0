"""Datasets: digits split, the strict IDX parser, MNIST files (crafted and real), synthetic sets."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import DataLoader, TensorDataset
from chainrule.datasets import (
    digits,
    fashion_mnist,
    function_1d,
    mnist,
    parse_idx,
    read_idx,
    two_spirals,
    xor,
)
from chainrule.datasets.digits import stratified_split

_HERE = Path(__file__).resolve()
_DATA = next((p for p in (_HERE.parents[2] / ".." / "shared" / "data", Path("/work/shared/data"))
              if (p / "mnist").is_dir()), None)
needs_data = pytest.mark.skipif(_DATA is None, reason="shared/data (MNIST files) not present")


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file holding array (stored big-endian)."""
    dims = np.array(array.shape, dtype=">u4").tobytes()
    big = array.astype(array.dtype.newbyteorder(">"))
    return bytes([0, 0, code, array.ndim]) + dims + big.tobytes()


def write_mnist(root: Path, split: str = "train", n: int = 5, labels=None) -> np.ndarray:
    """Gzipped IDX images and labels files of n random 28x28 images; returns the images."""
    stem = "train" if split == "train" else "t10k"
    images = np.random.default_rng(0).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10 if labels is None else labels
    (root / f"{stem}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    (root / f"{stem}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x08)))
    return images


# ----- digits -----

def test_digits_shapes_dtypes_and_range():
    train, test = digits("train"), digits("test")
    assert isinstance(train, TensorDataset)
    assert (len(train), len(test)) == (1438, 359)
    x, y = train.arrays
    assert x.shape == (1438, 1, 8, 8)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    assert x.min() == 0.0
    assert x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    image, label = train[0]
    assert image.shape == (1, 8, 8)
    assert label.dtype == np.int64


def test_digits_split_is_deterministic_stratified_and_disjoint():
    a, b = digits("test", seed=3), digits("test", seed=3)
    np.testing.assert_array_equal(a.arrays[0], b.arrays[0])
    assert not np.array_equal(digits("test", seed=4).arrays[1], a.arrays[1])
    assert len(digits("test", test_fraction=0.5)) + len(digits("train", test_fraction=0.5)) == 1797

    labels = digits("all").arrays[1]
    train_idx, test_idx = stratified_split(labels, 0.2, seed=0)
    assert np.intersect1d(train_idx, test_idx).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(1797))
    for c in range(10):
        assert np.sum(labels[test_idx] == c) == round(0.2 * np.sum(labels == c))


def test_digits_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        digits("validation")
    with pytest.raises(ValueError, match="test_fraction"):
        digits("train", test_fraction=1.0)


def test_digits_cache_cannot_be_corrupted_through_a_dataset():
    x = digits("all").arrays[0]
    with pytest.raises(ValueError, match="read-only"):
        x[0, 0, 0, 0] = 5.0


# ----- the IDX parser -----

@pytest.mark.parametrize(("dtype", "code"), [
    (np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D),
    (np.float64, 0x0E),
])
def test_parse_idx_round_trips_every_type(dtype, code):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    got = parse_idx(idx_bytes(array, code))
    assert got.dtype == np.dtype(dtype)
    assert got.dtype.isnative
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "shorter than the header"),
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x07", "magic"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "size mismatch"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "size mismatch"),
    (b"\x00\x00\x0c\x01\x00\x00\x00\x01\x01\x02", "size mismatch"),
])
def test_parse_idx_rejects_malformed_bytes(data, message):
    with pytest.raises(ValueError, match=message):
        parse_idx(data, "f.idx")


def test_read_idx_plain_and_gzip(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array, 0x08))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(array, 0x08)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), array)


def test_read_idx_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.gz"):
        read_idx(tmp_path / "missing.gz")
    good = gzip.compress(idx_bytes(np.zeros((10, 28, 28), np.uint8), 0x08))
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz.*gzip"):
        read_idx(tmp_path / "cut.gz")
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    (tmp_path / "flip.gz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"flip\.gz"):
        read_idx(tmp_path / "flip.gz")
    (tmp_path / "short.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8), 0x08)[:-1]))
    with pytest.raises(ValueError, match=r"short\.gz.*size mismatch"):
        read_idx(tmp_path / "short.gz")


# ----- MNIST layout on crafted files -----

def test_mnist_reads_crafted_files(tmp_path):
    images = write_mnist(tmp_path, "test", n=7)
    ds = mnist(tmp_path, "test")
    x, y = ds.arrays
    assert x.shape == (7, 1, 28, 28)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 0], images / np.float32(255))
    assert y.tolist() == list(range(7))
    assert fashion_mnist(tmp_path, "test").arrays[1].tolist() == list(range(7))


def test_mnist_missing_and_inconsistent_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        mnist(tmp_path, "val")
    write_mnist(tmp_path, "train", n=5, labels=np.arange(4, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz"):
        mnist(tmp_path, "train")
    write_mnist(tmp_path, "train", n=3, labels=np.array([1, 2, 12], np.uint8))
    with pytest.raises(ValueError, match="label 12"):
        mnist(tmp_path, "train")


def test_mnist_checks_sha256sums_when_present(tmp_path):
    write_mnist(tmp_path, "test", n=3)
    names = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    digest = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in names]
    (tmp_path / "SHA256SUMS").write_text(f"{digest[0]}  {names[0]}\n{'0' * 64}  {names[1]}\n")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz: SHA256"):
        mnist(tmp_path, "test")
    (tmp_path / "SHA256SUMS").write_text(f"{digest[0]}  {names[0]}\n{digest[1]}  {names[1]}\n")
    assert len(mnist(tmp_path, "test")) == 3


# ----- the real files -----

@needs_data
@pytest.mark.parametrize(("loader", "folder"), [(mnist, "mnist"), (fashion_mnist, "fashion-mnist")])
def test_real_idx_datasets(loader, folder):
    train, test = loader(_DATA / folder, "train"), loader(_DATA / folder, "test")
    assert (len(train), len(test)) == (60000, 10000)
    x, y = test.arrays
    assert x.shape == (10000, 1, 28, 28)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    assert 0.0 <= x.min() < x.max() <= 1.0
    assert np.unique(y).tolist() == list(range(10))
    again = loader(_DATA / folder, "test")
    assert again.arrays[0] is x  # decoded once per process


@needs_data
def test_real_mnist_first_labels():
    y = mnist(_DATA / "mnist", "train").arrays[1]
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


# ----- synthetic -----

def test_xor_one_and_two_dimensional():
    x, y = xor(400, seed=1).arrays
    assert x.shape == (400, 1)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, np.abs(x[:, 0]) < 1)
    assert 0.3 < y.mean() < 0.7
    x2, y2 = xor(400, seed=1, dim=2).arrays
    assert x2.shape == (400, 2)
    np.testing.assert_array_equal(y2, (x2[:, 0] > 0) != (x2[:, 1] > 0))
    np.testing.assert_array_equal(xor(50, seed=2).arrays[0], xor(50, seed=2).arrays[0])
    with pytest.raises(ValueError, match="dim"):
        xor(10, dim=3)


def test_two_spirals():
    x, y = two_spirals(301, noise=0.0, seed=0).arrays
    assert x.shape == (301, 2)
    assert x.dtype == np.float32
    assert np.bincount(y).tolist() == [151, 150]
    assert np.abs(x).max() <= 1.0
    radius = np.linalg.norm(x, axis=1)
    angle = np.arctan2(x[:, 1], x[:, 0])
    t = radius * 3 * np.pi  # class 0 lies on r = t / (3 pi), angle t; class 1 is rotated by pi
    phase = np.where(y == 0, 0.0, np.pi)
    np.testing.assert_allclose(np.cos(angle), np.cos(t + phase), atol=1e-4)
    noisy = two_spirals(301, noise=0.1, seed=0).arrays[0]
    assert 0.05 < np.std(noisy - x) < 0.15


def test_function_1d():
    x, y = function_1d("sin", n=50, seed=0).arrays
    assert x.shape == (50, 1)
    assert y.shape == (50, 1)
    assert y.dtype == np.float32
    assert np.all(np.diff(x[:, 0]) >= 0)
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    xc, yc = function_1d(np.tanh, n=10, domain=(0.0, 1.0)).arrays
    assert xc.min() >= 0.0
    np.testing.assert_allclose(yc, np.tanh(xc), atol=1e-6)
    with pytest.raises(ValueError, match="unknown fn"):
        function_1d("zeta")
    with pytest.raises(ValueError, match="domain"):
        function_1d(np.tanh)


def test_datasets_batch_through_the_loader():
    (x, y), *_ = DataLoader(digits("test"), batch_size=16, shuffle=True, seed=0)
    assert x.shape == (16, 1, 8, 8)
    assert y.dtype == np.int64
