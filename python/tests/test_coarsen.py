"""libtok's coarsening maps from Python (prefix:N, cluster:C) against their definitions, and
as the maps of a coarse-to-fine chain."""

import numpy as np
import pytest

import pyramask


@pytest.fixture(scope="module")
def p(pyr):
    return pyramask.Pyramid(pyr)


def test_prefix_map_is_the_first_piece(p):
    for level, piece in ((3, 1), (3, 2), (2, 0), (2, 1)):
        m = p.prefix_map(level, piece)
        assert m.shape == (p.vocab_size(level),) and m.dtype == np.int32
        for tid in range(0, p.vocab_size(level), 7):
            b = p.token_bytes(tid)
            first = p.encode(b, piece)[0] if piece > 0 else b[0]
            assert m[tid] == first, (level, piece, tid)
            assert p.prefix_piece_bytes(piece, int(m[tid])) == (
                p.token_bytes(int(first)) if piece > 0 else bytes([b[0]]))
    with pytest.raises(pyramask.Error, match="level|piece"):
        p.prefix_map(2, 2)
    with pytest.raises(pyramask.Error, match="level 9"):
        p.prefix_map(9, 0)
    with pytest.raises(pyramask.Error, match="not a description"):
        p.prefix_piece_bytes(1, 10 ** 6)


def test_cluster_map(p, corpus):
    ids = p.encode(corpus.read_bytes()[:150000], 2)
    V = p.vocab_size(2)
    m, st = pyramask.cluster_map(ids, V, 16, seed=3)
    assert m.shape == (V,) and set(np.unique(m)) == set(range(16))
    assert st["present"] > 0 and st["iterations"] >= 1 and st["objective"] >= 0
    again, _ = pyramask.cluster_map(ids, V, 16, seed=3, threads=2)
    assert np.array_equal(m, again)
    # clusters numbered in the order of their smallest id
    firsts = [int(np.flatnonzero(m == c)[0]) for c in range(16)]
    assert firsts == sorted(firsts)
    with pytest.raises(pyramask.Error, match="cluster count must be 1..500"):
        pyramask.cluster_map(ids, V, V + 1)
    with pytest.raises(pyramask.Error):
        pyramask.cluster_map(ids, 10, 4)  # ids past the alphabet
    with pytest.raises(pyramask.Error):
        pyramask.cluster_map([], V, 4)


def test_maps_as_a_chain(p, corpus):
    """prefix:1 then cluster:8 of the pieces, as a two-stage chain over level-2 ids."""
    level = 2
    enc = pyramask.Encoded(p, corpus.read_bytes()[:40000], level)
    m1 = p.prefix_map(level, 1)
    pieces = p.encode(corpus.read_bytes()[:150000], 1)
    m2, _ = pyramask.cluster_map(pieces, p.vocab_size(1), 8, seed=1)
    c = pyramask.Corruption.for_pyramid(p, level, chain=[m1, m2], chain_shape=0.5)
    assert c.chain_length == 2
    assert np.array_equal(c.chain_descriptions(2), m2[m1])
    b = enc.windows([0, 50, 100, 150], 48)
    out = c.corrupt(b["ids"], [0.2, 0.4, 0.6, 0.8], pyramask.Rng(2), **b["seq"])
    lv, x = out["level"], b["ids"]
    f1 = c.level_range(1)[0]
    assert np.array_equal(out["ids"][lv == 1], f1 + m1[x[lv == 1]])
    assert np.array_equal(out["target"][lv == 2], f1 + m1[x[lv == 2]])
