/* test_sample.c: sampler invariants (given positions kept, all masks filled, LLaDA's
 * reveal counts, block order, ancestral timing) and the error paths of the API. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

enum { SV = 13, SK = 2, SB = 3, ST = 12 };

typedef struct watch {
    int32_t given[SB * ST]; /* -1: generated */
    int32_t prev[SB * ST];
    int reveal_step[SB * ST]; /* step at which a generated position was revealed */
    int steps_seen;
    int block_len; /* 0: no block order check */
    int bad_given, bad_order, bad_rewrite;
    int counts[64][SB]; /* reveals per step and sequence */
} watch;

static void on_step(void *arg, int step, int steps, const int32_t *tok)
{
    watch *w = arg;
    (void)steps;
    w->steps_seen = step;
    for (int n = 0; n < SB * ST; n++) {
        if (w->given[n] >= 0 && tok[n] != w->given[n])
            w->bad_given++;
        if (w->prev[n] < SV && tok[n] != w->prev[n])
            w->bad_rewrite++; /* a revealed token changed again */
        if (w->prev[n] >= SV && tok[n] < SV) {
            w->reveal_step[n] = step;
            if (step < 64)
                w->counts[step][n / ST]++;
        }
        w->prev[n] = tok[n];
    }
    if (w->block_len) {
        /* blocks before the one holding the first mask are full, blocks after it untouched */
        for (int b = 0; b < SB; b++) {
            int first = ST;
            for (int t = 0; t < ST; t++)
                if (tok[b * ST + t] >= SV) {
                    first = t;
                    break;
                }
            int cur = first / w->block_len;
            for (int t = (cur + 1) * w->block_len; t < ST; t++) {
                int n = b * ST + t;
                if (w->given[n] < 0 && tok[n] < SV)
                    w->bad_order++;
            }
        }
    }
}

static void setup(int32_t *tok, watch *w, gsl_rng *r, int block_len)
{
    memset(w, 0, sizeof *w);
    w->block_len = block_len;
    for (int n = 0; n < SB * ST; n++) {
        int given = gsl_rng_uniform(r) < 0.3;
        tok[n] = given ? (int32_t)gsl_rng_uniform_int(r, SV) : SV + n % SK;
        w->given[n] = given ? tok[n] : -1;
        w->prev[n] = tok[n];
        w->reveal_step[n] = 0;
    }
}

static void run_strategy(model *m, model_strategy st, int steps, int block_len, float temp)
{
    static const char *names[] = {"random", "confidence", "block"};
    gsl_rng *r = test_rng(70 + st);
    int32_t tok[SB * ST];
    watch w;
    setup(tok, &w, r, st == MODEL_SAMPLE_BLOCK ? block_len : 0);
    int masks[SB] = {0};
    for (int n = 0; n < SB * ST; n++)
        masks[n / ST] += w.given[n] < 0;
    model_sample_settings s = {.strategy = st,
                               .steps = steps,
                               .block_len = block_len,
                               .temperature = temp,
                               .on_step = on_step,
                               .on_step_arg = &w,
                               .eot = -1};
    CHECK_RC(m, model_sample(m, tok, SB, ST, &s, r), MODEL_OK);
    const char *name = names[st];
    int left = 0;
    for (int n = 0; n < SB * ST; n++)
        left += tok[n] >= SV;
    CHECK(left == 0, "%s: %d masks left after %d steps", name, left, steps);
    CHECK(w.bad_given == 0, "%s: given positions changed %d times", name, w.bad_given);
    CHECK(w.bad_rewrite == 0, "%s: revealed tokens changed %d times", name, w.bad_rewrite);
    CHECK(w.bad_order == 0, "%s: %d reveals ahead of the current block", name, w.bad_order);
    CHECK(w.steps_seen <= steps, "%s: %d steps seen, %d asked", name, w.steps_seen, steps);
    if (st == MODEL_SAMPLE_CONFIDENCE) {
        /* LLaDA's schedule: masks/steps per step, the remainder one each on the first */
        for (int b = 0; b < SB; b++)
            for (int i = 1; i <= steps; i++) {
                int want = masks[b] / steps + (i - 1 < masks[b] % steps);
                CHECK(w.counts[i][b] == want,
                      "confidence: sequence %d step %d revealed %d, "
                      "expected %d",
                      b, i, w.counts[i][b], want);
            }
    }
    gsl_rng_free(r);
}

