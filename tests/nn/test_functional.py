"""nn.functional: gradcheck of every op (both modes, float64), batched rules against separate
ones, second order against PyTorch, float32 kept, and F-only options against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

from .torch_port import close, quiet_forward_ad

R0 = np.random.default_rng(1234)


def _n(*shape):
    return R0.standard_normal(shape)


def _sig(*shape):
    return 1 / (1 + np.exp(-_n(*shape)))


def _probs(*shape):
    e = np.exp(_n(*shape))
    return e / e.sum(1, keepdims=True)


Y5 = np.array([0, 3, 1, 4])
Y5_IGN = np.array([0, -100, 1, 4])
YK = np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])
W5 = np.array([0.5, 1.0, 2.0, 1.5, 0.7])
RM, RV = np.array([0.1, -0.2, 0.3]), np.array([0.5, 1.5, 2.0])


def _noisy(x):
    return F.noisy_relu(x, 0.5, rng=np.random.default_rng(0))


def _dropout(x):
    return F.dropout(x, 0.3, rng=np.random.default_rng(0))


# name -> (function of the differentiable inputs, inputs)
GRADCHECK = {
    "linear": (F.linear, [_n(4, 3), _n(2, 3), _n(2)]),
    "linear_3d": (F.linear, [_n(2, 3, 3), _n(2, 3), _n(2)]),
    "linear_1d": (F.linear, [_n(3), _n(2, 3), _n(2)]),
    "linear_no_bias": (F.linear, [_n(4, 3), _n(2, 3)]),
    "relu": (F.relu, [_n(3, 4)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [_n(3, 4)]),
    "gelu": (F.gelu, [2 * _n(3, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [2 * _n(3, 4)]),
    "erf": (F.erf, [2 * _n(3, 4)]),
    "elu": (lambda x: F.elu(x, 0.8), [_n(3, 4)]),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=2.0), [_n(3, 4)]),
    "sigmoid": (F.sigmoid, [_n(3, 4)]),
    "tanh": (F.tanh, [_n(3, 4)]),
    "softmax": (lambda x: F.softmax(x, 0), [_n(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, 1), [_n(3, 4)]),
    "noisy_relu": (_noisy, [_n(3, 4)]),
    "dropout": (_dropout, [_n(3, 4)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [_n(4, 3, 2), _n(3), _n(3)]),
    "batch_norm_2d": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                      [_n(2, 3, 2, 2), _n(3), _n(3)]),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(x, RM, RV, w, b), [_n(4, 3), _n(3), _n(3)]),
    "batch_norm_no_affine": (lambda x: F.batch_norm(x, None, None, training=True), [_n(5, 3)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [_n(3, 4), _n(4), _n(4)]),
    "layer_norm_2": (lambda x, w, b: F.layer_norm(x, (2, 3), w, b),
                     [_n(2, 2, 3), _n(2, 3), _n(2, 3)]),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b), [_n(3, 4, 3), _n(4), _n(4)]),
    "group_norm_4d": (lambda x, w, b: F.group_norm(x, 3, w, b, eps=1e-3),
                      [_n(2, 6, 2, 2), _n(6), _n(6)]),
    "group_norm_no_affine": (lambda x: F.group_norm(x, 1), [_n(2, 3, 2)]),
    "instance_norm": (lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                      [_n(2, 3, 4), _n(3), _n(3)]),
    "instance_norm_2d": (lambda x: F.instance_norm(x, eps=1e-3), [_n(2, 3, 2, 3)]),
    "instance_norm_eval": (lambda x, w, b: F.instance_norm(x, RM, RV, w, b, False),
                           [_n(2, 3, 4), _n(3), _n(3)]),
    "local_response_norm": (lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.7, k=1.5),
                            [_n(2, 5, 3)]),
    "local_response_norm_4d": (lambda x: F.local_response_norm(x, 2, alpha=0.3),
                               [_n(2, 4, 2, 3)]),
    "rms_norm": (lambda x, w: F.rms_norm(x, (4,), w), [_n(3, 4), _n(4)]),
    "rms_norm_2": (lambda x, w: F.rms_norm(x, (2, 3), w, eps=1e-3), [_n(2, 2, 3), _n(2, 3)]),
    "rms_norm_no_weight": (lambda x: F.rms_norm(x, 4), [_n(3, 4)]),
    "embedding": (lambda w: F.embedding(np.array([[1, 0], [3, 1]]), w),
                  [_n(4, 3)]),
    "normalize_l2": (F.normalize, [_n(3, 4)]),
    "normalize_l1": (lambda x: F.normalize(x, p=1, dim=0), [_n(3, 4)]),
    "normalize_l3": (lambda x: F.normalize(x, p=3, dim=-1), [_n(3, 4)]),
    "mse_loss": (F.mse_loss, [_n(3, 4), _n(3, 4)]),
    "l1_loss": (lambda x, t: F.l1_loss(x, t, "sum"), [_n(3, 4), _n(3, 4)]),
    "huber_loss": (lambda x, t: F.huber_loss(x, t, "none", 0.7), [_n(3, 4), _n(3, 4)]),
    "euclidean_loss": (F.euclidean_loss, [_n(3, 4), _n(3, 4)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, Y5), [_n(4, 5)]),
    "cross_entropy_options": (
        lambda x: F.cross_entropy(x, Y5_IGN, W5, label_smoothing=0.2, reduction="none"),
        [_n(4, 5)]),
    "cross_entropy_kdim": (lambda x: F.cross_entropy(x, YK, label_smoothing=0.1),
                           [_n(2, 3, 2, 2)]),
    "cross_entropy_probs": (lambda x, t: F.cross_entropy(x, t, W5, label_smoothing=0.1),
                            [_n(4, 5), _probs(4, 5)]),
    "nll_loss": (lambda x: F.nll_loss(x, Y5_IGN, W5), [_n(4, 5)]),
    "binary_cross_entropy": (lambda x, t: F.binary_cross_entropy(x, t, W5),
                             [_sig(4, 5), _sig(4, 5)]),
    "binary_cross_entropy_with_logits": (
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, W5, pos_weight=2 * W5),
        [_n(4, 5), _sig(4, 5)]),
    "multi_margin_loss": (lambda x: F.multi_margin_loss(x, Y5, weight=W5), [_n(4, 5)]),
    "multi_margin_loss_p2": (lambda x: F.multi_margin_loss(x, Y5, p=2, margin=0.6),
                             [_n(4, 5)]),
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name):
    fn, inputs = GRADCHECK[name]
    assert cr.gradcheck(fn, inputs)


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_float32_stays_float32(name):
    fn, inputs = GRADCHECK[name]
    xs = [cr.tensor(a.astype(np.float32), requires_grad=True) for a in inputs]
    out = fn(*xs)
    assert out.dtype == np.float32
    (out * out).sum().backward()
    for x in xs:
        assert x.grad.dtype == np.float32


FUSED = ["linear", "linear_3d", "linear_1d", "gelu", "gelu_tanh", "elu", "leaky_relu",
         "batch_norm_train", "batch_norm_eval", "layer_norm_2", "cross_entropy_options",
         "cross_entropy_probs", "group_norm", "instance_norm", "instance_norm_eval",
         "local_response_norm", "rms_norm_2"]


@pytest.mark.parametrize("name", FUSED)
def test_batched_rules_equal_separate_ones(name, rng):
    fn, inputs = GRADCHECK[name]
    xs = [cr.tensor(a) for a in inputs]
    k = 3
    out, vjp_fn = cr.vjp(fn, *xs)
    gs = rng.standard_normal((k, *out.shape))
    batched = vjp_fn(gs)
    for j in range(k):
        for got, want in zip(batched, vjp_fn(gs[j]), strict=True):
            np.testing.assert_allclose(got.cpu().numpy()[j], want.cpu().numpy(), rtol=1e-12,
                                       atol=1e-14)
    tangents = [rng.standard_normal((k, *a.shape)) for a in inputs]
    _, batched_t = cr.jvp(fn, xs, tangents)
    for j in range(k):
        _, want = cr.jvp(fn, xs, [t[j] for t in tangents])
        np.testing.assert_allclose(batched_t.cpu().numpy()[j], want.cpu().numpy(), rtol=1e-12,
                                   atol=1e-14)
        # adjoint identity: <g, J t> = <J^T g, t>
        lhs = np.sum(gs[j] * want.cpu().numpy())
        rhs = sum(np.sum(b.cpu().numpy()[j] * t[j]) for b, t in zip(batched, tangents, strict=True))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def _torch_fns():
    import torch
    import torch.nn.functional as tf

    t = torch.tensor
    return {
        "linear": tf.linear,
        "gelu": tf.gelu,
        "elu": lambda x: tf.elu(x, 0.8),
        "batch_norm_train": lambda x, w, b: tf.batch_norm(x, None, None, w, b, training=True),
        "batch_norm_eval": lambda x, w, b: tf.batch_norm(x, t(RM), t(RV), w, b),
        "layer_norm_2": lambda x, w, b: tf.layer_norm(x, (2, 3), w, b),
        "group_norm": lambda x, w, b: tf.group_norm(x, 2, w, b),
        "instance_norm": lambda x, w, b: tf.instance_norm(x, weight=w, bias=b),
        "instance_norm_eval": lambda x, w, b: tf.instance_norm(x, t(RM), t(RV), w, b, False),
        "local_response_norm": lambda x: tf.local_response_norm(x, 3, alpha=0.5, beta=0.7,
                                                                k=1.5),
        "rms_norm_2": lambda x, w: tf.rms_norm(x, (2, 3), w, eps=1e-3),
        "cross_entropy_options": lambda x: tf.cross_entropy(
            x, t(Y5_IGN), t(W5), label_smoothing=0.2, reduction="none"),
        "cross_entropy_probs": lambda x, p: tf.cross_entropy(x, p, t(W5), label_smoothing=0.1),
        "normalize_l2": tf.normalize,
        "multi_margin_loss_p2": _torch_multi_margin_p2,
    }


def _torch_multi_margin_p2(x):
    """torch's multi_margin_loss has no second derivative: the same loss from torch ops."""
    import torch

    onehot = torch.nn.functional.one_hot(torch.tensor(Y5), 5).double()
    x_y = (x * onehot).sum(-1, keepdim=True)
    h = torch.relu(0.6 - x_y + x) ** 2 * (1 - onehot) / 5
    return h.sum(-1).mean()


