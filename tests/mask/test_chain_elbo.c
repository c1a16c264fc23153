/* libmask tests: the chain's exact NELBO with a synthetic denoiser (summation over every
 * joint state, GSL integration over t) against Monte Carlo; its invariances and variance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_rng.h>

#include "chain_forms.h"
#include "check.h"
#include "fixture.h"

/* MASK_TEST_VERBOSE=1 prints the figures behind the checks */
static int verbose;

enum { EV = 6, EMAX = 5 };
/* tokens 0..5 -> stage 1 {0, 1, 2} -> stage 2 {0, 1}; K = 1 */
static const int32_t emap1[EV] = {0, 1, 0, 2, 1, 2}, emap2[3] = {0, 1, 1};
static const int esizes[2] = {3, 2};

typedef struct elbo {
    int n, nu, M;
    int32_t x[EMAX];
    int us[EMAX + 1];
    double gamma;
    const mask_schedule *sch;
    int first[4];    /* first input id of levels 0..M+1 */
    int n_configs;   /* (M + 2)^nu joint levels */
    double *ce;      /* (n_configs x nu) cross-entropy of unit u's targets, at its level */
    int lo_hi_which; /* integrand: 0 = mean, 1 = second moment */
} elbo;

static int32_t edesc(int32_t x, int l)
{
    return l == 0 ? x : l == 1 ? emap1[x] : emap2[emap1[x]];
}

/* The synthetic denoiser's logit for candidate c at position i, from a hash of all of z. */
static double logit(const int32_t *z, int n, int i, int32_t c)
{
    uint64_t h = 1469598103934665603ull;
    for (int j = 0; j < n; j++)
        h = (h ^ (uint64_t)(z[j] + 1)) * 1099511628211ull;
    h = (h ^ (uint64_t)(i + 101)) * 1099511628211ull;
    h = (h ^ (uint64_t)(c + 7919)) * 1099511628211ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return 3.0 * ((double)(h >> 11) / 9007199254740992.0) - 1.5;
}

/* -log p(target | z) at position i: a softmax over the states one level finer that are
 * consistent with z_i (the members of its description; every stage-M state under [MASK]). */
static double cross_entropy(const int *first, int M, const int32_t *z, int n, int i,
                            int32_t target)
{
    int32_t state = z[i];
    int level = state < EV ? 0 : state == EV ? M + 1 : -1;
    for (int l = 1; l <= M && level < 0; l++)
        if (state >= first[l] && state < first[l] + esizes[l - 1])
            level = l;
    if (level <= 0)
        return NAN;
    int fl = level - 1, fsize = fl == 0 ? EV : esizes[fl - 1];
    double mx = -HUGE_VAL, sum = 0, lt = NAN;
    double lg[EV];
    int nc = 0;
    for (int c = 0; c < fsize; c++) {
        int member = level == M + 1 || (fl == 0 ? emap1[c] : emap2[c]) == state - first[level];
        if (!member)
            continue;
        int32_t cid = fl == 0 ? c : first[fl] + c;
        lg[nc] = logit(z, n, i, cid);
        mx = lg[nc] > mx ? lg[nc] : mx;
        if (cid == target)
            lt = lg[nc];
        nc++;
    }
    for (int c = 0; c < nc; c++)
        sum += exp(lg[c] - mx);
    return mx + log(sum) - lt; /* NaN when the target is not a candidate */
}

