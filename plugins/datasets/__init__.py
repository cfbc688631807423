"""Built-in datasets: real offline data shipped by pip packages, checksum-verified downloads,
and `folder:PATH` for a student's own images."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    from . import downloads, offline
    from .folder import FolderDatasets

    for ds in offline.datasets() + downloads.datasets():
        register(ds)
    register(FolderDatasets())
