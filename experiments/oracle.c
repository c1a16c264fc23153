/* oracle.c: forward-backward over a first-order chain with masked (unobserved) positions. */
#include "oracle.h"

#include <gsl/gsl_randist.h>
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

void oracle_chain(struct oracle *o, int A, double conc, gsl_rng *r)
{
    memset(o, 0, sizeof *o);
    o->A = A;
    for (int a = 0; a < A; a++) {
        double z = 0.0;
        for (int b = 0; b < A; b++)
            z += o->P[a * A + b] = gsl_ran_gamma(r, conc, 1.0) + 1e-300;
        for (int b = 0; b < A; b++)
            o->P[a * A + b] /= z;
    }
    /* the stationary law by power iteration from uniform */
    double next[ORACLE_MAX_A];
    for (int a = 0; a < A; a++)
        o->pi[a] = 1.0 / A;
    for (int it = 0; it < 10000; it++) {
        double diff = 0.0;
        for (int b = 0; b < A; b++) {
            next[b] = 0.0;
            for (int a = 0; a < A; a++)
                next[b] += o->pi[a] * o->P[a * A + b];
        }
        for (int b = 0; b < A; b++) {
            diff += fabs(next[b] - o->pi[b]);
            o->pi[b] = 0.5 * (o->pi[b] + next[b]); /* lazy: converges on periodic chains */
        }
        if (diff < 1e-15)
            break;
    }
}

int oracle_score(const struct oracle *o, const int32_t *in, const int32_t *tgt, int B, int T,
                 float *lp, int32_t *pred)
{
    const int A = o->A;
    int *x = malloc((size_t)T * sizeof *x);
    double *post = malloc((size_t)T * A * sizeof *post);
    int rc = x && post ? 0 : -1;
    for (int b = 0; b < B && !rc; b++) {
        const int32_t *row = in + (size_t)b * T;
        for (int i = 0; i < T; i++)
            x[i] = row[i] >= 0 && row[i] < A ? row[i] : -1;
        if ((rc = oracle_posterior(o, x, T, post)))
            break;
        for (int i = 0; i < T; i++) {
            const double *p = post + (size_t)i * A;
            int32_t y = tgt[(size_t)b * T + i];
            lp[(size_t)b * T + i] = y >= 0 && y < A ? (float)log(p[y]) : -INFINITY;
            if (pred) {
                int best = 0;
                for (int a = 1; a < A; a++)
                    if (p[a] > p[best])
                        best = a;
                pred[(size_t)b * T + i] = best;
            }
        }
    }
    free(x);
    free(post);
    return rc;
}

int oracle_dataset(struct dataset *d, char **text, const struct oracle *o, gsl_rng *r,
                   size_t nw, int T)
{
    memset(d, 0, sizeof *d);
    size_t n = nw * (size_t)T;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t *start = malloc((n + 1) * sizeof *start);
    int *x = malloc((size_t)T * sizeof *x);
    char *s = malloc(n + 1);
    if (!ids || !start || !x || !s) {
        free(ids);
        free(start);
        free(x);
        free(s);
        return -1;
    }
    for (size_t w = 0; w < nw; w++) {
        oracle_draw(o, r, x, T);
        for (int i = 0; i < T; i++) {
            size_t p = w * (size_t)T + (size_t)i;
            ids[p] = x[i];
            s[p] = (char)(x[i] < 26 ? 'a' + x[i] : '0' + x[i] % 10);
        }
    }
    for (size_t p = 0; p <= n; p++)
        start[p] = p;
    s[n] = '\0';
    free(x);
    d->text = s;
    d->len = n;
    d->lo = d->hi = 0;
    d->align.lo = d->align.hi = 0;
    d->align.len = n;
    d->align.n[0] = n;
    d->align.ids[0] = ids;
    d->align.start[0] = start;
    d->n = n;
    d->ids = ids;
    *text = s;
    return 0;
}

double oracle_dataset_nll(const struct oracle *o, const struct dataset *d, size_t nw, int T)
{
    int *x = malloc((size_t)T * sizeof *x);
    double nll = x ? 0.0 : NAN;
    for (size_t w = 0; x && w < nw; w++) {
        for (int i = 0; i < T; i++)
            x[i] = d->ids[w * (size_t)T + (size_t)i];
        nll += oracle_nll(o, x, T);
    }
    free(x);
    return nll;
}

struct ranked {
    double score;
    int pos, tok;
};

static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    return x->score > y->score ? -1 : x->score < y->score ? 1 : x->pos - y->pos;
}

int oracle_sample_ranked(const struct oracle *o, gsl_rng *r, int *x, int L, int steps,
                         enum oracle_rank rank, double threshold, long *nfe)
{
    const int A = o->A;
    double *post = malloc((size_t)L * A * sizeof *post);
    struct ranked *c = malloc((size_t)L * sizeof *c);
    int rc = post && c ? 0 : -1, masked = 0;
    for (int t = 0; t < L; t++)
        masked += x[t] < 0;
    if (rank == ORACLE_RANK_THRESHOLD)
        steps = masked;
    for (int i = 0; i < steps && masked > 0 && !rc; i++) {
        if ((rc = oracle_posterior(o, x, L, post)))
            break;
        ++*nfe;
        int nc = 0;
        for (int t = 0; t < L; t++) {
            if (x[t] >= 0)
                continue;
            const double *p = post + (size_t)t * A;
            int y = draw_from(p, A, r);
            double s = p[y], p1 = 0, p2 = 0, h = 0;
            for (int a = 0; a < A; a++) {
                if (p[a] > p1)
                    p2 = p1, p1 = p[a];
                else if (p[a] > p2)
                    p2 = p[a];
                h -= p[a] > 0 ? p[a] * log(p[a]) : 0;
            }
            if (rank == ORACLE_RANK_MARGIN)
                s = p1 - p2;
            else if (rank == ORACLE_RANK_ENTROPY)
                s = -h;
            c[nc++] = (struct ranked){s, t, y};
        }
        qsort(c, (size_t)nc, sizeof *c, ranked_cmp);
        int left = steps - i, k = masked / left + (masked % left ? 1 : 0);
        if (rank == ORACLE_RANK_THRESHOLD)
            for (k = 1; k < nc && c[k].score > threshold;)
                k++;
        k = k > nc ? nc : k;
        for (int j = 0; j < k; j++)
            x[c[j].pos] = c[j].tok;
        masked -= k;
    }
    free(post);
    free(c);
    return rc;
}

void oracle_bigrams(const struct oracle *o, int L, double *big)
{
    const int A = o->A;
    double marg[ORACLE_MAX_A], nm[ORACLE_MAX_A];
    memset(big, 0, (size_t)A * A * sizeof *big);
    memcpy(marg, o->pi, sizeof marg);
    for (int t = 0; t + 1 < L; t++) {
        for (int b = 0; b < A; b++)
            nm[b] = 0.0;
        for (int a = 0; a < A; a++)
            for (int b = 0; b < A; b++) {
                big[a * A + b] += marg[a] * o->P[a * A + b] / (L - 1);
                nm[b] += marg[a] * o->P[a * A + b];
            }
        memcpy(marg, nm, sizeof marg);
    }
}