static void elbo_init(elbo *e, int n, const int *units, int nu, int M, double gamma)
{
    memset(e, 0, sizeof *e);
    static const int32_t xs[EMAX] = {3, 0, 5, 2, 4};
    e->n = n, e->nu = nu, e->M = M, e->gamma = gamma;
    memcpy(e->x, xs, sizeof xs);
    for (int u = 0; u <= nu; u++)
        e->us[u] = units[u];
    e->first[0] = 0;
    e->first[M + 1] = EV;
    for (int l = 1, next = EV + 1; l <= M; l++)
        e->first[l] = next, next += esizes[l - 1];
    e->n_configs = 1;
    for (int u = 0; u < nu; u++)
        e->n_configs *= M + 2;
    e->ce = calloc((size_t)e->n_configs * (size_t)nu, sizeof *e->ce);
    for (int c = 0; c < e->n_configs; c++) {
        int32_t z[EMAX];
        int lev[EMAX];
        for (int u = 0, code = c; u < nu; u++, code /= M + 2) {
            lev[u] = code % (M + 2);
            for (int i = units[u]; i < units[u + 1]; i++)
                z[i] = lev[u] == M + 1 ? EV : e->first[lev[u]] + edesc(e->x[i], lev[u]);
        }
        for (int u = 0; u < nu; u++) {
            if (lev[u] == 0)
                continue;
            for (int i = units[u]; i < units[u + 1]; i++) {
                int l = lev[u];
                int32_t tg = l == 1 ? e->x[i] : e->first[l - 1] + edesc(e->x[i], l - 1);
                e->ce[(size_t)c * nu + u] += cross_entropy(e->first, M, z, n, i, tg);
            }
        }
    }
}

/* The integrand at t: sum over joint levels of P(levels) sum_u w(level_u) CE_u written as
 * F'_{l_u} prod_{v != u} P_{l_v} (mean), or the estimator's second moment
 * P(levels) (sum_u w_u CE_u)^2 (which = 1). Closed forms of the test's own. */
static double elbo_integrand(double t, void *vp)
{
    const elbo *e = vp;
    int M = e->M, L = M + 2;
    double p = mask_schedule_mask_prob(e->sch, t), dp = -mask_schedule_dalpha(e->sch, t);
    double P[MAXL], dF[MAXL], w[MAXL];
    for (int l = 0; l < L; l++) {
        P[l] = marginal(M, e->gamma, l, p);
        double a = expo(M, e->gamma, l);
        dF[l] = l == 0 ? 0 : a * pow(p, a - 1) * dp;
        w[l] = l == 0 ? 0 : dF[l] / P[l];
    }
    double total = 0;
    for (int c = 0; c < e->n_configs; c++) {
        int lev[EMAX];
        double prob = 1;
        for (int u = 0, code = c; u < e->nu; u++, code /= L)
            lev[u] = code % L, prob *= P[lev[u]];
        const double *ce = e->ce + (size_t)c * e->nu;
        if (e->lo_hi_which == 0) {
            for (int u = 0; u < e->nu; u++) {
                if (lev[u] == 0)
                    continue;
                double rest = 1;
                for (int v = 0; v < e->nu; v++)
                    rest *= v == u ? dF[lev[u]] : P[lev[v]];
                total += rest * ce[u];
            }
        } else if (prob > 0) {
            double y = 0;
            for (int u = 0; u < e->nu; u++)
                y += lev[u] ? w[lev[u]] * ce[u] : 0;
            total += prob * y * y;
        }
    }
    return total;
}

static double elbo_integral(elbo *e, const char *schedule, int which, double lo, double hi)
{
    mask_schedule sch;
    char err[128];
    CHECK_INT(0, mask_schedule_parse(&sch, schedule, err, sizeof err));
    e->sch = &sch;
    e->lo_hi_which = which;
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(2000);
    gsl_function fn = {elbo_integrand, e};
    double v = 0, abserr = 0;
    int status = gsl_integration_qags(&fn, lo, hi, 1e-12, 1e-10, 2000, ws, &v, &abserr);
    CHECK(status == 0 && abserr < 1e-7 * (1 + fabs(v)), "%s: integration status %d, %g +- %g",
          schedule, status, v, abserr);
    gsl_integration_workspace_free(ws);
    e->sch = NULL;
    return v;
}

/* Monte Carlo: R replicates of N corruptions at t ~ U(0, 1); one sample is
 * sum_i weight_i CE(target_i | z). Mean, standard error from the replicates, sample variance. */