def test_torch_multi_margin_reference_is_torchs_loss():
    torch = pytest.importorskip("torch")
    x = torch.tensor(_n(4, 5))
    np.testing.assert_allclose(
        _torch_multi_margin_p2(x), torch.nn.functional.multi_margin_loss(
            x, torch.tensor(Y5), p=2, margin=0.6), rtol=1e-12)


SECOND_ORDER = ["linear", "gelu", "elu", "batch_norm_train", "batch_norm_eval", "layer_norm_2",
                "cross_entropy_options", "cross_entropy_probs", "normalize_l2",
                "multi_margin_loss_p2", "group_norm", "instance_norm", "instance_norm_eval",
                "local_response_norm", "rms_norm_2"]


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("name", SECOND_ORDER)
def test_hessian_matches_torch(name, mode, rng):
    torch = pytest.importorskip("torch")
    fn, inputs = GRADCHECK[name]
    tfn = _torch_fns()[name]
    w = rng.standard_normal(np.shape(fn(*[cr.tensor(a) for a in inputs]).cpu().numpy()))
    rest = [cr.tensor(a) for a in inputs[1:]]
    trest = [torch.tensor(a) for a in inputs[1:]]

    def f(x):
        return (fn(x, *rest) * cr.tensor(w)).sum()

    hess = cr.jacobian(cr.grad(f), mode=mode)(cr.tensor(inputs[0]))
    want = torch.autograd.functional.hessian(  # reverse over reverse
        lambda x: (tfn(x, *trest) * torch.tensor(w)).sum(), torch.tensor(inputs[0]))
    close(hess, want, np.float64, scale=10.0)


