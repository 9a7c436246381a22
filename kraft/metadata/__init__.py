"""Layer `metadata`: the metadata log's typed records, the immutable image they replay
into, the delta, and a topic's effective configs. Pure data: no I/O, no clock, no
asyncio.

May import: kraft.errors, kraft.config, kraft.security.
"""
