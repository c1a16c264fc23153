"""Bad input raises, with the library's message, and never crashes the interpreter: wrong
types and shapes, ids and levels out of range, inconsistent sequences, bad settings, bad
files. Each case runs in this process, so a crash fails the whole run."""

import numpy as np
import pytest

import pyramask


@pytest.fixture(scope="module")
def p(pyr):
    return pyramask.Pyramid(pyr)


def err(match, code=None):
    class Check:
        def __enter__(self):
            self.c = pytest.raises(pyramask.Error, match=match)
            self.info = self.c.__enter__()
            return self.info

        def __exit__(self, *a):
            r = self.c.__exit__(*a)
            if code is not None:
                assert self.info.value.code == code
            return r

    return Check()


def p_path(p):
    return "unused.pyr"


def test_threads(p, corpus):
    """Encoding runs without the GIL: threads encoding one pyramid at once agree with one."""
    import threading
    text = corpus.read_bytes()[:200000]
    want = p.encode(text, 3)
    got = [None] * 4

    def work(i):
        got[i] = p.encode(text, 3)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(np.array_equal(g, want) for g in got)


def test_pyramid_errors(p, work):
    with err("No such file", -3):
        pyramask.Pyramid(work / "missing.pyr")
    bad = work / "bad.pyr"
    bad.write_bytes(b"not a pyramid at all" * 10)
    with err("bad.pyr"):
        pyramask.Pyramid(bad)
    with err(r"level 9: the pyramid has levels 0\.\.4", -7):
        p.encode("x", level=9)
    with err("level -1"):
        p.encode("x", level=-1)
    with err("out of range", -7):
        p.decode([1, 2, 5000])
    with err("level 0|range|not in level"):
        p.decode([300], level=0)
    with err("token id 1000 out of range"):
        p.token_bytes(1000)
    with err("level 7"):
        p.vocab_size(7)
    with err("lo = 3 above hi = 1"):
        p.align("text", 3, 1)
    with pytest.raises(TypeError):
        p.encode(12345)
    with pytest.raises(TypeError):
        p.decode([1.5, 2.0])
    with pytest.raises(ValueError, match="32 bits"):
        p.decode([2 ** 40])
    with pytest.raises(ValueError, match="32 bits"):
        p.decode(np.array([2 ** 63], dtype=np.uint64))
    assert p.decode([]) == b"" and p.decode(np.array([104, 105], dtype=np.uint8)) == b"hi"
    with pytest.raises(ValueError):
        p.decode(np.zeros((2, 2), dtype=np.int32))
    with pytest.raises(ValueError, match="threads"):
        p.encode("x", threads=0)
    with pytest.raises(UnicodeEncodeError):
        p.encode("\ud800")
    with pytest.raises(ValueError, match="unknown export format 'spm'"):
        p.export(work / "x", 1, "spm")
    with err("No such file|nonexistent", -3):
        p.export("/nonexistent-dir/x.json", 1, "hf")
    with err("nonexistent|No such file"):
        p.save("/nonexistent-dir/x.pyr")
    with err("empty|corpus", -5):
        pyramask.Pyramid.build([300], texts=[b""])
    with err("levels|increasing", -2):
        pyramask.Pyramid.build([500, 300], texts=[b"abc abc"])
    with err("regex|offset", -4):
        pyramask.Pyramid.build([300], texts=[b"abc"], pretok="(unclosed")
    with pytest.raises(TypeError, match="corpus"):
        pyramask.Pyramid.build([300])
    with err("No such file"):
        pyramask.Pyramid.build([300], corpus=[str(work / "none.txt")])
    with err("expected 'base64-token rank'|no tokens|missing.tiktoken|No such"):
        pyramask.Pyramid.import_tiktoken(str(work / "missing.tiktoken"))
    # a pyramid is never replaced under readers
    with pytest.raises(RuntimeError, match="already open"):
        p.__init__(p_path(p))
    # an object made without __init__ says so instead of crashing
    raw = pyramask.Pyramid.__new__(pyramask.Pyramid)
    with pytest.raises(ValueError, match="not opened"):
        raw.encode("x")
    with pytest.raises(ValueError, match="not opened"):
        raw.nlevels


