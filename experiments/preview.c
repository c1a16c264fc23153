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

/* A chain's description at level l (1..m) of input id `id`: a prefix piece as {bytes} (a
 * newline, tab, brace or backslash inside written \n, \t, \{, \}, \\), a class as <name>,
 * a cluster as <#number>. */
static void render_description(const struct run_ctx *x, int l, int32_t id, int color, FILE *out)
{
    const struct chain_stage *st = &x->chain.stage[l - 1];
    int32_t d = id - mask_level_first_id(x->mask, l);
    if (color)
        fprintf(out, "\033[4;%dm", 34 + (l - 1) % 3);
    if (st->alphabet == CHAIN_ALPHA_TOKENS) {
        size_t len = 0;
        const uint8_t *b = tok_prefix_piece_bytes(x->tok, st->level, d, &len);
        fputc('{', out);
        for (size_t i = 0; b && i < len; i++) {
            const char *esc = b[i] == '\n'   ? "\\n"
                              : b[i] == '\t' ? "\\t"
                              : b[i] == '{'  ? "\\{"
                              : b[i] == '}'  ? "\\}"
                              : b[i] == '\\' ? "\\\\"
                                             : NULL;
            if (esc)
                fputs(esc, out);
            else
                fputc(b[i], out);
        }
        fputc('}', out);
    } else if (st->alphabet == CHAIN_ALPHA_CLASSES) {
        const char *name = mask_class_name(x->mask, d);
        fprintf(out, "<%s>", name ? name : "?");
    } else {
        fprintf(out, "<#%d>", (int)d);
    }
    if (color)
        fputs("\033[0m", out);
}

/* Writes the corrupted tokens: unmasked ones as their bytes, masked runs as their type, a
 * chain's descriptions one by one (level: NULL without a chain). */
static void render(const struct run_ctx *x, const char *text, const struct dataset *d,
                   const int32_t *ids, const uint8_t *masked, const int8_t *type,
                   const int8_t *level, int color, FILE *out, struct preview_count *count)
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
        int top = mask_chain_length(x->mask) + 1;
        if (level && level[i] < top) { /* a description: one position */
            render_description(x, level[i], ids[i], color, out);
            count->masked++;
            newline = 0;
            i++;
            continue;
        }
        int j = i;
        while (j < n && masked[j] && type[j] == type[i] && (!level || level[j] == top))
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
    int rc = dataset_encode(&d, x->tok, (int)x->v->tokenizer.model_level, text, len,
                            (int)x->v->train.threads);
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
    int chain = mask_chain_length(x->mask) > 0;
    int32_t *target = chain ? malloc((size_t)n * sizeof *target) : NULL;
    int8_t *level = chain ? malloc((size_t)n) : NULL;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r || !ids || !masked || !weight || !type || (chain && (!target || !level)) ||
        window_alloc(&w, n, x->nlevels, x->prompt)) {
        config_fail(err, "out of memory");
        status = -2;
        goto done;
    }
    gsl_rng_set(r, seed);
    mask_seq seq;
    dataset_window(&d, 0, &w, &seq);
    mask_out mo = {ids, masked, weight, type, 0, target, level};
    rc = mask_corrupt(x->mask, &seq, t, r, &mo);
    if (rc) {
        config_fail(err, "%s", mask_errmsg(x->mask));
        status = rc == MASK_E_RANGE || rc == MASK_E_INPUT ? -1 : -2;
        goto done;
    }
    render(x, text, &d, ids, masked, type, level, color, out, count);
done:
    window_free(&w);
    free(ids);
    free(masked);
    free(weight);
    free(type);
    free(target);
    free(level);
    gsl_rng_free(r);
    dataset_free(&d);
    return status;
}
