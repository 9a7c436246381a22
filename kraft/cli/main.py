"""The `kraft` command. Exit 0 on success; errors go to stderr as one line.

COMMANDS is the whole command table: each command's module is imported only when that
command runs (kraft.cli.lazy), so `kraft --help` and each command start quickly.
"""

from __future__ import annotations

import sys

import typer

from kraft.cli.lazy import Entry, lazy_group

START, LOOK, DATA, ACCESS, TOOLS = (f"Commands: {what}" for what in (
    "start and run", "look", "topics and data", "users and access", "tools"))
COMMANDS: tuple[Entry, ...] = (
    Entry("status", "kraft.cli.status", "One screen: nodes, controller, brokers, partitions, problems.", LOOK),
    Entry("health", "kraft.cli.status", "Healthy or not, and why; exits 1 when not (for scripts).", LOOK),
    Entry("quorum", "kraft.cli.quorum", "Metadata quorum: status, add-voter, remove-voter.", LOOK),
    Entry("storage", "kraft.cli.quorum", "Stored data: damage, repairs, the scrubber.", LOOK),
    Entry("up", "kraft.cli.nodes", "Start every node of cluster.toml here; Ctrl-C stops them.", START),
    Entry("node", "kraft.cli.nodes", "Run one node in the foreground.", START),
    Entry("format", "kraft.cli.nodes", "Write cluster id + node id into a node's data dir.", START),
    Entry("profile", "kraft.cli.profile_commands", "Remembered clusters: list, current, use, create, "
          "delete.", START),
    Entry("broker", "kraft.cli.broker", "Brokers: list, decommission, recommission.", START),
    Entry("host", "kraft.cli.hosts", "Hosts (one machine's processes as one unit): list, restart, "
          "decommission, recommission, units.", START),
    Entry("rebalance", "kraft.cli.rebalance", "Spread partitions evenly over the brokers.", START),
    Entry("topic", "kraft.cli.topic", "Topics: create, list, describe, delete, config, reassign.", DATA),
    Entry("produce", "kraft.cli.data", "Produce stdin lines as records.", DATA),
    Entry("consume", "kraft.cli.data", "Print records as JSON lines (Ctrl-C stops).", DATA),
    Entry("group", "kraft.cli.group", "Consumer groups: list, describe.", DATA),
    Entry("share-group", "kraft.cli.share_group", "Share groups (KIP-932): list, describe, delete, "
          "reset-offsets.", DATA),
    Entry("user", "kraft.cli.security", "SCRAM users (HTTP Basic, SASL): add, delete, list.", ACCESS),
    Entry("acl", "kraft.cli.security", "ACLs (Kafka's model): add, list, delete.", ACCESS),
    Entry("certs", "kraft.cli.certs", "A CA and the certificates the cluster's TLS needs.", ACCESS),
    Entry("bench", "kraft.perf.cli", "Benchmarks (like kafka-*-perf-test).", TOOLS),
    Entry("scenario", "kraft.scenario.cli", "Failure scenarios (see docs/SCENARIOS.md).", TOOLS),
)

app = typer.Typer(cls=lazy_group(COMMANDS), no_args_is_help=True, add_completion=False)


@app.callback()
def kraft() -> None:
    """kraft: a KRaft-style streaming cluster. `kraft status` shows the one you run."""


def main() -> None:
    try:
        app(prog_name="kraft")
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a command that let a cluster's error through still says it in one line
        from kraft.client.admin_client import AdminError
        if not isinstance(exc, AdminError):
            raise
        typer.echo(f"kraft: {exc}", err=True)
        sys.exit(1)
