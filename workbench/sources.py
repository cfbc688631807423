"""The course documents the workbench was made from, by key: their titles, what they cover and
which lessons reproduce them.

A student knows these documents by their titles, so everything a student reads names them that
way: an architecture file's `source:` starts with a key ("cnn-slides: 'Create First ConvNet'"),
and `cite` turns the keys of such a text into titles. Pages list them with `SOURCES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    key: str  # what code and architecture files write
    title: str  # what a student reads
    kind: str  # lecture slides, master's project, assignment report
    covers: str  # what it works out, in a sentence
    lessons: tuple[tuple[str, str], ...]  # (lesson name, what that lesson reproduces of it)

    @property
    def name(self) -> str:
        """The document as a sentence names it: its kind, then its title in quotes."""
        return f'the {self.kind} "{self.title}"'


SOURCES: dict[str, Source] = {s.key: s for s in (
    Source("cnn-slides", "Convolutional Neural Networks (CNN)", "lecture slides",
           "Convolution by hand (Sobel, the sharpen example, the curve detector), stride, padding and pooling, "
           "the MNIST and cats-vs-dogs CNNs in Keras, ImageDataGenerator augmentation, the pre-trained VGG16 "
           "frozen and fine-tuned, intermediate activations, filter patterns and class activation heatmaps.",
           (("convolution", "the Sobel, sharpen (320) and curve-detector (6600 vs 0) examples, stride and padding"),
            ("shape_calculator", "the MNIST CNN's summary: 93,322 parameters"),
            ("gallery", "LeNet-5, VGG16 and the ImageNet history table"),
            ("training", "the MNIST CNN, the ImageDataGenerator settings, VGG16 frozen then fine-tuned"),
            ("explanations", "intermediate activations, filter patterns by gradient ascent, class heatmaps"))),
    Source("cnns-part-2", "CNNs part II", "lecture slides (Deep Learning, week 5)",
           "Input standardisation, dropout, batch normalisation, the optimizers from SGD to AMSGrad, "
           "augmentation, transfer learning, the receptive field, occlusion, saliency maps and LIME.",
           (("shape_calculator", "the receptive field of every layer; cnn1 and cnn2"),
            ("training", "per-pixel standardisation, the optimizers, transfer learning"),
            ("transfer", "the transfer-learning strategy table; features from a stage into another classifier"),
            ("optimizers", "SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam, AdaMax, Nadam and "
                           "AMSGrad, their update rules, racing on loss surfaces and on a CNN"),
            ("well_performing", "standardisation of cnn1's input, dropout's expectation, batch normalisation "
                                "against dead ReLUs, initialisation, cnn1 vs cnn2"),
            ("explanations", "occlusion, saliency maps and LIME"))),
    Source("gradcam-project",
           "Applying Deep Learning Techniques and Understand the CNN with Grad-CAM Visualization",
           "master's project",
           "AlexNet and VGG16 on cats vs dogs, transfer learning (freeze, then fine-tune from layer 15 with SGD, "
           "learning rate 0.001, momentum 0.9), Grad-CAM and Guided Grad-CAM, a table of results.",
           (("gallery", "AlexNet, VGG16 and VGG16 with global average pooling"),
            ("training", "fine-tuning from block5_conv1 with SGD and momentum"),
            ("explanations", "Grad-CAM and Guided Grad-CAM"))),
    Source("cs671-report", "Convolution Neural Network", "CS671 assignment report",
           "Three architectures and VGG19 with the output-shape formula (W - F + 2P)/S + 1 layer by layer, "
           "confusion matrices, feature maps, maximally activating patches, guided backpropagation of "
           "single neurons and a Grad-CAM matrix of classes by images.",
           (("shape_calculator", "Architectures 1-3: the feature-map sizes of each layer"),
            ("gallery", "Architectures 1-3 and VGG19"),
            ("training", "confusion matrices of the test images"),
            ("explanations", "feature maps, maximally activating patches, guided backpropagation, "
                             "the Grad-CAM class-by-image matrix"))),
    Source("cs577-report", "cats vs dogs, CIFAR-10", "CS 577 assignment report",
           "A naive CNN against a frozen VGG16 base, fine-tuned, and fine-tuned with augmentation on cats vs "
           "dogs; the activations of the top layers, filter patterns, and a naive inception block and a "
           "residual block on CIFAR-10.",
           (("gallery", "the naive CNNs, the inception and residual models of CIFAR-10"),
            ("training", "naive CNN, frozen and fine-tuned VGG16 base, with and without augmentation"),
            ("transfer", "the naive CNN vs frozen vs fine-tuned vs fine-tuned with augmentation comparison"),
            ("explanations", "the activations of the top layers and filter patterns"))),
)}

_CITATION = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, SOURCES)) + r")(?=:)")


def source(key: str) -> Source:
    if key not in SOURCES:
        raise KeyError(f"no course document {key!r}; known: {', '.join(SOURCES)}")
    return SOURCES[key]


def keys_in(text: str) -> list[str]:
    """The document keys a `source:` text cites ("KEY: where; KEY: where"), in order."""
    return _CITATION.findall(text or "")


def cite(text: str) -> str:
    """A `source:` text with each "KEY:" written as the document's kind and title."""
    return _CITATION.sub(lambda m: f"{SOURCES[m.group(1)].kind} \u201c{SOURCES[m.group(1)].title}\u201d", text or "")


def for_lesson(lesson: str) -> list[tuple[Source, str]]:
    """(document, what the lesson reproduces of it) for one lesson."""
    return [(s, what) for s in SOURCES.values() for name, what in s.lessons if name == lesson]
