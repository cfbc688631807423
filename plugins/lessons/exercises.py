"""The built-in exercises: one task per lesson that can check itself against the student's work
(workbench.exercises). Each check measures with the workbench's own tools: the calculator, the
student's training runs, the optimizer race, the model's predictions."""

from __future__ import annotations

import numpy as np

from workbench import shapes
from workbench import spec as S
from workbench.exercises import Exercise, Verdict
from workbench.explain.inputs import two_columns

CONV_TARGET, CONV_BUDGET = (5, 5, 64), 50_000
MNIST_TARGET, MNIST_EPOCHS = 0.95, 3


def last_conv_5x5x64(architecture) -> Verdict:
    """The calculator's table of the student's architecture: the last convolution's output and the total."""
    table = shapes.compute(architecture)
    convs = [r for r in table.rows if getattr(S.LAYER_TYPES.get(r.type), "family", "") == "convolution"]
    if not convs:
        return Verdict(False, "the network has no convolution yet.")
    last, total = convs[-1], table.total_params
    shape = "x".join(map(str, last.output_shape))
    ok_shape, ok_total = tuple(last.output_shape) == CONV_TARGET, total < CONV_BUDGET
    said = (f"the last convolution ({last.name}) outputs {shape}"
            + ("" if ok_shape else f" (asked {'x'.join(map(str, CONV_TARGET))})")
            + f"; the network has {total:,} parameters" + ("" if ok_total else f" (asked fewer than {CONV_BUDGET:,})"))
    return Verdict(ok_shape and ok_total, said + ".")


def mnist_in_three_epochs(runs) -> Verdict:
    """The student's finished runs on mnist-5k: one of at most three epochs with 95% test accuracy."""
    tries = [r for r in runs if r.spec.dataset == "mnist-5k"]
    if not tries:
        return Verdict(False, "no run on mnist-5k in this session yet.")
    short = [r for r in tries if len(r.history) <= MNIST_EPOCHS]
    best = max(short or tries, key=lambda r: r.test_accuracy)
    epochs = len(best.history)
    passed = epochs <= MNIST_EPOCHS and best.test_accuracy >= MNIST_TARGET
    return Verdict(passed, f"{best.label}: {best.test_accuracy:.1%} test accuracy after {epochs} epoch"
                   f"{'s' if epochs != 1 else ''} (asked {MNIST_TARGET:.0%} in at most {MNIST_EPOCHS}).")


def sgd_diverges_on_rosenbrock(surface, paths) -> Verdict:
    """The student's race: SGD on Rosenbrock leaving the finite numbers or ending above where it started."""
    if surface.name != "rosenbrock":
        return Verdict(False, f"the race is on {surface.name}, not rosenbrock.")
    sgd = paths.get("sgd")
    if sgd is None:
        return Verdict(False, "SGD is not in the race.")
    lr = sgd.hyper.get("learning_rate")
    start, end = float(sgd.loss[0]), float(sgd.loss[-1])
    if sgd.stopped:
        return Verdict(True, f"at learning rate {lr:g} SGD {sgd.stopped}.")
    if not np.isfinite(end) or end > start:
        return Verdict(True, f"at learning rate {lr:g} SGD's loss grew from {start:.4g} to {end:.4g}.")
    return Verdict(False, f"at learning rate {lr:g} SGD's loss went from {start:.4g} down to {end:.4g}: it converges.")


def occlusion_flips(backend, model, image, box, class_names=None) -> Verdict:
    """The model's own predictions on the student's image with and without the chosen square greyed out
    (filled with 0, the occlusion explainer's default, in the model's input units)."""
    top, left, size = (int(v) for v in box)
    x = np.asarray(image, dtype=np.float32)[None]
    if size < 1 or top < 0 or left < 0 or top + size > x.shape[1] or left + size > x.shape[2]:
        return Verdict(False, f"the square ({top}, {left}) of side {size} is not inside the {x.shape[1]}x{x.shape[2]} image.")
    hidden = x.copy()
    hidden[:, top:top + size, left:left + size] = 0.0
    before, after = two_columns(backend.predict(model, np.concatenate([x, hidden])))  # a sigmoid head as two classes
    was, now = int(np.argmax(before)), int(np.argmax(after))
    name = (lambda k: class_names[k] if class_names is not None and k < len(class_names) else str(k))
    if was != now:
        return Verdict(True, f"occluding the {size}x{size} square at ({top}, {left}) turns {name(was)} "
                             f"({before[was]:.2f}) into {name(now)} ({after[now]:.2f}).")
    return Verdict(False, f"with the {size}x{size} square at ({top}, {left}) occluded the model still says "
                          f"{name(was)} ({before[was]:.2f} → {after[was]:.2f}).")


EXERCISES = (
    Exercise("last-conv-5x5x64", "shape_calculator", "A 5x5x64 feature map on a budget",
             f"Design a network whose last convolution outputs 5x5x64, with fewer than {CONV_BUDGET:,} parameters "
             "(edit the table above).", last_conv_5x5x64, needs=("architecture",)),
    Exercise("mnist-95-in-3", "training", "95% on mnist-5k in three epochs",
             f"Reach {MNIST_TARGET:.0%} test accuracy on mnist-5k in at most {MNIST_EPOCHS} epochs.",
             mnist_in_three_epochs, needs=("runs",)),
    Exercise("sgd-diverges", "optimizers", "Make SGD diverge on Rosenbrock",
             "Find a learning rate at which plain SGD diverges on the Rosenbrock surface.",
             sgd_diverges_on_rosenbrock, needs=("surface", "paths")),
    Exercise("occlusion-flips", "explanations", "Hide what the model looks at",
             "Find a square of the first image whose occlusion changes the model's top prediction "
             "(set it under 'Occlude a square yourself').",
             occlusion_flips, needs=("backend", "model", "image", "box")),
)


def register(register_one) -> None:
    for exercise in EXERCISES:
        register_one(exercise)
