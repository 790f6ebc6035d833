"""Reading images: the one place in the pipeline that touches files, bytes and foreign types.

Decoding goes through bytes (np.fromfile + cv2.imdecode) so non-ASCII paths work on
every platform.  Before anything large is allocated the pixel count declared in the
header is checked against ONE limit shared by the CLI and the API (`pixel_limit()`:
100 MP by default, `DIGITLENS_MAX_PIXELS` in the environment, `--max-pixels` on the
command line, `set_pixel_limit()` in Python).  EXIF orientation is applied for every
format that carries it (JPEG, PNG, WebP, TIFF, HEIC/AVIF).  HEIC/HEIF need the optional
`heic` extra (pillow-heif); without it they are a clear error, never skipped.

`as_image(x)` turns whatever a user hands to `Reader.read` (a path, bytes, a NumPy array
or a PIL image) into an array, or raises ImageLoadError (a ValueError) saying why.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from PIL import Image

#: Default limit on the pixels of one image (a 30000x30000 'bomb' is 900 MP).
MAX_PIXELS = 100_000_000
#: Environment variable that overrides MAX_PIXELS (CLI: --max-pixels).
PIXELS_ENV = "DIGITLENS_MAX_PIXELS"
#: The extra that brings HEIC/HEIF support.
HEIC_EXTRA = "pip install 'digitlens[heic]'"

IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".png",
    ".bmp",
    ".dib",
    ".tif",
    ".tiff",
    ".webp",
    ".gif",
    ".pgm",
    ".ppm",
    ".pbm",
    ".pnm",
    ".pam",
    ".pfm",
    ".jp2",
    ".j2k",
    ".hdr",
    ".sr",
    ".ras",
    ".avif",
    ".heic",
    ".heif",
    ".hif",
}

_limit: int | None = None
_quiet = False


class ImageLoadError(ValueError):
    """A file could not be turned into an image; the message is one line for the user."""


class ImageTypeError(ImageLoadError, TypeError):
    """The object handed in is not an image of any kind we accept (a ValueError and a TypeError)."""


# ---- decoder noise ------------------------------------------------------------------------
@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 for a moment: C libraries (libjpeg, libpng, FFmpeg) print there directly."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def set_quiet_decoding(quiet: bool = True) -> None:
    """For the commands: decoder warnings ('Corrupt JPEG data', OpenCV's log) stay off stderr,
    where each bad file already gets its one line.  A library user's process is left alone."""
    global _quiet
    _quiet = quiet
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT if quiet else cv2.utils.logging.LOG_LEVEL_WARNING)


# ---- the pixel limit --------------------------------------------------------------------
def pixel_limit() -> int:
    """The largest image (width x height) digitlens will decode or read."""
    if _limit is not None:
        return _limit
    env = os.environ.get(PIXELS_ENV, "").strip()
    if env:
        try:
            value = int(float(env))
        except ValueError:
            raise ImageLoadError(f"{PIXELS_ENV}={env!r} is not a number of pixels") from None
        if value >= 1:
            return value
    return MAX_PIXELS


def set_pixel_limit(pixels: int | None) -> None:
    """Set the pixel limit for this process (None: back to $DIGITLENS_MAX_PIXELS or the default)."""
    global _limit
    if pixels is not None and pixels < 1:
        raise ValueError(f"the pixel limit must be at least 1, got {pixels}")
    _limit = None if pixels is None else int(pixels)


def check_pixels(width: int, height: int, name: str, max_pixels: int | None = None) -> None:
    limit = pixel_limit() if max_pixels is None else max_pixels
    if width * height > limit:
        raise ImageLoadError(
            f"{name}: {width}x{height} pixels is too large: exceeds the limit of {limit} pixels "
            f"(decompression bomb? raise it with --max-pixels or {PIXELS_ENV})"
        )


# ---- sizes declared in headers -----------------------------------------------------------
def _pnm_size(data: bytes) -> tuple[int, int] | None:
    """P1-P6 and PF/Pf: magic, then width and height as ASCII tokens, '#' comments allowed."""
    tokens: list[bytes] = []
    i, n = 2, min(len(data), 4096)
    while len(tokens) < 2 and i < n:
        c = data[i : i + 1]
        if c == b"#":
            j = data.find(b"\n", i)
            i = n if j < 0 else j + 1
        elif c.isspace():
            i += 1
        else:
            j = i
            while j < n and not data[j : j + 1].isspace() and data[j : j + 1] != b"#":
                j += 1
            tokens.append(data[i:j])
            i = j
    try:
        return int(tokens[0]), int(tokens[1])
    except (IndexError, ValueError):
        return None


