"""A one-unit sigmoid head is a two-class classifier: P(class 1) = p, P(class 0) = 1 - p.

The backends' predict gives such a model's (N, 1) sigmoid, as training wants it. Explaining reads
probabilities by class index (the predicted class, occlusion's drop, LIME's fit, deletion curves),
so it sees the two columns [1 - p, p]; otherwise every image would be "class 0" and a non-face
would be explained as a face. The gradient side is workbench.graph.class_weights: class 0 of a
one-unit head is its negative logit.
"""

from __future__ import annotations

from workbench.graph import two_columns


class TwoClassHead:
    """The backend, with predict giving a one-unit head's two classes; everything else as is."""

    def __init__(self, backend):
        self.backend = backend

    def predict(self, model, x, batch_size=64):
        return two_columns(self.backend.predict(model, x, batch_size=batch_size))

    def __getattr__(self, name):
        return getattr(self.backend, name)


def two_class_view(backend):
    """Wrap a backend once (wrapping an already wrapped one returns it)."""
    return backend if isinstance(backend, TwoClassHead) else TwoClassHead(backend)
