"""The suite: tests/unit (pure logic, real files), tests/sim (seeded simulations of
several nodes on an in-memory quorum and clock), tests/cluster (real node processes on
127.0.0.N loopback addresses). `./dev test -m "not cluster"` runs the first two."""
