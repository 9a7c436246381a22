"""The hostile scenarios' abuse: malformed frames, oversized and slow requests, wrong
passwords and requests a client may not make, on both doors, with the answers expected."""
