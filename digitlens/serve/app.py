"""The FastAPI application: /v1/read, /v1/model, /healthz, the page at / and offline docs.

Only the public reading API is used: `Reader.read` on an image decoded by
`digitlens.preprocess.load.decode_image`, the `photo --json` record and the annotation
drawn by the commands.  Every refused request is a 4xx with `{"error", "code"}`.
"""

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from digitlens import __version__
from digitlens.commands.common import annotate
from digitlens.commands.photo import result_record
from digitlens.inference import Reader
from digitlens.preprocess.load import ImageLoadError, decode_image
from digitlens.serve.config import Settings, host_name
from digitlens.serve.pool import InferencePool, PoolFull
from digitlens.serve.upload import BadUpload, check_length, parse_upload, read_body

log = logging.getLogger("digitlens.serve")

STATIC = Path(__file__).with_name("static")
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}

READ_BODY_DOC = {
    "required": True,
    "description": "The image file: a multipart form with a field `file`, or the raw bytes as the body. "
    "Any format OpenCV decodes (JPEG, PNG, WebP, BMP, TIFF, ...); the content is checked by decoding it.",
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
}
ERROR_SCHEMA = {
    "content": {"application/json": {"example": {"error": "upload: not a readable image", "code": "unreadable_image"}}}
}


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


def decode(data: bytes, name: str) -> np.ndarray:
    """The one place uploads become pixels: the CLI's decoder, with its pixel limit."""
    return decode_image(data, name)


def read_job(reader: Reader, data: bytes, filename: str | None, annotated: bool) -> tuple[str, object]:
    """Runs on a worker thread: decode, read, and draw the annotation when asked."""
    image = decode(data, filename or "upload")
    reading = reader.read(image)
    if annotated:
        ok, png = cv2.imencode(".png", annotate(image, reading))
        if not ok:
            raise RuntimeError("could not encode the annotated image")
        return reading.text, png.tobytes()
    record = result_record(filename or "upload", reading)
    record["file"] = filename  # a raw body has no name
    return reading.text, record


def model_info(reader: Reader) -> dict:
    """Name, classes and metrics of the model, from the model's metadata and its card."""
    rec = reader.recognizer
    path = Path(getattr(rec, "path", "model.onnx"))
    meta = dict(getattr(rec, "metadata", {}) or {})
    metrics: dict = {}
    if "metrics" in meta:
        try:
            metrics.update(json.loads(meta["metrics"]))
        except (ValueError, TypeError):
            pass
    card_path = path.with_suffix(".json")
    card: dict = {}
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError):
            card = {}
    for key, value in card.items():
        if ("accuracy" in key or key in ("parameters", "macs_per_crop")) and isinstance(value, (int, float)):
            metrics.setdefault(key, value)
    classes = getattr(rec, "classes", None)
    if classes is None:
        from digitlens.conventions import NUM_CLASSES  # the contract checked when a model is loaded

        classes = list(range(NUM_CLASSES))
    return {
        "name": path.stem,
        "file": path.name,
        "architecture": meta.get("architecture") or card.get("architecture"),
        "classes": [str(c) for c in classes],
        "metrics": metrics,
        "conf": reader.conf,
    }


