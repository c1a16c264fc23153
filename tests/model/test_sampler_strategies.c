/* test_sampler_strategies.c: the ranking samplers (margin, entropy), Fast-dLLM's threshold
 * and factor rules, ReMDM's remasking (eta = 0 is the ancestral sampler draw for draw; the
 * remask rate is sigma), and their parameter checks. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

enum { QV = 11, QK = 2, QB = 3, QT = 12, QMAXSTEP = 256 };

/* What happened at each step: reveals and remasks per sequence, and the generated tokens
 * unmasked at the step's start. */
typedef struct trace {
    int32_t given[QB * QT]; /* -1: generated */
    int32_t prev[QB * QT];
    int steps;
    int bad_given;
    int reveals[QMAXSTEP][QB];
    int remasks[QMAXSTEP];
    int open_tokens[QMAXSTEP]; /* generated tokens at the step's start */
} trace;

static void on_trace(void *arg, int step, int steps, const int32_t *tok)
{
    trace *w = arg;
    (void)steps;
    w->steps = step;
    int s = step < QMAXSTEP ? step : QMAXSTEP - 1;
    for (int n = 0; n < QB * QT; n++) {
        if (w->given[n] >= 0) {
            w->bad_given += tok[n] != w->given[n];
            continue;
        }
        w->open_tokens[s] += w->prev[n] < QV;
        if (w->prev[n] >= QV && tok[n] < QV)
            w->reveals[s][n / QT]++;
        if (w->prev[n] < QV && tok[n] >= QV)
            w->remasks[s]++;
        w->prev[n] = tok[n];
    }
}

static void fill(int32_t *tok, trace *w, gsl_rng *r, double given_p)
{
    memset(w, 0, sizeof *w);
    for (int n = 0; n < QB * QT; n++) {
        int given = gsl_rng_uniform(r) < given_p;
        tok[n] = given ? (int32_t)gsl_rng_uniform_int(r, QV) : QV + n % QK;
        w->given[n] = given ? tok[n] : -1;
        w->prev[n] = tok[n];
    }
}

static int masks_left(const int32_t *tok)
{
    int left = 0;
    for (int n = 0; n < QB * QT; n++)
        left += tok[n] >= QV;
    return left;
}

/* margin and entropy on constructed rows: A = (.5, .5), B = (.4, .1 x 6), C = (.45, .45,
 * .1); confidence ranks A > C > B, margin B > A = C, entropy A > C > B (lowest first) */
static void check_ranks(void)
{
    float a[2] = {logf(0.5f), logf(0.5f)};
    float b[7] = {logf(0.4f)};
    for (int j = 1; j < 7; j++)
        b[j] = logf(0.1f);
    float c[3] = {logf(0.45f), logf(0.45f), logf(0.1f)};
    const double ha = log(2.0), hb = -0.4 * log(0.4) - 0.6 * log(0.1),
                 hc = -0.9 * log(0.45) - 0.1 * log(0.1);
    CHECK_NEAR(model_sample_rank(a, 2, MODEL_SAMPLE_MARGIN, 0.5), 0.0, 1e-6);
    CHECK_NEAR(model_sample_rank(b, 7, MODEL_SAMPLE_MARGIN, 0.4), 0.3, 1e-6);
    CHECK_NEAR(model_sample_rank(c, 3, MODEL_SAMPLE_MARGIN, 0.45), 0.0, 1e-6);
    CHECK_NEAR(model_sample_rank(a, 2, MODEL_SAMPLE_ENTROPY, 0.5), -ha, 1e-6);
    CHECK_NEAR(model_sample_rank(b, 7, MODEL_SAMPLE_ENTROPY, 0.4), -hb, 1e-6);
    CHECK_NEAR(model_sample_rank(c, 3, MODEL_SAMPLE_ENTROPY, 0.45), -hc, 1e-6);
    CHECK_NEAR(model_sample_rank(b, 7, MODEL_SAMPLE_CONFIDENCE, 0.4), 0.4, 0);
    CHECK(model_sample_rank(b, 7, MODEL_SAMPLE_MARGIN, 0) >
              model_sample_rank(a, 2, MODEL_SAMPLE_MARGIN, 0),
          "margin must rank B before A");
    CHECK(model_sample_rank(a, 2, MODEL_SAMPLE_ENTROPY, 0) >
                  model_sample_rank(c, 3, MODEL_SAMPLE_ENTROPY, 0) &&
              model_sample_rank(c, 3, MODEL_SAMPLE_ENTROPY, 0) >
                  model_sample_rank(b, 7, MODEL_SAMPLE_ENTROPY, 0),
          "entropy must rank A, C, B");
}

