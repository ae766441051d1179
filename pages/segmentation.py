"""Segmentation, "colour every pixel": a U-Net on a pretrained encoder labels each pixel of a photo, trained live.

A thin view: data, model, training and metrics live in core/segmentation; training runs in a worker through the
training service (ui/runs.py), and everything drawn about a run is read from the run store, so a reload, a shared
link or a restarted server shows the same.
"""
import hashlib
import json
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from core.classroom import check_upload
from core.datasets import DatasetUnavailable, resolve
from core.device import training_device
from core.tables import spreadsheet_safe
from core.errors import StudentError
from core.images import check_image
from core.segmentation import figures
from core.segmentation.data import MAX_ITEMS, items_from_zip, load_folder, pixel_counts, resize_pair, \
    shape_for
from core.segmentation.jobs import UPLOAD_KIND
from core.segmentation.metrics import per_image_accuracy, top_losses, worst_images
from core.segmentation.model import DIFFERS_FROM_FASTAI, count_parameters, create_unet, fastai_code
from core.segmentation.saved import segmenter_from_files
from core.segmentation.train import CPU_BATCH_SIZE, DEFAULTS
from core.splits import random_split
from core.schedules import lr_text
from ui import images as pictures, limits
from ui import runs as ui_runs
from ui.backbones import backbone_picker
from ui.charts import show_chart
from ui.code import show_code
from ui.export import export_and_load_back, file_stem
from ui.frame import require_frame
from ui.notices import job_notices, source_notice
from ui.photos import pick_photo
from ui.sections import later, numbered
from ui.tables import show_table
from ui.text import plain
from ui.uploads import read_upload, store_upload

require_frame()

ss = st.session_state
LESSON = "segmentation"
WIDGETS = {"width": "seg_width", "valid_pct": "seg_valid_pct", "seed": "seg_seed", "backbone": "seg_backbone",
           "lr": "seg_lr", "epochs": "seg_epochs"}
WIDTHS = [64, 96, 128, 160, 224, 320]
LR_CHOICES = [1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2]
SOURCES = {"scenes": "Scenes (embedded photos, works offline)", "camvid_tiny": "CamVid tiny (downloaded from fast.ai)",
           "own": "My own photos and masks (a zip)"}
ROW_WIDTH = 810                 # px: a row of photos, within the page at 1280 px with the sidebar open
UNSURE_BELOW = 0.6


# ---- data ---------------------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the scenes…")
def embedded_items():
    resolved = resolve("scenes")
    return load_folder(resolved.path, "the embedded scenes"), resolved.notice, resolved.source


@st.cache_resource(show_spinner="Loading CamVid…")
def camvid_items(path: str):
    return load_folder(path, "CamVid (tiny)")


@st.cache_resource(show_spinner="Reading your zip…", max_entries=4)
def zip_items(sha: str, name: str, _data: bytes | None = None):
    """A student's zip, parsed once per content; after a restart, read back from the run store."""
    data = _data if _data is not None else read_upload({"input": sha})
    return items_from_zip(data, name)


@st.cache_resource(show_spinner=False)
def model_sizes(backbone: str, n_classes: int) -> tuple[int, int]:
    model, _ = create_unet(backbone, n_classes, pretrained=False)     # only to count: no weights needed
    return count_parameters(model.encoder), count_parameters(model.decoder)


