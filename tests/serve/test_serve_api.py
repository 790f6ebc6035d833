"""`digitlens serve` API through FastAPI's in-process client: readings, every refusal, limits, auth."""

from __future__ import annotations

import json
import threading
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason='needs the serve extra: pip install "digitlens[serve]"')
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")
pytest.importorskip("python_multipart", reason='needs the serve extra: pip install "digitlens[serve]"')

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx versions
    from fastapi.testclient import TestClient

from digitlens.inference import Reader
from digitlens.serve.app import create_app
from digitlens.serve.config import Settings, resolve_token

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(Settings(workers=2, queue=2)))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "code"} and body["error"] and "Traceback" not in body["error"]
    if code:
        assert body["code"] == code, body
    return body


def test_multipart_upload_gives_the_photo_json_record(client, capsys):
    r = client.post("/v1/read", files={"file": ("dir/notebook_line.jpg", sample("notebook_line.jpg"), "image/jpeg")})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["text"] == EXPECTED["notebook_line.jpg"]["text"]
    assert got["file"] == "notebook_line.jpg"  # the base name only, never a client's folders
    # the same record `digitlens photo --json` prints for the same file
    from digitlens.cli import main

    assert main(["photo", "--json", str(SAMPLES / "notebook_line.jpg")]) == 0
    cli = json.loads(capsys.readouterr().out.splitlines()[0])
    assert {k: v for k, v in got.items() if k != "file"} == {k: v for k, v in cli.items() if k != "file"}


@pytest.mark.parametrize("name", ["whiteboard.jpg", "blackboard.jpg"])
def test_raw_body_in_any_format_is_read(client, name):
    img = cv2.imread(str(SAMPLES / name))
    png = cv2.imencode(".png", img)[1].tobytes()
    r = client.post("/v1/read", content=png, headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == EXPECTED[name]["text"]
    assert r.json()["file"] is None


def test_annotated_returns_a_png_of_the_image_with_the_text_in_a_header(client):
    data = sample("sticky_note.jpg")
    r = client.post("/v1/read?annotated=true", content=data)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-digitlens-text"] == EXPECTED["sticky_note.jpg"]["text"]
    drawn = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original.astype(int)).max() > 100  # boxes were drawn


def test_content_is_checked_by_decoding_not_by_name(client):
    r = client.post("/v1/read", files={"file": ("photo.jpg", b"this is not a jpeg at all", "image/jpeg")})
    assert "not a readable image" in assert_error(r, 422, "unreadable_image")["error"]
    truncated = sample("notebook_line.jpg")[:300]
    assert_error(client.post("/v1/read", content=truncated), 422, "unreadable_image")
    # a real image sent under a misleading name and type is still read
    r = client.post("/v1/read", files={"file": ("notes.txt", sample("blackboard.jpg"), "text/plain")})
    assert r.status_code == 200 and r.json()["text"] == EXPECTED["blackboard.jpg"]["text"]


def test_pixel_limit_of_the_cli_applies(client):
    from digitlens.preprocess.load import MAX_PIXELS

    side = int(MAX_PIXELS**0.5) + 100
    # a PNG header claiming side x side pixels: refused before anything is allocated
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    body = assert_error(client.post("/v1/read", content=png + b"\0" * 64), 422, "unreadable_image")
    assert "exceeds the limit" in body["error"]


def test_empty_and_malformed_requests_are_4xx_json(client):
    assert_error(client.post("/v1/read"), 400, "empty")
    assert_error(client.post("/v1/read", files={"file": ("a.png", b"", "image/png")}), 400, "empty")
    assert_error(client.post("/v1/read", data={"note": "hello"}, files={"other": ("x", b"", "")}), 400)
    bad = b"--XYZ\r\nContent-Disposition: form-data; name=file\r\n\r\nabc--nope"
    assert_error(
        client.post("/v1/read", content=bad, headers={"Content-Type": "multipart/form-data; boundary=XYZ"}), 400
    )
    assert_error(client.post("/v1/read", content=b"x", headers={"Content-Type": "multipart/form-data"}), 400)
    assert_error(client.post("/v1/read?annotated=perhaps", content=sample("blackboard.jpg")), 422, "invalid_parameter")
    assert_error(client.get("/v1/read"), 405)
    assert_error(client.get("/v2/nothing"), 404)


def test_upload_size_limit_declared_and_streamed():
    small = TestClient(create_app(Settings(workers=1, queue=0, max_upload_bytes=10_000)))
    data = sample("notebook_line.jpg")
    assert len(data) > 10_000
    assert "exceeds the limit" in assert_error(small.post("/v1/read", content=data), 413, "too_large")["error"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]

    assert_error(small.post("/v1/read", content=chunks()), 413, "too_large")
    assert_error(small.post("/v1/read", content=b"x", headers={"Content-Length": "abc"}), 400)


