"""Write the seed inputs of the fuzz targets (tests/fuzz/corpus/<target>/), from real
clients' output: record batches built by kafka-python's own batch builder with each codec
it has here (snappy, which it lacks, in both framings the reader accepts).

    python -m tests.fuzz.make_corpus record_batches

Run again only to refresh the seeds; the committed files are what the suite uses.
"""

from __future__ import annotations

import hashlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def save(target: str, data: bytes) -> None:
    directory = HERE / "corpus" / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def kafka_python_batches() -> list[bytes]:
    from kafka.record.default_records import DefaultRecordBatchBuilder

    out = []
    for codec in (0, 1, 3, 4):  # none, gzip, lz4, zstd (its snappy needs python-snappy)
        for transactional, count in ((False, 1), (False, 5), (True, 3)):
            builder = DefaultRecordBatchBuilder(2, codec, transactional, 7 if transactional else -1,
                                                0 if transactional else -1, 0 if transactional else -1,
                                                batch_size=1 << 20)
            for i in range(count):
                builder.append(i, 1_700_000_000_000 + i, key=None if i % 2 else f"k{i}".encode(),
                               value=(b"v" * 40 * i) if i != 2 else None,
                               headers=[("h", b"x"), ("n", None)] if i == 1 else [])
            out.append(bytes(builder.build()))
    return out


def snappy_batches() -> list[bytes]:
    """snappy, which kafka-python cannot write here: both framings the reader accepts,
    xerial blocks (Java clients) and raw snappy (librdkafka)."""
    import cramjam
    from crc32c import crc32c

    from kraft.storage.record import Record
    from kraft.storage.record_batch import ATTRIBUTES_POS, CRC_POS, HEADER_SIZE, encode_batch, record_section
    from kraft.storage.record_batch import BatchHeader

    records = [Record(f"k{i}".encode(), b"value " * i, (("h", b"x"),) if i == 1 else (), 1_700_000_000_000 + i)
               for i in range(4)]
    xerial = encode_batch(records, 0, 0, compression=2)
    plain = record_section(xerial, 0, BatchHeader.parse(xerial))
    raw = bytearray(xerial[:HEADER_SIZE] + bytes(cramjam.snappy.compress_raw(plain)))
    raw[8:12] = (len(raw) - 12).to_bytes(4, "big")
    raw[CRC_POS:CRC_POS + 4] = crc32c(bytes(raw[ATTRIBUTES_POS:])).to_bytes(4, "big")
    return [xerial, bytes(raw)]


def record_batches() -> None:
    batches = kafka_python_batches() + snappy_batches()
    for batch in batches:
        save("record_batches", b"\x00" + batch)  # as sent: the CRC must hold
    save("record_batches", b"\x01" + b"".join(batches[:3]))  # several in a row, CRCs restamped


if __name__ == "__main__":
    {"record_batches": record_batches}[sys.argv[1]]()
