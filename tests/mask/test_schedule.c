/* libmask tests: schedules (values, derivatives against gsl_deriv_central, ELBO weights),
 * time samplers, and curriculum strings. */
#include <string.h>

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_rng.h>

#include "check.h"
#include "mask.h"

static double alpha_of(double t, void *p)
{
    return mask_schedule_alpha(p, t);
}

/* The closed forms of w(t) = -alpha'(t) / (1 - alpha(t)) listed in mask.h. */
static double closed_weight(const mask_schedule *s, double t)
{
    const char *name = s->type->name;
    if (strcmp(name, "linear") == 0 || strcmp(name, "loglinear") == 0)
        return 1 / t;
    if (strcmp(name, "poly") == 0)
        return s->param / t;
    if (strcmp(name, "cosine") == 0)
        return M_PI_2 / tan(M_PI * t / 4);
    if (strcmp(name, "sinpow") == 0)
        return s->param * M_PI_2 / tan(M_PI_2 * t);
    return M_PI_2 / tan(M_PI_2 * t); /* cosine-md4 */
}

static void check_one(const mask_schedule *s)
{
    const char *name = s->type->name;
    CHECK_NEAR(1.0, mask_schedule_alpha(s, 0), 1e-15);
    double a1 = strcmp(name, "loglinear") == 0 ? s->param : 0.0;
    CHECK_NEAR(a1, mask_schedule_alpha(s, 1), 1e-15);
    const double ts[] = {0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.999};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        double t = ts[i], d = 0, abserr = 0;
        gsl_function F = {alpha_of, (void *)s};
        double h = t < 0.5 ? t / 4 : (1 - t) / 4; /* stay inside [0, 1] */
        gsl_deriv_central(&F, t, h, &d, &abserr);
        double exact = mask_schedule_dalpha(s, t);
        CHECK(fabs(d - exact) <= 10 * abserr + 1e-8 * (1 + fabs(exact)),
              "%s(%g) at t = %g: alpha' = %.12g, numeric %.12g +- %g", name, s->param, t, exact,
              d, abserr);
        CHECK_NEAR(1.0, mask_schedule_alpha(s, t) + mask_schedule_mask_prob(s, t), 1e-15);
        double w = mask_schedule_weight(s, t);
        /* 1 - alpha cancels where the mask probability is tiny (sinpow:8 at t = 0.01) */
        CHECK_NEAR(-exact / mask_schedule_mask_prob(s, t), w, 1e-9 * w);
        CHECK_NEAR(closed_weight(s, t), w, 1e-9 * w);
        CHECK(mask_schedule_dalpha(s, t) < 0, "%s: alpha must decrease at t = %g", name, t);
    }
}

static void check_samplers(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 7);
    mask_schedule s = {mask_schedule_linear, 0, 0.2, 0.6};
    enum { B = 64, ROUNDS = 400 };
    double t[B];
    for (int how = 0; how < MASK_TIME_COUNT; how++) {
        double sum = 0;
        for (int k = 0; k < ROUNDS; k++) {
            mask_sample_times(t, B, &s, (mask_time_sampler)how, r);
            for (int b = 0; b < B; b++) {
                CHECK(t[b] > 0.2 && t[b] <= 0.6, "%s: t = %g outside (0.2, 0.6]",
                      mask_time_sampler_name(how), t[b]);
                sum += t[b];
            }
            if (how == MASK_TIME_STRATIFIED)
                for (int b = 0; b < B; b++) {
                    double u = (t[b] - 0.2) / 0.4 * B;
                    CHECK(u >= b - 1e-9 && u <= b + 1 + 1e-9, "stratum %d holds u*B = %g", b,
                          u);
                }
            if (how == MASK_TIME_ANTITHETIC)
                for (int b = 1; b < B; b++) {
                    double gap = fmod((t[b] - t[b - 1]) / 0.4 + 1.0, 1.0);
                    CHECK_NEAR(1.0 / B, gap, 1e-9);
                }
        }
        /* mean of U(0.2, 0.6): iid variance 0.4^2 / 12 per draw; the stratified and
         * antithetic samplers have smaller variance, so the iid bound is conservative. */
        double n = (double)B * ROUNDS;
        CHECK_5SIGMA(mask_time_sampler_name(how), sum / n, 0.4, 0.16 / 12 / n);
    }
    gsl_rng_free(r);
}

void test_schedule(void)
{
    for (const mask_schedule_type *const *t = mask_schedule_types(); *t; t++) {
        mask_schedule s = {*t, (*t)->param_default, 0, 1};
        check_one(&s);
    }
    mask_schedule poly_half = {mask_schedule_poly, 0.5, 0, 1};
    mask_schedule poly3 = {mask_schedule_poly, 3, 0, 1};
    mask_schedule ll = {mask_schedule_loglinear, 0.05, 0, 1};
    mask_schedule sinpow1 = {mask_schedule_sinpow, 1, 0, 1},
                  sinpow8 = {mask_schedule_sinpow, 8, 0, 1};
    mask_schedule md4 = {mask_schedule_cosine_md4, 0, 0, 1};
    check_one(&poly_half);
    check_one(&poly3);
    check_one(&ll);
    check_one(&sinpow1);
    check_one(&sinpow8);
    for (double t = 0.05; t < 1; t += 0.1) /* sinpow:1 is cosine-md4 */
        CHECK_NEAR(mask_schedule_mask_prob(&md4, t), mask_schedule_mask_prob(&sinpow1, t),
                   1e-15);
    CHECK_NEAR(0.0, mask_schedule_dalpha(&sinpow8, 1), 1e-15); /* alpha'(1) = 0 */
    CHECK(isinf(mask_schedule_weight(&poly3, 0)), "w(0) = %g", mask_schedule_weight(&poly3, 0));
    check_samplers();
}