def test_nothing_is_written_to_disk(client, monkeypatch):
    import tempfile

    def refuse(*a, **k):
        raise AssertionError("the server tried to write a temporary file")

    import starlette.formparsers

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    # Starlette's own form parser (not used by the server) spools uploads past 1 MiB to disk
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", refuse, raising=False)
    big = sample("blackboard.jpg") + b"\0" * (3 * 2**20)  # past Starlette's 1 MiB in-memory spool
    r = client.post("/v1/read", files={"file": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == EXPECTED["blackboard.jpg"]["text"]


class GatedReader(Reader):
    """A reader that waits for the test to let it go: keeps a worker busy on demand."""

    gate = threading.Event()
    started = threading.Event()

    def read(self, image, **kwargs):
        self.started.set()
        assert self.gate.wait(10)
        return super().read(image, **kwargs)


def wait_until(cond, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


def test_full_pool_answers_503_with_retry_after_then_recovers():
    GatedReader.gate.clear()
    app = create_app(Settings(workers=1, queue=1), make_reader=lambda: GatedReader(threads=1))
    c = TestClient(app)
    pool = app.state.pool
    data = sample("blackboard.jpg")
    results = []
    threads = [threading.Thread(target=lambda: results.append(c.post("/v1/read", content=data))) for _ in range(2)]
    for t in threads:
        t.start()
    wait_until(lambda: pool.in_flight == 2)  # one reading, one waiting: full
    r = c.post("/v1/read", content=data)
    assert_error(r, 503, "busy")
    assert int(r.headers["retry-after"]) >= 1
    GatedReader.gate.set()
    for t in threads:
        t.join(10)
    assert [x.status_code for x in results] == [200, 200]
    wait_until(lambda: pool.in_flight == 0)
    assert c.post("/v1/read", content=data).status_code == 200


def test_request_timeout_is_503_and_the_slot_comes_back():
    GatedReader.gate.clear()
    GatedReader.started.clear()
    app = create_app(Settings(workers=1, queue=0, timeout=0.3), make_reader=lambda: GatedReader(threads=1))
    pool = app.state.pool
    c = TestClient(app)
    r = c.post("/v1/read", content=sample("blackboard.jpg"))
    assert_error(r, 503, "timeout")
    assert "retry-after" in r.headers
    # a job that had started keeps its worker until it ends; one still waiting was cancelled
    wait_until(lambda: GatedReader.started.is_set() or pool.in_flight == 0)
    if GatedReader.started.is_set():
        assert pool.in_flight == 1
        assert_error(c.post("/v1/read", content=sample("blackboard.jpg")), 503, "busy")
    GatedReader.gate.set()
    wait_until(lambda: pool.in_flight == 0)
    assert c.post("/v1/read", content=sample("blackboard.jpg")).status_code == 200


def test_token_required_when_set_and_compared_exactly():
    c = TestClient(create_app(Settings(workers=1, queue=0, token="s3cret-token")))
    data = sample("blackboard.jpg")
    r = c.post("/v1/read", content=data)
    assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    assert_error(c.post("/v1/read", content=data, headers={"Authorization": "Bearer s3cret-toke"}), 401)
    assert_error(c.post("/v1/read", content=data, headers={"Authorization": "Basic s3cret-token"}), 401)
    assert_error(c.get("/v1/model"), 401)
    ok = c.post("/v1/read", content=data, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and ok.json()["text"] == EXPECTED["blackboard.jpg"]["text"]
    assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200  # no data behind these


def test_an_open_loopback_server_answers_only_to_loopback_names():
    c = TestClient(create_app(Settings(workers=1, queue=0, allowed_hosts=("127.0.0.1", "localhost", "::1"))))
    data = sample("blackboard.jpg")
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert c.post("/v1/read", content=data, headers={"Host": host}).status_code == 200, host
    # a page on evil.example whose name was rebound to 127.0.0.1
    assert_error(c.post("/v1/read", content=data, headers={"Host": "evil.example:8000"}), 400, "bad_host")


def test_who_needs_a_token():
    assert resolve_token("127.0.0.1", None, False) is None
    assert resolve_token("localhost", None, False) is None
    assert resolve_token("::1", None, False) is None
    assert resolve_token("127.0.0.1", "t", False) == "t"  # a token given is required even on loopback
    with pytest.raises(ValueError, match="needs a token"):
        resolve_token("0.0.0.0", None, False)
    with pytest.raises(ValueError, match="needs a token"):
        resolve_token("192.168.1.5", "  ", False)
    assert resolve_token("0.0.0.0", "t", False) == "t"
    assert resolve_token("0.0.0.0", None, True) is None


def test_cli_refuses_an_open_public_bind(capsys, monkeypatch):
    from digitlens.cli import main

    monkeypatch.delenv("DIGITLENS_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a token" in err[0] and "--no-auth" in err[0]


def test_cli_names_the_extra_when_it_is_missing(capsys, monkeypatch):
    import sys

    from digitlens.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "digitlens[serve]"' in err[0]


def test_model_health_and_offline_docs(client):
    m = client.get("/v1/model").json()
    from digitlens.inference import Recognizer

    assert m["name"] == "digitnet" and m["classes"] == [str(c) for c in Recognizer().classes]
    assert m["classes"][:10] == [str(i) for i in range(10)]
    assert 0.99 < m["metrics"]["test_accuracy_onnxruntime"] <= 1
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["workers"] == 2 and h["capacity"] == 4
    spec = client.get("/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/v1/read"]["post"]["requestBody"]["content"]
    docs = client.get("/docs").text
    assert "cdn" not in docs.lower() and "https://" not in docs
    for ref in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert ref in docs and client.get(ref).status_code == 200
    page = client.get("/").text
    assert "http://" not in page and "https://" not in page  # no CDN: the page works offline
    for ref in ("/static/app.js", "/static/style.css", "/static/favicon.svg"):
        assert client.get(ref).status_code == 200


def test_the_command_serves_on_loopback(tmp_path):
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitlens", "serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert json.loads(r.read())["status"] == "ok"
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < end, "the server did not answer"
                time.sleep(0.2)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/read", data=sample("blackboard.jpg"), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.loads(r.read())["text"] == EXPECTED["blackboard.jpg"]["text"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in err and "Traceback" not in err


def test_other_commands_never_import_the_web_stack_and_serve_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from digitlens.cli import build_parser\n"
        "build_parser()\n"
        "import digitlens.commands.photo, digitlens.commands.batch, digitlens.serve.command\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn'))\n"
        "import digitlens.serve.app\n"
        "torch = sorted(m for m in sys.modules if m.split('.')[0] == 'torch')\n"
        "print(json.dumps([web, torch]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], []]
