/* libmask tests: the synthetic sequence generator (words, numbers, identifiers and
 * punctuation cut into 1..3-byte tokens, grouped into words and groups of words). */
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "fixture.h"

static void push(fixture *f, int *cap, const char *bytes, int len, int32_t w, int32_t g,
                 int8_t kind, int V)
{
    if (f->n == *cap) {
        *cap *= 2;
        f->ids = realloc(f->ids, (size_t)*cap * sizeof *f->ids);
        f->offsets = realloc(f->offsets, (size_t)*cap * sizeof *f->offsets);
        f->lvl1 = realloc(f->lvl1, (size_t)*cap * sizeof *f->lvl1);
        f->lvl2 = realloc(f->lvl2, (size_t)*cap * sizeof *f->lvl2);
        f->kind = realloc(f->kind, (size_t)*cap * sizeof *f->kind);
    }
    uint32_t h = 2166136261u; /* FNV-1a of the bytes: the same token text, the same id */
    for (int i = 0; i < len; i++)
        h = (h ^ (unsigned char)bytes[i]) * 16777619u;
    int all_space = 1;
    for (int i = 0; i < len; i++)
        all_space &= bytes[i] == ' ';
    f->ids[f->n] = (int32_t)(h % (uint32_t)V);
    f->offsets[f->n] = (int32_t)(bytes - f->text);
    f->lvl1[f->n] = w;
    f->lvl2[f->n] = g;
    f->kind[f->n] = all_space ? KIND_SPACE : kind;
    f->n++;
}

void fixture_build(fixture *f, int n_words, unsigned long seed, int V)
{
    memset(f, 0, sizeof *f);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    f->text = malloc((size_t)n_words * 16 + 1);
    int cap = 64;
    f->ids = malloc((size_t)cap * sizeof *f->ids);
    f->offsets = malloc((size_t)cap * sizeof *f->offsets);
    f->lvl1 = malloc((size_t)cap * sizeof *f->lvl1);
    f->lvl2 = malloc((size_t)cap * sizeof *f->lvl2);
    f->kind = malloc((size_t)cap * sizeof *f->kind);
    size_t len = 0;
    int group = 0, left_in_group = 0;
    for (int w = 0; w < n_words; w++) {
        if (left_in_group == 0)
            left_in_group = 1 + (int)gsl_rng_uniform_int(r, 4), group++;
        left_in_group--;
        double u = gsl_rng_uniform(r);
        int8_t kind = u < 0.72   ? KIND_WORD
                      : u < 0.85 ? KIND_NUMBER
                      : u < 0.9  ? KIND_IDENT
                                 : KIND_PUNCT;
        size_t start = len;
        if (kind == KIND_PUNCT) {
            f->text[len++] = ",.;:!?"[gsl_rng_uniform_int(r, 6)];
        } else {
            if (w > 0)
                f->text[len++] = ' ';
            int k = 1 + (int)gsl_rng_uniform_int(r, kind == KIND_NUMBER ? 5 : 9);
            for (int i = 0; i < k; i++)
                f->text[len++] = kind == KIND_NUMBER ? (char)('0' + gsl_rng_uniform_int(r, 10))
                                                     : (char)('a' + gsl_rng_uniform_int(r, 8));
            if (kind == KIND_IDENT) {
                f->text[len++] = '_';
                f->text[len++] = (char)('a' + gsl_rng_uniform_int(r, 8));
            }
        }
        for (size_t b = start; b < len;) { /* tokens of 1..3 bytes */
            int k = 1 + (int)gsl_rng_uniform_int(r, 3);
            if (b + (size_t)k > len)
                k = (int)(len - b);
            push(f, &cap, f->text + b, k, w, group, kind, V);
            b += (size_t)k;
        }
    }
    f->text[len] = '\0';
    f->text_len = len;
    f->unit_of[0] = f->lvl1;
    f->unit_of[1] = f->lvl2;
    f->seq = (mask_seq){.ids = f->ids,
                        .n = f->n,
                        .unit_of = f->unit_of,
                        .n_levels = 2,
                        .text = f->text,
                        .text_len = f->text_len,
                        .offsets = f->offsets};
    gsl_rng_free(r);
}

void fixture_free(fixture *f)
{
    free(f->ids), free(f->offsets), free(f->lvl1), free(f->lvl2), free(f->kind), free(f->text);
    memset(f, 0, sizeof *f);
}

mask *open_checked(const mask_settings *s)
{
    mask *m = NULL;
    int rc = mask_open(&m, s);
    CHECK(rc == 0, "mask_open: %s: %s", mask_strerror(rc), mask_errmsg(m));
    if (rc)
        mask_close(&m);
    return m;
}
