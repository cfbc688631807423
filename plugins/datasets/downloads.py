"""Datasets that download once into the cache (datasets/cache/), checksum-verified by pooch.

pooch writes to a temporary file, checks the hash and only then moves it into place, so a
wrong checksum leaves nothing behind. Every URL and hash can be overridden, which is how the
tests serve small files in the official formats from a file:// URL.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np

from .images import decode_many, is_image_name
from workbench.data import Dataset, cache_dir, rescale, split

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MNIST_FILES = {  # sha256 of the official files
    "train-images-idx3-ubyte.gz": "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_FILES = {  # md5 as published by Zalando
    "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_HASH = "sha256:6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CATS_URL = ("https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/"
            "kagglecatsanddogs_5340.zip")
CATS_HASH = "sha256:b7974bd00a84a99921f36ee4403f089853777b5ae8d151c76a86e64900334af9"
CALTECH_URL = "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip"
CALTECH_HASH = "sha256:331234750fc7f77520e50d9565e8b6907b03565e30320da1401130db08c61f91"
CALTECH_CLASSES = ("car_side", "hawksbill", "kangaroo", "scorpion", "starfish")


# -- fetching ------------------------------------------------------------------------------
def _copy_file_url(url, output_file, pooch=None):
    """A pooch downloader for file:// URLs (local mirrors, tests)."""
    with open(url2pathname(urlparse(url).path), "rb") as src:
        if isinstance(output_file, (str, Path)):
            with open(output_file, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfileobj(src, output_file)


def fetch(url: str, known_hash: str, dataset: str, fname: str | None = None) -> Path:
    """Download `url` into the cache once, verified against `known_hash` ("sha256:..." / "md5:...")."""
    import pooch

    fname = fname or url.rstrip("/").rsplit("/", 1)[-1]
    downloader = _copy_file_url if url.startswith("file:") else None
    try:
        return Path(pooch.retrieve(url, known_hash, fname=fname, path=cache_dir() / dataset,
                                   downloader=downloader, progressbar=False))
    except ValueError as exc:
        if "hash" in str(exc).lower():
            raise ValueError(f"{fname} from {url} failed its checksum, so it was refused and deleted "
                             f"(expected {known_hash}): the download is corrupt or the file has changed") from None
        raise
    except Exception as exc:  # noqa: BLE001 - connection errors come in many types
        raise RuntimeError(f"could not download {url} ({type(exc).__name__}: {exc}); this dataset needs the "
                           f"internet once, then loads from {cache_dir() / dataset}") from None


# -- formats -------------------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """The IDX format of MNIST: 0, 0, type 0x08 (ubyte), ndim; big-endian sizes; the bytes."""
    data = gzip.open(path, "rb").read()
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path.name} is not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class _ArraysOnly(pickle.Unpickler):
    """CIFAR-10's official batches are pickles of plain arrays: allow numpy arrays, nothing else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how protocol 2 stores bytes; a pure function

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: a CIFAR batch holds only arrays")
        return super().find_class(module, name)


def read_cifar_batch(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    batch = _ArraysOnly(io.BytesIO(data), encoding="bytes").load()
    x = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(batch[b"labels"], np.int64)


# -- loaders -------------------------------------------------------------------------------
def idx_loader(name: str, base_url: str, files: dict[str, str]):
    def load():
        arrays = {f: read_idx(fetch(base_url + f, h, name)) for f, h in files.items()}
        x_train = rescale(arrays["train-images-idx3-ubyte.gz"])[..., None]
        out = split(x_train, arrays["train-labels-idx1-ubyte.gz"].astype(np.int64), (0.9, 0.1, 0))
        out["test"] = (rescale(arrays["t10k-images-idx3-ubyte.gz"])[..., None],
                       arrays["t10k-labels-idx1-ubyte.gz"].astype(np.int64))
        return out
    return load


def cifar_loader(url: str = CIFAR_URL, known_hash: str = CIFAR_HASH):
    def load():
        path = fetch(url, known_hash, "cifar10")
        train, test = [], None
        with tarfile.open(path, "r:gz") as tar:  # read members in memory, never extract paths
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                base = member.name.rsplit("/", 1)[-1]
                if base.startswith("data_batch_"):
                    train.append(read_cifar_batch(tar.extractfile(member).read()))
                elif base == "test_batch":
                    test = read_cifar_batch(tar.extractfile(member).read())
        if not train or test is None:
            raise ValueError(f"{path.name} has no data_batch_* / test_batch: not the CIFAR-10 python archive")
        x, y = np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])
        return {**split(rescale(x), y, (0.9, 0.1, 0)), "test": (rescale(test[0]), test[1])}
    return load


def _cached_arrays(dataset: Dataset, key: str, build):
    """Decoded images are kept as a .npz beside the download (np.load without pickle), named by
    everything that chose them (`key`), with the notes of that decoding (skipped images) beside
    it in a .json, so a load from the cache reports what the first one did."""
    folder = cache_dir() / dataset.name
    path, notes_path = folder / f"prepared-{key}.npz", folder / f"prepared-{key}.notes.json"
    if path.exists() and notes_path.exists():
        with np.load(path, allow_pickle=False) as z:
            out = {s: (z[f"x_{s}"], z[f"y_{s}"]) for s in ("train", "val", "test")}
        notes = json.loads(notes_path.read_text())
    else:
        out, notes = build()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{f"{k}_{s}": v for s, (x, y) in out.items() for k, v in (("x", x), ("y", y))})
        notes_path.write_text(json.dumps(notes))
        tmp.replace(path)  # last: a cache file without its notes is never taken as complete
    dataset.notes.extend(n for n in notes if n not in dataset.notes)
    return out


def _key(known_hash: str, seed: int, size, **counts) -> str:
    """A cache key a person can read: the counts, the size, the seed and the archive's hash."""
    chosen = "-".join(f"{k}{'x'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in counts.items())
    return f"{chosen}-{size[0]}x{size[1]}-seed{seed}-{known_hash.split(':')[-1][:12]}"


def cats_loader(dataset: Dataset, url=CATS_URL, known_hash=CATS_HASH, per_class=2000, size=(150, 150), seed=0):
    """Seed 003: 2,000 random cats and 2,000 random dogs, split 70/15/15, at 150x150 (seed 001)."""
    def build():
        path = fetch(url, known_hash, "cats-vs-dogs")
        rng = np.random.default_rng(seed)
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if is_image_name(n)]
            items = []
            for label, folder in enumerate(("Cat", "Dog")):
                found = sorted(n for n in names if f"/{folder}/" in f"/{n}")
                for n in rng.permutation(found)[:per_class]:
                    items.append((n, z.read(n), label))
            x, y, skipped = decode_many(items, size, 3)
        return split(x, y, (0.7, 0.15, 0.15), seed), [f"skipped corrupt image {s}" for s in skipped]
    return lambda: _cached_arrays(dataset, _key(known_hash, seed, size, per_class=per_class), build)


