"""The web page in a real browser: headless Chromium (Debian's) driven by Playwright.

A server on a free loopback port, started here in a thread; the page uploads a sample,
reads a digit drawn on the canvas with mouse events, and reads a fake camera fed from
a .y4m video made here from a sample photo.  Screenshots go to $DIGITLENS_SCREENSHOTS
(default: pytest's temporary folder).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason='needs the serve extra: pip install "digitlens[serve]"')
pytest.importorskip("python_multipart", reason='needs the serve extra: pip install "digitlens[serve]"')
uvicorn = pytest.importorskip("uvicorn", reason='needs the serve extra: pip install "digitlens[serve]"')
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())
CAMERA_SAMPLE = "notebook_line.jpg"


def find_chromium() -> str | None:
    for cand in (os.environ.get("DIGITLENS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def write_y4m(path: Path, bgr: np.ndarray, frames: int = 5, fps: int = 10) -> None:
    """A YUV4MPEG2 video (what Chromium's fake camera reads): header, then FRAME + I420 planes."""
    h, w = bgr.shape[:2]
    assert h % 2 == 0 and w % 2 == 0
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes()  # Y plane, then U, then V
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + i420)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("DIGITLENS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def running(settings):
    """A uvicorn server in a thread on a free loopback port; yields its base URL."""
    from digitlens.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < end, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server():
    from digitlens.serve.config import Settings

    with running(Settings(workers=2, queue=4)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = find_chromium()
    if exe is None:
        pytest.skip("Chromium not found (Debian: apt-get install chromium; or set DIGITLENS_CHROMIUM)")
    frame = cv2.imread(str(SAMPLES / CAMERA_SAMPLE))
    frame = cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA)
    video = tmp_path_factory.mktemp("camera") / "digits.y4m"
    write_y4m(video, frame)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1000, "height": 900}, permissions=["camera"])
    outside = offline(ctx, server)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server + "/")
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not outside, f"the page asked for something outside the server: {outside}"


