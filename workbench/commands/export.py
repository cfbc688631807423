"""`workbench export MODEL --format onnx|keras|safetensors --out PATH --json`.

MODEL is a saved model (what `workbench train --save` wrote: the weights, the architecture JSON
and the standardiser beside them). The exported file takes float32 NHWC pixels in [0, 1] with
the model's preprocessing folded in (workbench.export); it is read back (onnxruntime, Keras in
safe mode, each backend) on the check images and the largest difference in probabilities printed:
{"path", "format", "checked_images", "max_abs_diff", "layout", "input", "checked_with"}.
"""

from __future__ import annotations

import json

from workbench import lookup
from workbench.export import FORMATS, TOLERANCE, export_saved


def add_parser(sub):
    p = sub.add_parser("export", help="export a saved model to ONNX, .keras or safetensors, checked")
    p.add_argument("model", metavar="MODEL", help="a saved model (workbench train --save PATH)")
    p.add_argument("--format", required=True, choices=list(FORMATS))
    p.add_argument("--out", required=True, help="where to write it (the format's suffix is added when missing)")
    p.add_argument("--images", type=int, default=16, help="how many images to check it on (default 16)")
    p.add_argument("--dataset", help="check on this dataset's test images (default: seeded random images)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.images < 1:
        raise ValueError(f"--images must be at least 1, got {args.images}")
    dataset = lookup.dataset(args.dataset) if args.dataset else None
    report = export_saved(args.model, args.format, args.out, n=args.images, dataset=dataset)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        verdict = "equal" if report.faithful else f"NOT equal (more than {TOLERANCE:g})"
        print(f"wrote {report.path} ({report.format}: {report.layout} {report.input}, probabilities out)")
        print(f"checked on {report.checked_images} images with {', '.join(report.checked_with)}: largest "
              f"difference in probabilities {report.max_abs_diff:.2e}, {verdict}")
    return 0
