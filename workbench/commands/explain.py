"""`workbench explain`: not built yet (see the open issues)."""


def add_parser(sub):
    p = sub.add_parser("explain", help="(not built yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'workbench explain' is not built yet")
