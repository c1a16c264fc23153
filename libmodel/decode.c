/* decode.c: left-to-right samplers on the key/value cache: AR (ancestral, temperature, top-p),
 * block diffusion (the flat strategies inside each block), diffusion's dual-cache blocks. */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* out (B, hi - lo) = the columns lo..hi-1 of tok (B, T) */
static void gather(int32_t *out, const int32_t *tok, int B, int T, int lo, int hi)
{
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * (hi - lo), tok + (size_t)b * T + lo,
               (size_t)(hi - lo) * sizeof *tok);
}

typedef struct prob_ix {
    double p;
    int j;
} prob_ix;

static int prob_desc(const void *a, const void *b)
{
    const prob_ix *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->j - y->j;
}

/* AR's draw from logits l (V): greedy at temp 0, else softmax(l / temp), restricted to the
 * nucleus (the most probable tokens whose mass first reaches top_p) when 0 < top_p < 1 */
static int32_t ar_draw(const float *l, int V, float temp, float top_p, gsl_rng *rng,
                       prob_ix *px)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        best = l[j] > l[best] ? j : best;
    if (temp <= 0.0f)
        return best;
    if (!(top_p > 0.0f && top_p < 1.0f))
        return model_sample_draw(l, V, temp, rng);
    double sum = 0.0;
    for (int j = 0; j < V; j++) {
        px[j] = (prob_ix){exp((double)(l[j] - l[best]) / temp), j};
        sum += px[j].p;
    }
    qsort(px, (size_t)V, sizeof *px, prob_desc);
    int n = 0;
    double mass = 0.0;
    while (n < V && mass < top_p * sum)
        mass += px[n++].p;
    double u = gsl_rng_uniform(rng) * mass, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += px[i].p;
        if (u < acc)
            return px[i].j;
    }
    return px[n - 1].j;
}

int model_decode_ar(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                    gsl_rng *rng)
{
    const int V = m->cfg.vocab;
    int t0 = T, last = -1;
    for (int b = 0; b < B; b++) {
        if (tok[(size_t)b * T] >= V)
            return model_fail(m, MODEL_EINVAL,
                              "sample: position 0 of sequence %d is a mask id: an AR model "
                              "predicts each position from those before it, so the first must "
                              "be given",
                              b);
        for (int t = 1; t < T; t++)
            if (tok[(size_t)b * T + t] >= V) {
                t0 = t < t0 ? t : t0;
                last = t > last ? t : last;
            }
    }
    if (last < 0)
        return MODEL_OK;
    model_cache *c = NULL;
    int rc = model_cache_open(m, &c, B);
    if (rc)
        return rc;
    int32_t *rows = malloc((size_t)B * T * sizeof *rows);
    float *logits = malloc((size_t)B * V * sizeof *logits);
    prob_ix *px = malloc((size_t)V * sizeof *px);
    if (!rows || !logits || !px) {
        rc = model_fail(m, MODEL_ENOMEM, "out of memory");
        goto done;
    }
    const int cached = s->cache != MODEL_CACHE_NONE, total = last - t0 + 1;
    for (int t = t0; t <= last && !rc; t++) {
        /* row t-1's logits predict position t */
        if (!cached) {
            model_cache_reset(c);
            gather(rows, tok, B, T, 0, t);
            rc = model_cache_step(c, rows, 0, t, 0, t - 1, 1, logits);
        } else if (t == t0) {
            gather(rows, tok, B, T, 0, t);
            rc = model_cache_step(c, rows, 0, t, t, t - 1, 1, logits);
        } else {
            gather(rows, tok, B, T, t - 1, t);
            rc = model_cache_step(c, rows, t - 1, 1, 1, 0, 1, logits);
        }
        if (rc)
            break;
        for (int b = 0; b < B; b++) {
            int32_t *x = tok + (size_t)b * T + t;
            if (*x >= V)
                *x = ar_draw(logits + (size_t)b * V, V, s->temperature, s->top_p, rng, px);
        }
        if (s->on_step)
            s->on_step(s->on_step_arg, t - t0 + 1, total, tok);
    }
done:
    free(rows);
    free(logits);
    free(px);
    model_cache_close(&c);
    return rc;
}

