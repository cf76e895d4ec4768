"""The demo portal in its own process (``orderbot portal serve``), for tests and
benchmarks where the portal must not share the test's interpreter (its GIL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def portal_process(db: Path, password: str, *options: str, master_data: Path = ROOT / "demo" / "masterdata") -> Iterator[str]:
    """Yield the base URL of a demo portal serving from ``db``; stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "bot.cli", "portal", "serve", "--port", str(port), "--db", str(db),
               "--master-data", str(master_data), *options]
    env = {**os.environ, "ORDERBOT_PORTAL_PASSWORD": password}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the demo portal did not start: {process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
