/* varlen.c: DreamOn's variable-length training pairs: masked runs merged into [expand],
 * [delete]s inserted after masked positions, in a fixed window with padding. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "mask.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void mask_dreamon_default_settings(mask_dreamon_settings *s)
{
    *s = (mask_dreamon_settings){.vocab = 0,
                                 .expand_id = -1,
                                 .delete_id = -1,
                                 .pad_id = 0,
                                 .merge_scale = 0.5,
                                 .delete_prob = 0.1};
}

static int check(const mask_dreamon_settings *s, const int32_t *x, const int32_t *ids,
                 const uint8_t *masked, const float *weight, int n, int T, gsl_rng *r,
                 const mask_dreamon_out *out, char *err, size_t errlen)
{
    if (!s || !x || !ids || !masked || !weight || !r || !out || !out->ids || !out->target ||
        !out->weight)
        return fail(err, errlen, MASK_E_ARG, "dreamon: missing settings, arrays or generator");
    if (n < 1)
        return fail(err, errlen, MASK_E_ARG, "dreamon: empty sequence (%d tokens)", n);
    if (T < n)
        return fail(err, errlen, MASK_E_ARG,
                    "dreamon: sequence of %d tokens longer than the window %d", n, T);
    const int32_t V = s->vocab;
    if (V < 1)
        return fail(err, errlen, MASK_E_RANGE, "dreamon: vocabulary size %d", (int)V);
    if (s->expand_id < V || s->delete_id < V || s->expand_id == s->delete_id)
        return fail(err, errlen, MASK_E_RANGE,
                    "dreamon: expand id %d and delete id %d must be distinct and >= V = %d",
                    (int)s->expand_id, (int)s->delete_id, (int)V);
    if (s->pad_id < 0 || s->pad_id >= V)
        return fail(err, errlen, MASK_E_RANGE, "dreamon: pad id %d outside 0..%d",
                    (int)s->pad_id, (int)V - 1);
    if (!(s->merge_scale >= 0 && s->merge_scale <= 1))
        return fail(err, errlen, MASK_E_RANGE, "dreamon: merge_scale %g outside [0, 1]",
                    s->merge_scale);
    if (!(s->delete_prob >= 0 && s->delete_prob <= 1))
        return fail(err, errlen, MASK_E_RANGE, "dreamon: delete_prob %g outside [0, 1]",
                    s->delete_prob);
    for (int i = 0; i < n; i++) {
        if (x[i] < 0 || x[i] >= V)
            return fail(err, errlen, MASK_E_INPUT, "dreamon: position %d: id %d outside 0..%d",
                        i, (int)x[i], (int)V - 1);
        if (masked[i] ? ids[i] < V : ids[i] != x[i])
            return fail(
                err, errlen, MASK_E_INPUT,
                "dreamon: position %d: masked flag %d disagrees with input %d (clean %d)", i,
                masked[i], (int)ids[i], (int)x[i]);
        if (!(weight[i] >= 0) || !isfinite(weight[i]))
            return fail(err, errlen, MASK_E_INPUT, "dreamon: position %d: weight %g", i,
                        (double)weight[i]);
    }
    return MASK_OK;
}

/* writes one position unless the window is full */
static void put(mask_dreamon_out *o, int32_t in, int32_t tgt, float w, int32_t src,
                int32_t span)
{
    int k = o->length++;
    o->ids[k] = in;
    o->target[k] = tgt;
    o->weight[k] = w;
    if (o->src)
        o->src[k] = src;
    if (o->span)
        o->span[k] = span;
}

int mask_dreamon_augment(const mask_dreamon_settings *s, const int32_t *x, const int32_t *ids,
                         const uint8_t *masked, const float *weight, int n, int T, gsl_rng *r,
                         mask_dreamon_out *out, char *err, size_t errlen)
{
    int rc = check(s, x, ids, masked, weight, n, T, r, out, err, errlen);
    if (rc)
        return rc;
    int n_masked = 0;
    for (int i = 0; i < n; i++)
        n_masked += masked[i] != 0;
    const double p_merge = s->merge_scale * (1.0 - (double)n_masked / n);
    out->length = out->merged = out->inserted = out->dropped = 0;
    /* the clean tokens alone fit (n <= T) and a merge only shortens, so only insertions can
     * meet the window's end: one is kept only when the rest of the sequence still fits */
    int i = 0;
    while (i < n) {
        if (!masked[i]) {
            put(out, x[i], x[i], weight[i], i, 1);
            i++;
            continue;
        }
        int end = i;
        while (end < n && masked[end])
            end++;
        int merge = end - i >= 2 && gsl_rng_uniform(r) < p_merge;
        int step = merge ? end - i : 1;
        for (int j = i; j < end; j += step) {
            if (merge) {
                put(out, ids[j], s->expand_id, weight[j], j, end - i);
                out->merged++;
            } else {
                put(out, ids[j], x[j], weight[j], j, 1);
            }
            if (gsl_rng_uniform(r) < s->delete_prob) {
                /* room for it and for every clean token still to come, unmerged */
                if (out->length + 1 + (n - (j + step)) <= T) {
                    put(out, ids[j], s->delete_id, weight[j], -1, 0);
                    out->inserted++;
                } else {
                    out->dropped++;
                }
            }
        }
        i = end;
    }
    for (int k = out->length; k < T; k++) {
        out->ids[k] = out->target[k] = s->pad_id;
        out->weight[k] = 0.0f;
        if (out->src)
            out->src[k] = -1;
        if (out->span)
            out->span[k] = 0;
    }
    return MASK_OK;
}
