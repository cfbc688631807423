"""`workbench shapes NAME_OR_FILE [--input H,W,C] [--classes N] [--backend B] --json`.

Without --backend the numbers are the calculator's; with it, every number comes from the real
model that backend builds, so the two can be compared line by line.
"""

import json

from workbench import lookup, shapes


def add_parser(sub):
    p = sub.add_parser("shapes", help="output shapes and parameter counts, per layer")
    p.add_argument("architecture", help="a registered architecture name or a .json/.yaml file")
    p.add_argument("--input", help="input shape H,W,C (default: the architecture's)")
    p.add_argument("--classes", type=int, help="number of classes (resizes the last Dense)")
    p.add_argument("--backend", help="take the numbers from the model this backend builds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def parse_input(text: str):
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"--input must be H,W,C integers, got {text!r}") from None
    if len(values) != 3 or min(values) < 1:
        raise ValueError(f"--input must be three positive integers H,W,C, got {text!r}")
    return values


def table(arch, backend_name=None) -> dict:
    if backend_name is None:
        return shapes.compute(arch).as_json()
    backend = lookup.backend(backend_name)
    model = backend.build(arch)
    layers = [
        {"name": info.name, "type": info.type, "output_shape": list(info.output_shape),
         "params": info.params, "trainable": info.trainable, "non_trainable": info.non_trainable}
        for info in backend.summary(model)
    ]
    return {
        "architecture": arch.name,
        "backend": backend.name,
        "layers": layers,
        "total_params": sum(l["params"] for l in layers),
        "trainable_params": sum(l["trainable"] for l in layers),
        "non_trainable_params": sum(l["non_trainable"] for l in layers),
    }


def run(args) -> int:
    if args.classes is not None and args.classes < 1:
        raise ValueError(f"--classes must be at least 1, got {args.classes}")
    arch = lookup.architecture(args.architecture)
    if args.input:
        arch = arch.with_input(parse_input(args.input))
    if args.classes is not None:
        arch = arch.with_classes(args.classes)
    result = table(arch, args.backend)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{arch.name}  input {list(arch.input_shape)}" + (f"  [{args.backend}]" if args.backend else ""))
    print(f"{'layer':28} {'type':24} {'output shape':18} {'params':>12}")
    for l in result["layers"]:
        print(f"{l['name']:28} {l['type']:24} {str(tuple(l['output_shape'])):18} {l['params']:>12,}")
    print(f"Total params: {result['total_params']:,}  Trainable: {result['trainable_params']:,}  "
          f"Non-trainable: {result['non_trainable_params']:,}")
    return 0
