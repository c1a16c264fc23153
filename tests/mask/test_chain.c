/* libmask tests: the coarse-to-fine chain. Layout, errors, hop weights against numeric
 * derivatives, level fractions, flat digests, nesting, the reverse kernel, classes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

#include "chain_forms.h"
#include "check.h"
#include "fixture.h"

enum { V = 300 };

/* MASK_TEST_VERBOSE=1 prints the figures behind the statistical checks */
static int verbose;

/* Maps for up to four stages over V tokens: 300 -> 37 -> 11 -> 4 -> 2 descriptions. */
static const int sizes4[MASK_MAX_CHAIN] = {37, 11, 4, 2};
static int32_t map1[V], map2[37], map3[11], map4[4];
static const int32_t *const maps4[MASK_MAX_CHAIN] = {map1, map2, map3, map4};

static void build_maps(void)
{
    for (int v = 0; v < V; v++)
        map1[v] = (int32_t)((v * 7 + 3) % 37);
    for (int d = 0; d < 37; d++)
        map2[d] = (int32_t)((d * 5) % 11);
    for (int d = 0; d < 11; d++)
        map3[d] = (int32_t)(d % 4);
    for (int d = 0; d < 4; d++)
        map4[d] = (int32_t)(d / 2);
}

/* The test's own composition: the stage-l description of token x. */
static int32_t own_describe(int32_t x, int l)
{
    for (int k = 0; k < l; k++)
        x = maps4[k][x];
    return x;
}

static void chain_settings(mask_settings *s, int M, double gamma)
{
    mask_default_settings(s);
    s->vocab_size = V;
    s->chain_length = M;
    s->chain_shape = gamma;
    for (int l = 0; l < M; l++)
        s->chain_map[l] = maps4[l], s->chain_size[l] = sizes4[l];
}

/* ------------------------------------------------------------------------------------------
 * Layout, maps, errors
 * ------------------------------------------------------------------------------------------ */

static void check_layout(void)
{
    mask_settings s;
    chain_settings(&s, 3, 0.5);
    s.types = MASK_TYPES_CLASS; /* K = 6 */
    int32_t map1_copy[V];
    memcpy(map1_copy, map1, sizeof map1);
    s.chain_map[0] = map1_copy;
    mask *m = open_checked(&s);
    if (!m)
        return;
    memset(map1_copy, 0xff, sizeof map1_copy); /* the handle keeps its own copy */
    int K = mask_n_types(m);
    CHECK_INT(6, K);
    CHECK_INT(3, mask_chain_length(m));
    CHECK_INT(V + K + 37 + 11 + 4, mask_n_inputs(m));
    const int first[] = {0, V + K, V + K + 37, V + K + 48, V};
    const int size[] = {V, 37, 11, 4, K};
    for (int l = 0; l <= 4; l++) {
        CHECK_INT(first[l], mask_level_first_id(m, l));
        CHECK_INT(size[l], mask_level_size(m, l));
    }
    CHECK_INT(-1, mask_level_first_id(m, 5));
    CHECK_INT(-1, mask_level_size(m, -1));
    int bad = 0;
    for (int l = 1; l <= 3; l++) {
        const int32_t *desc = mask_chain_descriptions(m, l), *map = mask_chain_map(m, l);
        CHECK(desc && map, "stage %d: no arrays", l);
        if (!desc || !map)
            continue;
        for (int v = 0; v < V; v++)
            bad += desc[v] != own_describe(v, l) || mask_chain_describe(m, v, l) != desc[v];
        for (int d = 0; d < (l == 1 ? V : sizes4[l - 2]); d++)
            bad += map[d] != maps4[l - 1][d];
    }
    CHECK_INT(0, bad);
    CHECK_INT(17, mask_chain_describe(m, 17, 0));
    CHECK_INT(-1, mask_chain_describe(m, V, 1));
    CHECK_INT(-1, mask_chain_describe(m, 3, 4));
    CHECK(mask_chain_map(m, 4) == NULL && mask_chain_descriptions(m, 0) == NULL,
          "arrays past the chain");
    mask_close(&m);

    mask_default_settings(&s); /* no chain: the flat layout */
    s.vocab_size = V;
    if ((m = open_checked(&s))) {
        CHECK_INT(V + 1, mask_n_inputs(m));
        CHECK_INT(0, mask_chain_length(m));
        CHECK_INT(V, mask_level_first_id(m, 1));
        CHECK_INT(-1, mask_level_first_id(m, 2));
        mask_schedule sch = mask_chain_scoring_schedule(m);
        CHECK(sch.type == mask_schedule_sinpow && sch.param == 2, "flat scoring: %s:%g",
              sch.type->name, sch.param);
        mask_close(&m);
    }
    chain_settings(&s, 2, 0.5);
    if ((m = open_checked(&s))) { /* a_1 = 1/4: k = 8 */
        mask_schedule sch = mask_chain_scoring_schedule(m);
        CHECK(sch.type == mask_schedule_sinpow && fabs(sch.param - 8) < 1e-12 && sch.lo == 0 &&
                  sch.hi == 1,
              "scoring schedule %s:%g", sch.type->name, sch.param);
        mask_close(&m);
    }
}

