"""Where the browser tests (test_console.py) keep their screenshots: one fixed directory,
so the session's summary (conftest.py) can say where they are, also under xdist."""

import tempfile
from pathlib import Path

SCREENSHOTS = Path(tempfile.gettempdir()) / "kraft-console-screenshots"