def caltech_loader(dataset: Dataset, url=CALTECH_URL, known_hash=CALTECH_HASH, counts=(50, 10, 20),
                   size=(224, 224), seed=0):
    """Seed 002: five Caltech-101 classes, 50 train / 10 val / 20 test images each."""
    def build():
        path = fetch(url, known_hash, "caltech101-5")
        rng = np.random.default_rng(seed)
        notes = []
        with zipfile.ZipFile(path) as z:
            inner = next((n for n in z.namelist() if n.endswith("101_ObjectCategories.tar.gz")), None)
            if inner is None:
                raise ValueError(f"{path.name} has no 101_ObjectCategories.tar.gz: not the Caltech-101 archive")
            with z.open(inner) as fobj, tarfile.open(fileobj=fobj, mode="r:gz") as tar:
                members = {}
                for m in tar.getmembers():
                    parts = m.name.split("/")
                    if m.isfile() and len(parts) >= 2 and parts[-2] in CALTECH_CLASSES and is_image_name(m.name):
                        members.setdefault(parts[-2], []).append(m)
                out = {s: ([], []) for s in ("train", "val", "test")}
                for label, cls in enumerate(CALTECH_CLASSES):
                    chosen = rng.permutation(sorted(members.get(cls, []), key=lambda m: m.name))[:sum(counts)]
                    if len(chosen) < sum(counts):
                        raise ValueError(f"class {cls} has {len(chosen)} images, {sum(counts)} are needed")
                    bounds = np.cumsum((0,) + tuple(counts))
                    for s, (a, b) in zip(out, zip(bounds[:-1], bounds[1:])):
                        items = [(m.name, tar.extractfile(m).read(), label) for m in chosen[a:b]]
                        x, y, skipped = decode_many(items, size, 3)
                        notes.extend(f"skipped corrupt image {n}" for n in skipped)
                        out[s][0].append(x)
                        out[s][1].append(y)
        return {s: (np.concatenate(xs), np.concatenate(ys)) for s, (xs, ys) in out.items()}, notes
    return lambda: _cached_arrays(dataset, _key(known_hash, seed, size, counts=tuple(counts)), build)


