"""Tests of the digits, MNIST and Fashion-MNIST loaders, IDX parsing, checksums and download."""

import gzip
import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lif_tempering.learning import datasets
from lif_tempering.learning.datasets import (
    CANONICAL_DIGESTS,
    IDX_FILES,
    SUMS_FILE,
    ChecksumError,
    download_dataset,
    load_digits_binary,
    load_idx_binary,
    read_idx,
    verify_dataset,
)

REPO = Path(__file__).resolve().parents[1]
MNIST_TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture
def real_mnist_dir() -> Path:
    """The real MNIST files: $LIF_TEMPERING_MNIST_DIR, else shared/data/mnist beside the repository.

    Missing files skip the test, except on CI (``CI=true``), where they fail it.
    """
    directory = Path(os.environ.get("LIF_TEMPERING_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist"))
    if not all((directory / f"{name}.gz").is_file() for name in IDX_FILES.values()):
        message = f"no MNIST IDX files in {directory} (set LIF_TEMPERING_MNIST_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return directory


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written independently of the parser under test."""
    type_codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float32): 0x0D}
    header = struct.pack(">BBBB", 0, 0, type_codes[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_fake_idx(directory: Path, compress: bool = True, seed: int = 0) -> dict[str, Path]:
    """Small MNIST-like IDX files (5 train, 3 test 28x28 images), without SHA256SUMS; returns {name: path}."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        "train_labels": np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "test_labels": np.array([9, 2, 6], dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, name in IDX_FILES.items():
        raw = idx_bytes(arrays[key])
        paths[name] = directory / (f"{name}.gz" if compress else name)
        paths[name].write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    return paths


def sha256sum(directory: Path, pattern: str) -> None:
    """``sha256sum <pattern> > SHA256SUMS`` in ``directory``, with the standard tool."""
    subprocess.run(f"sha256sum {pattern} > {SUMS_FILE}", shell=True, cwd=directory, check=True)


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


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils' sha256sum")
@pytest.mark.parametrize("compress", [True, False])
def test_sums_made_by_sha256sum_are_accepted_and_take_precedence(tmp_path, compress):
    paths = write_fake_idx(tmp_path, compress=compress)
    sha256sum(tmp_path, "*.gz" if compress else "*-ubyte")
    # The synthetic files are not MNIST: only the folder's own sums let them through.
    assert verify_dataset(tmp_path, "mnist") == paths
    data = load_idx_binary(tmp_path, "mnist", threshold=100)
    np.testing.assert_array_equal(data.train_labels, [3, 1, 4, 1, 5])
    (tmp_path / SUMS_FILE).unlink()
    with pytest.raises(ChecksumError, match="canonical mnist digests"):
        verify_dataset(tmp_path, "mnist")


def test_sums_of_uncompressed_bytes_accepted_for_gzipped_files(tmp_path):
    """A line naming ``<name>`` is the digest of the IDX bytes, also when ``<name>.gz`` is stored."""
    paths = write_fake_idx(tmp_path)
    lines = [f"{hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()}  {name}\n" for name, path in paths.items()]
    (tmp_path / SUMS_FILE).write_text("".join(lines))
    assert verify_dataset(tmp_path, "fashion_mnist") == paths


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils' sha256sum")
def test_corrupted_file_is_refused_with_both_digests_and_the_command(tmp_path):
    paths = write_fake_idx(tmp_path)
    sha256sum(tmp_path, "*.gz")
    corrupted = paths[IDX_FILES["test_labels"]]
    expected = hashlib.sha256(corrupted.read_bytes()).hexdigest()
    corrupted.write_bytes(gzip.compress(idx_bytes(np.array([9, 2, 7], dtype=np.uint8))))
    found = hashlib.sha256(corrupted.read_bytes()).hexdigest()
    with pytest.raises(ChecksumError) as error:
        load_idx_binary(tmp_path, "mnist")
    message = str(error.value)
    command = (f"cd {tmp_path} && sha256sum t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz "
               f"train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz > {SUMS_FILE}")
    assert str(corrupted) in message and expected in message and found in message and command in message
    # The command given records the folder's files as they are: then they load.
    subprocess.run(command, shell=True, check=True)
    np.testing.assert_array_equal(load_idx_binary(tmp_path, "mnist").test_labels, [9, 2, 7])


