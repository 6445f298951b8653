"""The models a running service searches with, swapped without downtime.

A :class:`ModelSet` is one immutable set of query-time models: the pipeline config's query-time
settings, the learned ranker and the cross-encoder re-ranker, with the version of each. A
:class:`ModelRegistry` holds the current one; a request takes it once and searches the index
snapshot through a :class:`ModelView` of it, so a request that started before a reload finishes
on the old models and one that starts after it runs wholly on the new ones.

:meth:`ModelRegistry.reload` (``POST /admin/models/reload``) loads new models beside the serving
ones, checks them (files present, the ranker's features those of this version, a smoke search
that gives finite scores) and only then swaps them in; a model that fails is refused with a
:class:`ModelRejected` naming what is wrong, and the old ones keep serving. A
:class:`ModelWatcher` polls a directory (``shopmatch serve --models-dir DIR``) and reloads the
newest complete ranker version that appears in it (``shopmatch retrain`` writes one atomically).

Example:
    >>> from shopmatch.backends.inprocess.snapshot import Snapshot
    >>> from shopmatch.backends.inprocess.static import StaticIndex
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.config import PipelineConfig
    >>> index = StaticIndex.build([Product("B01", "USB-C cable")], PipelineConfig(retrievers=("lexical",)))
    >>> registry = ModelRegistry(lambda: Snapshot.of(index))
    >>> registry.current.describe()["ranker"] is None
    True
    >>> registry.reload(ranker="no-such-dir")
    Traceback (most recent call last):
    ...
    shopmatch.service.models.ModelRejected: ranker: no-such-dir: no such ranker directory
"""

from __future__ import annotations

import hashlib
import logging
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.config import PipelineConfig
from shopmatch.errors import ShopmatchError
from shopmatch.query.query import Query
from shopmatch.rank.model import MANIFEST_FILE, MODEL_FILE, Ranker

logger = logging.getLogger(__name__)
INDEX_TIME = ("lexical", "dense", "word_vectors", "backend")
"""Config sections fixed when the index was built: a reload keeps the index's own."""
FROM_INDEX = "index"
"""The source of a model that came with the index (its config, its ``rerank/``)."""


class ModelRejected(ShopmatchError):
    """A model that cannot serve; ``field`` says which one (``ranker``, ``reranker``, ``config``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, eq=False)
class ModelSet:
    """One immutable set of query-time models and where each came from.

    Attributes:
        config: the pipeline config searches run with (query-time sections; the index's own
            index-time sections).
        ranker, reranker: the loaded models (None: that stage is off).
        sources: where each came from (``ranker``, ``reranker``, ``config``: a path, ``index``, or
            None for none); an empty reload reads these again.
        versions: a description of each model (path, version name, content digest, load time).
        generation: 1 for the models the service started with, +1 per reload.
    """

    config: PipelineConfig
    ranker: Ranker | None
    reranker: Any
    sources: Mapping[str, str | None]
    versions: Mapping[str, dict[str, Any] | None]
    generation: int = 1

    def describe(self) -> dict[str, Any]:
        """What ``/health`` shows: each model's version, and the generation."""
        return {"generation": self.generation, **self.versions}


def _warm_ranker_tables(snapshot: IndexSnapshot) -> None:
    """Build the ranker's product tables in the background (seconds on a large catalog), so that the
    first ranked search does not wait for all of it (a reload builds them in its smoke search)."""
    tables = getattr(snapshot, "ranker_tables", None)
    if tables is None:
        return

    def build() -> None:
        try:
            tables()
        except Exception:  # the first ranked search builds them again and reports the error
            logger.exception("building the ranker's product tables failed")

    threading.Thread(target=build, name="ranker-tables", daemon=True).start()


