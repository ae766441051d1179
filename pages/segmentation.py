"""Segmentation, "colour every pixel": a U-Net on a pretrained encoder labels each pixel of a photo, trained live.

A thin view: data, model, training and metrics live in core/segmentation; training runs as a job (ui.jobs).
"""
import functools

import numpy as np
import pandas as pd
import streamlit as st

from core import plots
from core.datasets import DatasetUnavailable, resolve
from core.device import training_device
from core.segmentation import figures
from core.segmentation.data import BadSegmentationData, load_folder, pixel_counts, resize_pair, shape_for
from core.segmentation.metrics import per_image_accuracy
from core.segmentation.model import count_parameters, create_unet
from core.segmentation.train import CPU_BATCH_SIZE, DEFAULTS, fine_tune_job, from_export, lr_find_job
from core.splits import random_split
from core.vision.data import image_from_bytes
from core.vision.interpret import top_losses
from ui import jobs as ui_jobs
from ui.frame import require_frame
from ui.backbones import backbone_picker
from ui.export import export_and_load_back
from ui.notices import job_notices, source_notice

require_frame()

LR_KIND, FIT_KIND = "seg_lr_find", "seg_fine_tune"
WIDTHS = [96, 128, 160, 224, 320]
LR_CHOICES = [1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2]
SOURCES = {"scenes": "Scenes (embedded photos, works offline)", "camvid_tiny": "CamVid tiny (downloaded from fast.ai)"}


@st.cache_resource(show_spinner="Loading the scenes…")
def embedded_items():
    resolved = resolve("scenes")
    return load_folder(resolved.path, "the embedded scenes"), resolved.notice, resolved.source


@st.cache_resource(show_spinner="Loading CamVid…")
def camvid_items(path: str):
    return load_folder(path, "CamVid (tiny)")


@st.cache_resource(show_spinner=False)
def model_sizes(backbone: str, n_classes: int) -> tuple[int, int]:
    model, _ = create_unet(backbone, n_classes, pretrained=False)     # only to count: no weights needed
    return count_parameters(model.encoder), count_parameters(model.decoder)


def pairs_grid(rows, width="stretch"):
    """rows: [(image, caption), ...] per row, shown side by side, each as wide as its column."""
    for row in rows:
        for col, (img, caption) in zip(st.columns(len(row)), row):
            col.image(img, caption=caption, width=width)


def legend(codes, counts=None):
    st.html(f'<div style="line-height:1.9">{figures.legend_html(codes, counts)}</div>')


st.title("Colour every pixel: segmentation :material/format_paint:")
st.markdown(
    "Lesson 1 doesn't stop at saying *what* is in a photo. With **segmentation** the model says, for every single "
    "pixel, which class it belongs to: this pixel is animal, that one background. The model is a **U-Net**: the same "
    "kind of pretrained classifier as in *Is it a bird?*, with a second half that paints its answer back onto "
    "the photo, pixel by pixel.")

# ---------------------------------------------------------------------------------------------------------------
st.header("1 · The data: photos and their masks")
source = st.radio("Which photos?", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="seg_source")
items = None
try:
    if source == "scenes":
        items, notice, where = embedded_items()
        source_notice(notice, where)
        st.caption("Photo cut-outs from Tux Paint's stamps (GPL-2) pasted on textures from scikit-image; each "
                   "cut-out's transparency says exactly which pixels it covers. See datasets/scenes/ATTRIBUTION.")
    else:
        with st.spinner("Looking for the CamVid download…"):
            resolved = resolve("camvid_tiny", prefer_online=True)
        source_notice(resolved.notice, resolved.source)
        items = camvid_items(str(resolved.path))
except DatasetUnavailable as e:
    st.warning(f"{e} Meanwhile, use the embedded scenes.", icon=":material/cloud_off:")
except BadSegmentationData as e:
    st.error(f"This data can't be used: {e}", icon=":material/error:")
if items is None:
    st.stop()

codes = items.codes
st.markdown("Each photo comes with a **mask**: an image of the same size where every pixel holds a number, the "
            "**code** of its class. `codes.txt` says which number means what. The label of a photo is found from "
            "its file name (`label_func`), exactly as for CamVid in the course.")
