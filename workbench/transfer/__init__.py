"""The transfer-learning lesson's core: the experiment (scratch, frozen, finetune, finetune-aug,
features over seeds and data fractions), cached features for frozen bases, the traps, and the
course documents' own results to compare with."""
