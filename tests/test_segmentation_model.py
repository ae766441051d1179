"""The U-Net: output shape = input shape for any size, the encoder's pretrained weights reported, the splitter,
a frozen encoder that stays still, and a tiny fine_tune that lowers the loss."""
import numpy as np
import pytest
import torch
from torch import nn

from core.data import DataLoaders, DeviceLoader
from core.learner import Learner
from core.segmentation.model import (Encoder, UNet, count_parameters, create_unet, fastai_code,
                                     start_from_class_frequencies, unet_layer, unet_splitter)


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "resnet18"])
@pytest.mark.parametrize("height, width", [(64, 64), (97, 131), (33, 45)])
def test_the_output_has_one_score_per_class_for_every_input_pixel(backbone, height, width):
    model, _ = create_unet(backbone, 5, pretrained=False)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, height, width))
    assert out.shape == (2, 5, height, width)


def test_the_encoder_is_the_registry_s_pretrained_backbone_and_says_so():
    model, backbone = create_unet("efficientnet_lite0", 6, pretrained=True)
    assert backbone.weights.source == "embedded" and "ImageNet" in backbone.weights.detail
    # the encoder holds exactly the pretrained body's weights (the classifier's head is gone)
    reference = backbone.model.state_dict()
    assert model.encoder.model.state_dict().keys() == reference.keys()
    assert not any(k.startswith(("conv_head", "classifier")) for k in reference)
    assert model.encoder.channels == [16, 24, 40, 112, 320] and model.encoder.reductions == [2, 4, 8, 16, 32]


def test_the_splitter_puts_the_encoder_first_and_the_decoder_last_each_parameter_once():
    model, _ = create_unet("efficientnet_lite0", 3, pretrained=False)
    groups = unet_splitter(model)
    assert len(groups) == 2
    assert {id(p) for p in groups[0]} == {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in groups[1]} == {id(p) for p in model.decoder.parameters()}
    assert sum(p.numel() for g in groups for p in g) == count_parameters(model)


def test_starting_biases_give_the_class_shares_before_any_training():
    model, _ = create_unet("efficientnet_lite0", 3, pretrained=False)
    nn.init.zeros_(model.decoder.head.weight)             # only the biases speak
    start_from_class_frequencies(model, [799, 149, 49])
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(torch.randn(1, 3, 32, 32)), 1)[0, :, 0, 0]
    np.testing.assert_allclose(probs.numpy(), [0.8, 0.15, 0.05], atol=1e-6)


