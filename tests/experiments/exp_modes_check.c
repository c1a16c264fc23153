/* exp_modes_check.c: the scores of the three modes on one set of weights: block diffusion
 * with one block (B = T) scored = the diffusion score with the same draws; block with B = 1
 * estimates, without bias, the exact sum of -log p(x_i | x_<i) that its blocks' NELBOs are
 * (a one-token block's NELBO does not depend on t: the SUBS log-prob of a masked position
 * has no t in it and the ELBO weight integrates to 1); the ar score equals a direct sum of
 * next-token log-probs computed token by token on the key/value cache. The canonical
 * corruption is under the cosine schedule: under the linear one (weight 1/t, alpha' = -1) a
 * block scored with another block's time density is still unbiased.
 * Usage: exp_modes_check DATA_DIR */
#include "../check.h"
#include "config.h"
#include "run.h"
#include "scoring.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int check_count, check_failures;
static char dir[] = "/tmp/pyramask-modes-XXXXXX";
enum { T = 32 };

/* A model of the run's shape in `mode`, its parameters drawn from seed 11 (the same
 * parameters for every mode: the draws do not depend on it), with the run's prior. */
static model *open_model(const struct run_ctx *x, int mode, int block)
{
    model_settings ms;
    model_default_settings(&ms);
    ms.config.vocab = x->V;
    ms.config.n_mask = x->K;
    ms.config.d = 32;
    ms.config.layers = 2;
    ms.config.heads = 2;
    ms.config.seq_len = T;
    ms.config.mode = mode;
    ms.config.block = block;
    ms.threads = 1;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    model *m = NULL;
    int rc = model_open(&m, &ms, r);
    gsl_rng_free(r);
    CHECK(rc == 0, "model_open: %s", model_errmsg(m));
    if (!rc && x->v->model.prior_bias)
        model_set_prior(m, x->prior);
    return m;
}

static double t_sqrt = 2.0 / T; /* the time density's c (score.time_density) */

static int score(model *m, mask *mk, const struct run_ctx *x, int S, int R, long max_tokens,
                 const double *ulogp, struct score_result *res)
{
    char err[CONFIG_ERR_MAX];
    struct score_opts so = {.max_tokens = max_tokens,
                            .t_samples = S,
                            .replicates = R,
                            .seed = 7,
                            .unigram_logp = ulogp,
                            .t_sqrt = t_sqrt};
    int rc = score_nelbo(m, mk, x, &so, res, err);
    CHECK(rc == 0, "scoring: %s", err);
    return rc;
}

/* B = T against diffusion: the same draws, the same masks, the same log-probs. */
static void test_one_block(const struct run_ctx *x, mask *mk)
{
    model *md = open_model(x, MODEL_DIFFUSION, 0), *mb = open_model(x, MODEL_BLOCK, T);
    struct score_result a, b;
    if (md && mb && !score(md, mk, x, 8, 2, 2048, NULL, &a) &&
        !score(mb, mk, x, 8, 2, 2048, NULL, &b)) {
        CHECK(fabs(a.nats - b.nats) <= 1e-5 * a.nats, "diffusion %.9g nats, block B = T %.9g",
              a.nats, b.nats);
        CHECK(fabs(a.se - b.se) <= 1e-4 * a.se, "se: diffusion %.9g, block B = T %.9g", a.se,
              b.se);
        CHECK(a.se > 0, "the diffusion score has Monte Carlo error: se %g", a.se);
        CHECK_INT(a.tokens, b.tokens);
        CHECK(a.bytes == b.bytes, "bytes %g vs %g", a.bytes, b.bytes);
    }
    model_close(&md);
    model_close(&mb);
}

/* B = 1: the exact value, each position masked alone with its clean prefix (the decoding
 * view), against the Monte Carlo score. */
static void test_unit_blocks(const struct run_ctx *x, mask *mk)
{
    model *m = open_model(x, MODEL_BLOCK, 1);
    const long max_tokens = 16 * T;
    int32_t *in = malloc((size_t)T * T * sizeof *in),
            *tgt = malloc((size_t)T * T * sizeof *tgt);
    float *lp = malloc((size_t)T * T * sizeof *lp);
    struct window w;
    window_alloc(&w, T, x->nlevels, 0);
    double exact = 0;
    for (long k = 0; m && k < max_tokens / T; k++) {
        mask_seq seq;
        dataset_window(&x->valid, (size_t)k * T, &w, &seq);
        for (int i = 0; i < T; i++) /* row i: x_0 .. x_{i-1}, a mask at i, masks after */
            for (int j = 0; j < T; j++) {
                in[i * T + j] = j < i ? seq.ids[j] : x->V;
                tgt[i * T + j] = seq.ids[j];
            }
        int rc = model_score_block(m, in, NULL, tgt, T, T, lp);
        CHECK(rc == 0, "model_score_block: %s", model_errmsg(m));
        for (int i = 0; i < T; i++)
            exact -= lp[i * T + i];
    }
    window_free(&w);
    struct score_result r;
    t_sqrt = 1; /* far from uniform, so that each block's density matters */
    int rc = m ? score(m, mk, x, 64, 8, max_tokens, NULL, &r) : -1;
    t_sqrt = 2.0 / T;
    if (!rc) {
        CHECK(r.se > 0, "B = 1: se %g", r.se);
        CHECK(fabs(r.nats - exact) < 4 * r.se,
              "B = 1: Monte Carlo %.6g nats (se %.3g), the exact sum of -log p(x_i | x_<i) "
              "%.6g: %.2f se apart",
              r.nats, r.se, exact, (r.nats - exact) / r.se);
        printf("B = 1: %.2f nats (se %.2f) against exactly %.2f\n", r.nats, r.se, exact);
    }
    free(in);
    free(tgt);
    free(lp);
    model_close(&m);
}

