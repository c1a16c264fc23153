/* libmask tests: importance. The bent per-unit schedules keep the mean masking probability at
 * 1 - alpha(t) and have exact derivatives (gsl_deriv_central); corruptions follow them (5 sigma),
 * also over multi-token units (unit, span) whose importance grows with their length; loss
 * mode, rule files, idf and surprisal give the documented weights. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_rng.h>

#include "check.h"
#include "fixture.h"

enum { NU = 80 }; /* more distinct biases than libmask groups: the ungrouped path */

typedef struct bent_at {
    mask *m;
    const double *a;
    const int *len;
    int u;
} bent_at;

static double p_of_t(double t, void *vp)
{
    bent_at *b = vp;
    double p[NU];
    mask_bent_schedule(b->m, b->a, b->len, NU, t, p, NULL);
    return p[b->u];
}

static mask *open_bent(const char *schedule, double strength)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 512;
    s.schedule = schedule;
    s.importance_mode = MASK_IMPORTANCE_SCHEDULE;
    s.importance_strength = strength;
    return open_checked(&s);
}

static void check_bent_schedule(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 17);
    double a[NU], p[NU], dp[NU], equal[NU];
    int len[NU];
    for (int u = 0; u < NU; u++) {
        a[u] = 3 * gsl_rng_uniform(r);
        len[u] = 1 + (int)gsl_rng_uniform_int(r, 5);
        equal[u] = 2.0;
    }
    const char *schedules[] = {"linear", "cosine", "poly:3", "loglinear"};
    for (size_t k = 0; k < sizeof schedules / sizeof schedules[0]; k++) {
        mask *m = open_bent(schedules[k], 1.5);
        if (!m)
            continue;
        const mask_schedule *s = mask_get_schedule(m);
        double prev[NU] = {0};
        for (double t = 0.0; t <= 1.0 + 1e-12; t += 0.05) {
            double tt = t > 1 ? 1 : t, mp = mask_schedule_mask_prob(s, tt);
            CHECK_INT(0, mask_bent_schedule(m, a, len, NU, tt, p, dp));
            double mean = 0, total = 0;
            for (int u = 0; u < NU; u++) {
                mean += len[u] * p[u], total += len[u];
                CHECK(p[u] >= prev[u], "%s: p_%d decreases at t = %g", schedules[k], u, tt);
                prev[u] = p[u];
            }
            CHECK_NEAR(mp, mean / total, 1e-12);
            if (tt <= 0 || tt >= 1)
                continue;
            for (int u = 0; u < NU; u += 7) {
                bent_at b = {m, a, len, u};
                gsl_function F = {p_of_t, &b};
                double d = 0, abserr = 0, h = fmin(tt, 1 - tt) / 4;
                gsl_deriv_central(&F, tt, h, &d, &abserr);
                CHECK(fabs(d - dp[u]) <= 10 * abserr + 1e-7 * (1 + fabs(d)),
                      "%s: p_%d'(%g) = %.10g, numeric %.10g +- %g", schedules[k], u, tt, dp[u],
                      d, abserr);
            }
            /* equal importances: the plain schedule, p = 1 - alpha, p' = -alpha' */
            CHECK_INT(0, mask_bent_schedule(m, equal, len, NU, tt, p, dp));
            CHECK_NEAR(mp, p[3], 1e-12);
            CHECK_NEAR(-mask_schedule_dalpha(s, tt), dp[3], 1e-9 * (1 + dp[3]));
        }
        mask_close(&m);
    }
    gsl_rng_free(r);
}

/* Corruptions in schedule mode follow p_u: the masked count of the important half and of
 * the rest against sum p_u, variance sum p_u (1 - p_u); weights are p_u' / p_u. */
static void check_bent_corruption(const fixture *f)
{
    mask *m = open_bent("linear", 2.0);
    if (!m)
        return;
    int n = f->n;
    float *imp = malloc((size_t)n * sizeof *imp);
    double *a = malloc((size_t)n * sizeof *a), *p = malloc((size_t)n * sizeof *p);
    double *dp = malloc((size_t)n * sizeof *dp);
    for (int i = 0; i < n; i++)
        imp[i] = (float)(a[i] = (i % 5 == 0) ? 4.0 : 0.5);
    mask_seq seq = f->seq;
    seq.importance = imp;
    double t = 0.4;
    /* every token is a unit: mask_bent_schedule on the tokens gives each p_u and p_u' */
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    uint8_t *masked = malloc((size_t)n);
    float *weight = malloc((size_t)n * sizeof *weight);
    mask_out out = {ids, masked, weight, NULL, 0, NULL, NULL};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 23);
    CHECK_INT(0, mask_bent_schedule(m, a, NULL, n, t, p, dp));
    double hi = 0, hi_mean = 0, hi_var = 0, lo = 0, lo_mean = 0, lo_var = 0;
    int bad_w = 0;
    const int R = 300;
    for (int k = 0; k < R; k++) {
        CHECK_INT(0, mask_corrupt(m, &seq, t, r, &out));
        for (int i = 0; i < n; i++) {
            int important = i % 5 == 0;
            *(important ? &hi : &lo) += masked[i];
            *(important ? &hi_mean : &lo_mean) += p[i];
            *(important ? &hi_var : &lo_var) += p[i] * (1 - p[i]);
            if (masked[i])
                bad_w += fabs(weight[i] - dp[i] / p[i]) > 1e-5 * dp[i] / p[i];
        }
    }
    CHECK(p[0] > 0.4 && p[1] < 0.4, "important tokens must be masked more: %g vs %g", p[0],
          p[1]);
    CHECK_5SIGMA("important tokens masked", hi, hi_mean, hi_var);
    CHECK_5SIGMA("other tokens masked", lo, lo_mean, lo_var);
    CHECK_NEAR(0.4 * n * R, hi_mean + lo_mean, 1e-6 * n * R);
    CHECK_INT(0, bad_w);
    free(imp), free(a), free(p), free(dp), free(ids), free(masked), free(weight);
    gsl_rng_free(r);
    mask_close(&m);
}