def _pam_size(data: bytes) -> tuple[int, int] | None:
    w = h = None
    for line in data[:4096].split(b"\n")[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (b"WIDTH", b"HEIGHT"):
            try:
                value = int(parts[1])
            except ValueError:
                return None
            w, h = (value, h) if parts[0] == b"WIDTH" else (w, value)
        if line.strip() == b"ENDHDR":
            break
    return (w, h) if w is not None and h is not None else None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first IFD of a classic or big TIFF."""
    end = "<" if data[:2] == b"II" else ">"
    try:
        big = struct.unpack(end + "H", data[2:4])[0] == 43
        if big:
            off = struct.unpack(end + "Q", data[8:16])[0]
            count = struct.unpack(end + "Q", data[off : off + 8])[0]
            base, size, head = off + 8, 20, 12
        else:
            off = struct.unpack(end + "I", data[4:8])[0]
            count = struct.unpack(end + "H", data[off : off + 2])[0]
            base, size, head = off + 2, 12, 8
        found: dict[int, int] = {}
        for k in range(min(count, 4096)):
            e = base + k * size
            tag, typ = struct.unpack(end + "HH", data[e : e + 4])
            if tag in (256, 257):
                val = data[e + head : e + head + (8 if big else 4)]
                fmt = {3: "H", 4: "I", 16: "Q"}.get(typ)
                if fmt is None:
                    return None
                found[tag] = struct.unpack(end + fmt, val[: struct.calcsize(fmt)])[0]
                if len(found) == 2:
                    return found[256], found[257]
    except struct.error:
        return None
    return None


def _isobmff_size(data: bytes) -> tuple[int, int] | None:
    """HEIC/HEIF/AVIF: the largest 'ispe' (image spatial extent) property declared."""
    best, i = None, 0
    window = data[: 1 << 20]
    while True:
        i = window.find(b"ispe", i)
        if i < 0 or i + 16 > len(window):
            return best
        w, h = struct.unpack(">II", window[i + 8 : i + 16])
        if best is None or w * h > best[0] * best[1]:
            best = (w, h)
        i += 4


def _hdr_size(data: bytes) -> tuple[int, int] | None:
    end = data.find(b"\n\n", 0, 65536)
    if end < 0:
        return None
    line = data[end + 2 : end + 2 + 64].split(b"\n")[0].split()
    if len(line) == 4:
        try:
            a, b = int(line[1]), int(line[3])
        except ValueError:
            return None
        return (b, a) if line[0].endswith(b"Y") else (a, b)
    return None


def _jp2_size(data: bytes) -> tuple[int, int] | None:
    if data[:4] == b"\xff\x4f\xff\x51" and len(data) >= 24:  # raw codestream: SOC, SIZ
        xs, ys, xo, yo = struct.unpack(">IIII", data[8:24])
        return max(0, xs - xo), max(0, ys - yo)
    i = data.find(b"ihdr", 0, 65536)
    if i >= 0 and i + 12 <= len(data):
        h, w = struct.unpack(">II", data[i + 4 : i + 12])
        return w, h
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) declared by the header of any format digitlens reads, or None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return _tiff_size(data)
    if data[:1] == b"P" and data[1:2] in b"123456" and len(data) >= 3:
        return _pnm_size(data)
    if data[:2] in (b"PF", b"Pf"):
        return _pnm_size(data)
    if data[:2] == b"P7":
        return _pam_size(data)
    if data[:4] == b"\x59\xa6\x6a\x95" and len(data) >= 12:  # Sun raster
        return struct.unpack(">II", data[4:12])
    if data[:2] == b"#?":  # Radiance HDR
        return _hdr_size(data)
    if data[:4] == b"\xff\x4f\xff\x51" or data[4:8] == b"jP  ":
        return _jp2_size(data)
    if data[4:8] == b"ftyp":
        return _isobmff_size(data)
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
            if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
                i += 1 if marker == 0xFF else 2
                continue
            seg = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + seg
    return None


# ---- EXIF orientation --------------------------------------------------------------------
def _tiff_orientation(tiff: bytes) -> int:
    """Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 when absent."""
    if tiff[:2] not in (b"II", b"MM"):
        return 1
    end = "<" if tiff[:2] == b"II" else ">"
    try:
        off = struct.unpack(end + "I", tiff[4:8])[0]
        count = struct.unpack(end + "H", tiff[off : off + 2])[0]
        for k in range(min(count, 1024)):
            e = off + 2 + 12 * k
            tag, typ = struct.unpack(end + "HH", tiff[e : e + 4])
            if tag == 0x0112 and typ == 3:
                value = struct.unpack(end + "H", tiff[e + 8 : e + 10])[0]
                return value if 1 <= value <= 8 else 1
    except struct.error:
        pass
    return 1


def exif_orientation(data: bytes) -> int:
    """EXIF orientation (1..8) of a PNG (eXIf chunk) or WebP (EXIF chunk); 1 when absent."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        i = 8
        while i + 8 <= len(data):
            length = struct.unpack(">I", data[i : i + 4])[0]
            kind = data[i + 4 : i + 8]
            if kind == b"eXIf":
                return _tiff_orientation(data[i + 8 : i + 8 + length])
            if kind == b"IEND":
                break
            i += 12 + length
        return 1
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        i = 12
        while i + 8 <= len(data):
            kind = data[i : i + 4]
            length = struct.unpack("<I", data[i + 4 : i + 8])[0]
            if kind == b"EXIF":
                block = data[i + 8 : i + 8 + length]
                if block.startswith(b"Exif\0\0"):
                    block = block[6:]
                return _tiff_orientation(block)
            i += 8 + length + (length & 1)
    return 1


def heif_transform(image: np.ndarray, data: bytes) -> np.ndarray:
    """Apply the 'irot' (anticlockwise quarter turns) then 'imir' boxes of an AVIF/HEIF file."""
    window = data[: 1 << 20]
    i = window.find(b"irot")
    if i >= 4 and i + 4 < len(window):
        image = np.rot90(image, window[i + 4] & 3)
    i = window.find(b"imir")
    if i >= 4 and i + 4 < len(window):
        image = image[::-1] if window[i + 4] & 1 == 0 else image[:, ::-1]
    return image


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an image stored with EXIF orientation 1..8 upright (as Pillow's exif_transpose)."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return image.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(image, -1)
    if orientation == 7:
        return image[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(image, 1)
    return image


# ---- decoding --------------------------------------------------------------------------
def _heif_brands(data: bytes) -> set[bytes]:
    if data[4:8] != b"ftyp":
        return set()
    size = struct.unpack(">I", data[:4])[0]
    box = data[8 : min(size, 256)]
    return {box[0:4]} | {box[k : k + 4] for k in range(8, len(box) - 3, 4)}


def _decode_with_pillow(data: bytes, name: str, kind: str) -> np.ndarray:
    """HEIC/HEIF through pillow-heif (the optional extra)."""
    try:
        import pillow_heif
        from PIL import Image, ImageOps
    except ImportError:
        raise ImageLoadError(f"{name}: {kind} images need the heic extra: {HEIC_EXTRA}") from None
    pillow_heif.register_heif_opener()
    try:
        with Image.open(io.BytesIO(data)) as im:
            check_pixels(im.width, im.height, name)
            im = ImageOps.exif_transpose(im)
            return pil_to_array(im)
    except ImageLoadError:
        raise
    except Exception as exc:  # a third-party decoder: any failure is a bad file
        raise ImageLoadError(f"{name}: not a readable {kind} image ({type(exc).__name__})") from None


def pil_to_array(im: Image.Image) -> np.ndarray:
    """A PIL image -> uint8/uint16 grey, BGR or BGRA array."""
    if im.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im.convert("I;16"), dtype=np.uint16).copy()
    if im.mode in ("1", "L", "P", "LA", "PA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F"):
        if im.mode in ("I", "F"):
            return float_range(np.asarray(im, dtype=np.float64), "image")
        im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
    if im.mode == "RGBA":
        return cv2.cvtColor(np.asarray(im), cv2.COLOR_RGBA2BGRA)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR)


def float_range(image: np.ndarray, name: str) -> np.ndarray:
    """Float pixels: 0..1 as they are; 0..255 (the maximum above 1) scaled to 0..1; larger refused."""
    if not np.isfinite(image).all():
        raise ImageLoadError(f"{name}: image contains NaN or infinite values")
    top = float(image.max(initial=0.0))
    if top <= 1.0:
        return image
    if top <= 255.0:
        return image / np.float32(255.0) if image.dtype == np.float32 else image / 255.0
    raise ImageLoadError(
        f"{name}: float image with values up to {top:g}; expected 0..1 or 0..255 (convert it to uint8 or uint16)"
    )


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int | None = None) -> np.ndarray:
    """Bytes of an image file -> uint8/uint16 array (grey, BGR or BGRA), upright."""
    if len(data) == 0:
        raise ImageLoadError(f"{name}: empty file")
    size = header_size(data)
    if size is not None:
        check_pixels(size[0], size[1], name, max_pixels)
    brands = _heif_brands(data)
    if brands and not brands & {b"avif", b"avis"}:
        if brands & {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"}:
            return _decode_with_pillow(data, name, "HEIC/HEIF")
    buf = np.frombuffer(data, np.uint8)
    try:
        with quiet_stderr() if _quiet else contextlib.nullcontext():
            if data[:2] == b"\xff\xd8":
                # colour decode applies EXIF orientation; JPEG has no alpha to lose
                img = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
            else:
                img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        if "MAX_IMAGE_PIXELS" in str(exc):
            raise ImageLoadError(f"{name}: too large: declares more pixels than OpenCV's limit") from None
        raise ImageLoadError(f"{name}: not a readable image (decoder error)") from None
    if img is None or img.size == 0:
        if brands:
            raise ImageLoadError(f"{name}: not a readable AVIF image (this OpenCV build may lack AVIF)")
        raise ImageLoadError(f"{name}: not a readable image (unknown format, truncated or corrupt)")
    if img.ndim == 3 and img.shape[2] not in (1, 3, 4):
        img = img[:, :, :3]
    check_pixels(img.shape[1], img.shape[0], name, max_pixels)  # formats whose header was not parsed
    if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:4] == b"RIFF":
        # OpenCV applies EXIF orientation to JPEG (colour decode) and TIFF itself, not to PNG or WebP
        img = np.ascontiguousarray(apply_orientation(img, exif_orientation(data)))
    elif brands:  # AVIF: OpenCV ignores the rotation and mirror properties
        img = np.ascontiguousarray(heif_transform(img, data))
    if img.dtype not in (np.uint8, np.uint16):
        if img.dtype.kind == "f":
            img = float_range(np.nan_to_num(img.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0), name)
            img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
        else:
            img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return img


