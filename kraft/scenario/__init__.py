"""Layer `scenario`: the failure lab (`kraft scenario`). A scenario file (built-in ones
under `builtin/`, the model in kraft/config/scenarios.py) names a cluster, a workload
and faults; the runner starts real node processes, injects the faults, and the checkers
judge the recorded history. Each node serves the lab's HTTP API (kraft/api/console/), which
starts runs as processes of this package.

May import: every layer below cli.
"""
