/* test_oracle_nelbo.c: the harness's Monte Carlo NELBO (score_nelbo's path) with the exact
 * oracle as denoiser equals the exact NLL of the held-out windows within a few standard
 * errors, for every schedule and every structure whose units are single tokens and that
 * reveals nothing (token, block; response against the NLL of the response given the prompt);
 * span (geometric spans, which reveal nothing) is a strict bound: above the NLL. The time
 * density is sqrt:2, the reference config's (uniform t has infinite variance at t -> 0). */
#include "../check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "scoring.h"

int check_count, check_failures;

enum { A = 5, T = 16, NW = 2000, PROMPT = 5 };

static const char *const schedules[] = {"linear", "cosine",   "cosine-md4",
                                        "poly:2", "poly:0.5", "sinpow:3"};
static const char *const structures[] = {"token", "span", "block", "response"};

static void check_one(const struct oracle *orc, struct run_ctx *x, const char *sched,
                      const char *structure, double exact, int buckets)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = A;
    s.schedule = sched;
    s.block_size = 4;
    char why[256], err[CONFIG_ERR_MAX] = "";
    CHECK_INT(0, mask_structure_parse(structure, &s.structure, why, sizeof why));
    mask *mk = NULL;
    CHECK_INT(0, mask_open(&mk, &s));
    x->prompt = !strcmp(structure, "response") ? PROMPT : 0;
    struct score_opts o = {
        .t_samples = 16, .replicates = 4, .seed = 5, .buckets = buckets, .t_sqrt = 2.0 / T};
    struct score_result r;
    int rc = score_nelbo_oracle(orc, mk, x, &o, &r, err);
    CHECK(rc == 0, "%s", err);
    double z = (r.nats - exact) / r.se;
    CHECK_INT(NW, r.windows);
    if (!strcmp(structure, "span")) /* a bound, not tight: a masked span is decoded as the
                                     * product of its tokens' marginals, not their joint */
        CHECK(z > 4.0, "%s span: NELBO %.3f +- %.3f nats, exact NLL %.3f (%+.1f SE)", sched,
              r.nats, r.se, exact, z);
    else
        CHECK(fabs(z) < 4.0, "%s %s: NELBO %.3f +- %.3f nats, exact NLL %.3f (%+.1f SE)", sched,
              structure, r.nats, r.se, exact, z);
    printf("  %-10s %-8s NELBO %9.3f +- %6.3f  exact %9.3f  (%+.2f SE)\n", sched, structure,
           r.nats, r.se, exact, z);
    if (buckets)
        CHECK(r.acc > 1.0 / A && r.acc < 1.0, "oracle accuracy %.3f", r.acc);
    mask_close(&mk);
}

int main(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    struct oracle orc;
    oracle_chain(&orc, A, 0.3, r);
    struct run_ctx x;
    memset(&x, 0, sizeof x);
    char *text = NULL;
    CHECK_INT(0, oracle_dataset(&x.valid, &text, &orc, r, NW, T));
    x.T = T;
    x.V = A;
    double exact = oracle_dataset_nll(&orc, &x.valid, NW, T), prompt = 0.0;
    for (size_t w = 0; w < NW; w++) { /* the chain is causal: p(prompt) is its prefix's */
        int y[PROMPT];
        for (int i = 0; i < PROMPT; i++)
            y[i] = x.valid.ids[w * T + (size_t)i];
        prompt += oracle_nll(&orc, y, PROMPT);
    }
    printf("  %d windows of %d symbols, exact NLL %.3f nats (%.4f bits per symbol)\n", NW, T,
           exact, exact / (NW * T) / log(2.0));
    for (size_t i = 0; i < sizeof schedules / sizeof *schedules; i++)
        for (size_t j = 0; j < sizeof structures / sizeof *structures; j++)
            check_one(&orc, &x, schedules[i], structures[j],
                      !strcmp(structures[j], "response") ? exact - prompt : exact, i == 0);
    /* a chain's corruption, or a vocabulary that is not the chain's, is refused */
    x.V = A + 1;
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = A + 1;
    mask *mk = NULL;
    CHECK_INT(0, mask_open(&mk, &s));
    struct score_opts o = {.t_samples = 16, .replicates = 4, .seed = 5};
    struct score_result res;
    char err[CONFIG_ERR_MAX] = "";
    CHECK(score_nelbo_oracle(&orc, mk, &x, &o, &res, err) == -1 && strstr(err, "oracle"),
          "a vocabulary of %d over a chain of %d: \"%s\"", A + 1, A, err);
    mask_close(&mk);
    dataset_free(&x.valid);
    free(text);
    gsl_rng_free(r);
    printf("%s: oracle NELBO (%d checks)\n", check_failures ? "FAIL" : "ok", check_count);
    return check_failures != 0;
}
