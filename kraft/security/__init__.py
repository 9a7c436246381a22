"""Security's pure parts: Kafka's ACL model and authorizer, salted SCRAM credentials,
OAUTHBEARER's messages and JWT checks, principals. Imports errors and config only; the
image holds ACLs and credentials (metadata), the front doors enforce them (api, kafka)."""
