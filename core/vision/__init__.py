"""Image classification, lesson 1's "Is it a bird?". No streamlit in here.

    data.py        the DataBlock: which photos (embedded, Pets, a student's zip), labels, split, Resize
    transforms.py  Resize, and the batch augmentation (a random resized crop and a flip) on the device
    train.py       the checked settings, the Learner, the recipes, the trained classifier and its checked loading
    jobs.py        the jobs a worker runs (lr_find, fine_tune) and load_run, what the page draws from the store
    interpret.py   confusion matrix, top losses, most confused
    inside.py      what the model looks at: activation maps and Grad-CAM
    web.py         photos from a web search, downloaded and verified
    figures.py     the lesson's own plotly figures
"""
