"""Where the commands print tables and notices: a terminal, or a pipe, file or CI log.

On a terminal rich fits the output to the window. Anywhere else it would assume 80
columns and cut tables (cells end in "…", rows wrap), so what a script or a log gets
would lose the very reasons and names it was printed for; there, lines are kept whole.
"""

from __future__ import annotations

import sys

from rich.console import Console

UNWRAPPED_WIDTH = 1000  # wider than any row the commands print


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else UNWRAPPED_WIDTH)
