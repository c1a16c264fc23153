/* scoring.c: the Monte Carlo NELBO of validation windows (per window: R independent sets of
 * antithetic times, importance-sampled, one corruption each, weight times cross-entropy over
 * the time density), the side code of what the corruption reveals, the standard error from
 * the replicates, and accuracy. */
#include "scoring.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WINDOWS_PER_CALL = 8, SIDE_WINDOWS = 4096 };

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

long score_windows(const struct run_ctx *x, const struct score_opts *o)
{
    size_t T = (size_t)x->T, W = x->valid.n / T;
    if (o->max_tokens > 0 && (size_t)o->max_tokens / T < W)
        W = (size_t)o->max_tokens / T;
    return W < 1 ? 1 : (long)W;
}

int score_side_fit(mask_side *side, mask *mk, const struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    if (!mask_side_reveals(side))
        return 0;
    struct window w;
    if (window_alloc(&w, x->T, x->nlevels, x->prompt))
        return config_fail(err, "out of memory");
    size_t nw = x->train.n / (size_t)x->T;
    nw = nw > SIDE_WINDOWS ? SIDE_WINDOWS : nw;
    int rc = 0;
    for (size_t i = 0; i < nw && !rc; i++) {
        mask_seq seq;
        dataset_window(&x->train, i * (size_t)x->T, &w, &seq);
        rc = mask_side_add(side, &seq);
    }
    window_free(&w);
    return rc ? config_fail(err, "side code: %s", mask_errmsg(mk)) : 0;
}

/* Accuracy sums of one bucket (or of all): over windows, the replicate means of the weighted
 * correct and masked counts, and their within-window (co)variances divided by R. */
struct acc_sums {
    double c, m;          /* sums of the windows' replicate means */
    double scc, scm, smm; /* sums of the variances and covariance of those means */
    long n;               /* masked tokens, unweighted */
};

static void acc_window(struct acc_sums *s, const double *wc, const double *wm, int R,
                       int stride)
{
    double c = 0, m = 0;
    for (int r = 0; r < R; r++)
        c += wc[r * stride], m += wm[r * stride];
    c /= R, m /= R;
    double cc = 0, cm = 0, mm = 0;
    for (int r = 0; r < R; r++) {
        double dc = wc[r * stride] - c, dm = wm[r * stride] - m;
        cc += dc * dc, cm += dc * dm, mm += dm * dm;
    }
    double d = (double)R * (R - 1);
    s->c += c, s->m += m;
    s->scc += cc / d, s->scm += cm / d, s->smm += mm / d;
}

/* The ratio estimate c / m and its delta-method standard error. */
static void acc_final(const struct acc_sums *s, double *acc, double *se)
{
    if (!(s->m > 0) || s->n == 0) {
        *acc = *se = NAN;
        return;
    }
    double a = s->c / s->m, v = (s->scc - 2 * a * s->scm + a * a * s->smm) / (s->m * s->m);
    *acc = a;
    *se = sqrt(v > 0 ? v : 0);
}

/* The time of uniform u under the density q(t) = sqrt(1 + c / t) / G(1) on (0, 1], where
 * G(t) = sqrt(t (t + c)) + c asinh(sqrt(t / c)) is its integral (inverted by bisection), and
 * q(t) into *dens; c <= 0: the uniform density. */
static double time_from_uniform(double u, double c, double *dens)
{
    if (!(c > 0)) {
        *dens = 1;
        return u;
    }
    double g1 = sqrt(1 + c) + c * asinh(sqrt(1 / c)), lo = 0, hi = 1;
    for (int i = 0; i < 64; i++) {
        double t = 0.5 * (lo + hi);
        if ((sqrt(t * (t + c)) + c * asinh(sqrt(t / c))) / g1 < u)
            lo = t;
        else
            hi = t;
    }
    double t = 0.5 * (lo + hi);
    *dens = t > 0 ? sqrt(1 + c / t) / g1 : HUGE_VAL;
    return t;
}

