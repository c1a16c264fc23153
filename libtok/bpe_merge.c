/* bpe_merge.c: the merge kernel of encoding: repeatedly merge the adjacent pair whose merge
 * has the lowest rank (leftmost on ties); a linear scan for short runs, a heap for long ones. */
#include "tok_impl.h"

#include <stdlib.h>
#include <string.h>

enum { SHORT_RUN = 48 };
#define NONE INT32_MAX

static inline int32_t prio(const pairmap *pairs, int32_t lo, int32_t hi, int32_t a, int32_t b)
{
    int32_t r = tok_pairmap_get(pairs, a, b);
    return (r >= lo && r < hi) ? r : NONE;
}

static size_t merge_short(const pairmap *pairs, int32_t lo, int32_t hi, int32_t *s, size_t n)
{
    int32_t pr[SHORT_RUN];
    for (size_t i = 0; i + 1 < n; i++)
        pr[i] = prio(pairs, lo, hi, s[i], s[i + 1]);
    while (n > 1) {
        int32_t best = NONE;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (pr[i] < best) {
                best = pr[i];
                bi = i;
            }
        if (best == NONE)
            break;
        s[bi] = best;
        memmove(s + bi + 1, s + bi + 2, (n - bi - 2) * sizeof *s);
        if (bi + 2 < n)
            memmove(pr + bi + 1, pr + bi + 2, (n - bi - 3) * sizeof *pr);
        n--;
        if (bi + 1 < n)
            pr[bi] = prio(pairs, lo, hi, s[bi], s[bi + 1]);
        if (bi > 0)
            pr[bi - 1] = prio(pairs, lo, hi, s[bi - 1], s[bi]);
    }
    return n;
}

/* min-heap of (priority << 32 | position): lowest rank first, then leftmost */
static void heap_push(uint64_t *h, size_t *hn, uint64_t v)
{
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *hn)
{
    uint64_t top = h[0], v = h[--*hn];
    size_t n = *hn, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1] < h[c])
            c++;
        if (v <= h[c])
            break;
        h[i] = h[c];
        i = c;
    }
    if (n)
        h[i] = v;
    return top;
}

static size_t merge_long(const pairmap *pairs, int32_t lo, int32_t hi, int32_t *s, size_t n,
                         merge_scratch *sc)
{
    size_t need = 2 * n + 2 * 3 * n; /* next, prev, heap of 3n 64-bit entries */
    if (sc->cap < need) {
        int32_t *b = realloc(sc->buf, need * sizeof *b);
        if (!b)
            return n; /* out of memory: leave unmerged rather than fail (still exact) */
        sc->buf = b;
        sc->cap = need;
    }
    int32_t *next = sc->buf, *prev = next + n;
    uint64_t *heap = (uint64_t *)(void *)(prev + n);
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = (int32_t)(i + 1);
        prev[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t p = prio(pairs, lo, hi, s[i], s[i + 1]);
        if (p != NONE)
            heap_push(heap, &hn, (uint64_t)p << 32 | i);
    }
    size_t live = n;
    while (hn) {
        uint64_t e = heap_pop(heap, &hn);
        int32_t p = (int32_t)(e >> 32), i = (int32_t)(uint32_t)e;
        if (s[i] < 0 || (size_t)next[i] >= n)
            continue;
        int32_t j = next[i];
        if (prio(pairs, lo, hi, s[i], s[j]) != p)
            continue; /* stale entry */
        s[i] = p;
        s[j] = -1;
        next[i] = next[j];
        if ((size_t)next[j] < n)
            prev[next[j]] = i;
        live--;
        if (prev[i] >= 0) {
            int32_t q = prio(pairs, lo, hi, s[prev[i]], s[i]);
            if (q != NONE)
                heap_push(heap, &hn, (uint64_t)q << 32 | (uint32_t)prev[i]);
        }
        if ((size_t)next[i] < n) {
            int32_t q = prio(pairs, lo, hi, s[i], s[next[i]]);
            if (q != NONE)
                heap_push(heap, &hn, (uint64_t)q << 32 | (uint32_t)i);
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i = (size_t)next[i])
        s[k++] = s[i];
    (void)live;
    return k;
}

size_t tok_bpe_merge(const pairmap *pairs, int32_t lo, int32_t hi, int32_t *s, size_t n,
                     merge_scratch *sc)
{
    if (n < 2 || hi <= lo)
        return n;
    if (n <= SHORT_RUN)
        return merge_short(pairs, lo, hi, s, n);
    return merge_long(pairs, lo, hi, s, n, sc);
}

void tok_merge_scratch_free(merge_scratch *sc)
{
    free(sc->buf);
    sc->buf = NULL;
    sc->cap = 0;
}
