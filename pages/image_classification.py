"""Lesson 1's headline: "Is it a bird?" -- fine-tune a pretrained CNN on real photos, live, and see why it works.

A thin view: data, training and interpretation live in core/vision; training runs as a job (ui.jobs).
"""
import functools
import tempfile

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import plots
from core.datasets import DatasetUnavailable, resolve
from core.device import training_device
from core.models import BACKBONES, DEFAULT_BACKBONE
from core.vision import figures
from core.vision.data import (BadUpload, class_counts, image_from_bytes, load_embedded, load_pets, load_uploads,
                              load_zip, problems, random_split)
from core.vision.interpret import cell_items, confusion_matrix, most_confused, top_losses
from core.vision.train import CPU_BATCH_SIZE, DEFAULTS, fine_tune_job, from_export, lr_find_job
from core.vision.transforms import RESIZE_METHODS, BatchTransform, denormalize, resize, to_uint8_tensor
from ui import jobs as ui_jobs
from ui.backbones import backbone_picker
from ui.export import export_and_load_back
from ui.notices import job_notices, source_notice
from ui.frame import require_frame

require_frame()

LR_KIND, FIT_KIND = "image_lr_find", "image_fine_tune"
SIZES = [64, 96, 128, 160, 192, 224]
LR_CHOICES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2]
SOURCES = {"birds": "Is it a bird? (embedded photos, works offline)",
           "pets": "Oxford-IIIT Pets (downloaded from fast.ai)",
           "own": "Your own photos"}


@st.cache_resource(show_spinner="Loading the photos…")
def embedded_items(label: str):
    resolved = resolve("birds")
    return load_embedded(resolved.path, label), resolved.notice, resolved.source


@st.cache_resource(show_spinner="Loading the pets photos…")
def pets_items(path: str, label: str, limit: int):
    return load_pets(path, label, limit=limit)


def image_grid(images, captions, cols: int = 6, width: int = 150):
    for start in range(0, len(images), cols):
        row = st.columns(cols)
        for col, img, cap in zip(row, images[start:start + cols], captions[start:start + cols]):
            col.image(img, caption=cap, width=width)


def show_rejected(rejected):
    if rejected:
        st.warning(f"{len(rejected)} file(s) were left out; everything else is used.", icon=":material/block:")
        st.dataframe(pd.DataFrame([dict(file=r.name, reason=r.reason) for r in rejected]), hide_index=True,
                     width="stretch")


st.title("Is it a bird? :material/flutter_dash:")
st.markdown(
    "In lesson 1 Jeremy trains a computer to tell birds from everything else, in a couple of minutes, with a "
    "model that was already trained on a million photos. You'll do the same here, step by step, in the order "
    "the course does it. Nothing to install: press the buttons, read what comes out.")

# ---------------------------------------------------------------------------------------------------------------
st.header("0 · The photos")
source = st.radio("Which photos?", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="ic_source")
items = None
if source == "birds":
    task = st.radio("What should the model say?", ["is_bird", "kind"], horizontal=True, key="ic_label",
                    format_func={"is_bird": "bird or not bird (2 classes)",
                                 "kind": "what kind of thing: birds, animals, food, plants, vehicles, things"}.get)
    items, notice, where = embedded_items(task)
    source_notice(notice, where)
    st.caption("Real photo cut-outs from Tux Paint's stamps (GPL-2), pasted on photos and textures from "
               "scikit-image; see datasets/birds/ATTRIBUTION.")
elif source == "pets":
    task = st.radio("What should the model say?", ["is_cat", "breed"], horizontal=True, key="ic_pets_label",
                    format_func={"is_cat": "cat or dog (the course's is_cat)", "breed": "which of 37 breeds"}.get)
    try:
        with st.spinner("Looking for the Pets download (800 MB the first time)…"):
            resolved = resolve("pets", prefer_online=True)
    except DatasetUnavailable as e:
        st.warning(f"{e} Meanwhile, use the embedded 'Is it a bird?' photos or your own.", icon=":material/cloud_off:")
    else:
        source_notice(resolved.notice, resolved.source)
        limit = 2000 if not torch.cuda.is_available() else 0
        items = pets_items(str(resolved.path), task, limit)
        if limit:
            st.caption(f"On a CPU the lesson uses {len(items)} of the photos, picked at random, so training stays "
                       "short; a GPU server uses all of them.")
