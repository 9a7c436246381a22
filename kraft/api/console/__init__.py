"""The web console every node serves at /console, and the failure lab's node-side API."""
