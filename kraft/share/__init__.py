"""Share groups (KIP-932): queues on a topic. Members of a share group all read every
partition; each record is acquired by one member at a time, under a lock, and
acknowledged one by one (accept, release, reject).

`share_partition` holds one partition's in-flight records for one group,
`share_group` the membership and assignment, `share_sessions` the share fetch
sessions; all three are pure state machines. `share_broker` is the node's part: it
keeps them, reads the log and answers the Kafka door (kafka/handlers/share_api.py).
"""
