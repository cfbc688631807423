"""Training with PyTorch's own pieces: torch.optim, nn.functional losses on logits, a
DataLoader over a TensorDataset, torchvision.transforms.v2 augmentation. The rules for
stopping (divergence, early stopping, the user) live in workbench.training.Progress.
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from .inference import logits_mode
from workbench import augment as A
from workbench.training import Progress, TrainData, check_config, head_kind, optimizer_name
from .weights import owned

NAN_CHECK_EVERY = 10  # batches between reading the loss back (each read waits for a GPU)


def make_optimizer(params, name: str, lr: float, momentum: float = 0.9):
    name = optimizer_name(name)
    table = {
        "sgd": lambda: torch.optim.SGD(params, lr=lr),
        "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=momentum),
        "nesterov": lambda: torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr),
        "adadelta": lambda: torch.optim.Adadelta(params, lr=lr),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, alpha=0.9),  # Keras' rho 0.9 (seed 004's 0.9)
        "adam": lambda: torch.optim.Adam(params, lr=lr),
        "adamax": lambda: torch.optim.Adamax(params, lr=lr),
        "nadam": lambda: torch.optim.NAdam(params, lr=lr),
        "amsgrad": lambda: torch.optim.Adam(params, lr=lr, amsgrad=True),
    }
    return table[name]()


def loss_and_correct(logits, y):
    """Mean loss on logits, and the number of correct predictions (as tensors, no sync)."""
    if head_kind(logits.shape[-1]) == "binary":
        logits = logits.reshape(-1)
        return F.binary_cross_entropy_with_logits(logits, y.float()), ((logits > 0).long() == y).sum()
    return F.cross_entropy(logits, y), (logits.argmax(1) == y).sum()


# -- augmentation ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _affine_class():
    from torchvision.transforms import v2

    class Affine(v2.RandomAffine):
        """RandomAffine whose zoom is Keras' (and ImageDataGenerator's): a factor u drawn uniformly
        in [1 - z, 1 + z] *shrinks* the content by u, i.e. magnifies it by 1 / u, where
        RandomAffine's own ``scale`` would draw the magnification itself uniformly."""

        def __init__(self, zoom_range: float = 0.0, **kwargs):
            super().__init__(**kwargs)
            self.zoom_range = zoom_range

        def make_params(self, flat_inputs):
            params = super().make_params(flat_inputs)
            if self.zoom_range:
                params["scale"] = 1.0 / torch.empty(1).uniform_(1 - self.zoom_range, 1 + self.zoom_range).item()
            return params

    return Affine


def _pad(x, ph: int, pw: int, fill_mode: str):
    """Pad a CHW image as Keras fills: nearest repeats the edge, wrap tiles, and reflect mirrors
    *about the edge pixel's outer side* (d c b a | a b c d), which torch's "reflect" does not
    (it leaves the edge out: d c b | a b c d), so reflect is written with flips."""
    if fill_mode == "reflect":
        h, w = x.shape[-2:]
        rows = torch.cat([x[..., :ph, :].flip(-2), x, x[..., h - ph:, :].flip(-2)], dim=-2)
        return torch.cat([rows[..., :pw].flip(-1), rows, rows[..., w - pw:].flip(-1)], dim=-1)
    return F.pad(x[None], (pw, pw, ph, ph), mode={"nearest": "replicate", "wrap": "circular"}[fill_mode])[0]


def transform(spec: A.Augment):
    """torchvision v2 transforms for one CHW image. Fill modes other than constant are made by
    padding a whole image on every side before the affine warp and cropping back after."""
    from torchvision.transforms import v2

    def affine(shift_w: float, shift_h: float):
        return _affine_class()(
            zoom_range=spec.zoom_range, degrees=spec.rotation_range,
            translate=(shift_w, shift_h) if shift_w or shift_h else None,
            shear=(-spec.shear_range, spec.shear_range) if spec.shear_range else None,
            interpolation=v2.InterpolationMode.BILINEAR, fill=0.0)

    steps = []
    if spec.rotation_range or spec.width_shift_range or spec.height_shift_range or spec.shear_range or spec.zoom_range:
        if spec.fill_mode == "constant":
            steps.append(affine(spec.width_shift_range, spec.height_shift_range))
        else:
            def padded(x):
                h, w = x.shape[-2:]
                big = _pad(x, h, w, spec.fill_mode)
                # RandomAffine's shifts are fractions of the image it sees: the padded one
                warp = affine(spec.width_shift_range * w / big.shape[-1], spec.height_shift_range * h / big.shape[-2])
                return warp(big)[..., h:2 * h, w:2 * w]
            steps.append(padded)
    if spec.horizontal_flip:
        steps.append(v2.RandomHorizontalFlip())
    if spec.vertical_flip:
        steps.append(v2.RandomVerticalFlip())
    return v2.Compose(steps)


