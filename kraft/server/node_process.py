"""The process of one node started by a program (LocalCluster, kraft.testing): the node
and nothing else.

    python -m kraft.server.node_process CONFIG NODE_ID

`kraft node` does the same behind the whole command line (typer, rich and every
subcommand's imports); a test cluster starts its nodes here to skip that import cost.
"""

from __future__ import annotations

import sys
from pathlib import Path


def without_hypothesis_hooks() -> None:
    """kio registers a Hypothesis strategy for each of its protocol types whenever
    Hypothesis is importable (a test environment): seconds of a node's start-up spent on
    strategies a server never draws from. Marking the module absent in this process only
    makes kio skip them. A process that has imported Hypothesis already is left as it is."""
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m kraft.server.node_process CONFIG NODE_ID", file=sys.stderr)
        return 2
    without_hypothesis_hooks()
    from kraft.config.cluster import ConfigFileError, load_cluster_config
    from kraft.server.main import run_node
    node_id = int(argv[1])
    try:
        config = load_cluster_config(Path(argv[0]).absolute())
        config.node(node_id)
    except ConfigFileError as exc:
        print(f"kraft node: {exc}", file=sys.stderr)
        return 2
    return run_node(config, node_id)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
