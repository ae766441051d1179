"""Splitting items into training and validation sets, as fastai's RandomSplitter does (shared by the lessons)."""
import torch


def split_indices(n: int, valid_pct: float = 0.2, seed: int = 42) -> tuple[list[int], list[int]]:
    """fastai's RandomSplitter: the same permutation it draws, so both libraries see the same split."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    cut = int(valid_pct * n)
    return order[cut:], order[:cut]


def random_split(groups: list[str], valid_pct: float = 0.2, seed: int = 42) -> tuple[list[int], list[int]]:
    """fastai's RandomSplitter(valid_pct, seed), shuffling groups instead of items: the items of one group (the
    variants of one photo, say) never sit on both sides."""
    unique = sorted(set(groups))
    order = torch.randperm(len(unique), generator=torch.Generator().manual_seed(seed)).tolist()
    n_valid = max(1, int(round(valid_pct * len(unique)))) if valid_pct > 0 else 0
    valid_groups = {unique[i] for i in order[:n_valid]}
    train = [i for i, g in enumerate(groups) if g not in valid_groups]
    valid = [i for i, g in enumerate(groups) if g in valid_groups]
    return train, valid