else:
    st.markdown("Bring your own classes: a **zip** with one folder per class (`bird/…jpg`, `forest/…jpg`), "
                "or upload a few photos for each class name you type. Every file is checked; files that aren't "
                "usable images are listed with the reason and left out.")
    zip_tab, class_tab = st.tabs(["A zip, one folder per class", "Class by class"])
    with zip_tab:
        upload = st.file_uploader("Zip file", type=["zip"], key="ic_zip")
        if upload is not None and st.session_state.get("ic_own_id") != f"zip:{upload.file_id}":
            try:
                loaded = load_zip(upload.getvalue(), tempfile.mkdtemp(prefix="lesson1-upload-"))
            except BadUpload as e:
                st.error(str(e), icon=":material/folder_off:")
            else:
                st.session_state.ic_own, st.session_state.ic_own_id = loaded, f"zip:{upload.file_id}"
    with class_tab:
        n_classes = st.number_input("How many classes?", 2, 6, 2, key="ic_n_classes")
        files_by_class = {}
        cols = st.columns(int(n_classes))
        for i, col in enumerate(cols):
            name = col.text_input(f"Class {i + 1} name", value=["bird", "forest", "cat", "dog", "car", "tree"][i],
                                  key=f"ic_class_name_{i}").strip()
            files = col.file_uploader(f"Photos of “{name}”", accept_multiple_files=True, key=f"ic_class_files_{i}")
            if name and files:
                files_by_class.setdefault(name, []).extend((f.name, f.getvalue()) for f in files)
        if st.button("Use these photos", disabled=not files_by_class, key="ic_use_uploads"):
            st.session_state.ic_own = load_uploads(files_by_class)
            st.session_state.ic_own_id = "classes"
    items = st.session_state.get("ic_own")
    if items is not None:
        st.info(f"Using {items.description}: {len(items)} images.", icon=":material/upload:")
        show_rejected(items.rejected)

if items is None:
    st.stop()
trouble = problems(items)
if trouble:
    for t in trouble:
        st.error(t, icon=":material/error:")
    st.stop()

# ---------------------------------------------------------------------------------------------------------------
st.header("1 · DataBlock: tell fastai what the data is")
st.markdown(
    "A `DataBlock` is five answers: what goes in and what comes out (**blocks**), where the items are "
    "(**get_items**), how to put some aside to check the model on photos it never trained on (**splitter**), "
    "where the label comes from (**get_y**), and how to make every photo the same size (**item_tfms**).")
c1, c2, c3, c4 = st.columns(4)
valid_pct = c1.slider("valid_pct", 0.1, 0.5, DEFAULTS["valid_pct"], 0.05, key="ic_valid_pct",
                      help="The share of photos kept aside for validation.")
seed = int(c2.number_input("seed", 0, 10_000, DEFAULTS["seed"], key="ic_seed",
                           help="Same seed, same split: results you can compare."))
size = c3.radio("Resize to (pixels)", SIZES, index=SIZES.index(DEFAULTS["size"]), key="ic_size", horizontal=True,
                help="Smaller trains faster; larger shows more detail.")
method = c4.radio("Resize method", RESIZE_METHODS, index=RESIZE_METHODS.index(DEFAULTS["method"]),
                  key="ic_method", horizontal=True)
if source == "own":
    get_items, get_y = "get_image_files", "parent_label"
else:
    get_items, get_y = "get_image_files", {"is_bird": "is_bird", "kind": "kind_of_thing",
                                           "is_cat": "is_cat", "breed": "breed"}[task]
dataloaders_code = (f"dataloaders(path, bs={CPU_BATCH_SIZE})" if training_device().type == "cpu" else
                    "dataloaders(path, bs=bs)  # bs: the largest batch that fits this job's share of the GPU")
st.code(f"""dls = DataBlock(
    blocks=(ImageBlock, CategoryBlock),
    get_items={get_items},
    splitter=RandomSplitter(valid_pct={valid_pct:g}, seed={seed}),
    get_y={get_y},
    item_tfms=[Resize({size}, method='{method}')],
    batch_tfms=aug_transforms(),
).{dataloaders_code}""", language="python")
st.markdown(f"**{method}** — " + {
    "squish": "stretch the whole photo into a square: nothing is lost, shapes get a little distorted.",
    "crop": "cut the middle square out: no distortion, but the edges of the photo are lost.",
    "pad": "fit the whole photo in, with black bars: nothing lost, nothing distorted, some pixels wasted."}[method])
