"""Layer `storage`: one partition's log on disk. The RecordBatch v2 format, segments and
their sparse indexes, the partition log (append, read, truncate, roll, retention,
recovery), the leader-epoch cache, producer state, compaction and the HW checkpoint.

May import: kraft.errors, kraft.config, kraft.metadata.
"""
