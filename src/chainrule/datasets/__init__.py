"""Ready-made datasets: scikit-learn's digits, MNIST and Fashion-MNIST (IDX), synthetic problems.

Each returns a TensorDataset. Classification samples are (input float32, label int64):
digits (1, 8, 8), mnist and fashion_mnist (1, 28, 28), xor (1,) or (2,), two_spirals (2,).
function_1d gives regression samples (x float32 (1,), y float32 (1,)).
"""

from chainrule.datasets.digits import digits
from chainrule.datasets.idx import fashion_mnist, mnist, parse_idx, read_idx
from chainrule.datasets.synthetic import function_1d, two_spirals, xor

__all__ = ["digits", "fashion_mnist", "function_1d", "mnist", "parse_idx", "read_idx",
           "two_spirals", "xor"]