def offline(ctx, server: str) -> list[str]:
    """Refuse, and list, every request that does not go to our server: the page must work offline."""
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(server + "/") or r.request.url.startswith(("blob:", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    return outside


def test_upload_a_sample_shows_its_digits_and_boxes(page, shots):
    page.set_input_files("#file", str(SAMPLES / "whiteboard.jpg"))
    out = page.locator("#photo-text")
    sync_api.expect(out).to_have_text(EXPECTED["whiteboard.jpg"]["text"], timeout=15_000)
    rows = page.locator("#photo-table tbody tr:not(.rejected)")
    assert rows.count() == len(EXPECTED["whiteboard.jpg"]["boxes"])
    # the photo is drawn with the boxes over it
    page.wait_for_function("document.getElementById('photo-canvas').width > 0")
    green = page.evaluate(
        """() => { const c = document.getElementById('photo-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i+1] > 140 && d[i] < 60 && d[i+2] < 90) n++; return n; }"""
    )
    assert green > 1000, green
    page.screenshot(path=str(shots / "serve-photo.png"), full_page=True)


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_a_dropped_or_pasted_photo_is_read(page, how):
    import base64

    data = base64.b64encode((SAMPLES / "sticky_note.jpg").read_bytes()).decode()
    page.evaluate(
        """([how, b64]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "note.jpg", { type: "image/jpeg" }));
        if (how === "drop") document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt }));
        else document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt }));
        }""",
        [how, data],
    )
    sync_api.expect(page.locator("#photo-text")).to_have_text(EXPECTED["sticky_note.jpg"]["text"], timeout=15_000)


def test_a_refused_file_gets_a_clear_message(page, shots, tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"just some text named like a photo, not an image")
    page.set_input_files("#file", str(fake))
    msg = page.locator("#photo-msg")
    sync_api.expect(msg).to_contain_text("Refused", timeout=15_000)
    sync_api.expect(msg).to_contain_text("not a readable image")
    assert page.locator("#photo-result").is_hidden()
    page.screenshot(path=str(shots / "serve-refused.png"))


def stroke(page, box, points) -> None:
    """Draw one stroke through points given in 0..1 of the pad's box, with mouse events."""
    xy = [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def test_drawing_on_the_canvas_is_read_as_you_draw(page, shots):
    page.click("#tab-draw")
    pad = page.locator("#pad")
    box = pad.bounding_box()
    stroke(page, box, [(0.10, 0.20), (0.22, 0.20), (0.14, 0.82)])  # a 7
    out = page.locator("#draw-text")
    sync_api.expect(out).to_have_text("7", timeout=15_000)  # read with no button pressed
    stroke(page, box, [(0.38, 0.25), (0.41, 0.18), (0.40, 0.82)])  # then a 1 beside it, with its flag
    sync_api.expect(out).to_have_text("71", timeout=15_000)
    page.screenshot(path=str(shots / "serve-draw.png"))
    page.click("#pad-clear")
    sync_api.expect(out).to_have_text("")


def test_camera_gives_live_readings_with_boxes_over_the_video(page, shots):
    page.click("#tab-camera")
    page.click("#cam-start")
    out = page.locator("#cam-text")
    sync_api.expect(out).to_have_text(EXPECTED[CAMERA_SAMPLE]["text"], timeout=20_000)
    # boxes are drawn on the overlay, and readings keep coming
    painted = page.evaluate(
        """() => { const c = document.getElementById('cam-overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
    )
    assert painted > 500, painted
    page.wait_for_function("/readings\\/s/.test(document.getElementById('cam-fps').textContent)", timeout=10_000)
    page.wait_for_timeout(1500)
    rate = float(page.locator("#cam-fps").inner_text().split()[0])
    assert rate > 0
    page.screenshot(path=str(shots / "serve-camera.png"))
    page.click("#cam-stop")
    assert page.evaluate("document.getElementById('cam-video').srcObject === null")


def test_no_camera_is_a_clear_message(browser, server, shots):
    ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    pg = ctx.new_page()
    # as if the browser had no camera at all
    pg.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('none', 'NotFoundError'));"
    )
    pg.goto(server + "/")
    pg.click("#tab-camera")
    pg.click("#cam-start")
    sync_api.expect(pg.locator("#cam-msg")).to_contain_text("No camera: no camera was found", timeout=10_000)
    pg.screenshot(path=str(shots / "serve-nocamera.png"))
    ctx.close()


def test_a_server_error_is_a_clear_message(page):
    page.route(
        "**/v1/read",
        lambda r: r.fulfill(status=500, content_type="application/json", body='{"error": "boom", "code": "internal"}'),
    )
    page.set_input_files("#file", str(SAMPLES / "blackboard.jpg"))
    sync_api.expect(page.locator("#photo-msg")).to_have_text("Server error: boom", timeout=10_000)


def test_api_docs_render_offline(browser, server, shots):
    ctx = browser.new_context(viewport={"width": 1000, "height": 900})
    outside = offline(ctx, server)
    pg = ctx.new_page()
    pg.goto(server + "/docs")
    sync_api.expect(pg.locator(".swagger-ui .title")).to_contain_text("digitlens", timeout=15_000)
    sync_api.expect(pg.locator(".opblock-summary-path").first).to_be_visible()
    assert "/v1/read" in pg.locator(".swagger-ui").inner_text()
    pg.screenshot(path=str(shots / "serve-docs.png"))
    ctx.close()
    assert not outside, f"/docs asked for something outside the server: {outside}"


def test_a_server_with_a_token(browser, shots):
    from digitlens.serve.config import Settings

    with running(Settings(workers=1, queue=0, token="page-token-42")) as url:
        ctx = browser.new_context(viewport={"width": 1000, "height": 700})
        pg = ctx.new_page()
        pg.goto(url + "/")  # without the token: told what to do
        pg.set_input_files("#file", str(SAMPLES / "blackboard.jpg"))
        sync_api.expect(pg.locator("#photo-msg")).to_contain_text("needs a token", timeout=10_000)
        pg.goto(url + "/?token=page-token-42")  # once with it: kept for the tab, gone from the address bar
        assert "token" not in pg.url
        pg.set_input_files("#file", str(SAMPLES / "blackboard.jpg"))
        sync_api.expect(pg.locator("#photo-text")).to_have_text(EXPECTED["blackboard.jpg"]["text"], timeout=15_000)
        ctx.close()
