"""Layer `server`: one node process (`node` wires the parts together, `main` runs it),
metrics, and the launchers that start several nodes (`kraft up`, LocalCluster).

May import: every layer from errors up to api.
"""
