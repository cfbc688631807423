"""The plugin registry: one pluggy PluginManager over the ``cnn_workbench`` entry-point group.

Built-in plugins are listed in our own pyproject, so they load exactly like a third party's.
A plugin that fails to import or raises in a hook (even sys.exit) is recorded with its error and
skipped: the app and the other plugins keep working. What a plugin registers is checked as it
arrives: an object of the wrong kind is skipped with an error; a hook name that no hookspec
declares (a misspelling) and a name another plugin already registered (a built-in's ``pytorch``)
are warnings, and the first registration (built-ins first) keeps the name.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from workbench import hookspecs

GROUP = "cnn_workbench"
KINDS = ("backends", "architectures", "explainers", "datasets", "lessons", "exercises", "native_builders",
         "benchmarks")
# What the workbench asks an architecture for by role, instead of naming a model (Architecture.roles).
ROLES = {
    "explain": "the model the explanation lesson and `workbench explain` start with",
    "fine-tune": "the pretrained model suggested for transfer learning",
}


@dataclass
class PluginInfo:
    name: str
    version: str | None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    builtin: bool = False  # shipped with cnn-workbench: its names win over a third party's

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "hooks": self.hooks, "error": self.error,
                "warnings": self.warnings}

    def add_error(self, message: str) -> None:
        self.error = (self.error + "; " if self.error else "") + message


class Registry:
    def __init__(self, extra_plugins: dict[str, object] | None = None, entry_points: bool = True):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._items: dict[str, dict[str, Any]] | None = None
        if entry_points:
            self._load_entry_points()
        for name, module in (extra_plugins or {}).items():
            self.add(module, name)

    # -- loading -------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        seen = set()
        for ep in importlib.metadata.entry_points(group=GROUP):
            if ep.name in seen:  # an editable install can list the same entry point twice
                continue
            seen.add(ep.name)
            version = ep.dist.version if ep.dist is not None else None
            builtin = ep.dist is not None and ep.dist.name == "cnn-workbench"
            try:
                module = ep.load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plugin must not break the app
                self._info[ep.name] = PluginInfo(ep.name, version, error=_describe(exc), builtin=builtin)
                continue
            self.add(module, ep.name, version, builtin)

    def add(self, module: object, name: str, version: str | None = None, builtin: bool = False) -> None:
        """Register a plugin object (a module or any object with hookimpls)."""
        try:
            self.pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001
            self._info[name] = PluginInfo(name, version, error=_describe(exc), builtin=builtin)
            return
        callers = self.pm.get_hookcallers(module) or []
        info = PluginInfo(name, version or getattr(module, "__version__", None),
                          sorted(h.name for h in callers if h.has_spec()), builtin=builtin)
        for hook in sorted(h.name for h in callers if not h.has_spec()):  # what pm.check_pending() rejects
            close = difflib.get_close_matches(hook, _hook_names(), n=1)
            info.warnings.append(f"{hook} is not a workbench hook, so it is never called"
                                 + (f"; did you mean {close[0]}?" if close else f" (hooks: {', '.join(_hook_names())})"))
        self._info[name] = info
        self._items = None

    # -- collecting ----------------------------------------------------------------------
    def _collect(self) -> dict[str, dict[str, Any]]:
        if self._items is not None:
            return self._items
        items: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        owners: dict[tuple[str, str], str] = {}  # (kind, name) -> the plugin that registered it
        for kind in KINDS:
            hook = getattr(self.pm.hook, f"register_{kind}")
            # Built-ins first, so a third party reusing one of their names cannot replace it.
            impls = sorted(hook.get_hookimpls(), key=lambda i: not self._plugin_info(self.pm.get_name(i.plugin)).builtin)
            # Call each implementation on its own so one that raises is isolated.
            for impl in impls:
                plugin_name = self.pm.get_name(impl.plugin)
                info = self._plugin_info(plugin_name)

                def register(obj, _kind=kind, _plugin=plugin_name, _info=info):
                    name = getattr(obj, "name", None)
                    if not name:
                        raise ValueError(f"a registered {_kind[:-1]} needs a 'name'")
                    wrong = _wrong_kind(_kind, obj)
                    if wrong:
                        _info.add_error(f"register_{_kind}: {name!r} {wrong}; skipped")
                        return
                    owner = owners.get((_kind, name))
                    if owner is not None:
                        _info.warnings.append(f"register_{_kind}: {name!r} is already registered by plugin "
                                              f"{owner!r}; this plugin's {_kind[:-1]} of that name is skipped")
                        return
                    try:
                        obj.plugin = _plugin
                    except (AttributeError, TypeError):  # frozen dataclasses keep their own
                        pass
                    items[_kind][name] = obj
                    owners[(_kind, name)] = _plugin

                try:
                    impl.function(register=register)
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - sys.exit in a hook must not end the app
                    info.add_error(f"register_{kind}: {_describe(exc)}")
        _join_native_builders(items)
        self._items = items
        return items

    def _plugin_info(self, name: str) -> PluginInfo:
        return self._info.setdefault(name, PluginInfo(name, None))

    def plugins(self) -> list[PluginInfo]:
        self._collect()
        return sorted(self._info.values(), key=lambda p: p.name)

    def backends(self) -> dict[str, Any]:
        return self._collect()["backends"]

    def architectures(self) -> dict[str, Any]:
        return self._collect()["architectures"]

    def explainers(self) -> dict[str, Any]:
        return self._collect()["explainers"]

    def datasets(self) -> dict[str, Any]:
        return self._collect()["datasets"]

    def lessons(self) -> dict[str, Any]:
        return self._collect()["lessons"]

    def exercises(self) -> dict[str, Any]:
        return self._collect()["exercises"]

    def native_builders(self) -> dict[str, Any]:
        return self._collect()["native_builders"]

    def benchmarks(self, target: str | None = None) -> dict[str, Any]:
        """{name: Benchmark}, or for one target {backend name: Benchmark}."""
        found = self._collect()["benchmarks"]
        if target is None:
            return found
        return {b.backend: b for b in found.values() if b.target == target}

    def with_role(self, role: str):
        """The architecture registered for ``role`` (ROLES), e.g. the default model to explain."""
        if role not in ROLES:
            raise KeyError(f"no role {role!r}; roles: {', '.join(ROLES)}")
        for arch in self.architectures().values():
            if role in arch.roles:
                return arch
        raise KeyError(f"no registered architecture has the role {role!r} ({ROLES[role]}); "
                       "is the architectures plugin loaded? see `workbench plugins`")

    def get(self, kind: str, name: str) -> Any:
        items = self._collect()[kind]
        if name not in items:
            known = ", ".join(sorted(items)) or "none"
            raise KeyError(f"no {kind[:-1]} named {name!r}; registered: {known}")
        return items[name]


def _join_native_builders(items: dict[str, dict[str, Any]]) -> None:
    """Give each registered architecture the native builders the backend plugins registered for it."""
    import dataclasses

    for builder in items["native_builders"].values():
        arch = items["architectures"].get(builder.architecture)
        if arch is not None:  # a builder for a model no plugin registers is simply not offered
            items["architectures"][arch.name] = dataclasses.replace(arch, native={**arch.native, builder.backend: builder})


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def _expected_kinds() -> dict[str, tuple[tuple[type, ...], str]]:
    """What each hook's register() takes: (classes, how to say it). Imported on first use, since
    these modules' own imports reach the registry."""
    from workbench.backend import Backend
    from workbench.contributed import Benchmark, NativeBuilder
    from workbench.data import Dataset
    from workbench.exercises import Exercise
    from workbench.explain.base import Explainer
    from workbench.lesson import Lesson
    from workbench.spec import Architecture

    return {
        "backends": ((Backend,), "a workbench.backend.Backend"),
        "architectures": ((Architecture,), "a workbench.spec.Architecture"),
        "explainers": ((Explainer,), "a workbench.explain.Explainer (a subclass or an instance)"),
        "datasets": ((Dataset,), "a workbench.data.Dataset (or a factory with .at(path))"),
        "lessons": ((Lesson,), "a workbench.lesson.Lesson"),
        "exercises": ((Exercise,), "a workbench.exercises.Exercise"),
        "native_builders": ((NativeBuilder,), "a workbench.contributed.NativeBuilder"),
        "benchmarks": ((Benchmark,), "a workbench.contributed.Benchmark"),
    }


def _wrong_kind(kind: str, obj: object) -> str | None:
    """Why ``obj`` cannot be registered as a ``kind``, or None when it can."""
    classes, wanted = _expected_kinds()[kind]
    if isinstance(obj, classes) or (kind == "explainers" and isinstance(obj, type) and issubclass(obj, classes)):
        return None
    if kind == "datasets" and callable(getattr(obj, "at", None)):  # folder:PATH style factories
        return None
    return f"({type(obj).__name__}) is not {wanted}"


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


_default: Registry | None = None
_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = Registry()
        return _default


def reset_registry() -> None:
    """Forget the process-wide registry (tests install plugins and reload)."""
    global _default
    with _lock:
        _default = None
