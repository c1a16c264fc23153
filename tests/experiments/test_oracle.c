/* test_oracle.c: the exact oracle: its posteriors against enumeration, the Monte-Carlo NELBO
 * of the oracle denoiser equal to the exact NLL within its standard error (linear and cosine
 * schedules: the bound is tight with exact conditionals), and the ancestral sampler's
 * distributional error (KL of bigram statistics) shrinking with the steps. */
#include "../check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

int check_count, check_failures;

static void chain(struct oracle *o, int A, double stay, gsl_rng *r)
{
    o->A = A;
    for (int a = 0; a < A; a++) {
        o->pi[a] = 1.0 / A;
        double z = 0.0;
        for (int b = 0; b < A; b++)
            z += o->P[a * A + b] = a == b ? 0.0 : 0.2 + gsl_rng_uniform(r);
        for (int b = 0; b < A; b++)
            o->P[a * A + b] = a == b ? stay : (1.0 - stay) * o->P[a * A + b] / z;
    }
}

/* posterior by enumerating every completion */
static void check_posterior(const struct oracle *o)
{
    enum { L = 5 };
    const int A = o->A;
    int x[L] = {-1, 1, -1, -1, 2}, y[L];
    double post[L * ORACLE_MAX_A], want[L * ORACLE_MAX_A] = {0}, z = 0.0;
    CHECK_INT(0, oracle_posterior(o, x, L, post));
    int total = 1;
    for (int t = 0; t < L; t++)
        total *= A;
    for (int c = 0; c < total; c++) {
        int k = c, ok = 1;
        for (int t = 0; t < L; t++, k /= A) {
            y[t] = k % A;
            ok &= x[t] < 0 || x[t] == y[t];
        }
        if (!ok)
            continue;
        double p = exp(-oracle_nll(o, y, L));
        z += p;
        for (int t = 0; t < L; t++)
            want[t * A + y[t]] += p;
    }
    for (int i = 0; i < L * A; i++)
        CHECK_NEAR(want[i] / z, post[i], 1e-12);
}

/* the NELBO estimate of x under the oracle: t stratified over D draws, masks at rate m(t),
 * each draw w(t) sum over masked positions of -log p(x_i | visible) */
static void check_nelbo(const struct oracle *o, gsl_rng *r, int cosine)
{
    enum { L = 12, D = 20000 };
    int x[L], y[L];
    double post[L * ORACLE_MAX_A];
    oracle_draw(o, r, x, L);
    double sum = 0.0, sum2 = 0.0;
    for (int d = 0; d < D; d++) {
        double t = (d + gsl_rng_uniform_pos(r)) / D;
        double m = cosine ? 1.0 - cos(M_PI * t / 2) : t;
        double w = cosine ? (M_PI / 2) * sin(M_PI * t / 2) / m : 1.0 / t;
        memcpy(y, x, sizeof y);
        int any = 0;
        for (int i = 0; i < L; i++)
            if (gsl_rng_uniform(r) < m)
                y[i] = -1, any = 1;
        double v = 0.0;
        if (any) {
            CHECK_INT(0, oracle_posterior(o, y, L, post));
            for (int i = 0; i < L; i++)
                if (y[i] < 0)
                    v -= log(post[i * o->A + x[i]]);
        }
        sum += w * v;
        sum2 += w * v * w * v;
    }
    double mean = sum / D, se = sqrt((sum2 / D - mean * mean) / (D - 1));
    double nll = oracle_nll(o, x, L);
    CHECK(fabs(mean - nll) < 4 * se, "%s NELBO %.4f +- %.4f, exact NLL %.4f",
          cosine ? "cosine" : "linear", mean, se, nll);
    printf("  %s: NELBO %.4f +- %.4f nats, exact NLL %.4f\n", cosine ? "cosine" : "linear",
           mean, se, nll);
}

/* KL(generated || true) of the bigram statistics over all positions, nats; rank < 0: the
 * ancestral sampler, else oracle_sample_ranked with that ranking */
