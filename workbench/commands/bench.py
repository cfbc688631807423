"""`workbench bench`: not built yet (see the open issues)."""


def add_parser(sub):
    p = sub.add_parser("bench", help="(not built yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'workbench bench' is not built yet")
