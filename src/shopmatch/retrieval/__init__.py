"""First-stage retrieval: one :class:`~shopmatch.retrieval.base.Retriever` protocol, a registry of
retrievers by name (field-aware BM25 ``lexical``, the bi-encoder ``dense``, averaged word vectors
``word_vectors``), and fusion of their ranked lists."""
