"""The build backend: setuptools' (setuptools.build_meta), less one notice.

An editable install maps kraft.metadata and kraft.replication onto the folders metadata/
and replication/, which setuptools serves through an import hook; every time, it adds
that folders in the working directory named like the package may take precedence
("Editable installation."), and pip prints that as a BuildBackendWarning. The install is
right and kraft's layout already means what the note says, so only that note is
filtered out; every other warning of the build passes (tests/unit/test_packaging.py
builds a wheel through this backend).
"""

import warnings

from setuptools.build_meta import *  # noqa: F401,F403 (the PEP 517 hooks)
from setuptools.warnings import InformationOnly

warnings.filterwarnings("ignore", message="Editable installation", category=InformationOnly)
