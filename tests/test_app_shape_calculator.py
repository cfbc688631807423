"""The shape calculator lesson in AppTest: the calculator's numbers, row-naming errors, loading and uploads."""

import json

import pytest

from conftest import no_errors
from workbench import layer_table as T
from workbench import lookup, shapes, spec


@pytest.fixture
def at(lesson_app):
    return lesson_app("shape_calculator")


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_renders_the_seed_mnist_cnn(at):
    assert no_errors(at) == []
    assert metric(at, "Total parameters") == "93,322"  # seed 001's model.summary()
    table = at.dataframe[-1].value
    assert table["output shape"].tolist()[:5] == ["(26, 26, 32)", "(13, 13, 32)", "(11, 11, 64)", "(5, 5, 64)", "(3, 3, 64)"]
    assert table["params"].tolist() == [320, 0, 18496, 0, 36928, 0, 36928, 650]


def test_loading_vgg16_shows_138357544_parameters(at):
    at.selectbox(key="calc_pick").set_value("vgg16")
    at.button(key="calc_load").click().run()
    assert no_errors(at) == []
    assert metric(at, "Total parameters") == "138,357,544"


def test_an_impossible_layer_names_its_row(at):
    # Shrink the input to 10x10: 8 -> 4 -> 2 -> 1, and the third 3x3 convolution (row 5) no longer fits.
    at.number_input(key="calc_h_0").set_value(10).run()
    at.number_input(key="calc_w_0").set_value(10).run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Row 5") and "conv2d_3" in errors[0]
    assert "larger than its 1x1 input" in errors[0]
    assert not at.exception