void test_sampler(void)
{
    model *m = test_model(SV, SK, 16, 2, 2, ST, 0, 2, 81);
    test_scale_params(m, 0.3, 82);
    run_strategy(m, MODEL_SAMPLE_RANDOM, 6, 0, 1.0f);
    run_strategy(m, MODEL_SAMPLE_RANDOM, 1, 0, 0.0f);
    run_strategy(m, MODEL_SAMPLE_CONFIDENCE, 5, 0, 0.0f);
    run_strategy(m, MODEL_SAMPLE_CONFIDENCE, 3, 0, 0.7f);
    run_strategy(m, MODEL_SAMPLE_BLOCK, 6, 4, 0.0f);
    run_strategy(m, MODEL_SAMPLE_BLOCK, 7, 5, 0.5f); /* uneven blocks and steps */

    /* ancestral timing: a position is revealed at step j of N with probability 1/N
     * (1/i at each step counting down i = N..1); counts are binomial */
    enum { N = 4, RUNS = 150 };
    gsl_rng *r = test_rng(90);
    long hist[N + 1] = {0}, total = 0;
    for (int run = 0; run < RUNS; run++) {
        int32_t tok[SB * ST];
        watch w;
        setup(tok, &w, r, 0);
        model_sample_settings s = {.strategy = MODEL_SAMPLE_RANDOM,
                                   .steps = N,
                                   .on_step = on_step,
                                   .on_step_arg = &w,
                                   .eot = -1};
        CHECK_RC(m, model_sample(m, tok, SB, ST, &s, r), MODEL_OK);
        for (int n = 0; n < SB * ST; n++)
            if (w.given[n] < 0 && w.reveal_step[n] >= 1 && w.reveal_step[n] <= N) {
                hist[w.reveal_step[n]]++;
                total++;
            }
    }
    for (int j = 1; j <= N; j++) {
        double mean = (double)total / N, sd = sqrt(total * (1.0 / N) * (1 - 1.0 / N));
        CHECK(fabs(hist[j] - mean) < 5 * sd,
              "random: step %d revealed %ld of %ld, expected "
              "%.0f +- %.0f (5 sd)",
              j, hist[j], total, mean, 5 * sd);
    }
    gsl_rng_free(r);

    /* the same seed gives the same sample */
    int32_t a[SB * ST], b[SB * ST];
    watch w;
    r = test_rng(91);
    setup(a, &w, r, 0);
    memcpy(b, a, sizeof a);
    gsl_rng_free(r);
    model_sample_settings s = {.strategy = MODEL_SAMPLE_RANDOM, .steps = 5, .eot = -1};
    r = test_rng(92);
    CHECK_RC(m, model_sample(m, a, SB, ST, &s, r), MODEL_OK);
    gsl_rng_free(r);
    r = test_rng(92);
    CHECK_RC(m, model_sample(m, b, SB, ST, &s, r), MODEL_OK);
    gsl_rng_free(r);
    CHECK(!memcmp(a, b, sizeof a), "same seed, different samples");
    model_close(&m);
}

