"""The floor for `workbench bench optimize`: n bare gradient evaluations of a surface with
TensorFlow's GradientTape, compiled as the race is (one tf.function loop), no optimizer."""

import numpy as np
import tensorflow as tf

from .optimize import OPS

_COMPILED = {}


def floor(formula, start, n: int) -> None:
    if formula.text not in _COMPILED:
        v = tf.Variable(np.asarray(start, dtype=np.float64))

        @tf.function
        def loop(n):
            total = tf.zeros([2], tf.float64)
            for _ in tf.range(n):
                with tf.GradientTape() as tape:
                    loss = formula.evaluate(v[0], v[1], OPS)
                total += tape.gradient(loss, v)
            return total

        _COMPILED[formula.text] = loop
    _COMPILED[formula.text](tf.constant(int(n))).numpy()
