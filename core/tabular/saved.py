"""A saved tabular model read back without trusting it: a run's model.safetensors + model.json, or the two files a
student exported (maybe someone else's, maybe edited).

The JSON says everything the model is built from: the columns, the procs' state (each categorical column's
vocabulary, the medians, means and stds), the classes and the hidden layers' widths. A few hundred bytes can claim
layers of 16k units (a gigabyte, growing with the square of the width), so every field is checked for type and
range, and the parameter count they imply is bounded, BEFORE anything is built; then the shapes (worked out on the
meta device) are matched against the weights' header, the tensors read, and only then is the model built.
Reading the two files safely is core/modelfiles.py's; what is checked here is what makes them a tabular model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import torch

from core.embeddings import emb_sz_rule
from core.modelfiles import (ModelFileError, check_header, check_size, header_of, parse_meta, read_tensors,
                             register_reader)
from core.tables import Limits
from core.tabular.model import TabularModel, build_model, get_emb_szs
from core.tabular.procs import NA, TabularProcs
from core.tabular.table import TableSpec

MAX_META_BYTES = 16 * 2**20          # the vocabularies of up to 100 columns of 10,000 categories
MAX_COLUMNS = 1_000
MAX_NAME = 200                       # characters in a column's name
MAX_CATEGORIES = Limits.max_categories + 1     # with '#na#'
MAX_CLASSES = Limits.max_classes
MAX_LAYERS, MAX_WIDTH = 8, 4096
MAX_PARAMETERS = 50_000_000          # 200 MB of float32; the Adult model has 28,593


@dataclass(frozen=True)
class SavedTabular:
    model: TabularModel              # on the CPU, in eval mode
    procs: TabularProcs
    spec: TableSpec
    meta: dict


# ---- the metadata, field by field --------------------------------------------------------------------------------
def _bad(field: str, wanted: str) -> NoReturn:
    raise ModelFileError(f"The metadata's '{field}' must be {wanted}.")


def _object(value, field: str) -> dict:
    if not isinstance(value, dict):
        _bad(field, "an object")
    return value


def _names(value, field: str, low: int = 0, high: int = MAX_COLUMNS) -> list[str]:
    if not (isinstance(value, list) and low <= len(value) <= high and len(set(map(str, value))) == len(value)
            and all(isinstance(v, str) and 0 < len(v) <= MAX_NAME for v in value)):
        _bad(field, f"a list of {low} to {high:,} different column names")
    return value


def _numbers(value, field: str, columns: list[str], positive: bool = False) -> dict[str, float]:
    if not (isinstance(value, dict) and set(value) == set(columns) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 or not positive)
            for v in value.values())):
        _bad(field, f"a {'positive ' if positive else ''}finite number for each continuous column")
    return value


def _vocab(value, columns: list[str]) -> dict[str, list[str]]:
    if not (isinstance(value, dict) and set(value) == set(columns)):
        _bad("procs.categorify.vocab", "a list of categories for each categorical column")
    for column, categories in value.items():
        if not (isinstance(categories, list) and 1 <= len(categories) <= MAX_CATEGORIES and categories[0] == NA
                and all(isinstance(c, str) for c in categories)):
            _bad("procs.categorify.vocab", f"for each categorical column, '{NA}' then up to "
                                           f"{MAX_CATEGORIES - 1:,} category names")
    return value


def check_meta(meta: dict) -> tuple[TabularProcs, TableSpec, list[int]]:
    """The procs, the columns and the hidden layers a tabular model's metadata describes, each checked; nothing
    is built."""
    if meta.get("kind") != "tabular":
        raise ModelFileError("This is not a tabular model's metadata (its 'kind' is not 'tabular'): use the .json "
                             "file this lesson exported with the weights.")
    spec, procs = _object(meta.get("spec"), "spec"), _object(meta.get("procs"), "procs")
    target = spec.get("target")
    if not isinstance(target, str) or not 0 < len(target) <= MAX_NAME:
        _bad("spec.target", "the name of the column the model predicts")
    cats, conts = _names(spec.get("cat_names"), "spec.cat_names"), _names(spec.get("cont_names"), "spec.cont_names")
    if not cats and not conts or set(cats) & set(conts) or target in cats + conts:
        raise ModelFileError("The metadata's columns do not add up: a model needs at least one input column, each "
                             "either categorical or continuous, and none of them the target.")
    fill, categorify, normalize = (_object(procs.get(k), f"procs.{k}") for k in ("fill", "categorify", "normalize"))
    if procs.get("target") != target:
        _bad("procs.target", "the spec's target")
    classes = procs.get("classes")
    if not (isinstance(classes, list) and 2 <= len(classes) <= MAX_CLASSES
            and all(isinstance(c, str) for c in classes)):
        _bad("procs.classes", f"a list of 2 to {MAX_CLASSES} class names")
    if fill.get("cont_names") != conts or normalize.get("cont_names") != conts:
        _bad("procs", "the spec's continuous columns, in the fill and normalize steps alike")
    na_columns = _names(fill.get("na_columns"), "procs.fill.na_columns")
    if not set(na_columns) <= set(conts):
        _bad("procs.fill.na_columns", "some of the continuous columns")
    flags = [f"{c}_na" for c in na_columns if f"{c}_na" not in cats]
    if categorify.get("cat_names") != cats + flags:
        _bad("procs.categorify.cat_names", "the spec's categorical columns, then a '_na' flag per filled column")
    _vocab(categorify.get("vocab"), cats + flags)
    _numbers(fill.get("medians"), "procs.fill.medians", conts)
    _numbers(normalize.get("means"), "procs.normalize.means", conts)
    _numbers(normalize.get("stds"), "procs.normalize.stds", conts, positive=True)
    layers = meta.get("layers")
    if not (isinstance(layers, list) and len(layers) <= MAX_LAYERS and all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH for n in layers)):
        _bad("layers", f"a list of up to {MAX_LAYERS} layer widths, each from 1 to {MAX_WIDTH:,}")
    return TabularProcs.from_state(procs), TableSpec(target, list(cats), list(conts)), list(layers)


def parameter_count(procs: TabularProcs, layers: list[int]) -> int:
    """The parameters of build_model(procs, layers), counted without building it."""
    emb_szs = [(n, emb_sz_rule(n)) for n in (len(procs.categorify.vocab[c]) for c in procs.cat_names)]
    n_cont, n_out = len(procs.cont_names), len(procs.classes)
    sizes = [sum(w for _, w in emb_szs) + n_cont, *layers]
    hidden = sum(n_in * n_out_ + 2 * n_out_ for n_in, n_out_ in zip(sizes[:-1], sizes[1:]))   # Linear, BatchNorm
    return sum(n * w for n, w in emb_szs) + 2 * n_cont + hidden + (sizes[-1] + 1) * n_out


def expected_shapes(procs: TabularProcs, layers: list[int]) -> dict[str, tuple[int, ...]]:
    """The state dict build_model(procs, layers) would make, built on the meta device: nothing is allocated."""
    with torch.device("meta"):
        model = TabularModel(get_emb_szs(procs.categorify.vocab, procs.cat_names), len(procs.cont_names),
                             len(procs.classes), layers)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


# ---- both ways in: an upload, a run's files ------------------------------------------------------------------------
def tabular_from_files(weights: bytes | Path, meta: bytes | Path) -> SavedTabular:
    """A tabular model from its two files (an upload's bytes, or a run's paths), checked before anything is built.
    ModelFileError (a sentence) otherwise; FileNotFoundError if a run's file is missing."""
    raw = parse_meta(meta, MAX_META_BYTES)
    procs, spec, layers = check_meta(raw)
    check_size(parameter_count(procs, layers), MAX_PARAMETERS, "tabular models")
    check_header(expected_shapes(procs, layers), header_of(weights),
                 f"a tabular model of {len(procs.cat_names)} embeddings, {len(procs.cont_names)} continuous "
                 f"columns and layers {layers}")
    state = read_tensors(weights)
    model = build_model(procs, layers)
    model.load_state_dict(state, strict=True)
    return SavedTabular(model.eval(), procs, spec, raw)


register_reader("tabular", tabular_from_files)
