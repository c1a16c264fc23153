/* test_encode.c: encoding at every level: byte-exact round trips on real and random bytes,
 * nesting of the levels, parallel encoding equal to serial, the merge kernel, bad levels. */
#include "encode_impl.h"
#include "test_tok.h"
#include "tok_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Checks one encoding: ids in the level, starts contiguous, decode gives the input back. */
static void check_encoding(const tok *t, int level, const blob *in, const tok_ids *ids,
                           const char *what)
{
    size_t pos = 0;
    int bad = 0;
    for (size_t i = 0; i < ids->n && !bad; i++) {
        size_t len;
        if (!tok_token_bytes(t, ids->ids[i], &len) || tok_token_level(t, ids->ids[i]) > level ||
            ids->start[i] != pos) {
            CHECK(0,
                  "%s level %d: token %zu (id %d) starts at %zu, expected %zu, token level %d",
                  what, level, i, ids->ids[i], ids->start[i], pos,
                  tok_token_level(t, ids->ids[i]));
            bad = 1;
        }
        pos += len;
    }
    CHECK_INT(in->n, pos);
    uint8_t *out;
    size_t outlen;
    tok_err e = {0};
    int rc = tok_decode(t, level, ids->ids, ids->n, &out, &outlen, &e);
    CHECK_OK(rc, e);
    if (!rc) {
        size_t at = 0;
        while (at < outlen && at < in->n && out[at] == in->p[at])
            at++;
        CHECK(outlen == in->n && at == in->n,
              "%s level %d: round trip differs at byte %zu of %zu (got %zu bytes)", what, level,
              at, in->n, outlen);
        free(out);
    }
}

/* Every start of level k+1 is a start of level k. */
static void check_nesting(const tok_ids *fine, const tok_ids *coarse, const char *what, int k)
{
    size_t i = 0;
    for (size_t u = 0; u < coarse->n; u++) {
        while (i < fine->n && fine->start[i] < coarse->start[u])
            i++;
        if (i == fine->n || fine->start[i] != coarse->start[u]) {
            CHECK(0, "%s: level %d token %zu starts at byte %zu, inside a level-%d token", what,
                  k + 1, u, coarse->start[u], k);
            return;
        }
    }
    CHECK(coarse->n <= fine->n, "%s: level %d has %zu tokens, more than level %d's %zu", what,
          k + 1, coarse->n, k, fine->n);
}

static void check_all_levels(const tok *t, const blob *in, const char *what)
{
    tok_encoder *e;
    CHECK_INT(0, tok_encoder_open(&e, t));
    int L = tok_nlevels(t);
    tok_ids ids[TOK_MAX_LEVELS + 1];
    memset(ids, 0, sizeof ids);
    for (int k = 0; k <= L; k++) {
        CHECK_INT(0, tok_encode(e, k, in->p, in->n, &ids[k]));
        check_encoding(t, k, in, &ids[k], what);
        if (k)
            check_nesting(&ids[k - 1], &ids[k], what, k - 1);
    }
    /* again with a warm cache: the same result */
    tok_ids again = {0};
    CHECK_INT(0, tok_encode(e, L, in->p, in->n, &again));
    CHECK(again.n == ids[L].n && !memcmp(again.ids, ids[L].ids, again.n * sizeof *again.ids),
          "%s: second encoding differs (%zu vs %zu tokens)", what, again.n, ids[L].n);
    tok_ids_free(&again);
    for (int k = 0; k <= L; k++)
        tok_ids_free(&ids[k]);
    tok_encoder_close(&e);
    CHECK(e == NULL, "close sets the pointer to NULL");
}

static void check_parallel(const tok *t, const blob *in, const char *what)
{
    tok_encoder *e;
    tok_encoder_open(&e, t);
    for (int k = 1; k <= tok_nlevels(t); k++) {
        tok_ids one = {0};
        CHECK_INT(0, tok_encode(e, k, in->p, in->n, &one));
        for (int nt = 2; nt <= 4; nt += 2) {
            tok_ids par = {0};
            CHECK_INT(0, tok_encode_parallel(t, k, in->p, in->n, nt, &par));
            size_t i = 0;
            while (i < one.n && i < par.n && one.ids[i] == par.ids[i] &&
                   one.start[i] == par.start[i])
                i++;
            CHECK(par.n == one.n && i == one.n,
                  "%s level %d, %d threads: %zu tokens vs %zu serial, first difference at "
                  "token %zu",
                  what, k, nt, par.n, one.n, i);
            tok_ids_free(&par);
        }
        tok_ids_free(&one);
    }
    tok_encoder_close(&e);
}

/* A corpus cut into many parts a thread (the whole of the shipped prose and code with random
 * text between them, ~7.6 MB): with 2, 3 and 8 threads parts finish out of order, wait to be
 * joined and hand their buffers on; every level, the same ids and starts as one thread. */
