#!/usr/bin/python3
"""model_torch.py: the PyTorch peer of libmodel's denoiser (same architecture, SUBS output,
weighted loss, AdamW), for the side-by-side benchmark and for cross-checking outputs."""
import argparse
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rope_table(T, hs):
    """cos, sin (T, hs // 2) of the rotary angles t * 10000^(-2i/hs), as libmodel."""
    i = torch.arange(hs // 2, dtype=torch.float64)
    ang = torch.arange(T, dtype=torch.float64).unsqueeze(1) * 10000.0 ** (-2.0 * i / hs)
    return ang.cos().float(), ang.sin().float()


def rotate(x, cos, sin):
    """Turns the pairs (2i, 2i+1) of the last dimension of x (B, H, T, hs); an odd last
    dimension stays."""
    P = cos.shape[1]
    x0, x1 = x[..., 0:2 * P:2], x[..., 1:2 * P:2]
    r = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)
    return torch.cat([r, x[..., 2 * P:]], dim=-1)


class Block(nn.Module):
    def __init__(self, d, heads, causal):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.fcproj = nn.Linear(4 * d, d)
        self.heads = heads
        self.causal = causal

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        hs = C // self.heads
        q = q.view(B, T, self.heads, hs).transpose(1, 2)
        k = k.view(B, T, self.heads, hs).transpose(1, 2)
        v = v.view(B, T, self.heads, hs).transpose(1, 2)
        cos, sin = rope_table(T, hs)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        # ALiBi: head h adds -2^(1-h) |t - j|
        pos = torch.arange(T)
        slopes = torch.tensor([2.0 ** (1 - h) for h in range(self.heads)])
        att = att - slopes.view(-1, 1, 1) * (pos.view(-1, 1) - pos.view(1, -1)).abs()
        if self.causal:
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Denoiser(nn.Module):
    """Pre-LN transformer over V + K ids, relative positions (RoPE, ALiBi) in the attention;
    logits over the V ordinary ids only (SUBS)."""

    def __init__(self, V, K, d, L, H, T, causal=False):
        super().__init__()
        self.V = V
        self.wte = nn.Embedding(V + K, d)
        self.blocks = nn.ModuleList([Block(d, H, causal) for _ in range(L)])
        self.lnf = nn.LayerNorm(d)
        self.out = nn.Linear(d, V)
        self.causal = causal

    def masked_logp(self, inp, tgt, prior=None):
        """log p(target) at the masked positions (input >= V), as a flat vector."""
        x = self.wte(inp)
        for b in self.blocks:
            x = b(x)
        h = self.lnf(x)
        masked = inp >= self.V
        if self.causal:  # the autoregressive baseline predicts every position
            masked = torch.ones_like(masked)
        logits = self.out(h[masked])
        if prior is not None:
            ids = inp[masked] - self.V
            bias = prior[ids.clamp(min=0)] * (ids >= 0).unsqueeze(1)
            logits = logits + bias
        logp = F.log_softmax(logits, dim=-1)
        return logp.gather(1, tgt[masked].unsqueeze(1)).squeeze(1), masked


def loss_fn(model, inp, tgt, w):
    lp, masked = model.masked_logp(inp, tgt)
    return -(w[masked] * lp).sum() / inp.numel()


def load_checkpoint(path):
    """Reads a libmodel checkpoint (header, config, params) into a Denoiser."""
    buf = open(path, "rb").read()
    assert buf[:8] == b"PYRMODEL"
    p = 32
    V, K, d, L, H, T, causal, has_prior, has_optim = struct.unpack_from("<9i", buf, p)
    p += 36 + 8
    (ml,) = struct.unpack_from("<I", buf, p)
    p += 4 + ml
    m = Denoiser(V, K, d, L, H, T, bool(causal))

    def take(n):
        nonlocal p
        t = torch.frombuffer(bytearray(buf[p:p + 4 * n]), dtype=torch.float32).clone()
        p += 4 * n
        return t

    C = d
    with torch.no_grad():
        m.wte.weight.copy_(take((V + K) * C).view(V + K, C))
        per_layer = [("ln1", "weight", (C,)), ("ln1", "bias", (C,)),
                     ("qkv", "weight", (3 * C, C)), ("qkv", "bias", (3 * C,)),
                     ("proj", "weight", (C, C)), ("proj", "bias", (C,)),
                     ("ln2", "weight", (C,)), ("ln2", "bias", (C,)),
                     ("fc", "weight", (4 * C, C)), ("fc", "bias", (4 * C,)),
                     ("fcproj", "weight", (C, 4 * C)), ("fcproj", "bias", (C,))]
        for mod, attr, shape in per_layer:
            n = math.prod(shape)
            t = take(L * n).view(L, *shape)
            for l in range(L):
                getattr(getattr(m.blocks[l], mod), attr).copy_(t[l])
        m.lnf.weight.copy_(take(C))
        m.lnf.bias.copy_(take(C))
        m.out.weight.copy_(take(V * C).view(V, C))
        m.out.bias.copy_(take(V))
    prior = take(K * V).view(K, V) if has_prior else None
    return m, prior


