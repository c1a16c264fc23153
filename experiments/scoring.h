/* scoring.h: held-out scores of a denoiser under a corruption: the NELBO by Monte Carlo
 * over t (antithetic) with its standard error, and masked-token accuracy by mask ratio. */
#ifndef PYRAMASK_SCORING_H
#define PYRAMASK_SCORING_H

#include "model.h"
#include "run_prepare.h"

enum { SCORE_MAX_BUCKETS = 100, SCORE_MAX_T_SAMPLES = 64 };

struct score_opts {
    long max_tokens;            /* validation tokens scored (0 = all) */
    int t_samples;              /* draws of t per window (antithetic) */
    unsigned long seed;         /* the same for every run: common random numbers */
    long step;                  /* curriculum step whose schedule is scored */
    int buckets;                /* accuracy buckets over the mask ratio; 0 = no accuracy */
    const double *unigram_logp; /* score_unigram_logp's table, or NULL: no unigram_nats */
};

struct score_result {
    double nats, se;     /* NELBO of the scored tokens (nats) and its Monte Carlo error */
    double type_nats;    /* the part that codes the mask types revealed at t = 1 */
    double unigram_nats; /* the scored tokens coded by the training split's token
                           * frequencies: the NELBO of a denoiser that learned nothing
                           * else (the plateau training starts on) */
    long windows, tokens;
    double bytes;
    long masked[SCORE_MAX_BUCKETS], correct[SCORE_MAX_BUCKETS];
};

/* log p(v) of the model-level ids under the training split's frequencies (add one half):
 * V values to free(), or NULL when out of memory. */
double *score_unigram_logp(const struct run_ctx *x);

/* Scores model m on x's validation split under corruption mk. Returns 0 or -1 with err. */
int score_nelbo(model *m, mask *mk, const struct run_ctx *x, const struct score_opts *o,
                struct score_result *r, char err[CONFIG_ERR_MAX]);

#endif
