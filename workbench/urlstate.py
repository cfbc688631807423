"""A lesson's view in its URL: every control that defines what is shown is written to
``st.query_params`` and read back, so a copied link opens the same view; ``hide=a,b`` hides
controls (their value comes from the link or the default); presets of the course documents'
experiments are sets of the same URL values.

A page declares its fields (URL name -> widget key) and wraps its widget calls::

    url = UrlState("convolution", {"kernel": "conv_kernel", "stride": "conv_stride"}, PRESETS)
    choice = url.bind(col.selectbox, "Kernel", options, key="conv_kernel")

``bind`` calls the widget as written (its default, bounds and options stay in the page) and
reads them off the call: a URL value is checked against them and seeds the widget once, when a
new link is opened; afterwards the widget owns its value and every change is written back.
Only values that differ from the widget's default go into the link, so links stay short.
"""

from __future__ import annotations

import base64
import inspect
import math
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Callable, Mapping

import streamlit as st

HIDE, PRESET = "hide", "preset"  # reserved URL names
_STATE = "_urlstate"  # session_state: {lesson: _Lesson}
_CHOICE = {"selectbox", "radio", "select_slider", "pills", "segmented_control", "tabs"}
_MULTI = {"multiselect"}
_NUMBER = {"slider", "number_input"}
_BOOL = {"checkbox", "toggle"}
_TEXT = {"text_input", "text_area"}


@dataclass(frozen=True)
class Preset:
    """A course document's experiment: URL values of a lesson, and what the document reports."""

    name: str  # in the URL: ?preset=NAME
    label: str  # the button
    params: Mapping[str, str]  # URL name -> URL value, exactly as a link writes them
    source: str = ""  # workbench.sources key of the document
    reports: str = ""  # the document's own numbers, shown beside the result


@dataclass
class _Lesson:
    seen: dict | None = None  # the URL as this session last read or wrote it
    pending: dict = field(default_factory=dict)  # URL values waiting for their widget
    taken: dict = field(default_factory=dict)  # values of fields a page reads itself (take)
    notices: list = field(default_factory=list)
    hidden: frozenset = frozenset()
    presets: list = field(default_factory=list)  # the presets the view still matches, control by control
    values: dict = field(default_factory=dict)  # URL name -> the value its widget last had