void test_errors(void)
{
    model_settings s;
    model_default_settings(&s);
    s.config.d = 10;
    s.config.heads = 4;
    gsl_rng *r = test_rng(1);
    model *m = NULL;
    int rc = model_open(&m, &s, r);
    CHECK(rc == MODEL_EINVAL && strstr(model_errmsg(m), "divisible"),
          "d 10 with 4 heads: expected MODEL_EINVAL naming divisibility, got %d: %s", rc,
          model_errmsg(m));
    model_close(&m);
    CHECK(m == NULL, "model_close must set the pointer to NULL");
    model_close(&m); /* NULL-safe */
    model_close(NULL);
    model_default_settings(&s);
    s.config.vocab = 0;
    rc = model_open(&m, &s, r);
    CHECK_RC(m, rc, MODEL_EINVAL);
    model_close(&m);

    enum { V = 11, K = 2, B = 2, T = 6 };
    m = test_model(V, K, 8, 2, 2, T, 0, 2, 3);
    int32_t inp[B * T], tgt[B * T];
    float w[B * T], loss;
    for (int n = 0; n < B * T; n++) {
        tgt[n] = n % V;
        inp[n] = n % 2 ? tgt[n] : V;
        w[n] = 1;
    }
    CHECK_RC(m, model_backward(m), MODEL_ESTATE);
    inp[3] = V + K;
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_ERANGE);
    CHECK(strstr(model_errmsg(m), "position 3"), "message should name the position: %s",
          model_errmsg(m));
    inp[3] = -1;
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_ERANGE);
    inp[3] = tgt[3];
    tgt[4] = V; /* a mask id is never a target */
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_ERANGE);
    tgt[4] = 4;
    CHECK_RC(m, model_forward(m, inp, tgt, w, 1, T + 1, &loss, NULL), MODEL_EINVAL);
    CHECK_RC(m, model_forward(m, inp, tgt, w, 0, T, &loss, NULL), MODEL_EINVAL);
    w[2] = NAN;
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_EINVAL);
    w[2] = 1;
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_OK);

    /* a NaN weight in layer 1's MLP: the forward names that layer and tensor */
    float save = m->params.fcw[(size_t)1 * 4 * 8 * 8 + 5];
    m->params.fcw[(size_t)1 * 4 * 8 * 8 + 5] = NAN;
    rc = model_forward(m, inp, tgt, w, B, T, &loss, NULL);
    CHECK(rc == MODEL_ENONFINITE && strstr(model_errmsg(m), "layer 1 fc") &&
              strstr(model_errmsg(m), "step 0"),
          "NaN in layer 1 fcw: expected MODEL_ENONFINITE naming step 0 and layer 1 fc, got "
          "%d: %s",
          rc, model_errmsg(m));
    CHECK_RC(m, model_backward(m), MODEL_ESTATE);
    m->params.fcw[(size_t)1 * 4 * 8 * 8 + 5] = save;

    /* a NaN gradient: the update names the step, layer and tensor, and changes nothing */
    model_optim o;
    model_default_optim(&o);
    CHECK_RC(m, model_zero_grad(m), MODEL_OK);
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_OK);
    CHECK_RC(m, model_update(m, &o, NULL), MODEL_OK);
    float *before = malloc(m->num_params * 4);
    memcpy(before, m->params_mem, m->num_params * 4);
    m->grads.qkvw[(size_t)1 * 3 * 8 * 8 + 7] = INFINITY;
    rc = model_update(m, &o, NULL);
    CHECK(rc == MODEL_ENONFINITE && strstr(model_errmsg(m), "step 1: gradient of layer 1 qkvw"),
          "Inf gradient: expected 'step 1: gradient of layer 1 qkvw', got %d: %s", rc,
          model_errmsg(m));
    CHECK(!memcmp(before, m->params_mem, m->num_params * 4), "parameters changed by a "
                                                             "refused update");
    CHECK(model_step(m) == 1, "step advanced by a refused update: %ld", model_step(m));
    free(before);
    o.beta1 = 1.5f;
    CHECK_RC(m, model_update(m, &o, NULL), MODEL_EINVAL);

    /* sampler arguments */
    model_sample_settings ss;
    model_default_sample_settings(&ss);
    int32_t tok[B * T];
    for (int n = 0; n < B * T; n++)
        tok[n] = V;
    ss.steps = 0;
    CHECK_RC(m, model_sample(m, tok, B, T, &ss, r), MODEL_EINVAL);
    ss.steps = 2;
    ss.strategy = MODEL_SAMPLE_BLOCK;
    ss.block_len = 2; /* 3 blocks, 2 steps */
    CHECK_RC(m, model_sample(m, tok, B, T, &ss, r), MODEL_EINVAL);
    ss.strategy = MODEL_SAMPLE_CONFIDENCE;
    tok[0] = V + K;
    CHECK_RC(m, model_sample(m, tok, B, T, &ss, r), MODEL_ERANGE);
    ss.strategy = (model_strategy)42;
    tok[0] = V;
    CHECK_RC(m, model_sample(m, tok, B, T, &ss, r), MODEL_EINVAL);
    CHECK(model_strerror(12345) && *model_strerror(MODEL_EFORMAT), "strerror");
    gsl_rng_free(r);
    model_close(&m);
}

