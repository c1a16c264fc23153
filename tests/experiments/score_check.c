/* score_check.c: the canonical score of a checkpoint on a held-out text, computed apart from
 * the harness (for tests/integration/exp_score_accounting.sh): the exact NELBO of each window
 * by enumeration of every mask, the byte count, and the exact standard deviation of the
 * score's estimator: R independent sets of S/R antithetic uniforms u, each mapped to a time
 * t by the density q(t) = sqrt(1 + K / (T t)) / G(1) (score.time_density sqrt:K), the linear
 * schedule, the estimate w(t) CE / q(t); or t = u and the schedule poly:W (K = 0).
 * It reads only the checkpoint (libmodel) and the token ids and byte offsets of the text.
 * Usage: score_check CKPT IDS OFFSETS TEXT_BYTES W S R ESTIMATOR  (linear+sqrt:K or poly:W)
 * Prints: nelbo_bpb sd_bpb bytes tokens */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { MAXT = 12 };

static int T;
static double poly_w = 1, sqrt_c;       /* linear = poly:1 */
static double C[MAXT + 1], D[MAXT + 1]; /* sums of CE and CE^2 over masks with k masked */

/* The time of uniform u: G(t) / G(1) = u, G(t) = sqrt(t (t + c)) + c asinh(sqrt(t / c)) (by
 * Newton's method from the bisection's bracket), and its density q into *q. */
static double time_of(double u, double *q)
{
    double c = sqrt_c;
    if (!(c > 0)) {
        *q = 1;
        return u;
    }
    double g1 = sqrt(1 + c) + c * asinh(sqrt(1 / c)), lo = 0, hi = 1, t = u;
    for (int i = 0; i < 100; i++) {
        double g = (sqrt(t * (t + c)) + c * asinh(sqrt(t / c))) / g1 - u;
        if (g < 0)
            lo = t;
        else
            hi = t;
        double d = sqrt(1 + c / t) / g1, next = t - g / d;
        t = next > lo && next < hi ? next : 0.5 * (lo + hi);
    }
    *q = sqrt(1 + c / t) / g1;
    return t;
}

/* E[estimate | u] or E[estimate^2 | u] of one draw: mask probability t^W, weight W / t */
static double moment(double u, int second)
{
    double q, t = time_of(u, &q);
    if (!(t > 0))
        return 0;
    double m = pow(t, poly_w), w = poly_w / t / q, sum = 0;
    for (int k = 1; k <= T; k++)
        sum += pow(m, k) * pow(1 - m, T - k) * (second ? D[k] : C[k]);
    return (second ? w * w : w) * sum;
}

struct arg {
    int second;
    double shift; /* < 0: a moment; else the product mu(t) mu(t + shift mod 1) */
};

static double fn(double t, void *p)
{
    const struct arg *a = p;
    if (a->shift < 0)
        return moment(t, a->second);
    return moment(t, 0) * moment(fmod(t + a->shift, 1.0), 0);
}

static double integral(struct arg a, double lo, double hi)
{
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
    gsl_function F = {fn, &a};
    double r = NAN, e;
    if (gsl_integration_qags(&F, lo, hi, 1e-12, 1e-10, 1000, ws, &r, &e))
        r = NAN;
    gsl_integration_workspace_free(ws);
    return r;
}

static long read_longs(const char *path, long **out)
{
    FILE *f = fopen(path, "r");
    long n = 0, cap = 1024, v;
    long *a = malloc((size_t)cap * sizeof *a);
    while (f && a && fscanf(f, "%ld", &v) == 1) {
        if (n == cap) {
            long *g = realloc(a, (size_t)(cap *= 2) * sizeof *a);
            if (!g)
                break;
            a = g;
        }
        a[n++] = v;
    }
    if (f)
        fclose(f);
    *out = a;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: score_check CKPT IDS OFFSETS TEXT_BYTES W S R ESTIMATOR\n");
        return 2;
    }
    gsl_set_error_handler_off();
    long *ids, *offs, text_bytes = atol(argv[4]), W = atol(argv[5]);
    int S = atoi(argv[6]), R = atoi(argv[7]), k = S / R;
    double sqrt_k = 0;
    if (!strncmp(argv[8], "poly:", 5))
        poly_w = atof(argv[8] + 5);
    else if (!strncmp(argv[8], "linear+sqrt:", 12))
        sqrt_k = atof(argv[8] + 12);
    else if (strcmp(argv[8], "linear")) {
        fprintf(stderr, "score_check: unknown estimator '%s'\n", argv[8]);
        return 2;
    }
    long n = read_longs(argv[2], &ids), no = read_longs(argv[3], &offs);
    model *m = NULL;
    if (model_load(&m, argv[1], 1, NULL)) {
        fprintf(stderr, "score_check: %s: %s\n", argv[1], m ? model_errmsg(m) : "cannot load");
        return 1;
    }
    model_set_prior(m, NULL);
    const model_config *mc = model_get_config(m);
    T = mc->seq_len;
    sqrt_c = sqrt_k / T;
    if (T > MAXT || n != no || n < W * T) {
        fprintf(stderr, "score_check: T = %d, %ld ids, %ld offsets, %ld windows\n", T, n, no,
                W);
        return 1;
    }
    int nm = 1 << T;
    int32_t *in = malloc((size_t)nm * T * sizeof *in),
            *tgt = malloc((size_t)nm * T * sizeof *tgt);
    float *lp = malloc((size_t)nm * T * sizeof *lp);
    double nats = 0, var = 0;
    for (long w = 0; w < W; w++) {
        for (int M = 0; M < nm; M++)
            for (int i = 0; i < T; i++) {
                in[M * T + i] = M >> i & 1 ? mc->vocab : (int32_t)ids[w * T + i];
                tgt[M * T + i] = (int32_t)ids[w * T + i];
            }
        if (model_score(m, in, tgt, nm, T, lp)) {
            fprintf(stderr, "score_check: %s\n", model_errmsg(m));
            return 1;
        }
        memset(C, 0, sizeof C);
        memset(D, 0, sizeof D);
        for (int M = 1; M < nm; M++) {
            double ce = 0;
            int c = 0;
            for (int i = 0; i < T; i++)
                if (M >> i & 1)
                    ce -= lp[M * T + i], c++;
            C[c] += ce;
            D[c] += ce * ce;
        }
        double mean = integral((struct arg){0, -1}, 0, 1);
        double s2 = integral((struct arg){1, -1}, 0, 1), cross = 0;
        for (int d = 1; d < k; d++) {
            double sh = (double)d / k;
            cross += integral((struct arg){0, sh}, 0, 1 - sh) +
                     integral((struct arg){0, sh}, 1 - sh, 1);
        }
        nats += mean;
        var += ((double)k * s2 + k * cross) / ((double)k * k) - mean * mean;
    }
    var /= R;
    /* the windows' bytes: from the first token to the token after the last window */
    double bytes = (W * T < n ? offs[W * T] : text_bytes) - offs[0];
    printf("%.12g %.12g %.0f %ld\n", nats / log(2.0) / bytes, sqrt(var) / log(2.0) / bytes,
           bytes, W * T);
    free(in);
    free(tgt);
    free(lp);
    free(ids);
    free(offs);
    model_close(&m);
    return 0;
}
