/* sampler.c: iterative unmasking: ancestral random order (MDLM/MD4), LLaDA's low-confidence
 * remasking, and its semi-autoregressive block form, all from the model's SUBS logits. */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const strategy_names[MODEL_SAMPLE_COUNT] = {
    [MODEL_SAMPLE_RANDOM] = "random",
    [MODEL_SAMPLE_CONFIDENCE] = "confidence",
    [MODEL_SAMPLE_BLOCK] = "block",
};

const char *model_strategy_name(model_strategy s)
{
    return (int)s >= 0 && (int)s < MODEL_SAMPLE_COUNT ? strategy_names[s] : NULL;
}

int model_strategy_parse(const char *name, model_strategy *out, char *err, size_t errlen)
{
    for (int i = 0; name && i < MODEL_SAMPLE_COUNT; i++)
        if (!strcmp(name, strategy_names[i])) {
            *out = (model_strategy)i;
            return MODEL_OK;
        }
    char list[128] = "";
    for (int i = 0; i < MODEL_SAMPLE_COUNT; i++) {
        if (i)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, strategy_names[i], sizeof list - strlen(list) - 1);
    }
    if (err && errlen > 0)
        snprintf(err, errlen, "unknown strategy '%s' (%s)", name ? name : "(null)", list);
    return MODEL_EINVAL;
}

/* Draws from softmax(logits / temp) by inverse CDF. */
static int32_t draw(const float *l, int V, float temp, gsl_rng *rng)
{
    float mx = -INFINITY;
    for (int j = 0; j < V; j++)
        mx = l[j] > mx ? l[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < V; j++)
        sum += exp((double)(l[j] - mx) / temp);
    double u = gsl_rng_uniform(rng) * sum, acc = 0.0;
    int last = 0;
    for (int j = 0; j < V; j++) {
        double e = exp((double)(l[j] - mx) / temp);
        if (e > 0.0)
            last = j;
        acc += e;
        if (u < acc)
            return j;
    }
    return last;
}

/* The proposal of a masked row: argmax of logits + temp * Gumbel noise; *conf = its
 * probability under the (untempered) softmax, as in LLaDA. */
static int32_t propose(const float *l, int V, float temp, gsl_rng *rng, double *conf)
{
    int best = 0;
    double bestv = -INFINITY, mx = -INFINITY;
    for (int j = 0; j < V; j++) {
        double v = l[j];
        mx = v > mx ? v : mx;
        if (temp > 0.0f && v > -INFINITY) {
            double u = gsl_rng_uniform_pos(rng);
            v -= temp * log(-log(u));
        }
        if (v > bestv) {
            bestv = v;
            best = j;
        }
    }
    double sum = 0.0;
    for (int j = 0; j < V; j++)
        sum += exp(l[j] - mx);
    *conf = exp(l[best] - mx) / sum;
    return best;
}

typedef struct cand {
    double conf;
    int pos;
    int32_t tok;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->conf != y->conf)
        return x->conf > y->conf ? -1 : 1;
    return x->pos - y->pos;
}

/* One forward on the current tokens; rows/logits of the masked positions follow. */
static int run(model *m, const int32_t *tokens, int B, int T)
{
    int rc = model_run_forward(m, tokens, NULL, B, T, 0);
    if (rc)
        return rc;
    for (int r = 0; r < m->M; r++)
        if (isnan(m->acts.lse[r]) || !isfinite(m->acts.lse[r]))
            return model_fail(m, MODEL_ENONFINITE, "sample: logits are not finite");
    return MODEL_OK;
}

static int sample_random(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                         gsl_rng *rng)
{
    const int V = m->cfg.vocab;
    float temp = s->temperature > 0.0f ? s->temperature : 1.0f;
    int dirty = 1;
    for (int i = s->steps; i >= 1; i--) {
        if (dirty) { /* the logits only change when a token did */
            int rc = run(m, tok, B, T);
            if (rc)
                return rc;
            dirty = 0;
        }
        /* from t = i/N to s = (i-1)/N a masked token is revealed with prob (t-s)/t = 1/i */
        for (int r = 0; r < m->M; r++) {
            int n = m->rows[r];
            if (tok[n] < V)
                continue;
            if (i == 1 || gsl_rng_uniform(rng) * i < 1.0) {
                tok[n] = draw(m->acts.logits + (size_t)r * V, V, temp, rng);
                dirty = 1;
            }
        }
        if (s->on_step)
            s->on_step(s->on_step_arg, s->steps - i + 1, s->steps, tok);
    }
    return MODEL_OK;
}

/* LLaDA: blocks of block_len; in block j, steps_j forwards, each revealing the planned
 * number of masks of every sequence: those with the most confident proposals. */
