/* align.c: the joint encoding of one text at a range of levels, each level continuing the
 * merges of the one below it, and the alignment (which coarse token holds which fine ones). */
#include "encode_impl.h"

#include <stdlib.h>
#include <string.h>

void tok_align_free(tok_align *a)
{
    if (!a)
        return;
    for (int k = 0; k <= TOK_MAX_LEVELS; k++) {
        free(a->ids[k]);
        free(a->start[k]);
        free(a->unit[k]);
        free(a->first[k]);
    }
    memset(a, 0, sizeof *a);
}

static int grow32(int32_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return TOK_OK;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    int32_t *q = realloc(*p, c * sizeof *q);
    if (!q)
        return TOK_ENOMEM;
    *p = q;
    *cap = c;
    return TOK_OK;
}

/* Pieces up to this long have their tokens at every level cached, as one record: the counts
 * of levels max(lo, 1)..top, then their tokens level after level. */
enum { ALIGN_CACHE_MAX = 256 };
#define ALIGN_TAG (1ULL << 63)

/* Levels 1..min(hi, last subword level) of one piece, merging on from the bytes; appends
 * levels >= lo to lv[]; leaves the last subword level's tokens in e->seq (*m of them). */
static int align_piece(tok_encoder *e, int lo, int top, const uint8_t *s, size_t ps, size_t pe,
                       tok_ids *lv, size_t *m)
{
    const tok *t = e->t;
    size_t n = pe - ps;
    if (grow32(&e->seq, &e->seqcap, n))
        return TOK_ENOMEM;
    for (size_t i = 0; i < n; i++)
        e->seq[i] = t->byte_id[s[ps + i]];
    if (lo == 0 && tok_ids_push(&lv[0], t, e->seq, n, ps))
        return TOK_ENOMEM;
    if (top == 1) { /* one level: the encoder's own path, with its direct-mapped tables */
        size_t c;
        const int32_t *r = tok_encode_piece(e, s + ps, n, t->limit[1], &c);
        if (!r || (lo <= 1 && tok_ids_push(&lv[1], t, r, c, ps)))
            return TOK_ENOMEM;
        memmove(e->seq, r, c * sizeof *r);
        *m = c;
        return TOK_OK;
    }
    int k0 = lo > 1 ? lo : 1, nk = top - k0 + 1;
    uint64_t tag = ALIGN_TAG | (uint64_t)lo << 8 | (uint64_t)top, h = 0;
    bool cached = nk > 0 && n <= ALIGN_CACHE_MAX;
    if (cached) {
        size_t nr;
        const int32_t *r = tok_cache_get(e, tag, s + ps, n, &nr, &h);
        if (r) {
            const int32_t *ids = r + nk;
            for (int k = k0; k <= top; k++) {
                size_t c = (size_t)r[k - k0];
                if (tok_ids_push(&lv[k], t, ids, c, ps))
                    return TOK_ENOMEM;
                if (k == top)
                    memcpy(e->seq, ids, c * sizeof *ids);
                ids += c;
            }
            *m = (size_t)r[nk - 1];
            return TOK_OK;
        }
    }
    size_t at[TOK_MAX_LEVELS + 1]; /* where this piece's tokens start in each level */
    for (int k = k0; k <= top; k++)
        at[k] = lv[k].n;
    for (int k = 1; k <= top; k++) {
        int32_t id;
        if (t->rule == RULE_RANKS && n > 1 &&
            (id = tok_bytemap_get(&t->byid, (bytestrs){t->bytes, t->off}, s + ps, pe - ps)) >=
                0 &&
            id < t->limit[k]) {
            e->seq[0] = id;
            n = 1;
        } else {
            n = tok_bpe_merge(&t->pairs, 0, t->limit[k], e->seq, n, &e->sc);
        }
        if (k >= lo && tok_ids_push(&lv[k], t, e->seq, n, ps))
            return TOK_ENOMEM;
    }
    *m = n;
    if (cached) { /* the record, from the tokens just appended to each level */
        size_t nr = (size_t)nk;
        for (int k = k0; k <= top; k++)
            nr += lv[k].n - at[k];
        if (grow32(&e->rec, &e->reccap, nr))
            return TOK_ENOMEM;
        int32_t *ids = e->rec + nk;
        for (int k = k0; k <= top; k++) {
            size_t c = lv[k].n - at[k];
            e->rec[k - k0] = (int32_t)c;
            memcpy(ids, lv[k].ids + at[k], c * sizeof *ids);
            ids += c;
        }
        tok_cache_put(e, tag, h, s + ps, pe - ps, e->rec, nr);
    }
    return TOK_OK;
}

