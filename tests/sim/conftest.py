"""Simulation tests: several nodes on the in-memory quorum and an injected clock,
driven by a seeded schedule and checked against invariants after every step."""
