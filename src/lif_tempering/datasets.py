"""Binary image data sets: scikit-learn's 8x8 digits and MNIST (IDX files).

Images become binary vectors (pixel > threshold), one row per image, in row-major
pixel order; labels are the digits 0..9. Both loaders return a
:class:`BinaryImages`.

MNIST is read from a directory holding the four IDX files (gzip-compressed or not)
and a ``SHA256SUMS`` file that lists the SHA-256 of the *decompressed* IDX bytes, so
that files compressed by different tools verify alike.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# SHA-256 of the decompressed canonical MNIST files (same as the shipped SHA256SUMS).
MNIST_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_CHUNK_BYTES = 1 << 20


class ChecksumError(ValueError):
    """A file's decompressed bytes do not have the expected SHA-256."""


@dataclass(frozen=True)
class BinaryImages:
    """A binarised image data set with its official or seeded train/test split.

    ``train_images``: (N_train, D) int8 in {0, 1}, D = prod(image_shape), row-major pixels;
    ``train_labels``: (N_train,) int64 digits; ``test_images``, ``test_labels`` likewise;
    ``image_shape``: (height, width) in pixels.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    image_shape: tuple[int, int]


def load_digits_binary(threshold: float = 8, test_fraction: float = 0.2, seed=0) -> BinaryImages:
    """scikit-learn's 8x8 digits (1797 images, values 0..16), binarised as pixel > threshold.

    The test set is a uniformly random ``ceil(test_fraction * 1797)`` images drawn with
    ``seed`` (int or :class:`numpy.random.Generator`); the rest is the training set
    (1437 training images for the default 0.2).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.data > threshold).astype(np.int8)
    labels = digits.target.astype(np.int64)
    n_test = math.ceil(test_fraction * len(labels))
    order = np.random.default_rng(seed).permutation(len(labels))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    return BinaryImages(images[train], labels[train], images[test], labels[test], (8, 8))


