"""What a backend plugin contributes beside the backend itself, found through the registry:

- ``NativeBuilder``: how that backend builds a registered native architecture (a pretrained zoo
  model), keyed by the architecture's name; the registry joins it into ``Architecture.native``,
  so the plugin that registers an architecture never names another plugin's modules;
- ``Benchmark``: a baseline only that framework can run (a plain training loop, the framework's
  explanation libraries), for ``workbench bench``.

Both name a function of the plugin's own package as ``"module:function"``, imported on the first
call, so that discovering plugins never imports a framework.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


def resolve(function: str):
    """``"package.module:function"`` -> the function (imported now)."""
    module, _, name = function.partition(":")
    if not module or not name:
        raise ValueError(f"a contributed function is named 'module:function', got {function!r}")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class NativeBuilder:
    """``backend``'s builder of the registered architecture ``architecture``.

    Called as the architecture's ``native[backend](input_shape=..., num_classes=..., seed=...)``
    (``args`` first, e.g. which zoo model). ``preprocessing`` is this backend's input recipe when
    its weights want another than the architecture's own (torchvision's and keras.applications'
    VGG16 are different weights, each with its own normalisation)."""

    architecture: str
    backend: str
    function: str
    args: tuple = ()
    preprocessing: Any = None  # workbench.imagenet.Preprocessing

    @property
    def name(self) -> str:
        return f"{self.architecture}@{self.backend}"

    def __call__(self, **kwargs):
        return resolve(self.function)(*self.args, **kwargs)


@dataclass(frozen=True)
class Benchmark:
    """A baseline ``workbench bench <target>`` measures ``backend`` against.

    target "train": ``function(model, x, y, batch_size, epochs, learning_rate)`` trains the model the
    framework's plain way (``workbench bench train``; ``bench transfer`` on a base's cached features). target "explain": ``function(backend, model, x, targets, layer, **options)``
    returns {"ratios", "agreement", "seconds", ...} (see workbench.commands.bench_explain)."""

    target: str
    backend: str
    function: str
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.target}@{self.backend}"

    def __call__(self, *args, **kwargs):
        return resolve(self.function)(*args, **kwargs)


# -- for native builders: the argument checks every backend's builder makes ---------------------
def registered_architecture(name: str):
    """The registered architecture a native builder builds (its name, classes, where to explain)."""
    from workbench.registry import get_registry

    return get_registry().get("architectures", name)


def native_request(name: str, input_shape=None, num_classes=None):
    """The architecture a native builder should build for this request: the registered one, or,
    for a model with ``new_head``, the same with ``num_classes`` (its own class names dropped).
    A native model's input size is fixed (its padding was computed for it)."""
    import dataclasses

    arch = registered_architecture(name)
    if input_shape is not None and tuple(input_shape) != tuple(arch.input_shape):
        h, w, c = arch.input_shape
        raise ValueError(f"{arch.name} takes {h}x{w}x{c} images (its padding is fixed for that size), got "
                         f"{tuple(input_shape)}: resize with its preprocessing (workbench.imagenet.preprocess)")
    if num_classes is None or num_classes == arch.num_classes:
        return arch
    if not arch.new_head:
        raise ValueError(f"{arch.name} is loaded as the {arch.num_classes}-class model it was trained as; "
                         "fine-tune a model that can take a new head")
    return dataclasses.replace(arch, num_classes=num_classes, class_names=None)


def build_native(builders: list[NativeBuilder], name: str):
    """A backend's pretrained model by name ("vgg16" or "vgg16-imagenet"): one of its ``builders``,
    called with the registered architecture's defaults."""
    known = {b.architecture: b for b in builders}
    builder = known.get(name) or known.get(f"{name}-imagenet")
    if builder is None:
        raise KeyError(f"no pretrained model {name!r}; known: {', '.join(known)}")
    return builder()
