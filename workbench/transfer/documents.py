"""What the course documents report and advise about transfer learning, to read beside a run."""

# The CS 577 assignment report (cats vs dogs, 2,000 training + 2,000 validation images, VGG16 base).
CS577 = (
    ("scratch", "naive CNN from scratch", 0.503),
    ("frozen", "VGG16 base frozen, new dense head", 0.955),
    ("finetune", "VGG16 fine-tuned (block 5 unfrozen)", 0.933),
    ("finetune-aug", "VGG16 fine-tuned with data augmentation", 0.926),
)
CS577_TITLE = "the CS 577 assignment report (cats vs dogs)"
CS577_DIFFERS = ("It trained VGG16 (ImageNet) on 2,000 colour photos of cats and dogs, close to ImageNet's own "
                 "classes, for tens of epochs; here the base, the data (small offline images, upscaled), the "
                 "budget (a few epochs) and the number of seeds differ, so compare the order of the variants, "
                 "not the numbers.")

# The CS671 assignment report "Convolution Neural Network": its own CNN against a pretrained VGG19.
CS671 = (("scratch", "its own architectures, trained from scratch", 0.56), ("frozen", "pretrained VGG19", 0.99))
CS671_TITLE = "the CS671 assignment report \"Convolution Neural Network\""
CS671_DIFFERS = ("Its scratch models and VGG19 were trained on its own image classes; the 43-point gap is what "
                 "ImageNet features bring when the training set is small.")

# The lecture slides "CNNs part II" (Deep Learning, week 5): what to do, by data size and similarity.
STRATEGY = {
    ("little", "similar"): ("Use the base as a fixed feature extractor: freeze it and train a linear "
                            "classifier or a new head on top.", ("frozen", "features"), 0.05),
    ("little", "different"): ("Trouble: try a linear classifier on features from an earlier stage, where "
                              "features are more generic.", ("features", "frozen"), 0.05),
    ("lots", "similar"): ("Fine-tune a few of the top layers (train the head first, then unfreeze).",
                          ("frozen", "finetune"), 1.0),
    ("lots", "different"): ("Fine-tune a larger number of layers, or train from scratch.",
                            ("scratch", "finetune", "finetune-aug"), 1.0),
}