/* Multi-token units whose importance grows with their length: the bent schedule must weigh
 * each unit by its length so that tokens, not units, are masked with probability
 * 1 - alpha(t). Importance = the token's word length in tokens, strength 2, t = 0.4: a bend
 * that averages over units instead masks 0.49 of the tokens with whole words as units and
 * 0.44 with spans of words. (Spans of tokens cut across words, so their importance hardly
 * follows their length: the same invariant, but not a check of the weighting.) */
static void check_bent_units(const fixture *f)
{
    const struct {
        const char *name;
        mask_structure structure;
        int unit_level;
    } cases[] = {{"unit (words)", MASK_STRUCT_UNIT, 1},
                 {"span of tokens", MASK_STRUCT_SPAN, 0},
                 {"span of words", MASK_STRUCT_SPAN, 1}};
    const int n = f->n, R = 400;
    const double t = 0.4;
    float *imp = malloc((size_t)n * sizeof *imp);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    uint8_t *masked = malloc((size_t)n);
    float *weight = malloc((size_t)n * sizeof *weight);
    double *a = malloc((size_t)n * sizeof *a), *p = malloc((size_t)n * sizeof *p);
    int *len = malloc((size_t)n * sizeof *len);
    /* the words (level-1 units) in order, their lengths, each token's importance */
    int nw = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || f->lvl1[i] != f->lvl1[i - 1])
            len[nw++] = 0;
        len[nw - 1]++;
    }
    for (int i = 0, w = -1; i < n; i++) {
        w += i == 0 || f->lvl1[i] != f->lvl1[i - 1];
        imp[i] = (float)(a[w] = len[w]);
    }
    mask_seq seq = f->seq;
    seq.importance = imp;
    mask_out out = {ids, masked, weight, NULL, 0, NULL, NULL};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mask_settings s;
        mask_default_settings(&s);
        s.vocab_size = 512;
        s.schedule = "linear";
        s.structure = cases[c].structure;
        s.n_levels = 2;
        s.unit_level = cases[c].unit_level;
        s.importance_mode = MASK_IMPORTANCE_SCHEDULE;
        s.importance_strength = 2.0;
        mask *m = open_checked(&s);
        if (!m)
            continue;
        gsl_rng_set(r, 29 + c);
        /* per corruption: the masked tokens, and for words the tokens of long words */
        double sum = 0, sum2 = 0, long_masked = 0;
        for (int k = 0; k < R; k++) {
            CHECK_INT(0, mask_corrupt(m, &seq, t, r, &out));
            double x = 0;
            for (int i = 0; i < n; i++) {
                x += masked[i];
                long_masked += masked[i] && imp[i] >= 3;
            }
            sum += x, sum2 += x * x;
        }
        /* E[masked tokens] = (1 - alpha(t)) n exactly for every draw of the units; the
         * variance of the mean is estimated from the R corruptions */
        double mean = sum / R, var = (sum2 - sum * sum / R) / (R - 1);
        CHECK(fabs(mean - t * n) <= 5 * sqrt(var / R),
              "%s: masked %.4f of the tokens, expected %.4f +- 5 x %.4f", cases[c].name,
              mean / n, t, sqrt(var / R) / n);
        if (cases[c].structure == MASK_STRUCT_UNIT) {
            /* whole words: p_u from mask_bent_schedule with the word lengths, and the masked
             * tokens of long words against their exact binomial mean and variance */
            CHECK_INT(0, mask_bent_schedule(m, a, len, nw, t, p, NULL));
            double want = 0, want_var = 0, tok_mean = 0;
            for (int w = 0; w < nw; w++) {
                tok_mean += len[w] * p[w];
                if (len[w] >= 3)
                    want += len[w] * p[w], want_var += len[w] * len[w] * p[w] * (1 - p[w]);
            }
            CHECK_NEAR(t * n, tok_mean, 1e-9 * n);
            CHECK(p[0] >= 0 && want > 0, "p_0 = %g", p[0]);
            CHECK_5SIGMA("tokens of long words masked", long_masked, want * R, want_var * R);
        }
        mask_close(&m);
    }
    gsl_rng_free(r);
    free(imp), free(ids), free(masked), free(weight), free(a), free(p), free(len);
}

