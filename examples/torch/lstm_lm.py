"""Word-level LSTM language model, in the style of PyTorch's word_language_model example.

Embedding -> LSTM -> Linear decoder (its weight tied to the embedding's; --no-tied unties it),
trained with truncated backpropagation through time: the hidden state is carried from one chunk
to the next but detached (repackage_hidden), gradients are clipped, and plain SGD is written by
hand as ``p.data.add_(p.grad, alpha=-lr)``. The learning rate is annealed when validation stops
improving; the best model's state dict is kept in memory (torch.save to a buffer) and reloaded at
the end, then the model writes a few sentences. Reports validation perplexity.

    python examples/torch/lstm_lm.py                  # PyTorch
    python -m chainrule.torch examples/torch/lstm_lm.py   # the same script on chainrule
"""

import argparse
import io
import math
import time

import torch
import torch.nn as nn
from corpus import make_corpus


class RNNModel(nn.Module):
    """Encoder (embedding), LSTM, decoder (linear over the vocabulary)."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2, tie_weights=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout if nlayers > 1 else 0.0)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("--tied needs --nhid equal to --emsize")
            self.decoder.weight = self.encoder.weight
        self.nhid = nhid
        self.nlayers = nlayers
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return decoded, hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def batchify(data, bsz):
    """Cut a 1-D token tensor into bsz columns: shape (length // bsz, bsz)."""
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    """Inputs source[i:i+n] and targets source[i+1:i+1+n], flattened."""
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].reshape(-1)
    return data, target


def repackage_hidden(h):
    """Detach hidden states from their history, so backprop stops at the chunk boundary."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def evaluate(model, criterion, data_source, bsz, bptt):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(bsz)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i, bptt)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def generate(model, vocab, n_words, temperature=1.0):
    """Sample words one at a time, feeding each back in (as the classic generate.py)."""
    model.eval()
    hidden = model.init_hidden(1)
    input = torch.randint(len(vocab), (1, 1), dtype=torch.long)
    words = []
    with torch.no_grad():
        for _ in range(n_words):
            output, hidden = model(input, hidden)
            word_weights = output.squeeze().div(temperature).exp().cpu()
            word_idx = torch.multinomial(word_weights, 1)[0]
            input.fill_(word_idx)
            words.append(vocab[word_idx])
    return " ".join(words)


def train_epoch(model, criterion, train_data, args, lr):
    """One pass over the training data; returns the mean loss of its first and last batches."""
    model.train()
    hidden = model.init_hidden(args.batch_size)
    losses = []
    for i in range(0, train_data.size(0) - 1, args.bptt):
        data, targets = get_batch(train_data, i, args.bptt)
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emsize", type=int, default=64)
    parser.add_argument("--nhid", type=int, default=64)
    parser.add_argument("--nlayers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5.0)
    parser.add_argument("--clip", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--bptt", type=int, default=25)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--tied", action=argparse.BooleanOptionalAction, default=True,
                        help="tie the decoder's weight to the embedding's")
    parser.add_argument("--seed", type=int, default=1111)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    vocab, train_ids, valid_ids = make_corpus()
    train_data = batchify(torch.from_numpy(train_ids), args.batch_size)
    val_data = batchify(torch.tensor(valid_ids), 10)

    ntokens = len(vocab)
    model = RNNModel(ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied)
    criterion = nn.CrossEntropyLoss()

    lr = args.lr
    best_val_loss = None
    best_state = io.BytesIO()
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        losses = train_epoch(model, criterion, train_data, args, lr)
        if epoch == 1:
            print(f"FIRST loss={losses[0]:.4f}")
        val_loss = evaluate(model, criterion, val_data, 10, args.bptt)
        print(f"| epoch {epoch:2d} | lr {lr:5.2f} | train loss {sum(losses) / len(losses):5.2f} "
              f"| valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):7.2f} "
              f"| {time.time() - start:5.1f}s")
        if best_val_loss is None or val_loss < best_val_loss:
            best_state.seek(0)
            best_state.truncate()
            torch.save(model.state_dict(), best_state)
            best_val_loss = val_loss
        else:
            lr /= 4.0  # anneal when validation stops improving, as the classic example does

    best_state.seek(0)
    model.load_state_dict(torch.load(best_state))
    model.rnn.flatten_parameters()  # after loading, as the classic example does for cuDNN
    val_loss = evaluate(model, criterion, val_data, 10, args.bptt)
    assert val_loss == best_val_loss
    print("Sample:", generate(model, vocab, 30, temperature=0.8))
    print(f"RESULT loss={val_loss:.4f} perplexity={math.exp(val_loss):.4f}")


if __name__ == "__main__":
    main()
