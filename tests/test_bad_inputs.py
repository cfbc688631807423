"""The catalogue of bad inputs (docs/bad-inputs.md), run row by row.

A row is data: ``Row(section, where, input, message, run)``:

- ``section``: the heading of docs/bad-inputs.md it is listed under;
- ``where``: "CLI", "API" or "page";
- ``input``: what was given, in a few words (the doc's "Input" column, word for word);
- ``message``: text the user must see (a plain substring; the doc's "Message" column, word for word);
- ``run(tmp)``: does it (``tmp`` is a fresh folder) and returns everything the user saw:
  a CLI run's stdout + stderr (``cli(...)``), an API call's exception message (``api(...)``),
  a page's error and warning texts (``page_messages(at)``).

Each row must show its message, print or raise no traceback, and finish well inside
ROW_SECONDS (a generous bound that a hang or an exponential blow-up would pass by far).
``test_catalogue_matches_the_doc`` keeps the doc and the rows the same table.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import re
import struct
import threading
import time
import traceback
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from conftest import APPTEST_TIMEOUT, _render_page
from workbench import cli as workbench_cli
from workbench import registry as R
from workbench import spec, ui
from workbench.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "bad-inputs.md"
ROW_SECONDS = 60


@dataclass(frozen=True)
class Row:
    section: str
    where: str
    input: str
    message: str
    run: Callable[[Path], str]

    @property
    def id(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", f"{self.where} {self.input}".lower()).strip("-")[:60]


# -- how a row is run ---------------------------------------------------------------------
def cli(*argv: str) -> str:
    """`workbench ARGV` in this process; what it printed (a traceback included, if one escaped)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = workbench_cli.main([str(a) for a in argv])
        except BaseException:  # noqa: BLE001 - a row must fail with what escaped, not stop the run
            traceback.print_exc()
            code = None
    assert code not in (0, None) or "--json" in argv, f"exit code {code}: {out.getvalue()} {err.getvalue()}"
    return out.getvalue() + err.getvalue()


def api(call: Callable[[], object]) -> str:
    """The message of the clear error ``call`` raises (a ValueError, KeyError or OSError, as the
    CLI and the pages show them); any other exception is returned as its traceback."""
    try:
        call()
    except (ValueError, KeyError, OSError) as exc:
        return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    except BaseException:  # noqa: BLE001
        return traceback.format_exc()
    return "(no error: the bad input was accepted)"


def page_messages(at) -> str:
    """Every error, warning and exception a page showed, one per line."""
    texts = [e.value for e in at.error] + [w.value for w in at.warning]
    texts += [f"Traceback: {e.message}\n{''.join(e.stack_trace)}" for e in at.exception]
    return "\n".join(texts)


