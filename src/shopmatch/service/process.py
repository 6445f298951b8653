"""Run ``shopmatch serve`` in a child process on a free loopback port, and wait until it answers.

For scripts that need a real server — load benchmarks, end-to-end tests, a smoke check after a
deployment — without a shell: it starts the process, polls ``/health``, and stops or kills it.

Example:
    >>> with ServiceProcess("demo-index/shop").start() as server:     # doctest: +SKIP
    ...     print(server.url)
    http://127.0.0.1:43817
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``shopmatch serve INDEX [ARGS]`` in a subprocess on 127.0.0.1; :meth:`start` waits for ``/health``.

    Args:
        index: the index directory to serve.
        args: more ``shopmatch serve`` options (``--compact-after``, ``--numba`` …).
        token: the write token (``--token``).
        log: where the server's output goes (default: beside the index).
    """

    def __init__(self, index: str | Path, *args: str, token: str | None = None, log: Path | None = None) -> None:
        self.index, self.args, self.token = Path(index), args, token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or self.index.with_name(self.index.name + f".server-{self.port}.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> ServiceProcess:
        command = [sys.executable, "-m", "shopmatch", "serve", str(self.index), "--port", str(self.port), *self.args]
        if self.token:
            command += ["--token", self.token]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self._log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout} s: {self._log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1.0) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _log_tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Terminate (SIGTERM), and kill it if it does not stop within 30 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