def _late(make_loader, **kwargs):
    """A Dataset whose loader needs the Dataset itself (to record skipped images)."""
    def wrap(ds):
        ds.loader = make_loader(ds, **kwargs)
        return ds
    return wrap


def mnist(base_url=MNIST_URL, files=MNIST_FILES) -> Dataset:
    return Dataset("mnist", "Full MNIST: 60,000 + 10,000 handwritten digits, 28x28 (download, 11 MB).",
                   tuple(str(d) for d in range(10)), (28, 28, 1), idx_loader("mnist", base_url, files),
                   source=base_url, offline=False)


def fashion_mnist(base_url=FASHION_URL, files=FASHION_FILES) -> Dataset:
    return Dataset("fashion-mnist", "Fashion-MNIST: 70,000 clothing images in 10 classes, 28x28 (download, 30 MB).",
                   FASHION_CLASSES, (28, 28, 1), idx_loader("fashion-mnist", base_url, files),
                   source=base_url, offline=False)


def cifar10(url=CIFAR_URL, known_hash=CIFAR_HASH) -> Dataset:
    return Dataset("cifar10", "CIFAR-10: 60,000 colour images in 10 classes, 32x32 (download, 163 MB).",
                   CIFAR_CLASSES, (32, 32, 3), cifar_loader(url, known_hash), source=url, offline=False)


def cats_vs_dogs(**kwargs) -> Dataset:
    ds = Dataset("cats-vs-dogs", "Kaggle cats vs dogs: 2,000 + 2,000 sampled, split 70/15/15, 150x150 "
                 "(the CS 577 assignment report; download, 787 MB).", ("cat", "dog"), (150, 150, 3), lambda: {},
                 source=kwargs.get("url", CATS_URL), offline=False)
    return _late(cats_loader, **kwargs)(ds)


def caltech101_5(**kwargs) -> Dataset:
    ds = Dataset("caltech101-5", "Caltech-101, five classes (car_side, hawksbill, kangaroo, scorpion, starfish), "
                 "50/10/20 per class, 224x224 (the CS671 assignment report \"Convolution Neural Network\"; "
                 "download, 131 MB).", CALTECH_CLASSES, (224, 224, 3), lambda: {}, source=kwargs.get("url", CALTECH_URL), offline=False)
    return _late(caltech_loader, **kwargs)(ds)


def datasets() -> list[Dataset]:
    return [mnist(), fashion_mnist(), cifar10(), cats_vs_dogs(), caltech101_5()]
