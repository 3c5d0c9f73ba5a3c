"""Training: patch datasets, augmentation, the optax recipe, the train loop, evaluation and mining."""

LAYER = 5
