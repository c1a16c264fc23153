"""pyramask.Pyramid against the command: encoding, offsets and decoding at every level bit for
bit with `pyramask vocab encode|decode`, training with `vocab build`, exports with `vocab
export`, and the alignment against the encodings of each level."""

import os
import random

import numpy as np
import pytest

import pyramask
from conftest import run


def texts(corpus):
    raw = corpus.read_bytes()
    rnd = random.Random(5)
    return {
        "prose": raw[1000:21000],
        "code": raw[-15000:],
        "binary": bytes(rnd.randrange(256) for _ in range(3000)),
        "unicode": "naïve café — 中文 🙂 x=1\r\n\t'll \u00a0\u3000".encode() * 20,
        "empty": b"",
    }


def cli_ints(out):
    return np.array([int(x) for x in out.split()], dtype=np.int64)


def test_encode_decode_match_the_command(pyr, corpus, work):
    p = pyramask.Pyramid(pyr)
    assert p.nlevels == 4 and p.superword_level == 4
    for name, text in texts(corpus).items():
        f = work / f"text-{name}"
        f.write_bytes(text)
        for level in range(p.nlevels + 1):
            want = cli_ints(run("vocab", "encode", "-p", pyr, "--level", level, f).stdout)
            ids = p.encode(text, level=level)
            assert ids.dtype == np.int32
            assert np.array_equal(ids, want), f"{name} level {level}"
            offs = cli_ints(run("vocab", "encode", "-p", pyr, "--level", level, "--offsets",
                                f).stdout)
            ids2, starts = p.encode(text, level, offsets=True, threads=2)
            assert np.array_equal(ids2, ids) and np.array_equal(starts, offs)
            assert p.decode(ids, level) == text
            idsf = work / "ids.txt"
            idsf.write_text(" ".join(map(str, ids)) + "\n")
            assert run("vocab", "decode", "-p", pyr, "--level", level, idsf).stdout == text
    # the default level is the top one; str is UTF-8
    assert np.array_equal(p.encode("In the beginning"),
                          p.encode("In the beginning".encode(), p.nlevels))


def test_tokens_and_levels(pyr):
    p = pyramask.Pyramid(pyr)
    assert [p.vocab_size(k) for k in range(5)] == [256, 300, 500, 800, 1000]
    assert p.ntokens == 1000 and p.pretok_name == "gpt2"
    assert p.token_bytes(ord("a")) == b"a" and p.token_stage(65) == "byte"
    left, right = p.token_parts(256)
    assert p.token_bytes(256) == p.token_bytes(left) + p.token_bytes(right)
    assert p.token_level(256) == 1 and p.token_level(999) == 4
    assert p.token_stage(999) == "superword" and p.token_parts(3) is None
    assert p.token_count(300) > 0
    assert len(p.hash) == 16


def test_build_matches_the_command(pyr, corpus, work):
    p = pyramask.Pyramid(pyr)
    q = pyramask.Pyramid.build([300, 500, 800], corpus=[str(corpus)], superword=1000,
                               pretok="gpt2", threads=2)
    assert q.hash == p.hash
    r = pyramask.Pyramid.build([300, 500, 800], texts=[corpus.read_bytes()], superword=1000,
                               pretok="gpt2")
    assert r.hash == p.hash
    out = work / "saved.pyr"
    r.save(out)
    assert pyramask.Pyramid(out).hash == p.hash


def test_alignment(pyr, corpus):
    p = pyramask.Pyramid(pyr)
    text = texts(corpus)["prose"]
    a = p.align(text, 1, 4)
    assert (a["lo"], a["hi"], a["len"]) == (1, 4, len(text))
    for k in range(1, 5):
        ids, starts = p.encode(text, k, offsets=True)
        assert np.array_equal(a["ids"][k], ids)
        assert np.array_equal(a["start"][k][:-1], starts) and a["start"][k][-1] == len(text)
    lo = a["start"][1]
    for k in range(2, 5):
        unit, first, start = a["unit"][k], a["first"][k], a["start"][k]
        # token u of level k is exactly level-1 tokens first[u] .. first[u+1]-1
        assert first[0] == 0 and first[-1] == len(a["ids"][1])
        assert np.array_equal(lo[first], start)
        assert np.all(np.diff(unit) >= 0) and np.all(np.diff(unit) <= 1)
        assert np.array_equal(unit, np.repeat(np.arange(len(first) - 1), np.diff(first)))
        # the bytes of each coarse token are those of its run of fine tokens
        for u in range(0, len(first) - 1, 97):
            run_bytes = b"".join(p.token_bytes(int(x)) for x in a["ids"][1][first[u]:first[u + 1]])
            assert run_bytes == p.token_bytes(int(a["ids"][k][u]))


def test_export_matches_the_command(pyr, work):
    p = pyramask.Pyramid(pyr)
    for level in (1, 3):
        for fmt in ("hf", "tiktoken"):
            a, b = work / f"a.{fmt}", work / f"b.{fmt}"
            run("vocab", "export", pyr, "--level", level, "--format", fmt, "-o", a)
            p.export(b, level, fmt)
            assert a.read_bytes() == b.read_bytes()
    with pytest.raises(pyramask.Error, match="level 4 is a superword level") as e:
        p.export_check(4, "tiktoken")
    assert e.value.code < 0 and e.value.library == "tok"
    assert not os.path.exists(work / "c.json")
    with pytest.raises(pyramask.Error):
        p.export(work / "c.json", 4, "hf")
    assert not os.path.exists(work / "c.json")
    # a tiktoken export imports back as a one-level pyramid encoding the same
    back = pyramask.Pyramid.import_tiktoken(str(work / "b.tiktoken"), pretok="gpt2")
    text = b"And God said, Let there be light: and there was light. def f(x): return x"
    assert np.array_equal(back.encode(text, 1), p.encode(text, 3))
