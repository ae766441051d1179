"""Which photo to ask a model about, the same in every lesson that takes photos: one of the run's validation photos,
one uploaded, or one from the camera. One choice shows at a time, so a refused upload never hides a validation photo
picked after it."""
import hashlib
from typing import Callable, Sequence

import streamlit as st

from ui import present

PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
VALIDATION, UPLOAD, CAMERA = "A validation photo", "Upload a photo", "Take a photo"


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
    return img, "photo:" + hashlib.sha256(data).hexdigest()