preview = [int(i) for i in np.linspace(0, len(items) - 1, 6)]
st.caption("The same photos, before and after Resize:")
image_grid([items.images[i] for i in preview], [f"original {items.images[i].width}×{items.images[i].height}"
                                                for i in preview], width=140)
image_grid([resize(items.images[i], size, method) for i in preview],
           [f"{method} → {size}×{size}" for i in preview], width=140)

train_idx, valid_idx = random_split(items.groups, valid_pct, seed)

# ---------------------------------------------------------------------------------------------------------------
st.header("2 · show_batch: look at your data")
st.markdown("Always look at the data before training. These are training photos the way the model will get "
            "them: resized, then randomly cropped and flipped a little each time (data augmentation), so the "
            "model can't just memorise pixels.")
st.code("dls.show_batch(max_n=12)", language="python")
if st.button("Reshuffle", icon=":material/shuffle:", key="ic_reshuffle"):
    st.session_state.ic_shuffle = st.session_state.get("ic_shuffle", 0) + 1
rng = np.random.default_rng(st.session_state.get("ic_shuffle", 0))
picked = rng.choice(train_idx, size=min(12, len(train_idx)), replace=False)
spec = BACKBONES.get(st.session_state.get("ic_backbone", DEFAULT_BACKBONE), BACKBONES[DEFAULT_BACKBONE])
batch = to_uint8_tensor([resize(items.images[i], size, method) for i in picked])
tfm = BatchTransform(spec.mean, spec.std, augment=True, min_scale=DEFAULTS["min_scale"],
                     seed=st.session_state.get("ic_shuffle", 0))
image_grid(list(denormalize(tfm((batch,))[0], spec.mean, spec.std)), [items.labels[i] for i in picked], width=140)
counts = pd.DataFrame({"train": class_counts([items.labels[i] for i in train_idx]),
                       "valid": class_counts([items.labels[i] for i in valid_idx])}).fillna(0).astype(int)
st.dataframe(counts, width="content")
if source == "birds":
    st.caption("Several photos come from the same cut-out (on other backgrounds); the splitter keeps all of "
               "them on the same side, so the validation photos are really new to the model.")

# ---------------------------------------------------------------------------------------------------------------
st.header("3 · Learner: start from a pretrained model")
st.markdown("We don't start from random numbers: we take a model already trained to recognise 1,000 kinds of "
            "things in ImageNet's photos, cut off its last layer, and put a new one for our classes. "
            "Fine-tuning then adjusts it to our photos.")
backbone = backbone_picker("Pretrained model", key="ic_backbone")
st.code(f"learn = vision_learner(dls, '{backbone}', metrics=error_rate)", language="python")
config = dict(DEFAULTS, size=size, method=method, valid_pct=valid_pct, seed=seed, backbone=backbone,
              source=source, task=task if source != "own" else "own", n_images=len(items))



# ---------------------------------------------------------------------------------------------------------------
st.header("4 · lr_find: how big should the steps be?")
st.markdown("The learning rate is how big a step the model takes each time it adjusts its weights. Too small: "
            "it barely learns. Too big: it jumps around and gets worse. `lr_find` tries a few batches with a "
            "growing learning rate and plots the loss; a good choice is where the loss is still falling fast.")
st.code("learn.lr_find()", language="python")
if st.button("Run lr_find", icon=":material/search:", key="ic_run_lr_find"):
    ui_jobs.start_job(functools.partial(lr_find_job, items=items, config=config), kind=LR_KIND,
                      title="lr_find on the image classifier", config=config)
lr_job = ui_jobs.current_job_id(LR_KIND)
suggestion = None
if lr_job:
    lr_snap = ui_jobs.live_job(lr_job, chart=False, table=False)
    if lr_snap is not None and lr_snap.finished_ok and lr_snap.result:
        found = lr_snap.result
        suggestion = found["valley"]
        job_notices(lr_snap)
        st.plotly_chart(plots.lr_finder(found["lrs"], found["losses"], suggestion,
                                        st.session_state.get("ic_lr")), width="stretch", key="ic_lr_plot")
        if suggestion:
            st.success(f"Suggested learning rate (the valley): **{suggestion:.1e}**", icon=":material/lightbulb:")
