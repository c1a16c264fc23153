#!/usr/bin/env python3
"""Trains a tiny masked-diffusion denoiser in PyTorch on pyramask corruptions.

pyramask builds a two-level vocabulary pyramid of the corpus, encodes it at level 1 with its
alignment to level 2, and corrupts batches of windows: whole level-2 units are masked
together (structure "unit"), each masked token gets the mask id of its token class (types
"class"), and every masked position carries its continuous-time ELBO weight. PyTorch trains
a small bidirectional transformer to predict the clean tokens (SUBS: the model never
predicts a mask; clean positions are not scored), with the loss sum(weight * cross-entropy)
that pyramask's weights make an unbiased NELBO estimate. The held-out NELBO in bits per byte
is measured before and after training, under the same corruption and fixed draws (given the
units and types the corruption shows: pyramask's scores add their code to make a bound).

Usage: train_denoiser.py --corpus FILE [--steps N] [--seed S] [--check]
  --check  exit 1 unless training lowered the held-out NELBO below the unigram baseline
"""

import argparse
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import pyramask


class Denoiser(nn.Module):
    """A bidirectional pre-LayerNorm transformer over V + K input ids, predicting the V
    clean ids, with learned positions."""

    def __init__(self, n_inputs, V, T, d=64, layers=2, heads=4):
        super().__init__()
        self.embed = nn.Embedding(n_inputs, d)
        self.pos = nn.Parameter(torch.zeros(T, d))
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, V)

    def forward(self, ids):
        h = self.embed(ids) + self.pos[: ids.shape[1]]
        return self.out(self.norm(self.body(h)))


def nelbo_terms(model, batch, out):
    """sum over positions of weight * cross-entropy (nats), per sequence."""
    logits = model(torch.from_numpy(out["ids"].astype(np.int64)))
    target = torch.from_numpy(batch["ids"].astype(np.int64))
    ce = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    w = torch.from_numpy(out["weight"])
    return (w * ce).sum(dim=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--bytes", type=int, default=400000, help="corpus bytes to use")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)

    raw = open(a.corpus, "rb").read(a.bytes)
    raw = raw[: raw.rindex(b"\n") + 1]
    cut = raw.rindex(b"\n", 0, int(len(raw) * 0.9)) + 1
    train_text, valid_text = raw[:cut], raw[cut:]
    t0 = time.time()
    pyr = pyramask.Pyramid.build([384, 1024], texts=[train_text], pretok="gpt2", threads=2)
    train = pyramask.Encoded(pyr, train_text, level=1)
    valid = pyramask.Encoded(pyr, valid_text, level=1)
    corr = pyramask.Corruption.for_pyramid(pyr, 1, structure="unit", unit_level=2,
                                           types="class", schedule="linear")
    V, K, T = corr.vocab_size, corr.n_types, a.seq_len
    print(f"pyramid: {pyr.nlevels} levels {[pyr.vocab_size(k) for k in range(3)]}, "
          f"{len(train)} training and {len(valid)} held-out tokens, {K} mask types "
          f"{corr.type_names} ({time.time() - t0:.1f} s)")

    # unigram baseline: the held-out tokens coded by the training frequencies
    counts = np.bincount(train.ids, minlength=V) + 0.5
    logp = np.log(counts / counts.sum())
    vstarts = np.arange(0, len(valid) - T, T)[:64]
    vbytes = sum(int(valid.start[s + T] - valid.start[s]) for s in vstarts)
    unigram_bpb = -sum(logp[valid.ids[s:s + T]].sum() for s in vstarts) / vbytes / math.log(2)

    vbatch = valid.windows(vstarts, T)

    def held_out_bpb(model, draws=4):
        """The NELBO under the training corruption, t stratified, fixed draws."""
        rng = pyramask.Rng(12345)
        total = 0.0
        with torch.no_grad():
            for d in range(draws):
                n = len(vstarts)
                t = (np.arange(n) + (d + 0.5) / draws) / n  # stratified over (0, 1)
                out = corr.corrupt(vbatch["ids"], t, rng, **vbatch["seq"])
                total += nelbo_terms(model, vbatch, out).sum().item()
        return total / draws / vbytes / math.log(2)

    model = Denoiser(corr.n_inputs, V, T)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    before = held_out_bpb(model)
    print(f"held-out NELBO before training: {before:.3f} bits/byte "
          f"(unigram {unigram_bpb:.3f})")
    rng = pyramask.Rng(a.seed)
    data_rng = np.random.default_rng(a.seed)
    t0 = time.time()
    for step in range(a.steps):
        starts = data_rng.integers(0, len(train) - T, a.batch)
        batch = train.windows(starts, T)
        out = corr.corrupt_batch(batch["ids"], step, rng, **batch["seq"])
        loss = nelbo_terms(model, batch, out).mean() / T
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == a.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f} nats/token  "
                  f"{(step + 1) / (time.time() - t0):.1f} steps/s")
    after = held_out_bpb(model)
    print(f"held-out NELBO after {a.steps} steps: {after:.3f} bits/byte "
          f"(before {before:.3f}, unigram {unigram_bpb:.3f})")
    if a.check and not (after < unigram_bpb < before):
        print("check failed: expected the trained NELBO below the unigram baseline, "
              "and the baseline below the untrained NELBO", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
