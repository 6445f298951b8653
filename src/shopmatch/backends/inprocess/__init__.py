"""The in-process backend: an index directory (the base segment), a live delta with tombstones,
a write-ahead log and compaction — all in this process.

- :class:`~shopmatch.backends.inprocess.static.StaticIndex`: build, save and load an index directory;
- :class:`~shopmatch.backends.inprocess.snapshot.Snapshot`: base + tombstones + delta, what a search reads;
- :class:`~shopmatch.backends.inprocess.live.LiveIndex`: writes (logged, then applied), replay, compaction.
"""
