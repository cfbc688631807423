"""One training run (workbench.runs), the one the Training lesson and `workbench train` both make,
and the model facts it leaves on the model (workbench.model_facts).

Oracles: the backend's own predict on the prepared test split, scikit-learn's log loss and
confusion matrix, the backend's summary for what froze, and the saved files read back."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, log_loss

from workbench import graph, lookup
from workbench.backend import TrainConfig
from workbench.model_facts import ATTRIBUTE, ModelFacts, arch_of, attach, facts_of, layers_of, standardizer_of
from workbench.runs import RunSpec, TrainedRun, prepare_run, run_training
from workbench.weights import standardizer_path

SHORT = TrainConfig(epochs=1, batch_size=64, optimizer="SGD+momentum", learning_rate=0.01)


@pytest.fixture(scope="module")
def trained():
    spec = RunSpec("shapes", "mnist-cnn", "pytorch", SHORT, standardize=True, limit=200)
    return spec, run_training(spec, label="one run")


def test_a_run_is_typed_and_its_test_numbers_are_the_backends(trained):
    spec, run = trained
    assert isinstance(run, TrainedRun) and run.label == "one run" and run.backend == "pytorch"
    assert run.spec.config.optimizer == "momentum"  # checked: the name normalised
    assert [r["epoch"] for r in run.history] == [1] and run.images == 200 and run.stopped is None
    assert run.class_names == ("circle", "square", "triangle") == run.arch.class_names
    assert run.arch.num_classes == 3 and run.dataset_name == "shapes"
    # the test split as the model is fed (standardised with the training statistics), predicted again
    x, y = prepare_run(spec).splits["test"]
    probs = lookup.backend("pytorch").predict(run.model, x)
    np.testing.assert_allclose(run.test_probs, probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(run.test_labels, y)
    report = run.test_report()
    assert report["accuracy"] == pytest.approx((probs.argmax(1) == y).mean())
    assert report["loss"] == pytest.approx(log_loss(y, probs, labels=[0, 1, 2]), rel=1e-4)
    assert report["confusion_matrix"] == confusion_matrix(y, probs.argmax(1), labels=[0, 1, 2]).tolist()


def test_the_standardiser_goes_with_the_model_and_is_saved_beside_it(trained, tmp_path):
    _, run = trained
    assert run.standardizer is not None and standardizer_of(run.model) is run.standardizer
    backend = lookup.backend("pytorch")
    target = backend.save(run.model, tmp_path / "m.safetensors") or tmp_path / "m.safetensors"
    assert standardizer_path(target).exists()
    loaded = backend.load(target)
    np.testing.assert_allclose(standardizer_of(loaded).mean, run.standardizer.mean)
    assert arch_of(loaded).num_classes == 3


def test_fine_tuning_from_a_layer_freezes_what_comes_before(trained):
    _, first = trained
    spec = RunSpec("shapes", "mnist-cnn", "pytorch", SHORT, from_layer="dense_1", standardize=True, limit=100)
    second = run_training(spec, model=first.model)
    assert second.model is first.model  # continued, not rebuilt
    names = graph.layer_names(first.arch)
    rows = {r.name: r for r in lookup.backend("pytorch").summary(second.model)}
    before = names[:names.index("dense_1")]
    assert all(rows[n].trainable == 0 for n in before if rows[n].params)
    assert rows["conv2d_3"].params > 0 and rows["dense_1"].trainable > 0 and rows["dense_2"].trainable > 0


@pytest.mark.parametrize("backend", ["pytorch", "tensorflow"])
def test_the_workbench_facts_are_one_typed_attribute(backend):
    arch = lookup.architecture("mnist-cnn")
    model = lookup.backend(backend).build(arch)
    facts = vars(model)[ATTRIBUTE] if backend == "pytorch" else getattr(model, ATTRIBUTE)
    assert isinstance(facts, ModelFacts) and facts is facts_of(model) and arch_of(model) == arch
    assert not any(hasattr(model, old) for old in ("workbench_arch", "workbench_layers", "workbench_standardizer"))
    if backend == "pytorch":  # the modules whose outputs are the spec's layers, by spec name
        assert list(layers_of(model)) == graph.layer_names(arch)
    attach(model, standardizer="s")
    assert standardizer_of(model) == "s" and arch_of(model) == arch  # the other facts stay


def test_an_object_without_facts_has_none():
    class Bare:
        pass

    bare = Bare()
    assert arch_of(bare) is None and layers_of(bare) is None and standardizer_of(bare) is None
    assert not hasattr(bare, ATTRIBUTE)  # reading attaches nothing
