"""The Streamlit entry point: `streamlit run workbench/app.py` (or `workbench ui`).

The navigation is built from the registered lessons, grouped by section in lesson order, with
the home page first. Only the registry loads at start-up (no framework imports), so the app is
up in seconds; a lesson imports what it needs when it is opened.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run workbench/app.py` puts workbench/ on sys.path, not the project root.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from workbench import ui  # noqa: E402


def _page(lesson, default: bool) -> st.Page:
    def render():
        ui.run_page(lesson.render, lesson.title)

    render.__name__ = f"lesson_{lesson.name}"
    return st.Page(render, title=lesson.title, icon=lesson.icon, url_path=lesson.name, default=default)


def main() -> None:
    st.set_page_config(page_title="CNN Workbench", page_icon=":material/grid_on:", layout="wide")
    ui.job_queue()  # once per server: the job queue's workers start now, not on the first Train
    lessons = ui.lessons()
    if not lessons:
        st.error("No lessons are registered: is the cnn-workbench package installed (pip install -e .)?")
        for p in ui.registry().plugins():
            if p.error:
                st.warning(f"Plugin {p.name} failed to load: {p.error}")
        return
    sections: dict[str, list[st.Page]] = {}
    pages = {}
    for i, lesson in enumerate(lessons):
        pages[lesson.name] = _page(lesson, default=i == 0)
        sections.setdefault(lesson.section, []).append(pages[lesson.name])
    st.session_state["workbench_pages"] = pages  # so a page can st.page_link to another lesson
    st.navigation(sections).run()


main()
