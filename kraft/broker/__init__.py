"""Layer `broker`: the services both front doors share. Produce (`data_plane`), reads
(`partition_reader`, `consumer_poll`), acks=0 lanes, producer ids, access control and
client quotas.

May import: every layer from errors up to groups.
"""
