"""MNIST on disk: finding it, fetching it once, and reading the IDX files safely.

This module imports only numpy and the standard library, so the photo generator and
the tests can read MNIST without torch.  The checksums are those of the *uncompressed*
IDX content: gzip wrappers differ between mirrors while the payload never does.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "DIGITLENS_DATA"

#: Public mirrors, tried in order; the first that serves a file with the right checksum wins.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: sha256 of the uncompressed IDX content of each standard file.
SHA256 = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}

_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


class DataError(RuntimeError):
    """A data file is missing, corrupt, or could not be fetched."""


@dataclass(frozen=True)
class MnistSplit:
    """One split: uint8 images [N, 28, 28] (white on black) and uint8 labels [N]."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.shape[1:] != (28, 28):
            raise ValueError(f"images must be [N, 28, 28], got {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must be [{self.images.shape[0]}], got {self.labels.shape}")


def default_data_dir() -> Path:
    """The per-user cache folder used when neither --data-dir nor DIGITLENS_DATA is set."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "digitlens" / "mnist"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $DIGITLENS_DATA, else the per-user cache folder."""
    if data_dir:
        return Path(data_dir)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else default_data_dir()


def _read_payload(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    return raw


def parse_idx(payload: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX image (3-d) or label (1-d) file, checking magic and sizes."""
    if len(payload) < 8:
        raise DataError(f"{name}: too short to be an IDX file ({len(payload)} bytes)")
    magic, count = struct.unpack(">II", payload[:8])
    if magic == _IMAGES_MAGIC:
        if len(payload) < 16:
            raise DataError(f"{name}: truncated IDX image header")
        rows, cols = struct.unpack(">II", payload[8:16])
        shape: tuple[int, ...] = (count, rows, cols)
        offset = 16
    elif magic == _LABELS_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(f"{name}: wrong magic number 0x{magic:08x} (not an MNIST IDX file)")
    expected = offset + int(np.prod(shape))
    if len(payload) != expected:
        raise DataError(
            f"{name}: expected {expected} bytes for shape {shape}, found {len(payload)} (truncated or corrupt)"
        )
    return np.frombuffer(payload, dtype=np.uint8, count=expected - offset, offset=offset).reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (.gz or raw) into a uint8 array."""
    path = Path(path)
    return parse_idx(_read_payload(path), str(path))


def sha256_of_payload(path: Path) -> str:
    return hashlib.sha256(_read_payload(path)).hexdigest()


def download(
    name: str,
    dest_dir: Path,
    mirrors: tuple[str, ...] = MIRRORS,
    sha256: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch one file into dest_dir, trying each mirror; verify; write atomically.

    A file is only ever moved into place after its checksum matched, so an interrupted
    or corrupt download never leaves anything under the final name.
    """
    sha256 = sha256 or SHA256[name]
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / name
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                got = 0
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    got += len(chunk)
                if length is not None and got != int(length):
                    raise DataError(f"connection dropped after {got} of {length} bytes")
            digest = sha256_of_payload(tmp)
            if digest != sha256:
                raise DataError(f"checksum mismatch (sha256 {digest[:12]}..., expected {sha256[:12]}...)")
            os.replace(tmp, target)
            return target
        except (OSError, urllib.error.URLError, DataError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DataError(f"could not fetch {name}: " + "; ".join(errors))


def ensure_files(data_dir: Path, download_missing: bool = True, mirrors: tuple[str, ...] = MIRRORS) -> Path:
    """Make sure all four files are in data_dir, downloading the missing ones."""
    for name in SHA256:
        if not (data_dir / name).exists():
            if not download_missing:
                raise DataError(f"{data_dir / name} is missing (set --data-dir or ${ENV_VAR})")
            download(name, data_dir, mirrors=mirrors)
    return data_dir


def load_split(split: str, data_dir: str | os.PathLike | None = None, download_missing: bool = True) -> MnistSplit:
    """Load 'train' or 'test' from the resolved data folder."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    folder = ensure_files(resolve_data_dir(data_dir), download_missing)
    img_name, lbl_name, count = SPLITS[split]
    images = read_idx(folder / img_name)
    labels = read_idx(folder / lbl_name)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{folder / img_name}: expected 28x28 images, got {images.shape[1:]}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{folder / lbl_name}: {labels.shape[0]} labels for {images.shape[0]} images")
    if images.shape[0] != count:
        raise DataError(f"{folder / img_name}: expected {count} images, found {images.shape[0]}")
    if labels.max(initial=0) > 9:
        raise DataError(f"{folder / lbl_name}: label {int(labels.max())} out of range 0-9")
    return MnistSplit(images=images, labels=labels)


def checksums(data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """sha256 of the uncompressed content of each file, for model cards."""
    folder = resolve_data_dir(data_dir)
    return {name: sha256_of_payload(folder / name) for name in SHA256}
