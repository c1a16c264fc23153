"""pyramask.Corruption against the command: `pyramask mask preview` corrupts a text with
Rng(seed) at time t under a config's [mask] section; the module, given the same settings,
text and seed, must draw the same masks and types, bit for bit, for every schedule,
structure, mask-type policy and importance source and mode. Then what preview does not
show: the ELBO weights against the schedules' formulas, batches, and the chain."""

import math
import os

import numpy as np
import pytest

import pyramask
from conftest import run

MODEL_LEVEL = 1


def config(work, corpus, pyr, mask, name, data=None):
    data = {"max_bytes": 150000, **(data or {})}
    lines = ["[data]", f"corpus = {corpus}"] + [f"{k} = {v}" for k, v in data.items()]
    lines += ["[tokenizer]", f"pyramid = {pyr}", f"model_level = {MODEL_LEVEL}", "[mask]"]
    lines += [f"{k} = {v}" for k, v in mask.items()]
    lines += ["[model]", "seq_len = 32"]
    path = work / f"{name}.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def corruption_for(p, mask):
    """The Corruption that run_prepare.c opens for a config's [mask] keys."""
    if mask.get("curriculum"):
        schedule = mask["curriculum"]
    else:
        schedule = mask.get("schedule", "linear")
        if schedule == "poly":
            schedule += f":{float(mask.get('poly_w', 2))!r}"
        elif schedule == "loglinear":
            schedule += f":{float(mask.get('eps', 0.001))!r}"
    structure = mask.get("structure", "token")
    kw = dict(schedule=schedule, structure=structure, types=mask.get("types", "single"),
              regex=mask.get("regex", "words"), block_size=int(mask.get("block", 16)),
              span_p=float(mask.get("span_p", 0.2)), span_max=int(mask.get("span_max", 10)),
              importance_mode=mask.get("importance_mode", "off"),
              importance_strength=float(mask.get("importance_strength", 1)))
    if structure == "unit":
        kw["unit_level"] = int(mask.get("unit_level", 2))
    if mask.get("classes", "default") != "default":
        kw["class_rules"] = mask["classes"]
    imp = mask.get("importance", "none")
    if imp in ("none", "idf", "surprisal"):
        kw["importance"] = imp
    else:
        kw.update(importance="rules", importance_rules=imp)
    return pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, **kw)


def preview_by_module(p, m, text, t, seed, prompt):
    enc = pyramask.Encoded(p, text, MODEL_LEVEL)
    w = enc.window(0, len(enc))
    out = m.corrupt(w["ids"], t, pyramask.Rng(seed), prompt_len=min(prompt, len(enc)),
                    **w["seq"])
    shown = pyramask.render(m, w["seq"]["text"], w["seq"]["offsets"], out["masked"],
                            out["type"])
    return shown + f"masked {int(out['masked'].sum())}/{len(enc)} tokens\n".encode(), out


@pytest.fixture(scope="session")
def sample(corpus, work):
    raw = corpus.read_bytes()
    path = work / "sample.txt"
    path.write_bytes(raw[5000:7000] + raw[-1500:])
    return path


def rules(data, name):
    return os.path.join(data, "importance", name)


def cases(data):
    prose_rules = rules(data, "prose.rules")
    c = []
    for s in ("linear", "cosine", "cosine-md4", "loglinear", "poly"):
        c.append({"schedule": s})
    c.append({"schedule": "poly", "poly_w": 3})
    c.append({"curriculum": "linear[0,0.2..1@500]"})
    c.append({"structure": "span"})
    c.append({"structure": "span", "span_p": 0.5, "span_max": 4, "types": "length"})
    c.append({"structure": "unit", "unit_level": 2})
    c.append({"structure": "unit", "unit_level": 3, "types": "level"})
    c.append({"structure": "regex", "regex": "words", "types": "class"})
    c.append({"structure": "regex", "regex": "code", "types": "length"})
    c.append({"structure": "regex", "regex": r"\b\w{3}\b"})
    c.append({"structure": "block", "block": 8})
    c.append({"structure": "response", "prompt": 20})
    c.append({"types": "level"})
    c.append({"types": "class"})
    c.append({"types": "class", "classes": rules(data, "classes-prose.rules")})
    c.append({"types": "length"})
    c.append({"types": "importance", "importance": prose_rules})
    c.append({"importance": prose_rules, "importance_mode": "schedule"})
    c.append({"importance": prose_rules, "importance_mode": "schedule",
              "importance_strength": -2, "structure": "unit", "unit_level": 3})
    c.append({"importance": prose_rules, "importance_mode": "loss", "types": "class"})
    return c


