"""The optimizer lesson's framework-neutral half: loss surfaces written in a small whitelisted
formula language, the settings each optimizer is run with, the update rules of Keras and
PyTorch written out in numpy (with their numbers filled in), where two paths part ways, and
learning-rate sweeps. The frameworks' own optimizers run in the backend plugins
(plugins/<x>/optimize.py) through ``Backend.optimize``."""
