"""On the pretrained EfficientNet-Lite0 and the offline sample photos, Grad-CAM is more faithful
than a random order (deletion AUC lower, insertion AUC higher); the CLI prints its JSON."""

import json
import os

import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")

from workbench import samples  # noqa: E402
from workbench.cli import main  # noqa: E402
from workbench.explain import GradCAM  # noqa: E402
from workbench.explain.faithfulness import deletion_insertion, mean_scores, random_baseline  # noqa: E402
from workbench.explain.inputs import model_inputs  # noqa: E402
from workbench.registry import get_registry  # noqa: E402


@pytest.fixture(scope="module")
def pretrained():
    registry = get_registry()
    backend = registry.backends()["pytorch"]
    arch = registry.architectures()["efficientnet-lite0"]
    return backend, backend.build(arch), arch


def test_grad_cam_beats_random_order_on_sample_photos(pretrained):
    backend, model, arch = pretrained
    x, _ = model_inputs(arch, backend.name, [samples.load(n) for n in samples.names("photo")])
    targets = [int(i) for i in backend.predict(model, x).argmax(axis=1)]
    cam = GradCAM().explain(backend, model, x, targets).maps
    ours = deletion_insertion(backend, model, x, targets, cam, steps=10)
    rand = random_baseline(backend, model, x, targets, seeds=3, steps=10)
    mean_ours, mean_rand = mean_scores(ours), mean_scores(rand)
    assert mean_ours["deletion_auc"] < mean_rand["deletion_auc"], (mean_ours, mean_rand)
    assert mean_ours["insertion_auc"] > mean_rand["insertion_auc"], (mean_ours, mean_rand)
    # photo by photo: insertion always wins; deletion on most (on chelsea's fur and the coins a random
    # mosaic of blurred squares destroys texture about as fast as removing the object does)
    wins = [o["deletion_auc"] < r["deletion_auc"] for o, r in zip(ours, rand)]
    assert sum(wins) >= 6, dict(zip(samples.names("photo"), wins))
    assert all(o["insertion_auc"] > r["insertion_auc"] for o, r in zip(ours, rand)), list(zip(ours, rand))


def test_cli_prints_json_and_writes_grid(tmp_path, capsys):
    code = main(["explain", "sample:coffee", "--methods", "grad-cam,saliency,filters", "--steps", "4",
                 "--out", str(tmp_path), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["predictions"][0][0]["name"] == "espresso"
    assert set(report["methods"]) == {"grad-cam", "saliency", "filters"}
    cam = report["methods"]["grad-cam"]
    assert cam["forward_passes"] == 1 and cam["backward_passes"] == 1 and cam["seconds"] > 0
    assert 0 <= cam["deletion_auc"] <= 1 and 0 <= cam["insertion_auc"] <= 1
    assert report["methods"]["filters"]["deletion_auc"] is None  # a picture of the model, not a map
    assert set(report["random_baseline"]) == {"deletion_auc", "insertion_auc"}
    from PIL import Image

    with Image.open(tmp_path / "explanations.png") as grid:
        # the image row and two map rows of a 160-px cell each, and the filters' strip below them
        assert grid.size[0] == 130 + 160 and grid.size[1] > 3 * 160 + 40


def test_cli_bad_method_is_a_clear_error(tmp_path, capsys):
    code = main(["explain", "sample:coffee", "--methods", "nope", "--out", str(tmp_path), "--json"])
    assert code == 2
    assert "unknown method nope" in json.loads(capsys.readouterr().out)["error"]
