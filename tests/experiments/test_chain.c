/* test_chain.c: unit tests of the harness's chains: mask.chain's grammar against a pyramid,
 * the hashes of configs without a chain (unchanged by the chain keys), the model's membership
 * layout of a chain, and the chain samplers' tables (marginals on the step grid, the share of
 * two-level jumps against a simulation of the forward process). */
#include "../check.h"
#include "chain.h"
#include "config.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int check_count, check_failures;

/* levels 0..3 of 256, 512, 1024, 2048 tokens; the model at level 2; 6 classes */
static const int sizes[] = {256, 512, 1024, 2048};

static const char *parse(const char *text, struct chain_spec *s)
{
    static char why[1024];
    why[0] = 0;
    if (chain_parse(text, 2, sizes, 3, 6, s, why, sizeof why) && !why[0])
        snprintf(why, sizeof why, "(failed without a reason)");
    return why;
}

static void test_grammar(void)
{
    struct chain_spec s;
    CHECK(!*parse("", &s) && s.n == 0, "empty: flat, got '%s' n %d", parse("", &s), s.n);
    CHECK(!*parse("none", &s) && s.n == 0, "none: flat, n %d", s.n);
    const char *e = parse(" prefix:1 , class ", &s);
    CHECK(!*e && s.n == 2, "prefix:1, class: got '%s' n %d", e, s.n);
    CHECK(s.stage[0].kind == CHAIN_PREFIX && s.stage[0].size == 512 && s.stage[0].level == 1 &&
              s.stage[1].kind == CHAIN_CLASS && s.stage[1].size == 6,
          "prefix:1, class: stages %d/%d/%d %d/%d", s.stage[0].kind, s.stage[0].size,
          s.stage[0].level, s.stage[1].kind, s.stage[1].size);
    e = parse("prefix:1, prefix:0, class, cluster:3", &s);
    CHECK(!*e && s.n == 4 && s.stage[1].size == 256 && s.stage[3].size == 3, "four maps: '%s'",
          e);
    e = parse("cluster:64, cluster:8", &s);
    CHECK(!*e && s.n == 2 && s.stage[1].size == 8, "cluster of clusters: '%s'", e);
    CHECK(!*parse("cluster:1024", &s), "as many clusters as tokens is allowed");
    static const char *const bad[][2] = {
        {"prefix:2", "level 2 is not below the alphabet's level 2"},
        {"prefix:4", "the pyramid has no level 4 (levels 0..3)"},
        {"prefix:-1", "N of prefix:N is not a level number"},
        {"prefix:0, prefix:1", "level 1 is not below the alphabet's level 0"},
        {"cluster:1025", "1025 clusters are more than the 1024 ids"},
        {"cluster:0", "C of cluster:C is not a positive count"},
        {"class, cluster:7", "7 clusters are more than the 6 ids of the alphabet (classes)"},
        {"cluster:9, cluster:10", "10 clusters are more than the 9 ids"},
        {"class, prefix:0", "'prefix:0' cannot follow classes"},
        {"cluster:4, class", "'class' cannot follow clusters"},
        {"class, class", "'class' cannot follow classes"},
        {"prefix:1,", "empty map"},
        {"spam", "unknown map 'spam'"},
        {"class, cluster:2, cluster:1, cluster:1, cluster:1", "more than 4 maps"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e = parse(bad[i][0], &s);
        CHECK(strstr(e, bad[i][1]) && s.n == 0, "'%s': expected '%s', got '%s'", bad[i][0],
              bad[i][1], e);
    }
}

/* A config without a chain keeps the hash it had before the chain keys existed: the default
 * config with model.d = 32 hashed 127f0a016c865965 (sweep show) before them. */
static void test_hash(void)
{
    char err[CONFIG_ERR_MAX], h[17], g[17];
    struct config *c = config_new();
    config_set_arg(c, "model.d=32", err);
    config_finish(c, err);
    config_hash(c, h);
    CHECK(!strcmp(h, "127f0a016c865965"), "flat config hash: expected 127f0a016c865965, got %s",
          h);
    config_set_arg(c, "mask.chain=class", err);
    config_finish(c, err);
    config_hash(c, g);
    CHECK(strcmp(h, g), "a chain changes the hash, got %s twice", h);
    config_free(&c);
}

/* A two-stage chain over V = 12 tokens: map_1 = v % 4, map_2 = d % 2. */
static void test_layout_and_sampler(void)
{
    enum { V = 12, D1 = 4, D2 = 2 };
    int32_t m1[V], m2[D1];
    for (int v = 0; v < V; v++)
        m1[v] = v % D1;
    for (int d = 0; d < D1; d++)
        m2[d] = d % D2;
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = V;
    s.chain_length = 2;
    s.chain_map[0] = m1;
    s.chain_map[1] = m2;
    s.chain_size[0] = D1;
    s.chain_size[1] = D2;
    mask *mk = NULL;
    CHECK(mask_open(&mk, &s) == 0, "mask_open: %s", mask_errmsg(mk));
    int32_t *start, *members;
    int nd;
    CHECK(chain_layout(mk, &start, &members, &nd) == 0 && nd == D1 + D2, "layout: %d", nd);
    /* description e of stage 1 (ids V+K+e) has the tokens v with v % 4 == e, ascending */
    int ok = 1;
    for (int e = 0; e < D1; e++)
        for (int j = start[e]; j < start[e + 1]; j++)
            ok &= members[j] % D1 == e && (j == start[e] || members[j] > members[j - 1]);
    for (int e = 0; e < D2; e++)
        for (int j = start[D1 + e]; j < start[D1 + e + 1]; j++)
            ok &= members[j] % D1 % D2 == e;
    CHECK(ok && start[D1] == V && start[D1 + D2] == 2 * V, "layout members (%d, %d)", start[D1],
          start[D1 + D2]);
    /* a model with the layout, and the sampler's tables rebuilt from it */
    model_settings ms;
    model_default_settings(&ms);
    ms.config.vocab = V;
    ms.config.n_mask = 1;
    ms.config.d = 8;
    ms.config.layers = 1;
    ms.config.heads = 2;
    ms.config.seq_len = 4;
    ms.config.n_desc = nd;
    ms.threads = 1;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    model *m = NULL;
    CHECK(model_open(&m, &ms, r) == 0 && model_set_layout(m, start, members) == 0, "model: %s",
          model_errmsg(m));
    struct chain_spec spec = {2,
                              {{CHAIN_CLUSTER, D1, CHAIN_ALPHA_CLUSTERS, 0, D1},
                               {CHAIN_CLUSTER, D2, CHAIN_ALPHA_CLUSTERS, 0, D2}}};
    const int steps = 16, L = 4;
    const double gamma = 0.5, a1 = gamma * gamma;
    struct chain_sampler cs;
    char err[256] = "";
    CHECK(chain_sampler_open(&cs, m, &spec, gamma, steps, err, sizeof err) == 0, "sampler: %s",
          err);
    for (int v = 0; v < V; v++)
        ok &= cs.describe[0][v] == V + 1 + v % D1 && cs.describe[1][v] == V + 1 + D1 + v % D2;
    CHECK(ok && cs.stage_first[0] == V + 1 && cs.stage_first[2] == V + 1 + D1 + D2,
          "describe tables and stage ranges");
    /* the marginals after step i are the forward process's at p_{i+1}, and F_1 falls evenly:
     * P(level >= 1) = F_1 = 1 - (i + 1) / steps */
    double P[4] = {0, 0, 0, 1}, worst = 0;
    for (int i = 0; i < steps; i++) {
        double Q[4] = {0}, *k = cs.kernel + (size_t)i * L * L;
        for (int l = 0; l < L; l++)
            for (int j = 0; j < L; j++)
                Q[j] += P[l] * k[l * L + j];
        memcpy(P, Q, sizeof P);
        double f1 = 1 - P[0], want = 1 - (double)(i + 1) / steps;
        worst = fmax(worst, fabs(f1 - want));
    }
    CHECK(worst < 1e-12, "F_1 on the step grid: off by %g", worst);
    /* the share of two-level jumps against the forward process simulated: one uniform per
     * position, level(p) = #{l : U < F_l(p)}, F = (p^(a_1), p^(a_2), p) */
    long n = 400000, jumps = 0;
    for (long t = 0; t < n; t++) {
        double u = gsl_rng_uniform(r);
        int prev = 3;
        for (int i = 0; i < steps; i++) {
            double p = i + 1 == steps ? 0 : pow(1 - (double)(i + 1) / steps, 1 / a1);
            int lev = (u < pow(p, a1)) + (u < pow(p, gamma)) + (u < p);
            jumps += prev - lev >= 2;
            prev = lev;
        }
    }
    double sim = (double)jumps / n, se = sqrt(sim * (1 - sim) / n);
    CHECK(fabs(cs.jump - sim) < 4 * se, "jump share %.5f, simulated %.5f (SE %.5f)", cs.jump,
          sim, se);
    chain_sampler_free(&cs);
    /* a flat model does not fit a chain */
    model_close(&m);
    ms.config.n_desc = 0;
    model_open(&m, &ms, r);
    CHECK(chain_sampler_open(&cs, m, &spec, gamma, steps, err, sizeof err) == -1 &&
              strstr(err, "a flat model"),
          "flat model: '%s'", err);
    model_close(&m);
    gsl_rng_free(r);
    free(start);
    free(members);
    mask_close(&mk);
}

int main(void)
{
    test_grammar();
    test_hash();
    test_layout_and_sampler();
    if (check_failures)
        fprintf(stderr, "%d failures of %d checks\n", check_failures, check_count);
    return check_failures ? 1 : 0;
}
