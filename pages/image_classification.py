"""Lesson 1's headline: "Is it a bird?" -- fine-tune a pretrained CNN on real photos, live, and see why it works.

A thin view: photos, training and interpretation live in core/vision; lr_find and training run as jobs of the
training service (ui/runs.py), and everything after training is drawn from the run store, so a link to a run shows
the same results to anyone, after a restart too.
"""
import contextlib
import json
import time
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from core.bars import probabilities
from core.device import training_device
from core.tables import spreadsheet_safe
from core.errors import StudentError
from core.images import check_image
from core.models import BACKBONES, DEFAULT_BACKBONE, WeightsInfo
from core.vision import figures, web
from core.vision.data import (BadUpload, bundle_classes, check_class_names, class_counts, image_from_bytes, load_zip,
                              problems, random_split)
from core.vision.inside import lit_maps, look_inside, overlay
from core.vision.interpret import cell_items, confusion_matrix, most_confused, results_sample, top_losses
from core.vision.jobs import read_items
from core.vision.train import CPU_BATCH_SIZE, DEFAULTS, RECIPES, classifier_from_files
from core.vision.transforms import RESIZE_METHODS, BatchTransform, denormalize, resize, to_uint8_tensor
from core.schedules import lr_text
from ui import images as pictures, limits
from ui import runs as ui_runs
from ui.backbones import backbone_picker
from ui.charts import show_chart
from ui.code import show_code
from ui.export import export_and_load_back, file_stem
from ui.frame import require_frame
from ui.matrix import show_confusion
from ui.notices import job_notices, source_notice, weights_notice
from ui.photos import PHOTO_TYPES, pick_photo
from ui.sections import later, numbered
from ui.tables import show_table
from ui.text import chance, plain, widget_label
from ui.uploads import read_upload, store_upload

require_frame()

ss = st.session_state
LESSON = "image_classification"
WIDGETS = {"size": "ic_size", "method": "ic_method", "valid_pct": "ic_valid_pct", "seed": "ic_seed",
           "backbone": "ic_backbone", "lr": "ic_lr", "epochs": "ic_epochs", "recipe": "ic_recipe",
           "pretrained": "ic_pretrained"}
SIZES = [64, 96, 128, 160, 192, 224]
LR_CHOICES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2]
SOURCES = {"birds": "Is it a bird? (embedded photos, works offline)",
           "pets": "Oxford-IIIT Pets (downloaded from fast.ai)",
           "own": "Your own photos"}
LABELS = {"birds": {"is_bird": "bird or not bird (2 classes)",
                    "kind": "what kind of thing: birds, animals, food, plants, vehicles, things"},
          "pets": {"is_cat": "cat or dog (the course's is_cat)", "breed": "which of 37 breeds"}}


def image_grid(images, captions, cols: int = 6, width: int = 130):
    """Photos in rows of `cols`, one image element per row rather than a column per photo (the page has dozens of
    photos: a lesson switch draws faster). A row of 6 at 130 px fits a 1280 px screen with the sidebar open."""
    for start in range(0, len(images), cols):
        pictures.show(images[start:start + cols], captions[start:start + cols], width=width)


@st.cache_resource(max_entries=2048, show_spinner=False)
def seen_photo(run_id: str, i: int, method: str, _images):
    """A run's validation photo as the model saw it (its Resize: a squished, cropped or padded square), at a
    thumbnail's size, made once per server: photos in their own shapes made rows of uneven heights."""
    return resize(_images[i], 130, method)


def show_rejected(rejected: list[dict]):
    if rejected:
        st.warning(f"{len(rejected)} file(s) were left out; everything else is used.", icon=":material/block:")
        show_table(spreadsheet_safe(pd.DataFrame(rejected, columns=["file", "reason"])), index=False)


# ---- the photos ------------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the photos…", max_entries=4)
def dataset_items(data_key: str, _data: dict):
    return read_items(_data, None)


@st.cache_resource(show_spinner="Reading your photos…", max_entries=16)
def stored_items(sha: str, _ref: dict):
    return load_zip(read_upload(_ref))