static void check_parallel_large(const tok *t)
{
    blob a = data_file("prose/kjv.txt"), b = data_file("code/python-stdlib.txt");
    blob r = random_bytes(7, 300000, 1);
    blob in = {malloc(a.n + b.n + r.n), a.n + b.n + r.n};
    if (!in.p)
        return;
    memcpy(in.p, a.p, a.n);
    memcpy(in.p + a.n, r.p, r.n);
    memcpy(in.p + a.n + r.n, b.p, b.n);
    static const int levels[] = {1, -1};
    for (int li = 0; li < 2; li++) {
        int k = levels[li] < 0 ? tok_nlevels(t) : levels[li];
        tok_ids one = {0};
        CHECK_INT(0, tok_encode_parallel(t, k, in.p, in.n, 1, &one));
        static const int threads[] = {2, 3, 8};
        for (int ti = 0; ti < 3; ti++) {
            tok_ids par = {0};
            CHECK_INT(0, tok_encode_parallel(t, k, in.p, in.n, threads[ti], &par));
            size_t i = 0;
            while (i < one.n && i < par.n && one.ids[i] == par.ids[i] &&
                   one.start[i] == par.start[i])
                i++;
            CHECK(par.n == one.n && i == one.n,
                  "%zu bytes, level %d, %d threads: %zu tokens vs %zu on one thread, first "
                  "difference at token %zu",
                  in.n, k, threads[ti], par.n, one.n, i);
            tok_ids_free(&par);
        }
        tok_ids_free(&one);
    }
    free_blob(&in);
    free_blob(&r);
    free_blob(&b);
    free_blob(&a);
}

/* The reference: lowest rank first, leftmost on ties, by scanning. */
static size_t naive_merge(const pairmap *pm, int32_t lo, int32_t hi, int32_t *s, size_t n)
{
    for (;;) {
        int32_t best = INT32_MAX;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            int32_t r = tok_pairmap_get(pm, s[i], s[i + 1]);
            if (r >= lo && r < hi && r < best)
                best = r, bi = i;
        }
        if (best == INT32_MAX)
            return n;
        s[bi] = best;
        memmove(s + bi + 1, s + bi + 2, (n - bi - 2) * sizeof *s);
        n--;
    }
}

static void test_merge_kernel(const tok *t, const blob *text)
{
    merge_scratch sc = {0};
    int32_t a[600], b[600];
    for (size_t trial = 0; trial < 300; trial++) {
        size_t n = 2 + (trial * 7919) % 500, off = (trial * 104729) % (text->n - n);
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = t->byte_id[text->p[off + i]];
        int32_t hi = t->limit[1 + trial % (size_t)t->nlevels];
        size_t na = tok_bpe_merge(&t->pairs, 0, hi, a, n, &sc),
               nb = naive_merge(&t->pairs, 0, hi, b, n);
        CHECK(na == nb && !memcmp(a, b, na * sizeof *a),
              "kernel on %zu symbols: %zu vs reference %zu", n, na, nb);
    }
    tok_merge_scratch_free(&sc);
}

static void test_edges(const tok *t)
{
    tok_encoder *e;
    tok_encoder_open(&e, t);
    tok_ids ids = {0};
    CHECK_INT(0, tok_encode(e, tok_nlevels(t), "", 0, &ids));
    CHECK_INT(0, ids.n);
    CHECK_INT(TOK_ERANGE, tok_encode(e, tok_nlevels(t) + 1, "a", 1, &ids));
    CHECK_INT(TOK_ERANGE, tok_encode(e, -1, "a", 1, &ids));
    CHECK_INT(TOK_ERANGE, tok_encode_parallel(t, 99, "a", 1, 2, &ids));
    /* a long pre-token, long whitespace, a long line: the heap paths */
    blob runs[3] = {{malloc(100000), 100000}, {malloc(70000), 70000}, {malloc(60000), 60000}};
    memset(runs[0].p, 'a', runs[0].n);
    memset(runs[1].p, ' ', runs[1].n);
    for (size_t i = 0; i < runs[2].n; i++)
        runs[2].p[i] = " and the"[i % 8];
    for (int i = 0; i < 3; i++) {
        check_all_levels(t, &runs[i], "long run");
        free_blob(&runs[i]);
    }
    int32_t bad[] = {5, tok_ntokens(t)};
    uint8_t *out = (uint8_t *)"x";
    size_t outlen = 7;
    tok_err err = {0};
    CHECK_INT(TOK_ERANGE, tok_decode(t, -1, bad, 2, &out, &outlen, &err));
    CHECK(out == NULL && outlen == 0, "no output on error");
    CHECK(strstr(err.msg, "position 1") != NULL, "message names the position: '%s'", err.msg);
    int32_t high[] = {tok_vocab_size(t, 2) + 1};
    CHECK_INT(TOK_ERANGE, tok_decode(t, 1, high, 1, &out, &outlen, &err));
    CHECK_INT(0, tok_decode(t, 2, high, 0, &out, &outlen, &err));
    free(out);
    tok_ids_free(&ids);
    tok_encoder_close(&e);
    tok_encoder_close(&e); /* NULL-safe */
}

