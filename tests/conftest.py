"""Shared fixtures. Other helpers may append their own below."""

from __future__ import annotations

import importlib
import os
import socket

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the pages' job queue (workbench.jobs) gets one worker process here: it imports each framework once
# for every page test that trains, instead of once per worker
os.environ.setdefault("WORKBENCH_JOBS", "1")
import workbench_plugins.tensorflow_backend  # noqa: E402,F401 - loads triton before any test imports tensorflow

def in_ci() -> bool:
    """CI=true (GitHub Actions, GitLab, most runners set it): the README's test command ran, so
    everything it installs must be there; a missing piece is a failure, not a quiet skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(module: str, why: str = "the README's test command installs it"):
    """pytest.importorskip, except under CI=true, where a module that cannot be imported fails
    the run (its import error is the message) instead of skipping the file's tests."""
    if not in_ci():
        return pytest.importorskip(module)
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail(f"CI=true and {module} cannot be imported ({e}); {why}", pytrace=False)


@pytest.fixture(autouse=True, scope="session")
def one_component_scan():
    """Every AppTest of the run shares one scan of the installed Streamlit components, as a
    server's sessions do (AppTest scans ~1,600 package metadata files per instance otherwise)."""
    from streamlit.testing.v1 import AppTest

    from workbench.commands.bench_jobs import share_component_scan

    init = AppTest.__init__

    def shared(self, *args, **kwargs):
        init(self, *args, **kwargs)
        share_component_scan(self)

    AppTest.__init__ = shared
    yield
    AppTest.__init__ = init


@pytest.fixture(autouse=True)
def fresh_served_grids():
    """Each test starts with an empty server-side cache of explanation grids (as a fresh server),
    so that one test's grid is never served to the next test's page."""
    from workbench.jobs import cache

    cache.shared("explanations-served").clear()


APPTEST_TIMEOUT = 120  # seconds: the machine running the suite may be busy


def _render_page(module: str) -> None:
    # Runs inside AppTest's script runner: one lesson page, as the app would render it.
    import importlib

    importlib.import_module(f"workbench_pages.{module}").render()


@pytest.fixture
def lesson_app():
    """lesson_app("convolution") -> an AppTest that renders pages/<module>.py alone, already run."""
    from streamlit.testing.v1 import AppTest

    def make(module: str, run: bool = True) -> AppTest:
        at = AppTest.from_function(_render_page, args=(module,), default_timeout=APPTEST_TIMEOUT)
        return at.run() if run else at

    return make


# URL state (workbench.urlstate): a lesson opened from a link, and the notices it showed
NOTICE = "This link had settings that could not be used"


def opened(lesson_app, lesson: str, **params):
    """The lesson opened from a link with these query parameters."""
    at = lesson_app(lesson, run=False)
    at.query_params.update(params)
    return at.run()


def notices(at) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith(NOTICE)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_errors(at) -> list[str]:
    """Every exception or error message an AppTest run showed (empty when all is well)."""
    return [e.message for e in at.exception] + [e.value for e in at.error]


# The job queue (workbench.jobs) seen from a page: one worker, held by another student's job
def busy_worker(monkeypatch):
    """The server's queue as one worker thread of this process, busy with another student's
    job until the test stops it: (queue, that job)."""
    from workbench.jobs import queue as Q
    from workbench.jobs.executors import ThreadExecutor

    queue = Q.JobQueue(ThreadExecutor(slots=1))
    monkeypatch.setattr(Q, "_SERVER", queue)
    return queue, queue.submit("probe", {"steps": 600, "seconds": 0.05}, owner="another student")


def waits_first_in_line(at, live_key: str):
    """Run the page whose button was just clicked: its script run follows the job, which waits
    behind the busy worker, until AppTest's timeout; the job must be this session's, queued first."""
    from workbench import ui

    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=3)
    live = at.session_state[live_key]
    assert (live.status, live.position, live.owner) == ("queued", 1, at.session_state["workbench_session"])
    assert ui.queue_status(live, 2.0).startswith("queued, position 1: waiting for a free worker")
    return live