/* model_errmsg always answers, as sqlite3_errmsg: every failure has its text, a new call
 * clears the last one's, and a call without text answers the name of its code. */
void test_errmsg(void)
{
    CHECK_STR("no model handle", model_errmsg(NULL));
    /* failures before a handle exists still leave one that says why */
    model_settings s;
    model_default_settings(&s);
    model *m = NULL;
    int rc = model_open(&m, &s, NULL);
    CHECK(rc == MODEL_EINVAL && m && strstr(model_errmsg(m), "gsl_rng"),
          "model_open without a generator: expected MODEL_EINVAL naming it, got %d: %s", rc,
          model_errmsg(m));
    model_close(&m);
    rc = model_load(&m, NULL, 1, NULL);
    CHECK(rc == MODEL_EINVAL && m && strstr(model_errmsg(m), "no path"),
          "model_load without a path: expected MODEL_EINVAL saying so, got %d: %s", rc,
          model_errmsg(m));
    model_close(&m);

    enum { V = 7, K = 1, B = 1, T = 4 };
    m = test_model(V, K, 8, 1, 2, T, 0, 1, 4);
    CHECK_STR("ok", model_errmsg(m)); /* nothing failed yet */
    /* paths that used to return a bare code */
    CHECK_RC(m, model_update(m, NULL, NULL), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "optimizer"), "update without settings: %s", model_errmsg(m));
    CHECK_RC(m, model_save(m, NULL, "", 0), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "no path"), "save without a path: %s", model_errmsg(m));
    /* a new call clears the old text: after a success, the name of MODEL_OK */
    CHECK_RC(m, model_zero_grad(m), MODEL_OK);
    CHECK_STR(model_strerror(MODEL_OK), model_errmsg(m));
    CHECK_RC(m, model_backward(m), MODEL_ESTATE);
    CHECK(strstr(model_errmsg(m), "forward"), "backward first: %s", model_errmsg(m));
    int32_t inp[B * T] = {V, 1, V, 3}, tgt[B * T] = {0, 1, 2, 3};
    float loss;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, B, T, &loss, NULL), MODEL_OK);
    CHECK_STR("ok", model_errmsg(m));
    inp[1] = V + K; /* out of range: the new failure replaces the text */
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, B, T, &loss, NULL), MODEL_ERANGE);
    CHECK(strstr(model_errmsg(m), "position 1") && !strstr(model_errmsg(m), "forward first"),
          "out-of-range input: %s", model_errmsg(m));
    inp[1] = 1;
    float lp[B * T];
    CHECK_RC(m, model_score(m, inp, tgt, B, T, lp), MODEL_OK);
    CHECK_STR("ok", model_errmsg(m));
    CHECK_RC(m, model_set_prior(m, NULL), MODEL_OK);
    CHECK_STR("ok", model_errmsg(m));
    /* a failure without details answers its code's name */
    model_fail(m, MODEL_EIO, "%s", "");
    CHECK_STR(model_strerror(MODEL_EIO), model_errmsg(m));
    model_close(&m);
}