static void expect_open_fail(mask_settings *s, int rc, const char *msg)
{
    mask *m = NULL;
    int got = mask_open(&m, s);
    CHECK(got == rc && strstr(mask_errmsg(m), msg), "expected %d with '%s', got %d '%s'", rc,
          msg, got, mask_errmsg(m));
    mask_close(&m);
}

static void check_errors(void)
{
    mask_settings s;
    int32_t bad_map[V];
    memcpy(bad_map, map1, sizeof bad_map);
    bad_map[123] = 37;
    chain_settings(&s, 2, 0.5);
    s.chain_map[0] = bad_map;
    expect_open_fail(&s, MASK_E_RANGE, "chain stage 1: map[123] = 37 is outside [0, 37)");
    bad_map[123] = -1;
    expect_open_fail(&s, MASK_E_RANGE, "map[123] = -1");
    chain_settings(&s, 2, 0.5);
    s.chain_size[1] = 3; /* map2 has values up to 10 */
    expect_open_fail(&s, MASK_E_RANGE, "chain stage 2: map[");
    s.chain_size[1] = 0;
    expect_open_fail(&s, MASK_E_RANGE, "chain stage 2: size 0 must be >= 1");
    chain_settings(&s, 2, 0.5);
    s.chain_map[1] = NULL;
    expect_open_fail(&s, MASK_E_ARG, "chain stage 2: no map given");
    const double gammas[] = {0, 1, -0.5, 1.5, NAN};
    for (int i = 0; i < 5; i++) {
        chain_settings(&s, 1, gammas[i]);
        expect_open_fail(&s, MASK_E_RANGE, "chain_shape");
    }
    chain_settings(&s, 0, 0); /* no chain: gamma is not read */
    mask *m = open_checked(&s);
    mask_close(&m);
    chain_settings(&s, 4, 0.5);
    s.chain_length = MASK_MAX_CHAIN + 1;
    expect_open_fail(&s, MASK_E_RANGE, "chain_length = 5 is outside 0..4");
    s.chain_length = -1;
    expect_open_fail(&s, MASK_E_RANGE, "chain_length = -1");
    chain_settings(&s, 1, 0.5);
    s.types = MASK_TYPES_LEVEL;
    s.n_levels = 2;
    expect_open_fail(&s, MASK_E_ARG,
                     "mask type policy 'level' cannot be combined with a chain");
    s.types = MASK_TYPES_LENGTH;
    s.structure = MASK_STRUCT_UNIT;
    s.unit_level = 1;
    expect_open_fail(&s, MASK_E_ARG,
                     "mask type policy 'length' with structure unit cannot be combined");
    s.structure = MASK_STRUCT_SPAN;
    expect_open_fail(&s, MASK_E_ARG, "'length' with structure span");
    s.structure = MASK_STRUCT_TOKEN; /* one-token units: the length type is fixed */
    if ((m = open_checked(&s)))
        mask_close(&m);
    s.types = MASK_TYPES_CLASS;
    if ((m = open_checked(&s)))
        mask_close(&m);

    /* a chain's corruption needs target and level; the tables' arguments */
    chain_settings(&s, 1, 0.5);
    if (!(m = open_checked(&s)))
        return;
    fixture f;
    fixture_build(&f, 10, 5, V);
    outbuf o;
    outbuf_init(&o, f.n);
    mask_out no_level = o.out;
    no_level.level = NULL;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    CHECK_INT(MASK_E_ARG, mask_corrupt(m, &f.seq, 0.5, r, &no_level));
    CHECK(strstr(mask_errmsg(m), "needs the target and level"), "%s", mask_errmsg(m));
    no_level = o.out;
    no_level.target = NULL;
    CHECK_INT(MASK_E_ARG, mask_corrupt(m, &f.seq, 0.5, r, &no_level));
    CHECK_INT(0, mask_corrupt(m, &f.seq, 0.5, r, &o.out));
    double F[3], K[9];
    CHECK_INT(MASK_E_RANGE, mask_chain_cdf(m, 1.5, F));
    CHECK_INT(MASK_E_ARG, mask_chain_cdf(m, 0.5, NULL));
    CHECK_INT(MASK_E_RANGE, mask_chain_weights(m, -0.1, 1, F));
    CHECK_INT(MASK_E_RANGE, mask_chain_weights(m, 0.5, NAN, F));
    CHECK_INT(MASK_E_RANGE, mask_chain_kernel(m, 0.6, 0.5, K));
    CHECK(strstr(mask_errmsg(m), "0 <= p_s <= p_t <= 1"), "%s", mask_errmsg(m));
    CHECK_INT(MASK_E_RANGE, mask_chain_kernel(m, 0.2, 1.01, K));
    CHECK_INT(0, mask_chain_kernel(m, 0.2, 0.5, K));
    CHECK_STR("ok", mask_errmsg(m));
    gsl_rng_free(r);
    outbuf_free(&o);
    fixture_free(&f);
    mask_close(&m);
}

/* ------------------------------------------------------------------------------------------
 * Hop weights against numeric derivatives
 * ------------------------------------------------------------------------------------------ */