def adopt_linked_data() -> None:
    """The first time a session opens a run's link, the photo choices follow the run's data."""
    wanted = st.query_params.get(ui_runs.RUN_PARAM)
    if not wanted or ss.get("_ic_adopted") == wanted:
        return
    ss["_ic_adopted"] = wanted
    found = ui_runs.link_opened(LESSON)
    data = found.record.data if found is not None else {}
    if data.get("dataset") == "birds" and data.get("label") in LABELS["birds"]:
        ss.ic_source, ss.ic_label = "birds", data["label"]
    elif data.get("dataset") == "pets" and data.get("label") in LABELS["pets"]:
        ss.ic_source, ss.ic_pets_label = "pets", data["label"]
    elif data.get("kind") == "image_zip":
        ss.ic_source, ss.ic_own = "own", dict(data)


def keep_checked_settings() -> None:
    """Settings from a link or an old run fill the widgets only when they are values the widgets offer."""
    def whole(low, high):
        return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

    checks = {"ic_size": lambda v: v in SIZES and not isinstance(v, bool), "ic_method": lambda v: v in RESIZE_METHODS,
              "ic_valid_pct": lambda v: isinstance(v, float) and 0.1 <= v <= 0.5,
              "ic_seed": whole(0, 10_000), "ic_epochs": whole(1, 10),
              "ic_backbone": lambda v: v in BACKBONES, "ic_recipe": lambda v: v in RECIPES,
              "ic_lr": lambda v: isinstance(v, float) and 1e-6 <= v <= 1,
              "ic_pretrained": lambda v: isinstance(v, bool)}
    if isinstance(ss.get("ic_valid_pct"), int) and not isinstance(ss.get("ic_valid_pct"), bool):
        ss.ic_valid_pct = float(ss.ic_valid_pct)
    if isinstance(ss.get("ic_lr"), int) and not isinstance(ss.get("ic_lr"), bool):
        ss.ic_lr = float(ss.ic_lr)
    ignored = [widget for widget, ok in checks.items() if widget in ss and not ok(ss[widget])]
    for widget in ignored:
        del ss[widget]
    if ignored:
        names = [k for k, w in WIDGETS.items() if w in ignored]
        st.warning(f"Some settings in the link were not values this page offers and are left at their defaults: "
                   f"{', '.join(names)}.", icon=":material/link_off:")


def choose_photos():
    """The photos the student picked, said out loud: (items, the run's data reference), or None."""
    source = st.radio("Which photos?", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="ic_source")
    if source == "birds":
        label = st.radio("What should the model say?", list(LABELS["birds"]), horizontal=True, key="ic_label",
                         format_func=LABELS["birds"].get)
        data = {"dataset": "birds", "label": label}
        items = dataset_items(f"birds:{label}", data)
        from core.datasets import resolve
        found = resolve("birds")
        source_notice(found.notice, found.source)
        st.caption("Real photo cut-outs from Tux Paint's stamps (GPL-2), pasted on photos and textures from "
                   "scikit-image; see datasets/birds/ATTRIBUTION.")
        return items, data
    if source == "pets":
        return choose_pets()
    return choose_own()


def choose_pets():
    from ui.notices import resolved_once
    label = st.radio("What should the model say?", list(LABELS["pets"]), horizontal=True, key="ic_pets_label",
                     format_func=LABELS["pets"].get)
    found = resolved_once("pets", True, key="ic_pets_resolved")
    if found is None:
        st.info("Meanwhile, use the embedded 'Is it a bird?' photos or your own.", icon=":material/cloud_off:")
        return None
    limit = 2000 if training_device().type == "cpu" else 0
    data = {"dataset": "pets", "source": "online", "label": label, "limit": limit}
    items = dataset_items(f"pets:{label}:{limit}", data)
    if limit:
        st.caption(f"On a CPU the lesson uses {len(items)} of the photos, picked at random, so training stays "
                   "short; a GPU server uses all of them.")
    return items, data


def keep_photos(zipped: bytes, name: str) -> bool:
    """Check a zip of photos, keep it in the run store, and make it this session's photos. False (said) if not."""
    try:
        items = load_zip(zipped)
        trouble = problems(items)
        if trouble:
            raise BadUpload(" ".join(trouble))
        ref = store_upload(zipped, "image_zip", name)
    except StudentError as e:
        st.error(plain(e), icon=":material/folder_off:")      # it may quote a member's name
        if ss.get("ic_own"):
            st.caption(f"Still using your previous photos, {plain(ss.ic_own.get('name', ''))}.")
        return False
    ss.ic_own = ref
    return True


