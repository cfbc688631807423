"""Backend gradients against independent oracles.

- Central finite differences in float64 on a double-precision copy of the same tiny model
  (batched: every perturbed copy of every image in one forward), for the three targets, with
  respect to the input and to named layers, in both backends (same weights).
- Guided backpropagation against a hand-chained backward pass (the guided rule applied by
  hand between plain autograd steps through each conv), plus its defining property: the
  gradient at a ReLU's input is never negative and is zero where that input is not positive.
"""

import copy
import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = require("torch")
require("tensorflow")
F = torch.nn.functional

from workbench import spec as S  # noqa: E402
from workbench.backend import ChannelMean, ClassScore, Neuron  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from workbench.model_facts import layers_of  # noqa: E402

TINY = S.parse_architecture({
    "name": "tiny-grad", "input_shape": [6, 5, 2], "num_classes": 3, "layers": [
        # smooth activations before max-pooling: ReLU zeros would tie in the max, where finite
        # differences split the gradient and backprop picks one input
        {"type": "Conv2D", "name": "conv_a", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "swish"},
        {"type": "BatchNormalization", "name": "bn"},
        {"type": "MaxPooling2D", "name": "pool", "padding": "same"},
        {"type": "Conv2D", "name": "conv_b", "filters": 4, "kernel_size": 2, "activation": "tanh"},
        {"type": "Flatten", "name": "flat"},
        {"type": "Dense", "name": "out", "activation": "softmax"},
    ]})


@pytest.fixture(scope="module")
def backends():
    found = get_registry().backends()
    return found["pytorch"], found["tensorflow"]


@pytest.fixture(scope="module")
def models(backends):
    """The same weights (non-trivial BatchNorm statistics included) in both backends."""
    pt, tf = backends
    torch_model = pt.build(TINY, seed=3)
    weights = pt.get_weights(torch_model)
    rng = np.random.default_rng(0)
    c = weights["bn"][0].shape
    weights["bn"] = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c), rng.normal(0.2, 0.2, c), rng.uniform(0.3, 2.0, c)]
    weights = {k: [np.asarray(a, np.float32) for a in v] for k, v in weights.items()}
    pt.set_weights(torch_model, weights)
    keras_model = tf.build(TINY, seed=9)
    tf.set_weights(keras_model, weights)
    return {"pytorch": torch_model, "tensorflow": keras_model}


X = np.random.default_rng(1).normal(0.5, 0.5, (2, 6, 5, 2)).astype(np.float32)


# -- the float64 finite-difference oracle -----------------------------------------------
def _per_image_value(target, outputs, logits, image_of_row):
    """The target's value per row, written directly on NCHW tensors (not the backends' code)."""
    if isinstance(target, ClassScore):
        index = np.broadcast_to(np.asarray(target.index), (image_of_row.max() + 1,))[image_of_row]
        return logits[torch.arange(len(index)), torch.as_tensor(index)]
    out = outputs[target.layer]
    if isinstance(target, ChannelMean):
        return out[:, target.channel].mean(dim=(1, 2))
    if out.dim() == 2:
        return out[:, target.channel]
    return out[:, target.channel, target.row, target.col]


def finite_differences(model, x, target, layer=None, eps=1e-6):
    """d target / d (input or layer output), per image, NHWC, by central differences in float64."""
    m = copy.deepcopy(model).double().eval()
    layers = layers_of(m)
    x64 = torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2)
    state = {}

    def capture(name):
        def hook(module, inputs, output):
            if name == layer and state.get("delta") is not None:
                output = output + state["delta"]
            state.setdefault("outputs", {})[name] = output
            return output
        return hook

    names = {n for n in (layer, getattr(target, "layer", None)) if n}
    hooks = [layers[n].register_forward_hook(capture(n)) for n in names]
    hooks.append(layers["out"].linear.register_forward_hook(lambda mod, i, o: state.__setitem__("logits", o)))
    try:
        with torch.no_grad():
            m(x64)
            base = x64 if layer is None else state["outputs"][layer]
            base_nhwc = base.permute(0, 2, 3, 1) if base.dim() == 4 else base
            n, shape = len(x), tuple(base_nhwc.shape[1:])
            d = int(np.prod(shape))
            image_of_row = np.repeat(np.arange(n), 2 * d)
            bump = torch.zeros((n, d, 2, d), dtype=torch.float64)
            idx = torch.arange(d)
            bump[:, idx, 0, idx], bump[:, idx, 1, idx] = eps, -eps
            bump = bump.reshape(n * d * 2, *shape)
            if bump.dim() == 4:
                bump = bump.permute(0, 3, 1, 2)
            batch = x64[torch.as_tensor(image_of_row)]
            if layer is None:
                batch, state["delta"] = batch + bump, None
            else:
                state["delta"] = bump
            state["outputs"] = {}
            m(batch)
            values = _per_image_value(target, state["outputs"], state["logits"], image_of_row).reshape(n, d, 2)
    finally:
        for h in hooks:
            h.remove()
    grad = (values[..., 0] - values[..., 1]) / (2 * eps)
    return base_nhwc.numpy(), grad.reshape(n, *shape).numpy()


CASES = [
    (ClassScore(1), None),
    (ClassScore([0, 2]), "bn"),
    (ChannelMean("conv_b", 1), None),
    (ChannelMean("conv_b", 3), "pool"),
    (Neuron("conv_a", 2, 1, 3), None),
    (Neuron("out", 1), "conv_b"),  # a Dense unit (after softmax), w.r.t. a conv layer
]