/* ar: the score against token-by-token decoding on the cache. */
static void test_ar(const struct run_ctx *x, mask *mk)
{
    model *m = open_model(x, MODEL_AR, 0);
    double *ulogp = score_unigram_logp(x);
    const long max_tokens = 24 * T;
    model_cache *c = NULL;
    CHECK(m && model_cache_open(m, &c, 1) == 0, "cache: %s", model_errmsg(m));
    float *logits = malloc((size_t)x->V * sizeof *logits);
    double *win = malloc((size_t)(max_tokens / T) * sizeof *win), total = 0;
    struct window w;
    window_alloc(&w, T, x->nlevels, 0);
    long W = max_tokens / T;
    for (long k = 0; c && k < W; k++) {
        mask_seq seq;
        dataset_window(&x->valid, (size_t)k * T, &w, &seq);
        model_cache_reset(c);
        double l = -ulogp[seq.ids[0]];
        for (int i = 0; i + 1 < T; i++) {
            int rc = model_cache_step(c, &seq.ids[i], i, 1, 1, 0, 1, logits);
            CHECK(rc == 0, "cache step: %s", model_errmsg(m));
            double mx = logits[0], s = 0;
            for (int v = 1; v < x->V; v++)
                mx = logits[v] > mx ? logits[v] : mx;
            for (int v = 0; v < x->V; v++)
                s += exp((double)logits[v] - mx);
            l -= (double)logits[seq.ids[i + 1]] - mx - log(s);
        }
        win[k] = l;
        total += l;
    }
    window_free(&w);
    double mean = total / (double)W, ss = 0;
    for (long k = 0; k < W; k++)
        ss += (win[k] - mean) * (win[k] - mean);
    double se = sqrt((double)W * ss / (double)(W - 1));
    struct score_result r, r2;
    if (c && !score(m, mk, x, 4, 2, max_tokens, ulogp, &r)) {
        CHECK(fabs(r.nats - total) <= 1e-5 * total, "ar score %.9g nats, direct sum %.9g",
              r.nats, total);
        CHECK(fabs(r.se - se) <= 1e-4 * se, "ar se %.9g, across windows %.9g", r.se, se);
        CHECK_INT(W * T, r.tokens);
        /* exact: no Monte Carlo, so another seed and draw count give the same value */
        if (!score(m, mk, x, 16, 4, max_tokens, NULL, &r2))
            CHECK(r2.nats == r.nats, "ar score moved with the draws: %.17g vs %.17g", r.nats,
                  r2.nats);
    }
    model_cache_close(&c);
    free(logits);
    free(win);
    free(ulogp);
    model_close(&m);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: exp_modes_check DATA_DIR\n");
        return 2;
    }
    gsl_set_error_handler_off();
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[600], err[CONFIG_ERR_MAX], cache[700];
    snprintf(path, sizeof path, "%s/tiny.ini", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return 1;
    fprintf(fp,
            "[data]\ncorpus = %s/prose/kjv.txt\nmax_bytes = 200000\n"
            "[tokenizer]\nlevels = 300, 400, 600\ntrain_bytes = 150000\n"
            "[model]\nseq_len = %d\n[score]\nschedule = cosine\n",
            argv[1], T);
    fclose(fp);
    struct config *c = config_open(path, NULL, 0, err);
    CHECK(c != NULL, "config: %s", err);
    struct run_ctx x;
    mask *mk = NULL;
    int rc = c ? run_prepare(&x, c, cache, 0, err) : -1;
    CHECK(rc == 0, "run_prepare: %s", err);
    if (!rc && run_mask_open(&mk, &x, 1, x.K, err))
        CHECK(0, "canonical corruption: %s", err);
    if (mk) {
        test_one_block(&x, mk);
        test_unit_blocks(&x, mk);
        test_ar(&x, mk);
    }
    mask_close(&mk);
    if (!rc)
        run_ctx_free(&x);
    config_free(&c);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", dir);
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}