def choose_own():
    st.markdown("Bring your own classes: a **zip** with one folder per class (`bird/…jpg`, `forest/…jpg`), photos "
                "uploaded or taken with your camera class by class, or photos found by a web search, as the "
                "course's notebook does. Every file is checked; files that aren't usable images are listed with "
                "the reason and left out.")
    zip_tab, class_tab, web_tab = st.tabs(["A zip, one folder per class", "Class by class: upload or camera",
                                           "Search the web"])
    with zip_tab:
        upload = st.file_uploader("Zip file", type=["zip"], key="ic_zip")
        if upload is not None and ss.get("ic_zip_seen") != upload.file_id:
            ss.ic_zip_seen = upload.file_id
            keep_photos(upload.getvalue(), upload.name)
    with class_tab:
        photos_class_by_class()
    with web_tab:
        photos_from_the_web()
    ref = ss.get("ic_own")
    if not ref:
        st.info("Give the lesson some photos (at least two classes, two photos each) to go on.",
                icon=":material/upload:")
        return None
    try:
        items = stored_items(ref["input"], ref)
    except StudentError as e:
        st.error(plain(e), icon=":material/error:")
        return None
    st.info(f"Using {plain(items.description)} ({plain(ref.get('name', ''))}): {len(items)} images in "
            f"{len(items.vocab)} classes.", icon=":material/upload:")
    show_rejected([dict(file=r.name, reason=r.reason) for r in items.rejected])
    st.caption("Your photos are kept on this server with the runs that train on them (so a worker can read them "
               "and a run can be repeated or shared by its link).")
    return items, ref


def class_names() -> list[str]:
    n = int(st.number_input("How many classes?", 2, 6, 2, key="ic_n_classes"))
    cols = st.columns(n)
    return [col.text_input(f"Class {i + 1} name", value=["bird", "forest", "cat", "dog", "car", "tree"][i],
                           key=f"ic_class_name_{i}").strip() for i, col in enumerate(cols)]


def photos_class_by_class():
    """Upload photos for each class, or take them with the camera, Teachable Machine's way."""
    names = class_names()
    shots = ss.setdefault("ic_shots", {})                       # class index -> [(name, bytes)]
    files_by_class: dict[str, list] = {}
    for i, (name, col) in enumerate(zip(names, st.columns(len(names)))):
        files = col.file_uploader(f"Photos of “{widget_label(name)}”", accept_multiple_files=True, type=PHOTO_TYPES,
                                  key=f"ic_class_files_{i}")
        taken = shots.get(i, [])
        col.caption(f"{len(files or [])} uploaded · {len(taken)} from the camera")
        if name:
            files_by_class.setdefault(name, []).extend([(f.name, f.getvalue()) for f in files or []] + taken)
    if st.toggle("Take photos with the camera", key="ic_collect_camera"):
        shot = st.camera_input("Point the camera at an example, take the photo, then add it to its class",
                               key="ic_collect_shot")
        which = st.radio("This photo shows", range(len(names)), horizontal=True, key="ic_collect_class",
                         format_func=lambda i: plain(names[i] or f"class {i + 1}"))
        if shot is not None and st.button("Add this photo", key="ic_collect_add", icon=":material/add_a_photo:"):
            img, reason = check_image(shot.getvalue(), "camera photo")
            if img is None:
                st.error(f"That photo can't be used: {reason}.")
            else:
                shots.setdefault(which, []).append((f"camera_{len(shots.get(which, [])) + 1}.jpg", shot.getvalue()))
                st.rerun()
    if st.button("Use these photos", disabled=not files_by_class, key="ic_use_uploads", icon=":material/check:"):
        try:
            if len(set(names)) != len(names):
                raise BadUpload("Two classes have the same name: give each class its own name.")
            check_class_names(list(files_by_class))
            zipped = bundle_classes(files_by_class)
        except StudentError as e:
            st.error(plain(e), icon=":material/error:")
        else:
            keep_photos(zipped, f"{len(files_by_class)} classes.zip")


