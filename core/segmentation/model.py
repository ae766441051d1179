"""The U-Net: fastai's `unet_learner(dls, resnet34)`, simplified so it reads top-down.

A pretrained classifier (the encoder) turns the image into feature maps that get smaller and deeper:
1/2, 1/4, 1/8, 1/16 and 1/32 of the input's size. They say *what* is there but, at 1/32, barely *where*.
The decoder climbs back up: at each step it enlarges the deeper map to the size of the next shallower
one (the skip connection, which still knows where edges are), joins the two and mixes them with
convolutions. A last step joins the input image itself, and a 1x1 convolution gives one score per
class for every pixel. Sizes are matched by interpolation, so any input size works, odd ones too.
"""
import torch
import torch.nn.functional as F
from torch import nn

from core.models import Backbone, create_backbone


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    """A timm classifier without its head, giving the feature map at the end of every stage."""

    def __init__(self, model: nn.Module):
        super().__init__()
        model.prune_intermediate_layers(len(model.feature_info), prune_head=True)
        self.model = model
        self.channels = [info["num_chs"] for info in model.feature_info]
        self.reductions = [info["reduction"] for info in model.feature_info]
        self.train()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.model.forward_intermediates(x, intermediates_only=True)

    def train(self, mode: bool = True) -> "Encoder":
        """BatchNorm keeps ImageNet's statistics, even while training: a batch of 8 small photos gives the deepest
        layers (1/32 of 160x120: 5x4 positions per photo) too few values to estimate them well. Its scale and shift
        still learn (fastai's train_bn)."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self


class UnetBlock(nn.Module):
    """fastai's UnetBlock: enlarge the deeper features to the skip connection's size, join, two 3x3 convs."""

    def __init__(self, up_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.skip_bn = nn.BatchNorm2d(skip_channels)     # the encoder's maps have their own scales: even them out
        self.conv1 = conv_bn_relu(up_channels + skip_channels, out_channels)
        self.conv2 = conv_bn_relu(out_channels, out_channels)

    def forward(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(up, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv2(self.conv1(torch.cat([up, self.skip_bn(skip)], dim=1)))


class Decoder(nn.Module):
    def __init__(self, encoder_channels: list[int], n_classes: int, final_channels: int = 16):
        super().__init__()
        deepest, skips = encoder_channels[-1], encoder_channels[-2::-1]      # skips from deep to shallow
        self.middle = nn.Sequential(conv_bn_relu(deepest, deepest), conv_bn_relu(deepest, deepest))
        blocks, c = [], deepest
        for skip in skips:
            out = max(final_channels * 2, c // 2)        # halve the width at every step up, as fastai does
            blocks.append(UnetBlock(c, skip, out))
            c = out
        self.blocks = nn.ModuleList(blocks)
        # fastai's last_cross: the input image itself joins in at full size, so edges can be pixel-sharp
        self.cross = nn.Sequential(conv_bn_relu(c + 3, final_channels), conv_bn_relu(final_channels, final_channels))
        self.head = nn.Conv2d(final_channels, n_classes, 1)

    def forward(self, x: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        h = self.middle(features[-1])
        for block, skip in zip(self.blocks, features[-2::-1]):
            h = block(h, skip)
        h = F.interpolate(h, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(self.cross(torch.cat([h, x], dim=1)))


class UNet(nn.Module):
    """(N, 3, H, W) image -> (N, n_classes, H, W) scores: one row of class scores per pixel."""

    def __init__(self, encoder: Encoder, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.decoder = Decoder(encoder.channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(x, self.encoder(x))


def unet_splitter(model: UNet) -> list[list[nn.Parameter]]:
    """Two parameter groups: the pretrained encoder first (frozen at first), the new decoder last."""
    return [list(model.encoder.parameters()), list(model.decoder.parameters())]


def create_unet(backbone: str, n_classes: int, pretrained: bool = True) -> tuple[UNet, Backbone]:
    """unet_learner's model: the registry's backbone (with its weights notice) as the encoder, a new decoder."""
    body = create_backbone(backbone, n_out=0, pretrained=pretrained)
    return UNet(Encoder(body.model), n_classes), body


def start_from_class_frequencies(model: UNet, pixel_counts) -> None:
    """Set the last layer's biases to the log of each class's share of the training pixels, so that before any
    training the model already guesses "mostly background" instead of "every class equally": the first steps then
    go into finding objects, not into learning that most pixels are background (Karpathy's "init well")."""
    shares = torch.as_tensor(pixel_counts, dtype=torch.float32)
    shares = (shares + 1) / (shares + 1).sum()
    with torch.no_grad():
        model.decoder.head.bias.copy_(shares.log() - shares.log().mean())


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def unet_layer(param_name: str) -> str:
    """The layer a U-Net parameter belongs to, for "What changed inside": each stage of the encoder
    ("encoder.blocks.3", "encoder.layer2", "encoder.stem") and each step of the decoder ("decoder.middle",
    "decoder.blocks.0", "decoder.cross", "decoder.head")."""
    parts = param_name.split(".")[:-1]
    if parts[:2] == ["encoder", "model"]:
        rest = parts[2:]
        if len(rest) > 1 and rest[0] in ("blocks", "stages") and rest[1].isdigit():
            return f"encoder.{rest[0]}.{rest[1]}"
        if rest and rest[0].startswith("layer"):
            return f"encoder.{rest[0]}"
        return "encoder.stem"
    if parts[:1] == ["decoder"] and len(parts) > 1:
        if parts[1] == "blocks" and len(parts) > 2:
            return f"decoder.blocks.{parts[2]}"
        return f"decoder.{parts[1]}"
    return parts[0] if parts else param_name


# torchvision's ImageNet weights, as fastai's `resnet34` is; the other backbones come from timm
FASTAI_ARCHS = {"resnet18", "resnet34"}


def fastai_code(backbone: str, n_classes: int) -> str:
    """The fastai call that builds the same thing from the same pretrained weights: `unet_learner` takes a
    function returning a model (it has no timm names), and only normalises with statistics it knows."""
    from core.models import get_backbone_spec
    if backbone in FASTAI_ARCHS:
        return f"learn = unet_learner(dls, {backbone})"
    spec = get_backbone_spec(backbone)
    where = ("  # here: its ImageNet weights from an embedded package, offline"
             if spec.embedded else "")
    stats = f"mean={list(spec.mean)}, std={list(spec.std)}"
    return (f"import timm\n\ndef {backbone}(pretrained=True):{where}\n"
            f"    return timm.create_model({spec.timm_name!r}, pretrained=pretrained)\n\n"
            f"# its own statistics: SegmentationDataLoaders(..., batch_tfms=Normalize.from_stats({stats}))\n"
            f"learn = unet_learner(dls, {backbone}, n_out={n_classes}, normalize=False)")


DIFFERS_FROM_FASTAI = ("Unlike fastai's `DynamicUnet`, which enlarges with PixelShuffle (ICNR) to sizes fixed by a "
                       "dummy batch and ends with a residual block, this U-Net enlarges by bilinear interpolation to "
                       "each skip connection's size (any photo size works) and keeps the encoder's ImageNet "
                       "BatchNorm statistics while it trains.")
