"""Layer `broker`: the services both front doors share. Produce (`data_plane`), reads
(`partition_reader`, `consumer_poll`), acks=0 lanes, producer ids, the broker's
lifecycle (register, heartbeat, controlled shutdown), the metadata follower, the link
to the controller and `peers`, the one node-to-node HTTP client.

May import: every layer from errors up to groups.
"""