def photos_from_the_web():
    """The course's search_images + download_images + verify_images, for each class name."""
    why_not = web.unavailable()
    if why_not:
        st.info(why_not, icon=":material/cloud_off:")
        return
    names = [ss.get(f"ic_class_name_{i}", "") for i in range(int(ss.get("ic_n_classes", 2)))]
    st.caption("The class names are the ones in the tab before; each class is searched for as “<name> photo”.")
    per_class = st.slider("Photos per class", 10, 60, web.PER_CLASS, 10, key="ic_web_n")
    show_code("for o in ['bird', 'forest']:\n"
              f"    download_images(path/o, urls=search_images(f'{{o}} photo', max_images={per_class}))\n"
              "failed = verify_images(get_image_files(path))\nfailed.map(Path.unlink)")
    if st.button("Search and download", key="ic_web_go", icon=":material/travel_explore:",
                 disabled=not all(names)):
        bar = st.progress(0.0, text="Searching…")
        terms = {name: f"{name} photo" for name in names}

        def tick(label, done, total):
            bar.progress(done / max(1, total), text=f"{plain(label)}: {done} of {total} downloaded and checked")

        try:
            check_class_names(names)
            found, left_out = web.photos_of(terms, per_class, progress=tick)
            bar.empty()
            show_rejected([dict(file=r.name, reason=r.reason) for r in left_out])
            keep_photos(bundle_classes(found), "web photos.zip")
        except StudentError as e:
            bar.empty()
            st.error(plain(e), icon=":material/error:")


# ---- before training -----------------------------------------------------------------------------------------
def section_datablock(items, data: dict) -> dict:
    st.markdown(
        "A `DataBlock` is five answers: what goes in and what comes out (**blocks**), where the items are "
        "(**get_items**), how to put some aside to check the model on photos it never trained on (**splitter**), "
        "where the label comes from (**get_y**), and how to make every photo the same size (**item_tfms**).")
    c1, c2, c3, c4 = st.columns(4)
    valid_pct = c1.slider("valid_pct", 0.1, 0.5, DEFAULTS["valid_pct"], 0.05, key="ic_valid_pct",
                          help="The share of photos kept aside for validation.")
    seed = int(c2.number_input("seed", 0, 10_000, DEFAULTS["seed"], key="ic_seed",
                               help="Same seed, same split and same first weights of the new head: results you can "
                                    "compare."))
    sizes = limits.image_sizes("ic_size", SIZES)
    size = c3.radio("Resize to (pixels)", sizes, index=sizes.index(min(DEFAULTS["size"], sizes[-1])), key="ic_size",
                    horizontal=True, help="Smaller trains faster; larger shows more detail.")
    limits.sizes_note("ic_size", SIZES, sizes, where=c3)
    method = c4.radio("Resize method", RESIZE_METHODS, index=RESIZE_METHODS.index(DEFAULTS["method"]),
                      key="ic_method", horizontal=True)
    grouped = data.get("dataset") == "birds"
    get_y = {"is_bird": "is_bird", "kind": "kind_of_thing", "is_cat": "is_cat", "breed": "breed"}.get(
        data.get("label"), "parent_label")
    splitter = (f"group_splitter(valid_pct={valid_pct:g}, seed={seed}, group=stamp),  # RandomSplitter over "
                "cut-outs, not photos" if grouped else f"RandomSplitter(valid_pct={valid_pct:g}, seed={seed}),")
    loader = (f"dataloaders(path, bs={CPU_BATCH_SIZE})" if training_device().type == "cpu" else
              "dataloaders(path, bs=bs)  # bs: the largest batch that fits this job's share of the GPU")
    show_code(f"""dls = DataBlock(
    blocks=(ImageBlock, CategoryBlock),
    get_items=get_image_files,
    splitter={splitter}
    get_y={get_y},
    item_tfms=[Resize({size}, method='{method}')],
    # a random crop and a flip only, not aug_transforms() (no rotation, zoom, warp, lighting)
    batch_tfms=[RandomResizedCropGPU({size}, min_scale={DEFAULTS['min_scale']}), Flip()],
).{loader}""")
    if grouped:
        st.caption("`group_splitter` is this app's: several photos come from the same cut-out (on other "
                   "backgrounds), so whole cut-outs go to one side. fastai's `RandomSplitter` picks single photos, "
                   "and the validation set would hold near-copies of training photos.")
    st.markdown(f"**{method}** — " + {
        "squish": "stretch the whole photo into a square: nothing is lost, shapes get a little distorted.",
        "crop": "cut the middle square out: no distortion, but the edges of the photo are lost.",
        "pad": "fit the whole photo in, with black bars: nothing lost, nothing distorted, some pixels wasted."}[method])
    preview = sorted({int(i) for i in np.linspace(0, len(items) - 1, 6)})
    st.caption("The same photos, before and after Resize:")
    image_grid([items.images[i] for i in preview],
               [f"original {items.images[i].width}×{items.images[i].height}" for i in preview])
    image_grid([resize(items.images[i], size, method) for i in preview], [f"{method} → {size}×{size}"] * len(preview))
    return dict(valid_pct=float(valid_pct), seed=seed, size=int(size), method=method)


