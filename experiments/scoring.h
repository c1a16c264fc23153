/* scoring.h: held-out scores of a denoiser under a corruption: the NELBO by Monte Carlo
 * over t in independent antithetic replicates, its standard error from them, the code length
 * of what the corruption reveals (libmask's side code), and masked-token accuracy. */
#ifndef PYRAMASK_SCORING_H
#define PYRAMASK_SCORING_H

#include "model.h"
#include "oracle.h"
#include "run_prepare.h"
#include <gsl/gsl_rng.h>

enum { SCORE_MAX_BUCKETS = 100, SCORE_MAX_T_SAMPLES = 64 };

struct score_opts {
    long max_tokens;            /* validation tokens scored (0 = all) */
    int t_samples;              /* draws of t per window, S */
    int replicates;             /* R >= 2 independent antithetic sets of S / R draws each */
    unsigned long seed;         /* the same for every run: common random numbers */
    long step;                  /* curriculum step whose schedule is scored */
    int buckets;                /* accuracy buckets over the mask ratio; 0 = no accuracy */
    const double *unigram_logp; /* score_unigram_logp's table, or NULL: no unigram_nats */
    double t_sqrt;              /* > 0: importance sampling of t, from the density
                                 * q(t) ~ sqrt(1 + t_sqrt / t), each draw's estimate divided
                                 * by q(t); 0: t uniform (antithetic in the uniform u either
                                 * way) */
    mask_side *side;            /* the corruption's side code (score_side_fit), or NULL */
    double *replicate_nats;     /* NULL, or (score_windows() x R): each replicate's NELBO
                                 * estimate of each window in nats, without the side code
                                 * (for paired comparisons of two corruptions) */
};

struct score_result {
    /* NELBO of the scored tokens (nats): the sum over windows of the mean of the window's
     * R replicates, plus the side code. var: its Monte Carlo variance given the text, the sum
     * over windows of s^2(replicates) / R; se = sqrt(var). */
    double nats, var, se;
    double type_nats;    /* the part of nats that codes the revealed types */
    double part_nats;    /* the part of nats that codes the revealed partitions */
    double unigram_nats; /* the scored tokens coded by the training split's token
                          * frequencies: the NELBO of a denoiser that learned nothing
                          * else (the plateau training starts on) */
    long windows, tokens;
    double bytes;
    /* masked-token accuracy with the mask ratio uniform on [0, 1] (each draw weighted by
     * d(1 - alpha)/dt, so the value does not depend on the scored schedule), overall and per
     * mask-ratio bucket, with standard errors from the replicates (delta method); NAN where
     * nothing was masked. masked: the masked tokens behind each (not weighted). */
    double acc, acc_se, bucket_acc[SCORE_MAX_BUCKETS], bucket_se[SCORE_MAX_BUCKETS];
    long masked, bucket_masked[SCORE_MAX_BUCKETS];
};

/* log p(v) of the model-level ids under the training split's frequencies (add one half):
 * V values to free(), or NULL when out of memory. */
double *score_unigram_logp(const struct run_ctx *x);

/* The number of windows score_nelbo scores with these options. */
long score_windows(const struct run_ctx *x, const struct score_opts *o);

/* Fits the side code of corruption mk (libmask's mask_side) on x's training windows (at most
 * 4096 of them). Returns 0 or -1 with err. */
int score_side_fit(mask_side *side, mask *mk, const struct run_ctx *x,
                   char err[CONFIG_ERR_MAX]);

/* Block diffusion's corruption: block k of seq (positions k*Bk .. k*Bk+Bk-1) is the same
 * positions of mask_corrupt(mk, seq, t[k]), the whole sequence corrupted at the block's own
 * time (so structures, spans and units, keep their shape inside the block); seq->n / Bk
 * corruptions in that order from r. out as mask_corrupt's (type, target and level NULL);
 * scratch: 9 * seq->n bytes, 4-aligned. Returns mask_corrupt's code. With Bk = seq->n this
 * is mask_corrupt itself, draw for draw. */
int score_block_corrupt(mask *mk, const mask_seq *seq, int Bk, const double *t, gsl_rng *r,
                        mask_out *out, void *scratch);

/* Scores model m on x's validation split under corruption mk. Returns 0 or -1 with err.
 * m NULL: the data source's exact oracle x->oracle (score_nelbo_oracle). By the model's mode:
 * - diffusion: the Monte Carlo NELBO above;
 * - block: the sum over blocks of each block's NELBO, each block with its own times (S per
 *   window, in R antithetic replicates per block as diffusion's), corrupted by
 *   score_block_corrupt and scored conditioned on the clean blocks before it (one
 *   model_score_block over the noisy and clean sequence); no accuracy, and a corruption
 *   whose side code reveals anything is an error;
 * - ar: no corruption (mk is not read): the exact negative log-likelihood of every window,
 *   its first token coded by the training split's token frequencies (o->unigram_logp, or
 *   computed) and each later token by the model given the tokens before it in the window;
 *   var is the sampling variance of the total over windows (W times the windows' sample
 *   variance), replicate_nats gets the window's value in every replicate, no accuracy. */
int score_nelbo(model *m, mask *mk, const struct run_ctx *x, const struct score_opts *o,
                struct score_result *r, char err[CONFIG_ERR_MAX]);
/* The same diffusion NELBO, draw for draw, with the exact oracle as the denoiser (its
 * posteriors given the visible ids are the log-probs; ids >= x->V are masks): with exact
 * conditionals the bound is tight, so the estimate equals the exact NLL of the windows up to
 * its standard error wherever the corruption reveals nothing. A chain is an error. */
int score_nelbo_oracle(const struct oracle *orc, mask *mk, const struct run_ctx *x,
                       const struct score_opts *o, struct score_result *r,
                       char err[CONFIG_ERR_MAX]);

#endif
