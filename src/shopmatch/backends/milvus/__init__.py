"""The Milvus backend: the catalog, its BM25F sparse vectors, bi-encoder vectors, filter fields and
records in a Milvus collection; the search stages stay in shopmatch (:mod:`shopmatch.search`).

See ``docs/deployment-milvus.md``.
"""
