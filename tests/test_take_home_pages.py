"""The lessons' take-home sections through AppTest: the explanation lesson explains an imported
.keras file and an imported safetensors + architecture file, predicting what the exported model
predicts; the shape calculator shows the code of its table, which is the generator's."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import no_errors, require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")
onnxruntime = require("onnxruntime")

from workbench import export as E  # noqa: E402
from workbench import samples  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.codegen import keras_code, torch_code  # noqa: E402
from workbench.data import Standardizer  # noqa: E402
from workbench.explain.inputs import model_inputs  # noqa: E402
from workbench.model_facts import arch_of, attach  # noqa: E402
from workbench.registry import get_registry  # noqa: E402

SMALL = S.parse_architecture({"name": "import-small", "input_shape": [16, 16, 3], "num_classes": 3, "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "MaxPooling2D"},
    {"type": "Conv2D", "filters": 6, "kernel_size": 3, "activation": "relu"},
    {"type": "Flatten"},
    {"type": "Dense", "activation": "softmax"},
]})
STANDARDIZER = Standardizer(np.full((16, 16, 3), 0.45, np.float32), np.full((16, 16, 3), 0.2, np.float32))


@pytest.fixture(scope="module")
def trained():
    backend = get_registry().backends()["tensorflow"]
    model = backend.build(SMALL, seed=3)
    rng = np.random.default_rng(5)
    backend.set_weights(model, {n: [rng.normal(0, 0.5, a.shape).astype(np.float32) for a in arrays]
                                for n, arrays in backend.get_weights(model).items()})
    return backend, attach(model, standardizer=STANDARDIZER)


def expected_top(backend, model) -> str:
    """The workbench model's own top class on the page's photo, fed as it was trained (standardised)."""
    x, _ = model_inputs(arch_of(model), backend.name, [samples.load("coffee")], model)
    probs = backend.predict(model, x)[0]
    return f"class {int(probs.argmax())} ({probs.max():.2f})"


def explain_imported(lesson_app, files, backend_name=None):
    at = lesson_app("explanations")
    at.file_uploader(key="ex_import_files").set_value(files).run()
    if backend_name:
        at.selectbox(key="ex_import_backend").set_value(backend_name).run()
    assert not no_errors(at)
    label = at.selectbox(key="ex_model").value
    assert label.startswith("imported: ")
    at.multiselect(key="ex_samples").set_value(["coffee"]).run()
    at.multiselect(key="ex_methods").set_value(["saliency", "grad-cam"]).run()
    at.button(key="ex_run").click().run()
    assert not no_errors(at)
    captions = [c.value for c in at.caption]
    assert "saliency · image 1" in captions and "grad-cam · image 1" in captions
    return at.dataframe[0].value.iloc[0, 1]


def test_the_explanation_lesson_explains_an_imported_keras_file(lesson_app, trained, tmp_path):
    backend, model = trained
    images = E.check_images(SMALL, 4)
    path = E.export(backend, model, "keras", tmp_path / "mine", images).path
    shown = explain_imported(lesson_app, [("mine.keras", open(path, "rb").read(), "application/octet-stream")])
    assert shown == expected_top(backend, model)  # the standardisation travelled inside the file


def test_the_explanation_lesson_explains_imported_safetensors_with_its_architecture(lesson_app, trained, tmp_path):
    backend, model = trained
    path = backend.save(model, tmp_path / "mine")
    files = [(p.name, p.read_bytes(), "application/octet-stream")
             for p in (path, tmp_path / "mine.json", tmp_path / "mine.standardizer.npz")]
    shown = explain_imported(lesson_app, files, backend_name="pytorch")  # saved by Keras, explained in torch
    assert shown == expected_top(backend, model)


def test_safetensors_without_its_architecture_asks_for_it(lesson_app, trained, tmp_path):
    backend, model = trained
    path = backend.save(model, tmp_path / "mine")
    at = lesson_app("explanations")
    at.file_uploader(key="ex_import_files").set_value([(path.name, path.read_bytes(), "application/octet-stream")])
    at.run()
    assert not no_errors(at)
    assert any("architecture .json" in i.value for i in at.info)
    assert not at.selectbox(key="ex_model").value.startswith("imported: ")


def written(at) -> list[str]:
    """The code files the lesson shows (Python code blocks; the Copy link box is a code block too)."""
    return [c.value for c in at.code if c.language == "python"]


def test_the_shape_calculator_shows_its_tables_code(lesson_app):
    at = lesson_app("shape_calculator")
    assert not no_errors(at)
    arch = at.session_state["calc_arch"]
    shown = written(at)
    assert shown == [keras_code(arch).rstrip(), torch_code(arch).rstrip()]
    assert "keras.Sequential([" in shown[0] and "class MnistCnn(nn.Module):" in shown[1]


def test_the_training_lesson_shows_its_code_and_exports_its_run_checked(lesson_app):
    at = lesson_app("training")
    at.selectbox(key="tr_backend").set_value("pytorch").run()
    at.selectbox(key="tr_optimizer").set_value("momentum").run()
    at.number_input(key="tr_lr").set_value(0.05).run()
    at.number_input(key="tr_epochs").set_value(1).run()
    at.number_input(key="tr_limit").set_value(200).run()
    code = written(at)
    assert len(code) == 2 and "keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)" in code[0]
    assert "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)" in code[1]
    at.button(key="tr_train").click().run()
    assert not no_errors(at)
    run = at.session_state["training_runs"][-1]
    assert [o.split(" ")[0] for o in at.radio(key="tr_export_format").options] == ["ONNX", ".keras", "safetensors"]
    at.radio(key="tr_export_format").set_value("onnx").run()
    at.button(key="tr_export_run").click().run()
    assert not no_errors(at)
    report = at.session_state["tr_export_report"][2]
    assert report.format == "onnx" and report.checked_images == 16 and report.max_abs_diff <= 1e-4
    assert any("largest difference in probabilities" in s.value for s in at.success)
    # the file offered is the one checked: onnxruntime on the dataset's test images gives the run's numbers
    data = at.session_state["tr_export_report"][4]
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = E.check_images(run.arch, 16, get_registry().datasets()["mnist-5k"])
    probs = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(probs, run.test_probs[:16], atol=1e-4)