choices = sorted(set(LR_CHOICES + ([float(f"{suggestion:.1e}")] if suggestion else [])))
default_lr = float(f"{suggestion:.1e}") if suggestion else DEFAULTS["lr"]
lr = st.select_slider("Learning rate for fine_tune", choices, value=default_lr, format_func=lambda v: f"{v:.0e}",
                      key="ic_lr")

# ---------------------------------------------------------------------------------------------------------------
st.header("5 · fine_tune: train it")
st.markdown("`fine_tune` first trains only the new last layer for one epoch, with the pretrained body "
            "**frozen**; then it **unfreezes** everything and trains all layers, the early ones more gently. "
            "An epoch is one pass through all the training photos. Watch the losses fall as it goes; "
            "error_rate is the share of validation photos it gets wrong.")
epochs = st.number_input("Epochs after unfreezing", 1, 10, DEFAULTS["epochs"], key="ic_epochs")
st.code(f"learn.fine_tune({epochs}, base_lr={lr:g})", language="python")
fit_config = dict(config, lr=lr, epochs=int(epochs))
if st.button("Train", type="primary", icon=":material/play_arrow:", key="ic_train"):
    ui_jobs.start_job(functools.partial(fine_tune_job, items=items, config=fit_config), kind=FIT_KIND,
                      title=f"fine_tune {backbone} on {len(items)} photos", config=fit_config)
fit_job = ui_jobs.current_job_id(FIT_KIND)
fit_snap = ui_jobs.live_job(fit_job) if fit_job else None
if fit_snap is None or not fit_snap.finished_ok or not fit_snap.result:
    st.info("Train a model to see what changed inside it, its results, and to use it.", icon=":material/info:")
    st.stop()
result = fit_snap.result
job_notices(fit_snap)
if result.get("cancelled"):
    st.warning("Training was stopped early: the results below are for the partly trained model.")

# ---------------------------------------------------------------------------------------------------------------
st.header("6 · What changed inside")
st.markdown("How far did each layer's weights move away from the pretrained ones, and how big were their "
            "gradients? During the **frozen** epoch only the new head (red) learns: the body's weights stay "
            "where ImageNet left them (the tiny movement is BatchNorm, which fastai keeps training). After "
            "**unfreezing** every layer moves, the early layers least: they detect edges and textures, which "
            "are useful for any photo.")
stats = fit_snap.weight_stats
if stats:
    st.plotly_chart(figures.layer_change_bars(stats), width="stretch", key="ic_change_bars")
    left, right = st.columns(2)
    left.plotly_chart(figures.layer_change_figure(stats, "weight_change"), width="stretch", key="ic_change_lines")
    right.plotly_chart(figures.layer_change_figure(stats, "grad_norm", log_y=True), width="stretch",
                       key="ic_grad_lines")
else:
    st.caption("No per-layer statistics were recorded for this run.")

# ---------------------------------------------------------------------------------------------------------------
st.header("7 · Results: where is it right, where is it wrong?")
run_items = result["items"]
vocab = result["classifier"].vocab
probs, targets, losses = result["probs"], result["targets"], result["losses"]
predicted = probs.argmax(1)
valid_items = [run_items.images[i] for i in result["valid_idx"]]
err = float((predicted != targets).mean())
st.metric("error rate on the validation photos", f"{err:.1%}",
          help=f"{int((predicted != targets).sum())} wrong out of {len(targets)}")
st.subheader("show_results")
st.code("learn.show_results()", language="python")
show = list(range(min(12, len(targets))))
image_grid([valid_items[i] for i in show],
           [f"{'right' if predicted[i] == targets[i] else 'WRONG'}: said {vocab[predicted[i]]}, "
            f"really {vocab[targets[i]]}" for i in show], width=140)

st.subheader("Confusion matrix")
st.markdown("Rows: what the photo really is. Columns: what the model said. The diagonal is right, everything "
            "else is a mistake. **Click a cell** to see its photos.")
st.code("interp = ClassificationInterpretation.from_learner(learn)\ninterp.plot_confusion_matrix()",
        language="python")
