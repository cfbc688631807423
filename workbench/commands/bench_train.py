"""`workbench bench train`: not built yet."""


def add_parser(sub):
    p = sub.add_parser("train", help="(not built yet)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'workbench bench train' is not built yet")
