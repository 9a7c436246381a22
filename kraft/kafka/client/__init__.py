"""The broker's own Kafka client: the calls one broker makes to another (a follower's
fetch, a leader's reads, transaction markers, share-group state), over pooled connections."""
