/* Masking schedules alpha(t) as const tables of function pointers, their ELBO weight, and the
 * batch time samplers (iid, stratified, antithetic). */
#include <math.h>

#include "mask_internal.h"

/* linear: alpha = 1 - t */
static double linear_alpha(double t, double w)
{
    (void)w;
    return 1.0 - t;
}
static double linear_mask(double t, double w)
{
    (void)w;
    return t;
}
static double linear_dalpha(double t, double w)
{
    (void)t;
    (void)w;
    return -1.0;
}

/* cosine (MDLM): alpha = cos(pi t / 2); 1 - alpha = 2 sin^2(pi t / 4) */
static double cosine_alpha(double t, double w)
{
    (void)w;
    return cos(M_PI_2 * t);
}
static double cosine_mask(double t, double w)
{
    (void)w;
    double s = sin(M_PI_4 * t);
    return 2.0 * s * s;
}
static double cosine_dalpha(double t, double w)
{
    (void)w;
    return -M_PI_2 * sin(M_PI_2 * t);
}

/* cosine-md4 (MD4): alpha = 1 - sin(pi t / 2) */
static double md4_alpha(double t, double w)
{
    (void)w;
    return 1.0 - sin(M_PI_2 * t);
}
static double md4_mask(double t, double w)
{
    (void)w;
    return sin(M_PI_2 * t);
}
static double md4_dalpha(double t, double w)
{
    (void)w;
    return -M_PI_2 * cos(M_PI_2 * t);
}

/* loglinear (MDLM's LogLinearNoise): alpha = exp(-sigma(t)), sigma = -log1p(-(1 - eps) t),
 * i.e. alpha = 1 - (1 - eps) t */
static double loglinear_alpha(double t, double eps)
{
    return 1.0 - (1.0 - eps) * t;
}
static double loglinear_mask(double t, double eps)
{
    return (1.0 - eps) * t;
}
static double loglinear_dalpha(double t, double eps)
{
    (void)t;
    return -(1.0 - eps);
}

/* poly: alpha = 1 - t^w */
static double poly_alpha(double t, double w)
{
    return 1.0 - pow(t, w);
}
static double poly_mask(double t, double w)
{
    return pow(t, w);
}
static double poly_dalpha(double t, double w)
{
    return -w * pow(t, w - 1.0);
}

/* sinpow: alpha = 1 - sin(pi t / 2)^k; k = 1 is cosine-md4. 1 - alpha ~ (pi t / 2)^k near 0,
 * and alpha'(1) = 0. */
static double sinpow_alpha(double t, double k)
{
    return 1.0 - pow(sin(M_PI_2 * t), k);
}
static double sinpow_mask(double t, double k)
{
    return pow(sin(M_PI_2 * t), k);
}
static double sinpow_dalpha(double t, double k)
{
    double s = sin(M_PI_2 * t);
    return -k * M_PI_2 * pow(s, k - 1.0) * cos(M_PI_2 * t);
}

static const mask_schedule_type linear_type = {
    "linear", "alpha = 1 - t", 0, 0, 0, linear_alpha, linear_mask, linear_dalpha};
static const mask_schedule_type cosine_type = {
    "cosine", "alpha = cos(pi t / 2)", 0, 0, 0, cosine_alpha, cosine_mask, cosine_dalpha};
static const mask_schedule_type md4_type = {
    "cosine-md4", "alpha = 1 - sin(pi t / 2)", 0, 0, 0, md4_alpha, md4_mask, md4_dalpha};
static const mask_schedule_type loglinear_type = {"loglinear",
                                                  "alpha = 1 - (1 - eps) t, eps = PARAM",
                                                  1e-3,
                                                  0,
                                                  1,
                                                  loglinear_alpha,
                                                  loglinear_mask,
                                                  loglinear_dalpha};
static const mask_schedule_type poly_type = {
    "poly", "alpha = 1 - t^w, w = PARAM", 2.0, 0, HUGE_VAL, poly_alpha, poly_mask, poly_dalpha};

static const mask_schedule_type sinpow_type = {
    "sinpow",    "alpha = 1 - sin(pi t / 2)^k, k = PARAM",
    2.0,         0,
    HUGE_VAL,    sinpow_alpha,
    sinpow_mask, sinpow_dalpha};

const mask_schedule_type *const mask_schedule_linear = &linear_type;
const mask_schedule_type *const mask_schedule_cosine = &cosine_type;
const mask_schedule_type *const mask_schedule_cosine_md4 = &md4_type;
const mask_schedule_type *const mask_schedule_loglinear = &loglinear_type;
const mask_schedule_type *const mask_schedule_poly = &poly_type;
const mask_schedule_type *const mask_schedule_sinpow = &sinpow_type;

static const mask_schedule_type *const all_types[] = {
    &linear_type, &cosine_type, &md4_type, &loglinear_type, &poly_type, &sinpow_type, NULL};

const mask_schedule_type *const *mask_schedule_types(void)
{
    return all_types;
}

double mask_schedule_alpha(const mask_schedule *s, double t)
{
    return s->type->alpha(t, s->param);
}

double mask_schedule_mask_prob(const mask_schedule *s, double t)
{
    return s->type->mask_prob(t, s->param);
}

double mask_schedule_dalpha(const mask_schedule *s, double t)
{
    return s->type->dalpha(t, s->param);
}

double mask_schedule_weight(const mask_schedule *s, double t)
{
    double mp = s->type->mask_prob(t, s->param);
    double d = -s->type->dalpha(t, s->param);
    return mp > 0 ? d / mp : HUGE_VAL;
}

void mask_sample_times(double *t, int B, const mask_schedule *s, mask_time_sampler how,
                       gsl_rng *r)
{
    double lo = s->lo, span = s->hi - s->lo;
    if (B <= 0)
        return;
    switch (how) {
    case MASK_TIME_STRATIFIED:
        for (int b = 0; b < B; b++)
            t[b] = lo + span * ((b + gsl_rng_uniform_pos(r)) / B);
        break;
    case MASK_TIME_ANTITHETIC: {
        double u = gsl_rng_uniform_pos(r);
        for (int b = 0; b < B; b++)
            t[b] = lo + span * fmod(u + (double)b / B, 1.0);
        break;
    }
    case MASK_TIME_IID:
    default:
        for (int b = 0; b < B; b++)
            t[b] = lo + span * gsl_rng_uniform_pos(r);
        break;
    }
    for (int b = 0; b < B; b++)
        t[b] = t[b] > s->hi ? s->hi : t[b];
}
