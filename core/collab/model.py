"""The collab chapter's models, written plainly.

DotProductBias: each user and each movie gets `n_factors` learned numbers (their "latent factors") and one
bias. The prediction is the dot product of the two factor vectors, plus both biases, squashed into y_range. Its
parts have fastai's names (collab_learner's EmbeddingDotBias): `u_weight`, `i_weight` (the factors), `u_bias`,
`i_bias`, so `learn.model.i_bias` in the course is `model.i_bias` here, and a saved state dict has fastai's keys.
CollabNN (collab_learner(use_nn=True)): the two embeddings side by side, through a small neural net instead
of a dot product.
"""
import torch
from torch import nn

from core.embeddings import emb_sz_rule

N_FACTORS = 50             # collab_learner's default
NN_LAYERS = [100]          # the chapter's CollabNN: one hidden layer of 100


def sigmoid_range(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """A sigmoid stretched from (0, 1) to (low, high)."""
    return torch.sigmoid(x) * (high - low) + low


def embedding(n: int, width: int) -> nn.Embedding:
    e = nn.Embedding(n, width)
    nn.init.trunc_normal_(e.weight, std=0.01, a=-0.02, b=0.02)     # fastai's Embedding
    return e


class DotProductBias(nn.Module):
    def __init__(self, n_users: int, n_items: int, n_factors: int = N_FACTORS, y_range=(0.5, 5.5)):
        super().__init__()
        self.u_weight, self.i_weight = embedding(n_users, n_factors), embedding(n_items, n_factors)
        self.u_bias, self.i_bias = embedding(n_users, 1), embedding(n_items, 1)
        self.y_range = tuple(float(v) for v in y_range)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        users, items = x[:, 0], x[:, 1]
        dot = (self.u_weight(users) * self.i_weight(items)).sum(dim=1)
        res = dot + self.u_bias(users)[:, 0] + self.i_bias(items)[:, 0]
        return sigmoid_range(res, *self.y_range)


class CollabNN(nn.Module):
    def __init__(self, n_users: int, n_items: int, layers: list[int] = NN_LAYERS, y_range=(0.5, 5.5)):
        super().__init__()
        self.user_factors = embedding(n_users, emb_sz_rule(n_users))
        self.item_factors = embedding(n_items, emb_sz_rule(n_items))
        sizes = [self.user_factors.embedding_dim + self.item_factors.embedding_dim, *layers]
        hidden = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            hidden += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.layers = nn.Sequential(*hidden, nn.Linear(sizes[-1], 1))
        self.y_range = tuple(float(v) for v in y_range)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embs = torch.cat([self.user_factors(x[:, 0]), self.item_factors(x[:, 1])], dim=1)
        return sigmoid_range(self.layers(embs)[:, 0], *self.y_range)


def build_model(n_users: int, n_items: int, n_factors: int = N_FACTORS, y_range=(0.5, 5.5),
                use_nn: bool = False, layers: list[int] = NN_LAYERS) -> nn.Module:
    """collab_learner's choice: a dot product, or (use_nn=True) a neural net."""
    if use_nn:
        return CollabNN(n_users, n_items, layers, y_range)
    return DotProductBias(n_users, n_items, n_factors, y_range)


def expected_shapes(n_users: int, n_items: int, n_factors: int = N_FACTORS, use_nn: bool = False,
                    layers: list[int] = NN_LAYERS) -> dict[str, tuple[int, ...]]:
    """The state dict `build_model` would make, worked out without making it (so a saved file that claims a huge
    model can be refused before anything is allocated)."""
    if not use_nn:
        return {"u_weight.weight": (n_users, n_factors), "i_weight.weight": (n_items, n_factors),
                "u_bias.weight": (n_users, 1), "i_bias.weight": (n_items, 1)}
    shapes = {"user_factors.weight": (n_users, emb_sz_rule(n_users)),
              "item_factors.weight": (n_items, emb_sz_rule(n_items))}
    sizes = [emb_sz_rule(n_users) + emb_sz_rule(n_items), *layers, 1]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"layers.{2 * i}.weight"], shapes[f"layers.{2 * i}.bias"] = (n_out, n_in), (n_out,)
    return shapes


def is_dot_product(model: nn.Module) -> bool:
    return isinstance(model, DotProductBias)


def item_factors(model: nn.Module) -> torch.Tensor:
    """Each item's learned vector, one row per item: `i_weight` of the dot product, the neural net's embedding."""
    return (model.i_weight if is_dot_product(model) else model.item_factors).weight


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
