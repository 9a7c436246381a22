"""Layer `metadata` (installed as kraft.metadata): the metadata log's typed records, the
immutable image they replay into, the delta, topic config specs and their effective
values. Pure data: no I/O, no clock, no asyncio.

May import: kraft.errors.
"""
