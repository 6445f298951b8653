"""`shopmatch serve`: the HTTP service over an index directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopmatch.cli.common import app, fail, out
from shopmatch.errors import ShopmatchError


@app.command()
def serve(
    index_dir: Annotated[Path, typer.Argument(help="Index directory (from `shopmatch index`).")],
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token of the write endpoints (default: $SHOPMATCH_TOKEN; none: writes refused)."),
    ] = None,
    cors: Annotated[list[str] | None, typer.Option(help="Allowed CORS origin (repeat; '*' for any).")] = None,
    compact_after: Annotated[
        int, typer.Option(min=0, help="Compact once this many products are in the live delta (0: never).")
    ] = 5_000,
    numba: Annotated[bool, typer.Option("--numba", help="numba BM25 backend (faster on big catalogs).")] = False,
    header_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds a client has to send a request's headers (then 408, closed).")
    ] = 15.0,
    body_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds a client has to send a request's body (then 408, closed).")
    ] = 60.0,
) -> None:
    """Serve an index over HTTP: search API, live catalog updates, metrics and the web page."""
    serve_index(
        index_dir,
        host=host,
        port=port,
        token=token,
        cors=cors or [],
        compact_after=compact_after,
        numba=numba,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )


def serve_index(
    index_dir: Path,
    *,
    host: str,
    port: int,
    token: str | None,
    cors: list[str] | None = None,
    compact_after: int = 5_000,
    numba: bool = False,
    header_timeout: float = 15.0,
    body_timeout: float = 60.0,
) -> None:
    from shopmatch.backends.inprocess.static import read_index_manifest
    from shopmatch.extras import require

    try:
        require("serve", "shopmatch serve")
        read_index_manifest(index_dir)  # a clear error now rather than from the server's start-up
    except ShopmatchError as error:
        raise fail(error) from None
    import uvicorn

    from shopmatch.service import ServiceSettings, create_app
    from shopmatch.service.protocol import timed_h11_protocol

    options = {
        "index_dir": index_dir,
        "cors_origins": cors or [],
        "compact_after": compact_after,
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
    }
    if token:
        options["token"] = token
    if numba:
        options["lexical_backend"] = "numba"
    settings = ServiceSettings(**options)
    writes = "enabled (bearer token)" if settings.writes_enabled else "disabled (no --token / $SHOPMATCH_TOKEN)"
    out.print(f"Serving {index_dir} at [bold]http://{host}:{port}/[/] — API docs at /docs; writes {writes}.")
    out.print("Press Ctrl-C to stop.")
    # uvicorn's h11 protocol with header and body read deadlines (it has none of its own)
    protocol = timed_h11_protocol(settings.header_timeout, settings.body_timeout)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", http=protocol)
