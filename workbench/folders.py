"""Folders of images a user names (`folder:PATH`): where the app may read them, and what they hold.

On a class server every student types paths into the same process, so the app reads a folder
only inside the data roots: the data directory (`workbench.data.cache_dir()`), an uploads area
(`<data directory>/uploads`, or $WORKBENCH_UPLOADS_DIR), and what the instructor adds in
$WORKBENCH_DATA_ROOTS (paths joined by os.pathsep) or in `data_roots = [...]` of the config
file (`workbench.toml` in the folder the server starts in, or $WORKBENCH_CONFIG). The CLI, run
by the machine's own user, reads whatever that user can and never asks.

`fingerprint` names a folder's contents (file names, sizes, modification times), so a cache
keyed on it notices a folder changed or deleted after it was first loaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MAX_FILES = 200_000  # a folder scan stops here: folder:/ must not walk the whole disk (or /proc)


def config_file() -> Path:
    return Path(os.environ.get("WORKBENCH_CONFIG") or "workbench.toml")


def uploads_dir() -> Path:
    from workbench.data import cache_dir

    env = os.environ.get("WORKBENCH_UPLOADS_DIR")
    return Path(env) if env else cache_dir() / "uploads"


def data_roots() -> list[Path]:
    """The folders the app may read datasets from (resolved: no way out through '..' or links)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from workbench.data import cache_dir

    roots = [cache_dir(), uploads_dir()]
    roots += [Path(p) for p in os.environ.get("WORKBENCH_DATA_ROOTS", "").split(os.pathsep) if p.strip()]
    path = config_file()
    if path.is_file():
        try:
            listed = tomllib.loads(path.read_text()).get("data_roots", [])
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"the config file {path} is not valid TOML: {exc}") from None
        if isinstance(listed, str) or not all(isinstance(p, str) for p in listed):
            raise ValueError(f"data_roots in {path} must be a list of paths, e.g. data_roots = [\"/srv/images\"]")
        roots += [Path(p) for p in listed]
    return [r.expanduser().resolve() for r in roots]


def confine(path: str | os.PathLike) -> Path:
    """`path` resolved, if it lies inside a data root; else PermissionError saying where may be read."""
    resolved = Path(path).expanduser().resolve()
    roots = data_roots()
    if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise PermissionError(
            f"{path} is outside the folders this server reads datasets from ({', '.join(map(str, roots))}); "
            "put the images there, or ask the instructor to add the folder to WORKBENCH_DATA_ROOTS "
            "or data_roots in workbench.toml")
    return resolved


def files(path: Path):
    """Every file below `path` (os.walk: links to folders are not followed, unreadable folders are
    passed over), stopping with a clear error past MAX_FILES."""
    count = 0
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            count += 1
            if count > MAX_FILES:
                raise ValueError(f"{path} holds more than {MAX_FILES:,} files: point folder: at the dataset's "
                                 "own folder (one sub-folder per class)")
            yield Path(folder) / name


def fingerprint(path: str | os.PathLike) -> str | None:
    """A digest of the names, sizes and modification times below `path`; None if there is no folder."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    for f in files(root):
        try:
            st = f.stat()
        except OSError:  # vanished or unreadable while walking: it is part of what changed
            continue
        digest.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def dataset_contents(name: str) -> str | None:
    """What a `folder:PATH` dataset holds now (its fingerprint), for the caches keyed on a dataset's
    name, so that they load it again when its files change or it is deleted; None for a registered one."""
    return fingerprint(name.split(":", 1)[1]) if name.startswith("folder:") else None
