"""Which photo to ask a model about, the same in every lesson that takes photos: one of the run's validation photos,
one uploaded, or one from the camera. One choice shows at a time, so a refused upload never hides a validation photo
picked after it."""
import hashlib
from typing import Callable, Sequence

import streamlit as st

from ui import present

PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
VALIDATION, UPLOAD, CAMERA = "A validation photo", "Upload a photo", "Take a photo"
# Below the picker, before the page shows the photo: Streamlit shows a picture's full-screen button on hover, 44 px
# tall, just above its top edge. Right under the photo list it covered the list's arrow (segmentation at 1000 px wide,
# where the photo is as wide as the list), so moving up from the photo to the list and clicking opened the photo.
TOOLBAR_GAP_PX = 16


def pick_photo(key: str, label: str, names: Sequence[str], validation_photo: Callable[[int], object],
               read: Callable[[bytes, str], tuple[object, str]], where=st, camera: bool = True):
    """(the photo, a key for caching what a model makes of it), or (None, None) while there is none to use.
    `read(data, name)` is the lesson's own check of an uploaded file: (an image, "") or (None, why not)."""
    # on a projector whose upload boxes are hidden, only the run's own photos (choosing an upload showed nothing)
    choices = [VALIDATION] if present.hides("uploads") else [VALIDATION, UPLOAD] + ([CAMERA] if camera else [])
    chosen = where.radio(label, choices, horizontal=True, key=f"{key}_where")
    if chosen == VALIDATION:
        i = where.selectbox("Validation photo", range(len(names)), key=f"{key}_example",
                            format_func=lambda i: f"{i + 1}: {names[i]}")
        where.space(TOOLBAR_GAP_PX)
        return validation_photo(i), f"valid:{i}"
    photo = (where.file_uploader("Your photo", type=PHOTO_TYPES, key=f"{key}_photo") if chosen == UPLOAD
             else where.camera_input("Take a photo", key=f"{key}_camera"))
    if photo is None:
        return None, None
    data = photo.getvalue()
    img, reason = read(data, photo.name)
    if img is None:
        where.error(f"That photo can't be used: {reason}.", icon=":material/broken_image:")
        return None, None
    where.space(TOOLBAR_GAP_PX)
    return img, "photo:" + hashlib.sha256(data).hexdigest()
