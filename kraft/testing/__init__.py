"""kraft for a user's own tests: an embeddable cluster with faults on call, and a pytest
plugin (kraft.testing.pytest_plugin, registered through the pytest11 entry point)."""

from kraft.testing.admin import Admin, AdminError
from kraft.testing.cluster import Cluster, ClusterStartError
from kraft.testing.elections import ElectionRefused
from kraft.testing.faults import DiskFaultsUnavailable, NetworkFaultsUnavailable
from kraft.testing.group_faults import SessionExpiryRefused

__all__ = ["Admin", "AdminError", "Cluster", "ClusterStartError", "DiskFaultsUnavailable", "ElectionRefused",
           "NetworkFaultsUnavailable", "SessionExpiryRefused"]
