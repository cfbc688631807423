"""How big an architecture may be, checked before anything is built.

An architecture file is read on a shared class server, so what it can expand to is bounded
here, in one place that the CLI, the API and the pages all go through (workbench.spec):

- the file's size, and in YAML the number of aliases (``*name``) and the nesting depth while
  it is read (``BoundedLoader``, a ``yaml.SafeLoader``), so a 1 KB file of anchors that double
  a block 25 times is refused in microseconds instead of expanding to millions of layers;
- the expanded size of what was read (every alias counted as the copy it stands for), its
  depth, and that nothing refers to itself (``check_data``), for JSON and YAML alike;
- the number of layers and the input size of a parsed architecture (``check_input_shape``);
- the memory its parameters need, against what the machine has (``check_memory``), before a
  backend allocates them.
"""

from __future__ import annotations

import os

from workbench.model.checks import SpecError

MAX_FILE_BYTES = 1 << 20  # the biggest shipped spec (DenseNet-121) is 38 KB
MAX_ALIASES = 500
MAX_NODES = 200_000  # values after expanding aliases; DenseNet-121 is about 5,000
MAX_DEPTH = 64  # lists and objects inside each other
MAX_LAYERS = 10_000  # DenseNet-121 has 428
MAX_SIDE = 16_384  # input height or width
MAX_INPUT_VALUES = 1 << 28  # height x width x channels of one input image
BYTES_PER_PARAM = 4  # float32


class LimitError(SpecError):
    """An architecture bigger than the workbench builds: says which bound and by how much."""


def check_file_size(size: int, what: str = "the file") -> None:
    if size > MAX_FILE_BYTES:
        raise LimitError("file", None, f"{what} is {size:,} bytes; an architecture file may be at most "
                                       f"{MAX_FILE_BYTES:,} bytes")


def bounded_yaml_loader():
    """A yaml.SafeLoader subclass that counts aliases and nesting depth while it composes."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def __init__(self, stream):
            super().__init__(stream)
            self.aliases = 0
            self.depth = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise LimitError("file", None, f"more than {MAX_ALIASES} YAML aliases (*name)")
                return super().compose_node(parent, index)
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise LimitError("file", None, f"nested more than {MAX_DEPTH} levels deep")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def load_yaml(text: str):
    """YAML text -> plain data, through the bounded safe loader."""

    loader = bounded_yaml_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def check_data(data) -> None:
    """Refuse data that expands (aliases counted as copies) past MAX_NODES values, nests deeper
    than MAX_DEPTH or contains itself. Shared lists and objects are measured once (memo by id),
    so the check is linear in what was read, however much it would expand to."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (expanded values, height)
    active: set[int] = set()

    def measure(value, depth: int) -> tuple[int, int]:
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        else:
            return 1, 0
        key = id(value)
        if key in sizes:
            size, height = sizes[key]
        else:
            if key in active:
                raise LimitError("file", None, "a YAML anchor contains itself (an endless architecture)")
            if depth > MAX_DEPTH:
                raise LimitError("file", None, f"nested more than {MAX_DEPTH} levels deep")
            active.add(key)
            size, height = 1, 0
            for child in children:
                s, h = measure(child, depth + 1)
                size, height = size + s, max(height, h + 1)
                if size > MAX_NODES:
                    raise LimitError("file", None, f"expands to more than {MAX_NODES:,} values "
                                                   "(YAML aliases count as the copies they stand for)")
            active.discard(key)
            sizes[key] = (size, height)
        if depth + height > MAX_DEPTH:
            raise LimitError("file", None, f"nested more than {MAX_DEPTH} levels deep")
        return size, height

    measure(data, 0)


def check_input_shape(shape) -> None:
    h, w, c = shape
    if max(h, w) > MAX_SIDE or h * w * c > MAX_INPUT_VALUES:
        raise LimitError("architecture", "input_shape",
                         f"{list(shape)} is too big: height and width at most {MAX_SIDE:,} and at most "
                         f"{MAX_INPUT_VALUES:,} values per image")


def check_layer_count(count: int) -> None:
    if count > MAX_LAYERS:
        raise LimitError("architecture", "layers", f"{count:,} layers; at most {MAX_LAYERS:,}")


def available_memory() -> int:
    """Bytes of memory this process can still have: $WORKBENCH_MEMORY_BYTES, else the kernel's
    MemAvailable (Linux), else the free physical pages."""
    env = os.environ.get("WORKBENCH_MEMORY_BYTES")
    if env:
        return int(env)
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 40  # unknown: do not refuse


def check_memory(table) -> None:
    """Refuse a model whose parameters alone (float32) would take over half the available memory:
    ``table`` is its workbench.shapes.ShapeTable, so nothing is allocated to find out."""
    need = table.total_params * BYTES_PER_PARAM
    budget = available_memory() // 2
    if need > budget:
        biggest = max(table.rows, key=lambda r: r.params)
        raise LimitError("architecture", None,
                         f"{table.total_params:,} parameters need {_size(need)} as float32, more than the "
                         f"{_size(budget)} this machine can spare; the biggest layer is {biggest.name} "
                         f"({biggest.type}, {biggest.params:,} parameters)")


def _size(n: int) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:,} bytes"
