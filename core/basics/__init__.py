"""How training works (Arthur Samuel's loop): a quadratic fitted by hand and by gradient descent, sums of
ReLUs, a small MLP on the Titanic table, and a from-scratch autograd. The page is pages/how_training_works.py."""
