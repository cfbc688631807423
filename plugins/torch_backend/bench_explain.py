"""What `workbench bench explain` compares our explainers with, on the same torch model and inputs:
one plain forward+backward pass, pytorch-grad-cam's GradCAM, captum's LayerGradCam (bilinear,
ReLU), lime's default explain_instance path (with the classifier_fn of lime's PyTorch tutorial, and
again with our predict), and the bare batched forward passes occlusion needs."""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from .inference import logits_mode, model_device, to_tensor
from workbench.explain import GradCAM, GuidedBackprop, Lime, Occlusion, Saliency
from workbench.explain.lime_method import superpixels
from workbench.explain.occlusion import windows
from workbench.model_facts import layers_of


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fns: dict, device, warmup: int, repeats: int) -> tuple[dict, dict]:
    """Median seconds per function and its last result. The functions run in turns, in alternating
    order, after `warmup` turns: a busy machine slows them all alike."""
    times, results = {name: [] for name in fns}, {}
    for turn in range(warmup + repeats):
        order = list(fns.items()) if turn % 2 == 0 else list(fns.items())[::-1]
        for name, fn in order:
            _sync(device)
            t0 = time.perf_counter()
            results[name] = fn()
            _sync(device)
            if turn >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}, results


def fwd_bwd(model, x, targets):
    """The floor every gradient method pays: numpy in, one forward, one backward to the input, numpy out."""
    device = model_device(model)
    xt = to_tensor(x, device).requires_grad_(True)
    with torch.enable_grad(), logits_mode(model):
        out = model(xt)
        (grad,) = torch.autograd.grad(out[torch.arange(len(x)), torch.tensor(targets)].sum(), xt)
    return grad.permute(0, 2, 3, 1).cpu().numpy()


def pytorch_grad_cam(model, layer_module, x, targets):
    from pytorch_grad_cam import GradCAM as PGC
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with logits_mode(model), PGC(model=model, target_layers=[layer_module]) as cam:
        return cam(input_tensor=to_tensor(x, model_device(model)), targets=[ClassifierOutputTarget(t) for t in targets])


def captum_grad_cam(model, layer_module, x, targets):
    from captum.attr import LayerAttribution, LayerGradCam

    with logits_mode(model):
        low = LayerGradCam(model, layer_module).attribute(to_tensor(x, model_device(model)), target=list(targets),
                                                          relu_attributions=True)
        up = LayerAttribution.interpolate(low, tuple(x.shape[1:3]), interpolate_mode="bilinear")
    return up[:, 0].detach().cpu().numpy()


def tutorial_classifier(model):
    """The classifier_fn of lime's PyTorch tutorial: each image to a CHW tensor, stacked, one
    forward without autograd, softmax. (Its ToTensor/normalise step is already done: x is model input.)"""
    device = model_device(model)

    def batch_predict(images):
        model.eval()
        batch = torch.stack([torch.from_numpy(np.asarray(i, np.float32)).permute(2, 0, 1) for i in images]).to(device)
        with torch.no_grad(), logits_mode(model):
            return F.softmax(model(batch), dim=1).cpu().numpy()

    return batch_predict


def lime_default(classifier, image, target, segments, samples, seed):
    """lime as its README uses it: explain_instance with its default batch_size=10 loop."""
    from lime.lime_image import LimeImageExplainer

    explanation = LimeImageExplainer(random_state=seed).explain_instance(
        image.astype(np.float64), classifier,
        labels=(target,), top_labels=None, num_samples=samples, segmentation_fn=lambda _: segments,
        random_seed=seed)
    weights = np.zeros(segments.max() + 1)
    for feature, weight in explanation.local_exp[target]:
        weights[feature] = weight
    return weights


def occlusion_forwards(model, image, size, stride, fill, batch):
    """The forward passes occlusion cannot avoid, with the occluded copies already built."""
    device = model_device(model)
    corners = windows(image.shape[0], image.shape[1], size, stride)
    copies = np.repeat(image[None], len(corners), axis=0)
    for k, (r, c) in enumerate(corners):
        copies[k, r:r + size, c:c + size] = fill
    tensors = [to_tensor(copies[i:i + batch], device) for i in range(0, len(copies), batch)]

    def run():
        with torch.inference_mode():
            return [F.softmax(model(t), dim=1).cpu() for t in tensors]

    return run