def _augmented_batches(spec: A.Augment):
    """A collate_fn over a whole batch that draws fresh augmentation parameters for every image."""
    t = transform(spec)

    def collate(batch):
        xb, yb = batch
        return torch.stack([t(x) for x in xb]), yb
    return collate


def batches(dataset: TensorDataset, batch_size: int, shuffle: bool = False, seed: int = 0, collate_fn=None):
    """A DataLoader that fetches each batch with one indexing op (TensorDataset accepts a list of
    indices), instead of stacking batch_size single items: the same batches, less Python."""
    from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

    order = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle \
        else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None,
                      collate_fn=collate_fn or (lambda batch: batch))


def augment(x: np.ndarray, spec, seed: int = 0) -> np.ndarray:
    """Augmented copies of NHWC images (for the preview grid)."""
    spec = A.parse(spec)
    torch.manual_seed(seed)
    t = transform(spec)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32))
    return torch.stack([t(img) for img in xt]).numpy().transpose(0, 2, 3, 1)


# -- training -------------------------------------------------------------------------------
def _tensors(x, y, device):
    return TensorDataset(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(device), torch.from_numpy(y).to(device))


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> tuple[float, float]:
    """(mean loss, accuracy) in inference mode."""
    device = next(model.parameters()).device
    total, correct = torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.long)
    was_training = model.training
    model.eval()
    with torch.no_grad(), logits_mode(model):
        for xb, yb in batches(_tensors(x, y, device), batch_size):
            loss, right = loss_and_correct(model(xb), yb)
            total += loss * len(yb)
            correct += right
    model.train(was_training)
    return total.item() / len(y), correct.item() / len(y)


def _train_mode(model):
    """Training mode, except frozen layers (set_trainable): their BatchNorm keeps its moving stats.
    With set_trainable(..., batch_stats=True) their BatchNorm normalises with each batch's statistics
    (what requires_grad=False alone leaves it doing), its stored statistics kept (momentum 0)."""
    model.train()
    layers = owned(model)
    frozen = [m for name in getattr(model, "workbench_frozen", ()) for m in layers[name]]
    for module in frozen:  # all first: a block's name and its own layers' names are both frozen
        module.eval()
    if getattr(model, "workbench_batch_stats", False):
        for module in frozen:
            for bn in _batch_norms(module):
                bn.train()


def _batch_norms(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@contextlib.contextmanager
def _stored_statistics_kept(model):
    """Momentum 0 for the frozen BatchNorm layers while training: running = 1 * running + 0 * batch."""
    layers = owned(model)
    norms = [bn for name in getattr(model, "workbench_frozen", ()) for m in layers[name] for bn in _batch_norms(m)]
    saved = [bn.momentum for bn in norms]
    for bn in norms:
        bn.momentum = 0.0
    try:
        yield
    finally:
        for bn, momentum in zip(norms, saved):
            bn.momentum = momentum


def train(backend, model, data: TrainData, config, on_epoch=None) -> list[dict]:
    config = check_config(config)
    device = next(model.parameters()).device
    torch.manual_seed(config.seed)
    spec = A.parse(config.augment)
    on_device = device.type != "cpu" and not spec.active  # keep the whole set on the GPU when we can
    loader = batches(_tensors(data.x, data.y, device if on_device else "cpu"), config.batch_size, shuffle=True,
                     seed=config.seed, collate_fn=_augmented_batches(spec) if spec.active else None)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("every layer is frozen: nothing to train (set_trainable from an earlier layer)")
    optimizer = make_optimizer(params, config.optimizer, config.learning_rate, config.momentum)
    progress = Progress(config, on_epoch, data.stop, data.num_classes)
    with _stored_statistics_kept(model):
        _epochs(model, data, config, loader, optimizer, progress, device)
    model.eval()
    return progress.history


def _epochs(model, data, config, loader, optimizer, progress, device) -> None:
    for epoch in range(1, config.epochs + 1):
        progress.start_epoch()
        _train_mode(model)
        total = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        with logits_mode(model):
            for step, (xb, yb) in enumerate(loader, 1):
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                loss, right = loss_and_correct(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(yb)
                correct += right
                seen += len(yb)
                if progress.interrupted():
                    break
                if (step == 1 or step % NAN_CHECK_EVERY == 0) and not progress.batch(total.item() / seen, epoch):
                    break
        model.eval()
        loss_value = total.item() / max(seen, 1)
        val = evaluate(model, data.x_val, data.y_val) if data.has_val and math.isfinite(loss_value) else (None, None)
        if not progress.end_epoch(epoch, loss_value, correct.item() / max(seen, 1), *val):
            break