batch_size_code = CPU_BATCH_SIZE if training_device().type == "cpu" else "bs"    # bs: sized to the GPU share
st.code(f"""path = untar_data(URLs.CAMVID_TINY)      # here: {'datasets/scenes' if source == 'scenes' else 'CamVid'}
dls = SegmentationDataLoaders.from_label_func(
    path, bs={batch_size_code}, fnames=get_image_files(path/"images"),
    label_func=lambda o: path/'labels'/f'{{o.stem}}_P.png',
    codes=np.loadtxt(path/'codes.txt', dtype=str))""", language="python")
st.markdown(f"**{len(items)} photos, {len(codes)} codes.** Colours used everywhere on this page:")
legend(codes)

c1, c2, c3 = st.columns(3)
valid_pct = c1.slider("valid_pct", 0.1, 0.5, DEFAULTS["valid_pct"], 0.05, key="seg_valid_pct",
                      help="The share of photos kept aside to check the model on photos it never trained on.")
seed = int(c2.number_input("seed", 0, 10_000, DEFAULTS["seed"], key="seg_seed", help="Same seed, same split."))
width = c3.radio("Resize to (pixels wide)", WIDTHS, index=WIDTHS.index(DEFAULTS["width"]), key="seg_width",
                 horizontal=True, help="Smaller trains faster; larger shows finer detail.")
shape = shape_for(items, width)
train_idx, valid_idx = random_split(items.groups, valid_pct, seed)

st.subheader("show_batch")
st.code("dls.show_batch(max_n=6)", language="python")
st.caption("Photos with their masks drawn over them (the dark background is left uncoloured):")
if st.button("Other photos", icon=":material/shuffle:", key="seg_reshuffle"):
    st.session_state.seg_shuffle = st.session_state.get("seg_shuffle", 0) + 1
rng = np.random.default_rng(st.session_state.get("seg_shuffle", 0))
picked = rng.choice(train_idx, size=min(6, len(train_idx)), replace=False)
shown = []
for i in picked:
    img, mask = resize_pair(items.images[i], items.masks[i], shape)
    shown.append((figures.overlay(np.asarray(img), mask, codes), f"{items.names[i]}"))
pairs_grid([shown[:3], shown[3:]])
i = int(picked[0])
st.caption(f"What the model must learn for {items.names[i]}: the photo, and its mask (the codes as colours).")
img, mask = resize_pair(items.images[i], items.masks[i], shape)
pairs_grid([[(np.asarray(img), "photo"), (figures.colour_mask(mask, codes), "mask: one code per pixel")]], width=260)

st.markdown("**How many pixels of each class?** The background takes most of every photo: a model that always "
            "said *background* would already get most pixels right. That's why we also measure each class on "
            "its own (IoU, below).")
st.plotly_chart(figures.pixel_share_bars({"training photos": pixel_counts(items, train_idx),
                                          "validation photos": pixel_counts(items, valid_idx)}, codes),
                width="stretch", key="seg_pixel_bars")
split_note = f"{len(train_idx)} photos for training, {len(valid_idx)} for validation"
if source == "scenes":
    split_note += (". The split is by stamp: every scene is made from one of ten sets of cut-outs, and the splitter "
                   "keeps whole sets on one side, so the animals, plants and vehicles of the validation scenes are "
                   "ones the model never saw")
st.caption(split_note + ".")

# ---------------------------------------------------------------------------------------------------------------
st.header("2 · Learner: a U-Net on a pretrained model")
st.markdown(
    "The **encoder** is a classifier pretrained on ImageNet, without its last layer. As the photo goes through "
    "it, the feature maps get smaller (1/2, 1/4 … 1/32 of the photo) and say more about *what* is there, less "
    "about *where*. The **decoder** is new: step by step it enlarges them again, joining at each step the "
    "encoder's map of the same size (the *skip connections*, the U's horizontal bars), which still knows where "
    "the edges are. At the end each pixel gets one score per class. Like in *Is it a bird?*, `fine_tune` trains "
    "the new decoder first with the encoder **frozen**, then everything.")
backbone = backbone_picker("Pretrained encoder", key="seg_backbone", show_size=False)
n_encoder, n_decoder = model_sizes(backbone, len(codes))
st.code(f"learn = unet_learner(dls, {backbone})", language="python")
st.markdown(f"Encoder: **{n_encoder:,}** pretrained parameters · decoder: **{n_decoder:,}** new ones · "
            f"output: {len(codes)} scores for each of the {shape[0]}×{shape[1]} pixels.")
config = dict(DEFAULTS, width=width, valid_pct=valid_pct, seed=seed, backbone=backbone, source=source,
              n_images=len(items))



