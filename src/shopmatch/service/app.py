"""The FastAPI app: ``create_app(settings)``.

Endpoints (all JSON unless noted; see docs/http-api.md, ``/openapi.json`` for the schema
and ``/docs`` for a page that lists it):

- ``GET /search?q=&k=&offset=&brand=&color=&category=&min_price=&max_price=&min_rating=&explain=&rerank=&spelling=``
  and ``POST /search`` (the same as a JSON body, filters under ``filters``); the answer's
  ``corrected_query`` is the text searched when spelling correction changed it (``spelling=false``:
  searched as typed); with ``user_id`` and a personalizer (``[personalize] model``), the
  shopper's profile re-orders the results (kept live from the captured events with
  ``events_dir``: :mod:`.profiles`);
- ``GET /explain?q=&id=&spelling=``: why one product matches a query (the web page's explanation panel);
- ``GET /suggest?q=&limit=``: completions of a prefix (English, Chinese or pinyin; one typo
  allowed from four letters) from the catalog's phrases and, with ``events_dir``, the queries
  whose results were clicked (read from the events log when the service starts);
- ``POST /events``: a batch of shopper events, logged durably (needs the write token, or none for
  clicks with ``events_public_clicks``); with ``events_dir`` set, every search is logged as an
  impression under the ``search_id`` its response carries (:mod:`.capture`, :mod:`.events_log`);
- ``POST /products`` (batch upsert), ``GET /products/{id}``, ``DELETE /products/{id}`` (an id may
  hold ``/``), ``POST /admin/compact``: writes need ``Authorization: Bearer <token>``;
- ``POST /admin/models/reload`` (write token): load a new ranker / re-ranker / query-time config and
  swap it in without downtime (:mod:`.models`); with ``models_dir`` a poller does it when a new
  ranker version appears; with ``experiment`` a share of searches is interleaved (:mod:`.experiment`);
- ``GET /health``, ``GET /metrics`` (Prometheus text format), ``GET /`` (the web page); ``HEAD``
  is answered like ``GET`` without a body.

Errors are ``{"error": {"status", "code", "message", "field"?}}`` (:mod:`.errors`) with a 4xx status
that says what was wrong; a failure inside the service is a 500 with a generic message (details go
to the log, never to the client). Model work runs in the thread pool (the endpoints are plain
functions). Around the routes, outermost first: security headers (:mod:`.security`), ``HEAD`` as
``GET`` (:mod:`.head`), metrics, CORS, the body limit (:mod:`.limits`) and the token checks run
before a body is read (:mod:`.auth`).

Example:
    >>> from fastapi.testclient import TestClient
    >>> with TestClient(create_app(ServiceSettings(index_dir="demo-index/shop"))) as client:  # doctest: +SKIP
    ...     client.get("/search", params={"q": "usb cable", "k": 3}).json()["results"][0]["product_id"]
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware

from shopmatch.backends.base import ServedIndex
from shopmatch.errors import DataError, ShopmatchError
from shopmatch.events.interleaving import CANDIDATE, CONTROL
from shopmatch.explain import explain_product
from shopmatch.filters import CATEGORY_SEPARATOR, category_path
from shopmatch.personalize.profiles import ProfileStore
from shopmatch.query.query import Query as SearchQuery
from shopmatch.query.suggest import Suggester, clicked_queries, matching_products
from shopmatch.search import search
from shopmatch.service.auth import AuthBeforeBody, TokenAuth, is_public
from shopmatch.service.capture import checked_batch, impression_record, new_search_id
from shopmatch.service.errors import ApiError, json_error
from shopmatch.service.events_log import EventsLog
from shopmatch.service.experiment import Experiment, ExperimentConfig
from shopmatch.service.head import HeadAsGet
from shopmatch.service.limits import BodyLimit
from shopmatch.service.metrics import CONTENT_TYPE, ServiceMetrics
from shopmatch.service.models import ModelRegistry, ModelRejected, ModelView, ModelWatcher
from shopmatch.service.profiles import live_profiles, served_facts
from shopmatch.service.schemas import EventsBody, FilterBody, ReloadBody, SearchBody, UpsertBody, Who
from shopmatch.service.security import SecurityHeaders
from shopmatch.service.settings import SETTINGS_ENV, ServiceSettings

logger = logging.getLogger(__name__)
STATIC = Path(str(files("shopmatch") / "service" / "static"))
CATEGORY_HELP = f"Category path prefix, e.g. 'Home{CATEGORY_SEPARATOR}Kitchen'."
WORKER = str(os.getpid())
HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def _live(request: Request) -> ServedIndex:
    return request.app.state.live


# At module level: endpoint annotations are strings (postponed evaluation) that FastAPI resolves here.
Live = Annotated[ServedIndex, Depends(_live)]


def open_served(settings: ServiceSettings) -> ServedIndex:
    """The index ``settings`` names: in-process with live updates, or in Milvus."""
    from shopmatch.backends.kinds import MILVUS_INDEX_KIND, index_kind

    if settings.milvus_uri is not None or index_kind(settings.index_dir) == MILVUS_INDEX_KIND:
        from shopmatch.backends.milvus.index import MilvusIndex

        if settings.milvus_uri is not None:
            index = MilvusIndex.connect(settings.milvus_uri, settings.milvus_collection)
        else:
            index = MilvusIndex.open(settings.index_dir)
        if settings.ranker is None:
            return index
        ranker = replace(index.config.ranker, model=str(settings.ranker))
        return index.with_config(replace(index.config, ranker=ranker))
    from shopmatch.backends.inprocess.live import LiveIndex

    return LiveIndex(
        settings.index_dir,
        wal_path=settings.wal_path,
        compact_after=settings.compact_after,
        backend=settings.lexical_backend,
        ranker=settings.ranker,
    )


def app_from_environment() -> FastAPI:
    """The app of a worker process started by ``shopmatch serve --workers N`` (uvicorn imports
    this by name): its settings come from ``$SHOPMATCH_SERVICE_SETTINGS`` (JSON)."""
    return create_app(ServiceSettings.model_validate_json(os.environ[SETTINGS_ENV]))


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service over the index ``settings`` names; it loads when the app starts (lifespan)."""
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        started = time.perf_counter()
        app.state.live = open_served(settings)
        try:
            app.state.models = ModelRegistry(
                app.state.live.snapshot,
                ranker_source=settings.ranker,
                reranker_source=settings.reranker,
                config_source=settings.query_config,
            )
            experiment = ExperimentConfig.from_dict(settings.experiment)
            app.state.experiment = Experiment(experiment) if experiment.enabled else None
        except ShopmatchError:
            app.state.live.close()
            raise
        if settings.models_dir is not None:
            watcher = ModelWatcher(app.state.models, settings.models_dir, interval=settings.models_poll_seconds)
            watcher.poll()  # the newest version serves from the first request
            app.state.watcher = watcher.start()
        if settings.events_dir is not None:
            app.state.events = EventsLog(
                settings.events_dir,
                max_file_bytes=settings.events_max_file_bytes,
                recent_ids=settings.events_recent_ids,
            )
            app.state.clicked = _clicked_queries(app.state.events)
            app.state.profiles = live_profiles(app.state.live, app.state.events.files())
        seconds = time.perf_counter() - started
        logger.info("serving %s (%s), loaded in %.1f s", settings.served, app.state.live.stats(), seconds)
        try:
            yield
        finally:
            if app.state.watcher is not None:
                app.state.watcher.stop()
            app.state.live.close()
            if app.state.events is not None:
                app.state.events.close()

    app = FastAPI(
        title="shopmatch",
        summary="E-commerce search: hybrid retrieval, re-ranking, live catalog updates, explanations.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI / ReDoc from a CDN: /docs is our own, offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.events = None  # the EventsLog once started, when settings.events_dir is set
    app.state.clicked = {}  # query → clicks, from the events logged before the service started
    app.state.suggesters = (None, None)  # (the index's suggester, it with the clicked queries)
    app.state.watcher = None  # the ModelWatcher, when settings.models_dir is set
    app.state.experiment = None  # the running Experiment, when settings.experiment has a share
    app.state.profiles = None  # shopper profiles, updated from the captured events (with events_dir)
    auth = TokenAuth(
        settings.token,
        settings.read_token,
        events=settings.events_enabled,
        public_clicks=settings.events_public_clicks,
    )

    async def measure(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # never a stack trace to the client
            logger.exception("unhandled error on %s %s", request.method, request.url.path)
            response = json_error(500, "internal_error", "internal error; see the server log")
        response.headers["x-shopmatch-worker"] = WORKER  # which process answered (several with --workers)
        route = request.scope.get("route")
        metrics.observe(
            request.method, getattr(route, "path", "unmatched"), response.status_code, time.perf_counter() - started
        )
        return response

    # add_middleware wraps what was added before: the last one added runs first.
    app.add_middleware(AuthBeforeBody, checks=auth.checks)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BaseHTTPMiddleware, dispatch=measure)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        problems = error.errors()
        first = problems[0] if problems else {}
        field = _location(first) if first.get("type") != "json_invalid" else None
        message = "; ".join(f"{_location(e) or 'request'}: {e.get('msg')}" for e in problems[:5])
        return json_error(422, "invalid_request", message or "invalid request", field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
        return json_error(error.status_code, code, str(error.detail), headers=getattr(error, "headers", None))

    reader = [Depends(auth.require_read)]
    writer = [Depends(auth.require_write)]
    events_writer = [Depends(auth.require_events)]

    def check_query(q: str) -> None:
        if len(q) > settings.max_query_chars:
            message = f"q has {len(q)} characters; at most {settings.max_query_chars}"
            raise ApiError(422, "query_too_long", message, field="q")

    def run_search(index: ServedIndex, body: SearchBody) -> dict[str, Any]:
        check_query(body.q)
        if body.k > settings.max_k:
            raise ApiError(422, "k_too_large", f"k is {body.k}; at most {settings.max_k}", field="k")
        if body.offset > settings.max_offset:
            message = f"offset is {body.offset}; at most {settings.max_offset}"
            raise ApiError(422, "offset_too_large", message, field="offset")
        filters = body.filters.to_filters()
        profiles: ProfileStore | None = app.state.profiles
        profile = profiles.get(body.user_id, datetime.now(UTC)) if profiles is not None else None
        query = SearchQuery(
            body.q, body.k, body.offset, filters, body.explain, body.rerank, facets=True,
            spelling=body.spelling, user_id=body.user_id, profile=profile,
        )  # fmt: skip
        snapshot, models = index.snapshot(), app.state.models.current  # held for the whole request
        search_id = new_search_id()
        experiment: Experiment | None = app.state.experiment
        extra: dict[str, Any] = {}
        if experiment is not None and experiment.applies(
            search_id, user_id=body.user_id, session_id=body.session_id, offset=body.offset
        ):
            control, candidate = (
                search(ModelView(snapshot, experiment.models(models, team)), [query])[0].to_dict()
                for team in (CONTROL, CANDIDATE)
            )
            results, teams = experiment.merge(search_id, control["results"], candidate["results"], body.k)
            page = {**control, "results": results, "total": max(control["total"], candidate["total"])}
            extra = experiment.record(teams)
        else:
            page = search(ModelView(snapshot, models), [query])[0].to_dict()
        answer = {**page, "search_id": search_id, "k": body.k, "offset": body.offset}
        answer["filters"] = filters.to_dict()
        answer["models"] = models.generation
        log: EventsLog | None = app.state.events
        if log is not None:
            shown = impression_record(
                search_id,
                body.q,
                [r["product_id"] for r in answer["results"]],
                k=body.k,
                offset=body.offset,
                filters=answer["filters"],
                user_id=body.user_id,
                session_id=body.session_id,
                extra=extra,
            )
            if shown is not None:
                log.append([shown], sync=False)  # in the OS's hands: survives the process, never waits on a disk
        return answer

    @app.get("/search", dependencies=reader, tags=["search"])
    def search_get(
        index: Live,
        q: Annotated[str, Query(description="The query (English or Chinese).")],
        k: Annotated[int, Query(ge=1, description="Results per page.")] = 10,
        offset: Annotated[int, Query(ge=0, description="Results to skip (paging).")] = 0,
        brand: Annotated[list[str] | None, Query(description="Any of these brands (repeat the parameter).")] = None,
        color: Annotated[list[str] | None, Query(description="Any of these colors.")] = None,
        category: Annotated[str | None, Query(description=CATEGORY_HELP)] = None,
        min_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
        max_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
        min_rating: Annotated[float | None, Query(ge=0, le=5, allow_inf_nan=False)] = None,
        explain: bool = False,
        rerank: bool = True,
        spelling: Annotated[bool, Query(description="Correct misspelled words (false: as typed).")] = True,
        user_id: Annotated[Who | None, Query(description="Who searched (kept in the logged impression).")] = None,
        session_id: Annotated[Who | None, Query(description="The shopper's session (kept in the impression).")] = None,
    ) -> dict[str, Any]:
        """Search with filters in the query string; facets count the matching candidates."""
        path = list(category_path(category))
        try:  # the limits of POST /search (SearchBody), reported as errors of the query parameters
            body = SearchBody(
                q=q,
                k=k,
                offset=offset,
                filters=FilterBody(
                    brand=brand or [],
                    color=color or [],
                    category=path,
                    min_price=min_price,
                    max_price=max_price,
                    min_rating=min_rating,
                ),
                explain=explain,
                rerank=rerank,
                spelling=spelling,
                user_id=user_id,
                session_id=session_id,
            )
        except ValidationError as error:
            raise _query_errors(error) from None
        return run_search(index, body)

    @app.post("/search", dependencies=reader, tags=["search"])
    def search_post(index: Live, body: SearchBody) -> dict[str, Any]:
        """Search with a JSON body (filters under ``filters``)."""
        return run_search(index, body)

    @app.get("/explain", dependencies=reader, tags=["search"])
    def explain(
        index: Live,
        q: Annotated[str, Query(min_length=1)],
        id: Annotated[str, Query(min_length=1, max_length=512)],
        spelling: Annotated[bool, Query(description="Correct misspelled words (false: as typed).")] = True,
    ) -> dict[str, Any]:
        """Why product ``id`` matches ``q``: retriever places, matched terms, token attributions
        (and ``corrected_query`` when spelling correction changed ``q``)."""
        check_query(q)
        found = explain_product(app.state.models.view(index.snapshot()), q, id, spelling=spelling)
        if found is None:
            raise ApiError(404, "not_found", f"no product with id {id!r}", field="id")
        return found

    def suggester_of(index: ServedIndex) -> Suggester | None:
        base = getattr(index.snapshot(), "suggester", None)
        if base is None or not app.state.clicked:
            return base
        cached_base, cached = app.state.suggesters
        if cached_base is not base:
            lexical = index.retrievers.get("lexical")
            results_of = (lambda text: matching_products(lexical, text)) if hasattr(lexical, "vocab") else None
            cached = base.with_queries(app.state.clicked, results_of)
            app.state.suggesters = (base, cached)
        return cached

    @app.get("/suggest", dependencies=reader, tags=["search"])
    def suggest(
        index: Live,
        q: Annotated[str, Query(min_length=1, max_length=100, description="What the shopper has typed so far.")],
        limit: Annotated[int, Query(ge=1, le=50, description="Suggestions wanted.")] = 10,
    ) -> dict[str, Any]:
        """Completions of ``q``: catalog phrases (English, Chinese, pinyin) and clicked queries, each
        with the number of products that hold it (``results``)."""
        suggester = suggester_of(index)
        if suggester is None:
            message = "this index has no suggestions (built before them, or kept in Milvus); rebuild it"
            raise ApiError(404, "no_suggestions", message, field="q")
        return {"query": q, "suggestions": [s.to_dict() for s in suggester.suggest(q, limit)]}

    # ``:path``: an id may hold "/" (sent as %2F, which the server decodes before routing)
    @app.get("/products/{product_id:path}", dependencies=reader, tags=["catalog"])
    def get_product(index: Live, product_id: str) -> dict[str, Any]:
        """One product as stored."""
        record = index.get(product_id)
        if record is None:
            raise ApiError(404, "not_found", f"no product with id {product_id!r}", field="product_id")
        return record

    @app.post("/products", dependencies=writer, tags=["catalog"])
    def upsert(index: Live, body: UpsertBody) -> dict[str, Any]:
        """Add or replace products; searchable when this returns (logged durably first)."""
        if len(body.products) > settings.max_batch:
            raise ApiError(
                413,
                "batch_too_large",
                f"{len(body.products)} products; at most {settings.max_batch} a batch",
                field="products",
            )
        try:
            result = index.upsert(body.products)
        except DataError as error:
            raise ApiError(422, "invalid_product", str(error), field=error.field) from None
        return {"seq": result.seq, "upserted": result.upserted}

    @app.post("/events", dependencies=events_writer, tags=["events"])
    def post_events(request: Request, index: Live, body: EventsBody) -> dict[str, Any]:
        """Log a batch of shopper events durably (fsync'd before the answer); a repeated ``event_id`` is
        acknowledged but not written twice; an interaction of a search this service did not serve is
        kept and counted as an orphan."""
        public = settings.events_public_clicks and is_public(request)
        log: EventsLog = app.state.events
        events = checked_batch(body.events, max_batch=settings.events_max_batch, public=public, shown=log.impression)
        result = log.append(events)
        if app.state.profiles is not None:
            app.state.profiles.update(events, served_facts(index), shown=log.impression)
        return {
            "accepted": len(events),
            "written": result.written,
            "duplicates": result.duplicates,
            "orphans": result.orphans,
        }

    @app.delete("/products/{product_id:path}", dependencies=writer, tags=["catalog"])
    def delete(index: Live, product_id: str) -> dict[str, Any]:
        """Delete a product; 404 if there is none with this id."""
        result = index.delete([product_id])
        if not result.deleted:
            raise ApiError(404, "not_found", f"no product with id {product_id!r}", field="product_id")
        return {"seq": result.seq, "deleted": result.deleted}

    @app.post("/admin/compact", dependencies=writer, tags=["catalog"])
    def compact(index: Live) -> dict[str, Any]:
        """Fold live updates into a new index directory now (normally automatic)."""
        try:
            return index.compact()
        except ShopmatchError as error:
            raise ApiError(500, "compaction_failed", str(error)) from None

    @app.post("/admin/models/reload", dependencies=writer, tags=["operations"])
    def reload_models(body: ReloadBody | None = None) -> dict[str, Any]:
        """Load new models, check them, and swap them in (requests under way finish on the old ones);
        a model that fails is refused (422) and the serving ones stay."""
        body = body or ReloadBody()
        try:
            models = app.state.models.reload(ranker=body.ranker, reranker=body.reranker, config=body.config)
        except ModelRejected as error:
            raise ApiError(422, "model_rejected", str(error), field=error.field) from None
        return {"reloaded": True, "models": models.describe()}

    @app.get("/health", tags=["operations"])
    def health(index: Live) -> dict[str, Any]:
        """Liveness and what is served."""
        return {
            "status": "ok",
            "worker": WORKER,
            "index": settings.served,
            "writes": settings.writes_enabled,
            "reranker": app.state.models.current.reranker is not None,
            "models": app.state.models.current.describe(),
            "models_watch": app.state.watcher.stats() if app.state.watcher is not None else None,
            "experiment": app.state.experiment.describe() if app.state.experiment is not None else None,
            "retrievers": list(index.retrievers),
            "last_compaction_error": index.last_compaction_error,
            **index.stats(),
            "events": settings.events_enabled,
            **(app.state.events.stats() if app.state.events is not None else {}),
        }

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus(index: Live) -> Response:
        """Prometheus text format: request counts and latencies, index size."""
        log: EventsLog | None = app.state.events
        return Response(metrics.render(index.stats, log.stats if log else None), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        """The endpoints of /openapi.json as a page (no CDN: it works offline)."""
        return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _clicked_queries(log: EventsLog) -> dict[str, int]:
    """Query → clicks in the events logged so far (bad lines skipped: the log is the service's own)."""
    from shopmatch.events.io import read_events

    started = time.perf_counter()
    clicked = clicked_queries(read_events(path, on_error="skip") for path in log.files())
    logger.info(
        "suggestions: %d clicked queries from the events log (%.1f s)", len(clicked), time.perf_counter() - started
    )
    return dict(clicked)


def _query_errors(error: ValidationError) -> RequestValidationError:
    """SearchBody's errors located at the query parameters they came from (``filters.brand`` → ``brand``)."""
    problems = []
    for problem in error.errors(include_url=False, include_context=False, include_input=False):
        loc = tuple(problem["loc"])
        problems.append({**problem, "loc": ("query", *(loc[1:] if loc[:1] == ("filters",) else loc))})
    return RequestValidationError(problems)


def _location(problem: dict[str, Any]) -> str:
    if problem.get("type") == "json_invalid":  # its location is a character position, not a field
        return "body"
    return ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path"))


def _version() -> str:
    from shopmatch.store import library_version

    return library_version()