@st.cache_data(max_entries=32, show_spinner=False)
def augmented_batch(data_key: str, picked: tuple, size: int, method: str, backbone: str, shuffle: int,
                    _items) -> list[np.ndarray]:
    """show_batch's photos: resized, then cropped and flipped at random (cached per data, photos and settings: a
    visit of the page doesn't augment them again)."""
    spec = BACKBONES[backbone]
    batch = to_uint8_tensor([resize(_items.images[i], size, method) for i in picked])
    tfm = BatchTransform(spec.mean, spec.std, augment=True, min_scale=DEFAULTS["min_scale"], seed=shuffle)
    return list(denormalize(tfm((batch,))[0], spec.mean, spec.std))


def section_show_batch(items, data: dict, chosen: dict) -> None:
    st.markdown("Always look at the data before training. These are training photos the way the model will get "
                "them: resized, then randomly cropped and flipped each time (data augmentation), so the model "
                "can't just memorise pixels.")
    show_code("dls.show_batch(max_n=12)")
    if st.button("Reshuffle", icon=":material/shuffle:", key="ic_reshuffle"):
        ss.ic_shuffle = ss.get("ic_shuffle", 0) + 1
    train_idx, valid_idx = random_split(items.groups, chosen["valid_pct"], chosen["seed"])
    shuffle = ss.get("ic_shuffle", 0)
    rng = np.random.default_rng(shuffle)
    picked = tuple(int(i) for i in rng.choice(train_idx, size=min(12, len(train_idx)), replace=False))
    backbone = ss.get("ic_backbone", DEFAULT_BACKBONE)
    batch = augmented_batch(json.dumps(data, sort_keys=True, default=str), picked, chosen["size"], chosen["method"],
                            backbone if backbone in BACKBONES else DEFAULT_BACKBONE, shuffle, items)
    image_grid(batch, [plain(items.labels[i]) for i in picked])
    counts = pd.DataFrame({"train": class_counts([items.labels[i] for i in train_idx]),
                           "valid": class_counts([items.labels[i] for i in valid_idx])}).fillna(0).astype(int)
    show_table(spreadsheet_safe(counts))


def section_learner() -> dict:
    st.markdown("We don't start from random numbers: we take a model already trained to recognise 1,000 kinds of "
                "things in ImageNet's photos, cut off its last layer, and put a new one for our classes. "
                "Fine-tuning then adjusts it to our photos.")
    backbone = backbone_picker("Pretrained model", key="ic_backbone")
    left, right = st.columns(2)
    pretrained = left.toggle("Start from the pretrained weights", value=True, key="ic_pretrained",
                             help="Off: the same network with random weights, to see what pretraining is worth.")
    recipe = right.radio("Recipe", RECIPES, horizontal=True, key="ic_recipe",
                         format_func={"fine_tune": "fine_tune (head first, then all)",
                                      "fit_one_cycle": "fit_one_cycle (all layers from the start)"}.get)
    if not pretrained:
        weights_notice(WeightsInfo("random", "this run starts from random weights, not ImageNet's: expect a far "
                                             "worse error rate from the same photos and time"))
    show_code(f"learn = vision_learner(dls, '{backbone}', metrics=error_rate"
              f"{', pretrained=False' if not pretrained else ''})")
    return dict(backbone=backbone, pretrained=bool(pretrained), recipe=recipe)