def own_zip():
    st.markdown("A **zip** laid out like CamVid: the photos in `images/`, for each photo a mask with the same name "
                "in `labels/` (`<name>_P.png`) or `masks/` (`<name>.png`), a greyscale or palette PNG the same size "
                "as its photo, each pixel holding its class's code; and `codes.txt`, the class names one a line "
                f"(line 0 is code 0). Up to {MAX_ITEMS} photos.")
    show_code("my_data.zip\n├── codes.txt          background\\ncat\\ndog\n├── images/cat_01.jpg\n"
              "└── labels/cat_01_P.png", language=None)
    upload = st.file_uploader("Your zip of photos, masks and codes.txt", type=["zip"], key="seg_zip")
    if upload is not None and ss.get("seg_zip_id") != upload.file_id:
        refused = ss.get("seg_zip_refused")
        try:
            if refused and refused[0] == upload.file_id:                    # said already: not read again
                raise StudentError(refused[1])
            data = upload.getvalue()
            check_upload(len(data))                                          # the class's limit, before reading
            zip_items(hashlib.sha256(data).hexdigest(), upload.name, data)      # checked, and kept parsed
            ref = store_upload(data, UPLOAD_KIND, upload.name)
        except StudentError as e:
            ss.seg_zip_refused = (upload.file_id, str(e))
            st.error(plain(e), icon=":material/folder_off:")      # it may quote a member's name
            if "seg_zip_ref" in ss:
                st.caption(f"Still using your previous zip, '{plain(ss.seg_zip_ref['name'])}'.")
        else:
            ss.seg_zip_ref, ss.seg_zip_id = ref, upload.file_id
    if "seg_zip_ref" not in ss:
        st.info("Upload a zip to train on your own photos, or pick the scenes above.", icon=":material/upload_file:")
        return None
    ref = ss.seg_zip_ref
    try:
        items = zip_items(ref["input"], ref["name"])
    except StudentError as e:
        st.error(plain(e))
        return None
    st.info(f"Using your zip '{plain(ref['name'])}': {len(items)} photos, {len(items.codes)} classes. It is kept on "
            "this server with the runs that train on it; delete your runs and uploads on the My runs page.",
            icon=":material/folder_zip:")
    return items, ref


def choose_data():
    """(items, the run's data reference, the source's key), or None with the reason shown."""
    source = st.radio("Which photos?", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="seg_source")
    try:
        if source == "scenes":
            items, notice, where = embedded_items()
            source_notice(notice, where)
            st.caption("Photo cut-outs from Tux Paint's stamps (GPL-2) pasted on textures from scikit-image; each "
                       "cut-out's transparency says exactly which pixels it covers. See datasets/scenes/ATTRIBUTION.")
            return items, {"dataset": "scenes"}, source
        if source == "camvid_tiny":
            with st.spinner("Looking for the CamVid download…"):
                resolved = resolve("camvid_tiny", prefer_online=True)
            source_notice(resolved.notice, resolved.source)
            return camvid_items(str(resolved.path)), {"dataset": "camvid_tiny", "source": "online"}, source
    except DatasetUnavailable as e:
        st.warning(f"{e} Meanwhile, use the embedded scenes.", icon=":material/cloud_off:")
        return None
    except StudentError as e:
        st.error(f"This data can't be used: {plain(e)}", icon=":material/error:")
        return None
    found = own_zip()
    return (found[0], found[1], source) if found else None


def settings_from_url_are_sane() -> None:
    """Values put in the widgets by a link (?width=…) or "Train again" that no widget offers fall back to the
    defaults, rather than breaking the page."""
    from core.models import BACKBONES
    fine = {"seg_width": lambda v: v in WIDTHS, "seg_valid_pct": lambda v: isinstance(v, float) and 0.1 <= v <= 0.5,
            "seg_seed": lambda v: isinstance(v, int) and 0 <= v <= 10_000, "seg_backbone": lambda v: v in BACKBONES,
            "seg_lr": lambda v: isinstance(v, float) and 1e-6 <= v <= 1,
            "seg_epochs": lambda v: isinstance(v, int) and 1 <= v <= 20}
    for key, ok in fine.items():
        if key in ss and not ok(ss[key]):
            del ss[key]