typedef struct hop_fn {
    mask *m;
    int l; /* 1..m+1 */
    const mask_schedule *sch;
    /* bent: the unit's p_u(t) from mask_bent_schedule over these units */
    const double *a;
    const int *len;
    int nu, u;
} hop_fn;

static double unit_p(const hop_fn *h, double t, double *dp)
{
    if (!h->a) {
        if (dp)
            *dp = -mask_schedule_dalpha(h->sch, t);
        return mask_schedule_mask_prob(h->sch, t);
    }
    double *p = malloc(2 * (size_t)h->nu * sizeof *p);
    mask_bent_schedule(h->m, h->a, h->len, h->nu, t, p, p + h->nu);
    double pu = p[h->u];
    if (dp)
        *dp = p[h->nu + h->u];
    free(p);
    return pu;
}

/* F_l(t) through the library's cdf */
static double hop_cdf(double t, void *vp)
{
    const hop_fn *h = vp;
    double F[MASK_MAX_CHAIN + 1];
    mask_chain_cdf(h->m, unit_p(h, t, NULL), F);
    return F[h->l - 1];
}

/* w_l against F_l' (gsl_deriv_central) / P_l at t, and F_l against its closed form */
static void check_hop(hop_fn *h, int M, double g, double t, const char *what)
{
    double dp = 0, p = unit_p(h, t, &dp), w[MASK_MAX_CHAIN + 1], F[MASK_MAX_CHAIN + 1];
    CHECK_INT(0, mask_chain_weights(h->m, p, dp, w));
    CHECK_INT(0, mask_chain_cdf(h->m, p, F));
    for (int l = 1; l <= M + 1; l++) {
        CHECK(fabs(F[l - 1] - cdf(M, g, l, p)) <= 1e-15 * (1 + cdf(M, g, l, p)),
              "%s: F_%d(%g) = %.17g, closed form %.17g", what, l, p, F[l - 1], cdf(M, g, l, p));
        h->l = l;
        gsl_function fn = {hop_cdf, h};
        double d = 0, err = 0, step = (t < 0.5 ? t : 1 - t) / 8;
        gsl_deriv_central(&fn, t, step, &d, &err);
        double P = marginal(M, g, l, p), numeric = d / P;
        CHECK(fabs(w[l - 1] - numeric) <= (10 * err + 1e-7 * fabs(d)) / P,
              "%s, t = %g: w_%d = %.12g, F'/P numeric %.12g (+- %.2g)", what, t, l, w[l - 1],
              numeric, 10 * err / P);
    }
}

static void check_weights(void)
{
    const char *schedules[] = {"linear", "cosine", "sinpow:3", "poly:0.7"};
    const double gammas[] = {0.3, 0.5, 0.8};
    const double ts[] = {0.03, 0.3, 0.6, 0.97};
    for (int M = 1; M <= 3; M++)
        for (int gi = 0; gi < 3; gi++)
            for (int si = 0; si < 4; si++) {
                mask_settings s;
                chain_settings(&s, M, gammas[gi]);
                s.schedule = schedules[si];
                mask *m = open_checked(&s);
                if (!m)
                    continue;
                char what[96];
                snprintf(what, sizeof what, "m = %d, gamma = %g, %s", M, gammas[gi],
                         schedules[si]);
                hop_fn h = {m, 1, mask_get_schedule(m), NULL, NULL, 0, 0};
                for (int k = 0; k < 4; k++)
                    check_hop(&h, M, gammas[gi], ts[k], what);
                mask_close(&m);
            }

    /* bent schedules: each unit's hops from its own p_u(t) */
    mask_settings s;
    chain_settings(&s, 2, 0.4);
    s.importance_mode = MASK_IMPORTANCE_SCHEDULE;
    s.importance = MASK_IMPORTANCE_LOSS;
    s.importance_strength = 1.5;
    s.schedule = "cosine";
    mask *m = open_checked(&s);
    if (m) {
        const double a[] = {0.2, 1, 3, 1, 7};
        const int len[] = {1, 3, 2, 1, 4};
        for (int u = 0; u < 5; u++) {
            hop_fn h = {m, 1, mask_get_schedule(m), a, len, 5, u};
            char what[64];
            snprintf(what, sizeof what, "bent unit %d", u);
            for (int k = 0; k < 4; k++)
                check_hop(&h, 2, 0.4, ts[k], what);
        }
        mask_close(&m);
    }

    /* near p = 1 the gap 1 - p^(a_{l+1} - a_l) is computed without cancellation */
    chain_settings(&s, 2, 0.5);
    if ((m = open_checked(&s))) {
        const double eps[] = {1e-6, 1e-10, 1e-13};
        for (int k = 0; k < 3; k++) {
            double p = 1 - eps[k], e = 1 - p, w[3]; /* e: exact */
            CHECK_INT(0, mask_chain_weights(m, p, 1.0, w));
            for (int l = 1; l <= 2; l++) {
                double da = expo(2, 0.5, l + 1) - expo(2, 0.5, l);
                double gap = da * e * (1 + (1 - da) * e / 2); /* series to O(e^3) */
                double want = expo(2, 0.5, l) / p / gap;
                CHECK(fabs(w[l - 1] - want) <= 1e-9 * want,
                      "p = 1 - %g: w_%d = %.15g, want %.15g", e, l, w[l - 1], want);
            }
        }
        double w[3];
        CHECK_INT(0, mask_chain_weights(m, 1.0, 0.0, w)); /* impossible levels: +inf */
        CHECK(isinf(w[0]) && isinf(w[1]) && w[2] == 0, "p = 1: %g %g %g", w[0], w[1], w[2]);
        CHECK_INT(0, mask_chain_weights(m, 0.0, 1.0, w));
        CHECK(isinf(w[0]) && isinf(w[2]), "p = 0: %g %g", w[0], w[2]);
        mask_close(&m);
    }
}

