/* oracle.h: an exact oracle for masked diffusion: a known first-order Markov chain over a
 * small alphabet, its exact log-likelihood, and the exact posterior of every masked
 * position given the visible ones (forward-backward), the best possible denoiser. */
#ifndef PYRAMASK_ORACLE_H
#define PYRAMASK_ORACLE_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

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

#endif