def test_preview_bit_for_bit(exe, data, corpus, pyr, work, sample):
    p = pyramask.Pyramid(pyr)
    text = sample.read_bytes()
    for i, mask in enumerate(cases(data)):
        for t, seed in ((0.3, 1), (0.55, 17), (0.9, 123456)):
            cfg = config(work, corpus, pyr, mask, f"case{i}")
            want = run("mask", "preview", "-c", cfg, "--t", t, "--seed", seed, sample).stdout
            m = corruption_for(p, mask)
            got, out = preview_by_module(p, m, text, t, seed, int(mask.get("prompt", 16))
                                         if mask.get("structure") == "response" else 0)
            assert got == want, f"{mask} t={t} seed={seed}"
            assert 0 < out["masked"].sum() < len(out["ids"]), "a case that shows nothing"


def test_preview_idf_and_surprisal(exe, data, pyr, work, sample):
    """idf and surprisal come from the training split: with a corpus of identical lines the
    split is known whatever the shuffle, so the module can be fed the same windows."""
    raw = open(os.path.join(data, "prose", "kjv.txt"), "rb").read()
    line = b" ".join(raw[20000:26000].split(b"\n")) + b"\n"
    corpus = work / "lines.txt"
    corpus.write_bytes(line * 40)
    ntrain = 40 - round(0.1 * 40)
    p = pyramask.Pyramid(pyr)
    train = p.encode(line * ntrain, MODEL_LEVEL)
    T = 32
    nw = min(len(train) // T, 4096)
    text = sample.read_bytes()
    for imp in ("idf", "surprisal"):
        for mask in ({"types": "importance", "importance": imp},
                     {"importance": imp, "importance_mode": "schedule"}):
            cfg = config(work, corpus, pyr, mask, f"{imp}",
                         data={"split": "lines", "max_bytes": 0})
            want = run("mask", "preview", "-c", cfg, "--t", 0.5, "--seed", 3, sample).stdout
            m = corruption_for(p, mask)
            with pytest.raises(pyramask.Error, match="corpus|idf|surprisal|statistic"):
                m.corrupt(train[:T], 0.5, pyramask.Rng(1))
            m.corpus_add(train[:nw * T].reshape(nw, T))
            got, _ = preview_by_module(p, m, text, 0.5, 3, 0)
            assert got == want, f"{mask}"


def test_weights_are_the_elbo_weights(pyr, corpus):
    p = pyramask.Pyramid(pyr)
    enc = pyramask.Encoded(p, corpus.read_bytes()[:20000], MODEL_LEVEL)
    b = enc.windows(range(0, 64 * 8, 64), 64)
    t = np.linspace(0.05, 0.95, 8)
    formulas = {
        "linear": lambda t: 1 / t,
        "cosine": lambda t: math.pi / 2 / math.tan(math.pi * t / 4),
        "cosine-md4": lambda t: math.pi / 2 / math.tan(math.pi * t / 2),
        "poly:3": lambda t: 3 / t,
    }
    for spec, w in formulas.items():
        m = pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, schedule=spec)
        out = m.corrupt(b["ids"], t, pyramask.Rng(9), **b["seq"])
        for i in range(8):
            masked = out["masked"][i]
            assert np.allclose(out["weight"][i][masked], w(t[i]), rtol=1e-6)
            assert np.all(out["weight"][i][~masked] == 0)
            assert np.all(out["ids"][i][masked] == m.vocab_size)
            assert np.array_equal(out["ids"][i][~masked], b["ids"][i][~masked])
            assert m.weight(t[i]) == pytest.approx(w(t[i]), rel=1e-12)
        assert m.alpha(0.0) == 1 and m.mask_prob(1.0) == pytest.approx(1)
        assert np.allclose(m.alpha(t), 1 - m.mask_prob(t))
    # the block structure: nb * w(t) on the current block, 0 on the later masked blocks
    m = pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, structure="block", block_size=16)
    out = m.corrupt(b["ids"], t, pyramask.Rng(2), **b["seq"])
    for i in range(8):
        wts = out["weight"][i][out["weight"][i] > 0]
        assert np.allclose(wts, 4 / t[i], rtol=1e-6)


