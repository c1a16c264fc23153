/* test_align.c: the joint encoding of all levels: each level equals the single-level
 * encoding, and every coarse token is exactly the run of fine tokens the alignment says. */
#include "test_tok.h"

#include <stdlib.h>
#include <string.h>

static void check_alignment(const tok *t, int lo, int hi, const blob *in, const char *what)
{
    tok_encoder *e;
    tok_encoder_open(&e, t);
    tok_align a;
    int rc = tok_encode_aligned(e, lo, hi, in->p, in->n, &a);
    CHECK_INT(0, rc);
    if (rc) {
        tok_encoder_close(&e);
        return;
    }
    for (int k = lo; k <= hi; k++) {
        tok_ids one = {0};
        tok_encode(e, k, in->p, in->n, &one);
        CHECK(one.n == a.n[k] && !memcmp(one.ids, a.ids[k], one.n * sizeof *one.ids),
              "%s: level %d joint encoding has %zu tokens, the level alone %zu", what, k,
              a.n[k], one.n);
        CHECK_INT(in->n, a.start[k][a.n[k]]);
        tok_ids_free(&one);
    }
    for (int k = lo + 1; k <= hi; k++) {
        int bad = 0;
        CHECK_INT(a.n[lo], a.first[k][a.n[k]]);
        for (size_t u = 0; u < a.n[k] && !bad; u++) {
            size_t f0 = a.first[k][u], f1 = a.first[k][u + 1];
            size_t clen;
            const uint8_t *cb = tok_token_bytes(t, a.ids[k][u], &clen);
            /* the run's bytes are the coarse token's bytes, its span the coarse span */
            size_t pos = 0;
            int same = f1 > f0 && a.start[lo][f0] == a.start[k][u];
            for (size_t i = f0; i < f1 && same; i++) {
                size_t flen;
                const uint8_t *fb = tok_token_bytes(t, a.ids[lo][i], &flen);
                same = pos + flen <= clen && !memcmp(cb + pos, fb, flen) && a.unit[k][i] == u;
                pos += flen;
            }
            if (!same || pos != clen || a.start[k][u + 1] - a.start[k][u] != clen) {
                CHECK(0,
                      "%s: level %d token %zu (id %d, bytes %zu..%zu) is not the run %zu..%zu "
                      "of level %d",
                      what, k, u, a.ids[k][u], a.start[k][u], a.start[k][u + 1], f0, f1, lo);
                bad = 1;
            }
        }
    }
    tok_align_free(&a);
    tok_align_free(&a); /* safe twice */
    CHECK_INT(TOK_ERANGE, tok_encode_aligned(e, 2, 1, in->p, in->n, &a));
    tok_encoder_close(&e);
}

/* tok_encode_aligned_parallel against the serial joint encoding: every level's ids and
 * starts, and the links, for 2 and 8 threads (parts finish out of order and are joined). */
static void check_aligned_parallel(const tok *t, int lo, int hi, const blob *in,
                                   const char *what)
{
    tok_encoder *e;
    tok_encoder_open(&e, t);
    tok_align one;
    CHECK_INT(0, tok_encode_aligned(e, lo, hi, in->p, in->n, &one));
    tok_encoder_close(&e);
    static const int threads[] = {2, 8};
    for (int ti = 0; ti < 2; ti++) {
        tok_align par;
        int rc = tok_encode_aligned_parallel(t, lo, hi, in->p, in->n, threads[ti], &par);
        CHECK_INT(0, rc);
        if (rc)
            continue;
        CHECK(par.lo == lo && par.hi == hi && par.len == in->n, "%s: range %d..%d, %zu bytes",
              what, par.lo, par.hi, par.len);
        for (int k = lo; k <= hi; k++) {
            size_t i = 0, nk = one.n[k];
            while (i < nk && i < par.n[k] && one.ids[k][i] == par.ids[k][i] &&
                   one.start[k][i] == par.start[k][i])
                i++;
            CHECK(par.n[k] == nk && i == nk && par.start[k][nk] == one.start[k][nk],
                  "%s, level %d (%d..%d), %d threads: %zu tokens vs %zu serial, first "
                  "difference at token %zu",
                  what, k, lo, hi, threads[ti], par.n[k], nk, i);
            if (k > lo && par.n[k] == nk && par.n[lo] == one.n[lo])
                CHECK(!memcmp(par.unit[k], one.unit[k], one.n[lo] * sizeof *one.unit[k]) &&
                          !memcmp(par.first[k], one.first[k], (nk + 1) * sizeof *one.first[k]),
                      "%s, level %d, %d threads: the links differ", what, k, threads[ti]);
        }
        tok_align_free(&par);
    }
    tok_align_free(&one);
    tok_align par;
    CHECK_INT(TOK_ERANGE, tok_encode_aligned_parallel(t, 2, 1, in->p, in->n, 2, &par));
    CHECK_INT(TOK_ERANGE, tok_encode_aligned_parallel(t, 0, 99, in->p, in->n, 2, &par));
}

void test_align(void)
{
    const tok *p = prose_pyramid(), *c = code_pyramid();
    blob prose = prose_text(), code = code_text();
    blob ps = {prose.p, 150000}, cs = {code.p + 100000, 150000};
    blob r = random_bytes(7, 60000, 1), r0 = random_bytes(8, 30000, 0);
    check_alignment(p, 1, tok_nlevels(p), &ps, "prose");
    check_alignment(p, 2, tok_nlevels(p), &ps, "prose from level 2");
    check_alignment(p, 0, 2, &ps, "prose bytes..2");
    check_alignment(p, 1, tok_nlevels(p), &r, "random text");
    check_alignment(p, 0, tok_nlevels(p), &r0, "random bytes");
    check_alignment(c, 1, tok_nlevels(c), &cs, "code");
    check_alignment(c, 1, tok_nlevels(c), &r, "code/random text");
    check_alignment(p, 3, 3, &ps, "one level");
    /* level 1 alone and with the bytes: the encoder's one-level path */
    check_alignment(p, 1, 1, &ps, "level 1");
    check_alignment(c, 1, 1, &cs, "code level 1");
    check_alignment(p, 0, 1, &r0, "random bytes..1");

    /* the whole shipped prose and code with random text between them (~7.6 MB, 116 parts a
     * thread): with a superword level (lines), from the bytes, and one level alone */
    blob a = data_file("prose/kjv.txt"), b = data_file("code/python-stdlib.txt");
    blob big = {malloc(a.n + b.n + r.n), a.n + b.n + r.n};
    if (big.p) {
        memcpy(big.p, a.p, a.n);
        memcpy(big.p + a.n, r.p, r.n);
        memcpy(big.p + a.n + r.n, b.p, b.n);
        check_aligned_parallel(p, 1, tok_nlevels(p), &big, "prose pyramid, large");
        check_aligned_parallel(c, 0, tok_nlevels(c), &big,
                               "code pyramid from the bytes, large");
        check_aligned_parallel(p, 1, 1, &big, "level 1, large");
        check_aligned_parallel(p, 2, 3, &big, "levels 2..3, large");
    }
    blob small = {ps.p, 100000};
    check_aligned_parallel(p, 1, tok_nlevels(p), &small, "one part");
    free_blob(&big);
    free_blob(&b);
    free_blob(&a);
    free_blob(&r);
    free_blob(&r0);
}