/* The superword levels of a line whose last-subword-level tokens are e->seq2[0..k). */
static int align_line(tok_encoder *e, int lo, int hi, size_t cs, size_t k, tok_ids *lv)
{
    const tok *t = e->t;
    for (int lev = t->super_level; lev <= hi; lev++) {
        k = tok_bpe_merge(&t->pairs, t->super_start, t->limit[lev], e->seq2, k, &e->sc);
        if (lev >= lo && tok_ids_push(&lv[lev], t, e->seq2, k, cs))
            return TOK_ENOMEM;
    }
    return TOK_OK;
}

int tok_encode_levels_from(tok_encoder *e, int lo, int hi, const uint8_t *s, size_t n,
                           size_t from, size_t stop, tok_ids *lv, size_t *end, size_t *sync,
                           size_t *nsync, size_t maxsync)
{
    const tok *t = e->t;
    int sup = t->super_level && hi >= t->super_level;
    int top = sup ? t->super_level - 1 : hi; /* last level done piece by piece */
    pretok_iter it = {.pos = from};
    size_t ps, pe, m = 0, k = 0, cs = from;
    for (;;) {
        /* a line under way runs on past stop to its end */
        bool more =
            (it.pos < stop || it.pending || k) && tok_next_piece(e, s, n, &it, &ps, &pe);
        if (more) {
            int rc = align_piece(e, lo, top, s, ps, pe, lv, &m);
            if (rc)
                return rc;
        }
        if (!sup) {
            if (!more)
                break;
            if (sync && !it.pending && *nsync < maxsync)
                sync[(*nsync)++] = it.pos;
            continue;
        }
        bool nl = more && memchr(s + ps, '\n', pe - ps);
        if (more && !nl) { /* the piece joins the current line */
            if (!k)
                cs = ps;
            if (grow32(&e->seq2, &e->seq2cap, k + m))
                return TOK_ENOMEM;
            memcpy(e->seq2 + k, e->seq, m * sizeof *e->seq);
            k += m;
            continue;
        }
        if (k) {
            int rc = align_line(e, lo, hi, cs, k, lv);
            if (rc)
                return rc;
            k = 0;
        }
        if (!more)
            break;
        for (int lev = t->super_level; lev <= hi; lev++) /* a newline piece stays as it is */
            if (lev >= lo && tok_ids_push(&lv[lev], t, e->seq, m, ps))
                return TOK_ENOMEM;
        if (sync && !it.pending && *nsync < maxsync)
            sync[(*nsync)++] = it.pos;
    }
    *end = it.pos;
    return TOK_OK;
}

/* unit[k] and first[k] from the token starts of levels lo and k. */
static int link_levels(tok_align *a, int k)
{
    int lo = a->lo;
    size_t nf = a->n[lo], nc = a->n[k];
    a->unit[k] = malloc((nf ? nf : 1) * sizeof(size_t));
    a->first[k] = malloc((nc + 1) * sizeof(size_t));
    if (!a->unit[k] || !a->first[k])
        return TOK_ENOMEM;
    size_t u = 0;
    for (size_t i = 0; i < nf; i++) {
        while (u + 1 < nc && a->start[k][u + 1] <= a->start[lo][i])
            u++;
        a->unit[k][i] = u;
    }
    size_t i = 0;
    for (u = 0; u < nc; u++) {
        while (i < nf && a->start[lo][i] < a->start[k][u])
            i++;
        a->first[k][u] = i;
    }
    a->first[k][nc] = nf;
    return TOK_OK;
}

int tok_align_finish(tok_align *out, tok_ids *lv, int lo, int hi, size_t n, int rc)
{
    memset(out, 0, sizeof *out);
    out->lo = lo;
    out->hi = hi;
    out->len = n;
    for (int k = lo; k <= hi; k++) {
        out->n[k] = lv[k].n;
        out->ids[k] = lv[k].ids;
        size_t *st = realloc(lv[k].start, (lv[k].n + 1) * sizeof *st);
        if (!st) {
            out->start[k] = lv[k].start;
            rc = TOK_ENOMEM;
            continue;
        }
        st[lv[k].n] = n;
        out->start[k] = st;
    }
    for (int k = lo + 1; k <= hi && !rc; k++)
        rc = link_levels(out, k);
    if (rc)
        tok_align_free(out);
    return rc;
}

int tok_encode_aligned(tok_encoder *e, int lo, int hi, const void *buf, size_t n,
                       tok_align *out)
{
    memset(out, 0, sizeof *out);
    if (tok_check_level(e->t, lo) || tok_check_level(e->t, hi) || lo > hi)
        return TOK_ERANGE;
    tok_ids lv[TOK_MAX_LEVELS + 1];
    memset(lv, 0, sizeof lv);
    size_t end;
    int rc = TOK_OK;
    for (int k = lo; k <= hi && !rc; k++)
        rc = tok_reserve_output(&lv[k], n, k);
    if (!rc)
        rc = tok_encode_levels_from(e, lo, hi, buf, n, 0, n, lv, &end, NULL, NULL, 0);
    return tok_align_finish(out, lv, lo, hi, n, rc);
}
