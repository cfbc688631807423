"""`workbench bench explain --json`: every ratio and agreement the issue names, measured in one process
(a tiny run: the figures themselves come from the full benchmark, see the README)."""

import json
import os


from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("captum")
require("pytorch_grad_cam")

from workbench.cli import main  # noqa: E402

RATIOS = {"saliency_vs_fwd_bwd", "guided_backprop_vs_fwd_bwd", "grad_cam_vs_fwd_bwd", "grad_cam_vs_pytorch_grad_cam",
          "grad_cam_vs_captum", "lime_speedup_vs_lime_default", "lime_speedup_vs_lime_loop_our_predict",
          "occlusion_vs_forward_passes"}


def test_bench_explain_prints_every_ratio_and_agreement(capsys):
    code = main(["bench", "explain", "--batch", "2", "--repeats", "1", "--warmup", "1", "--lime-samples", "40",
                 "--lime-repeats", "1", "--occlusion", "112,56", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["device"] in ("cpu", "cuda:0")
    assert set(report["ratios"]) == RATIOS and all(v > 0 for v in report["ratios"].values())
    # the same maps, whoever computes them: ours, pytorch-grad-cam's and captum's (bilinear, ReLU)
    assert report["agreement"]["grad_cam_corr_pytorch_grad_cam"] >= 0.999
    assert report["agreement"]["grad_cam_corr_captum"] >= 0.999
    assert 0 <= report["agreement"]["lime_top_superpixel_overlap"] <= 1
    assert report["lime_batch"] >= 1 and report["occlusion_windows"] > 1
