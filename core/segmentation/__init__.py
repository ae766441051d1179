"""Segmentation, lesson 1's "colour every pixel": a U-Net on a pretrained encoder labels each pixel.

data.py      SegmentationDataLoaders.from_label_func: images/ + labels/<stem>_P.png + codes.txt (CamVid's layout),
             from a folder or a student's zip (read in memory), every file checked
model.py     the U-Net: a timm encoder's feature maps, upsampled back to the input's size (fastai's DynamicUnet)
metrics.py   pixel accuracy, the confusion matrix of pixels, IoU per class and per photo, confidence bands
train.py     the Learner and the trained model (predict gives per-pixel probabilities)
jobs.py      the lr_find and fine_tune jobs (run by a worker) and load_run (a finished run, from the store alone)
saved.py     a saved model read back: its metadata and weights' header checked before anything is allocated
figures.py   class colours, mask overlays, confidence maps and the lesson's plotly figures
"""
