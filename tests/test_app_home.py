"""The app shell and the home lesson in AppTest: navigation, plugins, devices, failures shown clearly."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APPTEST_TIMEOUT, no_errors
from workbench import registry as R
from workbench import ui
from workbench.hookspecs import hookimpl
from workbench.lesson import Lesson

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app.py")


def test_app_builds_navigation_from_the_registered_lessons():
    at = AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT).run()
    assert no_errors(at) == []
    assert at.title[0].value == "CNN Workbench"  # home is the default page
    pages = at.session_state["workbench_pages"]
    lessons = sorted(R.get_registry().lessons().values(), key=lambda l: l.order)
    assert list(pages) == [l.name for l in lessons]
    assert {"home", "convolution", "shape_calculator", "gallery", "training", "explanations"} <= set(pages)


def test_home_lists_plugins_and_backend_devices(lesson_app):
    at = lesson_app("home")
    assert no_errors(at) == []
    plugins = at.dataframe[0].value
    assert {"lessons", "architectures"} <= set(plugins["plugin"])
    backends = R.get_registry().backends()
    # Devices arrive from a background thread (each backend imports its framework): rerun until they are in.
    deadline = time.time() + APPTEST_TIMEOUT
    while len(ui.backend_devices()) < len(backends) and time.time() < deadline:
        time.sleep(0.5)
    at.run()
    devices = {m.label: m for m in at.metric}
    for name, backend in backends.items():
        assert devices[name].value in ("CPU", "GPU")
        assert backend.device() in str(devices[name].proto.delta)
        assert backend.device_name() in str(devices[name].proto.delta)  # which GPU (or CPU), by name


def test_the_first_lessons_start_without_a_deep_learning_framework():
    # The app must start in seconds: the shell and the first lessons never import torch or tensorflow.
    code = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from conftest import _render_page
        for module in ("convolution", "shape_calculator", "gallery"):
            at = AppTest.from_function(_render_page, args=(module,), default_timeout=120).run()
            assert not at.exception, at.exception
        heavy = sorted(m for m in ("torch", "tensorflow", "keras") if m in sys.modules)
        print("HEAVY", heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "HEAVY []" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]


class BrokenPlugin:
    @staticmethod
    @hookimpl
    def register_architectures(register):
        raise RuntimeError("this plugin is broken on purpose")

    @staticmethod
    @hookimpl
    def register_lessons(register):
        def render():
            raise ValueError("the lesson fell over")

        register(Lesson(name="falls_over", title="Falls over", section="Extra", render=render, order=99))


@pytest.fixture
def broken_registry():
    R.reset_registry()
    registry = R.get_registry()
    registry.add(BrokenPlugin(), "broken-example")
    ui.registry.clear()
    yield registry
    R.reset_registry()
    ui.registry.clear()


def test_a_broken_plugin_is_reported_and_the_rest_keeps_working(broken_registry, lesson_app):
    at = lesson_app("home")
    assert not at.exception
    assert any("broken-example" in w.value and "broken on purpose" in w.value for w in at.warning)
    assert at.dataframe[0].value.set_index("plugin").loc["broken-example", "status"] == "error"


def _run_lesson(name: str, title: str) -> None:
    # Inside AppTest: render one registered lesson the way workbench/app.py does.
    import streamlit as st

    from workbench_plugins.lessons import lazy_render
    from workbench import ui

    lesson = ui.registry().lessons().get(name)
    ui.run_page(lesson.render if lesson else lazy_render(name), title)
    st.write("still running")


def test_a_missing_page_module_shows_a_clear_error():
    at = AppTest.from_function(_run_lesson, args=("no_such_page", "Missing page"), default_timeout=APPTEST_TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Could not show the lesson 'Missing page': a module it needs is not installed (workbench_pages.no_such_page)"
    ]
    assert at.markdown[0].value == "still running"


def test_a_lesson_that_raises_shows_a_clear_error_and_stays_in_the_navigation(broken_registry):
    at = AppTest.from_function(_run_lesson, args=("falls_over", "Falls over"), default_timeout=APPTEST_TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Could not show the lesson 'Falls over': the lesson fell over"]
    app = AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT).run()
    assert not app.exception
    assert "falls_over" in app.session_state["workbench_pages"]
