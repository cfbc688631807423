"""The traps of transfer learning, made measurable.

- Frozen BatchNormalization with batch statistics (keras issue 9214): while training, a frozen
  base normalises each batch with that batch's mean and variance; at inference with the stored
  (ImageNet) statistics. The head learns on features it will never see again: high training
  accuracy, inference accuracy far lower. Keras 3's trainable=False runs frozen BatchNorm in
  inference mode; in PyTorch requires_grad=False alone leaves it in train mode (the workbench's
  default puts frozen layers in eval mode).
- The wrong input scale: a base fed [0, 1] pixels where its weights expect (pixel - 127) / 128
  sees inputs far from what it was trained on, and its stored statistics no longer fit.

`batch_norm_statistics` shows the cause per layer: how far the batch's statistics at each
BatchNormalization's input are from the ones it stored.
"""

from __future__ import annotations

import numpy as np


def batch_norm_statistics(backend, model, x: np.ndarray, limit: int = 12) -> list[dict]:
    """Per BatchNormalization (the first `limit`): the mean over channels of
    |batch mean - stored mean| / stored std, and of batch variance / stored variance, at its input
    (the output of the layer before it). 0 and 1 when the stored statistics fit these images."""
    names = backend.layer_names(model)
    norms = [i.name for i in backend.summary(model) if i.type == "BatchNormalization"][:limit]
    inputs = {n: names[names.index(n) - 1] for n in norms if names.index(n) > 0}
    weights = backend.get_weights(model)
    acts = backend.activations(model, x, sorted(set(inputs.values())))
    rows = []
    for n in norms:
        if n not in inputs or len(weights.get(n, [])) < 4:
            continue
        a = acts[inputs[n]].reshape(-1, acts[inputs[n]].shape[-1]).astype(np.float64)
        mean, var = weights[n][-2], weights[n][-1]  # Keras order: gamma, beta, moving mean, moving variance
        rows.append({"layer": n, "mean shift (stored std)": float(np.mean(np.abs(a.mean(0) - mean) / np.sqrt(var + 1e-3))),
                     "variance ratio": float(np.mean(a.var(0) / (var + 1e-3)))})
    return rows


def gap(run) -> dict:
    """Training accuracy as the run measured it (training mode) against the same images at inference."""
    last = run.history[-1] if run.history else {}
    train_mode = last.get("accuracy")
    inference = run.train_inference_accuracy
    return {"training-mode accuracy": train_mode, "inference accuracy (same images)": inference,
            "gap": None if train_mode is None or inference is None else round(train_mode - inference, 4)}
