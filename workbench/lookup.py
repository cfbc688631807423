"""Find registered things by name (or an architecture by file path), with messages that help."""

from __future__ import annotations

from pathlib import Path

from workbench.registry import get_registry
from workbench.spec import Architecture, load_architecture_file


def architecture(name_or_file: str) -> Architecture:
    """A registered architecture by name, or a JSON/YAML architecture file by path."""
    registry = get_registry()
    if name_or_file in registry.architectures():
        return registry.architectures()[name_or_file]
    path = Path(name_or_file)
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        if not path.exists():
            raise FileNotFoundError(f"no architecture file {path}")
        if not path.is_file():
            raise ValueError(f"{path} is a folder, not an architecture file")
        return load_architecture_file(path)
    return registry.get("architectures", name_or_file)


def backend(name: str):
    aliases = {"torch": "pytorch", "tf": "tensorflow", "keras": "tensorflow"}
    return get_registry().get("backends", aliases.get(name, name))


def default_backend():
    """The first registered backend by name, for commands given none (an install may have only one)."""
    backends = get_registry().backends()
    if not backends:
        raise RuntimeError("no backend is installed: pip install 'cnn-workbench[torch]' or 'cnn-workbench[tensorflow]'")
    return backends[sorted(backends)[0]]


def dataset(name: str):
    registry = get_registry()
    if name.startswith("folder:"):
        factory = registry.datasets().get("folder")
        if factory is None:
            raise KeyError("no 'folder' dataset plugin is registered")
        return factory.at(name.split(":", 1)[1])
    return registry.get("datasets", name)
