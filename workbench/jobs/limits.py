"""What one session may keep or send on a shared server (the upload size is Streamlit's own
``server.maxUploadSize``, in .streamlit/config.toml)."""

from __future__ import annotations

import os


def runs_per_session() -> int:
    """Finished runs a session keeps (WORKBENCH_RUNS_PER_SESSION, 8 by default)."""
    return max(1, int(os.environ.get("WORKBENCH_RUNS_PER_SESSION", "8")))


def image_pixels() -> int:
    """The most pixels an image a session uploads may have (WORKBENCH_MAX_IMAGE_MEGAPIXELS, 12 by
    default, a megapixel being 2**20 as the decoder counts them: a 12-megapixel phone photo fits),
    never more than the decoder's own cap (workbench.image_decoder.MAX_PIXELS). Checked from the
    image's header, before it is decoded."""
    from workbench.image_decoder import MAX_PIXELS

    megapixels = float(os.environ.get("WORKBENCH_MAX_IMAGE_MEGAPIXELS", "12"))
    return max(1, min(int(megapixels * 2**20), MAX_PIXELS))


def photos_per_request() -> int:
    """Photos a session may upload for one explanation grid (WORKBENCH_MAX_UPLOADS, 8 by default):
    each is a row of the grid, explained by every method, in the job the session submits."""
    return max(1, int(os.environ.get("WORKBENCH_MAX_UPLOADS", "8")))


def keep(runs: list, run, limit: int | None = None) -> None:
    """Add ``run`` to a session's ``runs``, dropping the oldest beyond the limit (their models go
    with them, for the garbage collector to release)."""
    runs.append(run)
    del runs[:-(limit or runs_per_session())]
