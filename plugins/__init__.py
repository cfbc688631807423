"""The built-in plugins of CNN Workbench, loaded through the `cnn_workbench` entry-point group."""