@pytest.mark.parametrize("name", ["linear", "layer_norm_2", "batch_norm_train",
                                  "cross_entropy_probs", "group_norm", "instance_norm",
                                  "instance_norm_eval", "local_response_norm", "rms_norm_2"])
def test_vjp_and_jvp_of_every_input_match_torch(name, rng):
    torch = pytest.importorskip("torch")
    fn, inputs = GRADCHECK[name]
    tfn = _torch_fns()[name]
    out, vjp_fn = cr.vjp(fn, *[cr.tensor(a) for a in inputs])
    g = rng.standard_normal(out.shape)
    txs = [torch.tensor(a, requires_grad=True) for a in inputs]
    tout = tfn(*txs)
    close(out, tout, np.float64)
    for got, want in zip(vjp_fn(g), torch.autograd.grad(tout, txs, torch.tensor(g)),
                         strict=True):
        close(got, want, np.float64)
    tangents = [rng.standard_normal(a.shape) for a in inputs]
    _, d = cr.jvp(fn, [cr.tensor(a) for a in inputs], tangents)
    with quiet_forward_ad():
        _, td = torch.func.jvp(tfn, tuple(torch.tensor(a) for a in inputs),
                               tuple(torch.tensor(t) for t in tangents))
    close(d, td, np.float64)


