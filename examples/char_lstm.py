"""A character-level LSTM language model: predict the next character, then sample text.

Embedding -> LSTM -> Linear over the vocabulary, trained with cross-entropy on every position
of random windows of a short text (truncated backpropagation through time, with clipping).
"""

import argparse

import numpy as np

import chainrule as cr
import chainrule.nn as nn

TEXT = (
    "a network is a graph of differentiable operations, and training is gradient descent on "
    "it. the chain rule gives the derivative of a composition as the product of the "
    "derivatives of its parts. reverse mode applies it from the output back to the inputs, "
    "one backward pass for the whole gradient of a scalar. forward mode carries tangents "
    "alongside the primals in one forward pass. "
) * 4


class CharModel(nn.Module):
    """Embedding -> LSTM -> Linear: logits for the next character at every position."""

    def __init__(self, vocab: int, embed: int = 16, hidden: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx: cr.Tensor) -> cr.Tensor:
        out, _ = self.lstm(self.embed(idx))
        return self.head(out)


def sample(model: CharModel, chars: list[str], start: str, n: int, rng: np.random.Generator
           ) -> str:
    """Generate n characters after `start`, re-reading the whole context each step."""
    lookup = {c: i for i, c in enumerate(chars)}
    text = start
    model.eval()
    with cr.no_grad():
        for _ in range(n):
            idx = cr.tensor(np.array([[lookup[c] for c in text[-40:]]]))
            p = cr.softmax(model(idx)[0, -1], axis=-1).numpy().astype(np.float64)
            text += chars[rng.choice(len(chars), p=p / p.sum())]
    return text


def main(steps: int = 300, seed: int = 0) -> tuple[float, float]:
    """Train; returns the first and the last mean loss of 20 steps."""
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT])
    model = CharModel(len(chars))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    window, batch = 32, 16
    losses = []
    for step in range(steps):
        starts = rng.integers(0, len(data) - window - 1, batch)
        x = cr.tensor(np.stack([data[s:s + window] for s in starts]))
        y = cr.tensor(np.stack([data[s + 1:s + window + 1] for s in starts]))
        logits = model(x)
        loss = loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0:
            print(f"step {step:4d}  loss {np.mean(losses[-20:]):.3f}")
    print("sample:", sample(model, chars, "the chain rule", 60, rng))
    first, last = float(np.mean(losses[:20])), float(np.mean(losses[-20:]))
    print(f"mean loss: first 20 steps {first:.3f}, last 20 steps {last:.3f}")
    return first, last


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=300)
    a = p.parse_args()
    main(a.steps)