class UrlState:
    """One lesson's URL state for this script run. Create it near the top of render()."""

    def __init__(self, lesson: str, fields: Mapping[str, str | None], presets=(), top=None):
        self.lesson = lesson
        self.fields = dict(fields)  # URL name -> widget key (None: the page reads it with take/put)
        self.keys = {key: name for name, key in self.fields.items() if key}
        self.presets = {p.name: p for p in presets}
        self._state: _Lesson = st.session_state.setdefault(_STATE, {}).setdefault(lesson, _Lesson())
        self.opened = False  # True on the run that opens a new link (take() then says what it set)
        where = top or st
        self._notice_box = where.empty()
        self._bar = where.container()
        self._open(dict(st.query_params.to_dict()))
        self._notices()
        self._toolbar()

    # -- reading a link -----------------------------------------------------------------
    def _open(self, params: dict) -> None:
        """Apply a link that this session has not seen: a fresh visit, a pasted link, a preset."""
        s = self._state
        if params == s.seen or (not params and s.seen is not None):
            # an empty URL (the lesson opened from the navigation) keeps the session's view
            if not params and s.seen:
                st.query_params.update(s.seen)
            return
        notices = []
        self.opened = True
        if PRESET in params:
            asked = params.pop(PRESET)
            preset = self.presets.get(asked)
            if preset is None:
                notices.append(f"no preset of this lesson is called {asked!r}; "
                               f"presets: {', '.join(self.presets) or 'none'}")
            else:
                params = {**preset.params, **{k: v for k, v in params.items() if k == HIDE}}
            s.presets = [preset.name] if preset else []
        else:  # a copied link is its preset too, if its values are the preset's
            s.presets = list(self.presets)
        hidden = [h for h in params.get(HIDE, "").split(",") if h]
        unknown_hidden = [h for h in hidden if h not in self.fields]
        if unknown_hidden:
            notices.append(f"hide= names no control of this lesson: {', '.join(unknown_hidden)}")
        s.hidden = frozenset(h for h in hidden if h in self.fields)
        unknown = [k for k in params if k not in self.fields and k != HIDE]
        if unknown:
            notices.append(f"ignored, not a setting of this lesson: {', '.join(unknown)}")
        s.pending = {name: params.get(name) for name, key in self.fields.items() if key}  # None: the default
        s.taken = {name: params[name] for name in self.fields if name in params and not self.fields[name]}
        s.notices = notices
        s.values = {}
        st.query_params.clear()
        st.query_params.update({k: v for k, v in params.items() if k in self.fields or (k == HIDE and s.hidden)})
        if s.hidden:
            st.query_params[HIDE] = ",".join(sorted(s.hidden))
        s.seen = dict(st.query_params.to_dict())

    def _notice(self, text: str) -> None:
        self._state.notices.append(text)
        self._notices()

    def _notices(self) -> None:
        if self._state.notices:
            self._notice_box.warning("This link had settings that could not be used, so the defaults are shown for them: "
                        + "; ".join(self._state.notices) + ".", icon=":material/link_off:")

    # -- widgets --------------------------------------------------------------------------
    def bind(self, widget: Callable, *args, key: str, name: str | None = None, **kwargs):
        """Call ``widget(*args, key=key, **kwargs)`` with its value seeded from the link (once) and
        written back; a hidden control is not drawn and gives its link's value or its default."""
        name = name or self.keys.get(key)
        if name is None:
            raise KeyError(f"{key!r} is not a URL field of the lesson {self.lesson!r}")
        kind = widget.__name__
        call = _arguments(kind, args, {**kwargs, "key": key})
        default = _default(kind, call)
        s = self._state
        if name in s.pending:
            raw = s.pending.pop(name)
            if raw is None:
                st.session_state.pop(key, None)
            else:
                try:
                    st.session_state[key] = _parse(kind, call, raw)
                except ValueError as exc:
                    st.session_state.pop(key, None)
                    self._notice(f"{name}={raw!r} ({exc})")
        if kind == "tabs":  # the open tab: its label in session_state while on_change reruns
            containers = widget(*args, key=key, **{"on_change": "rerun", **kwargs})
            self._write(name, st.session_state.get(key, default), default)
            return containers
        if name in s.hidden:
            value = st.session_state.get(key, default)
            st.session_state[key] = value  # kept for the next run, the widget being absent
        else:
            value = widget(*args, key=key, **kwargs)
        self._write(name, _encode(kind, value), _encode(kind, default))
        return value

    # -- fields the page reads and writes itself (a table, a kernel grid) ---------------------
    def take(self, name: str) -> str | None:
        """The raw URL value of a page-read field on the run its link was opened, once; else None."""
        return self._state.taken.pop(name, None)

    def put(self, name: str, value: str | None, default: str | None = None) -> None:
        """Write a page-read field's URL value (left out of the link when it is the default)."""
        self._write(name, value, default)

    def invalid(self, name: str, raw: str, why: str) -> None:
        """Say that a page-read field's URL value could not be used."""
        self._notice(f"{name}={raw[:40]!r} ({why})")

    def hidden(self, name: str) -> bool:
        return name in self._state.hidden

    def _write(self, name: str, value: str | None, default: str | None) -> None:
        s = self._state
        s.values[name] = value
        # a preset the view no longer matches is dropped (a value the preset leaves out must be the default)
        s.presets = [p for p in s.presets if value == self.presets[p].params.get(name, default)]
        if value is None or value == default:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != value:
            st.query_params[name] = value
        s.seen = dict(st.query_params.to_dict())
        self._show_link()

    # -- presets and the link ---------------------------------------------------------------
    def _toolbar(self) -> None:
        cols = self._bar.columns([5, 1], vertical_alignment="center")
        if self.presets:
            with cols[0].container(horizontal=True):
                # markdown, not captions: a lesson's own captions stay first in its page
                st.markdown(":gray[The course documents' experiments:]")
                for p in self.presets.values():
                    st.button(p.label, key=f"_preset_{self.lesson}_{p.name}", on_click=self.apply, args=(p.name,),
                              help=_reports(p) or None, type="tertiary", icon=":material/science:")
        with cols[1].popover("Copy link", icon=":material/link:"):
            st.markdown(":gray[This view, every setting included (hidden controls stay hidden):]")
            self._link_box = st.empty()
        self._show_link()

    def apply(self, preset: str) -> None:
        """A button's callback: open the preset's link (hidden controls stay hidden)."""
        hide = st.query_params.get(HIDE)
        st.query_params.clear()
        st.query_params.update({PRESET: preset, **({HIDE: hide} if hide else {})})

    def link(self) -> str:
        """This view's link: the page's address and the current URL values."""
        query = urllib.parse.urlencode(st.query_params.to_dict(), safe=",")
        base = st.context.url or ""
        return base + ("?" + query if query else "")

    def _show_link(self) -> None:
        box = getattr(self, "_link_box", None)
        if box is not None:
            box.code(self.link(), language=None, wrap_lines=True)

    @property
    def preset(self) -> Preset | None:
        """The preset being shown, until a control moves away from it: the first that every control
        it sets has matched so far."""
        s = self._state
        known = set(s.values) | set(s.pending)  # a control not drawn yet will get the link's value
        return next((self.presets[p] for p in s.presets if set(self.presets[p].params) <= known), None)

    def reports(self, where=None, only: tuple[str, ...] | None = None) -> None:
        """Beside a result: the active preset's document and its own numbers (``only``: if it is one of
        these presets, where a lesson's presets show different results)."""
        p = self.preset
        if p is not None and p.reports and (only is None or p.name in only):
            (where or st).info(_reports(p), icon=":material/menu_book:")


