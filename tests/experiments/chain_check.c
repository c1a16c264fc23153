/* chain_check.c: a chain run's own bound on a held-out text, computed apart from the harness
 * (for tests/integration/exp_chain_score.sh): for each window of T <= 6 tokens, the sum over
 * every joint state of the positions' levels (0 the token, 1..m its descriptions, m+1 the
 * mask) of each position's weight times cross-entropy, the weight integrated numerically over
 * the masking probability p (the bound does not depend on the base schedule):
 *     NELBO = sum_z sum_{i: l_i >= 1} -log p(s_{l_i - 1} | z) integral_0^1 dF_{l_i}/dp
 *             prod_{j != i} P_{l_j}(p) dp,
 * F_l = p^(a_l), a_l = gamma^(m+1-l) (l <= m), a_{m+1} = 1, P_l = F_l - F_{l+1}, F_0 = 1,
 * F_{m+2} = 0 (integrated in u = p^(a_1), where the integrand is smooth). The denoiser is the checkpoint's (libmodel), its descriptions read from its
 * membership layout (stage sizes given), the mask type 0.
 * Usage: chain_check CKPT IDS OFFSETS TEXT_BYTES W GAMMA D1 [D2 ...]
 * Prints: nelbo_bpb bytes tokens */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { MAXT = 6, MAXM = 4 };

static int M, T;
static double a[MAXM + 2]; /* a[1..M+1] */

static double F(int l, double p)
{
    return l == 0 ? 1 : l > M + 1 ? 0 : pow(p, a[l]);
}

struct arg {
    int level;           /* the predicting position's level */
    int count[MAXM + 2]; /* the other positions' levels */
};

/* The integrand in u = p^(a_1) (p = u^k, k = 1 / a_1), smooth where the one in p is not:
 * dF_l/dp dp = a_l k u^(k a_l - 1) du, k a_l >= 1. */
static double fn(double u, void *v)
{
    const struct arg *g = v;
    double k = 1 / a[1], p = pow(u, k);
    double y = a[g->level] * k * pow(u, k * a[g->level] - 1);
    for (int l = 0; l <= M + 1; l++)
        for (int k = 0; k < g->count[l]; k++)
            y *= F(l, p) - F(l + 1, p);
    return y;
}

/* The coefficient of a position at `level` among others with `count` levels, memoised. */
static double coefficient(int level, const int *count)
{
    static double memo[MAXM + 2][7 * 7 * 7 * 7 * 7 * 7];
    static unsigned char have[MAXM + 2][7 * 7 * 7 * 7 * 7 * 7];
    int key = 0;
    for (int l = 0; l <= M + 1; l++)
        key = key * (MAXT + 1) + count[l];
    if (have[level][key])
        return memo[level][key];
    struct arg g = {level, {0}};
    memcpy(g.count, count, sizeof g.count);
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(2000);
    gsl_function fun = {fn, &g};
    double r = NAN, e;
    if (gsl_integration_qags(&fun, 0, 1, 1e-12, 1e-10, 2000, ws, &r, &e))
        r = NAN;
    gsl_integration_workspace_free(ws);
    have[level][key] = 1;
    return memo[level][key] = r;
}

