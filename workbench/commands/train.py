"""`workbench train`: not built yet (see the open issues)."""


def add_parser(sub):
    p = sub.add_parser("train", help="(not built yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'workbench train' is not built yet")
