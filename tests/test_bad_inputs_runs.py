"""The catalogue of bad inputs, part B: training settings, folders and explanation parameters
(docs/bad-inputs.md). Each row is data: where the input is given (CLI, API or page), the input
as the user gives it, and the message they read. One test runs every row and asserts the message,
no traceback and an answer in bounded time; another holds the document to the rows."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from conftest import require
from workbench.cli import main

require("torch")

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "bad-inputs.md"
BOUND = 60  # seconds: far above what any row takes; a row that hangs fails here instead of never ending


# -- what the rows run ----------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    section: str  # the document's section
    where: str  # CLI, API or page
    input: str  # as the user gives it ({tmp}: the row's own folder)
    message: str  # what the user reads (a part of it, without the row's folder)
    run: Callable  # (tmp, capsys, monkeypatch) -> (exit status or None, everything the user saw)
    status: int | None = 2  # the CLI's exit status (None: not a CLI row)


def cli(argv: str, setup: Callable[[Path], None] | None = None):
    """The `workbench` command in this process, as tests/test_cli.py calls it."""
    def run(tmp, capsys, monkeypatch):
        if setup:
            setup(tmp)
        try:
            code = main(shlex.split(argv.format(tmp=tmp)))
        except SystemExit as exc:  # argparse's own refusals (a number that is not one)
            code = exc.code
        out, err = capsys.readouterr()
        return code, out + err
    return run


def api(call: Callable):
    """A Python call, `call(tmp, monkeypatch)`; what shows is the exception it raised."""
    def run(tmp, capsys, monkeypatch):
        try:
            call(tmp, monkeypatch)
        except Exception as exc:  # noqa: BLE001 - the message is what is checked
            return None, f"{type(exc).__name__}: {exc}"
        return None, "no error"
    return run


def page(module: str, steps: Callable, setup: Callable[[Path], None] | None = None, env: dict | None = None):
    """An AppTest of a lesson page: `steps(at, tmp)` works its widgets; what shows is every error,
    warning and exception on the page."""
    def run(tmp, capsys, monkeypatch):
        from streamlit.testing.v1 import AppTest

        from conftest import APPTEST_TIMEOUT, _render_page

        if setup:
            setup(tmp)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value.format(tmp=tmp))
        at = AppTest.from_function(_render_page, args=(module,), default_timeout=APPTEST_TIMEOUT).run()
        steps(at, tmp)
        shown = [e.message + "\nTraceback" for e in at.exception]  # an exception on a page is a traceback
        shown += [e.value for e in at.error] + [w.value for w in at.warning]
        return None, "\n".join(shown)
    return run


# -- folders the rows use --------------------------------------------------------------------
def images(folder: Path, n: int, color=(200, 40, 40), corrupt: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        if corrupt:
            (folder / f"{i}.png").write_bytes(b"\x89PNG not really")
        else:
            Image.new("RGB", (8, 8), color).save(folder / f"{i}.png")


def two_images(tmp):
    images(tmp / "two" / "a", 1)
    images(tmp / "two" / "b", 1, (40, 40, 200))


def unreadable_class(tmp):
    images(tmp / "pets" / "cats", 6)
    images(tmp / "pets" / "dogs", 6, corrupt=True)


def one_corrupt(tmp):
    images(tmp / "pets" / "cats", 8)
    images(tmp / "pets" / "dogs", 8, (40, 40, 200))
    (tmp / "pets" / "cats" / "broken.png").write_bytes(b"\x89PNG truncated")


def tiny_class(tmp):
    images(tmp / "pets" / "cats", 30)
    images(tmp / "pets" / "dogs", 1, (40, 40, 200))


def one_class(tmp):
    images(tmp / "pets" / "cats", 6)


def no_train(tmp):
    images(tmp / "d" / "val" / "a", 2)
    images(tmp / "d" / "val" / "b", 2)


def a_file(tmp):
    (tmp / "notes.txt").write_text("not a folder")


def a_saved_model(tmp):
    assert main(TRAIN + ["--save", str(tmp / "m")]) == 0


def bad_config(tmp):
    (tmp / "workbench.toml").write_text("data_roots = [/srv/images\n")


TRAIN = ["train", "--dataset", "shapes", "--arch", "mnist-cnn", "--backend", "pytorch", "--epochs", "1"]
T = " ".join(TRAIN[:-2])  # the same run, the epochs left to each row
ON_FOLDER = "train --arch mnist-cnn --backend pytorch --epochs 1 --dataset"
EXPLAIN = "explain sample:coffee --backend pytorch --methods grad-cam,lime"


def train_page_folder(path: str):
    def steps(at, tmp):
        at.selectbox(key="tr_dataset").set_value("folder").run()
        at.text_input(key="tr_folder").set_value(path.format(tmp=tmp)).run()
    return steps


def transfer_page_folder(path: str):
    def steps(at, tmp):
        at.text_input(key="xf_folder").set_value(path).run()
    return steps


def explain_page_param(key: str, value: str):
    def steps(at, tmp):
        at.multiselect(key="ex_methods").set_value(["occlusion", "lime"]).run()
        at.text_input(key=key).set_value(value).run()
        assert at.button(key="ex_run").disabled  # nothing runs on a value the method cannot take
    return steps


def api_config(**changes):
    def call(tmp, monkeypatch):
        from workbench.training import check_config

        check_config(None, **changes)
    return call


def api_params(method: str, **given):
    def call(tmp, monkeypatch):
        from workbench.registry import get_registry

        get_registry().explainers()[method].resolve_params(given)
    return call


def api_steps(steps):
    def call(tmp, monkeypatch):
        from workbench.explain.compare import run_methods

        run_methods(None, None, np.zeros((1, 8, 8, 1), np.float32), ["saliency"], steps=steps)
    return call


def api_confine(path: str):
    def call(tmp, monkeypatch):
        from workbench import folders

        monkeypatch.delenv("WORKBENCH_DATA_ROOTS", raising=False)  # the default roots only
        monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp / "none.toml"))
        folders.confine(path)
    return call


def api_config_file(tmp, monkeypatch):
    from workbench import folders

    bad_config(tmp)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp / "workbench.toml"))
    folders.confine(tmp)


TRAINING = "Training settings"
FOLDERS = "Folders"
EXPLAIN_PARAMS = "Explanation parameters"

ROWS = [
    # -- training settings --------------------------------------------------------------------
    Row(TRAINING, "CLI", "--epochs 0", "epochs must be at least 1, got 0", cli(f"{T} --epochs 0")),
    Row(TRAINING, "CLI", "--epochs -3", "epochs must be at least 1, got -3", cli(f"{T} --epochs -3")),
    Row(TRAINING, "CLI", "--epochs 1.5", "argument --epochs: invalid int value: '1.5'", cli(f"{T} --epochs 1.5")),
    Row(TRAINING, "CLI", "--batch-size 0", "batch size must be at least 1, got 0", cli(f"{T} --epochs 1 --batch-size 0")),
    Row(TRAINING, "CLI", "--batch-size -8", "batch size must be at least 1, got -8",
        cli(f"{T} --epochs 1 --batch-size -8")),
    Row(TRAINING, "CLI", "--lr -0.1", "the learning rate must be a positive number, got -0.1",
        cli(f"{T} --epochs 1 --lr -0.1")),
    Row(TRAINING, "CLI", "--lr 0", "the learning rate must be a positive number, got 0.0", cli(f"{T} --epochs 1 --lr 0")),
    Row(TRAINING, "CLI", "--lr nan", "the learning rate must be a positive number, got nan",
        cli(f"{T} --epochs 1 --lr nan")),
    Row(TRAINING, "CLI", "--lr inf", "the learning rate must be a positive number, got inf",
        cli(f"{T} --epochs 1 --lr inf")),
    Row(TRAINING, "CLI", "--lr abc", "argument --lr: invalid float value: 'abc'", cli(f"{T} --epochs 1 --lr abc")),
    Row(TRAINING, "CLI", "--optimizer adamw", "unknown optimizer 'adamw'; choose one of: sgd, momentum",
        cli(f"{T} --epochs 1 --optimizer adamw")),
    Row(TRAINING, "CLI", "--early-stopping 0", "early stopping patience must be at least 1 epoch, got 0",
        cli(f"{T} --epochs 1 --early-stopping 0")),
    Row(TRAINING, "CLI", "--augment rotation_range=abc", "augmentation rotation_range must be a number, got 'abc'",
        cli(f"{T} --epochs 1 --augment rotation_range=abc")),
    Row(TRAINING, "CLI", "--from-layer nope", "no layer named 'nope'; the layers are: conv2d_1",
        cli(f"{T} --epochs 1 --from-layer nope")),
    Row(TRAINING, "CLI", "--optimizer sgd --lr 1e6 (pytorch, text)",
        "The learning rate 1e+06 is too large for SGD; try 100000 or smaller.\ntest loss n/a (diverged)",
        cli(f"{T} --epochs 1 --optimizer sgd --lr 1e6"), status=0),
    Row(TRAINING, "CLI", "--optimizer sgd --lr 1e6 (tensorflow, text)",
        "The learning rate 1e+06 is too large for SGD; try 100000 or smaller.\ntest loss n/a (diverged)",
        cli(f"{T.replace('pytorch', 'tensorflow')} --epochs 1 --optimizer sgd --lr 1e6"), status=0),
    Row(TRAINING, "CLI", "--save /proc/model", "cannot save to /proc/model: /proc is not writable",
        cli(f"{T} --epochs 1 --save /proc/model")),
    Row(TRAINING, "CLI", "--save FOLDER", "it is a folder; give a file name inside it",
        cli(f"{T} --epochs 1 --save {{tmp}}")),
    Row(TRAINING, "CLI", "--save FILE/model", "is a file, not a folder",
        cli(f"{T} --epochs 1 --save {{tmp}}/notes.txt/model", a_file)),
    Row(TRAINING, "CLI", "--save MODEL (a model is there)", "(m.safetensors, m.json); pass --overwrite to replace it",
        cli(f"{T} --epochs 1 --save {{tmp}}/m", a_saved_model)),
    Row(TRAINING, "API", "check_config(batch_size=0)", "ValueError: batch size must be at least 1, got 0",
        api(api_config(batch_size=0))),
    Row(TRAINING, "API", "check_config(learning_rate=nan)", "ValueError: the learning rate must be a positive number",
        api(api_config(learning_rate=float("nan")))),
    # -- folders ------------------------------------------------------------------------------
    Row(FOLDERS, "CLI", "folder:/no/such/folder", "no folder /no/such/folder", cli(f"{ON_FOLDER} folder:/no/such/folder")),
    Row(FOLDERS, "CLI", "folder:FILE", "no folder", cli(f"{ON_FOLDER} folder:{{tmp}}/notes.txt", a_file)),
    Row(FOLDERS, "CLI", "folder:PATH with one class", "has only one class (cats): a classifier needs at least two",
        cli(f"{ON_FOLDER} folder:{{tmp}}/pets", one_class)),
    Row(FOLDERS, "CLI", "folder:PATH with val/ but no train/", "has val but no train/ folder",
        cli(f"{ON_FOLDER} folder:{{tmp}}/d", no_train)),
    Row(FOLDERS, "CLI", "folder:PATH with two images",
        "2 images are too few to split into train, val and test (70% / 15% / 15%): each part needs at least one image",
        cli(f"{ON_FOLDER} folder:{{tmp}}/two", two_images)),
    Row(FOLDERS, "CLI", "folder:PATH whose class dogs is all unreadable",
        "none of the images of class dogs in", cli(f"{ON_FOLDER} folder:{{tmp}}/pets", unreadable_class)),
    Row(FOLDERS, "CLI", "folder:PATH with one corrupt image (text)", "note: skipped corrupt image cats/broken.png",
        cli(f"{ON_FOLDER} folder:{{tmp}}/pets", one_corrupt), status=0),
    Row(FOLDERS, "CLI", "folder:PATH with a class of one image (text)",
        "note: class dogs has no image in the test split (too few images)",
        cli(f"{ON_FOLDER} folder:{{tmp}}/pets", tiny_class), status=0),
    Row(FOLDERS, "page", "Training: folder /", "/ is outside the folders this server reads datasets from",
        page("training", train_page_folder("/"))),
    Row(FOLDERS, "page", "Training: folder /usr", "/usr is outside the folders this server reads datasets from",
        page("training", train_page_folder("/usr"))),
    Row(FOLDERS, "page", "Transfer learning: folder:/usr", "/usr is outside the folders this server reads datasets from",
        page("transfer", transfer_page_folder("folder:/usr"))),
    Row(FOLDERS, "page", "Training: folder ROOT/../elsewhere", "is outside the folders this server reads datasets from",
        page("training", train_page_folder("{tmp}/../elsewhere"), env={"WORKBENCH_DATA_ROOTS": "{tmp}"})),
    Row(FOLDERS, "page", "Training: a folder of two images (inside a root)",
        "Could not load the dataset: 2 images are too few to split into train, val and test",
        page("training", train_page_folder("{tmp}/two"), two_images, env={"WORKBENCH_DATA_ROOTS": "{tmp}"})),
    Row(FOLDERS, "page", "Training: a class all unreadable (inside a root)",
        "Could not load the dataset: none of the images of class dogs in",
        page("training", train_page_folder("{tmp}/pets"), unreadable_class, env={"WORKBENCH_DATA_ROOTS": "{tmp}"})),
    Row(FOLDERS, "API", "folders.confine('/etc')", "PermissionError: /etc is outside the folders this server reads",
        api(api_confine("/etc"))),
    Row(FOLDERS, "API", "workbench.toml: data_roots = [/srv/images", "ValueError: the config file",
        api(api_config_file)),
    # -- explanation parameters ---------------------------------------------------------------
    Row(EXPLAIN_PARAMS, "CLI", "--param lime.samples=abc", "samples must be a whole number, not 'abc'",
        cli(f"{EXPLAIN} --param lime.samples=abc")),
    Row(EXPLAIN_PARAMS, "CLI", "--param lime.samples=2.5", "samples must be a whole number, not 2.5",
        cli(f"{EXPLAIN} --param lime.samples=2.5")),
    Row(EXPLAIN_PARAMS, "CLI", "--param lime.samples=5", "samples must be at least 10, not 5",
        cli(f"{EXPLAIN} --param lime.samples=5")),
    Row(EXPLAIN_PARAMS, "CLI", "--param lime.samples=none", "samples needs a value (its default is 1000)",
        cli(f"{EXPLAIN} --param lime.samples=none")),
    Row(EXPLAIN_PARAMS, "CLI", "--param lime.algorithm=kmeans", "algorithm must be one of quickshift",
        cli(f"{EXPLAIN} --param lime.algorithm=kmeans")),
    Row(EXPLAIN_PARAMS, "CLI", "--param lime.nope=3", "lime has no parameter nope; it takes algorithm",
        cli(f"{EXPLAIN} --param lime.nope=3")),
    Row(EXPLAIN_PARAMS, "CLI", "--param lime=3", "a parameter is METHOD.NAME=VALUE (e.g. lime.samples=300), not 'lime=3'",
        cli(f"{EXPLAIN} --param lime=3")),
    Row(EXPLAIN_PARAMS, "CLI", "--param occlusion.window=nan (methods grad-cam,lime)",
        "--param occlusion.window=... is for a method not in --methods", cli(f"{EXPLAIN} --param occlusion.window=nan")),
    Row(EXPLAIN_PARAMS, "CLI", "--methods occlusion --param occlusion.window=nan", "window must be a whole number, not nan",
        cli("explain sample:coffee --methods occlusion --param occlusion.window=nan")),
    Row(EXPLAIN_PARAMS, "CLI", "--methods guided-backprop --param guided-backprop.show_masks=3",
        "show_masks must be true or false, not 3",
        cli("explain sample:coffee --methods guided-backprop --param guided-backprop.show_masks=3")),
    Row(EXPLAIN_PARAMS, "CLI", "--param nope.x=1", "--param names the unknown method 'nope'",
        cli(f"{EXPLAIN} --param nope.x=1")),
    Row(EXPLAIN_PARAMS, "CLI", "--methods nope", "unknown method nope; known:", cli("explain sample:coffee --methods nope")),
    Row(EXPLAIN_PARAMS, "CLI", "--methods ,", "--methods names no method", cli("explain sample:coffee --methods ,")),
    Row(EXPLAIN_PARAMS, "CLI", "--steps 0", "steps (points on the deletion / insertion curves) must be a whole number "
        "from 1 to 200, not 0", cli(f"{EXPLAIN} --steps 0")),
    Row(EXPLAIN_PARAMS, "CLI", "--steps -5", "must be a whole number from 1 to 200, not -5", cli(f"{EXPLAIN} --steps -5")),
    Row(EXPLAIN_PARAMS, "CLI", "--steps 1000000", "must be a whole number from 1 to 200, not 1000000",
        cli(f"{EXPLAIN} --steps 1000000")),
    Row(EXPLAIN_PARAMS, "CLI", "IMAGE is a folder", "is a folder, not an image file (name the images inside it)",
        cli("explain {tmp} --methods grad-cam")),
    Row(EXPLAIN_PARAMS, "CLI", "IMAGE does not exist", "no image file /no/such.png (or use sample:NAME",
        cli("explain /no/such.png --methods grad-cam")),
    Row(EXPLAIN_PARAMS, "API", "run_methods(steps=0)", "ValueError: steps (points on the deletion / insertion curves)",
        api(api_steps(0))),
    Row(EXPLAIN_PARAMS, "API", "lime.resolve_params(samples='abc')", "ValueError: samples must be a whole number, not 'abc'",
        api(api_params("lime", samples="abc"))),
    Row(EXPLAIN_PARAMS, "API", "occlusion.resolve_params(fill=True)", "ValueError: fill must be a number, not True",
        api(api_params("occlusion", fill=True))),
    Row(EXPLAIN_PARAMS, "page", "Explanations: occlusion window abc", "window must be a whole number, not 'abc'",
        page("explanations", explain_page_param("ex_p_occlusion_window", "abc"))),
    Row(EXPLAIN_PARAMS, "page", "Explanations: lime batch 0", "batch must be at least 1, not 0",
        page("explanations", explain_page_param("ex_p_lime_batch", "0"))),
]


def row_id(row: Row) -> str:
    return f"{row.where}: {row.input}"


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_bad_input(row, tmp_path, capsys, monkeypatch):
    start = time.perf_counter()
    status, shown = row.run(tmp_path, capsys, monkeypatch)
    seconds = time.perf_counter() - start
    assert "Traceback" not in shown, shown
    for part in row.message.split("\n"):
        assert part in shown, shown
    if row.where == "CLI":
        assert status == row.status, shown
    assert seconds < BOUND


def test_the_document_lists_every_row():
    """docs/bad-inputs.md: one table row per catalogue row, in its section."""
    text = DOC.read_text()
    sections = {name: text.split(f"## {name}", 1)[1].split("\n## ", 1)[0] for name in (TRAINING, FOLDERS,
                                                                                       EXPLAIN_PARAMS)}
    for row in ROWS:
        message = row.message.replace("\n", " … ").replace("|", "\\|")
        line = f"| {row.where} | `{row.input}` | {message} |"
        assert line in sections[row.section], line
    assert len(ROWS) >= 30