cm = confusion_matrix(targets, predicted, len(vocab))
event = st.plotly_chart(figures.confusion_figure(cm, vocab), on_select="rerun", selection_mode="points",
                        key="ic_cm", width="content", config={"displayModeBar": False})
cells = [(a, p) for a in range(len(vocab)) for p in range(len(vocab)) if cm[a, p]]
clicked = None
points = (event or {}).get("selection", {}).get("points", []) if event else []
if points:
    pt = points[0]
    if pt.get("y") in vocab and pt.get("x") in vocab:
        clicked = (vocab.index(pt["y"]), vocab.index(pt["x"]))
choice = st.selectbox("…or pick a cell", cells, index=cells.index(clicked) if clicked in cells else None,
                      format_func=lambda c: f"really {vocab[c[0]]}, predicted {vocab[c[1]]} ({cm[c]} photos)",
                      key=f"ic_cell_{clicked}", placeholder="choose a cell of the matrix")
if choice is not None:
    where = cell_items(targets, predicted, *choice)[:18]
    st.caption(f"{cm[choice]} photo(s) that are really **{vocab[choice[0]]}** and were predicted "
               f"**{vocab[choice[1]]}** (with the probability the model gave):")
    image_grid([valid_items[i] for i in where], [f"{probs[i, choice[1]]:.0%} {vocab[choice[1]]}" for i in where],
               width=120)

st.subheader("Top losses")
st.markdown("The photos the model was most wrong (or least sure) about. Often they show a labelling mistake "
            "or a photo that is genuinely hard.")
st.code("interp.plot_top_losses(9)", language="python")
top = top_losses(losses, 9)
image_grid([valid_items[i] for i in top],
           [f"{vocab[predicted[i]]} / {vocab[targets[i]]} / {losses[i]:.2f} / {probs[i, predicted[i]]:.2f}"
            for i in top], width=140)
st.caption("Each caption: predicted / actual / loss / probability of the prediction (as fastai prints it).")
confused = most_confused(cm, vocab)
st.subheader("Most confused")
st.code("interp.most_confused()", language="python")
if confused:
    st.dataframe(pd.DataFrame(confused, columns=["actual", "predicted", "photos"]), hide_index=True)
else:
    st.success("No mistakes on the validation photos.")

# ---------------------------------------------------------------------------------------------------------------
st.header("8 · Use it")
st.markdown("Now ask the model about a photo: upload your own, or pick one of the validation photos.")
classifier = result["classifier"]
loaded = st.session_state.get("ic_loaded")
if loaded is not None:
    which = st.radio("Which model?", ["the one you just trained", "the one you loaded back"], horizontal=True,
                     key="ic_which_model")
    if which == "the one you loaded back":
        classifier = loaded
left, right = st.columns([1, 2])
photo_file = left.file_uploader("Your photo", type=["jpg", "jpeg", "png", "webp", "bmp", "gif"], key="ic_photo")
example = left.selectbox("…or an example", range(len(valid_items)), index=0, key="ic_example",
                         format_func=lambda i: f"validation photo {i + 1} ({run_items.names[result['valid_idx'][i]]})")
photo = valid_items[example]
if photo_file is not None:
    photo, reason = image_from_bytes(photo_file.getvalue(), photo_file.name)
    if photo is None:
        left.error(f"That file can't be used: {reason}.", icon=":material/broken_image:")
        photo = None
if photo is not None:
    left.image(photo, width=220)
    p = classifier.predict([photo])[0]
    right.markdown(f"### Prediction: **{classifier.vocab[int(p.argmax())]}**  \nprobability {p.max():.1%}")
    right.plotly_chart(plots.probability_bars(p, classifier.vocab), width="stretch", key="ic_probs")
    right.code("is_bird, _, probs = learn.predict(PILImage.create('photo.jpg'))", language="python")

st.subheader("Export it and load it back")
st.markdown("`learn.export()` saves the model to use later. Here it's two files: the weights as "
            "**safetensors** (just numbers, so loading can't run anyone's code, unlike a pickle) and a small "
            "**JSON** with the class names and how to resize photos.")
export_and_load_back(result["classifier"].model, result["classifier"].export_meta(), "ic", "image_classifier",
                     from_export, lambda meta: f"Loaded a {meta['backbone']} classifier for {', '.join(meta['vocab'])}.")
