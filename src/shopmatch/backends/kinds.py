"""Which backend an index directory belongs to, read from its manifest without loading it.

Example:
    >>> index_kind("no-such-directory") is None
    True
"""

from __future__ import annotations

import json
from pathlib import Path

from shopmatch.store import MANIFEST

MILVUS_INDEX_KIND = "shopmatch-milvus-index"


def index_kind(directory: str | Path) -> str | None:
    """The ``kind`` in a directory's manifest (None: no readable manifest; loading says why)."""
    try:
        return json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
