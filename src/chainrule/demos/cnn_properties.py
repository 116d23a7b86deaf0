"""What convolution and pooling build in (deep-learning lecture, special architectures).

- Translation equivariance, f(g(x)) = g(f(x)): shifting an object then convolving equals
  convolving then shifting (to rounding, with the object clear of the border).
- Not rotation: rotating by 90 degrees then convolving differs from convolving then rotating.
- Max pooling is invariant to small shifts "to some degree" (Goodfellow et al.'s figure): shift
  a detector row by one and every detector value changes, but only about half of the outputs of
  a width-3 max pool do; a global max pool does not change at all.
- The receptive field of one output unit of a stack of 3x3 convolutions, read off the gradient
  of that unit with respect to the input: 1 + 2*depth pixels on a side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.demos._plot import figure, save

SIZE, SHIFT = 32, (3, -4)
DEPTHS = (1, 2, 3, 4, 5, 6)


def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """conv2d of one (H, W) image with filters w (O, 1, k, k), 'same' zero padding."""
    y = F.conv2d(cr.tensor(x[None, None]), cr.tensor(w), padding=w.shape[-1] // 2)
    return y.numpy(force=True)[0]


def image(rng: np.random.Generator) -> np.ndarray:
    """An object (a smoothed random blob) in the middle of a zero background."""
    x = np.zeros((SIZE, SIZE))
    x[11:21, 10:22] = rng.uniform(0, 1, (10, 12))
    x[13:19, 12:15] = 1.5  # an asymmetric bar, so a rotation is visible
    return x


def receptive_field(depth: int, seed: int = 0) -> np.ndarray:
    """|d out[centre] / d input| for a stack of ``depth`` 3x3 convolutions with tanh between."""
    cr.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Conv2d(1 if i == 0 else 4, 4, 3, padding=1, dtype=np.float64), nn.Tanh()]
    net = nn.Sequential(*layers)
    c = SIZE // 2
    g = cr.grad(lambda x: net(x)[0, 0, c, c])(cr.zeros((1, 1, SIZE, SIZE), dtype=np.float64))
    return np.abs(g.numpy(force=True)[0, 0])


def field_size(g: np.ndarray) -> tuple[int, int, bool]:
    """Rows and columns of the bounding box of g's nonzeros, and whether it is filled."""
    rows, cols = np.nonzero(g)
    box = g[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return int(box.shape[0]), int(box.shape[1]), bool((box > 0).all())


def run(out: Path) -> dict[str, Any]:
    """Equivariance and rotation errors, pooling changes, receptive fields; returns them."""
    rng = np.random.default_rng(0)
    x = image(rng)
    w = rng.standard_normal((4, 1, 5, 5))
    y = conv(x, w)
    scale = float(np.abs(y).max())
    shifted = conv(np.roll(x, SHIFT, (0, 1)), w) - np.roll(y, SHIFT, (1, 2))
    rotated = conv(np.rot90(x), w) - np.rot90(y, axes=(1, 2))
    res: dict[str, Any] = {"equivariance_error": float(np.abs(shifted).max()) / scale,
                           "rotation_error": float(np.abs(rotated).max()) / scale}
    print(f"shift by {SHIFT}: max |conv(shift x) - shift(conv x)| / max |conv x| = "
          f"{res['equivariance_error']:.1e}; rotate by 90°: {res['rotation_error']:.2f}")
    res["global_max_pool_change"] = float(np.abs(
        conv(np.roll(x, SHIFT, (0, 1)), w).max((1, 2)) - y.max((1, 2))).max())
    print(f"global max pool after the shift changes by {res['global_max_pool_change']}")

    detector = rng.uniform(0, 1, 64)
    moved = np.concatenate([[rng.uniform(0, 1)], detector[:-1]])  # shifted right by one

    def pool(d: np.ndarray) -> np.ndarray:
        out = F.max_pool1d(cr.tensor(d[None, None]), 3, stride=1, padding=1)
        return out.numpy(force=True)[0, 0]

    res["detector_changed"] = float((moved != detector).mean())
    res["pool_changed"] = float((pool(moved) != pool(detector)).mean())
    print(f"shift a detector row by one: {res['detector_changed']:.0%} of detector values change, "
          f"{res['pool_changed']:.0%} of the width-3 max pool's outputs")

    fields = {d: receptive_field(d) for d in DEPTHS}
    res["field_sizes"] = {d: field_size(g) for d, g in fields.items()}
    for d, (h, wd, full) in res["field_sizes"].items():
        print(f"{d} stacked 3x3 convolutions: receptive field {h} x {wd} (1 + 2*{d} = "
              f"{1 + 2 * d}), {'every pixel inside reaches the unit' if full else 'with holes'}")

    fig, axes = figure(3, 2, size=(4.4, 3.8), title="Convolution is translation-equivariant "
                       f"(error {res['equivariance_error']:.0e}) but not rotation-equivariant; "
                       "max pooling is invariant to "
                       "small shifts\nonly in part; the receptive field of a stack of 3x3 "
                       "convolutions grows as 1 + 2·depth")
    ax = axes[0]
    ax.imshow(np.concatenate([x / x.max(), y[0] / scale], 1), cmap="gray")
    ax.set(title="image | one filter's output", xlabel="column", ylabel="row")
    for ax, diff, what in ((axes[1], shifted, f"shift {SHIFT}"), (axes[2], rotated, "rotate 90°")):
        im = ax.imshow(np.abs(diff[0]) / scale, cmap="magma", vmin=0,
                       vmax=res["rotation_error"])  # one scale: black is "equal"
        ax.set(title=f"|conv(g x) - g(conv x)|, g = {what}\nmax {np.abs(diff).max() / scale:.1e}",
               xlabel="column", ylabel="row")
        fig.colorbar(im, ax=ax, shrink=0.8)
    ax = axes[3]
    i = np.arange(24)
    ax.plot(i, detector[:24], "o-", color="C0", ms=3, label="detector")
    ax.plot(i, moved[:24], "o--", color="C0", ms=3, alpha=0.5, label="detector, shifted by 1")
    ax.plot(i, pool(detector)[:24], "s-", color="C3", ms=3, label="max pool (width 3)")
    ax.plot(i, pool(moved)[:24], "s--", color="C3", ms=3, alpha=0.5, label="max pool, shifted")
    ax.set(xlabel="position", ylabel="value", ylim=(0, 1.45),
           title=f"changed: detector {res['detector_changed']:.0%}, pool "
           f"{res['pool_changed']:.0%}")
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    ax = axes[4]
    d = 3
    with np.errstate(divide="ignore"):
        im = ax.imshow(np.log10(fields[d]), cmap="viridis")
    c = SIZE // 2
    ax.set(xlim=(c - 8.5, c + 8.5), ylim=(c + 8.5, c - 8.5), xlabel="input column",
           ylabel="input row", title=f"log10 |∂ out[centre] / ∂ input|, depth {d}")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax = axes[5]
    ax.plot(DEPTHS, [res["field_sizes"][d][0] for d in DEPTHS], "o", ms=8, label="from gradients")
    ax.plot(DEPTHS, [1 + 2 * d for d in DEPTHS], "k-", lw=1, label="1 + 2·depth")
    ax.set(xlabel="number of 3x3 convolutions", ylabel="receptive field side (pixels)",
           title="receptive field against depth")
    ax.legend(fontsize=8)
    res["figures"] = [save(fig, out, "cnn_properties.png")]
    return res
