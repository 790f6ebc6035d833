"""What a server is allowed to do: limits, workers and who may call it (stdlib only)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

#: Address the server binds unless told otherwise: loopback, reachable from this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Environment variable holding the access token.
TOKEN_ENV = "DIGITLENS_TOKEN"


@dataclass(frozen=True)
class Settings:
    """Limits and knobs of one server; every default is what `digitlens serve` uses."""

    workers: int = 2  # inference threads, each with its own Reader (one onnxruntime session, 1 thread)
    queue: int = 8  # requests that may wait for a free worker; beyond workers + queue: 503
    max_upload_bytes: int = 20 * 1024 * 1024  # larger bodies: 413, refused before they are read
    timeout: float = 30.0  # seconds for one request: receiving the body, waiting and reading
    token: str | None = None  # when set, /v1/* needs `Authorization: Bearer <token>`
    retry_after: int = 1  # seconds suggested to a client turned away with 503
    # when set, requests naming another Host are refused: an open loopback server must not be
    # reachable through a DNS-rebinding web page (a name that resolves to 127.0.0.1)
    allowed_hosts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.queue < 0:
            raise ValueError(f"queue must be 0 or more, got {self.queue}")
        if self.max_upload_bytes < 1:
            raise ValueError(f"max upload size must be positive, got {self.max_upload_bytes}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def resolve_token(host: str, token: str | None, no_auth: bool) -> str | None:
    """The token the server will require, or None for an open server.

    On loopback the server is open unless a token is given; on any other address a
    token is required (raises ValueError without one) unless `no_auth` says otherwise.
    """
    token = (token or "").strip() or None
    if no_auth:
        return None
    if token is None and not is_loopback(host):
        raise ValueError(
            f"binding {host} (not loopback) needs a token: --token TOKEN or {TOKEN_ENV}=TOKEN, "
            "or --no-auth to serve anyone who can reach it"
        )
    return token


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def host_name(header: str) -> str:
    """The name in a Host header, without the port: 'a:8000' -> 'a', '[::1]:8000' -> '::1'."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h
