"""Built-in lessons and their exercises (exercises.py). Each page module is imported only when its lesson is opened, so the app
starts in seconds and a missing or broken page shows a clear message instead of a traceback."""

import importlib

from workbench.hookspecs import hookimpl
from workbench.lesson import Lesson

# name, title, section, icon, order, description
BUILT_IN = (
    ("home", "Welcome", "Start", ":material/home:", 0,
     "What the workbench is, the lessons in order, the course documents they reproduce, the plugins "
     "and devices."),
    ("convolution", "Convolution & Sobel", "Basics", ":material/grid_on:", 10,
     "Slide a kernel over a photo: Sobel edges, sharpening, stride, padding, pooling, the FFT."),
    ("shape_calculator", "Shape calculator", "Basics", ":material/calculate:", 20,
     "Output shape, parameters, receptive field and cost of every layer, checked in each backend."),
    ("gallery", "Architecture gallery", "Basics", ":material/account_tree:", 30,
     "LeNet to VGG and ResNet: diagrams, summaries and the ImageNet history table."),
    ("training", "Training", "Training", ":material/model_training:", 40,
     "Train a CNN with augmentation and transfer learning, in TensorFlow or PyTorch."),
    ("transfer", "Transfer learning", "Training", ":material/swap_horiz:", 42,
     "Scratch vs frozen vs fine-tuned vs features, over seeds and data fractions; the traps as toggles."),
    ("optimizers", "Optimizers", "Training", ":material/trending_down:", 45,
     "Ten optimizers race on loss surfaces and on a CNN: their state, their rules, Keras vs PyTorch."),
    ("well_performing", "A well-performing CNN", "Training", ":material/tune:", 47,
     "Standardisation, dropout, batch norm against dead ReLUs, initialisation: CNNs part II, live."),
    ("explanations", "Explanations", "Explaining", ":material/visibility:", 50,
     "Feature maps, saliency, Grad-CAM, occlusion and LIME side by side."),
)


def lazy_render(module: str):
    """render() of pages.<module>, imported on first use."""

    def render():
        importlib.import_module(f"workbench_pages.{module}").render()

    render.__name__ = f"render_{module}"
    return render


@hookimpl
def register_exercises(register):
    from workbench_plugins.lessons import exercises

    exercises.register(register)


@hookimpl
def register_lessons(register):
    for name, title, section, icon, order, description in BUILT_IN:
        register(Lesson(name=name, title=title, section=section, render=lazy_render(name),
                        icon=icon, order=order, description=description))
