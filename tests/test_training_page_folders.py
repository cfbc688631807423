"""folder:PATH in the app: only inside the data roots (workbench.folders), refused with a message
where the path was typed; a folder changed or deleted after it was loaded is not served from the
cache."""

import time

import pytest
from PIL import Image

from conftest import no_errors


def write_class_folders(root, classes, n=4):
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (k * 80, 40, 200 - k * 80)).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def at(lesson_app):
    return lesson_app("training")


def folder(at, path):
    at.selectbox(key="tr_dataset").set_value("folder").run()
    at.text_input(key="tr_folder").set_value(str(path)).run()
    return at


@pytest.mark.parametrize("path", ["/", "/usr", "/proc"])
def test_a_folder_outside_the_data_roots_is_refused_where_it_was_typed(at, path):
    start = time.perf_counter()
    folder(at, path)
    assert time.perf_counter() - start < 30  # refused before anything is read: no walk over /proc
    assert [e.message for e in at.exception] == []
    (error,) = at.error
    assert error.value.startswith(f"{path} is outside the folders this server reads datasets from")
    assert "WORKBENCH_DATA_ROOTS" in error.value
    assert not any("Could not" in e.value for e in at.error)  # not the generic guard


def test_a_way_out_through_dotdot_or_a_link_is_refused(at, tmp_path, monkeypatch):
    inside = tmp_path / "roots"
    write_class_folders(tmp_path / "private", ["a", "b"])
    (inside).mkdir()
    (inside / "link").symlink_to(tmp_path / "private")
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(inside))
    for path in (inside / ".." / "private", inside / "link"):
        folder(at, path)
        assert any("is outside the folders this server reads" in e.value for e in at.error), path


def test_an_instructor_adds_a_root_in_the_config_file(at, tmp_path, monkeypatch):
    data = write_class_folders(tmp_path / "class-images" / "pets", ["cats", "dogs"])
    folder(at, data)
    assert any("is outside" in e.value for e in at.error)
    config = tmp_path / "workbench.toml"
    config.write_text(f'data_roots = ["{tmp_path / "class-images"}"]\n')
    monkeypatch.setenv("WORKBENCH_CONFIG", str(config))
    at.run()
    assert no_errors(at) == []
    assert "Rows: cats, dogs" in at.get("image")[0].proto.imgs[0].caption


def test_a_folder_changed_or_deleted_after_loading_is_read_again(at, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))
    data = write_class_folders(tmp_path / "shapes", ["a", "b"])
    folder(at, data)
    assert no_errors(at) == []
    assert "Rows: a, b" in at.get("image")[0].proto.imgs[0].caption
    write_class_folders(data, ["c"])  # a third class added
    at.run()
    assert no_errors(at) == []
    assert "Rows: a, b, c" in at.get("image")[0].proto.imgs[0].caption
    import shutil

    shutil.rmtree(data)
    at.run()
    assert [e.message for e in at.exception] == []
    assert any(e.value == f"Could not load the dataset: no folder {data}" for e in at.error)
