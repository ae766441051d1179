"""What the model looks at: Grad-CAM with a known answer (a model that only looks at the left half of a photo lights
the left half), the course's CAM where the two must agree, and activation maps from early to late layers."""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from core.models import create_backbone
from core.vision.inside import feature_layers, heat_colours, lit_maps, look_inside, overlay
from core.vision.train import TrainedClassifier

SIZE = 64


class LeftHalfOnly(nn.Module):
    """Bright photos mean class 0. Its features are zeroed on the right half of the image, so only the left half
    can ever count: a model with a known answer."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 4, stride=4)
        self.head = nn.Linear(4, 2)
        with torch.no_grad():
            self.stem.weight.fill_(0.1)
            self.stem.bias.zero_()
            self.head.weight.copy_(torch.tensor([[1.0] * 4, [-1.0] * 4]))
            self.head.bias.zero_()

    def forward_features(self, x):
        f = F.relu(self.stem(x))
        mask = torch.zeros_like(f)
        mask[..., : f.shape[-1] // 2] = 1
        return f * mask

    def forward_head(self, f):
        return self.head(f.mean(dim=(2, 3)))

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def classifier_of(model, size=SIZE):
    return TrainedClassifier(model.eval(), ["left", "other"], size, "squish", (0.0,) * 3, (1.0,) * 3, "test")


def test_a_model_that_only_looks_at_the_left_half_lights_the_left_half():
    inside = look_inside(classifier_of(LeftHalfOnly()), Image.new("RGB", (80, 60), (220, 210, 200)))
    assert inside.probs.argmax() == 0
    cam = inside.cams[0]
    assert cam.shape == (SIZE, SIZE)
    left, right = cam[:, : SIZE // 2 - 4], cam[:, SIZE // 2 + 4:]        # away from the blurred border
    assert left.min() > 0.9 and right.max() < 0.01
    assert inside.cams[1].max() == 0                                     # nothing speaks for the other class


def test_the_cam_follows_what_is_in_the_photo():
    """Half the model's view is dark: only the bright quarter (in the left half) raises class 0."""
    photo = np.zeros((SIZE, SIZE, 3), np.uint8)
    photo[: SIZE // 2, : SIZE // 2] = 255
    cam = look_inside(classifier_of(LeftHalfOnly()), Image.fromarray(photo)).cams[0]
    assert cam[4:SIZE // 2 - 4, 4:SIZE // 2 - 4].min() > 0.9
    assert cam[SIZE // 2 + 4:, :].max() < 0.01 and cam[:, SIZE // 2 + 4:].max() < 0.01


def test_grad_cam_equals_the_course_cam_on_a_pooled_linear_head():
    """With average pooling then a linear layer, Grad-CAM is the course's CAM: the class's weights applied to the
    feature map at each position (chapter 18's einsum), up to a positive scale."""
    torch.manual_seed(0)
    backbone = create_backbone("efficientnet_lite0", 2, pretrained=False)
    classifier = TrainedClassifier(backbone.model.eval(), ["a", "b"], SIZE, "squish", (0.5,) * 3, (0.5,) * 3,
                                   "efficientnet_lite0")
    photo = Image.fromarray((np.random.default_rng(1).random((SIZE, SIZE, 3)) * 255).astype(np.uint8))
    inside = look_inside(classifier, photo)
    with torch.no_grad():
        features = backbone.model.forward_features(classifier.inputs([photo]))[0]
        weights = backbone.model.get_classifier().weight
        cams = F.relu(torch.einsum("ck,kij->cij", weights, features))
        course = F.interpolate(cams[:, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0]
    for c in range(2):
        expected = (course[c] / course[c].max()).numpy() if course[c].max() > 0 else np.zeros((SIZE, SIZE))
        np.testing.assert_allclose(inside.cams[c], expected, atol=1e-4)
    np.testing.assert_allclose(inside.probs, classifier.predict([photo])[0], atol=1e-5)


def test_activation_maps_go_from_early_to_late_layers_and_are_the_layers_outputs():
    backbone = create_backbone("efficientnet_lite0", 2, pretrained=False)
    classifier = TrainedClassifier(backbone.model.eval(), ["a", "b"], SIZE, "squish", (0.5,) * 3, (0.5,) * 3,
                                   "efficientnet_lite0")
    photo = Image.new("RGB", (SIZE, SIZE), (10, 120, 250))
    inside = look_inside(classifier, photo, n_channels=5)
    assert [l.name for l in inside.layers] == ["blocks.0", "blocks.1", "blocks.4", "blocks.6"]
    assert [l.reduction for l in inside.layers] == [2, 4, 16, 32]
    sizes = [l.maps.shape[-1] for l in inside.layers]
    assert sizes == [SIZE // 2, SIZE // 4, SIZE // 16, SIZE // 32]
    early = inside.layers[0]
    with torch.no_grad():
        x = classifier.inputs([photo])
        out = backbone.model.blocks[0](backbone.model.bn1(backbone.model.conv_stem(x)))[0]
    peaks = out.amax(dim=(1, 2)) - out.mean(dim=(1, 2))
    assert early.top == peaks.argsort(descending=True)[:5].tolist()      # the channels something set off most
    first = out[early.top[0]]
    span = float(first.max() - first.min())
    if span > 1e-6:
        np.testing.assert_allclose(early.maps[0], ((first - first.min()) / span).numpy(), atol=1e-5)
    assert all(0 <= l.maps.min() and l.maps.max() <= 1 for l in inside.layers)
    assert inside.picture.shape == (SIZE, SIZE, 3) and inside.picture.dtype == np.uint8


def test_another_thread_using_the_same_model_does_not_mix_into_the_maps():
    """A loaded run's model is shared by every session: a prediction on another thread during a look is ignored."""
    import threading
    backbone = create_backbone("efficientnet_lite0", 2, pretrained=False)
    classifier = TrainedClassifier(backbone.model.eval(), ["a", "b"], SIZE, "squish", (0.5,) * 3, (0.5,) * 3,
                                   "efficientnet_lite0")
    photo, other = Image.new("RGB", (SIZE, SIZE), (250, 0, 0)), Image.new("RGB", (SIZE, SIZE), (0, 0, 250))
    alone = look_inside(classifier, photo)
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            classifier.predict([other])

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        together = [look_inside(classifier, photo) for _ in range(3)]
    finally:
        stop.set()
        worker.join()
    for inside in together:
        for a, b in zip(alone.layers, inside.layers):
            np.testing.assert_allclose(a.maps, b.maps, atol=1e-5)


def test_feature_layers_spread_over_a_models_stages():
    resnet = create_backbone("resnet18", 2, pretrained=False).model
    assert [name for name, _ in feature_layers(resnet, 4)] == ["act1", "layer1", "layer3", "layer4"]
    assert feature_layers(LeftHalfOnly(), 4) == [("stem", 0), ("head", 0)]


def test_drawing_helpers():
    colours = heat_colours(np.array([0.0, 0.5, 1.0]))
    assert colours[0].tolist() == [0, 0, 128] and colours[-1].tolist() == [128, 0, 0]
    assert colours[0][2] > colours[0][0] and colours[-1][0] > colours[-1][2]      # cold blue, hot red
    picture = np.full((4, 4, 3), 200, np.uint8)
    out = overlay(picture, np.ones((4, 4)), alpha=0.5)
    assert out.shape == (4, 4, 3) and out[0, 0].tolist() == [164, 100, 100]
    maps = np.array([[[0.0, 1.0], [0.0, 1.0]]], np.float32)                 # fires on the right half only
    (lit,) = lit_maps(np.full((8, 8, 3), 200, np.uint8), maps, 4)
    assert lit.shape == (4, 4, 3) and lit[:, -1].tolist() == [[255, 221, 0]] * 4      # yellow where it fires
    assert lit[:, 0].tolist() == [[120] * 3] * 4                                       # the photo, grey, elsewhere
