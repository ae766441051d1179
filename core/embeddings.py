"""Embeddings, as fastai sizes them (shared by the tabular and collab lessons)."""


def emb_sz_rule(n_cat: int) -> int:
    """fastai's rule of thumb for an embedding's width, given the vocabulary size (with #na#)."""
    return min(600, round(1.6 * n_cat ** 0.56))
