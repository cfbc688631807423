"""Exercises: tasks a lesson sets, each checked automatically against the student's own work.

An exercise is contributed by a plugin (``register_exercises``) and names the lesson that shows
it. The lesson hands its exercises what the student has done there, as keyword arguments it
documents (the calculator: ``architecture``; training: ``runs``; optimizers: ``surface``,
``paths``; explanations: ``backend``, ``model``, ``image``, ``occluded``, ``class_names``); the
check answers passed / not yet and why. A check never raises at a student: an error is a
"not yet" that says what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Verdict:
    passed: bool
    why: str  # a sentence a student reads: what was measured against what was asked


@dataclass(frozen=True)
class Exercise:
    name: str  # stable id
    lesson: str  # the lesson (workbench.lesson.Lesson.name) that shows it and hands it the work
    title: str
    task: str  # what to do, in a sentence or two
    check: Callable[..., Verdict] | str  # the check, or "module:function" imported on first use
    needs: tuple[str, ...] = ()  # the work it reads; missing work is "not yet", not an error

    def judge(self, **work: Any) -> Verdict:
        """Check the student's work; any failure of the check itself is a 'not yet' with its reason."""
        missing = [n for n in self.needs if work.get(n) is None]
        if missing:
            return Verdict(False, f"nothing to check yet ({', '.join(missing)}).")
        check = self.check
        if isinstance(check, str):
            from workbench.contributed import resolve

            check = resolve(check)
        try:
            verdict = check(**{n: work.get(n) for n in self.needs} if self.needs else work)
        except Exception as exc:  # noqa: BLE001 - shown as a reason, never a traceback
            return Verdict(False, f"could not be checked: {exc}")
        return verdict if isinstance(verdict, Verdict) else Verdict(bool(verdict[0]), str(verdict[1]))


def for_lesson(registry, lesson: str) -> list[Exercise]:
    """The registered exercises a lesson shows, by name."""
    return sorted((e for e in registry.exercises().values() if e.lesson == lesson), key=lambda e: e.name)
