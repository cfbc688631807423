"""What the workbench knows about a framework model that the framework does not: the architecture
it was built from, the names its layers are addressed by, and the standardiser its inputs need.

They travel with the model as one typed attribute (`ModelFacts`), set by whoever builds, loads or
trains it (the backends, a native builder, the training run) and read through the functions here,
so no other module reads or writes attributes of a framework object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.data import Standardizer
    from workbench.spec import Architecture

ATTRIBUTE = "workbench_facts"
_UNSET: Any = object()


@dataclass
class ModelFacts:
    arch: "Architecture | None" = None  # the registered Architecture the model was built from
    # stable layer name -> the framework layer (Keras) or module (torch) whose output is that
    # layer; None: a spec model's names, or every named layer of a Keras model
    layers: dict[str, Any] | None = None
    standardizer: "Standardizer | None" = None  # what its inputs were standardised with in training


def facts_of(model) -> ModelFacts:
    """The model's facts; an empty ModelFacts is attached on first use."""
    found = getattr(model, ATTRIBUTE, None)
    if found is None:
        found = ModelFacts()
        # object.__setattr__: a framework's own attribute tracking (Keras, torch) has no business with it
        object.__setattr__(model, ATTRIBUTE, found)
    return found


def attach(model, *, arch=_UNSET, layers=_UNSET, standardizer=_UNSET):
    """Set the given facts on the model (the others stay as they are); returns the model."""
    facts = facts_of(model)
    if arch is not _UNSET:
        facts.arch = arch
    if layers is not _UNSET:
        facts.layers = None if layers is None else dict(layers)
    if standardizer is not _UNSET:
        facts.standardizer = standardizer
    return model


def _read(model, name: str):
    facts = getattr(model, ATTRIBUTE, None)
    return None if facts is None else getattr(facts, name)


def arch_of(model) -> "Architecture | None":
    return _read(model, "arch")


def layers_of(model) -> dict[str, Any] | None:
    return _read(model, "layers")


def standardizer_of(model) -> "Standardizer | None":
    return _read(model, "standardizer")