int score_block_corrupt(mask *mk, const mask_seq *seq, int Bk, const double *t, gsl_rng *r,
                        mask_out *out, void *scratch)
{
    const int n = seq->n;
    int32_t *ids = scratch;
    float *wt = (float *)(ids + n);
    uint8_t *msk = (uint8_t *)(wt + n);
    for (int k = 0; k * Bk < n; k++) {
        mask_out o = {ids, msk, wt, NULL, 0, NULL, NULL};
        int rc = mask_corrupt(mk, seq, t[k], r, &o);
        if (rc)
            return rc;
        size_t a = (size_t)k * (size_t)Bk, len = (size_t)(n - (int)a < Bk ? n - (int)a : Bk);
        memcpy(out->ids + a, ids + a, len * sizeof *ids);
        memcpy(out->masked + a, msk + a, len);
        memcpy(out->weight + a, wt + a, len * sizeof *wt);
        out->t = t[k];
    }
    return 0;
}

/* The exact score of an autoregressive model (scoring.h). */
static int score_ar(model *m, const struct run_ctx *x, const struct score_opts *o,
                    struct score_result *res, char err[CONFIG_ERR_MAX])
{
    const int T = x->T, R = o->replicates, WB = 64;
    const size_t W = (size_t)score_windows(x, o);
    double *own = o->unigram_logp ? NULL : score_unigram_logp(x);
    const double *ulogp = o->unigram_logp ? o->unigram_logp : own;
    int32_t *in = malloc((size_t)WB * T * sizeof *in),
            *tgt = malloc((size_t)WB * T * sizeof *tgt);
    float *wt = malloc((size_t)WB * T * sizeof *wt), *lp = malloc((size_t)WB * T * sizeof *lp);
    double *nll = malloc(W * sizeof *nll);
    struct window win;
    int rc = 0, have_win = 0;
    if (!ulogp || !in || !tgt || !wt || !lp || !nll || window_alloc(&win, T, x->nlevels, 0)) {
        rc = config_fail(err, "out of memory");
        goto done;
    }
    have_win = 1;
    for (size_t w0 = 0; w0 < W && !rc; w0 += (size_t)WB) {
        int nw = (int)(W - w0 < (size_t)WB ? W - w0 : (size_t)WB);
        for (int a = 0; a < nw; a++) {
            mask_seq seq;
            dataset_window(&x->valid, (w0 + (size_t)a) * (size_t)T, &win, &seq);
            res->bytes += (double)seq.text_len;
            int32_t *ib = in + (size_t)a * T, *tb = tgt + (size_t)a * T;
            memcpy(ib, seq.ids, (size_t)T * sizeof *ib);
            for (int i = 0; i < T; i++) { /* row i predicts token i + 1 */
                tb[i] = i + 1 < T ? seq.ids[i + 1] : 0;
                wt[(size_t)a * T + (size_t)i] = i + 1 < T;
                if (o->unigram_logp)
                    res->unigram_nats -= ulogp[seq.ids[i]];
            }
            nll[w0 + (size_t)a] = -ulogp[seq.ids[0]];
        }
        if ((rc = model_score(m, in, tgt, nw, T, lp))) {
            config_fail(err, "scoring: %s", model_errmsg(m));
            break;
        }
        for (int a = 0; a < nw; a++) {
            double l = 0;
            for (int i = 0; i + 1 < T; i++)
                l -= (double)lp[(size_t)a * T + (size_t)i];
            nll[w0 + (size_t)a] += l;
            res->nats += nll[w0 + (size_t)a];
            for (int q = 0; o->replicate_nats && q < R; q++)
                o->replicate_nats[(w0 + (size_t)a) * (size_t)R + (size_t)q] =
                    nll[w0 + (size_t)a];
        }
        res->windows += nw;
        res->tokens += (long)nw * T;
    }
    if (!rc && W > 1) {
        double mean = res->nats / (double)W, ss = 0;
        for (size_t w = 0; w < W; w++)
            ss += (nll[w] - mean) * (nll[w] - mean);
        res->var = (double)W * ss / (double)(W - 1);
    }
    res->se = sqrt(res->var);
    res->acc = res->acc_se = NAN;
done:
    if (have_win)
        window_free(&win);
    free(own);
    free(in);
    free(tgt);
    free(wt);
    free(lp);
    free(nll);
    return rc ? -1 : 0;
}

