/* run_oracle.c: a run whose denoiser is the exact oracle of the markov source: nothing to
 * train; the same held-out scores as a trained denoiser's, and the exact NLL beside them. */
#include "run_oracle.h"
#include "progress.h"
#include "samples.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int run_oracle_evaluate(struct runlog *rl, int64_t id, const struct run_ctx *x,
                        char err[CONFIG_ERR_MAX])
{
    if (!x->oracle)
        return config_fail(err, "model.kind = oracle: no markov source");
    if (run_evaluate(rl, id, NULL, x, x->v->train.steps, err))
        return -1;
    return run_oracle_exact_nll(rl, id, x, err);
}

int run_oracle_exact_nll(struct runlog *rl, int64_t id, const struct run_ctx *x,
                         char err[CONFIG_ERR_MAX])
{
    /* the exact NLL of the windows the score read (one byte per symbol) */
    struct score_opts so = {.max_tokens = x->v->score.max_tokens};
    long W = score_windows(x, &so), n = W * (long)x->T;
    double nll = oracle_dataset_nll(x->oracle, &x->valid, (size_t)W, x->T);
    if (runlog_score(rl, id, "valid", "exact_nll_bpb", nll / log(2.0) / (double)n, NAN, n)) {
        snprintf(err, CONFIG_ERR_MAX, "%s", runlog_errmsg(rl));
        return -1;
    }
    return 0;
}

/* The quality scores and the exact errors of n samples (n, T) under the chain; nfe the model
 * calls per sample. */
static int log_exact(struct runlog *rl, int64_t id, const struct run_ctx *x, const int32_t *ids,
                     int n, double nfe, double secs, char err[CONFIG_ERR_MAX])
{
    const struct oracle *o = x->oracle;
    const int T = x->T, A = o->A;
    double *emp = calloc((size_t)A * A, sizeof *emp),
           *big = malloc((size_t)A * A * sizeof *big);
    int *y = malloc((size_t)T * sizeof *y);
    int rc = 0;
    if (!emp || !big || !y) {
        rc = config_fail(err, "out of memory");
        goto done;
    }
    double nll = 0, kl = 0;
    for (int s = 0; s < n; s++) {
        const int32_t *q = ids + (size_t)s * T;
        for (int t = 0; t < T; t++)
            y[t] = q[t];
        nll += oracle_nll(o, y, T);
        for (int t = 0; t + 1 < T; t++)
            emp[y[t] * A + y[t + 1]] += 1.0 / ((double)n * (T - 1));
    }
    oracle_bigrams(o, T, big);
    for (int i = 0; i < A * A; i++)
        if (emp[i] > 0)
            kl += emp[i] * log(emp[i] / big[i]);
    struct quality q;
    quality_measure(&q, ids, n, T, x->valid.ids, x->valid.n);
    q.model_calls = nfe;
    q.tokens_per_s = secs > 0 ? (double)n * T / secs : NAN;
    q.gen_bpb = NAN;
    if (samples_log_quality(rl, id, x->v->train.steps, &q, err, CONFIG_ERR_MAX)) {
        rc = -1;
    } else if (runlog_score(rl, id, "samples", "sample_kl_bigram", kl, NAN, n) ||
               runlog_score(rl, id, "samples", "sample_true_nll_bpb", nll / n / T / log(2.0),
                            NAN, n)) {
        rc = config_fail(err, "%s", runlog_errmsg(rl));
    }
done:
    free(emp);
    free(big);
    free(y);
    return rc ? -1 : 0;
}

int run_oracle_model_samples(struct runlog *rl, int64_t id, model *m, const struct run_ctx *x,
                             char err[CONFIG_ERR_MAX])
{
    const int n = (int)x->v->score.samples, T = x->T;
    int32_t *ids = malloc((size_t)n * T * sizeof *ids);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = -1;
    if (!ids || !r) {
        config_fail(err, "out of memory");
        goto done;
    }
    gsl_rng_set(r, (unsigned long)x->v->train.seed * 7919u + 101u);
    long nfe = 0;
    double t0 = progress_now();
    if (samples_run_ids(m, x, ids, n, r, &nfe, err, CONFIG_ERR_MAX))
        goto done;
    rc = log_exact(rl, id, x, ids, n, (double)nfe, progress_now() - t0, err); /* batched */
done:
    free(ids);
    gsl_rng_free(r);
    return rc;
}

int run_oracle_samples(struct runlog *rl, int64_t id, const struct run_ctx *x,
                       char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    const struct oracle *o = x->oracle;
    const int n = (int)v->score.samples, T = x->T;
    const char *st = v->score.sample_strategy;
    enum oracle_rank rank = !strcmp(st, "margin")      ? ORACLE_RANK_MARGIN
                            : !strcmp(st, "entropy")   ? ORACLE_RANK_ENTROPY
                            : !strcmp(st, "threshold") ? ORACLE_RANK_THRESHOLD
                                                       : ORACLE_RANK_CONFIDENCE;
    int random = !strcmp(st, "random"), rc = 0;
    int32_t *ids = malloc((size_t)n * T * sizeof *ids);
    int *y = malloc((size_t)T * sizeof *y);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!ids || !y || !r) {
        rc = config_fail(err, "out of memory");
        goto done;
    }
    gsl_rng_set(r, (unsigned long)v->train.seed * 7919u + 101u);
    long nfe = 0;
    double t0 = progress_now();
    for (int s = 0; s < n && !rc; s++) {
        for (int t = 0; t < T; t++)
            y[t] = -1;
        int steps = (int)v->score.sample_steps;
        if (random) {
            rc = oracle_sample(o, r, y, T, steps);
            nfe += steps;
        } else {
            rc = oracle_sample_ranked(o, r, y, T, steps, rank, v->sample.threshold, &nfe);
        }
        if (rc) {
            config_fail(err, "sampling the oracle: out of memory");
            break;
        }
        for (int t = 0; t < T; t++)
            ids[(size_t)s * T + (size_t)t] = y[t];
    }
    if (!rc)
        rc = log_exact(rl, id, x, ids, n, (double)nfe / n, progress_now() - t0,
                       err); /* nfe: every sample's calls, one sample at a time */
done:
    free(ids);
    free(y);
    gsl_rng_free(r);
    return rc ? -1 : 0;
}
