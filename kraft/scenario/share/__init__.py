"""The share-group workload (KIP-932): its clients, generator, history and checks
(every record accepted once, dead letters where they belong)."""
