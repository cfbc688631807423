"""What one session may keep on a shared server (the upload size is Streamlit's own
``server.maxUploadSize``, in .streamlit/config.toml)."""

from __future__ import annotations

import os


def runs_per_session() -> int:
    """Finished runs a session keeps (WORKBENCH_RUNS_PER_SESSION, 8 by default)."""
    return max(1, int(os.environ.get("WORKBENCH_RUNS_PER_SESSION", "8")))


def keep(runs: list, run, limit: int | None = None) -> None:
    """Add ``run`` to a session's ``runs``, dropping the oldest beyond the limit (their models go
    with them, for the garbage collector to release)."""
    runs.append(run)
    del runs[:-(limit or runs_per_session())]
