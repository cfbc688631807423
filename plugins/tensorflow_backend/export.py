"""The .keras export: a functional model of Keras' own layers that takes NHWC pixels in [0, 1]
(an InputTransform layer first) and gives class probabilities; read back with
keras.saving.load_model in safe mode (no code from the file runs; the layers here are registered).

A spec model is wired afresh behind the transform and given the trained weights, so that the
workbench's model itself is left as it was (a layer applied in two graphs would have two outputs).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from workbench import graph
from workbench.export import imported_architecture
from workbench.model_facts import arch_of, attach
from .builder import free_name, model_name, spec_graph
from .inference import final_layer

FORMATS = {"keras": ".keras"}
READS = (".keras",)


@keras.saving.register_keras_serializable(package="cnn_workbench")
class InputTransform(keras.layers.Layer):
    """Pixels in [0, 1] to what the model was fed in training: channels reversed (RGB -> BGR)
    when asked, then x * scale + offset (a pretrained model's normalisation, the per-pixel
    standardisation of its training split). scale and offset are stored as (H, W, C) weights."""

    def __init__(self, shape, bgr: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.bgr = tuple(shape), bool(bgr)
        self.scale = self.add_weight(shape=self.image_shape, initializer="ones", trainable=False, name="scale")
        self.offset = self.add_weight(shape=self.image_shape, initializer="zeros", trainable=False, name="offset")

    def call(self, x):
        if self.bgr:
            x = keras.ops.flip(x, axis=-1)
        return x * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "shape": list(self.image_shape), "bgr": self.bgr}


def _probabilities(model, outputs, arch):
    """The model's outputs as probabilities: a final softmax / sigmoid stays, logits get one."""
    if final_layer(model) is not None:
        return outputs
    name = free_name(arch, ("probabilities", "workbench_probabilities")) if arch.is_spec else "probabilities"
    return keras.layers.Activation("sigmoid" if outputs.shape[-1] == 1 else "softmax", name=name)(outputs)


def write(model, path, fmt: str, transform):
    arch = arch_of(model)
    inputs = keras.Input(shape=arch.input_shape, name="pixels")
    if arch.is_spec:
        step = InputTransform(arch.input_shape, transform.bgr, name=free_name(arch, ("input_transform", "pixels_in")))
        wired = keras.Model(inputs, spec_graph(arch, step(inputs), seed=0))
        for name in graph.layer_names(arch):  # the trained numbers, layer by layer
            wired.get_layer(name).set_weights(model.get_layer(name).get_weights())
        outputs = _probabilities(model, wired.outputs[0], arch)
    else:  # a native model: a copy of it (keras.models.clone_model) as one layer behind the transform
        step = InputTransform(arch.input_shape, transform.bgr, name="input_transform")
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        outputs = _probabilities(model, clone(step(inputs)), arch)
    step.set_weights([np.asarray(transform.scale, np.float32), np.asarray(transform.offset, np.float32)])
    exported = keras.Model(inputs, outputs, name=model_name(arch.name))
    _plain_initializers(exported)
    path = Path(path)
    exported.save(str(path))
    return path


def _plain_initializers(model) -> None:
    """The builder hands each layer its starting values as a Python function, which a .keras file
    cannot hold (and safe mode would refuse): the trained weights are set, so Keras' default
    initializer takes its place in the file."""
    for layer in model._flatten_layers():
        for attr in ("kernel_initializer", "depthwise_initializer", "pointwise_initializer"):
            if not isinstance(getattr(layer, attr, None), (keras.initializers.Initializer, type(None))):
                setattr(layer, attr, keras.initializers.GlorotUniform())


def read(path):
    """A .keras file, safely: Keras' own loader in safe mode (its layers: Keras' and the ones
    registered here); the model gets an architecture of its sizes (workbench.export)."""
    model = keras.saving.load_model(str(path), safe_mode=True, compile=False)
    attach(model, arch=imported_architecture(Path(path).name, model.input_shape[1:], model.output_shape[-1]))
    return model
