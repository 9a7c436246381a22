"""The failure lab's checkers: each reads a run's history and the cluster's logs and
judges one property (lost writes, order, liveness, access, groups, compaction, ...)."""
