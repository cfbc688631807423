"""Built-in datasets: real offline data shipped by pip packages, checksum-verified downloads,
and `folder:PATH` for a student's own images."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    from plugins.datasets import downloads, offline
    from plugins.datasets.folder import FolderDatasets

    for ds in offline.datasets() + downloads.datasets():
        register(ds)
    register(FolderDatasets())
