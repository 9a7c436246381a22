"""Consumer groups: partition assignors, the per-group coordinator state machine, and
the placement of a group's coordinator on the offsets topic. All pure (sans-IO)."""