def _decompressed_bytes(path: Path) -> bytes:
    """Contents of ``path``, gunzipped when it starts with the gzip magic bytes."""
    with open(path, "rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    opener = gzip.open if compressed else open
    with opener(path, "rb") as handle:
        return handle.read()


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Array stored in the bytes of an (uncompressed) IDX file.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
    dimension as a big-endian uint32 (MNIST images: magic 0x00000803, labels
    0x00000801). Raises :class:`ValueError` naming ``source`` on a bad magic number or
    when the data size does not match the dimensions.
    """
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES or raw[3] == 0:
        raise ValueError(f"{source}: not an IDX file (magic number 0x{raw[:4].hex()})")
    ndim = raw[3]
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise ValueError(f"{source}: IDX header truncated ({len(raw)} bytes, need {header_bytes})")
    shape = struct.unpack(f">{ndim}I", raw[4:header_bytes])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected_bytes = math.prod(shape) * dtype.itemsize
    if len(raw) - header_bytes != expected_bytes:
        raise ValueError(f"{source}: IDX shape {shape} needs {expected_bytes} data bytes, "
                         f"found {len(raw) - header_bytes}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_bytes).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Array in an IDX file, gzip-compressed or not (detected from the content)."""
    path = Path(path)
    return parse_idx(_decompressed_bytes(path), str(path))


def read_sha256sums(path: str | os.PathLike) -> dict[str, str]:
    """``{file name: hex digest}`` from a ``sha256sum``-style file (``<hash>  <name>`` lines)."""
    sums = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def sha256_decompressed(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the decompressed bytes of ``path`` (of the raw bytes if not gzip)."""
    path = Path(path)
    with open(path, "rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    digest = hashlib.sha256()
    with (gzip.open if compressed else open)(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(source, expected: str, found: str) -> None:
    """Raise :class:`ChecksumError` naming ``source`` (a path or URL) if the digests differ."""
    if found != expected:
        raise ChecksumError(f"{source}: SHA-256 of the decompressed bytes is {found}, expected {expected}")


def _expected_sums(directory: Path, sha256sums) -> dict[str, str]:
    if sha256sums is None:
        sha256sums = directory / "SHA256SUMS"
    if isinstance(sha256sums, Mapping):
        return dict(sha256sums)
    return read_sha256sums(sha256sums)


def _locate(directory: Path, name: str) -> Path:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"neither {name}.gz nor {name} in {directory}")


def verify_mnist(directory: str | os.PathLike, sha256sums=None) -> dict[str, str]:
    """Check every file listed in ``sha256sums`` against its decompressed SHA-256.

    ``sha256sums``: path of a ``SHA256SUMS`` file (default ``directory/SHA256SUMS``)
    or a ``{name: digest}`` mapping. Each listed ``name`` is looked up as
    ``name.gz`` or ``name`` in ``directory``. Returns the verified ``{name: digest}``;
    raises :class:`ChecksumError` naming the file, expected and found digest.
    """
    directory = Path(directory)
    expected = _expected_sums(directory, sha256sums)
    for name, digest in expected.items():
        path = _locate(directory, name)
        _check_digest(path, digest, sha256_decompressed(path))
    return expected


def _block_sum(images: np.ndarray, factor: int) -> np.ndarray:
    """Sum (int64) over non-overlapping ``factor`` x ``factor`` blocks of (N, H, W) images."""
    n, height, width = images.shape
    if height % factor or width % factor:
        raise ValueError(f"downsample factor {factor} does not divide the image size {height}x{width}")
    blocks = images.reshape(n, height // factor, factor, width // factor, factor)
    return blocks.sum(axis=(2, 4), dtype=np.int64)


def load_mnist_binary(directory: str | os.PathLike, threshold: float = 127, downsample: int = 1,
                      verify: bool = True, sha256sums=None) -> BinaryImages:
    """MNIST with the official split (60,000 train, 10,000 test), binarised.

    Images (values 0..255) are first averaged over ``downsample`` x ``downsample``
    blocks (1: 28x28, 2: 14x14, 4: 7x7; the factor must divide the image size), then binarised as value > ``threshold``.
    With ``verify`` each file's decompressed bytes are checked against
    ``sha256sums`` (default ``directory/SHA256SUMS`` if present, else the canonical
    sums in :data:`MNIST_SHA256`) before use.
    """
    directory = Path(directory)
    if sha256sums is None and not (directory / "SHA256SUMS").is_file():
        sha256sums = MNIST_SHA256
    expected = _expected_sums(directory, sha256sums) if verify else {}
    arrays = {}
    for key, name in MNIST_FILES.items():
        path = _locate(directory, name)
        raw = _decompressed_bytes(path)
        if verify:
            _check_digest(path, expected[name], hashlib.sha256(raw).hexdigest())
        arrays[key] = parse_idx(raw, str(path))
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"MNIST {split}: images {images.shape} and labels {labels.shape} do not match")
    binary = {}
    for split in ("train", "test"):
        block_sums = _block_sum(arrays[f"{split}_images"], downsample)
        block_means_above = block_sums > threshold * downsample**2
        binary[split] = block_means_above.astype(np.int8).reshape(len(block_sums), -1)
    image_shape = tuple(size // downsample for size in arrays["train_images"].shape[1:])
    return BinaryImages(binary["train"], arrays["train_labels"].astype(np.int64),
                        binary["test"], arrays["test_labels"].astype(np.int64), image_shape)


def download_mnist(directory: str | os.PathLike, base_url: str = MNIST_BASE_URL,
                   sha256sums=None, timeout_s: float = 60.0) -> dict[str, Path]:
    """Download the four gzipped MNIST files into ``directory`` and verify them.

    Each ``<base_url><name>.gz`` is streamed to a hidden temporary file in
    ``directory``; only when *all* files' decompressed SHA-256 match ``sha256sums``
    (a mapping or SHA256SUMS path; default :data:`MNIST_SHA256`) are they renamed to
    ``<name>.gz`` and a ``SHA256SUMS`` file written. On any failure (network,
    :class:`ChecksumError`) the temporary files are removed and nothing is written.
    Files already present and verified are kept as they are.
    Returns ``{name: path}`` of the four files.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    expected = _expected_sums(directory, MNIST_SHA256 if sha256sums is None else sha256sums)
    targets = {name: directory / f"{name}.gz" for name in MNIST_FILES.values()}
    pending: list[tuple[Path, Path]] = []  # (temporary file, final path), renamed only at the end
    try:
        for name, target in targets.items():
            if target.is_file() and sha256_decompressed(target) == expected[name]:
                continue
            url = f"{base_url}{name}.gz"
            tmp = _temporary_file(directory, target.name)
            pending.append((tmp, target))
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
            _check_digest(url, expected[name], sha256_decompressed(tmp))
        sums_file = _temporary_file(directory, "SHA256SUMS")
        pending.append((sums_file, directory / "SHA256SUMS"))
        sums_file.write_text("".join(f"{expected[name]}  {name}\n" for name in sorted(targets)))
        while pending:  # data files first, SHA256SUMS last
            tmp, target = pending[0]
            os.replace(tmp, target)
            pending.pop(0)
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
    return targets


def _temporary_file(directory: Path, name: str) -> Path:
    """A new empty hidden file ``.<name>.<random>.part`` in ``directory``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    os.close(fd)
    return Path(tmp)
