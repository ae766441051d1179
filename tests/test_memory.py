"""Sizing jobs to a shared GPU: the activation count is checked against a hand count, the plans against their rules."""
import pytest
import torch
from torch import nn

from core import memory
from core.memory import (BatchPlan, job_budget_bytes, jobs_per_gpu, plan_batch_size, saved_activation_bytes,
                         training_state_bytes)

GiB = 2**30


def test_saved_activations_match_a_hand_count_for_an_mlp():
    # Linear(10, 20) saves its input (4x10); ReLU saves its output (4x20), which the second Linear saves again
    # (the same storage, counted once); weights are parameters, not activations.
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    assert saved_activation_bytes(model, (torch.randn(4, 10),)) == 4 * (4 * 10 + 4 * 20)


def conv_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


def test_activations_grow_with_the_batch_and_the_image_area():
    model = conv_net()
    small = saved_activation_bytes(model, (torch.randn(2, 3, 16, 16),))
    assert saved_activation_bytes(model, (torch.randn(4, 3, 16, 16),)) == pytest.approx(2 * small, rel=0.02)
    assert saved_activation_bytes(model, (torch.randn(2, 3, 32, 32),)) == pytest.approx(4 * small, rel=0.05)


def test_measuring_leaves_the_model_as_it_was():
    model = conv_net().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    saved_activation_bytes(model, (torch.randn(2, 3, 16, 16) * 5 + 3,))
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k          # BatchNorm's running stats and batch count untouched


def test_bf16_autocast_saves_smaller_activations():
    model = conv_net()
    x = (torch.randn(2, 3, 32, 32),)
    assert saved_activation_bytes(model, x, torch.bfloat16) < 0.8 * saved_activation_bytes(model, x)


def test_training_state_is_weights_gradients_and_two_adam_moments():
    model = nn.Linear(10, 3)
    assert training_state_bytes(model) == 33 * 4 * 4


def test_the_plan_is_the_largest_power_of_two_that_fits():
    per_item, fixed = 40 * 2**20, 60 * 2**20
    plan = plan_batch_size(per_item, fixed, budget_bytes=4 * GiB, n_train=100_000)
    assert plan.batch_size == 32                               # 64 would need 60 MiB + 2 * 64 * 40 MiB > 4 GiB
    assert plan.estimated_peak_bytes <= 4 * GiB < fixed + memory.HEADROOM * 64 * per_item
    assert "fits" in plan.reason


def test_small_datasets_keep_enough_steps_per_epoch():
    plan = plan_batch_size(2**20, 0, budget_bytes=80 * GiB, n_train=282)
    assert plan.batch_size == 32 and 282 // plan.batch_size >= 8
    assert "8 steps" in plan.reason


def test_the_plan_stops_at_the_largest_batch_offered():
    assert plan_batch_size(1, 0, 80 * GiB, 10**6, max_bs=256).batch_size == 256


def test_a_budget_too_small_for_any_batch_says_so():
    plan = plan_batch_size(GiB, 0, budget_bytes=GiB, n_train=10_000)
    assert plan.batch_size == 8 and "may run out of memory" in plan.reason


def test_jobs_per_gpu_splits_memory_into_shares(monkeypatch):
    monkeypatch.delenv("LESSON1_JOB_GIB", raising=False)
    monkeypatch.delenv("LESSON1_MAX_JOBS_PER_GPU", raising=False)
    assert jobs_per_gpu(80 * GiB) == memory.DEFAULT_MAX_JOBS_PER_GPU == 8     # the goal on an 80 GB GPU
    assert jobs_per_gpu(8 * GiB) == 1                          # 7.2 usable GiB: one 4 GiB share
    assert jobs_per_gpu(3 * GiB) == 1                          # a small GPU still runs one job
    monkeypatch.setenv("LESSON1_MAX_JOBS_PER_GPU", "16")
    monkeypatch.setenv("LESSON1_JOB_GIB", "8")
    assert jobs_per_gpu(80 * GiB) == 9                         # 72 usable GiB in 8 GiB shares
    monkeypatch.setenv("LESSON1_JOB_GIB", "24")
    assert jobs_per_gpu(80 * GiB) == 3
    assert job_budget_bytes(80 * GiB, 3) == int(0.9 * 80 * GiB / 3)


def test_the_workers_are_as_many_jobs_as_fit_on_the_gpus_each_with_its_share(monkeypatch):
    import core.device
    from core.backends import plan_slots

    class Properties:
        total_memory = 80 * GiB
    for name in ("LESSON1_WORKERS", "LESSON1_JOB_GIB", "LESSON1_MAX_JOBS_PER_GPU"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(core.device, "training_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: Properties())
    slots = plan_slots()
    assert len(slots) == 2 * memory.DEFAULT_MAX_JOBS_PER_GPU
    assert [s.device for s in slots[:3]] == ["cuda:0", "cuda:1", "cuda:0"]           # spread over the GPUs
    assert {s.memory_budget for s in slots} == {job_budget_bytes(80 * GiB, memory.DEFAULT_MAX_JOBS_PER_GPU)}
    monkeypatch.setenv("LESSON1_WORKERS", "3")
    slots = plan_slots()
    assert [s.device for s in slots] == ["cuda:0", "cuda:1", "cuda:0"]
    assert slots[0].memory_budget == job_budget_bytes(80 * GiB, 2) and slots[1].memory_budget == job_budget_bytes(80 * GiB, 1)
    monkeypatch.delenv("LESSON1_WORKERS")
    monkeypatch.setattr(core.device, "training_device", lambda: torch.device("cpu"))
    assert [(s.device, s.memory_budget) for s in plan_slots()] == [("cpu", None)]


def test_a_batch_plan_reports_its_peak():
    plan = BatchPlan(16, per_item_bytes=10, fixed_bytes=100, budget_bytes=None, reason="")
    assert plan.estimated_peak_bytes == 100 + memory.HEADROOM * 16 * 10
