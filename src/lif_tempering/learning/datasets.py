"""Binary image data sets: scikit-learn's 8x8 digits, MNIST and Fashion-MNIST (IDX files).

Images become binary vectors (pixel > threshold), one row per image, in row-major
pixel order; labels are the classes 0..9. All loaders return a :class:`BinaryImages`.

MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao, Rasul & Vollgraf 2017,
arXiv:1708.07747) are read from a folder holding their four IDX files, each stored
gzipped (``<name>.gz``, preferred when both exist) or uncompressed (``<name>``).
Before use every file is checked against a digest:

1. if the folder has a ``SHA256SUMS`` file, against it (it takes precedence). Its
   lines are ``<hex SHA-256>  <file name>`` as written by ``sha256sum *.gz >
   SHA256SUMS``. A line naming ``<name>.gz`` is the digest of the gzipped file as
   stored; a line naming ``<name>`` is the digest of the uncompressed IDX bytes (the
   file ``<name>`` itself, or the decompressed ``<name>.gz``).
2. otherwise against the data set's canonical digests in :data:`CANONICAL_DIGESTS`,
   each with its algorithm: for MNIST the SHA-256 of the uncompressed IDX bytes, for
   Fashion-MNIST the MD5 of the ``.gz`` files published with the data set.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shlex
import struct
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
#: Data sets of the generative task; all but ``digits`` are IDX files read from a folder.
DATASETS = ("digits", "mnist", "fashion_mnist")
IDX_DATASETS = ("mnist", "fashion_mnist")
#: Classes of every data set: the labels are 0..9.
N_CLASSES = 10
#: The four IDX files of MNIST and Fashion-MNIST (same names, same layout: 28x28 images, labels 0..9).
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SUMS_FILE = "SHA256SUMS"
ALGORITHM_NAMES = {"sha256": "SHA-256", "md5": "MD5"}


class Digest(NamedTuple):
    """An expected digest: ``algorithm`` (a :mod:`hashlib` name) and its ``hex`` value."""

    algorithm: str
    hex: str


#: Canonical digests by data set, keyed like a ``SHA256SUMS`` line (``<name>``: of the
#: uncompressed IDX bytes, ``<name>.gz``: of the gzipped file as published).
CANONICAL_DIGESTS = {
    "mnist": {
        "t10k-images-idx3-ubyte": Digest("sha256", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "t10k-labels-idx1-ubyte": Digest("sha256", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        "train-images-idx3-ubyte": Digest("sha256", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train-labels-idx1-ubyte": Digest("sha256", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    },
    # MD5 sums published in the zalandoresearch/fashion-mnist README (also used by torchvision).
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": Digest("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": Digest("md5", "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": Digest("md5", "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": Digest("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
}
#: Canonical download locations, tried in turn; ``<mirror><name>.gz`` is each file.
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
}
_CHUNK_BYTES = 1 << 20


class ChecksumError(ValueError):
    """A data file does not have its expected digest, or no digest is known for it."""


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


def _idx_bytes(stored: bytes) -> bytes:
    """The IDX bytes of a file's stored content, gunzipped when it starts with the gzip magic bytes."""
    return gzip.decompress(stored) if stored[:2] == GZIP_MAGIC else stored


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
    return parse_idx(_idx_bytes(path.read_bytes()), str(path))


def read_sha256sums(path: str | os.PathLike) -> dict[str, str]:
    """``{file name: hex digest}`` from a ``sha256sum``-style file (``<hash>  <name>`` lines).

    Names are reduced to the file name (``./x.gz`` and ``x.gz`` alike); binary-mode
    markers (``*x.gz``) are dropped.
    """
    sums = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[Path(name.strip().lstrip("*")).name] = digest.lower()
    return sums


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes as stored (what ``sha256sum`` prints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def locate_idx_file(directory: str | os.PathLike, name: str) -> Path:
    """``directory/<name>.gz`` if present, else ``directory/<name>``; :class:`FileNotFoundError` if neither."""
    directory = Path(directory)
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"neither {name}.gz nor {name} in {directory}")


def idx_files(directory: str | os.PathLike) -> dict[str, Path]:
    """``{name: path}`` of the four IDX files in ``directory`` (see :func:`locate_idx_file`)."""
    return {name: locate_idx_file(directory, name) for name in IDX_FILES.values()}


def expected_digests(directory: str | os.PathLike, dataset: str) -> tuple[dict[str, Digest], str]:
    """The digests the IDX files in ``directory`` are checked against, and where they come from.

    The folder's ``SHA256SUMS`` if it has one (it takes precedence), else the
    canonical digests of ``dataset`` (:data:`CANONICAL_DIGESTS`).
    """
    sums = Path(directory) / SUMS_FILE
    if sums.is_file():
        return {name: Digest("sha256", digest) for name, digest in read_sha256sums(sums).items()}, str(sums)
    if dataset not in CANONICAL_DIGESTS:
        raise ValueError(f"unknown IDX data set {dataset!r}; allowed: {', '.join(CANONICAL_DIGESTS)}")
    return dict(CANONICAL_DIGESTS[dataset]), f"the canonical {dataset} digests"