/* Strategy names, as configs and the command spell them, and their parsing back. */
void test_strategy_names(void)
{
    static const struct {
        model_strategy s;
        const char *name;
    } want[] = {{MODEL_SAMPLE_RANDOM, "random"},
                {MODEL_SAMPLE_CONFIDENCE, "confidence"},
                {MODEL_SAMPLE_BLOCK, "block"},
                {MODEL_SAMPLE_CHAIN, "chain"},
                {MODEL_SAMPLE_CHAIN_CONFIDENCE, "chain-confidence"},
                {MODEL_SAMPLE_MARGIN, "margin"},
                {MODEL_SAMPLE_ENTROPY, "entropy"},
                {MODEL_SAMPLE_THRESHOLD, "threshold"},
                {MODEL_SAMPLE_REMDM, "remdm"}};
    const int n = (int)(sizeof want / sizeof want[0]);
    CHECK_INT(n, MODEL_SAMPLE_COUNT);
    for (int i = 0; i < n; i++) {
        CHECK_STR(want[i].name, model_strategy_name(want[i].s));
        model_strategy got = (model_strategy)-1;
        char err[128] = "";
        CHECK_INT(MODEL_OK, model_strategy_parse(want[i].name, &got, err, sizeof err));
        CHECK_INT(want[i].s, got);
        CHECK_STR("", err);
    }
    CHECK(model_strategy_name(MODEL_SAMPLE_COUNT) == NULL, "a name past the last");
    CHECK(model_strategy_name((model_strategy)-1) == NULL, "a name before the first");
    model_strategy got = MODEL_SAMPLE_BLOCK;
    char err[128] = "";
    CHECK_INT(MODEL_EINVAL, model_strategy_parse("spam", &got, err, sizeof err));
    CHECK_STR("unknown strategy 'spam' (random, confidence, block, chain, chain-confidence, "
              "margin, entropy, threshold, remdm)",
              err);
    CHECK_INT(MODEL_SAMPLE_BLOCK, got); /* untouched on failure */
    CHECK_INT(MODEL_EINVAL, model_strategy_parse("Random", &got, NULL, 0));
    CHECK_INT(MODEL_EINVAL, model_strategy_parse(NULL, &got, err, sizeof err));
    CHECK_STR("unknown strategy '(null)' (random, confidence, block, chain, chain-confidence, "
              "margin, entropy, threshold, remdm)",
              err);
    char small[12];
    CHECK_INT(MODEL_EINVAL, model_strategy_parse("spam", &got, small, sizeof small));
    CHECK_STR("unknown str", small); /* truncated, terminated */
}

/* The default settings fill every field (over garbage) with the documented values. */
void test_defaults(void)
{
    model_settings s;
    memset(&s, 0xA5, sizeof s);
    model_default_settings(&s);
    CHECK(s.config.vocab == 256 && s.config.n_mask == 1 && s.config.d == 128 &&
              s.config.layers == 4 && s.config.heads == 4 && s.config.seq_len == 128 &&
              s.config.mode == MODEL_DIFFUSION && s.config.block == 0 && s.threads == 0,
          "settings: V %d K %d d %d L %d H %d seq_len %d mode %d threads %d", s.config.vocab,
          s.config.n_mask, s.config.d, s.config.layers, s.config.heads, s.config.seq_len,
          s.config.mode, s.threads);
    model_optim o;
    memset(&o, 0xA5, sizeof o);
    model_default_optim(&o);
    CHECK(o.lr == 3e-3f && o.min_lr == 3e-4f && o.beta1 == 0.9f && o.beta2 == 0.95f &&
              o.eps == 1e-8f && o.weight_decay == 0.1f && o.grad_clip == 1.0f &&
              o.warmup_steps == 100 && o.total_steps == 10000,
          "optim: lr %g min_lr %g betas %g/%g eps %g wd %g clip %g warm-up %ld total %ld",
          (double)o.lr, (double)o.min_lr, (double)o.beta1, (double)o.beta2, (double)o.eps,
          (double)o.weight_decay, (double)o.grad_clip, o.warmup_steps, o.total_steps);
    model_sample_settings ss;
    memset(&ss, 0xA5, sizeof ss);
    model_default_sample_settings(&ss);
    CHECK(ss.strategy == MODEL_SAMPLE_CONFIDENCE && ss.steps == 64 && ss.block_len == 32 &&
              ss.temperature == 0.0f && ss.on_step == NULL && ss.on_step_arg == NULL,
          "sample settings: strategy %d steps %d block_len %d temperature %g on_step %s",
          (int)ss.strategy, ss.steps, ss.block_len, (double)ss.temperature,
          ss.on_step ? "set" : "NULL");
}