static double sampler_kl_ranked(const struct oracle *o, gsl_rng *r, int L, int steps, int n,
                                int rank);
static double sampler_kl(const struct oracle *o, gsl_rng *r, int L, int steps, int n)
{
    return sampler_kl_ranked(o, r, L, steps, n, -1);
}
static double sampler_kl_ranked(const struct oracle *o, gsl_rng *r, int L, int steps, int n,
                                int rank)
{
    const int A = o->A;
    double emp[ORACLE_MAX_A * ORACLE_MAX_A] = {0}, tru[ORACLE_MAX_A * ORACLE_MAX_A];
    oracle_bigrams(o, L, tru); /* the exact sampler's KL near 0 checks these too */
    int *x = malloc((size_t)L * sizeof *x);
    for (int s = 0; s < n; s++) {
        for (int t = 0; t < L; t++)
            x[t] = -1;
        long nfe = 0;
        if (rank < 0)
            CHECK_INT(0, oracle_sample(o, r, x, L, steps));
        else
            CHECK_INT(
                0, oracle_sample_ranked(o, r, x, L, steps, (enum oracle_rank)rank, 0.9, &nfe));
        CHECK(rank < 0 || nfe == (steps < L ? steps : L), "%ld calls in %d steps", nfe, steps);
        for (int t = 0; t + 1 < L; t++)
            emp[x[t] * A + x[t + 1]] += 1.0 / ((double)n * (L - 1));
    }
    free(x);
    double kl = 0.0;
    for (int i = 0; i < A * A; i++)
        if (emp[i] > 0)
            kl += emp[i] * log(emp[i] / tru[i]);
    return kl;
}

int main(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    struct oracle o;
    chain(&o, 3, 0.7, r);
    check_posterior(&o);
    chain(&o, 4, 0.5, r);
    check_nelbo(&o, r, 0);
    check_nelbo(&o, r, 1);
    /* the sampler: one step draws every position independently from its marginal; the
     * error falls with the steps and is sampling noise, (A^2 - 1) / (2 n (L-1)) nats in
     * expectation, once the steps far exceed the length */
    enum { L = 8, N = 3000 };
    chain(&o, 3, 0.85, r);
    int steps[] = {1, 2, 4, 64};
    double kl[4];
    for (int i = 0; i < 4; i++) {
        kl[i] = sampler_kl(&o, r, L, steps[i], N);
        printf("  sampler: %d steps, bigram KL %.5f nats\n", steps[i], kl[i]);
    }
    double noise = (3.0 * 3 - 1) / (2.0 * N * (L - 1));
    CHECK(kl[0] > kl[1] && kl[1] > kl[2] && kl[2] > kl[3], "KL must fall with the steps");
    CHECK(kl[3] < 5 * noise, "64 steps: KL %.5f above 5x the noise %.5f", kl[3], noise);
    CHECK(kl[0] > 50 * noise, "1 step: KL %.5f hardly above the noise %.5f", kl[0], noise);
    /* the ranked samplers, one position per call: margin and entropy rank by the visible
     * symbols only, so they sample the joint exactly; confidence ranks by the drawn symbol's
     * probability, a selection on the draw, and stays biased */
    double km = sampler_kl_ranked(&o, r, L, L, N, ORACLE_RANK_MARGIN);
    double ke = sampler_kl_ranked(&o, r, L, L, N, ORACLE_RANK_ENTROPY);
    double kc = sampler_kl_ranked(&o, r, L, L, N, ORACLE_RANK_CONFIDENCE);
    printf("  ranked, one per call: margin %.5f, entropy %.5f, confidence %.5f nats\n", km, ke,
           kc);
    CHECK(km < 5 * noise && ke < 5 * noise, "margin %.5f, entropy %.5f above 5x noise %.5f", km,
          ke, noise);
    CHECK(kc > 20 * noise, "confidence %.5f hardly above the noise %.5f", kc, noise);
    gsl_rng_free(r);
    printf("%s: oracle\n", check_failures ? "FAIL" : "ok");
    return check_failures != 0;
}
