"""Reading image files: the one place in the pipeline that touches the file system.

Decoding goes through bytes (np.fromfile + cv2.imdecode) so non-ASCII paths work on
every platform; JPEG EXIF orientation is applied by OpenCV's colour decode; the pixel
count is checked from the header before anything large is allocated.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np

#: Refuse images above this many pixels (a 30000x30000 'bomb' is 900 MP).
MAX_PIXELS = 100_000_000

IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".gif",
    ".pgm",
    ".ppm",
    ".pbm",
    ".pnm",
    ".jp2",
    ".jpe",
}


class ImageLoadError(ValueError):
    """A file could not be turned into an image; the message is one line for the user."""


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF, BMP, JPEG or WebP header, or None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            w = int.from_bytes(data[24:27], "little") + 1
            h = int.from_bytes(data[27:30], "little") + 1
            return w, h
        if chunk == b"VP8 " and len(data) >= 30:
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L" and len(data) >= 25:
            b = data[21:25]
            w = 1 + (((b[1] & 0x3F) << 8) | b[0])
            h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
            return w, h
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            seg = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + seg
    return None


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Bytes of an image file -> uint8/uint16 array (grey, BGR or BGRA)."""
    if len(data) == 0:
        raise ImageLoadError(f"{name}: empty file")
    size = header_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageLoadError(
            f"{name}: {size[0]}x{size[1]} pixels exceeds the limit of {max_pixels} (decompression bomb?)"
        )
    buf = np.frombuffer(data, np.uint8)
    if data[:2] == b"\xff\xd8":
        # colour decode applies EXIF orientation; JPEG has no alpha to lose
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    else:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ImageLoadError(f"{name}: not a readable image (unknown format, truncated or corrupt)")
    if img.ndim == 3 and img.shape[2] not in (1, 3, 4):
        img = img[:, :, :3]
    if img.dtype not in (np.uint8, np.uint16):
        if img.dtype.kind == "f":
            img = (np.clip(np.nan_to_num(img), 0, 1) * 255).astype(np.uint8)
        else:
            img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return img


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file; ImageLoadError with a one-line reason on any failure."""
    p = Path(path)
    try:
        if p.is_dir():
            raise ImageLoadError(f"{p}: is a directory, not an image")
        data = p.read_bytes()
    except ImageLoadError:
        raise
    except FileNotFoundError:
        kind = "broken symlink" if p.is_symlink() else "no such file"
        raise ImageLoadError(f"{p}: {kind}") from None
    except PermissionError:
        raise ImageLoadError(f"{p}: permission denied") from None
    except OSError as exc:
        raise ImageLoadError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return decode_image(data, str(p), max_pixels)
