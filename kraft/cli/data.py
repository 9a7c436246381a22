"""`kraft produce` and `kraft consume`: lines on stdin, records on stdout."""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import BootstrapOpt, ConfigOpt, client, fail
from kraft.client.admin_client import AdminClient, AdminError
from kraft.client.producer_client import ProducerClient

BATCH = 500


def produce(client: AdminClient, topic: str, acks: str, key_separator: Optional[str],
            partition: Optional[int], idempotent: bool = True) -> int:
    """Send stdin lines as string records, in batches; returns how many were acknowledged.
    Idempotent by default: a batch retried after a timeout is never written twice."""
    producer = ProducerClient(client.bootstrap, acks=acks, idempotent=idempotent, auth=client.auth,
                              ca_file=client.ca_file)
    sent = 0
    batch: list[dict] = []

    def flush():
        nonlocal sent
        if batch:
            producer.send(topic, batch, partition)
            sent += len(batch)
            batch.clear()

    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            line = raw.decode().rstrip("\r\n")  # CRLF input gives the same records as LF
        except UnicodeDecodeError:
            raise AdminError(f"stdin line {number} is not valid UTF-8") from None
        record: dict = {"value": line}
        if key_separator and key_separator in line:
            key, value = line.split(key_separator, 1)
            record = {"key": key, "value": value}
        batch.append(record)
        if len(batch) >= BATCH:
            flush()
    flush()
    return sent


def consume(client: AdminClient, topic: str, partitions: list[int], offsets: dict[int, int],
            max_messages: Optional[int], idle_exit_s: Optional[float]) -> int:
    """Print records as JSON lines, following each partition from its offset."""
    shown = 0
    last_data = time.monotonic()
    while True:
        got = False
        for p in partitions:
            path = (f"/topics/{urllib.parse.quote(topic)}/partitions/{p}/records"
                    f"?offset={offsets[p]}&timeout={200 if len(partitions) > 1 else 1000}")
            for rec in _retrying(lambda: client.request(
                    "GET", path, accept="application/vnd.kafka.json.v2+json")):
                sys.stdout.write(json.dumps(rec) + "\n")
                offsets[p] = rec["offset"] + 1
                shown += 1
                got = True
                if max_messages is not None and shown >= max_messages:
                    sys.stdout.flush()
                    return shown
        sys.stdout.flush()
        if got:
            last_data = time.monotonic()
        elif idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
            return shown


def _retrying(call, attempts: int = 20):
    """Retriable answers (50003: leadership moving) are retried, as a Kafka client does."""
    for attempt in range(attempts):
        try:
            return call()
        except AdminError as exc:
            if exc.error_code != 50003 or attempt == attempts - 1:
                raise
            time.sleep(0.25)


def start_offsets(client: AdminClient, topic: str, partitions: list[int], from_beginning: bool,
                  offset: Optional[int]) -> dict[int, int]:
    out = {}
    for p in partitions:
        if offset is not None:
            out[p] = offset
            continue
        o = client.request("GET", f"/topics/{urllib.parse.quote(topic)}/partitions/{p}/offsets")
        out[p] = o["beginning_offset"] if from_beginning else o["end_offset"]
    return out


def register(app: typer.Typer) -> None:
    @app.command("produce")
    def produce_cmd(topic: str = typer.Argument(..., help="the topic to write to"),
                    acks: str = typer.Option("all", help="0, 1, all or -1"),
                    key_separator: Optional[str] = typer.Option(None, help="split KEY<sep>VALUE"),
                    partition: Optional[int] = typer.Option(None, "--partition", "-p",
                                                            help="this partition (default: by key, else spread)"),
                    idempotence: bool = typer.Option(
                        True, "--idempotence/--no-idempotence",
                        help="retry without duplicates (producer id + sequence numbers)"),
                    config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
        """Produce stdin lines as records."""
        try:
            n = produce(client(config, bootstrap), topic, acks, key_separator, partition,
                        idempotence)
        except AdminError as exc:
            fail(str(exc))
        typer.echo(f"produced {n} record(s) to {topic}", err=True)

    @app.command("consume")
    def consume_cmd(topic: str = typer.Argument(..., help="the topic to read"),
                    from_beginning: bool = typer.Option(False, "--from-beginning",
                                                        help="from the oldest record (default: only new ones)"),
                    partition: Optional[int] = typer.Option(None, "--partition", "-p",
                                                            help="only this partition (default: all)"),
                    offset: Optional[int] = typer.Option(None, "--offset",
                                                         help="from this offset in each partition read"),
                    max_messages: Optional[int] = typer.Option(None, "--max-messages",
                                                               help="stop after this many records"),
                    idle_exit: Optional[float] = typer.Option(
                        None, "--idle-exit", help="stop after this many seconds without records"),
                    config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
        """Print records as JSON lines (Ctrl-C stops)."""
        try:
            admin = client(config, bootstrap)
            if partition is not None:
                parts = [partition]
            else:
                t = admin.v3("GET", f"/topics/{urllib.parse.quote(topic)}")
                parts = list(range(t["partitions_count"]))
            offs = start_offsets(admin, topic, parts, from_beginning, offset)
            consume(admin, topic, parts, offs, max_messages, idle_exit)
        except AdminError as exc:
            fail(str(exc))
