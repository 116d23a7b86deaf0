"""Transformer language model on the same word corpus, in the style of PyTorch's tutorial.

Embedding scaled by sqrt(d_model), a sinusoidal positional encoding kept as a buffer,
nn.TransformerEncoder with a causal mask from nn.Transformer.generate_square_subsequent_mask,
and a linear decoder. Adam with gradient clipping and a cosine schedule; the best model's
parameters are saved to a file and loaded back at the end, as the tutorial does. Reports
validation perplexity.

    python examples/torch/transformer_lm.py
    python -m chainrule.torch examples/torch/transformer_lm.py
"""

import argparse
import math
import os
import tempfile
import time

import torch
from corpus import make_corpus
from torch import nn


class PositionalEncoding(nn.Module):
    """Adds sin/cos position signals (a buffer: saved with the model, never trained)."""

    def __init__(self, d_model, dropout=0.1, max_len=512):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        """x: (seq_len, batch, d_model)."""
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.1):
        super().__init__()
        self.model_type = "Transformer"
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers,
                                                         enable_nested_tensor=False)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)

    def forward(self, src, src_mask=None):
        """src: (seq_len, batch) token ids; returns logits (seq_len, batch, ntoken)."""
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        if src_mask is None:
            src_mask = nn.Transformer.generate_square_subsequent_mask(len(src))
        output = self.transformer_encoder(src, src_mask)
        return self.linear(output)


def batchify(data, bsz):
    """Cut a 1-D token tensor into bsz columns: shape (length // bsz, bsz)."""
    seq_len = data.size(0) // bsz
    data = data[:seq_len * bsz]
    return data.view(bsz, seq_len).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].reshape(-1)
    return data, target


def evaluate(model, criterion, eval_data, bptt, ntokens):
    model.eval()
    total_loss = 0.0
    with torch.no_grad():
        for i in range(0, eval_data.size(0) - 1, bptt):
            data, targets = get_batch(eval_data, i, bptt)
            output = model(data)
            total_loss += len(data) * criterion(output.view(-1, ntokens), targets).item()
    return total_loss / (len(eval_data) - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emsize", type=int, default=64)
    parser.add_argument("--d-hid", type=int, default=128)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--nhead", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--bptt", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    vocab, train_ids, valid_ids = make_corpus()
    ntokens = len(vocab)
    train_data = batchify(torch.from_numpy(train_ids), args.batch_size)
    val_data = batchify(torch.from_numpy(valid_ids), 10)

    model = TransformerModel(ntokens, args.emsize, args.nhead, args.d_hid, args.nlayers,
                             args.dropout)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil((train_data.size(0) - 1) / args.bptt)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                           T_max=args.epochs * steps_per_epoch)
    src_mask = nn.Transformer.generate_square_subsequent_mask(args.bptt)

    best_val_loss = float("inf")
    tempdir = tempfile.TemporaryDirectory()
    best_model_params_path = os.path.join(tempdir.name, "best_model_params.pt")
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total_loss, batches = 0.0, 0
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            mask = src_mask if data.size(0) == args.bptt else src_mask[:data.size(0),
                                                                        :data.size(0)]
            output = model(data, mask)
            loss = criterion(output.view(-1, ntokens), targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            scheduler.step()
            if epoch == 1 and batches == 0:
                print(f"FIRST loss={loss.item():.4f}")
            total_loss += loss.item()
            batches += 1
        val_loss = evaluate(model, criterion, val_data, args.bptt, ntokens)
        print(f"| epoch {epoch:2d} | lr {scheduler.get_last_lr()[0]:.5f} "
              f"| train loss {total_loss / batches:5.2f} | valid loss {val_loss:5.2f} "
              f"| valid ppl {math.exp(val_loss):7.2f} | {time.time() - start:5.1f}s")
        if val_loss < best_val_loss:
            best_val_loss = val_loss
            torch.save(model.state_dict(), best_model_params_path)

    model.load_state_dict(torch.load(best_model_params_path))
    tempdir.cleanup()
    val_loss = evaluate(model, criterion, val_data, args.bptt, ntokens)
    print(f"RESULT loss={val_loss:.4f} perplexity={math.exp(val_loss):.4f}")


if __name__ == "__main__":
    main()