/* ------------------------------------------------------------------------------------------
 * Corruptions: level fractions, the weights written, nesting
 * ------------------------------------------------------------------------------------------ */

/* R corruptions at t: counts of tokens per level against sum_u L_u P_l(p_u) with variance
 * sum_u L_u^2 P_l (1 - P_l) per corruption; units share one level; weights are w_l(p_u). */
static void check_fractions(const char *label, const mask_settings *s, const fixture *f,
                            const float *imp, double t, int R)
{
    mask *m = open_checked(s);
    if (!m)
        return;
    int M = s->chain_length, n = f->n, nu = 0, bent = s->importance_mode != 0;
    double g = s->chain_shape;
    mask_seq seq = f->seq;
    seq.importance = imp;
    int *us = malloc((size_t)(n + 1) * sizeof *us), *len = malloc((size_t)n * sizeof *len);
    double *a = malloc((size_t)n * sizeof *a), *p = malloc(2 * (size_t)n * sizeof *p);
    outbuf o;
    outbuf_init(&o, n);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4321);
    const mask_schedule *sch = mask_get_schedule(m);
    double count[MAXL] = {0}, mean[MAXL] = {0}, var[MAXL] = {0};
    int split = 0, bad_weight = 0;
    for (int k = 0; k < R; k++) {
        gsl_rng *clone = gsl_rng_clone(r);
        CHECK_INT(0, mask_corrupt(m, &seq, t, r, &o.out));
        CHECK_INT(0, mask_units(m, &seq, clone, us, &nu));
        gsl_rng_free(clone);
        for (int u = 0; u < nu; u++) {
            len[u] = us[u + 1] - us[u];
            double sum = 0;
            for (int i = us[u]; i < us[u + 1]; i++)
                sum += imp ? imp[i] : 1;
            a[u] = sum / len[u];
        }
        if (bent) {
            CHECK_INT(0, mask_bent_schedule(m, a, len, nu, t, p, p + nu));
        } else {
            for (int u = 0; u < nu; u++)
                p[u] = mask_schedule_mask_prob(sch, t),
                p[nu + u] = -mask_schedule_dalpha(sch, t);
        }
        for (int u = 0; u < nu; u++) {
            int l = o.level[us[u]];
            double w[MAXL];
            mask_chain_weights(m, p[u], p[nu + u], w);
            for (int i = us[u]; i < us[u + 1]; i++) {
                split += o.level[i] != l;
                if (l > 0)
                    bad_weight += fabs(o.weight[i] - w[l - 1]) > 1e-6 * w[l - 1];
            }
            count[l] += len[u];
            for (int j = 0; j <= M + 1; j++) {
                double P = marginal(M, g, j, p[u]);
                mean[j] += P * len[u];
                var[j] += P * (1 - P) * (double)len[u] * len[u];
            }
        }
    }
    CHECK_INT(0, split);
    CHECK_INT(0, bad_weight);
    for (int j = 0; j <= M + 1; j++) {
        char what[160];
        snprintf(what, sizeof what, "%s, t = %g: tokens at level %d", label, t, j);
        CHECK_5SIGMA(what, count[j], mean[j], var[j]);
        if (verbose)
            printf("  %s: %g (expected %.1f, %+.2f sigma)\n", what, count[j], mean[j],
                   (count[j] - mean[j]) / sqrt(var[j]));
        CHECK(mean[j] > 50, "%s: level %d too rare to test (%g expected)", what, j, mean[j]);
    }
    outbuf_free(&o);
    free(us), free(len), free(a), free(p);
    gsl_rng_free(r);
    mask_close(&m);
}

