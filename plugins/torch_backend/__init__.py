"""The PyTorch backend plugin. torch itself is imported lazily, on first use."""

import importlib.util

from workbench.contributed import Benchmark, NativeBuilder
from workbench.hookspecs import hookimpl
from workbench.imagenet import Preprocessing

EFFICIENTNET = "efficientnet-lite0"
ZOO = ("vgg16", "vgg19", "resnet50", "mobilenet_v2")  # torchvision models (pretrained.py builds them)
# torchvision's ImageNet weights (V1) were trained on (x/255 - mean) / std, RGB.
TORCHVISION = Preprocessing(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def native_builders() -> list[NativeBuilder]:
    """How this backend builds the pretrained architectures registered under these names
    (EfficientNet-Lite0 brings its own preprocessing; torchvision's weights want theirs)."""
    built = f"{__name__}.pretrained"
    return [NativeBuilder(EFFICIENTNET, "pytorch", f"{built}:build_efficientnet"),
            *(NativeBuilder(f"{name}-imagenet", "pytorch", f"{built}:build_zoo", (name,), TORCHVISION) for name in ZOO)]


def _require_torch() -> None:
    if importlib.util.find_spec("torch") is None:
        raise ImportError("torch is not installed: pip install 'cnn-workbench[torch]'")


@hookimpl
def register_backends(register):
    _require_torch()
    from .backend import TorchBackend

    register(TorchBackend())


@hookimpl
def register_native_builders(register):
    _require_torch()
    for builder in native_builders():
        register(builder)


@hookimpl
def register_benchmarks(register):
    _require_torch()
    register(Benchmark("optimize", "pytorch", f"{__name__}.bench_optimize:floor",
                       "bare torch.autograd.grad evaluations of the surface, one point at a time"))
    register(Benchmark("train", "pytorch", f"{__name__}.bench_train:baseline",
                       "the tutorials' plain loop: DataLoader over a TensorDataset, cross-entropy, Adam"))
    register(Benchmark("explain", "pytorch", f"{__name__}.bench_explain:measure",
                       "a plain forward+backward, pytorch-grad-cam, captum, lime's default path"))
