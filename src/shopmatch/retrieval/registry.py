"""Retrievers by name: the one place that knows which classes implement ``lexical``, ``dense`` and
``word_vectors``. Each is imported when first asked for, so a pipeline without the bi-encoder
never imports its runtime.

Example:
    >>> retriever_class("lexical").__name__
    'LexicalRetriever'
    >>> "dense" in RETRIEVER_NAMES
    True
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from shopmatch.errors import ConfigError

if TYPE_CHECKING:
    from shopmatch.retrieval.base import Retriever

# name → "module:class"; the order is the order of the docs and error messages
_BUILTIN = {
    "lexical": "shopmatch.retrieval.lexical:LexicalRetriever",
    "dense": "shopmatch.retrieval.dense:DenseRetriever",
    "word_vectors": "shopmatch.retrieval.word_vectors:WordVectorRetriever",
}
RETRIEVER_NAMES = tuple(_BUILTIN)


def retriever_class(name: str) -> type[Retriever]:
    """The class registered as ``name``; ConfigError naming the known ones otherwise."""
    target = _BUILTIN.get(name)
    if target is None:
        raise ConfigError(f"unknown retriever {name!r}; known: {', '.join(RETRIEVER_NAMES)}")
    module, _, cls = target.partition(":")
    return getattr(import_module(module), cls)