def test_canonical_digests_keep_their_algorithm(tmp_path, monkeypatch):
    table = CANONICAL_DIGESTS["fashion_mnist"]
    assert sorted(table) == sorted(f"{name}.gz" for name in IDX_FILES.values())
    assert all(d.algorithm == "md5" and len(d.hex) == 32 for d in table.values())
    assert sorted(CANONICAL_DIGESTS["mnist"]) == sorted(IDX_FILES.values())
    assert all(d.algorithm == "sha256" and len(d.hex) == 64 for d in CANONICAL_DIGESTS["mnist"].values())
    # Synthetic files stand in for Fashion-MNIST: their MD5 as the canonical digests.
    paths = write_fake_idx(tmp_path)
    fake = {f"{name}.gz": datasets.Digest("md5", hashlib.md5(path.read_bytes()).hexdigest())
            for name, path in paths.items()}
    monkeypatch.setitem(CANONICAL_DIGESTS, "fashion_mnist", fake)
    assert load_idx_binary(tmp_path, "fashion_mnist").image_shape == (28, 28)
    with pytest.raises(ChecksumError, match="SHA-256 of the uncompressed IDX bytes is [0-9a-f]{64}, expected"):
        verify_dataset(tmp_path, "mnist")
    changed = paths[IDX_FILES["train_labels"]]
    changed.write_bytes(gzip.compress(idx_bytes(np.array([3, 1, 4, 1, 6], dtype=np.uint8))))
    with pytest.raises(ChecksumError) as error:
        verify_dataset(tmp_path, "fashion_mnist")
    message = str(error.value)
    assert str(changed) in message and "MD5 of the file as stored" in message and fake[changed.name].hex in message
    assert hashlib.md5(changed.read_bytes()).hexdigest() in message
    # Uncompressed Fashion-MNIST has no canonical digest: the folder needs its own SHA256SUMS.
    plain = write_fake_idx(tmp_path / "plain", compress=False)
    with pytest.raises(ChecksumError, match="no digest for train-images-idx3-ubyte .*sha256sum"):
        verify_dataset(tmp_path / "plain", "fashion_mnist")
    assert load_idx_binary(tmp_path / "plain", "fashion_mnist", verify=False).train_images.shape == (5, 784)
    assert all(path.is_file() for path in plain.values())


def test_load_idx_binary_thresholds_after_block_mean(tmp_path):
    write_fake_idx(tmp_path)
    raw_train = read_idx(tmp_path / f"{IDX_FILES['train_images']}.gz")
    full = load_idx_binary(tmp_path, "mnist", threshold=100, verify=False)
    assert full.train_images.shape == (5, 784) and full.train_images.dtype == np.int8
    assert full.image_shape == (28, 28)
    np.testing.assert_array_equal(full.train_images, (raw_train > 100).reshape(5, -1))
    np.testing.assert_array_equal(full.train_labels, [3, 1, 4, 1, 5])
    np.testing.assert_array_equal(full.test_labels, [9, 2, 6])
    quarter = load_idx_binary(tmp_path, "mnist", threshold=100, downsample=4, verify=False)
    assert quarter.image_shape == (7, 7) and quarter.test_images.shape == (3, 49)
    block = raw_train[2, 8:12, 4:8].astype(float).mean()  # image 2, block row 2, column 1
    assert quarter.train_images[2].reshape(7, 7)[2, 1] == int(block > 100)
    block_means = raw_train.reshape(5, 7, 4, 7, 4).mean(axis=(2, 4))
    np.testing.assert_array_equal(quarter.train_images, (block_means > 100).reshape(5, -1))
    with pytest.raises(ValueError, match="does not divide"):
        load_idx_binary(tmp_path, "mnist", downsample=3, verify=False)


def test_float_images_are_refused_even_when_the_folders_own_sums_trust_them(tmp_path):
    """Pixels scaled to [0, 1] and stored as float32 IDX would sum to 0 per block as integers (all-black
    images): the file is refused by name and type, also when its digest is in the folder's SHA256SUMS."""
    write_fake_idx(tmp_path)
    images = tmp_path / f"{IDX_FILES['train_images']}.gz"
    scaled = read_idx(images).astype(np.float32) / 255
    images.write_bytes(gzip.compress(idx_bytes(scaled), mtime=0))
    sha256sum(tmp_path, "*.gz")
    with pytest.raises(ValueError, match=rf"^{images}: image pixels are float32, expected uint8"):
        load_idx_binary(tmp_path, "mnist", downsample=2)


