"""Cluster tests: real node processes on loopback. The helpers beside this file
(cluster_client, consumer_client) are importable from every test module here."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

