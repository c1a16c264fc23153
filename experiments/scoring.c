/* scoring.c: the Monte Carlo NELBO of validation windows (per window: t_samples antithetic
 * times, one corruption each, weight times cross-entropy), its error, and accuracy. */
#include "scoring.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WINDOWS_PER_CALL = 8, TYPE_WINDOWS = 512 };

/* log p(type) of the types revealed at t = 1, from training windows (add-one smoothed).
 * When every masked token gets the same type this codes nothing (log 1 = 0). */
static int type_logp(mask *mk, const struct run_ctx *x, gsl_rng *r, double *logp, int K)
{
    double *count = calloc((size_t)K, sizeof *count);
    struct window w;
    int32_t *ids = malloc((size_t)x->T * sizeof *ids);
    uint8_t *masked = malloc((size_t)x->T);
    float *weight = malloc((size_t)x->T * sizeof *weight);
    int8_t *type = malloc((size_t)x->T);
    int rc = !count || !ids || !masked || !weight || !type
                 ? -1
                 : window_alloc(&w, x->T, x->nlevels, x->prompt);
    size_t nw = x->train.n / (size_t)x->T;
    nw = nw > TYPE_WINDOWS ? TYPE_WINDOWS : nw;
    for (size_t i = 0; !rc && i < nw; i++) {
        mask_seq seq;
        mask_out out = {ids, masked, weight, type, 0, NULL, NULL};
        dataset_window(&x->train, i * (size_t)x->T, &w, &seq);
        rc = mask_corrupt(mk, &seq, 1.0, r, &out);
        for (int j = 0; !rc && j < x->T; j++)
            if (type[j] >= 0 && type[j] < K)
                count[type[j]] += 1;
    }
    if (!rc) {
        double total = 0;
        for (int k = 0; k < K; k++)
            total += count[k] + 1;
        int used = 0;
        for (int k = 0; k < K; k++)
            used += count[k] > 0;
        for (int k = 0; k < K; k++)
            logp[k] = used <= 1 && count[k] > 0 ? 0.0 : log((count[k] + 1) / total);
    }
    if (count)
        window_free(&w);
    free(count);
    free(ids);
    free(masked);
    free(weight);
    free(type);
    return rc;
}

double *score_unigram_logp(const struct run_ctx *x)
{
    double *logp = malloc((size_t)x->V * sizeof *logp);
    if (!logp)
        return NULL;
    for (int v = 0; v < x->V; v++)
        logp[v] = 0.5;
    for (size_t i = 0; i < x->train.n; i++)
        logp[x->train.ids[i]] += 1;
    double total = (double)x->train.n + 0.5 * x->V;
    for (int v = 0; v < x->V; v++)
        logp[v] = log(logp[v] / total);
    return logp;
}