def test_corruption_errors(p):
    V = p.vocab_size(1)
    rng = pyramask.Rng(1)
    ids = np.arange(20, dtype=np.int32)
    with err("unknown structure 'spam'", -3):
        pyramask.Corruption(V, structure="spam")
    with err("unknown mask-type policy|unknown .*policy|spam"):
        pyramask.Corruption(V, types="spam")
    with err("unknown schedule|poly", -3):
        pyramask.Corruption(V, schedule="spam")
    with err("parameter|range|poly", -4):
        pyramask.Corruption(V, schedule="poly:-1")
    with err("K|types", -6):
        pyramask.Corruption(V, types="class", n_types=2)
    with err("No such file|cannot|rules"):
        pyramask.Corruption(V, importance="rules", importance_rules="/nonexistent.rules")
    with err("vocab|size|V"):
        pyramask.Corruption(0)
    m = pyramask.Corruption(V)
    with err(r"token 2 has id 9999 outside \[0, 300\)", -9):
        m.corrupt([1, 2, 9999], 0.5, rng)
    with err("outside|range|t", -4):
        m.corrupt(ids, 1.5, rng)
    with err("t|range"):
        m.corrupt(ids, float("nan"), rng)
    with pytest.raises(TypeError, match="Rng"):
        m.corrupt(ids, 0.5, None)
    with pytest.raises(TypeError):
        m.corrupt(ids.astype(np.float64) + 0.5, 0.5, rng)
    with pytest.raises(ValueError, match="32 bits"):
        m.corrupt([2 ** 33], 0.5, rng)
    with pytest.raises(ValueError, match="3 times for 2 sequences"):
        m.corrupt(np.zeros((2, 5), dtype=np.int32), [0.1, 0.2, 0.3], rng)
    with pytest.raises(ValueError, match="dimensions"):
        m.corrupt(np.zeros((2, 2, 2), dtype=np.int32), 0.5, rng)
    with err("sequence 1: token 0 has id -1"):
        m.corrupt(np.array([[1, 2], [-1, 2]]), 0.5, rng)
    # structures that need what the sequence did not give
    u = pyramask.Corruption(V, structure="unit", n_levels=2, unit_level=2)
    with err("coarser levels", -9):
        u.corrupt(ids, 0.5, rng)
    with pytest.raises(ValueError, match="unit_of"):
        u.corrupt(ids, 0.5, rng, unit_of=np.zeros((2, 19), dtype=np.int32))
    with err("contiguous", -9):
        u.corrupt(ids, 0.5, rng, unit_of=np.array([np.arange(20), np.arange(20)[::-1]]))
    r = pyramask.Corruption(V, structure="regex", regex="words")
    with err("needs the text", -9):
        r.corrupt(ids, 0.5, rng)
    text = b"x" * 40
    with err("offsets must increase", -9):
        r.corrupt(ids, 0.5, rng, text=text, offsets=np.zeros(20, dtype=np.int32))
    with err("offsets must increase|below text_len", -9):
        r.corrupt(ids, 0.5, rng, text=b"short", offsets=np.arange(20, dtype=np.int32))
    with pytest.raises(ValueError, match="offsets"):
        r.corrupt(ids, 0.5, rng, text=text, offsets=np.arange(5, dtype=np.int32))
    with pytest.raises(ValueError, match="2 texts for 3"):
        r.corrupt(np.zeros((3, 4), dtype=np.int32), 0.5, rng, text=[b"a", b"b"],
                  offsets=np.zeros((3, 4), dtype=np.int32))
    resp = pyramask.Corruption(V, structure="response")
    with err("prompt_len = 30 outside", -9):
        resp.corrupt(ids, 0.5, rng, prompt_len=30)
    imp = pyramask.Corruption(V, importance="idf", importance_mode="schedule")
    with err("idf|corpus|before", -10):
        imp.corrupt(ids, 0.5, rng)
    with err("outside", -9):
        imp.corpus_add([V + 1])
    loss = pyramask.Corruption(V, importance="loss", importance_mode="loss")
    with err("importance|weight|negative|NaN", -5):
        loss.corrupt(ids, 0.5, rng, importance=np.full(20, -1.0))
    with pytest.raises(ValueError, match="importance"):
        loss.corrupt(ids, 0.5, rng, importance=np.ones(3))
    with pytest.raises(ValueError, match="B = 0"):
        m.sample_times(0, rng)


def test_chain_errors(p):
    V = p.vocab_size(1)
    good = np.zeros(V, dtype=np.int32)
    with pytest.raises(ValueError, match="chain map 1 has 5 entries, expected 300"):
        pyramask.Corruption(V, chain=[np.zeros(5, dtype=np.int32)])
    with err("chain stage 1: size 0 must be >= 1"):
        pyramask.Corruption(V, chain=[np.full(V, -3, dtype=np.int32)])
    with err(r"chain stage 1: map\[0\] = 5 is outside \[0, 3\)", -4):
        pyramask.Corruption(V, chain=[good + 5, np.array([0, 1, 1])])
    with pytest.raises(ValueError, match="at most 4 maps"):
        pyramask.Corruption(V, chain=[good] * 5)
    with err("gamma|shape|range|0, 1"):
        pyramask.Corruption(V, chain=[good], chain_shape=1.5)
    with pytest.raises(TypeError):
        pyramask.Corruption(V, chain=[good.astype(np.float32) + 0.5])
    m = pyramask.Corruption(V, chain=[good])
    with err("outside 1..1"):
        m.chain_map(2)
    with err("outside 0..2"):
        m.level_range(5)