/* The Monte Carlo NELBO with denoiser m, or the oracle orc when m is NULL. */
static int score_mc(model *m, const struct oracle *orc, mask *mk, const struct run_ctx *x,
                    const struct score_opts *o, struct score_result *res,
                    char err[CONFIG_ERR_MAX])
{
    memset(res, 0, sizeof *res);
    const model_config *mc = m ? model_get_config(m) : NULL;
    if (mc && mc->mode == MODEL_AR)
        return score_ar(m, x, o, res, err);
    if (orc && (mask_chain_length(mk) > 0 || orc->A != x->V))
        return config_fail(err,
                           "scoring the oracle: the corruption must be flat over the "
                           "chain's %d symbols (vocabulary %d)",
                           orc->A, x->V);
    const int T = x->T, S = o->t_samples, R = o->replicates;
    /* block: nblk blocks of Bk positions, each with its own times; diffusion: one of T */
    const int block = mc && mc->mode == MODEL_BLOCK, Bk = block ? mc->block : T, nblk = T / Bk;
    if (block &&
        (T % Bk || mask_chain_length(mk) > 0 || (o->side && mask_side_reveals(o->side))))
        return config_fail(err,
                           "scoring a block model: the corruption must be flat, reveal "
                           "nothing, and the blocks of %d must divide the windows of %d",
                           Bk, T);
    if (R < 2 || S < R || S % R || S > SCORE_MAX_T_SAMPLES)
        return config_fail(err,
                           "scoring: %d draws of t in %d replicates: the replicates must be "
                           "at least 2 and divide the draws (at most %d)",
                           S, R, SCORE_MAX_T_SAMPLES);
    const int k = S / R; /* antithetic draws per replicate */
    const size_t W = (size_t)score_windows(x, o);
    const int B = WINDOWS_PER_CALL * S;
    const int buckets = block                            ? 0
                        : o->buckets > SCORE_MAX_BUCKETS ? SCORE_MAX_BUCKETS
                                                         : o->buckets;
    const int NB = buckets + 1; /* the buckets, then all of them */
    size_t BT = (size_t)B * (size_t)T;
    int32_t *in = malloc(BT * sizeof *in), *tgt = malloc(BT * sizeof *tgt);
    int32_t *pred = malloc(BT * sizeof *pred);
    uint8_t *msk = malloc(BT);
    const int chain = mask_chain_length(mk) > 0;
    int8_t *lvl = chain ? malloc(BT) : NULL; /* a chain's levels (msk: level > 0) */
    float *wt = malloc(BT * sizeof *wt), *lp = malloc(BT * sizeof *lp);
    /* times and densities: (B, nblk), draw b's block kb at b * nblk + kb */
    double *tt = malloc((size_t)B * nblk * sizeof *tt),
           *loss = malloc((size_t)B * sizeof *loss);
    double *dens = malloc((size_t)B * nblk * sizeof *dens);
    double *tk = malloc((size_t)S * sizeof *tk);
    int32_t *clean = block ? malloc(BT * sizeof *clean) : NULL;
    void *scratch = block ? malloc((size_t)T * 9 + 16) : NULL;
    double *wc = malloc((size_t)R * NB * sizeof *wc), *wm = malloc((size_t)R * NB * sizeof *wm);
    struct acc_sums *acc = calloc((size_t)NB, sizeof *acc);
    const double *ulogp = o->unigram_logp;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    struct window win;
    int rc = 0, have_win = 0;
    if (!in || !tgt || !pred || !msk || !wt || !lp || !tt || !loss || !dens || !wc || !wm ||
        !acc || !r || (chain && !lvl) || !tk || (block && (!clean || !scratch))) {
        rc = config_fail(err, "out of memory");
        goto done;
    }
    if (window_alloc(&win, T, x->nlevels, x->prompt)) {
        rc = config_fail(err, "out of memory");
        goto done;
    }
    have_win = 1;
    gsl_rng_set(r, o->seed);
    mask_set_step(mk, o->step);
    mask_schedule sched = *mask_get_schedule(mk);
    sched.lo = 0; /* scoring integrates over all of [0, 1] */
    sched.hi = 1;
    for (size_t w0 = 0; w0 < W && !rc; w0 += WINDOWS_PER_CALL) {
        int nw = (int)(W - w0 < WINDOWS_PER_CALL ? W - w0 : WINDOWS_PER_CALL), nb = nw * S;
        double side[WINDOWS_PER_CALL] = {0};
        for (int a = 0; a < nw && !rc; a++) {
            mask_seq sq, *seq = &sq;
            dataset_window(&x->valid, (w0 + (size_t)a) * (size_t)T, &win, seq);
            res->bytes += (double)seq->text_len;
            for (int i = 0; ulogp && i < T; i++)
                res->unigram_nats -= ulogp[seq->ids[i]];
            /* per block, R independent antithetic sets of k times (one block: diffusion) */
            for (int kb = 0; kb < nblk; kb++) {
                for (int g = 0; g < R; g++)
                    mask_sample_times(tk + g * k, k, &sched, MASK_TIME_ANTITHETIC, r);
                for (int j = 0; j < S; j++) {
                    size_t p = (size_t)(a * S + j) * nblk + (size_t)kb;
                    tt[p] = time_from_uniform(tk[j], o->t_sqrt, &dens[p]);
                }
            }
            for (int j = 0; j < S && !rc; j++) {
                size_t b = (size_t)(a * S + j);
                mask_out out = {in + b * T, msk + b * T, wt + b * T, NULL, 0, NULL, NULL};
                memcpy(tgt + b * T, seq->ids, (size_t)T * sizeof *tgt);
                if (chain) { /* the target: the state one level finer */
                    out.target = tgt + b * T;
                    out.level = lvl + b * T;
                }
                if (block) {
                    memcpy(clean + b * T, seq->ids, (size_t)T * sizeof *clean);
                    rc = score_block_corrupt(mk, seq, Bk, tt + b * nblk, r, &out, scratch);
                } else {
                    rc = mask_corrupt(mk, seq, tt[b], r, &out);
                }
            }
            if (!rc && o->side) {
                double tn, pn;
                rc = mask_side_nats(o->side, seq, &tn, &pn);
                res->type_nats += tn;
                res->part_nats += pn;
                side[a] = tn + pn;
            }
        }
        if (rc) {
            config_fail(err, "scoring: %s", mask_errmsg(mk));
            break;
        }
        /* with accuracy buckets, the same forward pass also gives the argmax proposal at
         * every mask (what a one-step temperature-0 confidence sampler would reveal) */
        if (orc) {
            if ((rc = oracle_score(orc, in, tgt, nb, T, lp, buckets > 0 ? pred : NULL))) {
                config_fail(err, "scoring the oracle: visible symbols impossible under the "
                                 "chain, or out of memory");
                break;
            }
        } else {
            rc = block         ? model_score_block(m, in, clean, tgt, nb, T, lp)
                 : buckets > 0 ? model_score_argmax(m, in, tgt, nb, T, lp, pred)
                               : model_score(m, in, tgt, nb, T, lp);
            if (rc) {
                config_fail(err, "scoring: %s", model_errmsg(m));
                break;
            }
        }
        for (int b = 0; b < nb; b++) { /* the sum over blocks of each block's estimate */
            loss[b] = 0;
            for (int kb = 0; kb < nblk; kb++) {
                double l = 0;
                for (int i = kb * Bk; i < (kb + 1) * Bk; i++) {
                    size_t p = (size_t)b * T + (size_t)i;
                    if (msk[p])
                        l -= (double)wt[p] * (double)lp[p];
                }
                loss[b] += l / dens[(size_t)b * nblk + (size_t)kb];
            }
        }
        for (int a = 0; a < nw; a++) {
            double g[SCORE_MAX_T_SAMPLES], mean = 0, ss = 0;
            for (int q = 0; q < R; q++) {
                g[q] = 0;
                for (int j = 0; j < k; j++)
                    g[q] += loss[a * S + q * k + j];
                g[q] /= k;
                mean += g[q];
                if (o->replicate_nats)
                    o->replicate_nats[(w0 + (size_t)a) * (size_t)R + (size_t)q] = g[q];
            }
            mean /= R;
            for (int q = 0; q < R; q++)
                ss += (g[q] - mean) * (g[q] - mean);
            res->nats += mean + side[a];
            res->var += ss / (R - 1) / R; /* the variance of the window's mean */
        }
        if (buckets > 0) { /* the accuracy of the argmax proposals, bucketed by mask ratio */
            for (int a = 0; a < nw; a++) {
                memset(wc, 0, (size_t)R * NB * sizeof *wc);
                memset(wm, 0, (size_t)R * NB * sizeof *wm);
                for (int j = 0; j < S; j++) {
                    int b = a * S + j, q = j / k;
                    double ratio = mask_schedule_mask_prob(&sched, tt[b]);
                    /* the density of the mask ratio under this schedule is 1 / (dm/dt):
                     * weighting by dm/dt makes the ratio uniform on [0, 1] */
                    double omega = -mask_schedule_dalpha(&sched, tt[b]) / dens[b];
                    int kb = (int)(ratio * buckets);
                    kb = kb < 0 ? 0 : kb >= buckets ? buckets - 1 : kb;
                    long nm = 0, nc = 0;
                    for (int i = 0; i < T; i++) {
                        size_t p = (size_t)b * T + (size_t)i;
                        if (msk[p]) {
                            nm++;
                            nc += pred[p] == tgt[p];
                        }
                    }
                    acc[kb].n += nm;
                    acc[buckets].n += nm;
                    wc[q * NB + kb] += omega * (double)nc / k;
                    wm[q * NB + kb] += omega * (double)nm / k;
                    wc[q * NB + buckets] += omega * (double)nc / k;
                    wm[q * NB + buckets] += omega * (double)nm / k;
                }
                for (int kb = 0; kb < NB; kb++)
                    acc_window(&acc[kb], wc + kb, wm + kb, R, NB);
            }
        }
        res->windows += nw;
        res->tokens += (long)nw * T;
    }
    res->se = sqrt(res->var);
    for (int kb = 0; kb < buckets; kb++) {
        acc_final(&acc[kb], &res->bucket_acc[kb], &res->bucket_se[kb]);
        res->bucket_masked[kb] = acc[kb].n;
    }
    if (buckets > 0) {
        acc_final(&acc[buckets], &res->acc, &res->acc_se);
        res->masked = acc[buckets].n;
    }
done:
    if (have_win)
        window_free(&win);
    free(in);
    free(tgt);
    free(pred);
    free(msk);
    free(lvl);
    free(wt);
    free(lp);
    free(tt);
    free(tk);
    free(clean);
    free(scratch);
    free(dens);
    free(loss);
    free(wc);
    free(wm);
    free(acc);
    gsl_rng_free(r);
    return rc ? -1 : 0;
}

int score_nelbo(model *m, mask *mk, const struct run_ctx *x, const struct score_opts *o,
                struct score_result *res, char err[CONFIG_ERR_MAX])
{
    if (!m && !x->oracle)
        return config_fail(err, "scoring: no denoiser");
    return m ? score_mc(m, NULL, mk, x, o, res, err)
             : score_mc(NULL, x->oracle, mk, x, o, res, err);
}

int score_nelbo_oracle(const struct oracle *orc, mask *mk, const struct run_ctx *x,
                       const struct score_opts *o, struct score_result *res,
                       char err[CONFIG_ERR_MAX])
{
    return score_mc(NULL, orc, mk, x, o, res, err);
}
