"""What a lesson is: one page of the app, contributed by a plugin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Lesson:
    name: str  # stable id, also the URL path
    title: str
    section: str  # navigation group, e.g. "Basics", "Training", "Explaining"
    render: Callable[[], None]
    icon: str = ":material/school:"
    order: int = 100  # position inside the app's navigation
    description: str = ""

    @property
    def url_path(self) -> str:
        return self.name
