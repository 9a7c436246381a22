"""The lazy filesystem's per-file state against a plain model: what a process reads is
every write so far; what a power cut leaves is exactly what was flushed."""

from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.scenario.faults.unsynced_file import UnsyncedFile


class Disk:
    """A file's disk copy as a bytearray, with pwrite/ftruncate semantics."""

    def __init__(self, data: bytes = b""):
        self.data = bytearray(data)

    def pread(self, offset: int, count: int) -> bytes:
        return bytes(self.data[offset:offset + count])

    def pwrite(self, data: bytes, offset: int) -> None:
        if offset > len(self.data):
            self.data += bytes(offset - len(self.data))
        self.data[offset:offset + len(data)] = data

    def ftruncate(self, length: int) -> None:
        if length < len(self.data):
            del self.data[length:]
        else:
            self.data += bytes(length - len(self.data))


def model_write(model: bytearray, offset: int, data: bytes) -> None:
    if not data:
        return  # pwrite of nothing does not extend a file
    if offset > len(model):
        model += bytes(offset - len(model))
    model[offset:offset + len(data)] = data


ops = st.lists(st.one_of(
    st.tuples(st.just("write"), st.integers(0, 300), st.binary(min_size=0, max_size=64)),
    st.tuples(st.just("append"), st.just(0), st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("truncate"), st.integers(0, 320), st.just(b"")),
    st.tuples(st.just("flush"), st.just(0), st.just(b"")),
    st.tuples(st.just("read"), st.integers(0, 330), st.integers(0, 120)),
), max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), ops)
def test_reads_see_every_write_and_a_cut_keeps_only_what_was_flushed(initial, steps):
    disk = Disk(initial)
    f = UnsyncedFile(len(initial))
    visible, flushed = bytearray(initial), bytes(initial)
    for op, a, b in steps:
        if op == "write":
            f.write(a, b)
            model_write(visible, a, b)
        elif op == "append":
            at = len(visible)
            f.write(at, b)
            model_write(visible, at, b)
        elif op == "truncate":
            f.truncate(a)
            if a < len(visible):
                del visible[a:]
            else:
                visible += bytes(a - len(visible))
        elif op == "flush":
            f.flush(disk.pwrite, disk.ftruncate)
            flushed = bytes(visible)
            assert disk.data == visible and not f.dirty
        else:
            assert f.read(a, b, disk.pread) == bytes(visible[a:a + b])
        assert f.size == len(visible)
        assert f.read(0, 10**6, disk.pread) == bytes(visible)
    # the power cut: the disk copy is what is left, and it is the last flush exactly
    assert bytes(disk.data) == flushed


def test_unsynced_bytes_count_a_rewritten_page_once_and_appends_grow_one_extent():
    f = UnsyncedFile(0)
    for _ in range(1000):
        f.write(4096, b"x" * 4096)
    assert f.unsynced_bytes == 4096
    g = UnsyncedFile(0)
    for i in range(1000):
        g.write(i * 10, b"0123456789")
    assert g.unsynced_bytes == 10_000 and len(g._blobs) == 1