static void elbo_mc(const elbo *e, const char *schedule, int structure, unsigned long seed,
                    int N, int R, double *mean, double *se, double *var)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = EV;
    s.schedule = schedule;
    s.structure = (mask_structure)structure;
    s.chain_length = e->M;
    s.chain_shape = e->gamma;
    s.chain_map[0] = emap1, s.chain_map[1] = emap2;
    s.chain_size[0] = esizes[0], s.chain_size[1] = esizes[1];
    int32_t unit_of[EMAX];
    for (int u = 0; u < e->nu; u++)
        for (int i = e->us[u]; i < e->us[u + 1]; i++)
            unit_of[i] = u;
    const int32_t *levels[1] = {unit_of};
    if (structure == MASK_STRUCT_UNIT)
        s.n_levels = 1, s.unit_level = 1;
    mask *m = open_checked(&s);
    *mean = *se = *var = NAN;
    if (!m)
        return;
    for (int l = 0; l <= e->M + 1; l++)
        CHECK_INT(e->first[l], mask_level_first_id(m, l));
    mask_seq seq = {.ids = e->x, .n = e->n, .unit_of = levels, .n_levels = 1};
    outbuf o;
    outbuf_init(&o, e->n);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double sum_rep = 0, sum_rep2 = 0, sum = 0, sum2 = 0;
    int bad = 0;
    for (int k = 0; k < R; k++) {
        double rep = 0;
        for (int j = 0; j < N; j++) {
            double t = gsl_rng_uniform_pos(r), y = 0;
            CHECK_INT(0, mask_corrupt(m, &seq, t, r, &o.out));
            for (int i = 0; i < e->n; i++) {
                if (o.level[i] == 0)
                    continue;
                double ce = cross_entropy(e->first, e->M, o.ids, e->n, i, o.target[i]);
                bad += !isfinite(ce);
                y += o.weight[i] * ce;
            }
            rep += y;
            sum += y, sum2 += y * y;
        }
        rep /= N;
        sum_rep += rep, sum_rep2 += rep * rep;
    }
    CHECK_INT(0, bad); /* every target is a candidate of its state */
    *mean = sum_rep / R;
    *se = sqrt((sum_rep2 / R - *mean * *mean) / (R - 1));
    double nt = (double)N * R;
    *var = (sum2 - sum * sum / nt) / (nt - 1);
    outbuf_free(&o);
    gsl_rng_free(r);
    mask_close(&m);
}

