"""`workbench bench explain`: not built yet."""


def add_parser(sub):
    p = sub.add_parser("explain", help="(not built yet)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'workbench bench explain' is not built yet")
