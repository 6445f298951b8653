"""Where an index lives (``[backend]``): in this process (the default) or in Milvus.

Example::

    [backend]
    kind = "milvus"
    uri = "shop.db"                 # Milvus Lite, embedded (a .db path), or "http://host:19530"
    collection = "shop"
    consistency = "Session"         # Strong | Session | Bounded | Eventually
    dense_index = "HNSW"            # FLAT (exact) | HNSW | IVF_FLAT | IVF_SQ8 | IVF_PQ | DISKANN

The token is read from ``token`` or, better, the ``SHOPMATCH_MILVUS_TOKEN`` environment
variable (a file in the repository is no place for a secret).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from shopmatch.errors import ConfigError
from shopmatch.settings import ConfigSection, setting

KINDS = ("inprocess", "milvus")
CONSISTENCY_LEVELS = ("Strong", "Session", "Bounded", "Eventually")
DENSE_INDEXES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "DISKANN")
TOKEN_VARIABLE = "SHOPMATCH_MILVUS_TOKEN"
COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


@dataclass(frozen=True)
class BackendConfig(ConfigSection):
    """The backend of an index (``[backend]``); every setting but ``kind`` is Milvus's.

    Attributes:
        kind: ``"inprocess"`` (files in the index directory) or ``"milvus"``.
        uri: a ``.db`` path (Milvus Lite, embedded) or a server URI (``http://host:19530``).
        token: ``user:password`` or an API key ("" reads ``SHOPMATCH_MILVUS_TOKEN``).
        collection: the name prefix of the index's collections.
        shards: write parallelism of the products collection (fixed when it is created).
        replicas: in-memory copies serving searches (a cluster's query nodes; Lite ignores it).
        consistency: what a search sees of recent writes; ``Session`` sees this client's own.
        dense_index: the vector index; FLAT is exact.
        hnsw_m, hnsw_ef_construction, hnsw_ef: HNSW's graph degree, build and search breadth.
        ivf_nlist, ivf_nprobe, pq_m: IVF's clusters, clusters searched, and PQ's sub-vectors.
        batch_size: products written per request when loading a catalog.
        reweight_after: the share of products written since the term statistics were computed
            above which ``shopmatch reweight`` (or ``POST /admin/compact``) is due.
    """

    SECTION = "backend"

    kind: str = setting("inprocess", choices=KINDS)
    uri: str = ""
    token: str = ""
    collection: str = "shopmatch"
    shards: int = setting(1, minimum=1, maximum=16)
    replicas: int = setting(1, minimum=1, maximum=64)
    consistency: str = setting("Session", choices=CONSISTENCY_LEVELS)
    dense_index: str = setting("FLAT", choices=DENSE_INDEXES)
    hnsw_m: int = setting(16, minimum=2, maximum=128)
    hnsw_ef_construction: int = setting(200, minimum=8)
    hnsw_ef: int = setting(128, minimum=1)
    ivf_nlist: int = setting(1024, minimum=1)
    ivf_nprobe: int = setting(32, minimum=1)
    pq_m: int = setting(48, minimum=1)
    batch_size: int = setting(500, minimum=1, maximum=100_000)
    reweight_after: float = setting(0.2, greater_than=0.0, maximum=1.0)

    def check(self) -> None:
        if self.kind == "milvus" and not self.uri:
            raise ConfigError('backend.uri is required with kind = "milvus" (a .db path or http://host:19530)')
        if not COLLECTION_NAME.match(self.collection):
            raise ConfigError(
                f"backend.collection must start with a letter or _ and hold only letters, digits and _, "
                f"got {self.collection!r}"
            )

    @property
    def secret(self) -> str:
        """The token to connect with (the setting, else the environment variable)."""
        return self.token or os.environ.get(TOKEN_VARIABLE, "")

    def dense_index_params(self, metric: str = "IP") -> dict:
        """The ``add_index`` arguments of the vector field."""
        params: dict = {}
        if self.dense_index == "HNSW":
            params = {"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction}
        elif self.dense_index in ("IVF_FLAT", "IVF_SQ8"):
            params = {"nlist": self.ivf_nlist}
        elif self.dense_index == "IVF_PQ":
            params = {"nlist": self.ivf_nlist, "m": self.pq_m, "nbits": 8}
        return {"index_type": self.dense_index, "metric_type": metric, "params": params}

    def dense_search_params(self) -> dict:
        """The search parameters of the vector field."""
        if self.dense_index == "HNSW":
            return {"metric_type": "IP", "params": {"ef": self.hnsw_ef}}
        if self.dense_index.startswith("IVF"):
            return {"metric_type": "IP", "params": {"nprobe": self.ivf_nprobe}}
        return {"metric_type": "IP", "params": {}}