def test_labels_outside_0_to_9_are_refused_with_the_file_and_the_label(tmp_path):
    write_fake_idx(tmp_path, compress=False)
    labels = tmp_path / IDX_FILES["test_labels"]
    labels.write_bytes(idx_bytes(np.array([9, 2, 10], dtype=np.uint8)))
    with pytest.raises(ValueError, match=rf"^{labels}: 1 labels outside 0..9, first label 10 of image 2$"):
        load_idx_binary(tmp_path, "mnist", verify=False)
    labels.write_bytes(idx_bytes(np.array([9, -1, 2], dtype=np.int16)))  # a signed IDX type
    with pytest.raises(ValueError, match=rf"^{labels}: 1 labels outside 0..9, first label -1 of image 1$"):
        load_idx_binary(tmp_path, "mnist", verify=False)
    # fractional labels inside 0..9 would be truncated to another class
    labels.write_bytes(idx_bytes(np.array([9, 2.5, 1], dtype=np.float32)))
    with pytest.raises(ValueError, match=rf"^{labels}: labels are float32, expected integers 0..9$"):
        load_idx_binary(tmp_path, "mnist", verify=False)


def test_download_verifies_before_writing_and_never_overwrites(tmp_path, monkeypatch):
    source = tmp_path / "mirror"
    served = write_fake_idx(source)
    fake = {f"{name}.gz": datasets.Digest("md5", hashlib.md5(path.read_bytes()).hexdigest())
            for name, path in served.items()}
    monkeypatch.setitem(CANONICAL_DIGESTS, "fashion_mnist", fake)
    mirrors = [(tmp_path / "offline").as_uri() + "/", source.as_uri() + "/"]  # the first mirror fails
    target = tmp_path / "downloaded"
    paths = download_dataset("fashion_mnist", target, mirrors=mirrors)
    assert sorted(path.name for path in target.iterdir()) == sorted([SUMS_FILE] + [f"{n}.gz" for n in IDX_FILES.values()])
    assert all(path.read_bytes() == served[name].read_bytes() for name, path in paths.items())
    if shutil.which("sha256sum"):  # the written sums are those of the files as stored
        subprocess.run(["sha256sum", "--check", "--quiet", SUMS_FILE], cwd=target, check=True)

    # The last file fails on every mirror: the three already verified are not kept either.
    wrong = dict(fake, **{f"{IDX_FILES['test_labels']}.gz": datasets.Digest("md5", "0" * 32)})
    monkeypatch.setitem(CANONICAL_DIGESTS, "fashion_mnist", wrong)
    empty_target = tmp_path / "not_written"
    with pytest.raises(OSError, match="t10k-labels-idx1-ubyte.gz: no mirror served the canonical file"):
        download_dataset("fashion_mnist", empty_target, mirrors=mirrors)
    assert list(empty_target.iterdir()) == []

    # A file present that is not the canonical one is refused and left untouched.
    monkeypatch.setitem(CANONICAL_DIGESTS, "fashion_mnist", fake)
    mine = write_fake_idx(tmp_path / "mine", seed=1)
    before = {name: path.read_bytes() for name, path in mine.items()}
    with pytest.raises(ChecksumError, match="left as it is"):
        download_dataset("fashion_mnist", tmp_path / "mine", mirrors=mirrors)
    assert {name: path.read_bytes() for name, path in mine.items()} == before
    assert not (tmp_path / "mine" / SUMS_FILE).exists()


def test_real_mnist_verifies_against_canonical_digests_and_has_the_documented_labels(real_mnist_dir, tmp_path):
    verify_dataset(real_mnist_dir, "mnist")
    for name in IDX_FILES.values():  # without the folder's SHA256SUMS: the canonical digests
        (tmp_path / f"{name}.gz").symlink_to(real_mnist_dir / f"{name}.gz")
    verify_dataset(tmp_path, "mnist")
    data = load_idx_binary(real_mnist_dir, "mnist", downsample=2)
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
