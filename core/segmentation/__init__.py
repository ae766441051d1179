"""Segmentation, lesson 1's "colour every pixel": a U-Net on a pretrained encoder labels each pixel.

data.py      SegmentationDataLoaders.from_label_func: images/ + labels/<stem>_P.png + codes.txt (CamVid's layout)
model.py     the U-Net: a timm encoder's feature maps, upsampled back to the input's size (fastai's DynamicUnet)
metrics.py   pixel accuracy, the confusion matrix of pixels, IoU per class
train.py     the trained model, its export, and the lr_find / fine_tune jobs for the job runner
figures.py   class colours, mask overlays and the lesson's plotly figures
"""
