"""Security's pure parts: Kafka's ACL model and authorizer, salted SCRAM credentials,
principals. Imports errors only; the image holds ACLs and credentials (metadata), the
front doors enforce them (api, kafka)."""