def bench(V, K, d, L, H, T, B, steps, warm, rounds, do_train=True, do_score=True):
    torch.manual_seed(0)
    m = Denoiser(V, K, d, L, H, T)
    decay = [p for n, p in m.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in m.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    # the batch model_bench makes: sequence b at t = (b + 1/2) / B, the same hashed
    # positions masked
    g = torch.Generator().manual_seed(1)
    tgt = torch.randint(0, V, (B, T), generator=g)
    t = ((torch.arange(B, dtype=torch.float64) + 0.5) / B).unsqueeze(1)
    h = (torch.arange(T, dtype=torch.int64).unsqueeze(0) * 2654435761
         + torch.arange(B, dtype=torch.int64).unsqueeze(1) * 40503) % (1 << 32)
    masked = h.double() / 4294967296.0 < t
    inp = torch.where(masked, torch.full_like(tgt, V), tgt)
    w = (1.0 / t).float().expand(B, T).contiguous()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(m, inp, tgt, w)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    # best of `rounds` rounds of `steps` steps (after the warm-up), as model_bench does
    for _ in range(warm if do_train else 0):
        train_step()
    train_s = float("inf")
    for _ in range(rounds if do_train else 0):
        t0 = time.perf_counter()
        for _ in range(steps):
            train_step()
        train_s = min(train_s, (time.perf_counter() - t0) / steps)
    score_s = float("inf")
    with torch.inference_mode():
        for _ in range(warm if do_score else 0):
            m.masked_logp(inp, tgt)
        for _ in range(rounds if do_score else 0):
            t0 = time.perf_counter()
            for _ in range(steps):
                m.masked_logp(inp, tgt)
            score_s = min(score_s, (time.perf_counter() - t0) / steps)
    return B * T / train_s, B * T / score_s, masked.float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="tokens/s of a training step and of scoring")
    for k, v in [("V", 4096), ("K", 1), ("d", 128), ("L", 4), ("H", 4), ("T", 128),
                 ("B", 32), ("steps", 5), ("warm", 2), ("rounds", 3), ("threads", 2)]:
        b.add_argument("--" + k, type=int, default=v)
    b.add_argument("--train-only", action="store_true")
    b.add_argument("--score-only", action="store_true")
    c = sub.add_parser("check", help="log-probs and gradients of a checkpoint on a batch")
    c.add_argument("checkpoint")
    c.add_argument("batch", help="binary file: B, T int32, then inp, tgt int32, w float32")
    c.add_argument("out", help="writes logp (B*T float32) then dloss/dparams as libmodel lays them out")
    a = ap.parse_args()
    if a.cmd == "bench":
        torch.set_num_threads(a.threads)
        tr, sc, frac = bench(a.V, a.K, a.d, a.L, a.H, a.T, a.B, a.steps, a.warm, a.rounds,
                             not a.score_only, not a.train_only)
        print(f"train_tok_s={tr:.1f} score_tok_s={sc:.1f} masked={frac:.3f}")
        return 0
    torch.set_num_threads(1)
    m, prior = load_checkpoint(a.checkpoint)
    raw = open(a.batch, "rb").read()
    B, T = struct.unpack_from("<2i", raw, 0)
    n = B * T
    inp = torch.tensor(struct.unpack_from(f"<{n}i", raw, 8)).view(B, T).long()
    tgt = torch.tensor(struct.unpack_from(f"<{n}i", raw, 8 + 4 * n)).view(B, T).long()
    w = torch.tensor(struct.unpack_from(f"<{n}f", raw, 8 + 8 * n)).view(B, T)
    lp, masked = m.masked_logp(inp, tgt, prior)
    loss = -(w[masked] * lp).sum() / n
    loss.backward()
    full = torch.zeros(B, T)
    full[masked] = lp.detach()
    L = len(m.blocks)
    grads = [m.wte.weight.grad]
    for mod, attr in [("ln1", "weight"), ("ln1", "bias"), ("qkv", "weight"), ("qkv", "bias"),
                      ("proj", "weight"), ("proj", "bias"), ("ln2", "weight"),
                      ("ln2", "bias"), ("fc", "weight"), ("fc", "bias"),
                      ("fcproj", "weight"), ("fcproj", "bias")]:
        grads.append(torch.stack([getattr(getattr(m.blocks[l], mod), attr).grad
                                  for l in range(L)]))
    grads += [m.lnf.weight.grad, m.lnf.bias.grad, m.out.weight.grad, m.out.bias.grad]
    with open(a.out, "wb") as f:
        f.write(full.numpy().astype("<f4").tobytes())
        f.write(struct.pack("<f", loss.item()))
        for g in grads:
            f.write(g.detach().contiguous().numpy().astype("<f4").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