static void check_level_fractions(void)
{
    fixture f;
    fixture_build(&f, 300, 42, V);
    float *imp = malloc((size_t)f.n * sizeof *imp);
    for (int i = 0; i < f.n; i++) { /* importance correlated with the word's length */
        int len = 0;
        for (int j = 0; j < f.n; j++)
            len += f.lvl1[j] == f.lvl1[i];
        imp[i] = (float)(0.2 + len * (1 + f.ids[i] % 2));
    }
    struct {
        const char *label;
        mask_structure st;
        int unit_level, M, bent;
        double gamma, t;
        const char *schedule;
    } cases[] = {
        {"token", MASK_STRUCT_TOKEN, 0, 2, 0, 0.5, 0.3, "linear"},
        {"token", MASK_STRUCT_TOKEN, 0, 3, 0, 0.6, 0.8, "cosine"},
        {"token bent", MASK_STRUCT_TOKEN, 0, 2, 1, 0.5, 0.5, "linear"},
        {"span", MASK_STRUCT_SPAN, 0, 2, 0, 0.3, 0.7, "linear"},
        {"span bent", MASK_STRUCT_SPAN, 0, 1, 1, 0.5, 0.4, "sinpow:2"},
        {"span of words", MASK_STRUCT_SPAN, 1, 2, 0, 0.5, 0.6, "linear"},
        {"unit", MASK_STRUCT_UNIT, 1, 2, 0, 0.5, 0.4, "linear"},
        {"unit bent", MASK_STRUCT_UNIT, 1, 2, 1, 0.7, 0.6, "cosine"},
        {"unit level 2", MASK_STRUCT_UNIT, 2, 1, 0, 0.5, 0.5, "linear"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mask_settings s;
        chain_settings(&s, cases[i].M, cases[i].gamma);
        s.structure = cases[i].st;
        s.n_levels = 2;
        s.unit_level = cases[i].unit_level;
        s.schedule = cases[i].schedule;
        if (cases[i].bent) {
            s.importance_mode = MASK_IMPORTANCE_SCHEDULE;
            s.importance = MASK_IMPORTANCE_LOSS;
            s.importance_strength = 2;
        }
        check_fractions(cases[i].label, &s, &f, cases[i].bent ? imp : NULL, cases[i].t, 300);
    }
    free(imp);
    fixture_free(&f);
}

/* Every position's state, target and type against the test's own composition of the maps. */
static void check_nesting(void)
{
    fixture f;
    fixture_build(&f, 120, 8, V);
    const mask_structure structures[] = {MASK_STRUCT_TOKEN, MASK_STRUCT_SPAN,
                                         MASK_STRUCT_UNIT,  MASK_STRUCT_REGEX,
                                         MASK_STRUCT_BLOCK, MASK_STRUCT_RESPONSE};
    const double ts[] = {0.1, 0.5, 0.9, 1.0};
    int n = f.n, seen[MAXL] = {0};
    outbuf o;
    outbuf_init(&o, n);
    int8_t *class_type = malloc((size_t)n);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (int M = 1; M <= 4; M += 3)
        for (int si = 0; si < 6; si++)
            for (int tp = 0; tp < 2; tp++) {
                mask_settings s;
                chain_settings(&s, M, 0.5);
                s.structure = structures[si];
                s.types = tp ? MASK_TYPES_CLASS : MASK_TYPES_SINGLE;
                s.n_levels = 2;
                s.unit_level = 1;
                s.regex = "words";
                s.block_size = 9;
                f.seq.prompt_len = structures[si] == MASK_STRUCT_RESPONSE ? n / 3 : 0;
                mask *m = open_checked(&s);
                if (!m)
                    continue;
                /* the class of every token: its type when the flat corruption masks it */
                mask_settings flat = s;
                flat.chain_length = 0;
                flat.structure = MASK_STRUCT_TOKEN;
                mask *m0 = open_checked(&flat);
                if (m0) {
                    CHECK_INT(0, mask_corrupt(m0, &f.seq, 1.0, r, &o.out));
                    memcpy(class_type, o.type, (size_t)n);
                    mask_close(&m0);
                }
                int bad = 0, top = M + 1;
                for (int k = 0; k < 8; k++) {
                    CHECK_INT(0, mask_corrupt(m, &f.seq, ts[k % 4], r, &o.out));
                    for (int i = 0; i < n; i++) {
                        int l = o.level[i];
                        int32_t x = f.ids[i], id = o.ids[i], tg = o.target[i];
                        seen[l < 0 || l > top ? 0 : l]++;
                        bad += l < 0 || l > top || o.masked[i] != (l > 0);
                        if (l == 0) {
                            bad += id != x || tg != x || o.type[i] != -1 || o.weight[i] != 0;
                            continue;
                        }
                        /* the target is the state one level finer */
                        int32_t want_tg =
                            l == 1 ? x : mask_level_first_id(m, l - 1) + own_describe(x, l - 1);
                        bad += tg != want_tg;
                        if (l <= M) {
                            int32_t d = id - mask_level_first_id(m, l);
                            int32_t finer = l == 1 ? tg : tg - mask_level_first_id(m, l - 1);
                            bad += d != own_describe(x, l) || maps4[l - 1][finer] != d;
                            bad += o.type[i] != -1;
                        } else {
                            bad += id != V + o.type[i] || o.type[i] < 0;
                            bad += tp && o.type[i] != class_type[i];
                        }
                    }
                    for (int i = 0; i < f.seq.prompt_len; i++)
                        bad += o.level[i] != 0;
                }
                CHECK(bad == 0, "m = %d, %s, %s: %d positions inconsistent", M,
                      mask_structure_name(s.structure), mask_type_policy_name(s.types), bad);
                mask_close(&m);
            }
    for (int l = 0; l <= 5; l++)
        CHECK(seen[l] > 0, "no position seen at level %d", l);
    f.seq.prompt_len = 0;
    free(class_type);
    outbuf_free(&o);
    gsl_rng_free(r);
    fixture_free(&f);
}

/* ------------------------------------------------------------------------------------------
 * m = 0 is the flat corruption bit for bit. The digests below hash every output of the flat
 * corruption (ids, masked, weight bits, types, times) and the generator's next draw, as
 * computed by libmask before chains existed, for every structure x type policy x importance
 * mode. The hashing code is the same.
 * ------------------------------------------------------------------------------------------ */

static const unsigned long long flat_digests[][3] = {
    {0xba1aaeaa8e7b73deull, 0xd08da8fa58ab7881ull, 0xc6150fd803b7306dull}, /* token, single */
    {0x0ba47d330cad4556ull, 0x8f44389da052fc1full, 0x70f0037d68715885ull}, /* token, level */
    {0xa0b80acea04091acull, 0xeddc6a3f64d12a31ull, 0x4ec4feaaf273366bull}, /* token, class */
    {0xba1aaeaa8e7b73deull, 0xd08da8fa58ab7881ull, 0xc6150fd803b7306dull}, /* token, length */
    {0xed16cb578f4156dcull, 0xc892fb0705f53953ull, 0x3041d84c57c7f27full}, /* token, imp. */
    {0x19d88eb040c53addull, 0x1fbd4611db7f2474ull, 0x78c3a20fc6149a53ull}, /* span, single */
    {0x006b2e99dd84530bull, 0xc47ca37377e7de12ull, 0xdbc83bc6e2761031ull}, /* span, level */
    {0x8ddb594c8730a993ull, 0x15fe063d8f1724c6ull, 0x7a411c5456cc1109ull}, /* span, class */
    {0x44247b885f6c4131ull, 0xb78c6bb39156ca46ull, 0xa84a2a9dbe6e7717ull}, /* span, length */
    {0x504cf65430d45783ull, 0x17aa9efa832df8aaull, 0xfadb6b45ba1f92e1ull}, /* span, imp. */
    {0x3885df9b00b21137ull, 0xf8f460f81aab42a7ull, 0xfa96d5737cb46529ull}, /* unit, single */
    {0xb38a7efae2efca2full, 0x75633ecfc20886b1ull, 0x9b95c51395d0a259ull}, /* unit, level */
    {0xc5a362fe62eda259ull, 0xbc1a33a5b28bd117ull, 0x04dbafa4345181cfull}, /* unit, class */
    {0xe8dc2471bc3953a5ull, 0xdfcc67da55a5db85ull, 0x56d02d9a2bbc0a53ull}, /* unit, length */
    {0x1eedf7db26a89b61ull, 0xe287aa906b3b4a6dull, 0x394daf08294b221bull}, /* unit, imp. */
    {0x02ca01a220568a80ull, 0xee3b32fe4ed42b71ull, 0x019d881c1ecde03full}, /* regex, single */
    {0xda918a33f07bb0ccull, 0xc26d6f7083eec649ull, 0x186e58007c75143bull}, /* regex, level */
    {0xc9d27a2ead591e02ull, 0x3f95d2741d88bf67ull, 0x79723a7a1980f9e9ull}, /* regex, class */
    {0xb44f217126836440ull, 0xc3a7be34c4909bcdull, 0x37aa1c6fe4e14adfull}, /* regex, length */
    {0xebe466b5ffb4c6d4ull, 0x27056ee2ee490869ull, 0xe9df97bb21c3a19full}, /* regex, imp. */
    {0x0be4f17e9a631c83ull, 0xdd51a5a1fb5b292dull, 0x1d887905b75b6f76ull}, /* block, single */
    {0x9bddc4466e313a65ull, 0xa2bf68dd57d01955ull, 0x4b302be841f46170ull}, /* block, level */
    {0x49c5e8f1179a1dffull, 0xf0669915e29b7039ull, 0x88982e946ec0b386ull}, /* block, class */
    {0x0be4f17e9a631c83ull, 0xdd51a5a1fb5b292dull, 0x1d887905b75b6f76ull}, /* block, length */
    {0x77f8714ef72c7111ull, 0x6718c3865928318bull, 0xf9ccfa79b3c1ebc8ull}, /* block, imp. */
    {0x2f4f243efeea09b6ull, 0xd8848e2d3dbe632aull,
     0x95468de6f35848ebull}, /* response, single */
    {0xa9836a3cf6c1a3d6ull, 0xa82da0a625f99f7eull, 0xfdec08f7f97ec047ull}, /* response, level */
    {0x09c02994fb0d5d20ull, 0x13d0cd8ed93b0662ull, 0x6433e902453ecd99ull}, /* response, class */
    {0x2f4f243efeea09b6ull, 0xd8848e2d3dbe632aull,
     0x95468de6f35848ebull}, /* response, length */
    {0x7bcc5b9beb3f6860ull, 0x55f2d1a9ba9dec5aull, 0x503e9e12b7f62d29ull}, /* response, imp. */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* The digest of one configuration; with_chain_arrays also asks for target and level (which
 * must not change the rest) and checks them: level 0 or 1, the target x. */
static uint64_t flat_digest(const fixture *f, const float *imp, int st, int tp, int mode,
                            int with_chain_arrays)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 300;
    s.schedule = "cosine";
    s.structure = (mask_structure)st;
    s.types = (mask_type_policy)tp;
    s.importance_mode = (mask_importance_mode)mode;
    s.importance = MASK_IMPORTANCE_LOSS;
    s.n_levels = 2;
    s.unit_level = st == MASK_STRUCT_UNIT ? 1 : 0;
    s.regex = "words";
    s.block_size = 7;
    mask *m = open_checked(&s);
    if (!m)
        return 0;
    int n = f->n;
    mask_seq seq = f->seq;
    seq.importance = imp;
    seq.prompt_len = st == MASK_STRUCT_RESPONSE ? n / 4 : 0;
    int32_t *ids = malloc(3 * (size_t)n * sizeof *ids), *target = malloc((size_t)n * 4);
    uint8_t *masked = malloc(3 * (size_t)n);
    float *weight = malloc(3 * (size_t)n * sizeof *weight);
    int8_t *type = malloc(3 * (size_t)n), *level = malloc((size_t)n);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    uint64_t h = 14695981039346656037ull;
    const double ts[] = {0, 0.13, 0.5, 0.87, 1};
    mask_out outs[3];
    for (int k = 0; k < 3; k++)
        outs[k] = (mask_out){ids + k * n, masked + k * n, weight + k * n, type + k * n, 0, NULL,
                             NULL};
    if (with_chain_arrays)
        outs[0].target = target, outs[0].level = level;
    int bad = 0;
    for (int k = 0; k < 15; k++) {
        CHECK_INT(0, mask_corrupt(m, &seq, ts[k % 5], r, &outs[0]));
        h = fnv(h, ids, (size_t)n * sizeof *ids);
        h = fnv(h, masked, (size_t)n);
        h = fnv(h, weight, (size_t)n * sizeof *weight);
        h = fnv(h, type, (size_t)n);
        for (int i = 0; with_chain_arrays && i < n; i++)
            bad += level[i] != masked[i] || target[i] != f->ids[i];
    }
    CHECK_INT(0, bad);
    mask_seq seqs[3] = {seq, seq, seq};
    CHECK_INT(0, mask_corrupt_batch(m, seqs, 3, 0, r, outs));
    h = fnv(h, ids, 3 * (size_t)n * sizeof *ids);
    h = fnv(h, masked, 3 * (size_t)n);
    h = fnv(h, weight, 3 * (size_t)n * sizeof *weight);
    h = fnv(h, type, 3 * (size_t)n);
    for (int k = 0; k < 3; k++)
        h = fnv(h, &outs[k].t, sizeof outs[k].t);
    unsigned long next = gsl_rng_get(r); /* the generator's state after: the same draws */
    h = fnv(h, &next, sizeof next);
    free(ids), free(target), free(masked), free(weight), free(type), free(level);
    gsl_rng_free(r);
    mask_close(&m);
    return h;
}

static void check_flat(void)
{
    fixture f;
    fixture_build(&f, 30, 11, 300);
    float *imp = malloc((size_t)f.n * sizeof *imp);
    for (int i = 0; i < f.n; i++) {
        int len = 0;
        for (int j = 0; j < f.n; j++)
            len += f.lvl1[j] == f.lvl1[i];
        imp[i] = (float)(0.25 + 0.5 * len * (1 + f.ids[i] % 3));
    }
    CHECK_INT(94, f.n); /* the fixture the digests were taken on */
    for (int st = 0; st < MASK_STRUCT_COUNT; st++)
        for (int tp = 0; tp < MASK_TYPES_COUNT; tp++)
            for (int mode = 0; mode < MASK_IMPORTANCE_MODE_COUNT; mode++)
                for (int arrays = 0; arrays < 2; arrays++) {
                    uint64_t h = flat_digest(&f, imp, st, tp, mode, arrays);
                    CHECK(h == flat_digests[st * MASK_TYPES_COUNT + tp][mode],
                          "%s, %s, %s%s: digest 0x%016llx differs from the flat corruption's",
                          mask_structure_name(st), mask_type_policy_name(tp),
                          mask_importance_mode_name(mode),
                          arrays ? " (with level, target)" : "", (unsigned long long)h);
                }
    free(imp);
    fixture_free(&f);
}

/* ------------------------------------------------------------------------------------------
 * The reverse kernel, and classes of byte strings
 * ------------------------------------------------------------------------------------------ */

static void check_kernel(void)
{
    mask_settings s;
    chain_settings(&s, 3, 0.5);
    mask *m = open_checked(&s);
    if (!m)
        return;
    int L = 5;
    double K[25];
    const double pairs[][2] = {{0.1, 0.6}, {0.0, 0.3}, {0.5, 0.5}, {0.7, 1.0}, {0.3, 0.999}};
    for (int k = 0; k < 5; k++) {
        double ps = pairs[k][0], pt = pairs[k][1];
        CHECK_INT(0, mask_chain_kernel(m, ps, pt, K));
        int bad = 0;
        for (int l = 0; l < L; l++) {
            double row = 0;
            for (int j = 0; j < L; j++) {
                row += K[l * L + j];
                bad += K[l * L + j] < 0 || (j > l && K[l * L + j] != 0);
                if (ps == pt)
                    bad += fabs(K[l * L + j] - (j == l)) > 1e-12;
            }
            bad += fabs(row - 1) > 1e-12;
        }
        CHECK(bad == 0, "kernel %g <- %g: rows, triangle or identity wrong", ps, pt);
        for (int j = 0; j < L; j++) { /* the marginals at s */
            double got = 0;
            for (int l = 0; l < L; l++)
                got += marginal(3, 0.5, l, pt) * K[l * L + j];
            CHECK_NEAR(marginal(3, 0.5, j, ps), got, 1e-12);
        }
    }
    /* against the coupling itself: one uniform U gives the levels at s and t */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    double ps = 0.35, pt = 0.7, counts[25] = {0}, rows[5] = {0};
    CHECK_INT(0, mask_chain_kernel(m, ps, pt, K));
    enum { DRAWS = 400000 };
    for (int k = 0; k < DRAWS; k++) {
        double U = gsl_rng_uniform(r);
        int ls = 0, lt = 0;
        for (int l = 1; l < L; l++)
            ls += U < cdf(3, 0.5, l, ps), lt += U < cdf(3, 0.5, l, pt);
        counts[lt * L + ls]++, rows[lt]++;
    }
    for (int l = 0; l < L; l++)
        for (int j = 0; j < L; j++) {
            char what[64];
            snprintf(what, sizeof what, "transitions %d -> %d", l, j);
            double q = K[l * L + j];
            CHECK_5SIGMA(what, counts[l * L + j], rows[l] * q, rows[l] * q * (1 - q));
        }
    gsl_rng_free(r);
    mask_close(&m);
}

static void check_classify(void)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = V;
    mask *m = open_checked(&s); /* type policy single: the built-in classes on demand */
    if (!m)
        return;
    CHECK_INT(6, mask_n_classes(m));
    CHECK_STR("other", mask_class_name(m, 0));
    CHECK_STR("word", mask_class_name(m, 4));
    CHECK(mask_class_name(m, 6) == NULL, "class past the end");
    static const struct {
        const char *bytes;
        int cls;
    } cases[] = {
        {"hello", 4}, {" world", 4}, {"42", 2},   {"3.14", 2},
        {"x_1", 3},   {"_tmp", 3},   {"   ", 1},  {"\n", 1},
        {",", 5},     {"+=", 5},     {"\xff", 0}, {"\xc3\xa9t\xc3\xa9", 4},
        {"don't", 4}, {" 7", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = mask_classify(m, cases[i].bytes, strlen(cases[i].bytes));
        CHECK(got == cases[i].cls, "'%s': class %d, expected %d (%s)", cases[i].bytes, got,
              cases[i].cls, mask_errmsg(m));
    }
    CHECK_INT(0, mask_classify(m, "", 0));
    CHECK_INT(MASK_E_ARG, mask_classify(m, NULL, 3));
    mask_close(&m);

    /* a rule file, loaded on first use by a handle of another policy; and a missing one */
    char path[] = "/tmp/mask-chain-classes-XXXXXX";
    int fd = mkstemp(path);
    const char *rules = "vowel [aeiou]+\ndigit \\d\n";
    CHECK(fd >= 0 && write(fd, rules, strlen(rules)) == (ssize_t)strlen(rules), "%s", path);
    if (fd >= 0)
        close(fd);
    s.class_rules = path;
    if ((m = open_checked(&s))) {
        CHECK_INT(3, mask_n_classes(m));
        CHECK_STR("digit", mask_class_name(m, 2));
        CHECK_INT(1, mask_classify(m, "aa", 2));
        CHECK_INT(2, mask_classify(m, "7x", 2));
        CHECK_INT(0, mask_classify(m, "xyz", 3));
        mask_close(&m);
    }
    unlink(path);
    if ((m = open_checked(&s))) { /* the file is gone: the first use says so */
        CHECK_INT(MASK_E_IO, mask_classify(m, "a", 1));
        CHECK(strstr(mask_errmsg(m), path), "message: %s", mask_errmsg(m));
        mask_close(&m);
    }
    /* the class policy's own rules agree with its types on whole words */
    mask_default_settings(&s);
    s.vocab_size = V;
    s.types = MASK_TYPES_CLASS;
    if ((m = open_checked(&s))) {
        CHECK_INT(mask_n_types(m), mask_n_classes(m));
        for (int k = 0; k < mask_n_types(m); k++)
            CHECK_STR(mask_type_name(m, k), mask_class_name(m, k));
        mask_close(&m);
    }
}

void test_chain(void)
{
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    verbose = getenv("MASK_TEST_VERBOSE") != NULL;
    build_maps();
    check_layout();
    check_errors();
    check_weights();
    check_level_fractions();
    check_nesting();
    check_flat();
    check_kernel();
    check_classify();
    gsl_set_error_handler(old);
}
