/* preview.c: one corruption of a text under a run's [mask] settings, written as plain text
 * with masked runs as [type] or [type*n]; shared by `mask preview` and the run's records. */
#include "preview.h"

#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>

const char *preview_valid_text(const struct run_ctx *x, size_t max, size_t *len)
{
    size_t n = x->corpus.valid_len < max ? x->corpus.valid_len : max;
    const char *nl = memchr(x->corpus.valid + n, '\n', x->corpus.valid_len - n);
    *len = nl ? (size_t)(nl - x->corpus.valid) + 1 : x->corpus.valid_len;
    return x->corpus.valid;
}

/* Writes the corrupted tokens: unmasked ones as their bytes, masked runs as their type. */
static void render(const struct run_ctx *x, const char *text, const struct dataset *d,
                   const uint8_t *masked, const int8_t *type, int color, FILE *out,
                   struct preview_count *count)
{
    const size_t *st = d->align.start[d->lo];
    int n = (int)d->n, newline = 1;
    count->masked = 0;
    count->tokens = n;
    for (int i = 0; i < n;) {
        if (!masked[i]) {
            fwrite(text + st[i], 1, st[i + 1] - st[i], out);
            newline = text[st[i + 1] - 1] == '\n';
            i++;
            continue;
        }
        int j = i;
        while (j < n && masked[j] && type[j] == type[i])
            j++;
        count->masked += j - i;
        const char *name = mask_type_name(x->mask, type[i] >= 0 ? type[i] : 0);
        if (color)
            fprintf(out, "\033[7;%dm", 31 + (type[i] >= 0 ? type[i] : 0) % 6);
        if (j - i > 1)
            fprintf(out, "[%s*%d]", name ? name : "mask", j - i);
        else
            fprintf(out, "[%s]", name ? name : "mask");
        if (color)
            fputs("\033[0m", out);
        newline = 0;
        i = j;
    }
    if (!newline)
        fputc('\n', out);
}

int preview_render(struct run_ctx *x, const char *text, size_t len, double t,
                   unsigned long seed, int color, FILE *out, struct preview_count *count,
                   char err[CONFIG_ERR_MAX])
{
    struct dataset d;
    int rc = dataset_encode(&d, x->tok, (int)x->v->tokenizer.model_level, text, len);
    if (rc)
        return config_fail(err, "encoding: %s", tok_strerror(rc)), -2;
    int n = (int)d.n, status = 0;
    if (n == 0) {
        dataset_free(&d);
        return config_fail(err, "empty text");
    }
    struct window w = {0};
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    uint8_t *masked = malloc((size_t)n);
    float *weight = malloc((size_t)n * sizeof *weight);
    int8_t *type = malloc((size_t)n);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r || !ids || !masked || !weight || !type ||
        window_alloc(&w, n, x->nlevels, x->prompt)) {
        config_fail(err, "out of memory");
        status = -2;
        goto done;
    }
    gsl_rng_set(r, seed);
    mask_seq seq;
    dataset_window(&d, 0, &w, &seq);
    mask_out mo = {ids, masked, weight, type, 0, NULL, NULL};
    rc = mask_corrupt(x->mask, &seq, t, r, &mo);
    if (rc) {
        config_fail(err, "%s", mask_errmsg(x->mask));
        status = rc == MASK_E_RANGE || rc == MASK_E_INPUT ? -1 : -2;
        goto done;
    }
    render(x, text, &d, masked, type, color, out, count);
done:
    window_free(&w);
    free(ids);
    free(masked);
    free(weight);
    free(type);
    gsl_rng_free(r);
    dataset_free(&d);
    return status;
}