typedef struct cand {
    double conf;
    int pos;
    int32_t tok;
} cand;

static int cand_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->conf != y->conf)
        return x->conf > y->conf ? -1 : 1;
    return x->pos - y->pos;
}

/* The work of one block's steps: buffers, and the reveal rules given the block's logits. */
typedef struct blockwork {
    int B, T, V, lo, hi;
    int *plan;     /* (B) masks left in the block */
    cand *cands;   /* (hi - lo) */
    int32_t *rows; /* (B, T) gathered ids */
    float *logits; /* (B, hi - lo, V) */
} blockwork;

/* One step inside [lo, hi) with `left` steps left (this one included): RANDOM reveals each
 * mask with probability 1/left (all at the last), drawn from its logits; the confidence
 * strategies reveal plan/left (rounded up) of each sequence's masks, the most confident
 * proposals (LLaDA). */
static void reveal(blockwork *w, int32_t *tok, int left, const model_sample_settings *s,
                   gsl_rng *rng)
{
    const int V = w->V, n = w->hi - w->lo;
    for (int b = 0; b < w->B; b++) {
        int nc = 0;
        for (int i = 0; i < n; i++) {
            int32_t *x = tok + (size_t)b * w->T + w->lo + i;
            const float *l = w->logits + ((size_t)b * n + i) * V;
            if (*x < V)
                continue;
            if (s->strategy == MODEL_SAMPLE_RANDOM) {
                if (left == 1 || gsl_rng_uniform(rng) * left < 1.0) {
                    *x = model_sample_draw(l, V, s->temperature > 0 ? s->temperature : 1.0f,
                                           rng);
                    w->plan[b]--;
                }
                continue;
            }
            double conf = 0.0; /* margin and entropy rank without it */
            int own = s->strategy == MODEL_SAMPLE_MARGIN || s->strategy == MODEL_SAMPLE_ENTROPY;
            int32_t prop = model_sample_propose(l, V, s->temperature, rng, own ? NULL : &conf);
            w->cands[nc++] = (cand){model_sample_rank(l, V, s->strategy, conf), i, prop};
        }
        if (s->strategy == MODEL_SAMPLE_RANDOM)
            continue;
        int k = w->plan[b] / left + (w->plan[b] % left ? 1 : 0);
        k = k < nc ? k : nc;
        qsort(w->cands, (size_t)nc, sizeof *w->cands, cand_desc);
        for (int i = 0; i < k; i++)
            tok[(size_t)b * w->T + w->lo + w->cands[i].pos] = w->cands[i].tok;
        w->plan[b] -= k;
    }
}

static int any_left(const blockwork *w, int32_t *tok)
{
    int any = 0;
    for (int b = 0; b < w->B; b++) {
        w->plan[b] = 0;
        for (int t = w->lo; t < w->hi; t++)
            w->plan[b] += tok[(size_t)b * w->T + t] >= w->V;
        any |= w->plan[b] > 0;
    }
    return any;
}

static int work_alloc(model *m, blockwork *w, int B, int T, int width)
{
    *w = (blockwork){.B = B, .T = T, .V = m->cfg.vocab};
    w->plan = malloc((size_t)B * sizeof *w->plan);
    w->cands = malloc((size_t)width * sizeof *w->cands);
    w->rows = malloc((size_t)B * T * sizeof *w->rows);
    w->logits = malloc((size_t)B * width * w->V * sizeof *w->logits);
    if (w->plan && w->cands && w->rows && w->logits)
        return MODEL_OK;
    return model_fail(m, MODEL_ENOMEM, "out of memory");
}

static void work_free(blockwork *w)
{
    free(w->plan);
    free(w->cands);
    free(w->rows);
    free(w->logits);
}

/* Ids a flat sampler can work on: tokens and mask ids. */
static int check_flat(model *m, const int32_t *tok, size_t n)
{
    const int32_t VK = m->cfg.vocab + m->cfg.n_mask;
    for (size_t i = 0; i < n; i++)
        if (tok[i] >= VK)
            return model_fail(m, MODEL_EINVAL,
                              "sample: description id %d at position %zu: %s decoding takes "
                              "tokens and mask ids only",
                              tok[i], i, m->cfg.mode == MODEL_BLOCK ? "block" : "dual-cache");
    return MODEL_OK;
}