def sums_command(directory: str | os.PathLike, stored_names) -> str:
    """The shell command that writes ``SHA256SUMS`` for the files ``stored_names`` in ``directory``."""
    return f"cd {shlex.quote(str(directory))} && sha256sum {' '.join(sorted(stored_names))} > {SUMS_FILE}"


def _checked_idx_bytes(label: str, stored_name: str, stored: bytes, expected: dict[str, Digest], source: str,
                       hint: str) -> bytes:
    """The IDX bytes of a file stored as ``stored_name`` with content ``stored``, after checking its digest.

    The digest listed for ``stored_name`` is of the bytes as stored; one listed for
    the name without ``.gz`` is of the uncompressed IDX bytes. Raises
    :class:`ChecksumError` naming ``label`` (a path or URL), both digests, their
    ``source`` and ``hint`` (what to do).
    """
    base = stored_name.removesuffix(".gz")
    idx = _idx_bytes(stored)
    if stored_name in expected:
        key, content, what = stored_name, stored, "the file as stored"
    elif base in expected:
        key, content, what = base, idx, "the uncompressed IDX bytes"
    else:
        listed = ", ".join(sorted(expected)) or "nothing"
        raise ChecksumError(f"{label}: no digest for {stored_name} or {base} in {source} (it lists {listed}). {hint}")
    digest = expected[key]
    found = hashlib.new(digest.algorithm, content, usedforsecurity=False).hexdigest()
    if found != digest.hex.lower():
        algorithm = ALGORITHM_NAMES.get(digest.algorithm, digest.algorithm)
        raise ChecksumError(f"{label}: {algorithm} of {what} is {found}, expected {digest.hex} "
                            f"({source}, entry {key}). {hint}")
    return idx


def _trust_hint(directory: Path, files: dict[str, Path]) -> str:
    return (f"If you trust the files in {directory} as they are, record their digests with: "
            f"{sums_command(directory, [path.name for path in files.values()])}")


def verify_dataset(directory: str | os.PathLike, dataset: str) -> dict[str, Path]:
    """Check the four IDX files of ``dataset`` in ``directory``; returns ``{name: path}``.

    Digests: see :func:`expected_digests` and the module docstring. Raises
    :class:`ChecksumError` naming the file, the expected and the found digest and
    the ``sha256sum`` command that records the folder's own digests.
    """
    directory = Path(directory)
    files = idx_files(directory)
    expected, source = expected_digests(directory, dataset)
    for path in files.values():
        _checked_idx_bytes(str(path), path.name, path.read_bytes(), expected, source, _trust_hint(directory, files))
    return files


def _check_pixels_and_labels(images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path) -> None:
    """Refuse images that are not uint8 (0..255, as MNIST and Fashion-MNIST store them) and labels outside 0..9.

    Float pixels (e.g. scaled to [0, 1]) would be truncated by the integer block sums
    and binarise to black images; the message names the file and the type or value.
    """
    if images.dtype != np.uint8:
        raise ValueError(f"{images_path}: image pixels are {images.dtype}, expected uint8 (IDX type code 0x08, "
                         "values 0..255 as in MNIST and Fashion-MNIST)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{labels_path}: labels are {labels.dtype}, expected integers 0..{N_CLASSES - 1}")
    bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if bad.size:
        raise ValueError(f"{labels_path}: {bad.size} labels outside 0..{N_CLASSES - 1}, first label {labels[bad[0]]} "
                         f"of image {bad[0]}")


