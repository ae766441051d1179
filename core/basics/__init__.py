"""How training works (Arthur Samuel's loop): a quadratic fitted by hand and by gradient descent (quadratic.Descent),
sums of ReLUs (relu_fit.ReluFit), a small MLP on the Titanic table trained as a run (titanic.py, jobs.py), and a
from-scratch autograd (value.py). The page is pages/how_training_works.py."""
