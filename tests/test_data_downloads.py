"""Download loaders on small files in the official formats, written here and served from a
file:// URL: checksums verified, a wrong one refused with nothing half-written kept."""

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from workbench_plugins.datasets import downloads as dl


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def sha(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture
def idx_mirror(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "mirror"
    src.mkdir()
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (200, 28, 28)),
              "train-labels-idx1-ubyte.gz": np.arange(200) % 10,
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": np.arange(20) % 10}
    for name, a in arrays.items():
        write_idx(src / name, a)
    return src, arrays, {name: sha(src / name) for name in arrays}


def test_mnist_from_idx_files(idx_mirror, cache):
    src, arrays, hashes = idx_mirror
    ds = dl.mnist(base_url=src.as_uri() + "/", files=hashes)
    x, y = ds.load("test")
    np.testing.assert_array_equal(np.rint(x[..., 0] * 255), arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y, arrays["t10k-labels-idx1-ubyte.gz"])
    assert len(ds.load("train")[0]) + len(ds.load("val")[0]) == 200
    assert (cache / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_wrong_checksum_is_refused_and_nothing_kept(idx_mirror, cache):
    src, _, hashes = idx_mirror
    bad = dict(hashes, **{"train-images-idx3-ubyte.gz": "sha256:" + "0" * 64})
    ds = dl.fashion_mnist(base_url=src.as_uri() + "/", files=bad)
    with pytest.raises(ValueError, match="failed its checksum.*refused and deleted"):
        ds.load("train")
    assert not (cache / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists()
    assert [p.name for p in (cache / "fashion-mnist").iterdir() if "train-images" in p.name or "tmp" in p.name] == []


def test_not_an_idx_file(tmp_path):
    (tmp_path / "x.gz").write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(ValueError, match="not an IDX file"):
        dl.read_idx(tmp_path / "x.gz")


def cifar_archive(path, batches):
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def cifar_batch(rng, n):
    data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return data, pickle.dumps({b"data": data, b"labels": [i % 10 for i in range(n)]}, protocol=2)


def test_cifar10_python_batches(tmp_path):
    rng = np.random.default_rng(1)
    parts = {f"data_batch_{i}": cifar_batch(rng, 100) for i in range(1, 3)}
    test_data, test_payload = cifar_batch(rng, 10)
    archive = tmp_path / "cifar-10-python.tar.gz"
    cifar_archive(archive, {**{k: v[1] for k, v in parts.items()}, "test_batch": test_payload})
    ds = dl.cifar10(url=archive.as_uri(), known_hash=sha(archive))
    x, y = ds.load("test")
    assert x.shape == (10, 32, 32, 3)
    # the official layout: 1024 red, then green, then blue values, each row-major
    np.testing.assert_array_equal(np.rint(x[3, :, :, 1] * 255), test_data[3, 1024:2048].reshape(32, 32))
    assert len(ds.load("train")[0]) + len(ds.load("val")[0]) == 200


def test_cifar_refuses_a_pickle_that_is_not_arrays(tmp_path):
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo pwned",))

    archive = tmp_path / "cifar-10-python.tar.gz"
    cifar_archive(archive, {"data_batch_1": pickle.dumps({b"data": Evil()}), "test_batch": b""})
    ds = dl.cifar10(url=archive.as_uri(), known_hash=sha(archive))
    with pytest.raises(pickle.UnpicklingError, match="refused to load"):
        ds.load("train")


def jpeg(color, size=(20, 16)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def cats_archive(tmp_path):
    """12 red cats, 12 blue dogs, a corrupt cat and a file that is no image, as Microsoft's zip has them."""
    archive = tmp_path / "kagglecatsanddogs_5340.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(12):
            z.writestr(f"PetImages/Cat/{i}.jpg", jpeg((200, 30, 30)))
            z.writestr(f"PetImages/Dog/{i}.jpg", jpeg((30, 30, 200)))
        z.writestr("PetImages/Cat/666.jpg", b"\xff\xd8 this is not a jpeg")
        z.writestr("PetImages/Cat/Thumbs.db", b"junk")
    return archive


def test_cats_vs_dogs_samples_splits_and_skips_corrupt(tmp_path):
    archive = cats_archive(tmp_path)
    ds = dl.cats_vs_dogs(url=archive.as_uri(), known_hash=sha(archive), per_class=20, size=(32, 32))
    xs = {s: ds.load(s) for s in ("train", "val", "test")}
    assert sum(len(x) for x, _ in xs.values()) == 24  # the corrupt one skipped
    assert any("666.jpg" in note for note in ds.notes)
    x, y = xs["train"]
    assert x.shape[1:] == (32, 32, 3)
    assert np.all((x[..., 0].mean((1, 2)) > x[..., 2].mean((1, 2))) == (y == 0))  # red cats, blue dogs
    # a second Dataset reads the prepared arrays from the cache: same images
    again = dl.cats_vs_dogs(url=archive.as_uri(), known_hash=sha(archive), per_class=20, size=(32, 32))
    np.testing.assert_array_equal(again.load("train")[1], y)


def test_cats_cache_is_keyed_by_its_parameters_and_keeps_its_notes(tmp_path, cache):
    archive = cats_archive(tmp_path)
    known = sha(archive)
    load = lambda **kw: dl.cats_vs_dogs(url=archive.as_uri(), known_hash=known, **kw)  # noqa: E731
    first = load(per_class=20, size=(32, 32))
    assert sum(len(first.load(s)[0]) for s in ("train", "val", "test")) == 24
    # other parameters are other arrays, not the first ones' cache
    fewer = load(per_class=5, size=(16, 16), seed=1)
    assert sum(len(fewer.load(s)[0]) for s in ("train", "val", "test")) in (9, 10)  # 5 + 5, maybe minus 666.jpg
    assert fewer.load("train")[0].shape[1:] == (16, 16, 3)
    # with the archive gone (source and downloaded copy), the same parameters load from the
    # prepared cache, and still say which image was skipped
    archive.unlink()
    (cache / "cats-vs-dogs" / archive.name).unlink()
    again = load(per_class=20, size=(32, 32))
    np.testing.assert_array_equal(again.load("test")[0], first.load("test")[0])
    assert again.notes == first.notes and any("666.jpg" in n for n in again.notes)
    assert len(list((cache / "cats-vs-dogs").glob("prepared-*.npz"))) == 2


def test_caltech101_five_classes_50_10_20(tmp_path):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for k, cls in enumerate(dl.CALTECH_CLASSES + ("accordion",)):
            for i in range(80):
                payload = jpeg((k * 40, 255 - k * 40, 100), (12, 10))
                info = tarfile.TarInfo(f"101_ObjectCategories/{cls}/image_{i:04d}.jpg")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    archive = tmp_path / "caltech-101.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("caltech-101/101_ObjectCategories.tar.gz", inner.getvalue())
    ds = dl.caltech101_5(url=archive.as_uri(), known_hash=sha(archive), size=(16, 16))
    for split, n in (("train", 50), ("val", 10), ("test", 20)):
        x, y = ds.load(split)
        assert x.shape == (5 * n, 16, 16, 3)
        assert np.bincount(y).tolist() == [n] * 5
    # other counts and size: their own arrays, not the cached ones of the first load
    small = dl.caltech101_5(url=archive.as_uri(), known_hash=sha(archive), counts=(4, 2, 3), size=(8, 8))
    assert small.load("train")[0].shape == (20, 8, 8, 3) and len(small.load("test")[0]) == 15
    assert ds.notes == small.notes == []


# -- no network, or a connection that drops: they say so and keep nothing -------------------
def cache_files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_no_network_says_so_and_keeps_nothing(monkeypatch, cache):
    """The registered MNIST as a laptop with no network sees it: no name resolves."""
    import socket

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    ds = dl.mnist()
    with pytest.raises(RuntimeError, match=r"could not download https://storage\.googleapis\.com/.*"
                                           r"needs the internet once, then loads from .*mnist"):
        ds.load("train")
    assert cache_files(cache / "mnist") == []


class Mirror:
    """A local HTTP server for one file; `cut` makes it promise the whole file and send only the
    first half before hanging up, as a connection lost mid-download does."""

    def __init__(self, payload: bytes):
        import http.server
        import threading

        mirror = self
        self.payload, self.cut = payload, False

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(mirror.payload)))
                self.end_headers()
                self.wfile.write(mirror.payload[:len(mirror.payload) // 2] if mirror.cut else mirror.payload)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cifar-10-python.tar.gz"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_download_cut_off_midway_says_so_keeps_nothing_and_the_next_one_works(tmp_path, cache):
    rng = np.random.default_rng(2)
    archive = tmp_path / "cifar-10-python.tar.gz"
    cifar_archive(archive, {"data_batch_1": cifar_batch(rng, 50)[1], "test_batch": cifar_batch(rng, 10)[1]})
    mirror = Mirror(archive.read_bytes())
    try:
        mirror.cut = True
        with pytest.raises(RuntimeError, match=rf"could not download {mirror.url} .*needs the internet once"):
            dl.cifar10(url=mirror.url, known_hash=sha(archive)).load("train")
        assert cache_files(cache / "cifar10") == []  # no half archive, no temporary file
        mirror.cut = False  # the network is back: a new Dataset downloads it whole
        assert dl.cifar10(url=mirror.url, known_hash=sha(archive)).load("test")[0].shape == (10, 32, 32, 3)
        assert cache_files(cache / "cifar10") == [archive.name]
    finally:
        mirror.close()
