"""Tests of the digits and MNIST loaders, IDX parsing and checksum handling."""

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from lif_tempering.datasets import (
    MNIST_FILES,
    ChecksumError,
    download_mnist,
    load_digits_binary,
    load_mnist_binary,
    read_idx,
    read_sha256sums,
    verify_mnist,
)

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
MNIST_TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written independently of the parser under test."""
    type_codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B}
    header = struct.pack(">BBBB", 0, 0, type_codes[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_fake_mnist(directory: Path, seed: int = 0) -> dict[str, str]:
    """Small MNIST-like IDX files (5 train, 3 test 28x28 images), gzipped; returns their sums."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        "train_labels": np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "test_labels": np.array([9, 2, 6], dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    sums = {}
    for key, name in MNIST_FILES.items():
        raw = idx_bytes(arrays[key])
        (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        sums[name] = hashlib.sha256(raw).hexdigest()
    (directory / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return sums


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    signed = np.array([[300, -2], [0, 32767]], dtype=np.int16)
    for name, array in (("images", images), ("signed", signed)):
        raw = idx_bytes(array)
        path = tmp_path / (f"{name}.gz" if compress else name)
        path.write_bytes(gzip.compress(raw) if compress else raw)
        read = read_idx(path)
        assert read.dtype == array.dtype and read.shape == array.shape
        np.testing.assert_array_equal(read, array)


def test_idx_bad_magic_and_size(tmp_path):
    good = idx_bytes(np.zeros((2, 3), dtype=np.uint8))
    bad_magic = tmp_path / "bad_magic"
    bad_magic.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(ValueError, match=r"bad_magic: not an IDX file \(magic number 0x12340802\)"):
        read_idx(bad_magic)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(good[:-1])
    with pytest.raises(ValueError, match="needs 6 data bytes, found 5"):
        read_idx(truncated)


def test_verify_uses_decompressed_bytes_and_names_the_bad_file(tmp_path):
    sums = write_fake_mnist(tmp_path)
    assert verify_mnist(tmp_path) == sums
    assert read_sha256sums(tmp_path / "SHA256SUMS") == sums
    name = MNIST_FILES["test_labels"]
    corrupted = idx_bytes(np.array([9, 2, 7], dtype=np.uint8))
    (tmp_path / f"{name}.gz").write_bytes(gzip.compress(corrupted))
    found = hashlib.sha256(corrupted).hexdigest()
    with pytest.raises(ChecksumError) as error:
        verify_mnist(tmp_path)
    message = str(error.value)
    assert f"{name}.gz" in message and sums[name] in message and found in message
    with pytest.raises(ChecksumError):
        load_mnist_binary(tmp_path)


def test_load_mnist_binary_thresholds_after_block_mean(tmp_path):
    write_fake_mnist(tmp_path)
    raw_train = read_idx(tmp_path / f"{MNIST_FILES['train_images']}.gz")
    full = load_mnist_binary(tmp_path, threshold=100)
    assert full.train_images.shape == (5, 784) and full.train_images.dtype == np.int8
    assert full.image_shape == (28, 28)
    np.testing.assert_array_equal(full.train_images, (raw_train > 100).reshape(5, -1))
    np.testing.assert_array_equal(full.train_labels, [3, 1, 4, 1, 5])
    np.testing.assert_array_equal(full.test_labels, [9, 2, 6])
    quarter = load_mnist_binary(tmp_path, threshold=100, downsample=4)
    assert quarter.image_shape == (7, 7) and quarter.test_images.shape == (3, 49)
    block = raw_train[2, 8:12, 4:8].astype(float).mean()  # image 2, block row 2, column 1
    assert quarter.train_images[2].reshape(7, 7)[2, 1] == int(block > 100)
    block_means = raw_train.reshape(5, 7, 4, 7, 4).mean(axis=(2, 4))
    np.testing.assert_array_equal(quarter.train_images, (block_means > 100).reshape(5, -1))
    with pytest.raises(ValueError, match="does not divide"):
        load_mnist_binary(tmp_path, downsample=3)


def test_download_verifies_before_writing(tmp_path):
    source = tmp_path / "mirror"
    sums = write_fake_mnist(source)
    target = tmp_path / "downloaded"
    paths = download_mnist(target, base_url=source.as_uri() + "/", sha256sums=sums)
    assert sorted(path.name for path in target.iterdir()) == sorted(
        ["SHA256SUMS"] + [f"{name}.gz" for name in MNIST_FILES.values()])
    assert verify_mnist(target) == sums
    assert all(path.is_file() for path in paths.values())

    # The last file fails: the three already downloaded and verified are not kept either.
    wrong = dict(sums, **{MNIST_FILES["test_labels"]: "0" * 64})
    empty_target = tmp_path / "not_written"
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz: SHA-256"):
        download_mnist(empty_target, base_url=source.as_uri() + "/", sha256sums=wrong)
    assert list(empty_target.iterdir()) == []


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"no MNIST files at {SHARED_MNIST}")
def test_shipped_mnist_verifies_and_has_the_documented_labels():
    verify_mnist(SHARED_MNIST)
    data = load_mnist_binary(SHARED_MNIST, downsample=2)
    assert data.train_images.shape == (60000, 196) and data.test_images.shape == (10000, 196)
    assert data.image_shape == (14, 14)
    assert set(np.unique(data.train_images)) == {0, 1}
    np.testing.assert_array_equal(np.bincount(data.train_labels, minlength=10), MNIST_TRAIN_LABEL_COUNTS)
    assert np.bincount(data.test_labels).sum() == 10000


def test_digits_split_is_seeded_and_binary():
    from sklearn.datasets import load_digits

    data = load_digits_binary(threshold=8, test_fraction=0.2, seed=1)
    assert data.train_images.shape == (1437, 64) and data.test_images.shape == (360, 64)
    assert data.train_images.dtype == np.int8 and data.image_shape == (8, 8)
    assert set(np.unique(data.test_labels)) == set(range(10))
    # The split partitions the 1797 images: pixel and label totals add up exactly.
    digits = load_digits()
    total_on = (digits.data > 8).sum()
    assert data.train_images.sum() + data.test_images.sum() == total_on
    assert data.train_labels.sum() + data.test_labels.sum() == digits.target.sum()
    again = load_digits_binary(threshold=8, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(again.test_images, data.test_images)
    other = load_digits_binary(threshold=8, test_fraction=0.2, seed=2)
    assert not np.array_equal(other.test_labels, data.test_labels)
