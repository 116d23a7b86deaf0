"""A strict reader of the IDX format (plain or gzip-compressed), and MNIST / Fashion-MNIST.

Layout: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32, then exactly prod(dims) big-endian values of the type.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import zlib
from pathlib import Path

import numpy as np

from chainrule.data.dataset import TensorDataset

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode an IDX file's bytes into a native-order ndarray; ValueError if malformed."""
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(data)} bytes, shorter than the header")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(f"{name}: not an IDX file: bad magic number 0x{data[:4].hex()}")
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(data)} bytes, {header} expected)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{name}: IDX size mismatch: dims {dims} of {dtype.name} need {expected} bytes, "
            f"file has {len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed when it starts with gzip's magic bytes)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip_declared(data, str(path))
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt gzip data ({e})") from e
    return parse_idx(data, str(path))


_CHUNK = 1 << 24
_MAX_RATIO = 1100  # deflate cannot compress more than 1032:1


def _gunzip_declared(data: bytes, name: str) -> bytes:
    """Decompress gzip data no further than the size the IDX header inside declares (plus one
    byte, so parse_idx can report the excess); a declared size beyond what gzip data of this
    length can hold is refused before decompressing. Guards against gzip bombs."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        head = f.read(4)
        ndim = head[3] if len(head) == 4 else 0
        head += f.read(4 * ndim)
        if len(head) < 4 + 4 * ndim or ndim == 0 or head[2] not in IDX_DTYPES:
            return head  # parse_idx names the problem
        dims = np.frombuffer(head, dtype=">u4", count=ndim, offset=4)
        size = math.prod(int(d) for d in dims) * IDX_DTYPES[head[2]].itemsize
        if size > _MAX_RATIO * len(data):
            raise ValueError(f"{name}: IDX header declares dims {tuple(map(int, dims))} "
                             f"({size} bytes), more than {len(data)} bytes of gzip data hold")
        parts, left = [head], size + 1
        while left > 0:
            part = f.read(min(left, _CHUNK))
            if not part:
                break
            parts.append(part)
            left -= len(part)
    return b"".join(parts)


# ----- MNIST and Fashion-MNIST: the same four IDX files -----

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"IDX file not found: {root / stem}.gz (nor uncompressed {stem})")


def _check_sha256(path: Path) -> None:
    """If a SHA256SUMS file next to path lists it, verify the file's digest."""
    sums = path.parent / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != parts[0].lower():
                raise ValueError(f"{path}: SHA256 {digest} does not match {sums} ({parts[0]})")
            return


def _load_pair(root: str | os.PathLike[str], split: str, what: str) -> TensorDataset:
    if split not in _SPLIT_FILES:
        raise ValueError(f"{what}: split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    paths = tuple(_find(root, stem) for stem in _SPLIT_FILES[split])
    key = tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if key not in _CACHE:
        for p in paths:
            _check_sha256(p)
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{paths[0]}: expected uint8 images (N, H, W), "
                             f"got {images.dtype} {images.shape}")
        if labels.shape != images.shape[:1] or labels.dtype != np.uint8:
            raise ValueError(f"{paths[1]}: expected {len(images)} uint8 labels to match "
                             f"{paths[0].name}, got {labels.dtype} {labels.shape}")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{paths[1]}: label {labels.max()} outside 0..9")
        x = np.divide(images[:, None], np.float32(255), dtype=np.float32)
        y = labels.astype(np.int64)
        x.flags.writeable = y.flags.writeable = False  # shared by every dataset of this process
        _CACHE[key] = (x, y)
    return TensorDataset(*_CACHE[key])


def mnist(root: str | os.PathLike[str], split: str = "train") -> TensorDataset:
    """MNIST from its standard IDX files (``train-images-idx3-ubyte.gz`` ...) in root.

    Samples are (image float32 (1, 28, 28) in [0, 1], label int64); 60,000 train, 10,000 test.
    The decoded arrays are cached (read-only) for the life of the process.
    """
    return _load_pair(root, split, "mnist")


def fashion_mnist(root: str | os.PathLike[str], split: str = "train") -> TensorDataset:
    """Fashion-MNIST from its IDX files in root, in MNIST's layout and shapes."""
    return _load_pair(root, split, "fashion_mnist")
