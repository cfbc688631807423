"""PyTorch checkpoint -> Keras weights, in numpy only (no torch, no tensorflow here).

The layout maths a student can check by hand:

    Conv2d kernel      torch (out, in, kh, kw)   -> Keras (kh, kw, in, out)
    depthwise kernel   torch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
    Linear weight      torch (out, in)           -> Keras Dense kernel (in, out)
    BatchNorm          weight, bias, running_mean, running_var -> gamma, beta, moving_mean, moving_variance
"""

from __future__ import annotations

import numpy as np

State = dict[str, np.ndarray]


def conv_kernel(w: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def depthwise_kernel(w: np.ndarray) -> np.ndarray:
    if w.shape[1] != 1:
        raise ValueError(f"a depthwise kernel has one input channel per group, got shape {w.shape}")
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1))


def dense_kernel(w: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(w.T)


def efficientnet_weights(state: State, num_blocks: int) -> dict[str, list[np.ndarray]]:
    """efficientnet-lite-pytorch's state dict -> {Keras layer name: weights} for efficientnet_keras.

    Every tensor of the checkpoint must be used exactly once: a leftover means the two models
    differ, and the port would be silently wrong.
    """
    used: set[str] = set()

    def take(key: str) -> np.ndarray:
        used.add(key)
        return np.asarray(state[key], dtype=np.float32)

    def bn(prefix: str) -> list[np.ndarray]:
        return [take(k) for k in (f"{prefix}.weight", f"{prefix}.bias", f"{prefix}.running_mean", f"{prefix}.running_var")]

    out = {"stem_conv": [conv_kernel(take("_conv_stem.weight"))], "stem_bn": bn("_bn0")}
    for i in range(num_blocks):
        p = f"_blocks.{i}"
        if f"{p}._expand_conv.weight" in state:
            out[f"block_{i}_expand_conv"] = [conv_kernel(take(f"{p}._expand_conv.weight"))]
            out[f"block_{i}_expand_bn"] = bn(f"{p}._bn0")
        out[f"block_{i}_dwconv"] = [depthwise_kernel(take(f"{p}._depthwise_conv.weight"))]
        out[f"block_{i}_bn"] = bn(f"{p}._bn1")
        out[f"block_{i}_project_conv"] = [conv_kernel(take(f"{p}._project_conv.weight"))]
        out[f"block_{i}_project_bn"] = bn(f"{p}._bn2")
    out["head_conv"] = [conv_kernel(take("_conv_head.weight"))]
    out["head_bn"] = bn("_bn1")
    out["logits"] = [dense_kernel(take("_fc.weight")), take("_fc.bias")]
    left = sorted(k for k in state if k not in used and not k.endswith("num_batches_tracked"))
    if left:
        raise ValueError(f"the checkpoint has tensors the Keras model does not use: {', '.join(left[:5])}")
    return out
