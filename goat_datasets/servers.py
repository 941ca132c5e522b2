"""Run an ASGI app (demo API, Hub write layer) on loopback in a background thread, for the CLI and test fixtures."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from typing import Any, Iterator

import httpx
import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(host: str) -> None:
    """Our servers are development servers: refuse to bind anything but loopback."""
    if not is_loopback(host):
        raise ValueError(f"refusing to bind {host!r}: goat servers listen on loopback only (127.0.0.1, ::1)")


def wait_until_up(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.05)
    raise TimeoutError(f"server at {url} did not come up in {timeout_s:.0f}s: {last}")


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, health_path: str = "/") -> Iterator[str]:
    """Serve ``app`` until the block exits; yields its base URL (``http://127.0.0.1:PORT``)."""
    require_loopback(host)
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    base_url = f"http://{host}:{port}"
    try:
        wait_until_up(base_url + health_path)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