static void check_exact_elbo(void)
{
    static const int tokens[] = {0, 1, 2, 3, 4, 5}, words[] = {0, 2, 3, 5};
    struct {
        const char *label;
        int n, nu, M, structure;
        const int *units;
        double gamma, other_gamma;
    } cases[] = {
        {"5 tokens, 2 stages", 5, 5, 2, MASK_STRUCT_TOKEN, tokens, 0.5, 0.8},
        {"3 units of 5 tokens, 1 stage", 5, 3, 1, MASK_STRUCT_UNIT, words, 0.3, 0.7},
        {"2 tokens, 1 stage", 2, 2, 1, MASK_STRUCT_TOKEN, tokens, 0.4, 0.9},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        elbo e, e2;
        elbo_init(&e, cases[c].n, cases[c].units, cases[c].nu, cases[c].M, cases[c].gamma);
        elbo_init(&e2, cases[c].n, cases[c].units, cases[c].nu, cases[c].M,
                  cases[c].other_gamma);
        double lin = elbo_integral(&e, "linear", 0, 0, 1);
        double cos_ = elbo_integral(&e, "cosine", 0, 0, 1);
        double sp = elbo_integral(&e, "sinpow:3", 0, 0, 1);
        double other = elbo_integral(&e2, "linear", 0, 0, 1);
        /* a common change of time leaves the bound as it is */
        CHECK(fabs(lin - cos_) < 1e-7 * lin && fabs(lin - sp) < 1e-7 * lin,
              "%s: exact NELBO linear %.12g, cosine %.12g, sinpow:3 %.12g", cases[c].label, lin,
              cos_, sp);
        /* gamma changes it when there is more than one unit */
        CHECK(fabs(lin - other) > 1e-3 * lin, "%s: gamma %g and %g give %.10g and %.10g",
              cases[c].label, cases[c].gamma, cases[c].other_gamma, lin, other);
        /* Monte Carlo under the scoring schedule agrees within 4 standard errors */
        char sched[64];
        double k = 2.0 / expo(e.M, e.gamma, 1), mean, se, var;
        snprintf(sched, sizeof sched, "sinpow:%.17g", k);
        elbo_mc(&e, sched, cases[c].structure, 11 + c, 4000, 16, &mean, &se, &var);
        if (verbose)
            printf("  %s, gamma %g: exact %.8f (linear), %.8f (cosine), %.8f (sinpow:3); "
                   "gamma %g: %.8f; Monte Carlo (%s) %.5f +- %.5f\n",
                   cases[c].label, e.gamma, lin, cos_, sp, e2.gamma, other, sched, mean, se);
        CHECK(fabs(mean - lin) <= 4 * se && se < 0.02 * lin,
              "%s: Monte Carlo %.6g +- %.3g, exact %.6g (%.2f se)", cases[c].label, mean, se,
              lin, (mean - lin) / se);
        /* the other gamma too, under the linear base schedule's own time (k = 2 / a_1) */
        k = 2.0 / expo(e2.M, e2.gamma, 1);
        snprintf(sched, sizeof sched, "sinpow:%.17g", k);
        elbo_mc(&e2, sched, cases[c].structure, 99 + c, 4000, 16, &mean, &se, &var);
        CHECK(fabs(mean - other) <= 4 * se,
              "%s, gamma %g: Monte Carlo %.6g +- %.3g, exact %.6g", cases[c].label, e2.gamma,
              mean, se, other);
        free(e.ce), free(e2.ce);
    }

    /* one unit: the same bound for every gamma, the sum of its hops' cross-entropies */
    for (int M = 1; M <= 2; M++) {
        static const int one[] = {0, 1}, three[] = {0, 3};
        for (int w = 0; w < 2; w++) {
            const int *units = w ? three : one;
            int n = w ? 3 : 1;
            elbo a, b;
            elbo_init(&a, n, units, 1, M, 0.2);
            elbo_init(&b, n, units, 1, M, 0.75);
            double hops = 0;
            for (int l = 1; l <= M + 1; l++)
                hops += a.ce[l]; /* config l: the unit at level l */
            double va = elbo_integral(&a, "linear", 0, 0, 1);
            double vb = elbo_integral(&b, "cosine", 0, 0, 1);
            CHECK(fabs(va - hops) < 1e-7 * hops && fabs(vb - hops) < 1e-7 * hops,
                  "one unit of %d, m = %d: gamma 0.2 %.12g, gamma 0.75 %.12g, hops %.12g", n, M,
                  va, vb, hops);
            double mean, se, var;
            char sched[64];
            snprintf(sched, sizeof sched, "sinpow:%.17g", 2.0 / expo(M, 0.2, 1));
            elbo_mc(&a, sched, n == 1 ? MASK_STRUCT_TOKEN : MASK_STRUCT_UNIT, 5, 2000, 8, &mean,
                    &se, &var);
            if (verbose)
                printf(
                    "  one unit of %d, m = %d: hops %.10f, exact gamma 0.2 %.10f, gamma 0.75 "
                    "%.10f, Monte Carlo %.6f +- %.2g\n",
                    n, M, hops, va, vb, mean, se);
            CHECK(fabs(mean - hops) <= 4 * se + 1e-6 * hops,
                  "one unit of %d: Monte Carlo %.8g +- %.2g, exact %.8g", n, mean, se, hops);
            free(a.ce), free(b.ce);
        }
    }
}

/* The estimator's second moment, integrated exactly over [lo, hi]: finite under the scoring
 * schedule, divergent at t -> 0 under linear (a_1 < 1) and logarithmically at t -> 1 unless
 * p'(1) = 0. The sample variance of the Monte Carlo estimate settles on the exact variance. */