def tiny_blobs(n=48, size=32, seed=0):
    """Photos with a bright square on noise; the mask is the square. Learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 0.3
    y = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        r, c = torch.randint(0, size - 12, (2,), generator=g).tolist()
        x[i, :, r:r + 12, c:c + 12] += 0.6
        y[i, r:r + 12, c:c + 12] = 1
    x = (x - 0.5) / 0.5
    cut = n * 3 // 4
    return DataLoaders(DeviceLoader(x[:cut], y[:cut], batch_size=6, shuffle=True, drop_last=True),
                       DeviceLoader(x[cut:], y[cut:], batch_size=12), vocab=["background", "square"])


def make_learner(seed=0):
    torch.manual_seed(seed)
    model, _ = create_unet("efficientnet_lite0", 2, pretrained=True)
    return Learner(model, tiny_blobs(), nn.CrossEntropyLoss(), splitter=unet_splitter, device=torch.device("cpu"))


def test_a_frozen_encoder_does_not_move_while_the_decoder_learns():
    learn = make_learner()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    learn.freeze()
    learn.fit(1, 1e-3)
    after = learn.model.state_dict()
    convs = [n for n, m in learn.model.encoder.named_modules() if isinstance(m, nn.Conv2d)]
    assert convs
    for name in convs:                             # BatchNorm may adapt (fastai's train_bn); the convolutions not
        key = f"encoder.{name}.weight"
        assert torch.equal(before[key], after[key]), key
    moved = [k for k in after if k.startswith("decoder.") and k.endswith("weight")
             and not torch.equal(before[k], after[k])]
    assert len(moved) > 10


def test_a_tiny_fine_tune_lowers_the_loss():
    learn = make_learner()
    _, _, losses_before = learn.get_preds()
    learn.fine_tune(3, base_lr=1e-2)
    _, _, losses_after = learn.get_preds()
    assert [r["phase"] for r in learn.recorder.epochs] == ["frozen", "unfrozen", "unfrozen", "unfrozen"]
    assert losses_after.mean() < 0.7 * losses_before.mean()
    assert learn.recorder.epochs[-1]["valid_loss"] < learn.recorder.epochs[0]["valid_loss"]


def test_the_encoder_keeps_imagenet_s_batchnorm_statistics_while_training():
    model, _ = create_unet("efficientnet_lite0", 2, pretrained=True)
    bns = [m for m in model.encoder.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [m.running_var.clone() for m in bns]
    model.train()
    model(torch.randn(2, 3, 64, 64)).mean().backward()
    assert model.decoder.training and not any(m.training for m in bns)
    assert all(torch.equal(a, m.running_var) for a, m in zip(before, bns))
    assert bns[0].weight.grad is not None                 # ... while their scale and shift still learn


def test_encoder_forward_gives_every_stage():
    model, _ = create_unet("resnet18", 2, pretrained=False)
    assert isinstance(model, UNet) and isinstance(model.encoder, Encoder)
    feats = model.encoder(torch.randn(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == model.encoder.channels
    assert [f.shape[-1] for f in feats] == [96 // r for r in model.encoder.reductions]


@pytest.mark.parametrize("backbone, first, stages", [("efficientnet_lite0", "encoder.stem", 7),
                                                      ("resnet18", "encoder.stem", 4)])
def test_what_changed_inside_groups_parameters_by_stage(backbone, first, stages):
    model, _ = create_unet(backbone, 3, pretrained=False)
    layers = list(dict.fromkeys(unet_layer(n) for n, _ in model.named_parameters()))
    assert layers[0] == first and len([x for x in layers if x.startswith("encoder.")]) == stages + 1
    assert layers[-4:] == ["decoder.blocks.2", "decoder.blocks.3", "decoder.cross", "decoder.head"]
    assert layers[len(layers) - 7] == "decoder.middle"


def test_the_fastai_call_shown_is_one_fastai_can_run():
    assert fastai_code("resnet34", 32) == "learn = unet_learner(dls, resnet34)"
    code = fastai_code("efficientnet_lite0", 4)
    assert "timm.create_model('tf_efficientnet_lite0.in1k', pretrained=pretrained)" in code
    assert "learn = unet_learner(dls, efficientnet_lite0, n_out=4, normalize=False)" in code
    compile(code, "<fastai>", "exec")


class _OnAGpu:
    """What batch_plan reads from a RunContext: a job with 20 GiB of a GPU (planned on the CPU here)."""
    device, memory_budget = torch.device("cpu"), 20 * 2**30


@pytest.mark.parametrize("n_scenes, expected", [(200, 8), (400, 16)])
def test_on_a_gpu_an_epoch_keeps_enough_steps_to_learn_the_rare_classes(n_scenes, expected):
    # The embedded set's 200 scenes (160 to train on) get the CPU's batches of 8, 20 steps an epoch: in batches of
    # 16 the default run never learnt its animals. A bigger set gets bigger batches.
    from core.segmentation.data import items_from_zip
    from core.segmentation.train import CPU_BATCH_SIZE, MIN_STEPS_PER_EPOCH, batch_plan, settings
    from tests.test_segmentation_upload import squares_zip
    items = items_from_zip(squares_zip(n_scenes), "squares.zip")
    cfg = settings(None)
    model, _ = create_unet(cfg["backbone"], len(items.codes), pretrained=False)
    plan = batch_plan(_OnAGpu(), model, items, cfg)
    assert plan.batch_size == expected and "steps" in plan.reason
    assert expected == CPU_BATCH_SIZE or expected * MIN_STEPS_PER_EPOCH <= int(n_scenes * 0.8)
