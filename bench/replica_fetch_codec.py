"""What one replication round costs in the Kafka codec, on each side (no I/O).

A follower's Fetch v17 (one partition, in a session) built and encoded
(kafka/client/follower_fetch.py), decoded and read by the leader (codec, fetch_api,
replica_fetch_api), the leader's answer with one batch built and encoded, and decoded by
the follower: the real functions, timed over --rounds, --runs times; median (min-max) in
microseconds per round. The JSON header the WebSocket channel used before is timed
beside it for scale.

    .venv/bin/python bench/replica_fetch_codec.py                  # 5 runs x 5,000 rounds (~10 s)
    .venv/bin/python bench/replica_fetch_codec.py --runs 3 --rounds 2000 --batch-bytes 16384
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import orjson

from kraft.kafka.handlers import fetch_api

from kraft.kafka.client import follower_fetch

from kraft.kafka.handlers import replica_fetch_api
from kraft.kafka.wire.codec import (RequestHead, decode_request, decode_response, encode_request, encode_response,
                               response_class)
from kraft.kafka.wire.entities import build
from kraft.replication import fetch_protocol as fp
from kraft.replication.fetch_session import FollowerFetchSession


def steps(batch_bytes: int):
    topic = uuid.uuid4().hex
    session = FollowerFetchSession()
    request = fp.FetchRequest(2, 1, 500, 8 << 20, (fp.FetchPartition(topic, 0, 100, 3, 5, 0),))
    frame = encode_request(follower_fetch._encoded(request, session), 1, "bench")
    _, body = decode_request(frame[4:], 1, 17)
    answers = [fp.PartitionData(topic, 0, None, 101, 0, 101, -1, -1, b"x" * batch_bytes)]
    answer = encode_response(RequestHead(1, 17, 1, None),
                             build(response_class(1, 17), replica_fetch_api._answer(0, 5, replica_fetch_api._by_topic(answers))))
    old_header = orjson.dumps({"replica_id": 2, "partitions": [{"topic_id": topic, "partition": 0, "fetch_offset": 100,
                                                                 "last_fetched_epoch": 3, "current_leader_epoch": 5}]})

    def follower_encode():
        encode_request(follower_fetch._encoded(request, session), 1, "bench")

    def leader_decode():
        _, decoded = decode_request(frame[4:], 1, 17)
        wanted, _ = fetch_api._wanted(decoded, True)
        [replica_fetch_api._position(key, want) for key, want in wanted.items()]

    def leader_encode():
        encode_response(RequestHead(1, 17, 1, None),
                        build(response_class(1, 17), replica_fetch_api._answer(0, 5, replica_fetch_api._by_topic(answers))))

    def follower_decode():
        decoded = decode_response(1, 17, answer[4:])
        [follower_fetch._data(t.topic_id, p) for t in decoded.responses for p in t.partitions]

    def json_header_both_ways():
        orjson.loads(orjson.dumps(orjson.loads(old_header)))

    return {"follower: build + encode Fetch": follower_encode, "leader: decode + read positions": leader_decode,
            "leader: build + encode answer": leader_encode, "follower: decode answer": follower_decode,
            "before: JSON header, both ways": json_header_both_ways}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--batch-bytes", type=int, default=1100, help="the batch in the answer (one 1 KiB record)")
    args = parser.parse_args()
    timings: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for name, step in steps(args.batch_bytes).items():
            started = time.perf_counter()
            for _ in range(args.rounds):
                step()
            timings.setdefault(name, []).append((time.perf_counter() - started) / args.rounds * 1e6)
    print(f"{args.runs} runs x {args.rounds} rounds, a {args.batch_bytes}-byte batch; µs per round, median (min-max)")
    for name, values in timings.items():
        print(f"  {name:34} {statistics.median(values):7.1f} ({min(values):.1f}-{max(values):.1f})")


if __name__ == "__main__":
    main()
