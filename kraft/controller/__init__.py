"""Layer `controller`: the active controller. Pure `*_control` commands turn the image
plus a request into a `ControllerResult` (metadata records and the answer);
`QuorumController` runs them one at a time and proposes the records to the quorum.

May import: kraft.errors, kraft.config, kraft.security, kraft.metadata, kraft.quorum.
"""