def _block_sum(images: np.ndarray, factor: int) -> np.ndarray:
    """Sum (int64) over non-overlapping ``factor`` x ``factor`` blocks of (N, H, W) images."""
    n, height, width = images.shape
    if height % factor or width % factor:
        raise ValueError(f"downsample factor {factor} does not divide the image size {height}x{width}")
    blocks = images.reshape(n, height // factor, factor, width // factor, factor)
    return blocks.sum(axis=(2, 4), dtype=np.int64)


def load_idx_binary(directory: str | os.PathLike, dataset: str, threshold: float = 127, downsample: int = 1,
                    verify: bool = True) -> BinaryImages:
    """MNIST or Fashion-MNIST (``dataset``) with the official split (60,000 train, 10,000 test), binarised.

    Images (values 0..255) are first averaged over ``downsample`` x ``downsample``
    blocks (1: 28x28, 2: 14x14, 4: 7x7; the factor must divide the image size), then
    binarised as value > ``threshold``. With ``verify`` each file is checked as
    :func:`verify_dataset` does before use. Image files of another type than uint8
    and labels outside 0..9 are refused, naming the file and the type or label.
    """
    directory = Path(directory)
    files = idx_files(directory)
    if verify:
        expected, source = expected_digests(directory, dataset)
    arrays = {}
    for key, name in IDX_FILES.items():
        path = files[name]
        stored = path.read_bytes()
        raw = (_checked_idx_bytes(str(path), path.name, stored, expected, source, _trust_hint(directory, files))
               if verify else _idx_bytes(stored))
        arrays[key] = parse_idx(raw, str(path))
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{dataset} {split}: images {images.shape} and labels {labels.shape} do not match")
        _check_pixels_and_labels(images, labels, files[IDX_FILES[f"{split}_images"]],
                                 files[IDX_FILES[f"{split}_labels"]])
    binary = {}
    for split in ("train", "test"):
        block_sums = _block_sum(arrays[f"{split}_images"], downsample)
        block_means_above = block_sums > threshold * downsample**2
        binary[split] = block_means_above.astype(np.int8).reshape(len(block_sums), -1)
    image_shape = tuple(size // downsample for size in arrays["train_images"].shape[1:])
    return BinaryImages(binary["train"], arrays["train_labels"].astype(np.int64),
                        binary["test"], arrays["test_labels"].astype(np.int64), image_shape)


def _fetch(name: str, mirrors, tmp: Path, canonical: dict[str, Digest], source: str, timeout_s: float) -> None:
    """Download ``<mirror><name>.gz`` into ``tmp`` from the first mirror that serves the canonical file."""
    failures = []
    for mirror in mirrors:
        url = f"{mirror}{name}.gz"
        try:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
            _checked_idx_bytes(url, f"{name}.gz", tmp.read_bytes(), canonical, source, "Trying the next mirror.")
            return
        except (OSError, urllib.error.URLError, ChecksumError) as error:
            failures.append(f"{url}: {error}")
    raise OSError(f"{name}.gz: no mirror served the canonical file:\n  " + "\n  ".join(failures))


def download_dataset(dataset: str, directory: str | os.PathLike, mirrors=None, timeout_s: float = 60.0) -> dict[str, Path]:
    """Download the four gzipped IDX files of ``dataset`` into ``directory`` and verify them.

    Each ``<mirror><name>.gz`` (``mirrors`` tried in turn, default :data:`MIRRORS`)
    is streamed to a hidden temporary file in ``directory`` and checked against the
    canonical digest (:data:`CANONICAL_DIGESTS`); only when all files are verified
    are they renamed to ``<name>.gz``. On any failure the temporary files are removed
    and nothing is written. Files already present (gzipped or not) are kept when they
    match the canonical digests; otherwise :class:`ChecksumError` is raised and they
    are left untouched (nothing is ever overwritten). A ``SHA256SUMS`` of the files as
    stored is written when the folder has none; finally the folder is verified as
    the loader will verify it (:func:`verify_dataset`). Returns ``{name: path}``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    canonical, source = dict(CANONICAL_DIGESTS[dataset]), f"the canonical {dataset} digests"
    mirrors = MIRRORS[dataset] if mirrors is None else tuple(mirrors)
    paths: dict[str, Path] = {}
    pending: list[tuple[Path, Path]] = []  # (temporary file, final path), renamed only at the end
    try:
        for name in IDX_FILES.values():
            try:
                present = locate_idx_file(directory, name)
            except FileNotFoundError:
                target = directory / f"{name}.gz"
                tmp = _temporary_file(directory, target.name)
                pending.append((tmp, target))
                _fetch(name, mirrors, tmp, canonical, source, timeout_s)
                paths[name] = target
            else:
                hint = f"The file is left as it is; move it away to download the canonical {dataset} file."
                _checked_idx_bytes(str(present), present.name, present.read_bytes(), canonical, source, hint)
                paths[name] = present
        while pending:
            tmp, target = pending[0]
            os.replace(tmp, target)
            pending.pop(0)
        if not (directory / SUMS_FILE).is_file():
            sums = _temporary_file(directory, SUMS_FILE)
            pending.append((sums, directory / SUMS_FILE))
            sums.write_text("".join(f"{file_sha256(path)}  {path.name}\n" for path in sorted(paths.values())))
            os.replace(sums, directory / SUMS_FILE)
            pending.pop()
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
    verify_dataset(directory, dataset)
    return paths


def _temporary_file(directory: Path, name: str) -> Path:
    """A new empty hidden file ``.<name>.<random>.part`` in ``directory``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    os.close(fd)
    return Path(tmp)
