/* oracle.h: an exact oracle for masked diffusion: a known first-order Markov chain over a
 * small alphabet, its exact log-likelihood, and the exact posterior of every masked
 * position given the visible ones (forward-backward), the best possible denoiser. */
#ifndef PYRAMASK_ORACLE_H
#define PYRAMASK_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "dataset.h"

enum { ORACLE_MAX_A = 64 };

struct oracle {
    int A;                                 /* alphabet size, 2..ORACLE_MAX_A */
    double pi[ORACLE_MAX_A];               /* initial distribution */
    double P[ORACLE_MAX_A * ORACLE_MAX_A]; /* P[a * A + b] = p(next b | a), rows sum to 1 */
};

/* Draws a sequence x[0..L) from the chain. */
void oracle_draw(const struct oracle *o, gsl_rng *r, int *x, int L);
/* -log p(x[0..L)) in nats. */
double oracle_nll(const struct oracle *o, const int *x, int L);
/* post (L, A): at every position whose x is < 0 (masked), p(x_t = a | the visible x), exact;
 * at a visible position the point mass on it. Returns 0, -1 if the visible tokens are
 * impossible under the chain. */
int oracle_posterior(const struct oracle *o, const int *x, int L, double *post);
/* The ancestral sampler with the oracle as denoiser (linear schedule, as libmodel's RANDOM):
 * at step i of N, counting down, each masked position (x < 0) is revealed with probability
 * 1/i, all revealed ones drawn independently from their exact posteriors given the positions
 * visible at the step's start. Returns 0, -1 on out of memory. */
int oracle_sample(const struct oracle *o, gsl_rng *r, int *x, int L, int steps);

/* Ranked samplers with the oracle as denoiser, as libmodel's (model.h): every step proposes a
 * token at each masked position (x < 0) from its exact posterior given the visible ones, ranks
 * the proposals and commits the best. ORACLE_RANK_CONFIDENCE (the proposal's probability),
 * _MARGIN (top-2 margin of the row), _ENTROPY (lowest entropy first) commit as many per step as
 * spread the masks evenly over the steps left (LLaDA's count: ceil(masked / steps left));
 * _THRESHOLD (Fast-dLLM, one block) commits every proposal with probability > threshold and
 * always the most confident, steps not read. *nfe: the posterior computations. Returns 0, -1
 * on out of memory or impossible visible symbols. */
enum oracle_rank {
    ORACLE_RANK_CONFIDENCE,
    ORACLE_RANK_MARGIN,
    ORACLE_RANK_ENTROPY,
    ORACLE_RANK_THRESHOLD
};
int oracle_sample_ranked(const struct oracle *o, gsl_rng *r, int *x, int L, int steps,
                         enum oracle_rank rank, double threshold, long *nfe);

/* The expected bigram statistics of the chain over L positions: big[a * A + b] = the mean
 * over t = 0..L-2 of p(x_t = a, x_t+1 = b) (sums to 1). */
void oracle_bigrams(const struct oracle *o, int L, double *big);

/* A chain over A symbols (2..ORACLE_MAX_A): each row of P drawn from a symmetric Dirichlet of
 * parameter conc > 0 (small: peaked, predictable rows), pi the chain's stationary law. */
void oracle_chain(struct oracle *o, int A, double conc, gsl_rng *r);

/* The oracle as a denoiser over model-level ids: in, tgt (B, T), ids >= o->A in `in` are
 * masks. lp (B, T): log p(x_i = tgt_i | the row's visible ids) at every position (0 at a
 * visible position equal to its target); pred (B, T) or NULL: the posterior's argmax.
 * Returns 0, -1 if a row's visible ids are impossible under the chain or memory ran out. */
int oracle_score(const struct oracle *o, const int32_t *in, const int32_t *tgt, int B, int T,
                 float *lp, int32_t *pred);

/* A split of nw windows of T symbols, each drawn independently from the chain, for the
 * identity tokenizer: id = symbol, one byte per symbol ('a' + symbol, so A <= 26 reads as
 * letters), d->text into *text (the caller frees both: dataset_free(d), free(*text)).
 * Returns 0, -1 on out of memory. */
int oracle_dataset(struct dataset *d, char **text, const struct oracle *o, gsl_rng *r,
                   size_t nw, int T);
/* The exact NLL (nats) of windows [0, nw) of T symbols of d (as oracle_dataset made it). */
double oracle_dataset_nll(const struct oracle *o, const struct dataset *d, size_t nw, int T);

#endif
