"""fastai's TabularModel: one embedding per categorical column, continuous columns through BatchNorm,
all concatenated into an MLP (Linear → ReLU → BatchNorm per hidden layer), then a final Linear."""
import torch
from torch import nn

from core.embeddings import emb_sz_rule

DEFAULT_LAYERS = [200, 100]     # tabular_learner's default


def get_emb_szs(vocab: dict[str, list[str]], cat_names: list[str]) -> list[tuple[int, int]]:
    return [(len(vocab[c]), emb_sz_rule(len(vocab[c]))) for c in cat_names]


class TabularModel(nn.Module):
    def __init__(self, emb_szs: list[tuple[int, int]], n_cont: int, out_sz: int,
                 layers: list[int] = DEFAULT_LAYERS, embed_p: float = 0.0):
        super().__init__()
        self.embeds = nn.ModuleList([nn.Embedding(n, width) for n, width in emb_szs])
        for e in self.embeds:
            nn.init.trunc_normal_(e.weight, std=0.01, a=-0.02, b=0.02)   # as fastai's Embedding
        self.emb_drop = nn.Dropout(embed_p)
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont else None
        self.n_emb, self.n_cont = sum(w for _, w in emb_szs), n_cont
        sizes = [self.n_emb + n_cont, *layers]
        hidden = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            # no bias: the BatchNorm right after has its own shift
            hidden += [nn.Linear(n_in, n_out, bias=False), nn.ReLU(inplace=True), nn.BatchNorm1d(n_out)]
        self.layers = nn.Sequential(*hidden, nn.Linear(sizes[-1], out_sz))

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.n_emb:
            parts.append(self.emb_drop(torch.cat([e(x_cat[:, i]) for i, e in enumerate(self.embeds)], dim=1)))
        if self.n_cont:
            parts.append(self.bn_cont(x_cont))
        return self.layers(torch.cat(parts, dim=1))

    def describe(self, cat_names: list[str], cont_names: list[str]) -> dict:
        """What the page shows: each embedding's shape, and the layer sizes."""
        return {
            "embeddings": [{"column": c, "categories": e.num_embeddings, "width": e.embedding_dim}
                           for c, e in zip(cat_names, self.embeds)],
            "n_cont": len(cont_names),
            "layers": [m.out_features for m in self.layers if isinstance(m, nn.Linear)],
            "n_in": self.n_emb + self.n_cont,
            "n_params": sum(p.numel() for p in self.parameters()),
        }


def build_model(procs, layers: list[int] = DEFAULT_LAYERS) -> TabularModel:
    """The model for a set-up TabularProcs: its vocabularies fix the embedding sizes."""
    emb_szs = get_emb_szs(procs.categorify.vocab, procs.cat_names)
    return TabularModel(emb_szs, len(procs.cont_names), len(procs.classes), layers)