/* margin and entropy reveal LLaDA's number per step, as confidence does */
static void check_counts(model *m, model_strategy st, int steps)
{
    gsl_rng *r = test_rng(300 + st);
    int32_t tok[QB * QT];
    trace w;
    fill(tok, &w, r, 0.3);
    int masks[QB] = {0};
    for (int n = 0; n < QB * QT; n++)
        masks[n / QT] += w.given[n] < 0;
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.strategy = st;
    s.steps = steps;
    s.temperature = 0.5f;
    s.on_step = on_trace;
    s.on_step_arg = &w;
    CHECK_RC(m, model_sample(m, tok, QB, QT, &s, r), MODEL_OK);
    CHECK_INT(0, masks_left(tok));
    CHECK_INT(0, w.bad_given);
    for (int b = 0; b < QB; b++)
        for (int i = 1; i <= steps; i++)
            CHECK(w.reveals[i][b] == masks[b] / steps + (i - 1 < masks[b] % steps),
                  "%s: sequence %d step %d revealed %d", model_strategy_name(st), b, i,
                  w.reveals[i][b]);
    gsl_rng_free(r);
}

/* threshold: every call commits >= 1 of each unfinished sequence's current block; a
 * threshold no proposal passes commits exactly 1 (one call per mask and block order); one
 * that every proposal passes finishes each block in one call; the factor rule alike */
static long run_threshold(model *m, float thr, float factor, int block_len, trace *w,
                          int32_t *tok)
{
    gsl_rng *r = test_rng(310);
    fill(tok, w, r, 0.25);
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.strategy = MODEL_SAMPLE_THRESHOLD;
    s.threshold = thr;
    s.factor = factor;
    s.block_len = block_len;
    s.steps = 1; /* not read */
    s.on_step = on_trace;
    s.on_step_arg = w;
    long c0 = model_calls(m);
    CHECK_RC(m, model_sample(m, tok, QB, QT, &s, r), MODEL_OK);
    CHECK_INT(0, masks_left(tok));
    CHECK_INT(0, w->bad_given);
    gsl_rng_free(r);
    return model_calls(m) - c0;
}

static void check_threshold(model *m)
{
    int32_t tok[QB * QT];
    trace w;
    for (int pass = 0; pass < 4; pass++) {
        float thr = pass == 0 ? 0.999999f : pass == 1 ? 1e-6f : 0.3f;
        float factor = pass == 3 ? 1.0f : 0.0f;
        long calls = run_threshold(m, thr, factor, 4, &w, tok);
        CHECK_INT(w.steps, calls);
        /* per block, each call commits at least one of every sequence with masks there */
        int most = 0; /* the calls at one commit per call: per block, its most masks */
        for (int k = 0; k < QT / 4; k++) {
            int kmax = 0;
            for (int b = 0; b < QB; b++) {
                int nm = 0;
                for (int t = 4 * k; t < 4 * k + 4; t++)
                    nm += w.given[b * QT + t] < 0;
                kmax = nm > kmax ? nm : kmax;
            }
            most += kmax;
        }
        for (int i = 1; i <= w.steps; i++) {
            int sum = 0;
            for (int b = 0; b < QB; b++)
                sum += w.reveals[i][b];
            CHECK(sum >= 1, "threshold %g factor %g: step %d committed nothing", thr, factor,
                  i);
        }
        CHECK(w.steps <= most,
              "threshold %g: %d calls, more than the %d of one commit per call", thr, w.steps,
              most);
        if (pass == 0) { /* exactly one per call: as many calls as the longest sequence */
            CHECK_INT(most, w.steps);
            for (int i = 1; i <= w.steps; i++)
                for (int b = 0; b < QB; b++)
                    CHECK(w.reveals[i][b] <= 1, "threshold 1: step %d sequence %d committed %d",
                          i, b, w.reveals[i][b]);
        }
        if (pass == 1) /* all at once: one call per block */
            CHECK_INT(QT / 4, w.steps);
    }
    /* the factor rule commits n while (n + 1)(1 - c_n) < f: a huge factor commits all,
     * a tiny one a single token per call */
    long all = run_threshold(m, 0.5f, 1e6f, QT, &w, tok);
    CHECK_INT(1, all);
    long one = run_threshold(m, 0.5f, 1e-9f, QT, &w, tok);
    run_threshold(m, 0.999999f, 0.0f, QT, &w, tok);
    CHECK_INT(w.steps, one);
}

/* ReMDM with eta = 0 (cap, rescale, conf) is the ancestral sampler: same tokens, same
 * model calls, for the same seed */
