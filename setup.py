"""Which packages the distribution installs, under which names (the rest is in pyproject.toml).

The repository keeps its folders plugins/ and pages/; they install as the packages named in
pyproject.toml's [tool.setuptools.package-dir] (workbench_plugins, workbench_pages), so that
installing the workbench adds no top-level `plugins` or `pages` to anyone's environment.
setuptools' package discovery cannot rename, so this lists every sub-package under its name.
"""

from setuptools import find_namespace_packages, setup
from setuptools.config.pyprojecttoml import read_configuration

renamed = read_configuration("pyproject.toml")["tool"]["setuptools"]["package-dir"]  # name -> folder
packages = find_namespace_packages(include=["workbench", "workbench.*"], exclude=["*.__pycache__"])
for name, folder in renamed.items():
    packages += [name + found[len(folder):] for found in
                 find_namespace_packages(include=[folder, f"{folder}.*"], exclude=["*.__pycache__"])]
setup(packages=packages)
