"""Lesson 1's tabular model: will this person earn $50k or more? (fastai's tabular_learner, re-made.)

table.py     read and check a CSV (or the embedded Adult census), guess column types, split rows
procs.py     Categorify, FillMissing, Normalize, with JSON state
model.py     embeddings + MLP (fastai's TabularModel) and the embedding-size rule
train.py     tensors on the device, DeviceLoader, Learner; what a saved model's JSON holds
saved.py     a saved model read back, every field checked before anything is built
interpret.py predictions, confusion matrix, gradient-boosting baseline, permutation importance
jobs.py      lr_find and fit as jobs for the job runner
plots.py     the lesson's plotly figures
"""
