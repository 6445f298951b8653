"""Where an index's segments live and are searched: in this process (an index directory, its live
delta and write-ahead log) — and, behind the same :class:`~shopmatch.backends.base.IndexSnapshot`
interface, a distributed engine."""
