"""workbench.folders: the app's data roots (defaults, the environment, the config file), confine
(no way out by '..' or a link), the bounded walk, and a fingerprint that changes with the files."""

import os

import pytest

from workbench import folders
from workbench.data import cache_dir


@pytest.fixture(autouse=True)
def no_instructor_settings(monkeypatch, tmp_path):
    for name in ("WORKBENCH_DATA_ROOTS", "WORKBENCH_UPLOADS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "no-such.toml"))


def test_the_default_roots_are_the_data_directory_and_its_uploads():
    assert folders.data_roots() == [cache_dir().resolve(), (cache_dir() / "uploads").resolve()]
    assert folders.confine(cache_dir() / "uploads" / "pets") == (cache_dir() / "uploads" / "pets").resolve()
    with pytest.raises(PermissionError, match="/usr is outside the folders this server reads datasets from"):
        folders.confine("/usr")


def test_an_instructor_adds_roots_by_environment_and_config_file(monkeypatch, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with pytest.raises(PermissionError):
        folders.confine(a / "x")
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", f"{a}{os.pathsep}")
    assert folders.confine(a / "x") == (a / "x").resolve()
    config = tmp_path / "workbench.toml"
    config.write_text(f'data_roots = ["{b}"]\n')
    monkeypatch.setenv("WORKBENCH_CONFIG", str(config))
    assert folders.confine(b) == b.resolve()
    config.write_text(f'data_roots = "{b}"\n')
    with pytest.raises(ValueError, match="must be a list of paths"):
        folders.confine(b)


def test_no_way_out_through_dotdot_or_a_link(monkeypatch, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "out").symlink_to("/usr")
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(root))
    for escape in (root / ".." / "elsewhere", root / "out", root / "out" / "share"):
        with pytest.raises(PermissionError, match="is outside"):
            folders.confine(escape)


def test_the_walk_stops_with_a_message_past_its_bound(monkeypatch, tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.png").write_bytes(b"")
    assert len(list(folders.files(tmp_path))) == 5
    monkeypatch.setattr(folders, "MAX_FILES", 4)
    with pytest.raises(ValueError, match="holds more than 4 files: point folder: at the dataset's own folder"):
        list(folders.files(tmp_path))


def test_the_fingerprint_follows_names_sizes_and_times(tmp_path):
    (tmp_path / "a").mkdir()
    image = tmp_path / "a" / "0.png"
    image.write_bytes(b"12")
    first = folders.fingerprint(tmp_path)
    assert folders.fingerprint(tmp_path) == first  # the same files, the same key
    image.write_bytes(b"34")
    os.utime(image, ns=(1, 1))
    moved = folders.fingerprint(tmp_path)
    assert moved != first  # same name and size, another time
    image.write_bytes(b"345")
    os.utime(image, ns=(1, 1))
    assert folders.fingerprint(tmp_path) != moved  # another size
    image.rename(tmp_path / "a" / "1.png")
    os.utime(tmp_path / "a" / "1.png", ns=(1, 1))
    assert folders.fingerprint(tmp_path) not in (first, moved)  # another name
    assert folders.fingerprint(tmp_path / "gone") is None
