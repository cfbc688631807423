"""`workbench list KIND [--json]`: the registered backends, architectures, explainers, datasets, lessons,
native builders or benchmarks."""

import json

from workbench.registry import KINDS, get_registry
from workbench.sources import cite


def describe(kind: str, name: str, obj) -> dict:
    out = {"name": name, "plugin": getattr(obj, "plugin", None)}
    for attr in ("title", "section", "description", "family", "url_path"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            out[attr] = value
    if kind == "architectures" and getattr(obj, "source", ""):
        out["source"] = cite(obj.source)  # the course documents by their titles
    if kind == "architectures":
        out["roles"] = list(obj.roles)
        if not obj.is_spec:
            out["built_by"] = sorted(obj.native)  # the backends that registered a native builder for it
    if kind in ("native_builders", "benchmarks"):
        out.update(backend=obj.backend, function=obj.function)
    if kind == "backends":
        try:
            out["device"] = obj.device()
        except Exception as exc:  # noqa: BLE001 - report, don't crash the listing
            out["device_error"] = str(exc)
    return out


def add_parser(sub):
    p = sub.add_parser("list", help="list registered objects of one kind")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    items = getattr(get_registry(), args.kind)()
    rows = [describe(args.kind, name, obj) for name, obj in sorted(items.items())]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(row["name"], "-", row.get("title") or row.get("description", "")[:70])
    return 0