def page(module: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_function(_render_page, args=(module,), default_timeout=APPTEST_TIMEOUT).run()


# -- the bad inputs themselves ------------------------------------------------------------
def write(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def yaml_bomb(doublings: int = 25) -> str:
    """About 1.3 KB: each layer is a Residual whose body (an anchor) is two Residuals around the
    body before it, so the last one stands for 2**25 layers."""
    lines = ["name: bomb", "input_shape: [8, 8, 4]", "num_classes: 2", "layers:",
             "  - {type: Residual, body: &b0 [{type: Activation, activation: relu}]}"]
    for i in range(1, doublings):
        lines.append(f"  - {{type: Residual, body: &b{i} [{{type: Residual, body: *b{i - 1}}}, "
                     f"{{type: Residual, body: *b{i - 1}}}]}}")
    return "\n".join(lines) + "\n"


def arch_json(layers, input_shape=(28, 28, 1), **extra) -> str:
    return json.dumps({"name": "bad", "input_shape": list(input_shape), "layers": layers, **extra})


FLAT_DENSE = [{"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
HUGE_DENSE = [{"type": "Flatten"}, {"type": "Dense", "units": 10**9}, {"type": "Dense", "units": 10}]


def png(array: np.ndarray | None = None, mode: str | None = None, size=None) -> bytes:
    buffer = io.BytesIO()
    (Image.fromarray(array) if array is not None else Image.new(mode, size)).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(side: int = 40_000) -> bytes:
    """A PNG whose header says side x side pixels (1.6 gigapixels for 40,000), in a few hundred bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def shapes_of(tmp: Path, name: str, content: str | bytes) -> str:
    return cli("shapes", write(tmp, name, content))


def backend(name: str):
    from conftest import require
    from workbench import lookup

    require("torch" if name == "pytorch" else "tensorflow")
    return lookup.backend(name)


def built(name: str, layers=FLAT_DENSE):
    arch = spec.loads_architecture(arch_json(layers))
    return backend(name), backend(name).build(arch)


def saved_model(tmp: Path, change: Callable[[dict], dict] | None = None, beside: str | None = None) -> Path:
    """A saved 'bad' model (Keras layout), its weights changed by ``change`` and its architecture
    JSON replaced by ``beside``."""
    from workbench import weights as W

    b, model = built("pytorch")
    path = b.save(model, tmp / "model")
    if change is not None:
        W.save_file(change(W.load_file(path)), path, metadata={"format": W.KERAS_LAYOUT})
    if beside is not None:
        W.architecture_path(path).write_text(beside)
    return path


def predict_with(name: str, x, **kwargs) -> Callable[[], object]:
    def call():
        b, model = built(name)
        return b.predict(model, x, **kwargs)

    return call


def with_plugin(plugin: object, plugin_name: str, *argv: str) -> str:
    """`workbench ARGV` with one more plugin registered beside the installed ones."""
    R.reset_registry()
    try:
        R.get_registry().add(plugin, plugin_name)
        return cli(*argv)
    finally:
        R.reset_registry()


def plugin_json(plugin: object, plugin_name: str) -> str:
    """The plugin's own entry of `workbench plugins --json` (error and warnings)."""
    listed = {p["name"]: p for p in json.loads(with_plugin(plugin, plugin_name, "plugins", "--json"))}
    return json.dumps(listed[plugin_name])


class Plugin:
    """A plugin object with one hook: ``Plugin("register_architectures", lambda register: ...)``."""

    def __init__(self, hook: str, body: Callable):
        def impl(register):
            return body(register)

        setattr(self, hook, hookimpl(impl))


def registers(hook: str, make: Callable[[], object]) -> Plugin:
    """A plugin whose ``hook`` registers what ``make()`` returns."""
    return Plugin(hook, lambda register: register(make()))


def exits(register):
    import sys

    sys.exit(3)


def named(name: str):
    """An object with a name and nothing else."""
    return type("Named", (), {"name": name})()


def registered(kind: str, name: str):
    return R.Registry().get(kind, name)


def renamed(name: str) -> spec.Architecture:
    import dataclasses

    return dataclasses.replace(spec.loads_architecture(arch_json(FLAT_DENSE)), name=name)


def without_architecture(tmp: Path) -> Path:
    from workbench import weights as W

    path = saved_model(tmp)
    W.architecture_path(path).unlink()
    return path


# The shape calculator, with an upload in its box.
def calculator_upload(name: str, content: str | bytes, keep: bool = True) -> str:
    at = page("shape_calculator")
    at.file_uploader(key="calc_upload").set_value((name, content.encode() if isinstance(content, str) else content,
                                                   "application/octet-stream")).run()
    shown = page_messages(at)
    if keep:  # the message stays while that file is in the box (a rerun does not lose it)
        at.run()
        assert page_messages(at) == shown, "the message went away on the next rerun"
    return shown


def table_with_more(cell: str):
    """The calculator's table (workbench.layer_table) with one row whose 'more' cell is ``cell``."""
    import pandas as pd

    from workbench import layer_table as T

    frame = pd.DataFrame([{"type": "Flatten", "more": cell}, {"type": "Dense", "units": 10}])
    return T.from_frame(frame, "table", (28, 28, 1), 10)


def calculator_height(height: int) -> str:
    at = page("shape_calculator")
    at.number_input(key="calc_h_0").set_value(height).run()
    return page_messages(at)


def explanation_upload(content: bytes) -> str:
    """A bad photo in the explanation lesson's uploader: the message at the uploader, the rest of
    the lesson still there (its Explain button)."""
    at = page("explanations")
    at.file_uploader(key="ex_upload").set_value([("bomb.png", content, "image/png")]).run()
    assert at.button(key="ex_run") is not None and not at.exception
    return page_messages(at)


def convolution_upload(content: bytes, name: str = "notes.png") -> str:
    at = page("convolution")
    at.file_uploader(key="conv_upload").set_value((name, content, "image/png")).run()
    return page_messages(at)


def home_with(plugin: object, plugin_name: str) -> str:
    R.reset_registry()
    ui.registry.clear()
    try:
        R.get_registry().add(plugin, plugin_name)
        return page_messages(page("home"))
    finally:
        R.reset_registry()
        ui.registry.clear()


A, I, M, P = "Architecture files", "Images and uploads", "Saved models", "Plugins"
ROWS = [
    # -- architecture files --------------------------------------------------------------
    Row(A, "CLI", "YAML anchors doubling a Residual body 25 times (2.3 KB)", "expands to more than 200,000 values",
        lambda t: shapes_of(t, "bomb.yaml", yaml_bomb())),
    Row(A, "CLI", "a YAML anchor that contains itself", "a YAML anchor contains itself",
        lambda t: shapes_of(t, "loop.yaml", "name: loop\ninput_shape: [8, 8, 1]\nlayers: &a [{type: Residual, body: *a}]\n")),
    Row(A, "CLI", "more than 500 YAML aliases", "more than 500 YAML aliases",
        lambda t: shapes_of(t, "many.yaml", "a: &a {type: Flatten}\nlayers: [" + ", ".join(["*a"] * 600) + "]\n")),
    Row(A, "CLI", "YAML lists nested 100,000 deep", "nested more than 64 levels deep",
        lambda t: shapes_of(t, "deep.yaml", "[" * 100_000)),
    Row(A, "CLI", "JSON lists nested 100,000 deep", "nested more than 64 levels deep",
        lambda t: shapes_of(t, "deep.json", "[" * 100_000 + "]" * 100_000)),
    Row(A, "CLI", "a 2 MB architecture file", "an architecture file may be at most 1,048,576 bytes",
        lambda t: shapes_of(t, "big.json", arch_json(FLAT_DENSE, description="x" * (2 << 20)))),
    Row(A, "CLI", "20,000 layers (plus Flatten and Dense)", "20,002 layers; at most 10,000",
        lambda t: shapes_of(t, "long.json", arch_json([{"type": "Activation", "activation": "relu"}] * 20_000 + FLAT_DENSE))),
    Row(A, "CLI", "a layer whose type is a list", "layers[0], key 'type': unknown layer type ['Conv2D']",
        lambda t: shapes_of(t, "list.json", arch_json([{"type": ["Conv2D"], "filters": 4, "kernel_size": 3}] + FLAT_DENSE))),
    Row(A, "CLI", "an input height of 10^9", "is too big: height and width at most 16,384",
        lambda t: shapes_of(t, "tall.json", arch_json(FLAT_DENSE, input_shape=(10**9, 28, 1)))),
    Row(A, "CLI", "`--input 1000000000,28,1`", "is too big: height and width at most 16,384",
        lambda t: cli("shapes", "mnist-cnn", "--input", "1000000000,28,1")),
    Row(A, "CLI", "YAML that does not parse", "file: not valid YAML",
        lambda t: shapes_of(t, "broken.yaml", "name: [unclosed\n")),
    Row(A, "CLI", "JSON that does not parse", "file: not valid JSON",
        lambda t: shapes_of(t, "broken.json", '{"name": "x", "layers": [')),
    Row(A, "CLI", "a folder named like an architecture file", "is a folder, not an architecture file",
        lambda t: cli("shapes", (t / "dir.json").mkdir() or t / "dir.json")),
    Row(A, "API", "Dense(10**9) built in PyTorch", "795,000,000,010 parameters need 2.9 TiB as float32, more than the",
        lambda t: api(lambda: built("pytorch", HUGE_DENSE))),
    Row(A, "API", "Dense(10**9) built in TensorFlow", "the biggest layer is dense_1 (Dense, 785,000,000,000 parameters)",
        lambda t: api(lambda: built("tensorflow", HUGE_DENSE))),
    Row(A, "API", "shape calculator table: a 'more' cell nested 100,000 deep",
        "layers[0], key 'more': nested more than 64 levels deep",
        lambda t: api(lambda: table_with_more('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"))),
    Row(A, "API", "shape calculator table: a 'more' cell nested 71 deep",
        "layers[0], key 'more': nested more than 64 levels deep",
        lambda t: api(lambda: table_with_more('{"a": ' + "[" * 70 + "]" * 70 + "}"))),
    Row(A, "page", "shape calculator: the YAML anchor bomb uploaded", "bomb.yaml: file: expands to more than 200,000 values",
        lambda t: calculator_upload("bomb.yaml", yaml_bomb())),
    Row(A, "page", "shape calculator: a layer type that is a list uploaded",
        "list.json: Row 1, column 'type': unknown layer type ['Conv2D']",
        lambda t: calculator_upload("list.json", arch_json([{"type": ["Conv2D"], "filters": 4, "kernel_size": 3}] + FLAT_DENSE))),
    Row(A, "page", "shape calculator: input height 10^9", "is too big: height and width at most 16,384",
        lambda t: calculator_height(10**9)),
    # -- images and uploads --------------------------------------------------------------
    Row(I, "CLI", "a 40000x40000 PNG of a few hundred bytes (a decompression bomb)",
        "bomb.png is 1,600,000,000 pixels; please use an image under 16 megapixels",
        lambda t: cli("explain", write(t, "bomb.png", bomb_png()), "--model", "mnist-cnn")),
    Row(I, "CLI", "a 5000x4000 PNG", "scan.png is 5000x4000; please use an image under 16 megapixels",
        lambda t: cli("explain", write(t, "scan.png", png(mode="L", size=(5000, 4000))), "--model", "mnist-cnn")),
    Row(I, "CLI", "an image path that is a folder", "is a folder, not an image file",
        lambda t: cli("explain", t, "--model", "mnist-cnn")),
    Row(I, "CLI", "a truncated PNG", "cut.png is a damaged image (image file is truncated",
        lambda t: cli("explain", write(t, "cut.png", png(np.zeros((64, 64, 3), np.uint8) + 7)[:120]), "--model", "mnist-cnn")),
    Row(I, "CLI", "a text file named .png", "notes.png is not an image that can be read (PNG, JPEG",
        lambda t: cli("explain", write(t, "notes.png", "not a picture"), "--model", "mnist-cnn")),
    Row(I, "CLI", "an empty image file", "empty.png is empty",
        lambda t: cli("explain", write(t, "empty.png", b""), "--model", "mnist-cnn")),
    Row(I, "API", "a decompression bomb given to the decoder", "is 1,600,000,000 pixels; please use an image under 16",
        lambda t: api(lambda: __import__("workbench.image_decoder").image_decoder.decode(bomb_png(), "upload.png"))),
    Row(I, "API", "PyTorch predict on an image with a NaN pixel", "1 of the 2 images contain NaN or infinite pixels",
        lambda t: api(predict_with("pytorch", np.where(np.arange(2 * 784).reshape(2, 28, 28, 1) == 5, np.nan, 0.5)))),
    Row(I, "API", "TensorFlow predict on an image with a NaN pixel", "1 of the 2 images contain NaN or infinite pixels",
        lambda t: api(predict_with("tensorflow", np.where(np.arange(2 * 784).reshape(2, 28, 28, 1) == 5, np.nan, 0.5)))),
    Row(I, "API", "PyTorch predict with an infinite pixel", "contain NaN or infinite pixels",
        lambda t: api(predict_with("pytorch", np.full((1, 28, 28, 1), np.inf)))),
    Row(I, "API", "PyTorch `predict(batch_size=0)`", "batch_size must be a positive integer, got 0",
        lambda t: api(predict_with("pytorch", np.zeros((2, 28, 28, 1)), batch_size=0))),
    Row(I, "API", "TensorFlow `predict(batch_size=0)`", "batch_size must be a positive integer, got 0",
        lambda t: api(predict_with("tensorflow", np.zeros((2, 28, 28, 1)), batch_size=0))),
    Row(I, "API", "PyTorch predict on an empty batch", "no images: the batch is empty",
        lambda t: api(predict_with("pytorch", np.zeros((0, 28, 28, 1))))),
    Row(I, "API", "TensorFlow predict on an empty batch", "no images: the batch is empty",
        lambda t: api(predict_with("tensorflow", np.zeros((0, 28, 28, 1))))),
    Row(I, "page", "explanation lesson: a decompression bomb uploaded",
        "bomb.png is 1,600,000,000 pixels; please use an image under 12 megapixels",
        lambda t: explanation_upload(bomb_png())),
    Row(I, "page", "convolution lesson: a text file uploaded as a photo", "notes.png is not an image that can be read",
        lambda t: convolution_upload(b"not a picture")),
    Row(I, "page", "convolution lesson: a 4500x3000 photo uploaded (over the 12 megapixels a session may upload)",
        "scan.png is 4500x3000; please use an image under 12 megapixels",
        lambda t: convolution_upload(png(mode="L", size=(4500, 3000)), "scan.png")),
    # -- saved models --------------------------------------------------------------------
    Row(M, "CLI", "a pickle given as the model to explain", "evil.pkl is not a safetensors weights file",
        lambda t: cli("explain", "sample:coffee", "--backend", "pytorch",
                      "--model", write(t, "evil.pkl", pickle.dumps({"conv2d_1": [1, 2, 3]})))),
    Row(M, "API", "a pickle loaded as a model in TensorFlow", "never pickles",
        lambda t: api(lambda: backend("tensorflow").load(write(t, "evil.pkl", pickle.dumps([1, 2]))))),
    Row(M, "API", "a weights file missing a layer", "has no weights for layer 'dense_1' of bad",
        lambda t: api(lambda: backend("tensorflow").load(
            saved_model(t, lambda w: {k: v for k, v in w.items() if k != "dense_1"})))),
    Row(M, "API", "NaN weights", "layer 'dense_1' has NaN or infinite weights",
        lambda t: api(lambda: backend("pytorch").load(
            saved_model(t, lambda w: {**w, "dense_1": [w["dense_1"][0] * np.nan, w["dense_1"][1]]})))),
    Row(M, "API", "infinite weights", "layer 'dense_1' has NaN or infinite weights",
        lambda t: api(lambda: backend("tensorflow").load(
            saved_model(t, lambda w: {**w, "dense_1": [w["dense_1"][0], w["dense_1"][1] + np.inf]})))),
    Row(M, "API", "a broken architecture JSON beside the weights",
        "model.json: the architecture saved beside model.safetensors cannot be read: file: not valid JSON",
        lambda t: api(lambda: backend("pytorch").load(saved_model(t, beside='{"backend": "pytorch", ')))),
    Row(M, "CLI", "`workbench export` of a model with a broken architecture JSON beside it",
        "model.json: the architecture saved beside model.safetensors cannot be read: file: not valid JSON",
        lambda t: cli("export", saved_model(t, beside='{"backend": '), "--format", "safetensors", "--out", t / "out")),
    Row(M, "API", "an architecture JSON beside the weights that is a list",
        "cannot be read: file: expected {\"backend\": ..., \"architecture\": {...}}",
        lambda t: api(lambda: backend("pytorch").load(saved_model(t, beside="[1, 2]")))),
    Row(M, "CLI", "the architecture JSON beside the weights nested 50,000 deep",
        "cannot be read: file: nested more than 64 levels deep",
        lambda t: cli("explain", "sample:coffee", "--backend", "pytorch",
                      "--model", saved_model(t, beside="[" * 50_000 + "]" * 50_000))),
    Row(M, "API", "weights without their architecture JSON", "no architecture file",
        lambda t: api(lambda: backend("pytorch").load(without_architecture(t)))),
    # -- plugins -------------------------------------------------------------------------
    Row(P, "CLI", "a plugin registering a plain object as an architecture",
        "register_architectures: 'tiny' (Named) is not a workbench.spec.Architecture; skipped",
        lambda t: plugin_json(registers("register_architectures", lambda: named("tiny")), "plain")),
    Row(P, "CLI", "a plugin registering an architecture as a backend",
        "register_backends: 'jax' (Architecture) is not a workbench.backend.Backend; skipped",
        lambda t: plugin_json(registers("register_backends", lambda: renamed("jax")), "confused")),
    Row(P, "CLI", "a plugin registering a plain object as a dataset",
        "'faces' (Named) is not a workbench.data.Dataset (or a factory with .at(path))",
        lambda t: plugin_json(registers("register_datasets", lambda: named("faces")), "data")),
    Row(P, "CLI", "a plugin registering a plain object as an explainer",
        "'magic' (Named) is not a workbench.explain.Explainer",
        lambda t: plugin_json(registers("register_explainers", lambda: named("magic")), "magic")),
    Row(P, "CLI", "a hook that calls sys.exit", "register_lessons: SystemExit: 3",
        lambda t: plugin_json(Plugin("register_lessons", exits), "quitter")),
    Row(P, "CLI", "a misspelled hook `register_widgets`", "register_widgets is not a workbench hook, so it is never called",
        lambda t: plugin_json(Plugin("register_widgets", lambda register: None), "widgets")),
    Row(P, "CLI", "a misspelled hook `register_architecture`", "did you mean register_architectures?",
        lambda t: plugin_json(Plugin("register_architecture", lambda register: None), "singular")),
    Row(P, "CLI", "a plugin registering a backend named `pytorch`",
        "'pytorch' is already registered by plugin 'torch_backend'; this plugin's backend of that name is skipped",
        lambda t: plugin_json(registers("register_backends", lambda: registered("backends", "pytorch")),
                              "impostor")),
    Row(P, "CLI", "a plugin registering an architecture named `mnist-cnn`",
        "'mnist-cnn' is already registered by plugin 'architectures'",
        lambda t: plugin_json(registers("register_architectures", lambda: renamed("mnist-cnn")), "lookalike")),
    Row(P, "API", "`mnist-cnn` after a plugin reused its name (the built-in is kept)", "mnist-cnn has 93,322 parameters",
        lambda t: "mnist-cnn has {:,} parameters".format(
            *registry_with(registers("register_architectures", lambda: renamed("mnist-cnn")), "lookalike"))),
    Row(P, "page", "home: a plugin with a misspelled hook", "Plugin **widgets**: register_widgets is not a workbench hook",
        lambda t: home_with(Plugin("register_widgets", lambda register: None), "widgets")),
    Row(P, "page", "home: a hook that calls sys.exit", "Plugin **quitter** had an error (what it registered in that hook was skipped): register_lessons: SystemExit: 3",
        lambda t: home_with(Plugin("register_lessons", exits), "quitter")),
]


def registry_with(plugin: object, plugin_name: str) -> tuple[int]:
    """The parameter count of what `mnist-cnn` names once ``plugin`` is registered too."""
    from workbench import shapes

    registry = R.Registry()
    registry.add(plugin, plugin_name)
    return (shapes.compute(registry.architectures()["mnist-cnn"]).total_params,)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_gets_its_message(row, tmp_path):
    start = time.monotonic()
    shown = row.run(tmp_path)
    took = time.monotonic() - start
    assert row.message in shown, f"expected {row.message!r}, the user saw:\n{shown}"
    assert "Traceback" not in shown, shown
    assert took < ROW_SECONDS, f"{row.input} took {took:.0f} s"


def doc_rows() -> dict[str, list[tuple[str, str, str]]]:
    """docs/bad-inputs.md: section -> (where, input, message) per table row."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    section = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.startswith("|") and section and not set(line) <= set("|- "):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            if cells[0] != "Where":
                out.setdefault(section, []).append(tuple(c.replace("\\|", "|") for c in cells))
    return out


def test_the_shipped_architectures_are_well_inside_the_bounds():
    """The bounds refuse bombs, not real networks: every shipped spec file (DenseNet-121's 428
    layers the biggest) reads with ten times to spare on each bound."""
    from workbench.model import limits
    from workbench_plugins.architectures import spec_files

    for path in spec_files():
        text = path.read_text()
        assert len(text) * 10 < limits.MAX_FILE_BYTES, path.name
        data = limits.load_yaml(text)
        saved = (limits.MAX_NODES, limits.MAX_DEPTH)
        try:
            limits.MAX_NODES, limits.MAX_DEPTH = limits.MAX_NODES // 10, limits.MAX_DEPTH // 4
            limits.check_data(data)
        finally:
            limits.MAX_NODES, limits.MAX_DEPTH = saved
        assert len(spec.walk(spec.parse_architecture(data).layers)) * 10 < limits.MAX_LAYERS, path.name


def test_catalogue_matches_the_doc():
    """Every row here is a row of the doc (where, input, message, word for word), and back."""
    documented = doc_rows()
    mine = {}
    for row in ROWS:
        mine.setdefault(row.section, []).append((row.where, row.input, f"`{row.message}`"))
    for section, rows in mine.items():
        assert documented.get(section) == rows, section


def test_a_hostile_upload_does_not_slow_another_students_page():
    """Two students on one server (two AppTest sessions): one uploads the YAML bomb to the
    calculator while the other edits the default architecture, in two threads at once. The bomb
    is refused before one of its layers is parsed: its page run parses exactly as many layers as a
    plain rerun of the same page (the table shown), not the 2**25 the file expands to; the other
    student's page finishes with its usual numbers."""
    from streamlit.testing.v1 import AppTest

    calls = []
    original = spec.parse_layer

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    def session():
        return AppTest.from_function(_render_page, args=("shape_calculator",), default_timeout=APPTEST_TIMEOUT).run()

    hostile, other = session(), session()
    spec.parse_layer = counting
    try:
        hostile.run()
        plain = len(calls)
        calls.clear()
        hostile.file_uploader(key="calc_upload").set_value(("bomb.yaml", yaml_bomb().encode(), "application/yaml"))
        hostile.run()
        assert len(calls) == plain > 0  # bounded work: none of the bomb's layers was parsed
        assert "expands to more than 200,000 values" in page_messages(hostile)

        hostile.file_uploader(key="calc_upload").set_value(("bomb2.yaml", yaml_bomb(30).encode(), "application/yaml"))
        other.number_input(key="calc_h_0").set_value(32)
        threads = [threading.Thread(target=at.run) for at in (hostile, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=2 * APPTEST_TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a session did not finish"
    finally:
        spec.parse_layer = original
    assert "bomb2.yaml: file: expands to more than 200,000 values" in page_messages(hostile)
    assert page_messages(other) == ""
    # the other student's calculator: mnist-cnn at 32x32 (seed 001's formula: conv 3x3 valid, pool 2)
    assert [m.value for m in other.metric][:1] == [ui.number(shapes_total(32))]


def shapes_total(height: int) -> int:
    from workbench import shapes

    arch = R.get_registry().architectures()["mnist-cnn"]
    return shapes.compute(arch.with_input((height, 28, 1))).total_params


def markdown_tables(rows=ROWS) -> str:
    """The doc's tables for these rows (`python tests/test_bad_inputs.py` prints them)."""
    out, sections = [], {}
    for row in rows:
        sections.setdefault(row.section, []).append(row)
    for section, rows in sections.items():
        out += [f"## {section}", "", "| Where | Input | Message |", "| --- | --- | --- |"]
        out += [f"| {r.where} | {r.input} | `{r.message}` |" for r in rows] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown_tables())
