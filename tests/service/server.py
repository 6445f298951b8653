"""Run `shopmatch serve` as a real process on a free loopback port (for durability and browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``shopmatch serve INDEX`` in a subprocess; :meth:`start` waits until /health answers."""

    def __init__(self, index: Path, *args: str, token: str | None = None, log: Path | None = None) -> None:
        self.index, self.args, self.token = index, args, token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or index.with_name(index.name + f".server-{self.port}.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> Server:
        command = [sys.executable, "-m", "shopmatch", "serve", str(self.index), "--port", str(self.port), *self.args]
        if self.token:
            command += ["--token", self.token]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self.process = subprocess.Popen(command, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
