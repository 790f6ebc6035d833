import io

import cv2
import numpy as np
import pytest

from digitlens.preprocess.image import to_grey, validate_image
from digitlens.preprocess.load import ImageLoadError, decode_image, header_size, load_image


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 5), np.uint8), "empty"),
        (np.zeros((4, 4, 2), np.uint8), "channels"),
        (np.zeros((4, 4), np.int32), "dtype"),
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        (np.zeros((2, 2, 2, 2), np.uint8), "HxW"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_bad_arrays_raise_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        validate_image(bad)


def test_grey_from_every_layout():
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[:] = (255, 255, 255)
    assert to_grey(bgr).min() == pytest.approx(1.0)
    u16 = np.full((4, 4), 65535, np.uint16)
    assert to_grey(u16).max() == pytest.approx(1.0)
    bgra = np.zeros((4, 4, 4), np.uint8)  # black but fully transparent: paper
    assert to_grey(bgra).min() == pytest.approx(1.0)
    assert to_grey(np.full((3, 3, 1), 0.5, np.float64)).shape == (3, 3)


@pytest.mark.parametrize("shape", [(3000, 7), (5, 9000), (61, 641)])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_grey_strips_match_the_whole_image(shape, channels):
    """to_grey works a strip of rows at a time: every pixel as if the image were done at once."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, shape if channels is None else (*shape, channels), dtype=np.uint8)
    whole = img.astype(np.float32) * np.float32(1.0 / 255.0)
    if channels == 4:
        alpha = whole[:, :, 3:4]
        whole = whole[:, :, :3] * alpha + (1.0 - alpha)
    if channels:
        whole = cv2.cvtColor(np.ascontiguousarray(whole), cv2.COLOR_BGR2GRAY)
    assert to_grey(img).tobytes() == np.clip(whole, 0.0, 1.0).tobytes()


def encode(img, ext):
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def test_load_non_ascii_path_and_16_bit(tmp_path):
    img = (np.arange(100 * 80) % 65535).reshape(100, 80).astype(np.uint16)
    p = tmp_path / "zahlen_ÄÖÜ_数字.png"
    p.write_bytes(encode(img, ".png"))
    out = load_image(p)
    assert out.dtype == np.uint16 and out.shape == (100, 80)


def test_exif_orientation_is_applied(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    arr = np.zeros((40, 80, 3), np.uint8)  # landscape, stored with 'rotate 90' (orientation 6)
    arr[:, :20] = 255
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    p = tmp_path / "phone.jpg"
    p.write_bytes(buf.getvalue())
    out = load_image(p)
    assert out.shape[:2] == (80, 40)  # shown upright: portrait


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty file"), (b"hello, I am text", "not a readable image"), (b"%PDF-1.4\n...", "not a readable image")],
)
def test_unreadable_files(tmp_path, content, message):
    p = tmp_path / "x.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageLoadError, match=message):
        load_image(p)


def test_truncated_png_and_jpeg(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    for ext in (".png", ".jpg"):
        data = encode(img, ext)
        p = tmp_path / f"t{ext}"
        p.write_bytes(data[: len(data) // 3])
        try:
            out = load_image(p)  # libjpeg may return a partial image: acceptable if it is an image
            assert out.ndim in (2, 3)
        except ImageLoadError as exc:
            assert str(tmp_path) in str(exc)


def test_missing_dir_and_broken_link(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="directory"):
        load_image(tmp_path)
    link = tmp_path / "broken.png"
    link.symlink_to(tmp_path / "gone.png")
    with pytest.raises(ImageLoadError, match="broken symlink"):
        load_image(link)


def test_decompression_bomb_refused_from_the_header():
    # a PNG header claiming 30000x30000: refused before any pixel is decoded
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    assert header_size(data) == (30000, 30000)
    with pytest.raises(ImageLoadError, match="exceeds the limit"):
        decode_image(data, "bomb.png")


def test_header_sizes_match_real_files():
    img = np.zeros((37, 53, 3), np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".webp"):
        assert header_size(encode(img, ext)) == (53, 37), ext