static void check_loss_mode(const fixture *f)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 512;
    s.importance_mode = MASK_IMPORTANCE_WEIGHT_LOSS;
    s.importance = MASK_IMPORTANCE_LOSS;
    mask *m = NULL;
    CHECK_INT(0, mask_open(&m, &s));
    int n = f->n;
    float *imp = malloc((size_t)n * sizeof *imp), *weight = malloc((size_t)n * sizeof *weight);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    uint8_t *masked = malloc((size_t)n);
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += imp[i] = (float)(1 + i % 3);
    mean /= n;
    mask_seq seq = f->seq;
    seq.importance = imp;
    mask_out out = {ids, masked, weight, NULL, 0, NULL, NULL};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    CHECK_INT(0, mask_corrupt(m, &seq, 0.5, r, &out));
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += masked[i] && fabs(weight[i] - 2.0 * imp[i] / mean) > 1e-5; /* w(0.5) = 2 */
    CHECK_INT(0, bad);
    seq.importance = NULL; /* source 'loss' without the caller's array */
    CHECK_INT(MASK_E_INPUT, mask_corrupt(m, &seq, 0.5, r, &out));
    CHECK(strstr(mask_errmsg(m), "seq->importance"), "message: %s", mask_errmsg(m));
    free(imp), free(weight), free(ids), free(masked);
    gsl_rng_free(r);
    mask_close(&m);
}

static void check_rules_and_stats(void)
{
    char path[] = "/tmp/mask-rules-XXXXXX";
    int fd = mkstemp(path);
    const char *rules = "# weights\ndefault 0.5\n3   \\bdef\\b  \n2 \\p{N}+\n";
    CHECK(fd >= 0 && write(fd, rules, strlen(rules)) == (ssize_t)strlen(rules), "temp file");
    close(fd);
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 10;
    s.importance = MASK_IMPORTANCE_RULES;
    s.importance_rules = path;
    mask *m = NULL;
    CHECK(mask_open(&m, &s) == 0, "open: %s", mask_errmsg(m));
    const char *text = "def undef(x): return 42";
    int32_t off[] = {0, 3, 9, 10, 11, 13, 20, 22}, ids[8] = {0};
    mask_seq seq = {.ids = ids, .n = 8, .text = text, .text_len = strlen(text), .offsets = off};
    float a[8];
    CHECK_INT(0, mask_importance(m, &seq, a));
    const float want[8] = {3, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 2, 2}; /* "undef" is not \bdef\b */
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(want[i], a[i], 0);
    off[7] = 30; /* past the text */
    CHECK_INT(MASK_E_INPUT, mask_importance(m, &seq, a));
    CHECK(strstr(mask_errmsg(m), "offset of token 7 is 30"), "%s", mask_errmsg(m));
    mask_close(&m);
    unlink(path);

    s.importance = MASK_IMPORTANCE_IDF;
    CHECK_INT(0, mask_open(&m, &s));
    int32_t d1[] = {1, 2, 2}, d2[] = {2, 3}, q[] = {1, 2, 3, 4};
    seq = (mask_seq){.ids = q, .n = 4};
    CHECK_INT(MASK_E_STATE, mask_importance(m, &seq, a));
    CHECK_INT(0, mask_corpus_add(m, d1, 3));
    CHECK_INT(0, mask_corpus_add(m, d2, 2));
    CHECK_INT(0, mask_importance(m, &seq, a));
    CHECK_NEAR(log(3.0 / 2) + 1, a[0], 1e-6);
    CHECK_NEAR(1.0, a[1], 1e-6);
    CHECK_NEAR(log(3.0) + 1, a[3], 1e-6);
    q[2] = 10; /* outside [0, V) */
    CHECK_INT(MASK_E_INPUT, mask_importance(m, &seq, a));
    q[2] = 3;
    mask_close(&m);
    s.importance = MASK_IMPORTANCE_SURPRISAL;
    CHECK_INT(0, mask_open(&m, &s));
    CHECK_INT(0, mask_corpus_add(m, d1, 3));
    CHECK_INT(0, mask_corpus_add(m, d2, 2));
    CHECK_INT(0, mask_importance(m, &seq, a));
    CHECK_NEAR(-log2(2.0 / 15), a[0], 1e-6); /* (c + 1) / (C + V), C = 5, V = 10 */
    CHECK_NEAR(-log2(4.0 / 15), a[1], 1e-6); /* id 2 occurs 3 times */
    CHECK_NEAR(-log2(1.0 / 15), a[3], 1e-6);
    mask_close(&m);
}

void test_importance(void)
{
    check_bent_schedule();
    fixture f;
    fixture_build(&f, 150, 8, 512);
    check_bent_corruption(&f);
    check_bent_units(&f);
    check_loss_mode(&f);
    fixture_free(&f);
    check_rules_and_stats();
}
