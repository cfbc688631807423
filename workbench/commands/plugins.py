"""`workbench plugins [--json]`: every plugin with its version, hooks, load error and warnings."""

import json

from workbench.registry import get_registry


def add_parser(sub):
    p = sub.add_parser("plugins", help="list installed plugins, their hooks and load errors")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=run)


def run(args) -> int:
    plugins = [p.as_dict() for p in get_registry().plugins()]
    if args.json:
        print(json.dumps(plugins, indent=2))
    else:
        for p in plugins:
            status = f"ERROR {p['error']}" if p["error"] else ", ".join(p["hooks"])
            print(f"{p['name']} {p['version'] or ''}: {status}")
            for warning in p["warnings"]:
                print(f"  warning: {warning}")
    return 0
