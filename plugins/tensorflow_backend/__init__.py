"""The TensorFlow (Keras 3) backend plugin. tensorflow itself is imported lazily, on first use."""

import importlib.util

from workbench.contributed import Benchmark, NativeBuilder
from workbench.hookspecs import hookimpl
from workbench.imagenet import Preprocessing

EFFICIENTNET = "efficientnet-lite0"
# keras.applications' "caffe" mode (VGG, ResNet50): RGB->BGR, minus the ImageNet mean in 0..255, no scaling;
# its "tf" mode (MobileNetV2): x / 127.5 - 1.
CAFFE = Preprocessing(mean=(123.68 / 255, 116.779 / 255, 103.939 / 255), bgr=True, scale=1.0)
TF_MODE = Preprocessing(mean=(0.5,) * 3, std=(0.5,) * 3)
ZOO = {"vgg16": CAFFE, "vgg19": CAFFE, "resnet50": CAFFE, "mobilenet_v2": TF_MODE}  # keras.applications


def native_builders() -> list[NativeBuilder]:
    """How this backend builds the pretrained architectures registered under these names
    (EfficientNet-Lite0 brings its own preprocessing; keras.applications' weights want theirs)."""
    built = f"{__name__}.pretrained"
    return [NativeBuilder(EFFICIENTNET, "tensorflow", f"{built}:build_efficientnet"),
            *(NativeBuilder(f"{name}-imagenet", "tensorflow", f"{built}:build_zoo", (name,), pre)
              for name, pre in ZOO.items())]

# triton (loaded by torchvision and torch.compile) segfaults the process when its native library
# loads after tensorflow's; every tensorflow import goes through this package, so load it first.
if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401


def _require_tensorflow() -> None:
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError("tensorflow is not installed: pip install 'cnn-workbench[tensorflow]'")


@hookimpl
def register_backends(register):
    _require_tensorflow()
    from .backend import TensorFlowBackend

    register(TensorFlowBackend())


@hookimpl
def register_native_builders(register):
    _require_tensorflow()
    for builder in native_builders():
        register(builder)


@hookimpl
def register_benchmarks(register):
    _require_tensorflow()
    register(Benchmark("optimize", "tensorflow", f"{__name__}.bench_optimize:floor",
                       "bare tf.GradientTape evaluations of the surface in one compiled loop"))
    register(Benchmark("train", "tensorflow", f"{__name__}.bench_train:baseline",
                       "a plain Keras compile + model.fit on numpy arrays"))