class ModelView:
    """An index snapshot searched with a :class:`ModelSet` (everything else is the snapshot's).

    It is an :class:`~shopmatch.backends.base.IndexSnapshot`: the searcher reads its ``config``,
    ``ranker``, ``reranker`` and ``retrievers`` here and every catalog read from the snapshot.
    """

    def __init__(self, snapshot: IndexSnapshot, models: ModelSet) -> None:
        self._snapshot = snapshot
        self.models = models

    @property
    def config(self) -> PipelineConfig:
        return self.models.config

    @property
    def ranker(self) -> Ranker | None:
        return self.models.ranker

    @property
    def reranker(self) -> Any:
        return self.models.reranker

    @property
    def retrievers(self) -> Mapping[str, Any]:
        own = self._snapshot.retrievers
        return {name: own[name] for name in self.models.config.retrievers}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._snapshot, name)


class ModelRegistry:
    """The current :class:`ModelSet` of a service, and reloads that swap it atomically.

    Args:
        snapshot: the index's current snapshot (called for each check; a search takes its own).
        ranker_source: the ranker directory the service was started with (``--ranker``), if any.
        reranker_source: a re-ranker directory to use instead of the index's own, if any.
        config_source: a query-time config TOML applied over the index's config, if any.
    """

    def __init__(
        self,
        snapshot: Callable[[], IndexSnapshot],
        *,
        ranker_source: str | Path | None = None,
        reranker_source: str | Path | None = None,
        config_source: str | Path | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._lock = threading.Lock()  # one reload at a time; readers never wait
        first = snapshot()
        self._index_config = first.config
        self._index_reranker = first.reranker
        has_reranker = first.reranker is not None
        sources = {
            "ranker": str(ranker_source) if ranker_source else (first.config.ranker.model or None),
            "reranker": str(reranker_source) if reranker_source else (FROM_INDEX if has_reranker else None),
            "config": str(config_source) if config_source else FROM_INDEX,
        }
        self._current = self._built(sources, {}, generation=1, loaded=first)
        if self._current.ranker is not None:
            _warm_ranker_tables(first)

    @property
    def current(self) -> ModelSet:
        """The models a request that starts now searches with (hold on to it for the whole request)."""
        return self._current

    def view(self, snapshot: IndexSnapshot) -> ModelView:
        """``snapshot`` searched with the current models."""
        return ModelView(snapshot, self._current)

    def reload(
        self,
        *,
        ranker: str | None = None,
        reranker: str | None = None,
        config: str | None = None,
    ) -> ModelSet:
        """Load, check and swap in new models; None keeps a model as it is, ``""`` turns a stage off.

        With nothing given, every configured path is read again (a model rewritten in place).

        Raises:
            ModelRejected: a model that is missing, damaged, reads other features or fails the
                smoke search; the serving models are unchanged.
        """
        with self._lock:
            old = self._current
            everything = ranker is None and reranker is None and config is None
            sources = dict(old.sources)
            given = {"ranker": ranker, "reranker": reranker, "config": config}
            for name, value in given.items():
                if value is not None:
                    sources[name] = value or None
            keep = {} if everything else {name: old for name, value in given.items() if value is None}
            new = self._built(sources, keep, generation=old.generation + 1)
            self._smoke(new)
            self._current = new
            logger.info("models reloaded (generation %d): %s", new.generation, new.versions)
            return new

    # ---- building and checking -------------------------------------------------------------------

    def _built(
        self, sources: dict[str, str | None], keep: Mapping[str, ModelSet], *, generation: int, loaded: Any = None
    ) -> ModelSet:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        versions: dict[str, dict[str, Any] | None] = {}
        if "config" in keep:
            config = keep["config"].config
            versions["config"] = keep["config"].versions["config"]
        else:
            config = self._config(sources["config"])
            source = sources["config"]
            digest = None if source in (None, FROM_INDEX) else _digest([source])
            versions["config"] = {"source": source or FROM_INDEX, "digest": digest, "loaded": now}
        if "ranker" in keep:
            ranker_model, versions["ranker"] = keep["ranker"].ranker, keep["ranker"].versions["ranker"]
        elif loaded is not None and sources["ranker"] and loaded.ranker is not None:
            ranker_model = loaded.ranker  # what the index was opened with (--ranker), already checked
            versions["ranker"] = model_version(sources["ranker"], [MANIFEST_FILE, MODEL_FILE], now)
        else:
            ranker_model = load_ranker(sources["ranker"]) if sources["ranker"] else None
            versions["ranker"] = model_version(sources["ranker"], [MANIFEST_FILE, MODEL_FILE], now)
        if "reranker" in keep:
            reranker_model, versions["reranker"] = keep["reranker"].reranker, keep["reranker"].versions["reranker"]
        else:
            reranker_model = self._reranker(sources["reranker"], config)
            versions["reranker"] = (
                None
                if sources["reranker"] is None
                else {"source": FROM_INDEX, "loaded": now}
                if sources["reranker"] == FROM_INDEX
                else model_version(sources["reranker"], ["config.json"], now)
            )
        ranker_config = replace(config.ranker, model=sources["ranker"] or "")
        config = replace(config, ranker=ranker_config)
        if reranker_model is not None and sources["reranker"] not in (None, FROM_INDEX):
            config = replace(config, rerank=config.rerank.with_model(sources["reranker"]))
        elif reranker_model is None:
            config = replace(config, rerank=replace(config.rerank, model=""))
        return ModelSet(config, ranker_model, reranker_model, dict(sources), versions, generation)

    def _config(self, source: str | None) -> PipelineConfig:
        base = self._index_config
        if source in (None, FROM_INDEX):
            return base
        path = Path(source)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelRejected("config", f"{path}: config file not found") from None
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ModelRejected("config", f"{path}: {err}") from None
        merged = base.to_dict()
        for section, table in data.items():
            if section in INDEX_TIME:
                raise ModelRejected("config", f"{path}: [{section}] is fixed when the index is built; index again")
            if isinstance(table, Mapping) and isinstance(merged.get(section), Mapping):
                merged[section] = {**merged[section], **table}
            else:
                merged[section] = table
        try:
            config = PipelineConfig.from_dict(merged)
        except (ShopmatchError, TypeError, ValueError) as err:
            raise ModelRejected("config", f"{path}: {err}") from None
        missing = [name for name in config.retrievers if name not in base.retrievers]
        if missing:
            message = f"{path}: the index has no {', '.join(missing)} retriever; it has {', '.join(base.retrievers)}"
            raise ModelRejected("config", message)
        return config

    def _reranker(self, source: str | None, config: PipelineConfig) -> Any:
        if source is None:
            return None
        if source == FROM_INDEX:
            return self._index_reranker
        from shopmatch.rerank.cross_encoder import CrossEncoderReranker

        directory = Path(source)
        if not (directory / "config.json").is_file():
            raise ModelRejected("reranker", f"{directory / 'config.json'}: not found; is {directory} a cross-encoder?")
        try:
            reranker = CrossEncoderReranker.from_config(config.rerank.with_model(directory))
            scores = reranker.score("smoke test", ["a product"])
        except Exception as err:  # any failure to load or score refuses the model
            raise ModelRejected("reranker", f"{directory}: {type(err).__name__}: {err}") from None
        if not np.all(np.isfinite(scores)):
            raise ModelRejected("reranker", f"{directory}: the smoke prediction is not finite")
        return reranker

    def _smoke(self, models: ModelSet) -> None:
        """One search with the new models over the live index: it must run and score finitely."""
        from shopmatch.search import search

        if models.ranker is not None:
            width = len(models.ranker.feature_names)
            if not np.all(np.isfinite(models.ranker.predict(np.zeros((1, width), dtype=np.float32)))):
                raise ModelRejected("ranker", f"{models.sources['ranker']}: the smoke prediction is not finite")
        snapshot = self._snapshot()
        probe = _probe_query(snapshot)
        if probe is None:
            return
        try:
            page = search(ModelView(snapshot, models), [Query(probe, 10)])[0]
        except Exception as err:  # a model that breaks a search is refused, whatever the reason
            field = "ranker" if models.ranker is not None else "config"
            raise ModelRejected(field, f"the smoke search {probe!r} failed: {type(err).__name__}: {err}") from None
        if any(not np.isfinite(result.score) for result in page.results):
            raise ModelRejected("ranker", f"the smoke search {probe!r} gave a score that is not finite")


class ModelWatcher:
    """Polls ``directory`` and reloads the newest complete ranker version that appears there.

    A version is a subdirectory holding ``ranker.json`` (names starting with ``.`` are ignored:
    writers build there and rename into place); the newest is the last by name (``shopmatch
    retrain`` names them by UTC time). A refused version is not tried again until its files change.

    Args:
        registry: the models to reload.
        directory: the watched directory (created if missing).
        interval: seconds between polls.
    """

    def __init__(self, registry: ModelRegistry, directory: str | Path, *, interval: float = 2.0) -> None:
        self.registry = registry
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.interval = interval
        self.last_error: str | None = None
        self.loaded: str | None = None
        self._tried: dict[str, tuple[int, ...]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shopmatch-model-watcher", daemon=True)

    def start(self) -> ModelWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # the watcher must outlive one bad poll
                logger.exception("polling %s failed", self.directory)

    def poll(self) -> str | None:
        """Look once; the version loaded now, if any."""
        newest = newest_version(self.directory)
        if newest is None:
            return None
        stamp = _stamp(newest)
        if self._tried.get(newest.name) == stamp:
            return None
        self._tried[newest.name] = stamp
        try:
            self.registry.reload(ranker=str(newest))
        except ModelRejected as error:
            self.last_error = f"{newest.name}: {error}"
            logger.warning("model version %s refused: %s", newest, error)
            return None
        self.loaded, self.last_error = newest.name, None
        logger.info("model version %s loaded from %s", newest.name, self.directory)
        return newest.name

    def stats(self) -> dict[str, Any]:
        return {"dir": str(self.directory), "loaded": self.loaded, "last_error": self.last_error}


def newest_version(directory: Path) -> Path | None:
    """The last (by name) subdirectory of ``directory`` holding a ranker manifest, or None."""
    try:
        found = [p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return None
    complete = sorted((p for p in found if (p / MANIFEST_FILE).is_file()), key=lambda p: p.name)
    return complete[-1] if complete else None


def load_ranker(source: str) -> Ranker:
    """The ranker directory ``source``, checked against this version's features.

    Raises:
        ModelRejected: missing, damaged, or reading other features (the message names the file).
    """
    from shopmatch.rank.features import FEATURE_NAMES

    try:
        return Ranker.load(source, feature_names=FEATURE_NAMES)
    except ShopmatchError as err:
        raise ModelRejected("ranker", str(err)) from None


def model_version(source: str | None, names: list[str], when: str) -> dict[str, Any] | None:
    """What ``/health`` shows of a model directory: its path, name, a digest of ``names`` and ``when``."""
    if source is None:
        return None
    path = Path(source)
    return {
        "source": str(path),
        "version": path.name,
        "digest": _digest([path / name for name in names]),
        "loaded": when,
    }


def _digest(paths: list[Any]) -> str | None:
    """The first 12 hex digits of the SHA-256 of these files (None: none of them is a file)."""
    sha = hashlib.sha256()
    read = False
    for path in paths:
        if path is None:
            continue
        try:
            sha.update(Path(path).read_bytes())
            read = True
        except OSError:
            continue
    return sha.hexdigest()[:12] if read else None


def _stamp(directory: Path) -> tuple[int, ...]:
    stamps = []
    for name in (MANIFEST_FILE, MODEL_FILE):
        try:
            stat = (directory / name).stat()
            stamps += [stat.st_mtime_ns, stat.st_size]
        except OSError:
            stamps += [0, 0]
    return tuple(stamps)


def _probe_query(snapshot: IndexSnapshot) -> str | None:
    """A query the catalog answers: the first words of its first product's title."""
    for row in range(min(getattr(snapshot, "size", 1) or 1, 50)):
        try:
            title = str(snapshot.record(row).get("title") or "")
        except Exception:  # a deleted or remote row: try the next
            continue
        words = title.split()[:3]
        if words:
            return " ".join(words)
    return None
