/* oracle.c: forward-backward over a first-order chain with masked (unobserved) positions. */
#include "oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int draw_from(const double *p, int A, gsl_rng *r)
{
    double u = gsl_rng_uniform(r), acc = 0.0;
    for (int a = 0; a < A; a++) {
        acc += p[a];
        if (u < acc)
            return a;
    }
    return A - 1;
}

void oracle_draw(const struct oracle *o, gsl_rng *r, int *x, int L)
{
    for (int t = 0; t < L; t++)
        x[t] = draw_from(t ? o->P + (size_t)x[t - 1] * o->A : o->pi, o->A, r);
}

double oracle_nll(const struct oracle *o, const int *x, int L)
{
    double lp = log(o->pi[x[0]]);
    for (int t = 1; t < L; t++)
        lp += log(o->P[(size_t)x[t - 1] * o->A + x[t]]);
    return -lp;
}

int oracle_posterior(const struct oracle *o, const int *x, int L, double *post)
{
    const int A = o->A;
    double *f = malloc((size_t)L * A * sizeof *f), *g = malloc((size_t)L * A * sizeof *g);
    int rc = 0;
    if (!f || !g) {
        rc = -1;
        goto done;
    }
    /* forward, normalised at each step: f[t][a] ~ p(x_t = a, visible x_0..t) */
    for (int t = 0; t < L && !rc; t++) {
        double z = 0.0;
        for (int b = 0; b < A; b++) {
            double v = 0.0;
            if (t == 0)
                v = o->pi[b];
            else
                for (int a = 0; a < A; a++)
                    v += f[(size_t)(t - 1) * A + a] * o->P[(size_t)a * A + b];
            if (x[t] >= 0 && x[t] != b)
                v = 0.0;
            f[(size_t)t * A + b] = v;
            z += v;
        }
        if (!(z > 0.0))
            rc = -1;
        for (int b = 0; b < A && !rc; b++)
            f[(size_t)t * A + b] /= z;
    }
    /* backward, normalised: g[t][a] ~ p(visible x_t+1..L-1 | x_t = a) */
    for (int t = L - 1; t >= 0 && !rc; t--) {
        double z = 0.0;
        for (int a = 0; a < A; a++) {
            double v = 1.0;
            if (t < L - 1) {
                v = 0.0;
                for (int b = 0; b < A; b++)
                    if (x[t + 1] < 0 || x[t + 1] == b)
                        v += o->P[(size_t)a * A + b] * g[(size_t)(t + 1) * A + b];
            }
            g[(size_t)t * A + a] = v;
            z += v;
        }
        for (int a = 0; a < A; a++)
            g[(size_t)t * A + a] /= z;
    }
    for (int t = 0; t < L && !rc; t++) {
        double z = 0.0;
        for (int a = 0; a < A; a++)
            z += post[(size_t)t * A + a] = f[(size_t)t * A + a] * g[(size_t)t * A + a];
        if (!(z > 0.0))
            rc = -1;
        for (int a = 0; a < A && !rc; a++)
            post[(size_t)t * A + a] /= z;
    }
done:
    free(f);
    free(g);
    return rc;
}

int oracle_sample(const struct oracle *o, gsl_rng *r, int *x, int L, int steps)
{
    double *post = malloc((size_t)L * o->A * sizeof *post);
    int *next = malloc((size_t)L * sizeof *next);
    int rc = post && next ? 0 : -1;
    for (int i = steps; i >= 1 && !rc; i--) {
        if ((rc = oracle_posterior(o, x, L, post)))
            break;
        memcpy(next, x, (size_t)L * sizeof *next);
        for (int t = 0; t < L; t++)
            if (x[t] < 0 && (i == 1 || gsl_rng_uniform(r) * i < 1.0))
                next[t] = draw_from(post + (size_t)t * o->A, o->A, r);
        memcpy(x, next, (size_t)L * sizeof *x);
    }
    free(post);
    free(next);
    return rc;
}
