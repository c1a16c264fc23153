/* varlen.c: variable-length generation: the end-of-text cut applied after decoding, the
 * DreamOn sampler whose [expand] and [delete] states grow and shrink the sequences, and a
 * model with edit classes as its denoiser. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

void model_cut_at_eot(int32_t *tokens, int B, int T, int32_t eot, int *lengths)
{
    for (int b = 0; b < B; b++) {
        int32_t *x = tokens + (size_t)b * T;
        int len = 0;
        while (len < T && x[len] != eot)
            len++;
        for (int t = len; t < T; t++)
            x[t] = eot;
        if (lengths)
            lengths[b] = len;
    }
}

static int vfail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

typedef struct varlen_pick {
    int pos;
    int cls;
    double p;
} varlen_pick;

/* most probable first, then leftmost */
static int pick_cmp(const void *a, const void *b)
{
    const varlen_pick *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* right to left */
static int pick_cmp_pos_desc(const void *a, const void *b)
{
    const varlen_pick *x = a, *y = b;
    return (x->pos < y->pos) - (x->pos > y->pos);
}

/* draws a class from logits l (n classes) at temperature temp; *prob its probability */
static int draw_class(const float *l, int n, float temp, gsl_rng *rng, double *prob)
{
    int best = 0;
    for (int c = 1; c < n; c++)
        if (l[c] > l[best])
            best = c;
    double z = 0, tt = temp > 0 ? temp : 1.0;
    for (int c = 0; c < n; c++)
        z += exp((l[c] - l[best]) / tt);
    int pick = best;
    if (temp > 0) {
        double u = gsl_rng_uniform(rng) * z, acc = 0;
        for (pick = 0; pick < n - 1; pick++) {
            acc += exp((l[pick] - l[best]) / tt);
            if (u < acc)
                break;
        }
    }
    *prob = exp((l[pick] - l[best]) / tt) / z;
    return pick;
}

int model_varlen_sample(const model_varlen_settings *s, int32_t *tokens, int *len, int B, int T,
                        gsl_rng *rng, char *err, size_t errlen)
{
    if (!s || !tokens || !len || !rng || B < 1 || T < 1 || !s->denoise)
        return vfail(err, errlen, MODEL_EINVAL, "varlen: missing settings, arrays or denoiser");
    const int V = s->vocab;
    if (V < 1 || s->mask_id < V || s->pad_id < 0 || s->pad_id >= V || s->steps < 1 ||
        !(s->temperature >= 0) || !isfinite(s->temperature))
        return vfail(err, errlen, MODEL_EINVAL,
                     "varlen: bad settings (vocab %d, mask id %d, pad id %d, steps %d, "
                     "temperature %g)",
                     V, (int)s->mask_id, (int)s->pad_id, s->steps, (double)s->temperature);
    for (int b = 0; b < B; b++) {
        if (len[b] < 1 || len[b] > T)
            return vfail(err, errlen, MODEL_EINVAL,
                         "varlen: sequence %d: length %d outside 1..%d", b, len[b], T);
        int holes = 0;
        for (int t = 0; t < len[b]; t++) {
            int32_t v = tokens[(size_t)b * T + t];
            if (v == s->mask_id)
                holes++;
            else if (v < 0 || v >= V)
                return vfail(err, errlen, MODEL_ERANGE,
                             "varlen: sequence %d position %d: id %d is neither a token "
                             "(0..%d) nor the mask %d",
                             b, t, (int)v, V - 1, (int)s->mask_id);
        }
        if (!holes)
            return vfail(err, errlen, MODEL_EINVAL, "varlen: sequence %d has no hole", b);
    }
    const int C = V + 2;
    float *logits = malloc(sizeof(float) * (size_t)B * T * C);
    varlen_pick *picks = malloc(sizeof(varlen_pick) * (size_t)T);
    if (!logits || !picks) {
        free(logits);
        free(picks);
        return vfail(err, errlen, MODEL_ENOMEM, "varlen: out of memory");
    }
    for (int b = 0; b < B; b++)
        for (int t = len[b]; t < T; t++)
            tokens[(size_t)b * T + t] = s->pad_id;
    int rc = MODEL_OK;
    for (int i = 0; i < s->steps; i++) {
        int any = 0;
        for (int b = 0; b < B && !any; b++)
            for (int t = 0; t < len[b] && !any; t++)
                any = tokens[(size_t)b * T + t] == s->mask_id;
        if (!any)
            break;
        rc = s->denoise(s->denoise_arg, tokens, len, B, T, logits);
        if (rc)
            break;
        const int last = i == s->steps - 1;
        for (int b = 0; b < B; b++) {
            int32_t *x = tokens + (size_t)b * T;
            int n = 0;
            for (int t = 0; t < len[b]; t++)
                if (x[t] == s->mask_id) {
                    const float *l = logits + ((size_t)b * T + t) * C;
                    picks[n].pos = t;
                    picks[n].cls =
                        draw_class(l, last ? V : C, s->temperature, rng, &picks[n].p);
                    n++;
                }
            if (!n)
                continue;
            int k = last ? n : (n + (s->steps - i) - 1) / (s->steps - i);
            qsort(picks, (size_t)n, sizeof *picks, pick_cmp);
            /* commit the k best right to left, so earlier positions stay where they are */
            qsort(picks, (size_t)k, sizeof *picks, pick_cmp_pos_desc);
            for (int j = 0; j < k; j++) {
                int p = picks[j].pos, c = picks[j].cls;
                if (c < V) {
                    x[p] = c;
                } else if (c == V) {
                    if (len[b] < T) {
                        memmove(x + p + 1, x + p, sizeof(int32_t) * (size_t)(len[b] - p));
                        len[b]++;
                        x[p] = x[p + 1] = s->mask_id;
                    }
                } else {
                    memmove(x + p, x + p + 1, sizeof(int32_t) * (size_t)(len[b] - p - 1));
                    len[b]--;
                    x[len[b]] = s->pad_id;
                }
            }
        }
    }
    free(logits);
    free(picks);
    return rc;
}

int model_varlen_model_denoise(void *arg, const int32_t *tokens, const int *len, int B, int T,
                               float *logits)
{
    model *m = arg;
    (void)len;
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (m->cfg.n_edit != 2)
        return model_fail(m, MODEL_EINVAL,
                          "varlen: the model has no edit classes (n_edit %d), so it cannot "
                          "choose lengths",
                          m->cfg.n_edit);
    if (!tokens || !logits)
        return model_fail(m, MODEL_EINVAL, "varlen: no tokens or logits");
    int rc = model_run_forward(m, tokens, NULL, NULL, B, T, 0);
    if (rc)
        return rc;
    const size_t W = (size_t)model_out_classes(m);
    const int32_t V = m->cfg.vocab, VK = V + m->cfg.n_mask;
    for (size_t n = 0; n < (size_t)B * T; n++) {
        if (tokens[n] < V || tokens[n] >= VK)
            continue;
        const float *row = m->acts.logits + m->row_off[m->row_of[n]];
        for (size_t j = 0; j < W; j++)
            if (isnan(row[j]) || row[j] == INFINITY)
                return model_fail(m, MODEL_ENONFINITE,
                                  "varlen: logits at batch %zu position %zu are not finite",
                                  n / T, n % T);
        memcpy(logits + n * W, row, W * sizeof(float));
    }
    return MODEL_OK;
}

int model_varlen_use_model(model_varlen_settings *s, model *m)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (!s)
        return model_fail(m, MODEL_EINVAL, "varlen: no settings");
    if (m->cfg.n_edit != 2)
        return model_fail(m, MODEL_EINVAL, "varlen: the model has no edit classes (n_edit %d)",
                          m->cfg.n_edit);
    s->vocab = m->cfg.vocab;
    s->mask_id = m->cfg.vocab;
    s->denoise = model_varlen_model_denoise;
    s->denoise_arg = m;
    return MODEL_OK;
}
