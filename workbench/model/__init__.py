"""The spec's layer vocabulary, one home per layer type.

- ``checks``: what a key's value may be (shared by every layer that has the key);
- ``maths``: the output-size and receptive-field formulas of the course notes;
- ``layers``: the plain layers, each owning its output shape, weights, field and cost;
- ``blocks``: Residual and Inception, which own how their parts compose.

``workbench.spec`` re-exports all of it and adds the architecture file format.
"""
