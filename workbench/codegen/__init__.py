""""Show the code": the Keras and the PyTorch code a student would write by hand for an architecture
and its training settings, as text (nothing here imports a framework).

``keras_code(arch, config)`` and ``torch_code(arch, config)`` return one runnable file each: the
model (keras.Sequential, or the functional API where the spec has branches; an ``nn.Module``), the
optimizer, the augmentation and the training loop, on random stand-in data of the right shape
that the student replaces with their own. Each framework keeps one table from spec layer type to
its code (``keras_writer.CODE``, ``torch_writer.CODE``), as each backend keeps one table to its layers.
"""

from __future__ import annotations

from workbench.codegen.common import Settings
from workbench.codegen.keras_writer import keras_code
from workbench.codegen.torch_writer import torch_code

GENERATORS = {"keras": keras_code, "pytorch": torch_code}

__all__ = ["GENERATORS", "Settings", "keras_code", "torch_code"]