static void check_remdm_zero(model *m)
{
    for (int sched = MODEL_REMDM_CAP; sched <= MODEL_REMDM_CONF; sched++) {
        for (int steps = 1; steps <= 9; steps += 4) {
            int32_t a[QB * QT], b[QB * QT];
            trace w;
            gsl_rng *r = test_rng(320 + steps);
            fill(a, &w, r, 0.3);
            memcpy(b, a, sizeof a);
            gsl_rng_free(r);
            model_sample_settings s;
            model_default_sample_settings(&s);
            s.strategy = MODEL_SAMPLE_RANDOM;
            s.steps = steps;
            s.temperature = 0.8f;
            r = test_rng(330);
            long c0 = model_calls(m);
            CHECK_RC(m, model_sample(m, a, QB, QT, &s, r), MODEL_OK);
            long ca = model_calls(m) - c0;
            gsl_rng_free(r);
            s.strategy = MODEL_SAMPLE_REMDM;
            s.remdm_schedule = sched;
            s.eta = 0.0f;
            r = test_rng(330);
            c0 = model_calls(m);
            CHECK_RC(m, model_sample(m, b, QB, QT, &s, r), MODEL_OK);
            long cb = model_calls(m) - c0;
            gsl_rng_free(r);
            CHECK(!memcmp(a, b, sizeof a),
                  "remdm %s eta 0, %d steps: not the random sampler's "
                  "tokens",
                  model_remdm_schedule_name(sched), steps);
            CHECK_INT(cb, ca);
        }
    }
}

/* ReMDM remasks a generated token with probability sigma_i = min(eta, sigma_max) (cap),
 * sigma_max = min(1, s / (1 - t)) on the linear schedule; given tokens never change; the
 * loop schedule remasks only inside [t_off, t_on]; every run ends with no mask */
static void check_remdm_rates(model *m)
{
    enum { N = 8, RUNS = 120 };
    const double eta = 0.3;
    long remask[N + 1] = {0}, open[N + 1] = {0};
    gsl_rng *r = test_rng(340);
    for (int run = 0; run < RUNS; run++) {
        int32_t tok[QB * QT];
        trace w;
        fill(tok, &w, r, 0.2);
        model_sample_settings s;
        model_default_sample_settings(&s);
        s.strategy = MODEL_SAMPLE_REMDM;
        s.remdm_schedule = MODEL_REMDM_CAP;
        s.eta = (float)eta;
        s.steps = N;
        s.on_step = on_trace;
        s.on_step_arg = &w;
        CHECK_RC(m, model_sample(m, tok, QB, QT, &s, r), MODEL_OK);
        CHECK_INT(0, masks_left(tok));
        CHECK_INT(0, w.bad_given);
        for (int i = 1; i <= N; i++) {
            remask[i] += w.remasks[i];
            open[i] += w.open_tokens[i];
        }
    }
    long total = 0;
    for (int i = 1; i <= N; i++) {
        int k = N - i + 1; /* the step from t = k/N to s = (k-1)/N */
        double t = (double)k / N, sp = (double)(k - 1) / N;
        double sigma = fmin(eta, fmin(1.0, sp / (1.0 - t)));
        if (k == N)
            sigma = 0.0; /* alpha_t = 0: nothing generated yet */
        double mean = open[i] * sigma, sd = sqrt(open[i] * sigma * (1 - sigma));
        CHECK(fabs(remask[i] - mean) <= 5 * sd + 1e-9,
              "remdm cap: step %d remasked %ld of %ld, expected %.1f +- %.1f", i, remask[i],
              open[i], mean, 5 * sd);
        total += remask[i];
    }
    CHECK(total > 0, "remdm cap eta %g never remasked", eta);
    /* loop: no remask outside [t_off, t_on] */
    int32_t tok[QB * QT];
    trace w;
    fill(tok, &w, r, 0.2);
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.strategy = MODEL_SAMPLE_REMDM;
    s.remdm_schedule = MODEL_REMDM_LOOP;
    s.eta = 0.5f;
    s.t_on = 0.5f;
    s.t_off = 0.25f;
    s.alpha_on = 0.5f;
    s.steps = 16;
    s.on_step = on_trace;
    s.on_step_arg = &w;
    CHECK_RC(m, model_sample(m, tok, QB, QT, &s, r), MODEL_OK);
    CHECK_INT(0, masks_left(tok));
    int inside = 0;
    for (int i = 1; i <= 16; i++) {
        double t = (16.0 - i + 1) / 16, sp = (16.0 - i) / 16;
        int in = t <= 0.5 && sp >= 0.25;
        if (!in)
            CHECK(w.remasks[i] == 0, "loop: step %d (t %g) remasked %d", i, t, w.remasks[i]);
        inside += in ? w.remasks[i] : 0;
    }
    CHECK(inside > 0, "loop: nothing remasked inside the loop");
    gsl_rng_free(r);
}

