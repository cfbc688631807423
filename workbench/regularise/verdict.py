"""What a standardisation run says about the lecture's claim, in words a student can check.

"CNNs part II": cnn1 on 4,000 MNIST images "could only be trained properly after standardizing
the input data" per pixel. A run reproduces the claim when per-pixel standardisation beats every
unstandardised feed (raw, [0, 1]) by a clear margin, and refutes it when some unstandardised
feed trains about as well.
"""

from __future__ import annotations

MARGIN = 0.05  # five points of validation accuracy: more than seed-to-seed noise on 500 images
UNSTANDARDISED = ("raw", "rescaled")


def standardisation(results: dict[str, dict], margin: float = MARGIN) -> tuple[str, str]:
    """("reproduced" | "refuted" | "partly" | "incomplete", one sentence) from {mode: {"best_val_accuracy"}}."""
    best = {m: r.get("best_val_accuracy") for m, r in results.items()}
    if best.get("per_pixel") is None or not any(best.get(m) is not None for m in UNSTANDARDISED):
        return "incomplete", "Train per-pixel standardisation and at least one unstandardised feed (raw or [0, 1]) to compare."
    pp = best["per_pixel"]
    others = {m: best[m] for m in UNSTANDARDISED if best.get(m) is not None}
    shown = ", ".join(f"{m} {v:.1%}" for m, v in others.items())
    if all(pp - v >= margin for v in others.values()):
        return "reproduced", (f"Reproduced: per-pixel standardisation reached {pp:.1%} best validation accuracy, "
                              f"clearly above {shown}.")
    if all(pp - v < margin for v in others.values()):
        return "refuted", (f"Refuted on this setting: per-pixel standardisation reached {pp:.1%}, and {shown} "
                           f"trained within {margin:.0%} of it, so cnn1 trains properly without standardising.")
    return "partly", (f"Partly: per-pixel standardisation ({pp:.1%}) clearly beats some unstandardised feeds but not "
                      f"all ({shown}).")