def section_train(data: dict, config: dict, n_items: int) -> None:
    st.markdown("The learning rate is how big a step the model takes each time it adjusts its weights. Too small: "
                "it barely learns. Too big: it jumps around and gets worse. `lr_find` tries a few batches with a "
                "growing learning rate and plots the loss; a good choice is where the loss is still falling fast.")
    found = ui_runs.lr_find_section(LESSON, data, config, key="ic", lr_key="ic_lr")
    valley = float(f"{found['valley']:.1e}") if found and found.get("valley") else None
    options = sorted(set(LR_CHOICES + [v for v in (valley, ss.get("ic_lr")) if isinstance(v, float)]))
    lr = st.select_slider("Learning rate", options, value=valley or DEFAULTS["lr"], format_func=lr_text,
                          key="ic_lr")
    frozen = DEFAULTS["freeze_epochs"] if config["recipe"] == "fine_tune" else 0
    most = limits.most_epochs("ic_epochs", 10, frozen)
    if config["recipe"] == "fine_tune":
        course = "Set 3 epochs for the course's recipe." if most >= 3 else \
            "The course's 3 are more than your class allows here."
        st.markdown("`fine_tune` first trains only the new last layer for one epoch, with the pretrained body "
                    "**frozen**; then it **unfreezes** everything and trains all layers, the early ones more "
                    "gently. An epoch is one pass through all the training photos. The course runs "
                    "`learn.fine_tune(3)` on a GPU; here the default is `fine_tune(1)` so it trains in under a "
                    f"minute on a 2-core CPU. {course}")
    else:
        st.markdown("`fit_one_cycle` trains every layer from the first step, with no frozen epoch: compare its "
                    "error rate with `fine_tune`'s for the same number of epochs.")
    epochs = int(st.number_input("Epochs" + (" after unfreezing" if frozen else ""), 1, most,
                                 min(DEFAULTS["epochs"], most), key="ic_epochs"))
    limits.epochs_note("ic_epochs", 10, most, frozen)
    call = f"fine_tune({epochs}, base_lr={lr:g})" if config["recipe"] == "fine_tune" else \
        f"fit_one_cycle({epochs}, {lr:g})"
    show_code(f"learn.{call}")
    fit_config = dict(config, lr=lr, epochs=epochs)
    ui_runs.train_button(LESSON, data, fit_config, f"Train: {call}", key="ic_train",
                         title=f"{call} · {config['backbone']} on {n_items} photos · seed {config['seed']}")
    run_id = ui_runs.current(LESSON, "fit", data)
    if run_id:
        ui_runs.live(run_id)


# ---- after training -------------------------------------------------------------------------------------------
def section_inside(view) -> None:
    st.markdown("How far did each layer's weights move away from the pretrained ones, and how big were their "
                "gradients? During the **frozen** epoch only the new head (red) learns: the body's weights stay "
                "exactly where ImageNet left them, so its layers have no bar and no line until it is unfrozen. After "
                "**unfreezing** every layer moves, with fine_tune's far smaller learning rate for the early ones: "
                "they detect edges and textures, which are useful for any photo. (The weights counted are the "
                "layers' kernels and matrices. BatchNorm's scale and shift keep training in a frozen body, as in "
                "fastai, and are left out.)")
    stats = view.progress.weight_stats
    if not stats:
        st.caption("No per-layer statistics were recorded for this run.")
        return
    show_chart(figures.inside_figure(stats), narrow=partial(figures.inside_figure, stats, narrow=True),
               key="ic_inside")


def section_results(view, run) -> None:
    ui_runs.run_details(view, WIDGETS)
    job_notices(view)
    results, vocab = run.results, run.vocab
    ui_runs.stopped_early(results)
    probs, targets, losses, predicted = run.probs, run.targets, run.losses, run.predicted
    method = view.record.config.get("method", "squish")

    def seen(i):
        return seen_photo(view.id, int(i), method, run.valid_images)
    err = float((predicted != targets).mean())
    st.metric("error rate on the validation photos", f"{err:.1%}",
              help=f"{int((predicted != targets).sum())} wrong out of {len(targets)}")
    if results.get("rejected"):
        with st.expander(f"{len(results['rejected'])} file(s) of this run's photos were left out"):
            show_rejected(results["rejected"])

    st.subheader("show_results")
    show_code("learn.show_results()")
    show = results_sample(targets)
    image_grid([seen(i) for i in show],
               [f"{'right' if predicted[i] == targets[i] else 'WRONG'}: {plain(vocab[predicted[i]])} "
                f"{chance(probs[i, predicted[i]])}, really {plain(vocab[targets[i]])}" for i in show])

    st.subheader("Confusion matrix")
    st.markdown("Rows: what the photo really is. Columns: what the model said. The diagonal is right, everything "
                "else is a mistake. **Click a cell** to see its photos.")
    show_code("interp = ClassificationInterpretation.from_learner(learn)\ninterp.plot_confusion_matrix()")
    cm = confusion_matrix(targets, predicted, len(vocab))
    clicked = show_confusion(cm, vocab, key="ic_cm", unit="photos")
    cells = [(a, p) for a in range(len(vocab)) for p in range(len(vocab)) if cm[a, p]]
    choice = st.selectbox("…or pick a cell", cells, index=cells.index(clicked) if clicked in cells else None,
                          format_func=lambda c: f"really {vocab[c[0]]}, predicted {vocab[c[1]]} ({cm[c]} photos)",
                          key=f"ic_cell_{clicked}", placeholder="choose a cell of the matrix")
    if choice is not None:
        where = cell_items(targets, predicted, *choice)[:18]
        st.caption(f"{cm[choice]} photo(s) that are really **{plain(vocab[choice[0]])}** and were predicted "
                   f"**{plain(vocab[choice[1]])}** (with the probability the model gave):")
        image_grid([seen(i) for i in where],
                   [f"{chance(probs[i, choice[1]])} {plain(vocab[choice[1]])}" for i in where], width=120)

    st.subheader("Top losses")
    st.markdown("The photos the model was most wrong (or least sure) about. Often they show a labelling mistake "
                "or a photo that is genuinely hard.")
    show_code("interp.plot_top_losses(9)")
    top = top_losses(losses, 9)
    image_grid([seen(i) for i in top],
               [f"{plain(vocab[predicted[i]])} / {plain(vocab[targets[i]])} / {losses[i]:.2f} / "
                f"{probs[i, predicted[i]]:.2f}" for i in top])
    st.caption("Each caption: predicted / actual / loss / probability of the prediction (as fastai prints it).")
    confused = most_confused(cm, vocab)
    st.subheader("Most confused")
    show_code("interp.most_confused()")
    if confused:
        show_table(spreadsheet_safe(pd.DataFrame(confused, columns=["actual", "predicted", "photos"])), index=False)
    else:
        st.success("No mistakes on the validation photos.")