@pytest.mark.parametrize("backend_name", ["pytorch", "tensorflow"])
@pytest.mark.parametrize("target,layer", CASES, ids=[f"{type(t).__name__}-{l}" for t, l in CASES])
def test_gradients_match_finite_differences(backends, models, backend_name, target, layer):
    backend = dict(zip(["pytorch", "tensorflow"], backends))[backend_name]
    acts, grads = backend.gradients(models[backend_name], X, target, layer=layer)
    want_acts, want = finite_differences(models["pytorch"], X, target, layer)
    assert grads.shape == want.shape == acts.shape
    np.testing.assert_allclose(acts, want_acts, rtol=1e-5, atol=1e-5)
    assert np.abs(want).max() > 1e-3  # the case really exercises a gradient
    np.testing.assert_allclose(grads, want, rtol=1e-3, atol=1e-5 * np.abs(want).max())


def test_target_before_layer_has_zero_gradient(backends, models):
    for backend, model in zip(backends, models.values()):
        _, grads = backend.gradients(model, X, ChannelMean("conv_a", 0), layer="conv_b")
        assert grads.shape == (2, 2, 2, 4) and not grads.any()


def test_bad_targets_get_clear_errors(backends, models):
    for backend, model in zip(backends, models.values()):
        with pytest.raises(ValueError, match="no layer named 'nope'"):
            backend.gradients(model, X, ChannelMean("nope", 0))
        with pytest.raises(ValueError, match="channels"):
            backend.gradients(model, X, ChannelMean("conv_b", 9))
        with pytest.raises(ValueError, match="classes"):
            backend.gradients(model, X, ClassScore(5))
        with pytest.raises(ValueError, match="outside"):
            backend.gradients(model, X, Neuron("conv_a", 0, 6, 0))
        with pytest.raises(ValueError, match="needs row and col"):
            backend.gradients(model, X, Neuron("conv_a", 0))
        with pytest.raises(ValueError, match="guided"):
            backend.gradients(model, X, ClassScore(0), relu="backwards")


# -- guided backpropagation -------------------------------------------------------------
GUIDED = S.parse_architecture({
    "name": "tiny-guided", "input_shape": [5, 5, 2], "num_classes": 3, "layers": [
        {"type": "Conv2D", "name": "conv_1", "filters": 3, "kernel_size": 3, "padding": "same"},
        {"type": "Activation", "name": "relu_1", "activation": "relu"},
        {"type": "Conv2D", "name": "conv_2", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "Flatten", "name": "flat"},
        {"type": "Dense", "name": "out"},
    ]})


def guided_by_hand(weights, x, k):
    """Guided backprop chained by hand: plain autograd through each conv, the guided rule at each ReLU."""
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64))  # noqa: E731
    (k1, b1), (k2, b2), (kd, _) = weights["conv_1"], weights["conv_2"], weights["out"]
    x = t(x).permute(0, 3, 1, 2).requires_grad_(True)
    z1 = F.conv2d(x, t(k1).permute(3, 2, 0, 1), t(b1), padding=1)  # 3x3 "same", stride 1: pad 1
    a1 = z1.clamp(min=0).detach().requires_grad_(True)
    z2 = F.conv2d(a1, t(k2).permute(3, 2, 0, 1), t(b2))
    g_a2 = t(kd)[:, k].reshape(1, 3, 3, 4).permute(0, 3, 1, 2).expand_as(z2)  # d logit_k / d a2 (HWC flatten)
    g_z2 = g_a2 * (z2 > 0) * (g_a2 > 0)
    (g_a1,) = torch.autograd.grad(z2, a1, g_z2)
    g_z1 = g_a1 * (z1 > 0) * (g_a1 > 0)
    (g_x,) = torch.autograd.grad(z1, x, g_z1)
    nhwc = lambda v: v.detach().permute(0, 2, 3, 1).numpy()  # noqa: E731
    return nhwc(g_x), nhwc(z1), nhwc(g_z1)


@pytest.mark.parametrize("backend_name", ["pytorch", "tensorflow"])
def test_guided_relu_matches_hand_computation(backends, backend_name):
    pt, tf = backends
    backend = pt if backend_name == "pytorch" else tf
    model = backend.build(GUIDED, seed=5)
    x = np.random.default_rng(2).normal(0, 1, (3, 5, 5, 2)).astype(np.float32)
    want_x, z1, want_z1 = guided_by_hand(backend.get_weights(model), x, k=2)

    _, guided_x = backend.gradients(model, x, ClassScore(2), relu="guided")
    np.testing.assert_allclose(guided_x, want_x, rtol=1e-4, atol=1e-6)

    acts, guided_z1 = backend.gradients(model, x, ClassScore(2), layer="conv_1", relu="guided")
    np.testing.assert_allclose(acts, z1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(guided_z1, want_z1, rtol=1e-4, atol=1e-6)
    # What passes relu_1 backwards is only positive gradient, only where its input was positive.
    assert (guided_z1 >= 0).all() and not guided_z1[z1 <= 0].any() and guided_z1.any()

    _, plain_z1 = backend.gradients(model, x, ClassScore(2), layer="conv_1", relu="plain")
    _, plain_x = backend.gradients(model, x, ClassScore(2))
    assert (plain_z1 < 0).any()  # the plain gradient does carry negative values ...
    assert not np.allclose(plain_x, guided_x)  # ... so the two differ
    # Guided mode is only for the call: the model computes plain gradients again afterwards.
    np.testing.assert_allclose(backend.gradients(model, x, ClassScore(2))[1], plain_x, rtol=1e-6)