# ---------------------------------------------------------------------------------------------------------------
st.header("3 · lr_find (optional)")
st.markdown("As before: a few batches with a growing learning rate; pick one where the loss still falls fast.")
st.code("learn.lr_find()", language="python")
if st.button("Run lr_find", icon=":material/search:", key="seg_run_lr_find"):
    ui_jobs.start_job(functools.partial(lr_find_job, items=items, config=config), kind=LR_KIND,
                      title="lr_find on the U-Net", config=config)
lr_job = ui_jobs.current_job_id(LR_KIND)
suggestion = None
if lr_job:
    lr_snap = ui_jobs.live_job(lr_job, chart=False, table=False)
    if lr_snap is not None and lr_snap.finished_ok and lr_snap.result:
        found = lr_snap.result
        suggestion = found["valley"]
        job_notices(lr_snap)
        st.plotly_chart(plots.lr_finder(found["lrs"], found["losses"], suggestion, st.session_state.get("seg_lr")),
                        width="stretch", key="seg_lr_plot")
        if suggestion:
            st.success(f"Suggested learning rate (the valley): **{suggestion:.1e}**", icon=":material/lightbulb:")
choices = sorted(set(LR_CHOICES + ([float(f"{suggestion:.1e}")] if suggestion else [])))
lr = st.select_slider("Learning rate for fine_tune", choices, value=DEFAULTS["lr"], format_func=lambda v: f"{v:.0e}",
                      key="seg_lr")

# ---------------------------------------------------------------------------------------------------------------
st.header("4 · fine_tune: train it")
st.markdown("One epoch with the encoder frozen, then all layers. The loss is the **cross-entropy of every pixel**, "
            "averaged; `pixel_accuracy` is the share of validation pixels labelled right, `mean_iou` the average "
            "over classes of how well predicted and true regions overlap.")
epochs = st.number_input("Epochs after unfreezing", 1, 20, DEFAULTS["epochs"], key="seg_epochs",
                         help="The course runs fine_tune(8) on a GPU; the default here finishes in about a minute "
                              "on a laptop CPU.")
st.code(f"learn.fine_tune({epochs}, base_lr={lr:g})", language="python")
fit_config = dict(config, lr=lr, epochs=int(epochs))
if st.button("Train", type="primary", icon=":material/play_arrow:", key="seg_train"):
    ui_jobs.start_job(functools.partial(fine_tune_job, items=items, config=fit_config), kind=FIT_KIND,
                      title=f"fine_tune a U-Net on {backbone}, {len(items)} photos", config=fit_config)
fit_job = ui_jobs.current_job_id(FIT_KIND)
fit_snap = ui_jobs.live_job(fit_job) if fit_job else None
if fit_snap is not None and fit_snap.finished_ok and not fit_snap.result:
    st.info("This run was trained before the server restarted: its losses are above, but its predictions are no "
            "longer in memory. Train again to see the results.", icon=":material/history:")
if fit_snap is None or not fit_snap.finished_ok or not fit_snap.result:
    st.info("Train a model to see its results and to use it.", icon=":material/info:")
    st.stop()
result = fit_snap.result
job_notices(fit_snap)
if result.get("cancelled"):
    st.warning("Training was stopped early: the results below are for the partly trained model.")

# ---------------------------------------------------------------------------------------------------------------
st.header("5 · Results: truth vs prediction")
run_codes = result["segmenter"].codes
x_valid, y_valid, predicted = result["x_valid"], result["y_valid"], result["predicted"]
iou = result["iou"]
m1, m2, m3 = st.columns(3)
m1.metric("pixel accuracy (validation)", f"{result['pixel_accuracy']:.1%}",
          help="Share of all validation pixels given the right class.")
m2.metric("mean IoU", f"{np.nanmean(iou):.2f}", help="Average over classes of overlap ÷ union; 1 is perfect.")
m3.metric("training time", f"{result['seconds']:.0f} s")
st.subheader("show_results")
st.code("learn.show_results(max_n=6)", language="python")
st.caption("Left: the true mask, right: what the model painted, for validation photos it never trained on.")
legend(run_codes)
show = list(range(min(6, len(y_valid))))
rows = []
for k in show:
    rows.append([(figures.overlay(x_valid[k], y_valid[k], run_codes), "truth"),
                 (figures.overlay(x_valid[k], predicted[k], run_codes),
                  f"prediction · {per_image_accuracy(predicted[k:k + 1], y_valid[k:k + 1])[0]:.0%} of pixels right")])
