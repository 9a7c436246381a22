"""Layer `server`: one node process (`node` wires the parts together, `main` runs it)
and its plumbing: the broker's lifecycle with the controller (register, heartbeat,
controlled shutdown), the link to the controller, the metadata follower and waiters, the
quorum view; its HTTP app (the REST API and console, the failure lab, the other nodes'
door), metrics, TLS contexts, HTTP connection bounds and event-loop error handler, the
launchers that start several nodes (`kraft up`, LocalCluster), and the disks the failure
lab can fill or power-cut (`small_disks`, `lazy_disks`).

May import: every layer from errors up to the two front doors, api and kafka.
"""