def test_an_edited_cell_changes_the_numbers_and_a_bad_cell_names_its_row(at):
    at.session_state["calc_table_0"] = {"edited_rows": {0: {"filters": 16}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert no_errors(at) == []
    assert at.dataframe[-1].value["params"].tolist()[0] == 3 * 3 * 1 * 16 + 16
    at.session_state["calc_table_0"] = {"edited_rows": {2: {"kernel_size": "three"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert [e.value for e in at.error] == ["Row 3, column 'kernel_size': write a size as 3 or 3x3, got 'three'"]


def test_uploading_a_file_loads_it_and_a_broken_file_is_explained(at):
    arch = lookup.architecture("lenet-5")
    at.file_uploader(key="calc_upload").set_value(("lenet.yaml", spec.dumps_architecture(arch, "yaml").encode(), "application/yaml")).run()
    assert no_errors(at) == []
    assert metric(at, "Total parameters") == f"{shapes.compute(arch).total_params:,}"
    at.file_uploader(key="calc_upload").set_value(("bad.json", b'{"name": "x", "layers": [', "application/json")).run()
    assert any(e.value.startswith("bad.json: file: not valid JSON") for e in at.error)
    data = arch.to_dict()
    data["layers"][2]["filters"] = 0
    at.file_uploader(key="calc_upload").set_value(("zero.json", json.dumps(data).encode(), "application/json")).run()
    assert [e.value for e in at.error] == ["zero.json: Row 3, column 'filters': must be a positive integer, got 0"]
    at.number_input(key=f"calc_h_{at.session_state['calc_version']}").set_value(40).run()  # any other interaction
    assert [e.value for e in at.error] == ["zero.json: Row 3, column 'filters': must be a positive integer, got 0"]


@pytest.mark.parametrize("name", ["vgg16", "residual-cifar10", "inception-cifar10", "lenet-5"])
def test_every_architecture_round_trips_through_the_table(name):
    arch = lookup.architecture(name)
    back = T.from_frame(T.to_frame(arch), arch.name, arch.input_shape, arch.num_classes)
    assert back.layers == arch.layers


def test_building_in_every_backend_matches_the_calculator(at):
    from workbench.registry import get_registry

    backends = get_registry().backends()
    if not backends:
        pytest.skip("no backend installed")
    at.button(key="calc_build").click().run()
    assert no_errors(at) == []
    table = at.dataframe[-1].value
    for name in backends:
        assert table[f"{name} params"].tolist() == [320, 0, 18496, 0, 36928, 0, 36928, 650]
    assert set(table["match"]) == {"✓"}
    assert [s.value.startswith(f"**{n}** built it: 93,322") for s, n in zip(at.success, sorted(backends))] == [True] * len(backends)


def test_the_classes_box_resizes_the_last_dense_layer_and_the_layer_resizes_the_box(at):
    at.number_input(key="calc_k_0").set_value(5).run()
    assert no_errors(at) == []
    assert metric(at, "Total parameters") == f"{93_322 - 650 + 64 * 5 + 5:,}"
    assert at.dataframe[-1].value["output shape"].tolist()[-1] == "(5,)"
    version = at.session_state["calc_version"]
    assert at.number_input(key=f"calc_k_{version}").value == 5
    # and the other way: the table's last Dense edited to 3 units makes the architecture a 3-class one
    at.session_state[f"calc_table_{version}"] = {"edited_rows": {7: {"units": 3}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert no_errors(at) == []
    assert at.number_input(key=f"calc_k_{at.session_state['calc_version']}").value == 3
    assert at.session_state["calc_arch"].num_classes == 3


def test_a_wide_feature_map_input_loads(at):
    """Any valid file loads: a classifier head over a 16x16x512 feature map (VGG's block5 output)."""
    data = {"name": "head", "input_shape": [16, 16, 512], "num_classes": 4,
            "layers": [{"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 4, "activation": "softmax"}]}
    at.file_uploader(key="calc_upload").set_value(("head.json", json.dumps(data).encode(), "application/json")).run()
    assert no_errors(at) == []
    assert metric(at, "Total parameters") == f"{512 * 4 + 4:,}"


def test_an_impossible_layer_inside_a_block_names_the_blocks_row(at):
    data = lookup.architecture("residual-cifar10").to_dict()
    block = next(i for i, layer in enumerate(data["layers"]) if layer["type"] == "Residual")
    data["layers"][block]["body"][0].update(kernel_size=99, padding="valid")
    at.file_uploader(key="calc_upload").set_value(("res.json", json.dumps(data).encode(), "application/json")).run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(f"Row {block + 1} (inside the block on row {block + 1})")
    assert "larger than its" in errors[0] and not at.exception


@pytest.fixture
def media(monkeypatch):
    """The media stores of the AppTest runs (one per run), so a test can read what a download button serves."""
    from streamlit.testing.v1 import app_test

    stores = []

    class Recording(app_test.MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return stores


def downloaded(at, media, label):
    """(file name, mimetype, text) that the download button labelled `label` hands the browser."""
    button = next(b for b in at.get("download_button") if b.label == label)
    served = media[-1].get_file(button.proto.url.rsplit("/", 1)[-1])
    return served.filename, served.mimetype, served.content.decode()


def test_the_json_and_yaml_downloads_are_the_edited_architecture_with_the_same_table(media, at):
    at.selectbox(key="calc_pick").set_value("residual-cifar10")
    at.button(key="calc_load").click().run()
    version = at.session_state["calc_version"]
    at.text_input(key=f"calc_name_{version}").set_value("my-resnet").run()
    at.session_state[f"calc_table_{version}"] = {"edited_rows": {0: {"filters": 16}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert no_errors(at) == []
    shown = at.dataframe[-1].value[["layer", "output shape", "params"]]
    loaded = {}
    for label, ext, mime in (("Download as JSON", ".json", "application/json"), ("Download as YAML", ".yaml", "application/yaml")):
        name, mimetype, text = downloaded(at, media, label)
        assert (name, mimetype) == (f"my-resnet{ext}", mime)
        arch = loaded[ext] = spec.loads_architecture(text, ext)
        assert arch.name == "my-resnet" and arch.layers[0].filters == 16  # the edits, not the registered model
        assert any(isinstance(layer, spec.Residual) for layer in arch.layers)
        table = shapes.compute(arch)
        assert [(r.name, str(tuple(r.output_shape)), r.params) for r in table.rows] == \
            [(layer.strip().removeprefix("↳ "), shape, params) for layer, shape, params in shown.itertuples(index=False)]
    assert loaded[".json"] == loaded[".yaml"]
    assert json.loads(downloaded(at, media, "Download as JSON")[2])["layers"][0]["filters"] == 16
    with pytest.raises(json.JSONDecodeError):  # YAML proper (JSON would also parse as YAML)
        json.loads(downloaded(at, media, "Download as YAML")[2])
    # and the file uploaded back gives the page the same table
    name, _, text = downloaded(at, media, "Download as YAML")
    at.file_uploader(key="calc_upload").set_value((name, text.encode(), "application/yaml")).run()
    assert no_errors(at) == []
    assert at.dataframe[-1].value[["layer", "output shape", "params"]].equals(shown)