def pairs_grid(rows, width: int | None = None):
    """rows: [(image, caption), ...] per row, shown side by side; by default a row fills the page's width (ROW_WIDTH).
    One image element per row, not a column per image: a lesson page with dozens of photos draws faster."""
    for row in filter(None, rows):                 # a zip of three photos leaves the second row empty
        images, captions = zip(*row)
        pictures.show(images, captions, width=width or ROW_WIDTH // len(row) - 4)


def legend(codes, counts=None, where=st):
    where.html(f'<div style="line-height:1.9">{figures.legend_html(codes, counts)}</div>')


# ---- sections before training -------------------------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner=False)
def pixel_shares(data_key: str, train_idx: tuple, valid_idx: tuple, _items) -> dict:
    """Pixels of each class in the training and in the validation photos (cached per data and split: a visit of the
    page doesn't count them again)."""
    return {"training photos (darker)": pixel_counts(_items, train_idx),
            "validation photos (paler)": pixel_counts(_items, valid_idx)}


def section_data(items, data_ref: dict, source: str) -> tuple[int, list[int], list[int], int]:
    codes = items.codes
    st.markdown("Each photo comes with a **mask**: an image of the same size where every pixel holds a number, the "
                "**code** of its class. `codes.txt` says which number means what. The label of a photo is found "
                "from its file name (`label_func`), exactly as for CamVid in the course.")
    batch_size_code = CPU_BATCH_SIZE if training_device().type == "cpu" else "bs"    # bs: sized to the GPU share
    here = {"scenes": "datasets/scenes", "camvid_tiny": "CamVid", "own": "your zip"}[source]
    show_code(f"""path = untar_data(URLs.CAMVID_TINY)      # here: {here}
dls = SegmentationDataLoaders.from_label_func(
    path, bs={batch_size_code}, fnames=get_image_files(path/"images"),
    label_func=lambda o: path/'labels'/f'{{o.stem}}_P.png',
    codes=np.loadtxt(path/'codes.txt', dtype=str))""")
    st.markdown(f"**{len(items)} photos, {len(codes)} codes.** Colours used everywhere on this page:")
    legend(codes)
    c1, c2, c3 = st.columns(3)
    ss.setdefault("seg_valid_pct", DEFAULTS["valid_pct"])
    ss.setdefault("seg_seed", DEFAULTS["seed"])
    ss.setdefault("seg_width", DEFAULTS["width"])
    valid_pct = c1.slider("valid_pct", 0.1, 0.5, step=0.05, key="seg_valid_pct",
                          help="The share of photos kept aside to check the model on photos it never trained on.")
    seed = int(c2.number_input("seed", 0, 10_000, key="seg_seed",
                               help="The split, the decoder's first weights and the order of the batches: the same "
                                    "seed and settings give the same run."))
    widths = limits.image_sizes("seg_width", WIDTHS)
    width = c3.radio("Resize to (pixels wide)", widths, key="seg_width", horizontal=True,
                     help="Smaller trains faster; larger shows finer detail.")
    limits.sizes_note("seg_width", WIDTHS, widths, where=c3)
    shape = shape_for(items, width)
    train_idx, valid_idx = random_split(items.groups, valid_pct, seed)

    st.subheader("show_batch")
    show_code("dls.show_batch(max_n=6)")
    st.caption("Photos with their masks drawn over them: each class tinted its colour, the background dimmed.")
    if st.button("Other photos", icon=":material/shuffle:", key="seg_reshuffle"):
        ss.seg_shuffle = ss.get("seg_shuffle", 0) + 1
    rng = np.random.default_rng(ss.get("seg_shuffle", 0))
    picked = rng.choice(train_idx, size=min(6, len(train_idx)), replace=False) if train_idx else []
    shown = []
    for i in picked:
        img, mask = resize_pair(items.images[i], items.masks[i], shape)
        shown.append((figures.overlay(np.asarray(img), mask, codes), plain(items.names[i])))
    pairs_grid([shown[:3], shown[3:]])
    if len(picked):
        i = int(picked[0])
        st.caption(f"What the model must learn for {plain(items.names[i])}: the photo, and its mask (the codes as "
                   "colours).")
        img, mask = resize_pair(items.images[i], items.masks[i], shape)
        pairs_grid([[(np.asarray(img), "photo"), (figures.colour_mask(mask, codes), "mask: one code per pixel")]],
                   width=260)
    st.markdown("**How many pixels of each class?** The background takes most of every photo: a model that always "
                "said *background* would already get most pixels right. That's why we also measure each class on "
                "its own (IoU, below).")
    data_key = json.dumps(data_ref, sort_keys=True, default=str)
    shares = pixel_shares(data_key, tuple(train_idx), tuple(valid_idx), items)
    pictures.drawing(figures.pixel_share_bars(shares, codes))
    note = f"{len(train_idx)} photos for training, {len(valid_idx)} for validation"
    if source == "scenes":
        note += (". The split is by stamp: every scene is made from one of ten sets of cut-outs, and the splitter "
                 "keeps whole sets on one side, so the animals, plants and vehicles of the validation scenes are "
                 "ones the model never saw")
    st.caption(note + ".")
    return width, train_idx, valid_idx, seed


def section_model(items, width: int) -> str:
    st.markdown(
        "The **encoder** is a classifier pretrained on ImageNet, without its last layer. As the photo goes through "
        "it, the feature maps get smaller (1/2, 1/4 … 1/32 of the photo) and say more about *what* is there, less "
        "about *where*. The **decoder** is new: step by step it enlarges them again, joining at each step the "
        "encoder's map of the same size (the *skip connections*, the U's horizontal bars), which still knows where "
        "the edges are. At the end each pixel gets one score per class. Like in *Is it a bird?*, `fine_tune` trains "
        "the new decoder first with the encoder **frozen**, then everything.")
    ss.setdefault("seg_backbone", DEFAULTS["backbone"])
    backbone = backbone_picker("Pretrained encoder", key="seg_backbone", show_size=False)
    codes = items.codes
    st.caption("The fastai call for these weights:")
    show_code(fastai_code(backbone, len(codes)))
    st.caption(DIFFERS_FROM_FASTAI)
    n_encoder, n_decoder = model_sizes(backbone, len(codes))
    shape = shape_for(items, width)
    st.markdown(f"Encoder: **{n_encoder:,}** pretrained parameters · decoder: **{n_decoder:,}** new ones · "
                f"output: {len(codes)} scores for each of the {shape[0]}×{shape[1]} pixels.")
    return backbone


def section_lr_find(data_ref: dict, config: dict) -> None:
    st.markdown("As before: a few batches with a growing learning rate, the encoder frozen; pick a rate where the "
                "loss still falls fast.")
    found = ui_runs.lr_find_section(LESSON, data_ref, config, key="seg", lr_key="seg_lr",
                                    title="lr_find on the U-Net")
    suggestion = found.get("valley") if found else None
    ss.setdefault("seg_lr", DEFAULTS["lr"])
    choices = sorted(set(LR_CHOICES + [ss.seg_lr] + ([float(f"{suggestion:.1e}")] if suggestion else [])))
    st.select_slider("Learning rate for fine_tune", choices, format_func=lr_text, key="seg_lr")


def section_train(items, data_ref: dict, config: dict) -> None:
    st.markdown("`fine_tune` trains the decoder with the encoder frozen for one epoch, then all layers. The loss is "
                "the **cross-entropy of every pixel**, averaged; `pixel_accuracy` is the share of validation pixels "
                "labelled right, `mean_iou` the average over classes of how well predicted and true regions "
                "overlap.")
    ss.setdefault("seg_epochs", DEFAULTS["epochs"])
    most = limits.most_epochs("seg_epochs", 20, DEFAULTS["freeze_epochs"])
    epochs = st.number_input("Epochs after unfreezing", 1, most, key="seg_epochs",
                             help="The course runs fine_tune(8) on a GPU; the default here finishes in about a "
                                  "minute on a laptop CPU.")
    limits.epochs_note("seg_epochs", 20, most, DEFAULTS["freeze_epochs"])
    lr = ss.seg_lr
    show_code(f"learn.fine_tune({epochs}, base_lr={lr:g})")
    label = f"Train: fine_tune({epochs}, base_lr={lr:g})"
    ui_runs.train_button(LESSON, data_ref, dict(config, lr=lr, epochs=int(epochs)), label, key="seg_train",
                         title=f"U-Net on {config['backbone']}, {len(items)} photos, fine_tune({epochs}), "
                               f"seed {config['seed']}")
    run_id = ui_runs.current(LESSON, "fit", data_ref)
    if run_id:
        ui_runs.live(run_id)


# ---- sections after training --------------------------------------------------------------------------------------
def section_inside(run) -> None:
    st.markdown("How far did each layer's weights move from where they started, and how big were their gradients? "
                "During the **frozen** epoch the encoder's weights stay exactly where ImageNet left them and only "
                "the new decoder learns. After **unfreezing** the encoder moves too, its early stages least: edges "
                "and textures are useful for any photo. (The weights counted are the layers' kernels and matrices: "
                "BatchNorm's scale and shift keep training in a frozen encoder, as in fastai, and are left out.)")
    stats = run.weight_stats
    if not stats:
        st.caption("No per-layer statistics were recorded for this run.")
        return
    show_chart(figures.inside_figure(stats), narrow=partial(figures.inside_figure, stats, narrow=True),
               key="seg_inside")
    st.caption("Rows: the encoder's stages from the input down, then the decoder's steps back up to the head. While "
               "the encoder is frozen its weights get no gradient; once it is unfrozen every layer gets one, and "
               "the encoder's weights start to move.")


def section_results(run, found) -> None:
    res, codes = run.results, run.codes
    ui_runs.stopped_early(res)
    m1, m2, m3 = st.columns(3)
    m1.metric("pixel accuracy (validation)", f"{res['pixel_accuracy']:.1%}",
              help="Share of all validation pixels given the right class.")
    m2.metric("mean IoU", f"{res['mean_iou']:.2f}", help="Average over classes of overlap ÷ union; 1 is perfect.")
    m3.metric("training time", f"{res['seconds']:.0f} s")
    job_notices(found)
    st.subheader("show_results")
    show_code("learn.show_results(max_n=6)")
    st.caption("The true mask, what the model painted, and how sure it was of each pixel, for validation photos it "
               "never trained on.")
    legend(codes)
    st.html(figures.confidence_scale_html(len(codes)))
    rows = []
    for k in range(min(6, len(run.targets))):
        right = per_image_accuracy(run.predicted[k:k + 1], run.targets[k:k + 1])[0]
        rows.append([(figures.overlay(run.x_valid[k], run.targets[k], codes), f"truth · {plain(res['names'][k])}"),
                     (figures.overlay(run.x_valid[k], run.predicted[k], codes), f"prediction · {right:.0%} right"),
                     (figures.confidence_image(run.confidence[k], len(codes)),
                      f"confidence · {run.confidence[k].mean():.0%} on average")])
    pairs_grid(rows)
    st.caption("What to expect from the default settings: the outlines come out well after a minute on a CPU, but "
               "the class of a cut-out it never saw is often wrong (a crow painted as a vehicle): 160 training "
               "photos and small images are not much to learn *which* thing it is. More epochs and bigger images "
               + ("help; on a GPU try 320 pixels wide and 10 epochs." if limits.allows(
                   image_size=320, epochs=10 + DEFAULTS["freeze_epochs"]) else "help, as far as your class allows."))

    st.subheader("Top losses: the photos it got most wrong")
    show_code("interp = SegmentationInterpretation.from_learner(learn)\ninterp.plot_top_losses(3)")
    st.caption("For each: the truth, the prediction, and the wrong pixels in red.")
    for k in top_losses(run.losses, 3):
        wrong = 1 - per_image_accuracy(run.predicted[k:k + 1], run.targets[k:k + 1])[0]
        pairs_grid([[(figures.overlay(run.x_valid[k], run.targets[k], codes), f"truth · {plain(res['names'][k])}"),
                     (figures.overlay(run.x_valid[k], run.predicted[k], codes), f"prediction · loss {run.losses[k]:.2f}"),
                     (figures.mistakes(run.x_valid[k], run.targets[k], run.predicted[k]), f"wrong pixels: {wrong:.0%}")]])


def section_confidence(run) -> None:
    codes = run.codes
    st.markdown("For every pixel the model gives each class a probability (the softmax of its scores); the class "
                "it paints is the most probable one, and that probability is its **confidence**. Where is it "
                "unsure? Mostly along the edges of objects, and on objects it has never seen: exactly where it makes "
                "its mistakes.")
    threshold = st.slider("Call a pixel unsure below this confidence", 0.3, 0.95, UNSURE_BELOW, 0.05,
                          key="seg_unsure", format="%.2f")
    correct = run.predicted == run.targets
    unsure = run.confidence < threshold
    share = unsure.mean()
    right_sure = correct[~unsure].mean() if (~unsure).any() else float("nan")
    right_unsure = correct[unsure].mean() if unsure.any() else float("nan")
    c1, c2, c3 = st.columns(3)
    c1.metric("unsure pixels", f"{share:.1%}")
    c2.metric("right where it is sure", f"{right_sure:.1%}" if np.isfinite(right_sure) else "–")
    c3.metric("right where it is unsure", f"{right_unsure:.1%}" if np.isfinite(right_unsure) else "–")
    order = np.argsort(-unsure.reshape(len(unsure), -1).mean(axis=1), kind="stable")[:3]
    st.caption("The validation photos with the most unsure pixels: the prediction, the confidence map, the unsure "
               "pixels (magenta) and the wrong ones (red).")
    for k in order:
        pairs_grid([[(figures.overlay(run.x_valid[k], run.predicted[k], codes), f"prediction · {plain(run.results['names'][k])}"),
                     (figures.confidence_image(run.confidence[k], len(codes)), "confidence"),
                     (figures.unsure_pixels(run.x_valid[k], run.confidence[k], threshold),
                      f"unsure: {unsure[k].mean():.0%} of the pixels"),
                     (figures.mistakes(run.x_valid[k], run.targets[k], run.predicted[k]),
                      f"wrong: {1 - correct[k].mean():.0%}")]])
    st.markdown("**Can we trust its confidence?** For each band of confidence, how often the model was right there. "
                "A model that is right 90% of the time when it says 90% is *well calibrated*. The number above "
                "each bar is the share of all the validation pixels in that band.")
    show_chart(figures.reliability_bars(run.reliability), key="seg_reliability")


def section_iou(run) -> None:
    codes, iou, cm = run.codes, run.iou, run.confusion
    st.markdown("**IoU** (intersection over union): for one class, the pixels both the truth and the prediction "
                "give it, divided by the pixels either gives it. Background is easy; the small classes tell you "
                "whether the model really learnt to tell an animal from a plant. **Click a bar** to see the "
                "validation photos where that class is worst.")
    event = show_chart(figures.iou_bars(iou, codes), key="seg_iou", on_select="rerun", selection_mode="points")
    table = pd.DataFrame({"class": codes, "IoU": iou, "pixel accuracy": np.diag(cm) / np.maximum(cm.sum(1), 1),
                          "pixels (validation)": cm.sum(1)})
    table = table[table["pixels (validation)"] > 0]
    formats = {"IoU": "{:.2f}", "pixel accuracy": "{:.1%}", "pixels (validation)": "{:,}"}
    show_table(spreadsheet_safe(table), index=False, formats=formats)
    clicked = clicked_class(event, codes)
    present = [i for i in range(len(codes)) if not np.isnan(iou[i])]
    choice = st.selectbox("…or pick a class", present, index=present.index(clicked) if clicked in present else None,
                          format_func=lambda i: f"{codes[i]} (IoU {iou[i]:.2f})", key=f"seg_class_{clicked}",
                          placeholder="choose a class")
    if choice is None:
        return
    worst = worst_images(run.image_iou, choice, 6)
    if not len(worst):
        st.info("No validation photo has this class, and the model never predicted it.")
        return
    st.caption(f"The validation photos where **{plain(codes[choice])}** is worst, lowest IoU first: the truth, then "
               "the prediction.")
    rows = [[(figures.overlay(run.x_valid[k], run.targets[k], codes), f"truth · {plain(run.results['names'][k])}"),
             (figures.overlay(run.x_valid[k], run.predicted[k], codes),
              f"prediction · IoU of {plain(codes[choice])}: {run.image_iou[k, choice]:.2f}")] for k in worst]
    pairs_grid([rows[j] + rows[j + 1] if j + 1 < len(rows) else rows[j] for j in range(0, len(rows), 2)])


def clicked_class(event, codes) -> int | None:
    """The class whose bar was clicked (its code is the bar's customdata), or None."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if not points:
        return None
    custom = points[0].get("customdata")
    if isinstance(custom, list) and custom:
        custom = custom[0]
    if isinstance(custom, int) and 0 <= custom < len(codes):
        return custom
    labels = [figures.label(c) for c in codes]
    return labels.index(points[0]["x"]) if points[0].get("x") in labels else None


@st.cache_data(max_entries=64, show_spinner=False)
def probabilities_of(model_key: str, photo_key: str, _segmenter, _photo) -> np.ndarray:
    """Per class, per pixel (cached per model and photo: a visit of the page doesn't run the model again)."""
    return _segmenter.predict_proba(_photo)


def section_use(run, model_key: str) -> None:
    st.markdown("Give it a photo of your own, or pick a validation photo, and see which pixels it gives which class, "
                "and how sure it is of each.")
    segmenter = run.segmenter
    loaded = ss.get("seg_loaded")
    if loaded is not None:
        which = st.radio("Which model?", ["the one trained above", "the one you loaded back"], horizontal=True,
                         key="seg_which_model")
        if which == "the one you loaded back":
            segmenter, model_key = loaded, ss.seg_loaded_id            # ui/export names each model loaded
    # Above the columns, as the bird lesson's: in the photo's third of the page its choices wrapped.
    photo, photo_key = pick_photo("seg", "Which photo?", run.results["names"],
                                  lambda i: Image.fromarray(run.x_valid[i]), check_image)
    if photo is None:
        return
    left, right = st.columns([1, 2])
    if photo_key.startswith("valid:") and segmenter is run.segmenter:                     # kept with the run
        probs = run.probabilities(int(photo_key.removeprefix("valid:")))
    else:
        probs = probabilities_of(model_key, photo_key, segmenter, photo)
    found_codes, confidence = probs.argmax(0).astype(np.uint8), probs.max(0)
    shown = np.asarray(photo.convert("RGB").resize((found_codes.shape[1], found_codes.shape[0])))
    codes = segmenter.codes
    pictures.show([shown], ["the photo"], where=left)
    a, b = right.columns(2)
    pictures.show([figures.overlay(shown, found_codes, codes)], ["the model's classes over the photo"], where=a)
    pictures.show([figures.confidence_image(confidence, len(codes))], ["its confidence, pixel by pixel"], where=b)
    right.html(figures.confidence_scale_html(len(codes)))
    legend(codes, np.bincount(found_codes.ravel(), minlength=len(codes)), where=right)
    c, d = right.columns(2)
    threshold = ss.get("seg_unsure", UNSURE_BELOW)                # the slider of "How sure is it?"
    pictures.show([figures.unsure_pixels(shown, confidence, threshold)],
                  [f"unsure pixels (below {threshold:.0%}): {(confidence < threshold).mean():.0%}"], where=c)
    which_class = d.selectbox("Probability of one class", range(len(codes)), format_func=lambda i: codes[i],
                              index=min(1, len(codes) - 1), key="seg_prob_class")
    pictures.show([figures.probability_image(probs[which_class], figures.class_colours(codes)[which_class])],
                  [f"probability of {plain(codes[which_class])}: black 0, bright 1"], where=d)
    show_code("pred_mask, _, probs = learn.predict(PILImage.create('photo.jpg'))\n"
              f"probs.shape   # {tuple(probs.shape)}: a probability per class for every pixel", where=right)


def section_export(run, run_id: str) -> None:
    st.markdown("Two files: the weights as **safetensors** (just numbers: loading them can't run anyone's code, "
                "unlike a pickle) and a small **JSON** with the codes, the encoder's name and the size the model "
                "expects. Loading checks the JSON and the weights' shapes before building anything.")
    segmenter = run.segmenter
    export_and_load_back(segmenter.model, segmenter.export_meta(), "seg", file_stem("segmentation", run_id),
                         load=load_back,
                         describe=describe_model)


def load_back(weights: bytes, meta: bytes):
    """The two uploaded files, checked before anything is built (core/segmentation/saved.py)."""
    loaded = segmenter_from_files(weights, meta)
    return loaded, loaded.export_meta()


def describe_model(_segmenter, meta: dict) -> str:
    codes = ", ".join(plain(c) for c in meta["codes"][:12]) + (" …" if len(meta["codes"]) > 12 else "")
    return f"Loaded a U-Net on {plain(meta['backbone'])} for {codes}."


# ---- page ---------------------------------------------------------------------------------------------------------
st.title("Colour every pixel: segmentation")
st.markdown(
    "Lesson 1 doesn't stop at saying *what* is in a photo. With **segmentation** the model says, for every single "
    "pixel, which class it belongs to: this pixel is animal, that one background. The model is a **U-Net**: the same "
    "kind of pretrained classifier as in *Is it a bird?*, with a second half that paints its answer back onto "
    "the photo, pixel by pixel.")
ui_runs.apply_settings(WIDGETS, LESSON)
settings_from_url_are_sane()
picked = choose_data()
if picked is not None:
    items, data_ref, source = picked
    with numbered("The data: photos and their masks"):
        width, train_idx, valid_idx, seed = section_data(items, data_ref, source)
    with numbered("The model: a U-Net on a pretrained encoder"):
        backbone = section_model(items, width)
    config = dict(DEFAULTS, width=width, valid_pct=ss.seg_valid_pct, seed=seed, backbone=backbone)
    with numbered("lr_find: how big should the steps be?"):
        section_lr_find(data_ref, config)
    with numbered("fine_tune: train it"):
        st.fragment(section_train)(items, data_ref, config)   # a setting reruns this section only
view, run = ui_runs.shown(LESSON, data_ref if picked is not None else None)
if run is not None:
    with numbered("What changed inside"):
        if picked is None:                          # a shared link opened before any data was chosen
            ui_runs.live(view.id)
        section_inside(run)
    with numbered("Results: truth vs prediction"):
        ui_runs.run_details(view, WIDGETS)
        st.caption(f"Trained on {plain(run.results.get('description', ''))}: {run.results['n_train']} photos, "
                   f"checked on {run.results['n_valid']}.")
        section_results(run, view)
    with numbered("How sure is it? Confidence per pixel"):
        section_confidence(run)
    with numbered("Each class on its own: IoU"):
        section_iou(run)
    with numbered("Use it"):
        section_use(run, f"run:{view.id}")
    with numbered("Export it and load it back"):
        section_export(run, view.id)
elif picked is not None or view is not None:
    if picked is None:                              # a link to a run still training, opened before any data
        ui_runs.live(view.id)
    later("What changed inside", "Results: truth vs prediction", "How sure is it? Confidence per pixel",
          "Each class on its own: IoU", "Use it", "Export it and load it back", why=ui_runs.not_yet(view))
