"""The `workbench` command. Each subcommand lives in workbench/commands/<name>.py with
`add_parser(subparsers)` and `run(args) -> int`; errors print one clear line, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

COMMANDS = ("plugins", "list", "shapes", "ui", "train", "explain", "transfer", "optimize", "regularise", "jobs", "bench",
            "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="CNN Workbench: teach and explore convolutional networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"workbench.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError, RuntimeError) as exc:  # OSError: missing file, a folder, no permission
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": message}))
        print(f"workbench {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