static long read_longs(const char *path, long **out)
{
    FILE *f = fopen(path, "r");
    long n = 0, cap = 1024, v;
    long *x = malloc((size_t)cap * sizeof *x);
    while (f && x && fscanf(f, "%ld", &v) == 1) {
        if (n == cap) {
            long *g = realloc(x, (size_t)(cap *= 2) * sizeof *x);
            if (!g)
                break;
            x = g;
        }
        x[n++] = v;
    }
    if (f)
        fclose(f);
    *out = x;
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 8 || argc > 7 + MAXM) {
        fprintf(stderr, "usage: chain_check CKPT IDS OFFSETS TEXT_BYTES W GAMMA D1 [D2 ...]\n");
        return 2;
    }
    gsl_set_error_handler_off();
    long *ids, *offs, text_bytes = atol(argv[4]), W = atol(argv[5]);
    double gamma = atof(argv[6]);
    int D[MAXM];
    M = argc - 7;
    for (int l = 0; l < M; l++)
        D[l] = atoi(argv[7 + l]);
    for (int l = 1; l <= M + 1; l++)
        a[l] = l == M + 1 ? 1 : pow(gamma, M + 1 - l);
    long n = read_longs(argv[2], &ids), no = read_longs(argv[3], &offs);
    model *m = NULL;
    if (model_load(&m, argv[1], 1, NULL)) {
        fprintf(stderr, "chain_check: %s: %s\n", argv[1], m ? model_errmsg(m) : "cannot load");
        return 1;
    }
    model_set_prior(m, NULL);
    const model_config *mc = model_get_config(m);
    const int V = mc->vocab, K = mc->n_mask;
    T = mc->seq_len;
    const int32_t *start, *members;
    int Dsum = 0;
    for (int l = 0; l < M; l++)
        Dsum += D[l];
    if (T > MAXT || n != no || n < W * T || mc->n_desc != Dsum ||
        !model_get_layout(m, &start, &members)) {
        fprintf(stderr,
                "chain_check: T = %d, %ld ids, %ld offsets, %ld windows, %d descriptions\n", T,
                n, no, W, mc->n_desc);
        return 1;
    }
    /* desc[l][v]: the input id of token v's stage-(l+1) description */
    int32_t *desc[MAXM];
    for (int l = 0, off = 0; l < M; off += D[l], l++) {
        desc[l] = malloc((size_t)V * sizeof *desc[l]);
        for (int v = 0; v < V; v++)
            desc[l][v] = -1;
        for (int e = off; e < off + D[l]; e++)
            for (int j = start[e]; j < start[e + 1]; j++)
                desc[l][members[j]] = V + K + e;
    }
    const int L = M + 2;
    int ns = 1;
    for (int i = 0; i < T; i++)
        ns *= L;
    int32_t *in = malloc((size_t)ns * T * sizeof *in),
            *tgt = malloc((size_t)ns * T * sizeof *tgt);
    float *lp = malloc((size_t)ns * T * sizeof *lp);
    int8_t *lev = malloc((size_t)ns * T);
    double nats = 0;
    for (long w = 0; w < W; w++) {
        for (int s = 0; s < ns; s++)
            for (int i = 0, q = s; i < T; i++, q /= L) {
                int l = q % L;
                int32_t x = (int32_t)ids[w * T + i];
                size_t at = (size_t)s * T + (size_t)i;
                lev[at] = (int8_t)l;
                in[at] = l == 0 ? x : l == M + 1 ? V : desc[l - 1][x];
                tgt[at] = l <= 1 ? x : desc[l - 2][x];
            }
        if (model_score(m, in, tgt, ns, T, lp)) {
            fprintf(stderr, "chain_check: %s\n", model_errmsg(m));
            return 1;
        }
        for (int s = 0; s < ns; s++)
            for (int i = 0; i < T; i++) {
                int l = lev[(size_t)s * T + (size_t)i], count[MAXM + 2] = {0};
                if (l == 0)
                    continue;
                for (int j = 0; j < T; j++)
                    if (j != i)
                        count[lev[(size_t)s * T + (size_t)j]]++;
                nats -= coefficient(l, count) * lp[(size_t)s * T + (size_t)i];
            }
    }
    /* the windows' bytes: from the first token to the token after the last window */
    double bytes = (W * T < n ? offs[W * T] : text_bytes) - offs[0];
    printf("%.12g %.0f %ld\n", nats / log(2.0) / bytes, bytes, W * T);
    for (int l = 0; l < M; l++)
        free(desc[l]);
    free(in);
    free(tgt);
    free(lp);
    free(lev);
    free(ids);
    free(offs);
    model_close(&m);
    return 0;
}
