"""Layer `scenario`: the failure lab (`kraft scenario`). A scenario file (built-in ones
under `builtin/`) names a cluster, a workload and faults; the runner starts real node
processes, injects the faults, and the checkers judge the recorded history.

May import: every layer below cli.
"""
