"""`workbench ui`: start the Streamlit app (same as `streamlit run workbench/app.py`)."""

import os
import sys
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("ui", help="start the Streamlit app in the browser")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=run)


def run(args) -> int:
    app = Path(__file__).resolve().parent.parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    # replace this process, so that Ctrl-C or killing `workbench ui` stops the server itself
    os.execv(sys.executable, cmd)
