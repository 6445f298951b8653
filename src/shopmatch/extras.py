"""Optional feature families and the packages each needs, installed as pip extras.

The core (``pip install shopmatch``) indexes, searches with BM25F, evaluates and reports. Each
family below is an extra; ``pip install "shopmatch[all]"`` (what ``make demo`` and ``make test``
install) brings every one. Code of a family calls :func:`require` before it needs its packages,
so a missing one fails with an :class:`MissingExtra` that names the extra to install, never a bare
``ModuleNotFoundError`` from deep inside a library.

Example:
    >>> require("semantic", "the bi-encoder")  # doctest: +SKIP
    >>> EXTRAS["serve"]
    ('fastapi', 'uvicorn', 'prometheus_client')
"""

from __future__ import annotations

from importlib import import_module

from shopmatch.errors import ShopmatchError

# extra → the modules it provides (import names, as pyproject.toml's optional dependencies install them)
EXTRAS: dict[str, tuple[str, ...]] = {
    "semantic": ("torch", "sentence_transformers", "transformers", "onnxruntime", "optimum.onnxruntime", "faiss"),
    "serve": ("fastapi", "uvicorn", "prometheus_client"),
    "train": ("torch", "sentence_transformers", "transformers", "datasets", "accelerate", "peft"),
    "baselines": ("torch", "gensim"),
    "parquet": ("pyarrow",),
    "milvus": ("pymilvus", "milvus_lite"),
    "rank": ("lightgbm",),
}


# what loading any transformer model needs (the bi-encoder, the re-ranker, at index and at query time)
MODEL_RUNTIME = ("torch", "sentence_transformers", "transformers", "onnxruntime")


class MissingExtra(ShopmatchError, ImportError):
    """A feature's optional dependencies are not installed; the message names the extra."""


def require(extra: str, feature: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`MissingExtra` unless every module of ``extra`` (or just ``modules``) imports.

    Args:
        extra: the extra's name in ``pyproject.toml`` (``semantic``, ``serve``, ``train``, ...).
        feature: what needs it, for the message (``"the dense retriever"``).
        modules: the modules to check (default: all of the extra's).
    """
    for module in modules or EXTRAS[extra]:
        try:
            import_module(module)
        except ImportError as err:
            missing = (getattr(err, "name", None) or module).split(".")[0]
            raise MissingExtra(
                f"{feature} needs the optional dependency {missing!r}, which is not installed; "
                f"install it with: pip install 'shopmatch[{extra}]'"
            ) from None
