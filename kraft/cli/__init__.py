"""Layer `cli`: the `kraft` command.

May import: every layer below it.
"""
