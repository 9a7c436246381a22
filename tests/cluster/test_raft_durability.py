"""Every controller's Raft journal and term/vote file are on disk, not only in the page
cache, once a metadata change is committed.

The kernel's cachestat (Linux 6.5+) counts a file's dirty pages: pages written but not
yet on disk, which a power cut would lose. pysyncobj alone never flushes its mmap'd
journal, so right after a commit the journals hold dirty pages; kraft syncs them before
any Raft message leaves and before an entry is applied (kraft/quorum/raft_durable.py).
"""

from __future__ import annotations

import os
import time

import pytest
from page_cache import cachestat_works, dirty_pages

from kraft.quorum.raft_files import JOURNAL
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster


@pytest.mark.skipif(not cachestat_works(), reason="needs the cachestat syscall (Linux 6.5+) to see dirty pages")
def test_committed_metadata_leaves_no_dirty_raft_pages():
    with LocalCluster(3) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        journals = {n: c.config.node(n).data_path / "__cluster_metadata" / JOURNAL for n in c.hosts}
        seen = {}
        for i in range(5):
            status, body = http_json("POST", c.v3(1) + "/topics",
                                     {"topic_name": f"durable-{i}", "partitions_count": 1,
                                      "replication_factor": 3})
            assert status == 201, body
            # the create answered: the entry is committed; every voter has acknowledged it
            # or will within a heartbeat
            time.sleep(0.3)
            seen[i] = {n: dirty_pages(path) for n, path in journals.items()}
            seen[i].update({f"{n}.meta": dirty_pages(f"{path}.meta") for n, path in journals.items()
                            if os.path.exists(f"{path}.meta")})
    assert all(v == 0 for pages in seen.values() for v in pages.values()), seen