static void check_params(model *m, model *blk)
{
    int32_t tok[QB * QT];
    trace w;
    gsl_rng *r = test_rng(350);
    const struct {
        model_strategy st;
        float threshold, factor, eta, t_on, t_off, alpha_on;
        int sched;
        const char *says;
    } bad[] = {
        {MODEL_SAMPLE_THRESHOLD, 0.0f, 0.0f, 0, 0.55f, 0.05f, 0.9f, 0, "threshold"},
        {MODEL_SAMPLE_THRESHOLD, 1.5f, 0.0f, 0, 0.55f, 0.05f, 0.9f, 0, "threshold"},
        {MODEL_SAMPLE_THRESHOLD, 0.5f, -1.0f, 0, 0.55f, 0.05f, 0.9f, 0, "factor"},
        {MODEL_SAMPLE_REMDM, 0.9f, 0.0f, -0.1f, 0.55f, 0.05f, 0.9f, MODEL_REMDM_CAP, "eta"},
        {MODEL_SAMPLE_REMDM, 0.9f, 0.0f, 1.5f, 0.55f, 0.05f, 0.9f, MODEL_REMDM_RESCALE, "eta"},
        {MODEL_SAMPLE_REMDM, 0.9f, 0.0f, 1.5f, 0.55f, 0.05f, 0.9f, MODEL_REMDM_CONF, "eta"},
        {MODEL_SAMPLE_REMDM, 0.9f, 0.0f, 0.1f, 0.3f, 0.4f, 0.9f, MODEL_REMDM_LOOP, "loop"},
        {MODEL_SAMPLE_REMDM, 0.9f, 0.0f, 0.1f, 0.5f, 0.1f, 1.0f, MODEL_REMDM_LOOP, "loop"},
        {MODEL_SAMPLE_REMDM, 0.9f, 0.0f, 0.1f, 0.5f, 0.1f, 0.5f, 7, "schedule"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fill(tok, &w, r, 0.2);
        model_sample_settings s;
        model_default_sample_settings(&s);
        s.strategy = bad[i].st;
        s.threshold = bad[i].threshold;
        s.factor = bad[i].factor;
        s.eta = bad[i].eta;
        s.t_on = bad[i].t_on;
        s.t_off = bad[i].t_off;
        s.alpha_on = bad[i].alpha_on;
        s.remdm_schedule = bad[i].sched;
        int rc = model_sample(m, tok, QB, QT, &s, r);
        CHECK(rc == MODEL_EINVAL && strstr(model_errmsg(m), bad[i].says),
              "bad parameters %zu: expected MODEL_EINVAL naming %s, got %d: %s", i, bad[i].says,
              rc, model_errmsg(m));
        CHECK_INT(1, masks_left(tok) > 0); /* nothing sampled */
    }
    /* a block model: margin and entropy decode, threshold and remdm are refused */
    for (int st = MODEL_SAMPLE_MARGIN; st <= MODEL_SAMPLE_REMDM; st++) {
        fill(tok, &w, r, 0.2);
        model_sample_settings s;
        model_default_sample_settings(&s);
        s.strategy = (model_strategy)st;
        s.steps = 6;
        int rc = model_sample(blk, tok, QB, QT, &s, r);
        if (st == MODEL_SAMPLE_MARGIN || st == MODEL_SAMPLE_ENTROPY) {
            CHECK_RC(blk, rc, MODEL_OK);
            CHECK_INT(0, masks_left(tok));
        } else {
            CHECK(rc == MODEL_EINVAL && strstr(model_errmsg(blk), model_strategy_name(st)),
                  "block model, %s: got %d: %s", model_strategy_name(st), rc,
                  model_errmsg(blk));
        }
    }
    gsl_rng_free(r);
}

void test_sampler_strategies(void)
{
    check_ranks();
    model *m = test_model(QV, QK, 16, 2, 2, QT, MODEL_DIFFUSION, 2, 301);
    test_scale_params(m, 0.3, 302);
    check_counts(m, MODEL_SAMPLE_MARGIN, 5);
    check_counts(m, MODEL_SAMPLE_ENTROPY, 4);
    check_threshold(m);
    check_remdm_zero(m);
    check_remdm_rates(m);
    model_settings bs;
    model_default_settings(&bs);
    bs.config = (model_config){.vocab = QV,
                               .n_mask = QK,
                               .d = 16,
                               .layers = 2,
                               .heads = 2,
                               .seq_len = QT,
                               .mode = MODEL_BLOCK,
                               .block = 4};
    bs.threads = 2;
    gsl_rng *r = test_rng(303);
    model *blk = NULL;
    CHECK_RC(blk, model_open(&blk, &bs, r), MODEL_OK);
    gsl_rng_free(r);
    check_params(m, blk);
    model_close(&blk);
    model_close(&m);
}