static int sample_confidence(model *m, int32_t *tok, int B, int T, int block_len,
                             const model_sample_settings *s, gsl_rng *rng)
{
    const int steps = s->steps;
    const float temp = s->temperature;
    int done = 0;
    const int V = m->cfg.vocab;
    int nblocks = (T + block_len - 1) / block_len;
    if (steps < nblocks)
        return model_fail(m, MODEL_EINVAL, "%d steps for %d blocks: need one per block", steps,
                          nblocks);
    cand *cands = malloc((size_t)T * sizeof *cands);
    int *plan = malloc((size_t)B * sizeof *plan);
    int32_t *prop = malloc((size_t)B * T * sizeof *prop);
    double *conf = malloc((size_t)B * T * sizeof *conf);
    if (!cands || !plan || !prop || !conf) {
        free(cands);
        free(plan);
        free(prop);
        free(conf);
        return model_fail(m, MODEL_ENOMEM, "out of memory");
    }
    int rc = MODEL_OK;
    for (int j = 0; j < nblocks && !rc; j++) {
        int lo = j * block_len, hi = lo + block_len < T ? lo + block_len : T;
        int sj = steps / nblocks + (j < steps % nblocks);
        for (int b = 0; b < B; b++) {
            plan[b] = 0;
            for (int t = lo; t < hi; t++)
                plan[b] += tok[(size_t)b * T + t] >= V;
        }
        for (int i = 0; i < sj && !rc; i++) {
            int any = 0;
            for (int b = 0; b < B; b++)
                any |= plan[b] > 0;
            if (!any)
                break;
            rc = run(m, tok, B, T);
            if (rc)
                break;
            for (int r = 0; r < m->M; r++) {
                int n = m->rows[r], t = n % T;
                if (t < lo || t >= hi)
                    continue;
                prop[n] = propose(m->acts.logits + (size_t)r * V, V, temp, rng, &conf[n]);
            }
            for (int b = 0; b < B; b++) {
                /* LLaDA's get_num_transfer_tokens: base + 1 for the first (remainder) steps */
                int left = sj - i;
                int k = plan[b] / left + (plan[b] % left ? 1 : 0);
                int nc = 0;
                for (int t = lo; t < hi; t++) {
                    size_t n = (size_t)b * T + t;
                    if (tok[n] >= V)
                        cands[nc++] = (cand){conf[n], t, prop[n]};
                }
                qsort(cands, (size_t)nc, sizeof *cands, cand_cmp);
                if (k > nc)
                    k = nc;
                for (int c = 0; c < k; c++)
                    tok[(size_t)b * T + cands[c].pos] = cands[c].tok;
                plan[b] -= k;
            }
            if (s->on_step)
                s->on_step(s->on_step_arg, ++done, steps, tok);
        }
    }
    free(cands);
    free(plan);
    free(prop);
    free(conf);
    return rc;
}

int model_sample(model *m, int32_t *tokens, int B, int T, const model_sample_settings *s,
                 gsl_rng *rng)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (!tokens || !s || !rng || B < 1 || T < 1)
        return model_fail(m, MODEL_EINVAL, "sample: missing tokens, settings or rng");
    if (s->steps < 1)
        return model_fail(m, MODEL_EINVAL, "sample: steps must be >= 1, not %d", s->steps);
    if (!(s->temperature >= 0.0f) || !isfinite(s->temperature))
        return model_fail(m, MODEL_EINVAL, "sample: bad temperature %g",
                          (double)s->temperature);
    const int32_t nin = m->cfg.vocab + m->cfg.n_mask;
    for (size_t n = 0; n < (size_t)B * T; n++)
        if (tokens[n] < 0 || tokens[n] >= nin)
            return model_fail(m, MODEL_ERANGE,
                              "sample: id %d at batch %zu position %zu is "
                              "outside 0..%d",
                              tokens[n], n / T, n % T, nin - 1);
    switch (s->strategy) {
    case MODEL_SAMPLE_RANDOM:
        return sample_random(m, tokens, B, T, s, rng);
    case MODEL_SAMPLE_CONFIDENCE:
        return sample_confidence(m, tokens, B, T, T, s, rng);
    case MODEL_SAMPLE_BLOCK:
        if (s->block_len < 1)
            return model_fail(m, MODEL_EINVAL, "sample: block_len must be >= 1, not %d",
                              s->block_len);
        return sample_confidence(m, tokens, B, T, s->block_len, s, rng);
    default:
        return model_fail(m, MODEL_EINVAL, "sample: unknown strategy %d", (int)s->strategy);
    }
}