def photo_picker(run, key: str, label: str):
    """A validation photo, an uploaded one or one from the camera: (PIL image, a key for caching) or (None, None)."""
    names = [run.items.names[j] for j in run.valid_idx]
    return pick_photo(key, label, names, lambda i: run.valid_images[i], image_from_bytes)


def validation_photo(run, classifier, photo_key: str) -> int | None:
    """Which validation photo `photo_key` is, if `classifier` is the run's own: then what the model made of it is
    kept with the run (its probabilities from the run's validation, its looks inside once made)."""
    if classifier is run.classifier and photo_key.startswith("valid:"):
        return int(photo_key.removeprefix("valid:"))
    return None


@st.cache_data(max_entries=64, show_spinner="Looking inside the model…")
def inside_of(model_key: str, photo_key: str, _classifier, _photo):
    """One look inside (cached per model and photo): what the page draws, and how long it took."""
    start = time.perf_counter()
    inside = look_inside(_classifier, _photo)
    return inside, time.perf_counter() - start


def section_looks(run, model_key: str, classifier) -> None:
    st.markdown("A CNN is layers of filters. The **early** layers respond to edges and colours, the **late** ones "
                "to parts of things (an eye, a beak, a wheel). Below, for one photo: a few layers' channels that "
                "fire hardest, each in yellow where it fires over the photo in grey (an early layer's map is fine, a "
                "late one's a coarse 7×7 grid), then a **class activation map** (CAM, the course's chapter 18) per "
                "class: which parts of the photo pushed the model towards that class. (It is computed as Grad-CAM, "
                "which gives the same map for a model that ends in average pooling and one linear layer, as this one "
                "does.)")
    img, photo_key = photo_picker(run, "ic_look", "Which photo?")
    if img is None:
        return
    photo = validation_photo(run, classifier, photo_key)
    if photo is not None:
        with st.spinner("Looking inside the model…") if not run.looks.holds(photo) else contextlib.nullcontext():
            inside, seconds = run.look(photo)
    else:
        inside, seconds = inside_of(model_key, photo_key, classifier, img)
    vocab = classifier.vocab
    for layer in inside.layers:
        st.caption(f"**{layer.name}** — maps {layer.reduction}× smaller than the photo, {layer.channels} channels; "
                   f"the {len(layer.top)} that fire hardest somewhere:" if layer.reduction else f"**{layer.name}**")
        image_grid(lit_maps(inside.picture, layer.maps, 96), [f"channel {c}" for c in layer.top], cols=8, width=90)
    order = list(np.argsort(-inside.probs))
    if len(vocab) > 2:
        other = st.selectbox("Compare with the class", [vocab[i] for i in order[1:]], key="ic_look_other")
        order = [order[0], vocab.index(other)]
    shown = [inside.picture] + [overlay(inside.picture, inside.cams[c]) for c in order[:2]]
    captions = ["the photo as the model sees it"] + [
        f"{'predicted' if n == 0 else 'the other class'}: {plain(vocab[c])} ({chance(inside.probs[c])})"
        for n, c in enumerate(order[:2])]
    image_grid(shown, captions, cols=3, width=220)
    st.caption(f"Red: that part raised the class's score most; blue: not at all. Computed in {seconds:.2f} s on "
               "the server's CPU, then kept for this photo.")
    show_code("from fastai.callback.hook import hook_output   # the course's CAM, chapter 18\n"
              "with hook_output(learn.model[0]) as hook: output = learn.model.eval()(x)\n"
              "cam = torch.einsum('ck,kij->cij', learn.model[1][-1].weight, hook.stored[0])")


