"""A frozen base computes the same output for an image every epoch and every seed: compute it
once (`Features`), then train the head alone on it (`train_cached_head`), or fit scikit-learn's
LogisticRegression on pooled features from a chosen stage ("CNNs part II": extract
representations from different stages and train an external classifier).

Both only when nothing random runs before the head: no augmentation, and frozen layers in
inference mode (not the batch-statistics trap), so the cached features are exactly what the
head would see through the base.
"""

from __future__ import annotations

import numpy as np

from workbench.backend import TrainConfig
from workbench.training import TrainData, predicted
from workbench.transfer.bases import head_architecture


class Features:
    """Per split, the outputs of one layer of a model for every image, computed on first use."""

    def __init__(self, backend, model, splits: dict):
        self.backend, self.model, self.splits = backend, model, splits
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def of(self, layer: str, split: str, pooled: bool = False) -> np.ndarray:
        key = (layer, split)
        if key not in self._cache:
            x = self.splits[split][0]
            self._cache[key] = self.backend.activations(self.model, x, [layer])[layer]
        out = self._cache[key]
        if pooled and out.ndim == 4:  # global average pooling, NHWC
            out = out.mean(axis=(1, 2))
        return out.reshape(len(out), -1) if pooled else out

    @property
    def computed(self) -> int:
        """Images pushed through the base so far (each once per layer asked for)."""
        return sum(len(v) for v in self._cache.values())


def before(names: list[str], layer: str) -> str:
    i = names.index(layer)
    if i == 0:
        raise ValueError(f"{layer} is the first layer: there is no base before it to cache")
    return names[i - 1]


def head_inputs(backend, model, arch, features: Features, head_from: str):
    """The layers from `head_from` on as a model spec of their own, and per split the cached
    features before them shaped as its input (with their labels)."""
    names = backend.layer_names(model)
    source = before(names, head_from)
    head_arch = head_architecture(arch, names, head_from, features.of(source, "train").shape[1:])
    shape = (-1,) + tuple(head_arch.input_shape)
    return head_arch, {s: (features.of(source, s).reshape(shape), y) for s, (_, y) in features.splits.items()}


def train_cached_head(backend, model, arch, features: Features, head_from: str, config: TrainConfig,
                      on_epoch=None, stop=None):
    """Train the layers from `head_from` on cached features, starting from the model's own head
    weights, and write them back into the model. Returns (history, test probabilities, head)."""
    head_arch, splits = head_inputs(backend, model, arch, features, head_from)
    head = backend.build(head_arch, seed=config.seed)
    tail = set(backend.layer_names(head))
    backend.set_weights(head, {k: v for k, v in backend.get_weights(model).items() if k in tail})
    data = TrainData(*splits["train"], *splits.get("val", (None, None)), stop=stop)
    history = backend.train(head, data, config, on_epoch)
    backend.set_weights(model, backend.get_weights(head))
    return history, predicted(backend, head, splits["test"][0])[0], head


def fit_logistic(features: Features, stage: str, num_classes: int, seed: int = 0):
    """LogisticRegression on the stage's pooled features (train), scored on val and test.
    Returns (classifier, {split: (probabilities per class, labels)}); a class missing from a
    small training split gets probability 0."""
    x = features.of(stage, "train", pooled=True)
    clf = logistic(seed).fit(x, features.splits["train"][1])
    out = {}
    for s in ("val", "test"):
        if s in features.splits:
            probs = np.zeros((len(features.splits[s][1]), num_classes))
            probs[:, clf.classes_] = clf.predict_proba(features.of(stage, s, pooled=True))
            out[s] = (probs, features.splits[s][1])
    return clf, out


def logistic(seed: int = 0):
    """The external classifier: scikit-learn's defaults (L2, C=1, lbfgs), iterations to converge."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=3000, random_state=seed)