int model_decode_block(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                       gsl_rng *rng)
{
    const int Bk = m->cfg.block;
    if (T % Bk != 0)
        return model_fail(m, MODEL_EINVAL, "sample: length %d is not a multiple of block %d", T,
                          Bk);
    if (s->strategy != MODEL_SAMPLE_RANDOM && s->strategy != MODEL_SAMPLE_CONFIDENCE &&
        s->strategy != MODEL_SAMPLE_BLOCK && s->strategy != MODEL_SAMPLE_MARGIN &&
        s->strategy != MODEL_SAMPLE_ENTROPY)
        return model_fail(m, MODEL_EINVAL,
                          "sample: a block model decodes with random, confidence, block, "
                          "margin or entropy, not %s",
                          model_strategy_name(s->strategy) ? model_strategy_name(s->strategy)
                                                           : "?");
    const int nb = T / Bk;
    if (s->steps < nb)
        return model_fail(m, MODEL_EINVAL, "sample: %d steps for %d blocks: need one per block",
                          s->steps, nb);
    int rc = check_flat(m, tok, (size_t)B * T);
    if (rc)
        return rc;
    model_cache *c = NULL;
    rc = model_cache_open(m, &c, B);
    if (rc)
        return rc;
    blockwork w;
    rc = work_alloc(m, &w, B, T, Bk);
    const int cached = s->cache != MODEL_CACHE_NONE;
    int done = 0;
    for (int k = 0; k < nb && !rc; k++) {
        w.lo = k * Bk;
        w.hi = w.lo + Bk;
        int sj = s->steps / nb + (k < s->steps % nb);
        for (int i = 0; i < sj && !rc; i++) {
            if (!any_left(&w, tok))
                break;
            if (cached) { /* the blocks finished since the last call go in with this one */
                int len = model_cache_len(c), pend = w.lo - len;
                gather(w.rows, tok, B, T, len, w.hi);
                rc = model_cache_step(c, w.rows, len, w.hi - len, pend, pend, Bk, w.logits);
            } else {
                model_cache_reset(c);
                gather(w.rows, tok, B, T, 0, w.hi);
                rc = model_cache_step(c, w.rows, 0, w.hi, 0, w.lo, Bk, w.logits);
            }
            if (rc)
                break;
            reveal(&w, tok, sj - i, s, rng);
            if (s->on_step)
                s->on_step(s->on_step_arg, ++done, s->steps, tok);
        }
    }
    work_free(&w);
    model_cache_close(&c);
    return rc;
}

int model_decode_dual(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                      gsl_rng *rng)
{
    const int bl = s->block_len < T ? s->block_len : T, nb = (T + bl - 1) / bl;
    if (s->steps < nb)
        return model_fail(m, MODEL_EINVAL, "sample: %d steps for %d blocks: need one per block",
                          s->steps, nb);
    int rc = check_flat(m, tok, (size_t)B * T);
    if (rc)
        return rc;
    model_cache *c = NULL;
    rc = model_cache_open(m, &c, B);
    if (rc)
        return rc;
    blockwork w;
    rc = work_alloc(m, &w, B, T, bl);
    int done = 0;
    for (int j = 0; j < nb && !rc; j++) {
        w.lo = j * bl;
        w.hi = w.lo + bl < T ? w.lo + bl : T;
        int sj = s->steps / nb + (j < s->steps % nb), n = w.hi - w.lo;
        for (int i = 0; i < sj && !rc; i++) {
            if (!any_left(&w, tok))
                break;
            if (i == 0) { /* refresh: every position's keys and values from the current ids */
                model_cache_reset(c);
                rc = model_cache_step(c, tok, 0, T, T, w.lo, n, w.logits);
            } else { /* the block against the kept keys and values of the others */
                gather(w.rows, tok, B, T, w.lo, w.hi);
                rc = model_cache_step(c, w.rows, w.lo, n, n, 0, n, w.logits);
            }
            if (rc)
                break;
            reveal(&w, tok, sj - i, s, rng);
            if (s->on_step)
                s->on_step(s->on_step_arg, ++done, s->steps, tok);
        }
    }
    work_free(&w);
    model_cache_close(&c);
    return rc;
}
