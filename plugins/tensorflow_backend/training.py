"""Training with Keras' own pieces: keras.optimizers, its cross-entropy losses, model.fit on a
tf.data pipeline, and Keras preprocessing layers for augmentation. The rules for stopping
(divergence, early stopping, the user) live in workbench.training.Progress.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from workbench import augment as A
from workbench.training import Progress, TrainData, check_config, head_kind, optimizer_name


def make_optimizer(name: str, lr: float, momentum: float = 0.9):
    name = optimizer_name(name)
    o = keras.optimizers
    table = {
        "sgd": lambda: o.SGD(lr), "momentum": lambda: o.SGD(lr, momentum=momentum),
        "nesterov": lambda: o.SGD(lr, momentum=momentum, nesterov=True), "adagrad": lambda: o.Adagrad(lr),
        "adadelta": lambda: o.Adadelta(lr), "rmsprop": lambda: o.RMSprop(lr), "adam": lambda: o.Adam(lr),
        "adamax": lambda: o.Adamax(lr), "nadam": lambda: o.Nadam(lr), "amsgrad": lambda: o.Adam(lr, amsgrad=True),
    }
    return table[name]()


def _final_activation(model) -> str | None:
    act = getattr(model.layers[-1], "activation", None)
    return getattr(act, "__name__", None)


def loss_and_metric(model):
    """Cross-entropy for the model's head: from probabilities when it ends in softmax/sigmoid
    (Keras then reads the logits under them), from logits otherwise."""
    binary = head_kind(model.output_shape[-1]) == "binary"
    from_logits = _final_activation(model) not in ("softmax", "sigmoid")
    if binary:
        return (keras.losses.BinaryCrossentropy(from_logits=from_logits),
                keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if from_logits else 0.5))
    return (keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"))


# -- augmentation ---------------------------------------------------------------------------
def augmentation(spec: A.Augment, seed: int = 0) -> keras.Sequential:
    """ImageDataGenerator's settings as Keras preprocessing layers (random per image)."""
    L, fill = keras.layers, spec.fill_mode
    steps = []
    if spec.rotation_range:
        steps.append(L.RandomRotation(spec.rotation_range / 360.0, fill_mode=fill, seed=seed))
    if spec.shear_range:  # RandomShear takes a fraction: tan of the angle
        s = math.tan(math.radians(spec.shear_range))
        steps.append(L.RandomShear(x_factor=s, y_factor=0.0, fill_mode=fill, seed=seed + 1))
    if spec.width_shift_range or spec.height_shift_range:
        steps.append(L.RandomTranslation(spec.height_shift_range, spec.width_shift_range, fill_mode=fill,
                                         seed=seed + 2))
    if spec.zoom_range:
        steps.append(L.RandomZoom((-spec.zoom_range, spec.zoom_range), fill_mode=fill, seed=seed + 3))
    flips = "horizontal_and_vertical" if spec.horizontal_flip and spec.vertical_flip else \
        "horizontal" if spec.horizontal_flip else "vertical" if spec.vertical_flip else None
    if flips:
        steps.append(L.RandomFlip(flips, seed=seed + 4))
    return keras.Sequential(steps)


def augment(x: np.ndarray, spec, seed: int = 0) -> np.ndarray:
    """Augmented copies of NHWC images (for the preview grid)."""
    layers = augmentation(A.parse(spec), seed)
    return np.asarray(layers(tf.constant(x, tf.float32), training=True))


# -- training -------------------------------------------------------------------------------
def pipeline(x, y, batch_size: int, shuffle_seed: int | None = None, aug=None, binary=False):
    """tf.data: shuffle the indices each epoch, gather each batch in one op (as Keras' own array
    adapter does, rather than shuffling images one by one), augment on the fly, prefetch."""
    order = tf.data.Dataset.range(len(x))
    if shuffle_seed is not None:
        order = order.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    arrays = tf.data.Dataset.from_tensors((x, y.astype(np.float32) if binary else y)).repeat()
    ds = tf.data.Dataset.zip((arrays, order.batch(batch_size))).map(
        lambda xy, i: (tf.gather(xy[0], i), tf.gather(xy[1], i)), num_parallel_calls=tf.data.AUTOTUNE)
    if aug is not None:
        ds = ds.map(lambda a, b: (aug(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class _Report(keras.callbacks.Callback):
    """Hands Keras' per-epoch logs to Progress; batch hooks only when a stop can come mid-epoch."""

    def __init__(self, progress: Progress, watch_batches: bool):
        super().__init__()
        self.progress, self.epoch = progress, 0
        if watch_batches:
            self.on_train_batch_end = self._batch_end

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.progress.start_epoch()

    def _batch_end(self, batch, logs=None):
        if self.progress.interrupted() or (batch % 10 == 0 and not self.progress.batch(float(logs["loss"]), self.epoch)):
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        ok = self.progress.end_epoch(epoch + 1, logs.get("loss"), logs.get("accuracy"), logs.get("val_loss"),
                                     logs.get("val_accuracy"))
        if not ok:
            self.model.stop_training = True


def train(backend, model, data: TrainData, config, on_epoch=None) -> list[dict]:
    config = check_config(config)
    keras.utils.set_random_seed(config.seed)
    if not model.trainable_weights:
        raise ValueError("every layer is frozen: nothing to train (set_trainable from an earlier layer)")
    loss, metric = loss_and_metric(model)
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate, config.momentum),
                  loss=loss, metrics=[metric])
    binary = head_kind(model.output_shape[-1]) == "binary"
    spec = A.parse(config.augment)
    train_ds = pipeline(data.x, data.y, config.batch_size, config.seed,
                        augmentation(spec, config.seed) if spec.active else None, binary)
    val_ds = pipeline(data.x_val, data.y_val, 256, binary=binary) if data.has_val else None
    progress = Progress(config, on_epoch, data.stop, data.num_classes)
    # Batch hooks make Keras hand back every batch's logs (a sync); only pay that when asked
    # to watch for a stop between batches. NaN is still caught per epoch without them.
    report = _Report(progress, watch_batches=data.stop is not None)
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=[report], verbose=0,
              shuffle=False)  # tf.data already shuffles
    return progress.history


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> tuple[float, float]:
    """(mean loss, accuracy) in inference mode, with the loss train compiled."""
    binary = head_kind(model.output_shape[-1]) == "binary"
    if not getattr(model, "compiled", False):
        loss, metric = loss_and_metric(model)
        model.compile(loss=loss, metrics=[metric])
    out = model.evaluate(pipeline(x, y, batch_size, binary=binary), verbose=0, return_dict=True)
    return float(out["loss"]), float(out["accuracy"])