def display_name(path: str | os.PathLike) -> str:
    """A path as printable text: bytes that are not UTF-8 are shown as \\xNN escapes."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file ('-' is stdin); ImageLoadError with a one-line reason on any failure."""
    name = display_name(path)
    if os.fspath(path) in ("-", b"-"):
        data = sys.stdin.buffer.read()
        return decode_image(data, "<stdin>", max_pixels)
    p = Path(os.fsdecode(path))
    try:
        if p.is_dir():
            raise ImageLoadError(f"{name}: is a directory, not an image")
        data = p.read_bytes()
    except ImageLoadError:
        raise
    except FileNotFoundError:
        kind = "broken symlink" if p.is_symlink() else "no such file"
        raise ImageLoadError(f"{name}: {kind}") from None
    except PermissionError:
        raise ImageLoadError(f"{name}: permission denied") from None
    except OSError as exc:
        raise ImageLoadError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return decode_image(data, name, max_pixels)


def as_image(image: object, max_pixels: int | None = None) -> np.ndarray:
    """Whatever `Reader.read` is given -> an image array, with the pixel limit applied.

    Accepts a path (str or os.PathLike), the bytes of an image file, a NumPy array
    (float images in 0..1 or 0..255) or a PIL image; anything else is an ImageTypeError.
    """
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            check_pixels(image.shape[1], image.shape[0], "image", max_pixels)
        if image.dtype.kind == "f" and image.size and image.ndim in (2, 3):
            image = float_range(image, "image")
        return image
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, max_pixels)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image), "<bytes>", max_pixels)
    pil = sys.modules.get("PIL.Image")
    if pil is not None and isinstance(image, pil.Image):
        check_pixels(image.width, image.height, "image", max_pixels)
        return pil_to_array(image)
    raise ImageTypeError(
        f"image must be a path, the bytes of an image file, a numpy array or a PIL image, got {type(image).__name__}"
    )
