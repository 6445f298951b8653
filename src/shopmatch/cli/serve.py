"""`shopmatch serve`: the HTTP service over an index directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from shopmatch.cli.common import RankerOpt, app, fail, out
from shopmatch.errors import ShopmatchError


@app.command()
def serve(
    index_dir: Annotated[
        Path | None, typer.Argument(help="Index directory (from `shopmatch index`); or --milvus-uri.")
    ] = None,
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
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (a Milvus index only: workers share no state).")
    ] = 1,
    milvus_uri: Annotated[
        str | None, typer.Option(help="Serve the Milvus index at this URI (no index directory needed).")
    ] = None,
    collection: Annotated[str, typer.Option(help="With --milvus-uri: the collection name prefix.")] = "shopmatch",
    events: Annotated[
        Path | None,
        typer.Option(help="Log shopper events in this directory: search impressions and POST /events."),
    ] = None,
    public_clicks: Annotated[
        bool, typer.Option("--public-clicks", help="With --events: take click events without a token (the web page).")
    ] = False,
    ranker: RankerOpt = None,
    models_dir: Annotated[
        Path | None,
        typer.Option(help="Watch this directory and load each new ranker version (shopmatch retrain -o DIR)."),
    ] = None,
    query_config: Annotated[
        Path | None,
        typer.Option(help="TOML of query-time settings over the index's (fusion, feedback, top_n …)."),
    ] = None,
    experiment: Annotated[
        Path | None, typer.Option(help="TOML whose \\[experiment] table sets an interleaving experiment.")
    ] = None,
    experiment_control: Annotated[
        str | None, typer.Option(help="Interleaving: the control ranker directory ('' for none).")
    ] = None,
    experiment_candidate: Annotated[
        str | None, typer.Option(help="Interleaving: the candidate ranker directory ('' for none).")
    ] = None,
    experiment_share: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Interleaving: the share of searches (sessions) in it.")
    ] = None,
    experiment_seed: Annotated[int | None, typer.Option(help="Interleaving: the seed of the share and coins.")] = None,
) -> None:
    """Serve an index over HTTP: search API, live catalog updates, metrics and the web page."""
    from dataclasses import replace

    try:
        from shopmatch.service.experiment import ExperimentConfig  # names the [serve] extra when missing

        trial = ExperimentConfig.from_toml(experiment) if experiment is not None else ExperimentConfig()
        given = {
            "control": experiment_control,
            "candidate": experiment_candidate,
            "share": experiment_share,
            "seed": experiment_seed,
        }
        trial = replace(trial, **{k: v for k, v in given.items() if v is not None})
    except (ShopmatchError, TypeError) as error:
        raise fail(error) from None
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
        workers=workers,
        milvus_uri=milvus_uri,
        collection=collection,
        events=events,
        public_clicks=public_clicks,
        ranker=ranker,
        models_dir=models_dir,
        query_config=query_config,
        experiment=trial,
    )


def serve_index(
    index_dir: Path | None,
    *,
    host: str,
    port: int,
    token: str | None,
    cors: list[str] | None = None,
    compact_after: int = 5_000,
    numba: bool = False,
    header_timeout: float = 15.0,
    body_timeout: float = 60.0,
    workers: int = 1,
    milvus_uri: str | None = None,
    collection: str = "shopmatch",
    events: Path | None = None,
    public_clicks: bool = False,
    ranker: Path | None = None,
    models_dir: Path | None = None,
    query_config: Path | None = None,
    experiment=None,
) -> None:
    from shopmatch.backends.inprocess.static import read_index_manifest
    from shopmatch.backends.kinds import MILVUS_INDEX_KIND, index_kind
    from shopmatch.extras import require

    try:
        require("serve", "shopmatch serve")
        if (index_dir is None) == (milvus_uri is None):
            raise ShopmatchError("give an index directory or --milvus-uri (not both)")
        if milvus_uri is not None or index_kind(index_dir) == MILVUS_INDEX_KIND:
            require("milvus", "a Milvus index")
        else:
            read_index_manifest(index_dir)  # a clear error now rather than from the server's start-up
            if workers > 1:
                raise ShopmatchError(
                    f"{index_dir}: an in-process index lives in one process (its live updates and log); "
                    "--workers needs an index in Milvus (shopmatch index … --backend milvus)"
                )
        if public_clicks and events is None:
            raise ShopmatchError("--public-clicks needs --events DIR")
        if events is not None and workers > 1:
            raise ShopmatchError("--events logs from one process: run it with --workers 1")
        if ranker is not None:
            from shopmatch.rank.model import configured_ranker

            configured_ranker(str(ranker))  # a clear error now, naming the file
        if experiment is not None and experiment.enabled:
            from shopmatch.service.experiment import Experiment

            Experiment(experiment)  # both rankers load, or a clear error now
        if query_config is not None and not query_config.is_file():
            raise ShopmatchError(f"{query_config}: config file not found")
    except ShopmatchError as error:
        raise fail(error) from None
    import uvicorn

    from shopmatch.service import ServiceSettings, create_app
    from shopmatch.service.protocol import BODY_TIMEOUT_ENV, HEADER_TIMEOUT_ENV, timed_h11_protocol
    from shopmatch.service.settings import SETTINGS_ENV

    options = {
        "index_dir": index_dir,
        "milvus_uri": milvus_uri,
        "milvus_collection": collection,
        "cors_origins": cors or [],
        "compact_after": compact_after,
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "events_dir": events,
        "events_public_clicks": public_clicks,
        "ranker": ranker,
        "models_dir": models_dir,
        "query_config": query_config,
        "experiment": experiment.to_dict() if experiment is not None else {},
    }
    if token:
        options["token"] = token
    if numba:
        options["lexical_backend"] = "numba"
    settings = ServiceSettings(**options)
    writes = "enabled (bearer token)" if settings.writes_enabled else "disabled (no --token / $SHOPMATCH_TOKEN)"
    out.print(f"Serving {settings.served} at [bold]http://{host}:{port}/[/] — API docs at /docs; writes {writes}.")
    out.print("Press Ctrl-C to stop.")
    if workers > 1:  # each worker process imports the app and the protocol by name
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        os.environ[HEADER_TIMEOUT_ENV] = str(settings.header_timeout)
        os.environ[BODY_TIMEOUT_ENV] = str(settings.body_timeout)
        uvicorn.run(
            "shopmatch.service.app:app_from_environment",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="warning",
            http="shopmatch.service.protocol:EnvironmentTimedH11Protocol",
        )
        return
    # uvicorn's h11 protocol with header and body read deadlines (it has none of its own)
    protocol = timed_h11_protocol(settings.header_timeout, settings.body_timeout)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", http=protocol)
