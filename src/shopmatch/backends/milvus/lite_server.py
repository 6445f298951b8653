"""Milvus Lite as a server process on 127.0.0.1: for a laptop, the tests and the benchmarks.

Several processes (``shopmatch serve --workers N``, a loader, a bench client) reach one
collection through it, as they would a Milvus cluster. It listens on 127.0.0.1 only (never
Milvus Lite's default 0.0.0.0).

Example:
    >>> with LiteServer("/tmp/milvus-data").start() as server:     # doctest: +SKIP
    ...     print(server.uri)
    http://127.0.0.1:43817
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from shopmatch.service.process import free_port


class LiteServer:
    """``milvus-lite server --data-dir DIR --host 127.0.0.1 --port PORT`` in a child process."""

    def __init__(self, data_dir: str | Path, *, port: int | None = None, log: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = log or self.data_dir.with_name(self.data_dir.name + f".milvus-{self.port}.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> LiteServer:
        """Start the server and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "milvus_lite", "server",
            "--data-dir", str(self.data_dir), "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited with {self.process.returncode}; see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"milvus-lite server did not listen on port {self.port} within {timeout:g} s; see {self.log}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop it (SIGTERM, then SIGKILL if it does not exit)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the data on disk is concerned."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LiteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
