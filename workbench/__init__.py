"""CNN Workbench: a plugin-based workbench for teaching and exploring convolutional networks."""

__version__ = "0.1.0"