def create_app(settings: Settings | None = None, make_reader: Callable[[], Reader] | None = None) -> FastAPI:
    """The application; `make_reader` builds each worker's Reader (default: shipped model, 1 thread)."""
    settings = settings or Settings()
    pool = InferencePool(make_reader or partial(Reader, threads=1), settings.workers, settings.queue)
    model = model_info(pool.reader)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(
        title="digitlens",
        version=__version__,
        description="Read handwritten digits from photos. The page at `/` uses this API.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.state.settings = settings

    if settings.allowed_hosts is not None:
        allowed = {h.lower() for h in settings.allowed_hosts}

        @app.middleware("http")
        async def check_host(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            name = host_name(request.headers.get("host", ""))
            if name not in allowed:
                return error(400, "bad_host", f"this server answers only to {', '.join(sorted(allowed))}")
            return await call_next(request)

    bearer = HTTPBearer(auto_error=False, description="the token given to `digitlens serve` (--token)")

    async def require_token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if settings.token is None:
            return
        given = (creds.credentials if creds else "").encode()
        if not hmac.compare_digest(given, settings.token.encode()):
            raise HTTPException(401, "missing or wrong token", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return error(422, "invalid_parameter", f"{where}: {first.get('msg', 'invalid value')}".lstrip(": "))

    @app.exception_handler(BadUpload)
    async def bad_upload(_request: Request, exc: BadUpload) -> JSONResponse:
        return error(exc.status, exc.code, str(exc))

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error(500, "internal", f"internal error ({type(exc).__name__})")

    @app.post(
        "/v1/read",
        dependencies=[Depends(require_token)],
        summary="Read the digits in an image",
        openapi_extra={"requestBody": READ_BODY_DOC},
        responses={
            200: {
                "description": "The reading, the same record as `digitlens photo --json`; "
                "with `annotated=true` the annotated image as PNG",
                "content": {"image/png": {}},
            },
            400: {"description": "no image in the request", **ERROR_SCHEMA},
            401: {"description": "token missing or wrong", **ERROR_SCHEMA},
            408: {"description": "the upload did not arrive in time", **ERROR_SCHEMA},
            413: {"description": "upload larger than the limit", **ERROR_SCHEMA},
            422: {"description": "not a readable image, or too many pixels", **ERROR_SCHEMA},
            503: {"description": "every worker busy (see Retry-After), or reading timed out", **ERROR_SCHEMA},
        },
    )
    async def read(
        request: Request,
        annotated: Annotated[bool, Query(description="answer with the annotated image (PNG) instead of JSON")] = False,
    ) -> Response:
        start = time.monotonic()
        limit = settings.max_upload_bytes
        check_length(request.headers.get("content-length"), limit)
        try:
            body = await asyncio.wait_for(read_body(request.stream(), limit), settings.timeout)
        except asyncio.TimeoutError:
            raise BadUpload(408, "timeout", f"the upload did not arrive within {settings.timeout:g} s") from None
        upload = parse_upload(body, request.headers.get("content-type"))
        retry = {"Retry-After": str(settings.retry_after)}
        try:
            fut = pool.submit(partial(read_job, data=upload.data, filename=upload.filename, annotated=annotated))
        except PoolFull as exc:
            return error(503, "busy", f"server busy: {exc}; retry later", retry)
        remaining = max(0.001, settings.timeout - (time.monotonic() - start))
        try:
            text, result = await asyncio.wait_for(asyncio.wrap_future(fut), remaining)
        except asyncio.TimeoutError:
            fut.cancel()  # frees its place at once if it had not started; else it finishes, then frees it
            return error(503, "timeout", f"reading took longer than {settings.timeout:g} s", retry)
        except (ImageLoadError, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "not a readable image"
            return error(422, "unreadable_image", msg)
        if annotated:
            return Response(result, media_type="image/png", headers={"X-Digitlens-Text": text})
        return JSONResponse(result)

    @app.get("/v1/model", dependencies=[Depends(require_token)], summary="The model: name, classes, metrics")
    async def model_route() -> dict:
        return model

    @app.get("/healthz", summary="Liveness and load of the worker pool")
    async def healthz() -> dict:
        return {
            "status": "ok",
            "version": __version__,
            "workers": pool.workers,
            "capacity": pool.capacity,
            "in_flight": pool.in_flight,
            "max_upload_bytes": settings.max_upload_bytes,
        }

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_docs(app)
    return app


#: The page may talk only to this server: no CDN, no third party.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def add_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the swagger-ui-bundle package's files, or a plain list offline."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
    except ImportError:
        swagger_ui_path = None
    if swagger_ui_path is not None:
        app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title="digitlens API",
                swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                swagger_css_url="/docs/assets/swagger-ui.css",
                swagger_favicon_url="/static/favicon.svg",
            )

        return

    @app.get("/docs", include_in_schema=False)
    async def plain_docs() -> HTMLResponse:
        from html import escape

        rows = []
        for path, ops in app.openapi().get("paths", {}).items():
            for method, op in ops.items():
                rows.append(f"<li><code>{method.upper()} {escape(path)}</code> {escape(op.get('summary', ''))}</li>")
        return HTMLResponse(
            "<!doctype html><meta charset=utf-8><title>digitlens API</title><h1>digitlens API</h1>"
            f"<ul>{''.join(rows)}</ul><p>Full schema: <a href='{app.openapi_url}'>{app.openapi_url}</a></p>"
        )