def _reports(p: Preset) -> str:
    from workbench import sources

    doc = sources.SOURCES.get(p.source)
    return f"{doc.name[0].upper() + doc.name[1:]}: {p.reports}" if doc else p.reports


# -- reading a widget call ----------------------------------------------------------------
def _arguments(kind: str, args: tuple, kwargs: dict) -> dict:
    """The widget call's arguments by name, its defaults filled in (from st's own signature)."""
    signature = inspect.signature(getattr(st, kind))
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _default(kind: str, a: dict):
    if kind == "tabs":
        return a["default"] or list(a["tabs"])[0]
    if kind in ("selectbox", "radio"):
        options = list(a["options"])
        return options[a["index"]] if a["index"] is not None and options else None
    if kind == "select_slider":
        return a["value"] if a["value"] is not None else list(a["options"])[0]
    if kind in _CHOICE:  # pills, segmented_control
        return a.get("default")
    if kind in _MULTI:
        return list(a["default"] or [])
    if kind in _NUMBER:
        value = a["value"]
        if value is None or value == "min":
            value = a["min_value"] if a["min_value"] is not None else 0
        return value
    if kind in _BOOL:
        return bool(a["value"])
    if kind in _TEXT:
        return a["value"] or ""
    raise TypeError(f"UrlState cannot bind a {kind}")


def _parse(kind: str, a: dict, raw: str):
    """A URL string as the widget's value, checked against its options or bounds (ValueError if not)."""
    if kind in _CHOICE or kind in _MULTI:
        options = list(a["tabs"] if kind == "tabs" else a["options"])
        by_text = {str(o): o for o in options}
        wanted = raw.split(",") if kind in _MULTI and raw else [raw] if kind not in _MULTI else []
        bad = [w for w in wanted if w not in by_text]
        if bad:
            shown = ", ".join(map(str, options[:8])) + (" ..." if len(options) > 8 else "")
            raise ValueError(f"not one of {shown}")
        values = [by_text[w] for w in wanted]
        return values if kind in _MULTI else values[0]
    if kind in _NUMBER:
        default = _default(kind, a)
        whole = isinstance(default, int) and not isinstance(default, bool) and isinstance(a.get("step") or 1, int)
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            raise ValueError("not a whole number" if whole else "not a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not a finite number")
        low, high = a.get("min_value"), a.get("max_value")
        if kind == "slider":  # a slider's bounds default to its value's range
            low = 0 if low is None else low
            high = 100 if high is None and whole else 1.0 if high is None else high
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"outside {low if low is not None else '-∞'}..{high if high is not None else '∞'}")
        return value
    if kind in _BOOL:
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError("not true or false")
        return raw.lower() in ("true", "1")
    if kind in _TEXT:
        limit = a.get("max_chars")
        if limit and len(raw) > limit:
            raise ValueError(f"longer than {limit} characters")
        return raw
    raise TypeError(f"UrlState cannot bind a {kind}")


def _encode(kind: str, value) -> str | None:
    """A widget's value as the URL writes it (an option as its text, as _parse matches it)."""
    if value is None:
        return None
    if kind in _MULTI:
        return ",".join(map(str, value))
    if kind in _CHOICE:
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".12g")
    return str(value)


# -- a long value (an architecture file) in a link ------------------------------------------
def pack(text: str) -> str:
    """A text as a short, URL-safe token: zlib-compressed, base64url, prefixed 'z.'."""
    return "z." + base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def unpack(token: str, limit: int = 1 << 20) -> str:
    """pack's text back (ValueError if the token is not one, or unpacks to more than ``limit`` bytes)."""
    if not token.startswith("z."):
        raise ValueError("not a packed value")
    try:
        data = base64.urlsafe_b64decode(token[2:] + "=" * (-len(token[2:]) % 4))
        inflater = zlib.decompressobj()
        text = inflater.decompress(data, limit)
        if inflater.unconsumed_tail:
            raise ValueError("too large")
        if not inflater.eof:  # a link cut short: zlib hands back what it had without complaint
            raise ValueError("cut short")
        return text.decode("utf-8")
    except (ValueError, zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"a damaged packed value ({exc})") from None
