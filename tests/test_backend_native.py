"""Native (non-spec) models, as the pretrained zoo provides them, through the same protocol.

A torch native model names its layers with workbench.model_facts.attach (name -> module) and
returns logits; a Keras native model has named layers (optionally attached ones to pick the addressable ones)
and may end in a softmax that logits leave out. Oracles: the frameworks' own forward and
autograd on the raw models, and guided backpropagation chained by hand.
"""

import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = require("torch")
require("tensorflow")
import keras  # noqa: E402
from torch import nn  # noqa: E402

from workbench.backend import ChannelMean, ClassScore  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from workbench.spec import Architecture  # noqa: E402
from workbench.model_facts import arch_of, attach  # noqa: E402

X = np.random.default_rng(0).normal(0, 1, (3, 6, 6, 2)).astype(np.float32)


class TinyNative(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU())
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(3, num_classes)
        attach(self, layers={"stem": self.stem, "pool": self.pool, "fc": self.fc})

    def forward(self, x):
        return self.fc(self.pool(self.stem(x)))


def torch_builder(num_classes, seed):
    torch.manual_seed(seed)
    model = TinyNative(num_classes)
    with torch.no_grad():
        bn = model.stem[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.3, 0.3)
    return model


def keras_builder(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(3, 3, padding="same", name="stem_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs)


ARCH = Architecture(name="tiny-native", input_shape=(6, 6, 2), num_classes=4,
                    native={"pytorch": torch_builder, "tensorflow": keras_builder})


@pytest.fixture(scope="module")
def pair():
    backends = get_registry().backends()
    pt, tf = backends["pytorch"], backends["tensorflow"]
    tm, km = pt.build(ARCH, seed=1), tf.build(ARCH)
    # The same weights in the Keras model, converted here by hand (independently of the backends).
    conv, bn, fc = tm.stem[0], tm.stem[1], tm.fc
    km.get_layer("stem_conv").set_weights([conv.weight.detach().numpy().transpose(2, 3, 1, 0), conv.bias.detach().numpy()])
    km.get_layer("stem_bn").set_weights([t.detach().numpy() for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)])
    km.get_layer("fc").set_weights([fc.weight.detach().numpy().T, fc.bias.detach().numpy()])
    return pt, tf, tm, km


def test_native_models_forward_like_the_raw_frameworks(pair):
    pt, tf, tm, km = pair
    assert arch_of(tm) == ARCH and arch_of(km) == ARCH
    with torch.no_grad():
        raw = tm.eval()(torch.from_numpy(X).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(pt.logits(tm, X), raw, atol=1e-6)
    np.testing.assert_allclose(tf.logits(km, X), raw, atol=1e-5)  # Keras' final softmax left out
    np.testing.assert_allclose(tf.predict(km, X), np.asarray(km(X, training=False)), atol=1e-6)
    np.testing.assert_allclose(pt.predict(tm, X), tf.predict(km, X), atol=1e-5)
    acts = pt.activations(tm, X, ["stem", "pool"])
    assert acts["stem"].shape == (3, 6, 6, 3) and acts["pool"].shape == (3, 3)
    np.testing.assert_allclose(acts["stem"], tf.activations(km, X, ["stem"])["stem"], atol=1e-5)


def test_native_summaries_come_from_the_models(pair):
    pt, tf, tm, km = pair
    rows = {r.name: r for r in pt.summary(tm)}
    assert list(rows) == ["stem", "pool", "fc"]
    # conv 2*3*9 + 3, BN gamma/beta trainable, running mean/var not, num_batches_tracked not counted
    assert (rows["stem"].output_shape, rows["stem"].trainable, rows["stem"].non_trainable) == ((6, 6, 3), 63, 6)
    assert rows["fc"].output_shape == (4,) and rows["fc"].params == 16
    keras_rows = {r.name: r for r in tf.summary(km)}
    assert list(keras_rows) == ["stem_conv", "stem_bn", "stem", "pool", "fc"] == tf.layer_names(km)
    assert (keras_rows["stem_bn"].trainable, keras_rows["stem_bn"].non_trainable) == (6, 6)
    pt.set_trainable(tm, "pool")
    assert pt.summary(tm)[0].trainable == 0 and pt.summary(tm)[0].non_trainable == 69
    pt.set_trainable(tm, None)


def guided_by_hand(tm, x, k):
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_(True)
    z = tm.stem[1](tm.stem[0](xt))  # before the ReLU
    g = (tm.fc.weight[k] / 36).detach().reshape(1, 3, 1, 1).expand_as(z)  # d logit_k / d relu output
    g = g * (z > 0) * (g > 0)
    (gx,) = torch.autograd.grad(z, xt, g)
    return gx.permute(0, 2, 3, 1).detach().numpy()


def test_native_gradients_plain_and_guided(pair):
    pt, tf, tm, km = pair
    xt = torch.from_numpy(X).permute(0, 3, 1, 2).requires_grad_(True)
    (plain_want,) = torch.autograd.grad(tm.eval()(xt)[:, 2].sum(), xt)
    plain_want = plain_want.permute(0, 2, 3, 1).numpy()
    guided_want = guided_by_hand(tm, X, 2)
    for backend, model in ((pt, tm), (tf, km)):
        np.testing.assert_allclose(backend.gradients(model, X, ClassScore(2))[1], plain_want, atol=1e-5)
        np.testing.assert_allclose(backend.gradients(model, X, ClassScore(2), relu="guided")[1], guided_want, atol=1e-5)
        acts, grads = backend.gradients(model, X, ChannelMean("stem", 1), layer="stem")
        assert acts.shape == grads.shape == (3, 6, 6, 3)
        np.testing.assert_allclose(grads[..., 1], 1 / 36, rtol=1e-5)
        assert not grads[..., [0, 2]].any()
    assert not np.allclose(plain_want, guided_want)


def test_keras_attached_layers_pick_the_addressable_names(pair):
    pt, tf, tm, km = pair
    model = tf.build(ARCH)
    attach(model, layers={n: model.get_layer(n) for n in ("stem", "pool", "fc")})
    assert tf.layer_names(model) == pt.layer_names(tm) == ["stem", "pool", "fc"]
    with pytest.raises(ValueError, match="no layer named 'stem_bn'"):
        tf.activations(model, X, ["stem_bn"])


def test_images_that_do_not_fit_get_a_clear_message(pair):
    pt, tf, tm, km = pair
    for backend, model in ((pt, tm), (tf, km)):
        with pytest.raises(ValueError, match="2 channel"):
            backend.logits(model, np.zeros((1, 6, 6, 3), np.float32))
        with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
            backend.gradients(model, np.zeros((6, 6, 2), np.float32), ClassScore(0))


def test_native_head_resize_and_save_load(pair, tmp_path, monkeypatch):
    pt, tf, _, _ = pair
    import workbench.registry

    real = workbench.registry.get_registry()

    class Registry:  # the registry as load() sees it, with the tiny native registered
        def architectures(self):
            return {**real.architectures(), ARCH.name: ARCH}

    monkeypatch.setattr(workbench.registry, "get_registry", lambda: Registry())
    for backend in (pt, tf):
        model = backend.build(ARCH, num_classes=5)
        assert backend.logits(model, X).shape == (3, 5) and arch_of(model).num_classes == 5
        path = backend.save(model, tmp_path / backend.name)
        loaded = backend.load(path)
        np.testing.assert_array_equal(backend.logits(loaded, X), backend.logits(model, X))