def test_batches(pyr, corpus):
    p = pyramask.Pyramid(pyr)
    enc = pyramask.Encoded(p, corpus.read_bytes()[:30000], MODEL_LEVEL)
    b = enc.windows([0, 100, 200, 300], 48)
    m = pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, structure="unit", unit_level=3,
                                        types="level", sampler="antithetic")
    out = m.corrupt_batch(b["ids"], 0, pyramask.Rng(11), **b["seq"])
    t = out["t"]
    # antithetic: one uniform, evenly spaced times
    assert np.allclose(np.sort((t - t[0]) % 1), [0, 0.25, 0.5, 0.75])
    # the same times through corrupt, from a generator past the one draw of the times
    rng = pyramask.Rng(11)
    assert np.allclose(m.sample_times(4, rng), t)
    again = m.corrupt(b["ids"], t, rng, **b["seq"])
    for k in ("ids", "masked", "weight", "type"):
        assert np.array_equal(out[k], again[k]), k
    # one row of a batch is the sequence alone with the generator in the same state
    rng = pyramask.Rng(5)
    batch = m.corrupt(b["ids"], 0.6, rng, **b["seq"])
    rng = pyramask.Rng(5)
    for i in range(4):
        row = m.corrupt(b["ids"][i], 0.6, rng, unit_of=b["seq"]["unit_of"][i],
                        text=b["seq"]["text"][i], offsets=b["seq"]["offsets"][i])
        assert np.array_equal(row["ids"], batch["ids"][i])
    # the same with per-row texts and offsets (regex units, class types)
    r = pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, structure="regex", regex="words",
                                        types="class")
    batch = r.corrupt(b["ids"], 0.6, pyramask.Rng(8), **b["seq"])
    rng = pyramask.Rng(8)
    for i in range(4):
        row = r.corrupt(b["ids"][i], 0.6, rng, text=b["seq"]["text"][i],
                        offsets=b["seq"]["offsets"][i])
        assert np.array_equal(row["type"], batch["type"][i])
        assert np.array_equal(row["masked"], batch["masked"][i])
    # units: as the structure cuts the sequence
    u = m.units(b["ids"][0], pyramask.Rng(1), unit_of=b["seq"]["unit_of"][0])
    fine = b["seq"]["unit_of"][0][1]  # level 3 = the second coarser level
    assert np.array_equal(u, np.r_[np.flatnonzero(np.diff(fine, prepend=-1)), 48])
    # priors: K x V log-probabilities
    m.prior_add(b["ids"], pyramask.Rng(3), **b["seq"])
    lp = m.prior_export()
    assert lp.shape == (m.n_types, m.vocab_size)
    assert np.allclose(np.exp(lp.astype(np.float64)).sum(axis=1), 1, atol=1e-4)


def test_chain(pyr, corpus):
    """A coarse-to-fine chain: positions at [MASK] are exactly the flat corruption's masks
    (the same draws), descriptions and targets come from the maps, weights are the chain's."""
    p = pyramask.Pyramid(pyr)
    V = p.vocab_size(MODEL_LEVEL)
    enc = pyramask.Encoded(p, corpus.read_bytes()[:20000], MODEL_LEVEL)
    b = enc.windows([0, 64, 128], 64)
    map1 = np.array([len(p.token_bytes(i)) - 1 if len(p.token_bytes(i)) < 4 else 3
                     for i in range(V)], dtype=np.int32)       # 4 length classes
    map2 = np.array([0, 0, 1, 1], dtype=np.int32)              # short, long
    flat = pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, types="class")
    m = pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, types="class", chain=[map1, map2],
                                        chain_shape=0.5)
    assert m.chain_length == 2 and m.n_inputs == V + m.n_types + 4 + 2
    assert m.level_range(0) == (0, V) and m.level_range(3) == (V, m.n_types)
    assert m.level_range(1) == (V + m.n_types, 4) and m.level_range(2) == (V + m.n_types + 4, 2)
    assert np.array_equal(m.chain_descriptions(2), map2[map1])
    assert np.array_equal(m.chain_map(1), map1)
    t = np.array([0.2, 0.5, 0.8])
    a = flat.corrupt(b["ids"], t, pyramask.Rng(4), **b["seq"])
    c = m.corrupt(b["ids"], t, pyramask.Rng(4), **b["seq"])
    assert np.array_equal(c["level"] == 3, a["masked"])
    assert np.array_equal(c["ids"][c["level"] == 3], a["ids"][a["masked"]])
    first1, first2 = V + m.n_types, V + m.n_types + 4
    x = b["ids"]
    lv = c["level"]
    assert np.array_equal(c["ids"][lv == 0], x[lv == 0])
    assert np.array_equal(c["ids"][lv == 1], first1 + map1[x[lv == 1]])
    assert np.array_equal(c["ids"][lv == 2], first2 + map2[map1[x[lv == 2]]])
    assert np.array_equal(c["target"][lv <= 1], x[lv <= 1])
    assert np.array_equal(c["target"][lv == 2], first1 + map1[x[lv == 2]])
    assert np.array_equal(c["target"][lv == 3], first2 + map2[map1[x[lv == 3]]])
    assert np.array_equal(c["masked"], lv > 0) and np.all(c["type"][lv < 3] == -1)
    for i in range(3):
        F, w = m.chain_weights(t[i], 1.0)
        assert F[-1] == pytest.approx(t[i]) and np.all(np.diff(F) <= 0)
        for lvl in (1, 2, 3):
            sel = lv[i] == lvl
            assert np.allclose(c["weight"][i][sel], w[lvl - 1], rtol=1e-5)
    k = m.chain_kernel(0.3, 0.6)
    assert k.shape == (4, 4) and np.allclose(k.sum(axis=1), 1)
    assert m.chain_scoring_schedule().startswith("sinpow:8")
    # the level policy cannot go with a chain: its types change as positions leave [MASK]
    with pytest.raises(pyramask.Error, match="level"):
        pyramask.Corruption.for_pyramid(p, MODEL_LEVEL, types="level", chain=[map1])