@st.cache_data(max_entries=256, show_spinner=False)
def prediction_of(model_key: str, photo_key: str, _classifier, _photo) -> np.ndarray:
    return _classifier.predict([_photo])[0]


def section_use(run, classifier, model_key: str) -> None:
    st.markdown("Now ask the model about a photo: pick a validation photo, upload your own or take one with "
                "your camera.")
    img, photo_key = photo_picker(run, "ic_use", "Which photo?")
    if img is None:
        return
    left, right = st.columns([1, 2])
    pictures.show([img], width=220, where=left)
    photo = validation_photo(run, classifier, photo_key)
    p = run.probs[photo] if photo is not None else prediction_of(model_key, photo_key, classifier, img)
    right.markdown(f"### Prediction: **{plain(classifier.vocab[int(p.argmax())])}**")
    pictures.drawing(probabilities(p, classifier.vocab), where=right)           # every class's probability
    show_code("pred, idx, probs = learn.predict(PILImage.create('photo.jpg'))", where=right)


# ---- page ---------------------------------------------------------------------------------------------------------
st.title("Is it a bird?")        # no icon: a screen reader read it out ("flutter_dash icon")
st.markdown(
    "In lesson 1 Jeremy trains a computer to tell birds from everything else, in a couple of minutes, with a "
    "model that was already trained on a million photos. You'll do the same here, step by step, in the order "
    "the course does it. Nothing to install: press the buttons, read what comes out.")
ui_runs.apply_settings(WIDGETS, LESSON)
keep_checked_settings()
adopt_linked_data()

with numbered("The photos"):
    picked = choose_photos()
if picked is not None:
    items, data = picked
    for trouble in problems(items):
        st.error(plain(trouble), icon=":material/error:")
    if problems(items):
        picked = None
if picked is not None:
    with numbered("DataBlock: tell fastai what the data is"):
        chosen = section_datablock(items, data)
    with numbered("show_batch: look at your data"):
        section_show_batch(items, data, chosen)
    with numbered("Learner: start from a pretrained model"):
        chosen.update(section_learner())
    with numbered("lr_find, then train"):
        st.fragment(section_train)(data, dict(DEFAULTS, **chosen), len(items))   # a setting reruns this section only

view, run = ui_runs.shown(LESSON, data if picked is not None else None)
if view is not None and picked is None:
    ui_runs.live(view.id)
if run is None and (picked is not None or view is not None):
    later("What changed inside", "Results: where is it right, where is it wrong?", "What the model looks at", "Use it",
          "Export it and load it back", why=ui_runs.not_yet(view))
if run is not None:
    with numbered("What changed inside"):
        section_inside(view)
    with numbered("Results: where is it right, where is it wrong?"):
        section_results(view, run)
    look_box = numbered("What the model looks at")
    use_box = numbered("Use it")
    with numbered("Export it and load it back"):
        st.markdown("`learn.export()` saves the model to use later. Here it's two files: the weights as "
                    "**safetensors** (just numbers, so loading can't run anyone's code, unlike a pickle) and a "
                    "small **JSON** with the class names and how to resize photos. A file loaded back is checked "
                    "before anything is built from it.")
        export_and_load_back(run.classifier.model, run.classifier.export_meta(), "ic",
                             file_stem("image_classifier", view.id),
                             load=lambda weights, meta: (classifier_from_files(weights, meta), json.loads(meta)),
                             describe=lambda _, meta: f"Loaded a {meta['backbone']} classifier for "
                                                   f"{', '.join(plain(v) for v in meta['vocab'])}.")
    classifier, model_key = run.classifier, f"run:{view.id}"
    if ss.get("ic_loaded") is not None:
        which = look_box.radio("Which model?", ["the one trained above", "the one you loaded back"],
                               horizontal=True, key="ic_which_model")
        if which == "the one you loaded back":
            classifier, model_key = ss.ic_loaded, ss.ic_loaded_id          # ui/export names each model loaded
    with look_box:
        section_looks(run, model_key, classifier)
    with use_box:
        section_use(run, classifier, model_key)