pairs_grid([rows[j] + rows[j + 1] if j + 1 < len(rows) else rows[j] for j in range(0, len(rows), 2)])

st.subheader("Each class on its own: IoU")
st.markdown("**IoU** (intersection over union): for one class, the pixels both the truth and the prediction give "
            "it, divided by the pixels either gives it. Background is easy; the small classes tell you whether the "
            "model really learnt to tell an animal from a plant.")
st.caption("What to expect from the default settings: the outlines come out well after a minute on a CPU, but the "
           "class of a cut-out it never saw is often wrong (a crow painted as a vehicle): 160 training photos and "
           "small images are not much to learn *which* thing it is. More epochs and bigger images help; on a GPU "
           "try 320 pixels wide and 10 epochs.")
st.plotly_chart(figures.iou_bars(iou, run_codes), width="stretch", key="seg_iou")
cm = result["confusion"]
table = pd.DataFrame({"class": run_codes, "IoU": iou, "pixel accuracy": np.diag(cm) / np.maximum(cm.sum(1), 1),
                      "pixels (validation)": cm.sum(1)})
table = table[table["pixels (validation)"] > 0]
st.dataframe(table.style.format({"IoU": "{:.2f}", "pixel accuracy": "{:.1%}", "pixels (validation)": "{:,}"}),
             hide_index=True, width="content")

st.subheader("Top losses: the photos it got most wrong")
st.code("interp = SegmentationInterpretation.from_learner(learn)\ninterp.plot_top_losses(3)", language="python")
st.caption("For each: the truth, the prediction, and the wrong pixels in red.")
for k in top_losses(result["losses"], 3):
    pairs_grid([[(figures.overlay(x_valid[k], y_valid[k], run_codes), "truth"),
                 (figures.overlay(x_valid[k], predicted[k], run_codes), f"prediction · loss {result['losses'][k]:.2f}"),
                 (figures.mistakes(x_valid[k], y_valid[k], predicted[k]),
                  f"wrong pixels: {1 - per_image_accuracy(predicted[k:k + 1], y_valid[k:k + 1])[0]:.0%}")]])

# ---------------------------------------------------------------------------------------------------------------
st.header("6 · Use it")
st.markdown("Give it a photo of your own, or pick a validation photo, and see which pixels it gives which class.")
segmenter = result["segmenter"]
loaded = st.session_state.get("seg_loaded")
if loaded is not None:
    which = st.radio("Which model?", ["the one you just trained", "the one you loaded back"], horizontal=True,
                     key="seg_which_model")
    if which == "the one you loaded back":
        segmenter = loaded
run_items = result["items"]
left, right = st.columns([1, 2])
photo_file = left.file_uploader("Your photo", type=["jpg", "jpeg", "png", "webp", "bmp", "gif"], key="seg_photo")
example = left.selectbox("…or a validation photo", range(len(result["valid_idx"])), index=0, key="seg_example",
                         format_func=lambda k: run_items.names[result["valid_idx"][k]])
photo = run_items.images[result["valid_idx"][example]]
if photo_file is not None:
    photo, reason = image_from_bytes(photo_file.getvalue(), photo_file.name)
    if photo is None:
        left.error(f"That file can't be used: {reason}.", icon=":material/broken_image:")
if photo is not None:
    found_codes, confidence = segmenter.predict(photo)
    painted = figures.overlay(np.asarray(photo.convert("RGB")), found_codes, segmenter.codes)
    right.image(painted, caption="the model's classes over the photo", width=420)
    counts = np.bincount(found_codes.ravel(), minlength=len(segmenter.codes))
    right.html(f'<div style="line-height:1.9">{figures.legend_html(segmenter.codes, counts)}</div>')
    left.image(photo, caption="the photo", width=220)
    right.code("pred_mask, _, probs = learn.predict(PILImage.create('photo.jpg'))", language="python")

st.subheader("Export it and load it back")
st.markdown("Two files: the weights as **safetensors** (just numbers: loading them can't run anyone's code, unlike "
            "a pickle) and a small **JSON** with the codes, the encoder's name and the size the model expects.")
export_and_load_back(result["segmenter"].model, result["segmenter"].export_meta(), "seg", "segmentation",
                     from_export, lambda meta: f"Loaded a U-Net on {meta['backbone']} for {', '.join(meta['codes'])}.")
