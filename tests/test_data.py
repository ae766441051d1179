import pytest
import torch

from core import data
from core.data import DeviceLoader


def batches(loader, epochs=2):
    return [[t.clone() for t in batch] for _ in range(epochs) for batch in loader]


@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (True, True), (False, False)])
def test_small_tables_gathered_per_epoch_give_the_same_batches_as_lookups_per_batch(monkeypatch, shuffle, drop_last):
    x, y = torch.arange(230).reshape(115, 2), torch.arange(115).float()
    gathered = batches(DeviceLoader(x, y, batch_size=16, shuffle=shuffle, drop_last=drop_last, seed=3))
    monkeypatch.setattr(data, "WHOLE_EPOCH_BYTES", 0)
    looked_up = batches(DeviceLoader(x, y, batch_size=16, shuffle=shuffle, drop_last=drop_last, seed=3))
    assert len(gathered) == len(looked_up) == 2 * (7 if drop_last else 8)
    for a, b in zip(gathered, looked_up):
        assert all(torch.equal(s, t) for s, t in zip(a, b))
    first_epoch = torch.cat([b[1] for b in gathered[:len(gathered) // 2]])
    assert len(set(first_epoch.tolist())) == len(first_epoch) == (112 if drop_last else 115)    # each row once
    assert all(torch.equal(b[0][:, 0] // 2, b[1].long()) for b in gathered)                      # rows kept whole


def test_a_batch_changed_in_place_leaves_the_data_alone():
    x = torch.zeros(40, 3)
    for (batch,) in DeviceLoader(x, batch_size=8, shuffle=True):
        batch += 1
    for (batch,) in DeviceLoader(x, batch_size=8):
        batch += 1
    assert x.abs().sum() == 0