@pytest.mark.parametrize(("p", "dim"), [(2, 1), (1, 1), (2, 0), (3, -1)])
def test_normalize_matches_torch(p, dim, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4))
    x[1] = 0.0  # a zero vector: eps keeps it finite, the gradient is finite
    xt = cr.tensor(x, requires_grad=True)
    y = F.normalize(xt, p=p, dim=dim)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.normalize(tx, p=p, dim=dim)
    close(y, ty, np.float64)
    w = rng.standard_normal(x.shape)
    (y * cr.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    close(xt.grad, tx.grad, np.float64)


def test_functional_accepts_ndarrays_and_lists():
    y = F.relu(np.array([-1.0, 2.0]))
    assert isinstance(y, cr.Tensor)
    loss = F.cross_entropy(np.zeros((2, 3), np.float32), [0, 2])
    np.testing.assert_allclose(loss.cpu().numpy(), np.log(3), rtol=1e-6)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_hessian_through_a_small_network_matches_torch(mode, rng):
    """d^2/dW1^2 of CE(linear(gelu(layer_norm(linear(x, W1, b1))), W2, b2), y): every fused
    rule (linear, GELU, layer norm, cross-entropy) differentiated a second time."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, w1, b1 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    w2, b2 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    y = np.array([0, 2, 1, 1, 0])

    def f(w1):
        h = F.gelu(F.layer_norm(F.linear(x, w1, b1), (4,)))
        return F.cross_entropy(F.linear(h, w2, b2), y, label_smoothing=0.1)

    def tfn(w1):
        t = torch.tensor
        h = tf.gelu(tf.layer_norm(tf.linear(t(x), w1, t(b1)), (4,)))
        return tf.cross_entropy(tf.linear(h, t(w2), t(b2)), t(y), label_smoothing=0.1)

    hess = cr.jacobian(cr.grad(f), mode=mode)(cr.tensor(w1))
    close(hess, torch.autograd.functional.hessian(tfn, torch.tensor(w1)), np.float64, scale=10.0)