void test_curriculum(void)
{
    char err[256];
    mask_curriculum *c = NULL;
    mask_schedule s;
    CHECK_INT(0, mask_curriculum_parse(&c, " linear [ 0 , 0.2..1@5000 ] ", err, sizeof err));
    mask_curriculum_at(c, 0, &s);
    CHECK_NEAR(0.2, s.hi, 1e-15);
    mask_curriculum_at(c, 2500, &s);
    CHECK_NEAR(0.6, s.hi, 1e-15);
    mask_curriculum_at(c, 9000, &s);
    CHECK_NEAR(1.0, s.hi, 1e-15);
    CHECK_NEAR(0.0, s.lo, 0);
    mask_curriculum_close(&c);
    CHECK(c == NULL, "close must reset the pointer");
    mask_curriculum_close(&c);

    CHECK_INT(0, mask_curriculum_parse(&c, "cosine; 20000: poly:3[0.1..0@100-200,1]", err,
                                       sizeof err));
    mask_curriculum_at(c, 19999, &s);
    CHECK(s.type == mask_schedule_cosine, "step 19999: %s", s.type->name);
    mask_curriculum_at(c, 20000, &s);
    CHECK(s.type == mask_schedule_poly && s.param == 3, "step 20000: %s", s.type->name);
    CHECK_NEAR(0.0, s.lo, 0);
    mask_curriculum_close(&c);
    CHECK_INT(0, mask_curriculum_parse(&c, "poly:3[0.1..0@100-200,1]", err, sizeof err));
    mask_curriculum_at(c, 150, &s);
    CHECK_NEAR(0.05, s.lo, 1e-15);
    mask_curriculum_at(c, 50, &s);
    CHECK_NEAR(0.1, s.lo, 1e-15);
    mask_curriculum_close(&c);

    const char *documented[] = {"linear[0,0.2..1@5000]", "cosine; 20000: linear",
                                "poly:2[0.1..0@4000,1]; 8000: linear", "loglinear[0.001,1]",
                                "poly:0.5[0,0.9]"}; /* the examples of mask.h */
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++) {
        int rc = mask_curriculum_parse(&c, documented[i], err, sizeof err);
        CHECK(rc == 0, "'%s': %s", documented[i], err);
        mask_curriculum_close(&c);
    }
    CHECK_INT(0, mask_schedule_parse(&s, "loglinear:1e-4", err, sizeof err));
    CHECK(s.type == mask_schedule_loglinear && s.param == 1e-4, "param %g", s.param);
    CHECK_INT(0, mask_schedule_parse(&s, "cosine-md4[0.2,0.8]", err, sizeof err));
    CHECK(s.type == mask_schedule_cosine_md4 && s.lo == 0.2 && s.hi == 0.8, "%g %g", s.lo,
          s.hi);
    CHECK_INT(0, mask_schedule_parse(&s, "poly", err, sizeof err));
    CHECK_NEAR(2.0, s.param, 0);

    static const struct {
        const char *spec;
        int rc;
        const char *msg;
    } bad[] = {
        {"foo", MASK_E_NAME,
         "unknown schedule 'foo' (linear, cosine, cosine-md4, loglinear, poly, sinpow)"},
        {"sinpow:0", MASK_E_RANGE, "parameter out of range"},
        {"linear:2", MASK_E_RANGE, "takes no parameter"},
        {"poly:-1", MASK_E_RANGE, "parameter out of range"},
        {"loglinear:1", MASK_E_RANGE, "parameter out of range"},
        {"linear[0.8,0.2]", MASK_E_RANGE, "0 <= lo <= hi <= 1"},
        {"linear[0,1.5]", MASK_E_RANGE, "0 <= lo <= hi <= 1"},
        {"linear[0,0.2..1@5000]", MASK_E_RANGE, "a curriculum where one schedule"},
        {"linear; 0: cosine", MASK_E_RANGE, "stage steps must increase"},
        {"linear[0,1", MASK_E_RANGE, "expected ']'"},
        {"linear; 100 cosine", MASK_E_RANGE, "expected ':'"},
        {"linear[0,0.5..1@0]", MASK_E_RANGE, "a ramp must end after it starts"},
        {"linear[x,1]", MASK_E_RANGE, "expected a number"},
        {"", MASK_E_NAME, "unknown schedule ''"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = mask_schedule_parse(&s, bad[i].spec, err, sizeof err);
        CHECK(rc == bad[i].rc && strstr(err, bad[i].msg),
              "'%s': expected %d with \"%s\", got %d \"%s\"", bad[i].spec, bad[i].rc,
              bad[i].msg, rc, err);
    }
}