/* The paged blocks: from 1 MB up they start on a 2 MB boundary (what makes their first
 * touches one fault per 2 MB), zeroed when asked; a token array's first block is one that
 * realloc keeps and free frees. */
static void test_paged(void)
{
    const uintptr_t huge = 2u << 20;
    const size_t sizes[] = {1000, (1u << 20) - 1, 1u << 20, (3u << 20) + 5};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        uint8_t *p = tok_table_alloc(sizes[k], true);
        CHECK(p != NULL, "a table of %zu bytes", sizes[k]);
        if (!p)
            continue;
        CHECK(sizes[k] < (1u << 20) || (uintptr_t)p % huge == 0,
              "a table of %zu bytes starts on a 2 MB boundary", sizes[k]);
        size_t nonzero = 0;
        for (size_t i = 0; i < sizes[k]; i++)
            nonzero += p[i] != 0;
        CHECK(nonzero == 0, "a zeroed table of %zu bytes has %zu bytes set", sizes[k], nonzero);
        p[sizes[k] - 1] = 1;
        tok_table_free(p, sizes[k]);
    }
    tok_ids ids = {0};
    CHECK_INT(0, tok_ids_reserve(&ids, 300000)); /* 1.2 MB of ids, 2.4 MB of starts */
    CHECK((uintptr_t)ids.ids % huge == 0 && (uintptr_t)ids.start % huge == 0,
          "a token array's first block starts on a 2 MB boundary");
    for (size_t i = 0; i < 300000; i++) {
        ids.ids[i] = (int32_t)i;
        ids.start[i] = 3 * i;
    }
    CHECK_INT(0, tok_ids_reserve(&ids, 3000000));
    size_t bad = 0;
    for (size_t i = 0; i < 300000; i++)
        bad += ids.ids[i] != (int32_t)i || ids.start[i] != 3 * i;
    CHECK(bad == 0, "a token array keeps its contents as it grows (%zu differ)", bad);
    tok_ids_free(&ids);
}

/* The cache's records outgrow their first block and move into their whole space: what was
 * cached before the move is still found, and a warm encoder gives what a fresh one does. */
static void test_cache_move(const tok *t, const blob *in)
{
    tok_encoder *e, *fresh;
    CHECK_INT(0, tok_encoder_open(&e, t));
    CHECK_INT(0, tok_encoder_open(&fresh, t));
    tok_ids a = {0}, b = {0}, c = {0};
    CHECK_INT(0, tok_encode(e, 1, in->p, in->n, &a));
    CHECK(e->acap > (1u << 17), "the records (%zu words) did not outgrow their first block",
          e->alen);
    size_t unsound = tok_cache_unsound(e);
    CHECK(unsound == 0, "%zu of %zu cached pieces are not found by their own key", unsound,
          e->en);
    CHECK_INT(0, tok_encode(e, 1, in->p, in->n, &b));
    CHECK_INT(0, tok_encode(fresh, 1, in->p, in->n, &c));
    CHECK(a.n == c.n && b.n == c.n && !memcmp(a.ids, c.ids, c.n * sizeof *c.ids) &&
              !memcmp(b.ids, c.ids, c.n * sizeof *c.ids),
          "after the records moved: %zu and %zu tokens against a fresh encoder's %zu", a.n, b.n,
          c.n);
    tok_ids_free(&a);
    tok_ids_free(&b);
    tok_ids_free(&c);
    tok_encoder_close(&e);
    tok_encoder_close(&fresh);
}

void test_encode(void)
{
    const tok *p = prose_pyramid(), *c = code_pyramid();
    blob prose = prose_text(), code = code_text();
    blob r0 = random_bytes(1, 200000, 0), r1 = random_bytes(2, 200000, 1);
    blob tail = data_file("prose/kjv.txt"); /* text the pyramid was not trained on */
    blob unseen = {tail.p + 4000000, 150000};
    const struct {
        const tok *t;
        const blob *b;
        const char *what;
    } cases[] = {{p, &prose, "prose/prose"}, {p, &unseen, "prose/unseen"},
                 {p, &r0, "prose/random"},   {p, &r1, "prose/random-text"},
                 {c, &code, "code/code"},    {c, &prose, "code/prose"},
                 {c, &r0, "code/random"},    {c, &r1, "code/random-text"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check_all_levels(cases[i].t, cases[i].b, cases[i].what);
        if (i % 2 == 0 || i == 3)
            check_parallel(cases[i].t, cases[i].b, cases[i].what);
    }
    for (unsigned seed = 10; seed < 60; seed++) { /* many short random strings */
        blob s = random_bytes(seed, seed * 3 % 97, (int)(seed & 1));
        check_all_levels(p, &s, "short random");
        free_blob(&s);
    }
    check_parallel_large(p);
    test_paged();
    test_cache_move(p, &tail);
    test_merge_kernel(p, &prose);
    test_merge_kernel(c, &code);
    test_edges(p);
    free_blob(&r0);
    free_blob(&r1);
    free_blob(&tail);
}
