/* quality.c: sample measures from sorted n-gram keys (k ids of 21 bits in one 64-bit key). */
#include "quality.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int key_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The sorted k-gram keys of x (n - k + 1 of them in *out, malloc'd); -1 on out of memory. */
static long grams(const int32_t *x, size_t n, int k, uint64_t **out)
{
    *out = NULL;
    if (n < (size_t)k || k < 1 || k > 3)
        return 0;
    size_t m = n - (size_t)k + 1;
    uint64_t *g = malloc(m * sizeof *g);
    if (!g)
        return -1;
    for (size_t i = 0; i < m; i++) {
        uint64_t key = 0;
        for (int j = 0; j < k; j++)
            key = key << 21 | ((uint64_t)(uint32_t)x[i + (size_t)j] & 0x1fffff);
        g[i] = key;
    }
    qsort(g, m, sizeof *g, key_cmp);
    *out = g;
    return (long)m;
}

double quality_entropy(const int32_t *x, size_t n)
{
    uint64_t *g;
    long m = grams(x, n, 1, &g);
    double h = 0.0;
    for (long i = 0, j; i < m; i = j) {
        for (j = i; j < m && g[j] == g[i]; j++)
            ;
        double p = (double)(j - i) / (double)m;
        h -= p * log2(p);
    }
    free(g);
    return h;
}

double quality_distinct(const int32_t *x, size_t n, int k)
{
    uint64_t *g;
    long m = grams(x, n, k, &g), u = 0;
    for (long i = 0; i < m; i++)
        u += i == 0 || g[i] != g[i - 1];
    free(g);
    return m > 0 ? (double)u / (double)m : 0.0;
}

double quality_repetition(const int32_t *x, size_t n, int window)
{
    if (n < 2)
        return 0.0;
    size_t rep = 0;
    for (size_t t = 1; t < n; t++) {
        size_t lo = t > (size_t)window ? t - (size_t)window : 0;
        for (size_t s = lo; s < t; s++)
            if (x[s] == x[t]) {
                rep++;
                break;
            }
    }
    return (double)rep / (double)(n - 1);
}

double quality_js(const int32_t *a, size_t na, const int32_t *b, size_t nb, int k)
{
    uint64_t *ga, *gb;
    long ma = grams(a, na, k, &ga), mb = grams(b, nb, k, &gb);
    double js = -1.0;
    if (ma > 0 && mb > 0) {
        js = 0.0;
        long i = 0, j = 0;
        while (i < ma || j < mb) {
            uint64_t key = j >= mb || (i < ma && ga[i] < gb[j]) ? ga[i] : gb[j];
            long ca = 0, cb = 0;
            while (i < ma && ga[i] == key)
                ca++, i++;
            while (j < mb && gb[j] == key)
                cb++, j++;
            double p = (double)ca / (double)ma, q = (double)cb / (double)mb, mid = (p + q) / 2;
            if (p > 0)
                js += 0.5 * p * log2(p / mid);
            if (q > 0)
                js += 0.5 * q * log2(q / mid);
        }
    }
    free(ga);
    free(gb);
    return js;
}

void quality_measure_cut(struct quality *q, const int32_t *x, int n, int T, const int *lengths,
                         int32_t eot, const int32_t *ref, size_t nref)
{
    if (!lengths) {
        quality_measure(q, x, n, T, ref, nref);
        return;
    }
    *q = (struct quality){.n = n};
    int32_t *cut = malloc(((size_t)n * (size_t)T + 1) * sizeof *cut);
    size_t m = 0;
    for (int b = 0; b < n; b++) {
        const int32_t *s = x + (size_t)b * T;
        size_t L = (size_t)lengths[b];
        q->length += (double)L / n;
        q->entropy += quality_entropy(s, L) / n;
        for (int k = 1; k <= 3; k++)
            q->distinct[k - 1] += quality_distinct(s, L, k) / n;
        q->repetition += quality_repetition(s, L, 16) / n;
        if (cut) {
            memcpy(cut + m, s, L * sizeof *cut);
            m += L;
            if (L < (size_t)T)
                cut[m++] = eot;
        }
    }
    q->js2 = cut ? quality_js(cut, m, ref, nref, 2) : -2;
    free(cut);
}

void quality_measure(struct quality *q, const int32_t *x, int n, int T, const int32_t *ref,
                     size_t nref)
{
    *q = (struct quality){.n = n, .length = T};
    for (int b = 0; b < n; b++) {
        const int32_t *s = x + (size_t)b * T;
        q->entropy += quality_entropy(s, (size_t)T) / n;
        for (int k = 1; k <= 3; k++)
            q->distinct[k - 1] += quality_distinct(s, (size_t)T, k) / n;
        q->repetition += quality_repetition(s, (size_t)T, 16) / n;
    }
    q->js2 = quality_js(x, (size_t)n * T, ref, nref, 2);
}