int score_nelbo(model *m, mask *mk, const struct run_ctx *x, const struct score_opts *o,
                struct score_result *res, char err[CONFIG_ERR_MAX])
{
    memset(res, 0, sizeof *res);
    const int T = x->T, S = o->t_samples, K = mask_n_types(mk);
    size_t W = x->valid.n / (size_t)T;
    if (o->max_tokens > 0 && (size_t)o->max_tokens / (size_t)T < W)
        W = (size_t)o->max_tokens / (size_t)T;
    if (W < 1)
        W = 1;
    const int B = WINDOWS_PER_CALL * S;
    size_t BT = (size_t)B * (size_t)T;
    int32_t *in = malloc(BT * sizeof *in), *tgt = malloc(BT * sizeof *tgt);
    int32_t *pred = malloc(BT * sizeof *pred);
    uint8_t *msk = malloc(BT);
    float *wt = malloc(BT * sizeof *wt), *lp = malloc(BT * sizeof *lp);
    int8_t *typ = malloc(BT), *t1_t = malloc((size_t)T);
    int32_t *t1_ids = malloc((size_t)T * sizeof *t1_ids);
    uint8_t *t1_m = malloc((size_t)T);
    float *t1_w = malloc((size_t)T * sizeof *t1_w);
    double *tt = malloc((size_t)S * sizeof *tt), *loss = malloc((size_t)B * sizeof *loss);
    double *tlogp = malloc((size_t)(K > 0 ? K : 1) * sizeof *tlogp);
    const double *ulogp = o->unigram_logp;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937), *rs = gsl_rng_alloc(gsl_rng_mt19937);
    struct window win;
    int rc = 0, have_win = 0;
    if (!in || !tgt || !pred || !msk || !wt || !lp || !typ || !t1_t || !t1_ids || !t1_m ||
        !t1_w || !tt || !loss || !tlogp || !r || !rs ||
        window_alloc(&win, T, x->nlevels, x->prompt)) {
        rc = config_fail(err, "out of memory");
        goto done;
    }
    have_win = 1;
    gsl_rng_set(r, o->seed);
    gsl_rng_set(rs, o->seed + 1);
    mask_set_step(mk, o->step);
    mask_schedule sched = *mask_get_schedule(mk);
    sched.lo = 0; /* scoring integrates over all of [0, 1] */
    sched.hi = 1;
    /* the type statistics draw from their own stream: the times and masks of the scored
     * windows are the same draws for every run (common random numbers) */
    if (K > 1 && type_logp(mk, x, rs, tlogp, K)) {
        rc = config_fail(err, "scoring: %s", mask_errmsg(mk));
        goto done;
    }
    int buckets = o->buckets > SCORE_MAX_BUCKETS ? SCORE_MAX_BUCKETS : o->buckets;
    for (size_t w0 = 0; w0 < W && !rc; w0 += WINDOWS_PER_CALL) {
        int nw = (int)(W - w0 < WINDOWS_PER_CALL ? W - w0 : WINDOWS_PER_CALL), nb = nw * S;
        double tbits[WINDOWS_PER_CALL] = {0};
        double tvals[WINDOWS_PER_CALL * SCORE_MAX_T_SAMPLES];
        for (int a = 0; a < nw && !rc; a++) {
            mask_seq seq;
            size_t start = (w0 + (size_t)a) * (size_t)T;
            dataset_window(&x->valid, start, &win, &seq);
            res->bytes += (double)seq.text_len;
            for (int i = 0; ulogp && i < T; i++)
                res->unigram_nats -= ulogp[seq.ids[i]];
            mask_sample_times(tt, S, &sched, MASK_TIME_ANTITHETIC, r);
            for (int j = 0; j < S && !rc; j++) {
                size_t b = (size_t)(a * S + j);
                mask_out out = {in + b * T, msk + b * T, wt + b * T, typ + b * T,
                                0,          NULL,        NULL};
                rc = mask_corrupt(mk, &seq, tt[j], r, &out);
                memcpy(tgt + b * T, seq.ids, (size_t)T * sizeof *tgt);
                tvals[b] = tt[j];
            }
            if (!rc && K > 1) { /* the types revealed at t = 1, coded by their unigram */
                mask_out out = {t1_ids, t1_m, t1_w, t1_t, 0, NULL, NULL};
                rc = mask_corrupt(mk, &seq, 1.0, rs, &out);
                for (int i = 0; !rc && i < T; i++)
                    if (t1_t[i] >= 0 && t1_t[i] < K)
                        tbits[a] -= tlogp[t1_t[i]];
            }
        }
        if (rc) {
            config_fail(err, "scoring: %s",
                        mask_errmsg(mk)[0] ? mask_errmsg(mk) : mask_strerror(rc));
            break;
        }
        if ((rc = model_score(m, in, tgt, nb, T, lp))) {
            config_fail(err, "scoring: %s", model_errmsg(m));
            break;
        }
        for (int b = 0; b < nb; b++) {
            double l = 0;
            for (int i = 0; i < T; i++) {
                size_t p = (size_t)b * T + (size_t)i;
                if (msk[p])
                    l -= (double)wt[p] * (double)lp[p];
            }
            loss[b] = l;
        }
        for (int a = 0; a < nw; a++) {
            double mean = 0, ss = 0;
            for (int j = 0; j < S; j++)
                mean += loss[a * S + j];
            mean /= S;
            for (int j = 0; j < S; j++)
                ss += (loss[a * S + j] - mean) * (loss[a * S + j] - mean);
            res->nats += mean + tbits[a];
            res->type_nats += tbits[a];
            res->se += ss / (S - 1) / S; /* variance of the window's mean, summed */
        }
        if (buckets > 0) { /* argmax proposals for every mask in one step */
            model_sample_settings ss;
            model_default_sample_settings(&ss);
            ss.strategy = MODEL_SAMPLE_CONFIDENCE;
            ss.steps = 1;
            ss.temperature = 0;
            memcpy(pred, in, (size_t)nb * T * sizeof *pred);
            if ((rc = model_sample(m, pred, nb, T, &ss, rs))) {
                config_fail(err, "scoring: %s", model_errmsg(m));
                break;
            }
            for (int b = 0; b < nb; b++) {
                double ratio = mask_schedule_mask_prob(&sched, tvals[b]);
                int k = (int)(ratio * buckets);
                k = k < 0 ? 0 : k >= buckets ? buckets - 1 : k;
                for (int i = 0; i < T; i++) {
                    size_t p = (size_t)b * T + (size_t)i;
                    if (msk[p]) {
                        res->masked[k]++;
                        res->correct[k] += pred[p] == tgt[p];
                    }
                }
            }
        }
        res->windows += nw;
        res->tokens += (long)nw * T;
    }
    res->se = sqrt(res->se);
done:
    if (have_win)
        window_free(&win);
    free(in);
    free(tgt);
    free(pred);
    free(msk);
    free(wt);
    free(lp);
    free(typ);
    free(t1_t);
    free(t1_ids);
    free(t1_m);
    free(t1_w);
    free(tt);
    free(loss);
    free(tlogp);
    gsl_rng_free(r);
    gsl_rng_free(rs);
    return rc ? -1 : 0;
}
