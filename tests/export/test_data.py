import gzip
import hashlib
import http.server
import struct
import threading
from typing import ClassVar

import numpy as np
import pytest

from digitlens.export import data as mnist


def idx_images(n=3, rows=28, cols=28):
    arr = (np.arange(n * rows * cols) % 256).astype(np.uint8)
    return struct.pack(">IIII", 0x803, n, rows, cols) + arr.tobytes()


def test_parse_idx_images_and_labels():
    imgs = mnist.parse_idx(idx_images(3))
    assert imgs.shape == (3, 28, 28) and imgs.dtype == np.uint8
    labels = mnist.parse_idx(struct.pack(">II", 0x801, 4) + bytes([1, 2, 3, 9]))
    assert labels.tolist() == [1, 2, 3, 9]


def test_truncated_file_names_the_file(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(idx_images(3)[:-10]))
    with pytest.raises(mnist.DataError, match=r"train-images-idx3-ubyte\.gz.*truncated"):
        mnist.read_idx(p)


def test_truncated_gzip_stream(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(idx_images(3))[:40])
    with pytest.raises(mnist.DataError, match=r"x\.gz"):
        mnist.read_idx(p)


def test_wrong_magic(tmp_path):
    p = tmp_path / "bad.gz"
    p.write_bytes(gzip.compress(struct.pack(">II", 0x1234, 1) + b"\0"))
    with pytest.raises(mnist.DataError, match="wrong magic"):
        mnist.read_idx(p)


def test_real_files_match_checksums(data_dir):
    assert mnist.checksums(data_dir) == mnist.SHA256
    test = mnist.load_split("test", data_dir, download_missing=False)
    assert test.images.shape == (10000, 28, 28) and test.labels.shape == (10000,)
    assert set(np.unique(test.labels)) == set(range(10))


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    assert mnist.resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert mnist.resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv(mnist.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert mnist.resolve_data_dir(None) == tmp_path / "cache" / "digitlens" / "mnist"


def test_missing_files_without_download(tmp_path):
    with pytest.raises(mnist.DataError, match="missing"):
        mnist.load_split("test", tmp_path, download_missing=False)


# ---- the downloader, for real, against a server on 127.0.0.1 -------------------------------
PAYLOAD = idx_images(5)
GOOD = gzip.compress(PAYLOAD)
NAME = "t10k-images-idx3-ubyte.gz"
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, str]] = {}  # set per test by setup_routes

    def do_GET(self):
        kind = self.routes.get(self.path.split("/")[1], "404")
        if kind == "good":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD)
        elif kind == "corrupt":
            body = gzip.compress(PAYLOAD[:-1] + b"\x01")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "drop":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[: len(GOOD) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield base
    srv.shutdown()
    srv.server_close()


def setup_routes(**routes):
    Handler.routes = routes


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_download_good_file(server, tmp_path):
    setup_routes(a="good")
    path = mnist.download(NAME, tmp_path, mirrors=(f"{server}/a/",), sha256=SHA, timeout=5)
    assert mnist.read_idx(path).shape == (5, 28, 28)
    assert leftovers(tmp_path) == [NAME]


def test_download_wrong_checksum_leaves_nothing(server, tmp_path):
    setup_routes(a="corrupt")
    with pytest.raises(mnist.DataError, match="checksum mismatch"):
        mnist.download(NAME, tmp_path, mirrors=(f"{server}/a/",), sha256=SHA, timeout=5)
    assert leftovers(tmp_path) == []


def test_download_404_then_second_mirror(server, tmp_path):
    setup_routes(b="good")
    path = mnist.download(NAME, tmp_path, mirrors=(f"{server}/a/", f"{server}/b/"), sha256=SHA, timeout=5)
    assert path.read_bytes() == GOOD
    assert leftovers(tmp_path) == [NAME]


def test_download_dropped_connection_leaves_nothing(server, tmp_path):
    setup_routes(a="drop")
    with pytest.raises(mnist.DataError, match="could not fetch"):
        mnist.download(NAME, tmp_path, mirrors=(f"{server}/a/",), sha256=SHA, timeout=5)
    assert leftovers(tmp_path) == []
