"""The same single SGD step on the quadratic, once with our Value autograd and once with PyTorch."""
import numpy as np
import torch

from core.basics.value import Value


def mse_with_values(weights, x, y):
    a, b, c = (Value(w, label=n) for w, n in zip(weights, "abc"))
    total = Value(0.0)
    for xi, yi in zip(x, y):
        total = total + (a * xi**2 + b * xi + c - yi) ** 2
    return total / len(x), (a, b, c)


def step_from_scratch(weights, x, y, lr):
    loss, params = mse_with_values(weights, x, y)
    loss.backward()
    grads = np.array([p.grad for p in params])
    return dict(loss=loss.data, grad=grads, new_weights=np.asarray(weights, float) - lr * grads,
                n_nodes=count_nodes(loss))


def step_with_torch(weights, x, y, lr):
    w = torch.tensor(np.asarray(weights, float), dtype=torch.float64, requires_grad=True)
    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    loss = ((w[0] * xt**2 + w[1] * xt + w[2] - yt) ** 2).mean()
    loss.backward()
    opt_w = w.detach().clone().requires_grad_(True)     # the update done the PyTorch way, by an optimizer
    opt_w.grad = w.grad.clone()
    torch.optim.SGD([opt_w], lr=lr).step()
    return dict(loss=loss.item(), grad=w.grad.numpy().copy(), new_weights=opt_w.detach().numpy().copy())


def count_nodes(root):
    seen, todo = set(), [root]
    while todo:
        v = todo.pop()
        if id(v) not in seen:
            seen.add(id(v))
            todo.extend(v._prev)
    return len(seen)


VALUE_CODE = '''\
class Value:
    "A number that remembers how it was made."
    def __init__(self, data, _children=()):
        self.data, self.grad = data, 0.0
        self._prev = _children
        self._backward = lambda: None

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other))
        def _backward():        # chain rule
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out
    # __add__, __pow__, relu, tanh, exp: same pattern

    def backward(self):     # from the loss back to the weights
        self.grad = 1.0
        for v in reversed(topological_order(self)):
            v._backward()

a, b, c = Value(a0), Value(b0), Value(c0)
loss = sum((a*x**2 + b*x + c - y)**2
           for x, y in points) / len(points)
loss.backward()
for p in (a, b, c):
    p.data -= lr * p.grad'''

TORCH_CODE = '''\
w = torch.tensor([a0, b0, c0], dtype=torch.float64,
                 requires_grad=True)
loss = ((w[0]*x**2 + w[1]*x + w[2] - y)**2).mean()
loss.backward()                  # fills w.grad
torch.optim.SGD([w], lr=lr).step()   # w -= lr * w.grad'''