static void check_variance(void)
{
    elbo e;
    static const int tokens[] = {0, 1, 2, 3};
    elbo_init(&e, 3, tokens, 3, 2, 0.5); /* a_1 = 1/4: scoring schedule sinpow:8 */
    double mean = elbo_integral(&e, "sinpow:8", 0, 0, 1);
    double full = elbo_integral(&e, "sinpow:8", 1, 0, 1);
    double cut5 = elbo_integral(&e, "sinpow:8", 1, 1e-5, 1 - 1e-5);
    double cut3 = elbo_integral(&e, "sinpow:8", 1, 1e-3, 1 - 1e-3);
    CHECK(isfinite(full) && fabs(full - cut5) < 1e-4 * full && cut3 < full,
          "sinpow:8: second moment %.8g, on [1e-5, 1 - 1e-5] %.8g, on [1e-3, 1 - 1e-3] %.8g",
          full, cut5, cut3);
    /* linear: the t -> 0 end grows like eps^(a_1 - 1) = eps^(-3/4): the decade [eps, 10 eps]
     * holds 100^(3/4) = 31.6 times more at eps / 100 (asymptotically: the ratio climbs towards
     * it); under sinpow:8 it shrinks like eps */
    double lin5 = elbo_integral(&e, "linear", 1, 1e-5, 1e-4);
    double lin7 = elbo_integral(&e, "linear", 1, 1e-7, 1e-6);
    double lin9 = elbo_integral(&e, "linear", 1, 1e-9, 1e-8);
    double sin5 = elbo_integral(&e, "sinpow:8", 1, 1e-5, 1e-4);
    double sin7 = elbo_integral(&e, "sinpow:8", 1, 1e-7, 1e-6);
    CHECK(lin7 > 20 * lin5 && lin9 / lin7 > lin7 / lin5 && lin9 < 31.7 * lin7 &&
              sin7 < 0.02 * sin5,
          "second moment on [eps, 10 eps]: linear %.4g at 1e-5, %.4g at 1e-7, %.4g at 1e-9; "
          "sinpow:8 %.4g, %.4g",
          lin5, lin7, lin9, sin5, sin7);
    /* poly:8 (p ~ t^8, but p'(1) = 8): the t -> 1 end grows by a constant per decade */
    double p3 = elbo_integral(&e, "poly:8", 1, 0.5, 1 - 1e-3);
    double p6 = elbo_integral(&e, "poly:8", 1, 0.5, 1 - 1e-6);
    double p9 = elbo_integral(&e, "poly:8", 1, 0.5, 1 - 1e-9);
    double s6 = elbo_integral(&e, "sinpow:8", 1, 0.5, 1 - 1e-6);
    double s9 = elbo_integral(&e, "sinpow:8", 1, 0.5, 1 - 1e-9);
    CHECK(p6 - p3 > 0.05 * p3 && fabs((p9 - p6) / (p6 - p3) - 1) < 0.05 &&
              fabs(s9 - s6) < 1e-6 * s6,
          "near 1: poly:8 %.6g, %.6g, %.6g (log growth); sinpow:8 %.8g, %.8g", p3, p6, p9, s6,
          s9);
    double exact_var = full - mean * mean;
    if (verbose)
        printf("  second moment: sinpow:8 %.6g (cut 1e-5: %.6g, 1e-3: %.6g); linear on decades "
               "from 1e-5, 1e-7, 1e-9: %.4g %.4g %.4g; sinpow:8 %.3g %.3g; near 1 poly:8 %.5g "
               "%.5g %.5g, sinpow:8 %.8g %.8g; exact variance %.5g\n",
               full, cut5, cut3, lin5, lin7, lin9, sin5, sin7, p3, p6, p9, s6, s9, exact_var);
    for (int N = 2000; N <= 32000; N *= 4) {
        double mc, se, var;
        elbo_mc(&e, "sinpow:8", MASK_STRUCT_TOKEN, 17, N, 4, &mc, &se, &var);
        if (verbose)
            printf("  sample variance over %d corruptions: %.5g (mean %.5f +- %.5f, exact "
                   "%.5f)\n",
                   4 * N, var, mc, se, mean);
        CHECK(var > 0.7 * exact_var && var < 1.4 * exact_var,
              "sample variance over %d corruptions %.5g, exact %.5g", 4 * N, var, exact_var);
    }
    free(e.ce);
}

void test_chain_elbo(void)
{
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    verbose = getenv("MASK_TEST_VERBOSE") != NULL;
    check_exact_elbo();
    check_variance();
    gsl_set_error_handler(old);
}