def corr(a, b) -> float:
    return float(np.mean([np.corrcoef(u.ravel(), v.ravel())[0, 1] for u, v in zip(a, b)]))


def measure(backend, model, x, targets, layer, repeats=5, warmup=2, lime_samples=1000, lime_repeats=2,
            occlusion=(32, 16)) -> dict:
    device = model_device(model)
    module = layers_of(model)[layer]
    t, out = timed({
        "fwd_bwd": lambda: fwd_bwd(model, x, targets),
        "saliency": lambda: Saliency().explain(backend, model, x, targets),
        "guided": lambda: GuidedBackprop().explain(backend, model, x, targets),
        "grad_cam": lambda: GradCAM().explain(backend, model, x, targets, layer=layer),
        "pgc": lambda: pytorch_grad_cam(model, module, x, targets),
        "captum": lambda: captum_grad_cam(model, module, x, targets),
    }, device, warmup, repeats)
    ours, pgc, cap = out["grad_cam"], out["pgc"], out["captum"]

    size, stride = occlusion
    batch = Occlusion().explain(backend, model, x[:1], targets[:1], window=size, stride=stride).steps["batch"]
    bare = occlusion_forwards(model, x[0], size, stride, 0.0, batch)  # same batch size as the explainer's
    t_occ, out = timed({
        "occlusion": lambda: Occlusion().explain(backend, model, x[:1], targets[:1], window=size, stride=stride),
        "occlusion_forwards": bare,
    }, device, warmup, repeats)
    t.update(t_occ)
    occ_out = out["occlusion"]

    segments = superpixels(x[0], "quickshift")
    tutorial = tutorial_classifier(model)
    our_predict = lambda imgs: backend.predict(model, imgs.astype(np.float32))  # noqa: E731 - lime's loop, our forward
    t_lime, out = timed({
        "lime_default": lambda: lime_default(tutorial, x[0], targets[0], segments, lime_samples, 0),
        "lime_default_our_predict": lambda: lime_default(our_predict, x[0], targets[0], segments, lime_samples, 0),
        "lime": lambda: Lime().explain(backend, model, x[:1], targets[:1], samples=lime_samples, seed=0),
    }, device, 1, lime_repeats)
    t.update(t_lime)
    theirs, mine = out["lime_default"], out["lime"]
    top_ours = set(np.argsort(-mine.steps["coefficients"][0])[:5])
    top_theirs = set(np.argsort(-theirs)[:5])
    return {
        "ratios": {
            "saliency_vs_fwd_bwd": t["saliency"] / t["fwd_bwd"],
            "guided_backprop_vs_fwd_bwd": t["guided"] / t["fwd_bwd"],
            "grad_cam_vs_fwd_bwd": t["grad_cam"] / t["fwd_bwd"],
            "grad_cam_vs_pytorch_grad_cam": t["grad_cam"] / t["pgc"],
            "grad_cam_vs_captum": t["grad_cam"] / t["captum"],
            "lime_speedup_vs_lime_default": t["lime_default"] / t["lime"],
            # the same, with lime's default loop calling our backend's predict: what our loop alone gains
            "lime_speedup_vs_lime_loop_our_predict": t["lime_default_our_predict"] / t["lime"],
            "occlusion_vs_forward_passes": t["occlusion"] / t["occlusion_forwards"],
        },
        "agreement": {
            "grad_cam_corr_pytorch_grad_cam": corr(ours.maps, pgc),
            "grad_cam_corr_captum": corr(ours.maps, cap),
            "lime_top_superpixel_overlap": len(top_ours & top_theirs) / 5,
        },
        "seconds": t,
        "occlusion_windows": len(occ_out.steps["corners"]),
        "lime_batch": mine.steps["batch"],
        "superpixels": int(segments.max() + 1),
    }
