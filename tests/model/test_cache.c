/* test_cache.c: key/value cache decoding against full recomputation (AR, block, diffusion's
 * full and window steps), the cache's errors, and the AR and block samplers on it. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static model *cache_model(int V, int K, int T, int mode, int block, unsigned long seed)
{
    model *m = test_model_config((model_config){.vocab = V,
                                                .n_mask = K,
                                                .d = 16,
                                                .layers = 2,
                                                .heads = 2,
                                                .seq_len = T,
                                                .mode = mode,
                                                .block = block},
                                 2, seed);
    test_scale_params(m, 0.3, seed + 1);
    return m;
}

/* log-softmax of l[0..V) in place */
static void log_softmax(float *l, int V)
{
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < V; j++)
        mx = l[j] > mx ? l[j] : mx;
    for (int j = 0; j < V; j++)
        s += exp(l[j] - mx);
    float lse = (float)(mx + log(s));
    for (int j = 0; j < V; j++)
        l[j] -= lse;
}

/* ||a - b|| / ||b|| over n pairs */
static double rel(const double *a, const double *b, size_t n)
{
    double d2 = 0, b2 = 0;
    for (size_t i = 0; i < n; i++) {
        d2 += (a[i] - b[i]) * (a[i] - b[i]);
        b2 += b[i] * b[i];
    }
    return b2 > 0 ? sqrt(d2 / b2) : sqrt(d2);
}

/* AR: a prompt of 3, then one position per step; every row's next-token log-probs against
 * the training pass's (model_score with every target v) */
static void check_ar_cache(void)
{
    enum { V = 19, B = 2, T = 12, P = 3 };
    model *m = cache_model(V, 1, T, MODEL_AR, 0, 201);
    gsl_rng *r = test_rng(202);
    int32_t tok[B * T];
    for (int n = 0; n < B * T; n++)
        tok[n] = (int32_t)gsl_rng_uniform_int(r, V);
    gsl_rng_free(r);
    /* reference: log p(v | tokens <= p) at every row p, for every v */
    static float ref[V][B * T];
    int32_t tgt[B * T];
    for (int v = 0; v < V; v++) {
        for (int n = 0; n < B * T; n++)
            tgt[n] = v;
        CHECK_RC(m, model_score(m, tok, tgt, B, T, ref[v]), MODEL_OK);
    }
    model_cache *c = NULL;
    CHECK_RC(m, model_cache_open(m, &c, B), MODEL_OK);
    static float got[B * T * V];
    int32_t prompt[B * P], col[B];
    for (int b = 0; b < B; b++)
        memcpy(prompt + b * P, tok + b * T, P * sizeof *tok);
    float lp[B * P * V];
    long calls = model_calls(m);
    CHECK_RC(m, model_cache_step(c, prompt, 0, P, P, 0, P, lp), MODEL_OK);
    for (int b = 0; b < B; b++)
        memcpy(got + ((size_t)b * T) * V, lp + (size_t)b * P * V, (size_t)P * V * 4);
    for (int t = P; t < T; t++) {
        for (int b = 0; b < B; b++)
            col[b] = tok[b * T + t];
        float l1[B * V];
        CHECK_RC(m, model_cache_step(c, col, t, 1, 1, 0, 1, l1), MODEL_OK);
        for (int b = 0; b < B; b++)
            memcpy(got + ((size_t)b * T + t) * V, l1 + (size_t)b * V, V * 4);
    }
    CHECK_INT(T - P + 1, model_calls(m) - calls);
    CHECK_INT(T, model_cache_len(c));
    static double a[B * T * V], e[B * T * V];
    for (int n = 0; n < B * T; n++) {
        log_softmax(got + (size_t)n * V, V);
        for (int v = 0; v < V; v++) {
            a[(size_t)n * V + v] = got[(size_t)n * V + v];
            e[(size_t)n * V + v] = ref[v][n];
        }
    }
    double err = rel(a, e, (size_t)B * T * V);
    CHECK(err <= 1e-5, "AR cache: log-probs differ from the full recomputation by %.3g", err);
    /* a step that does not continue at the end of the cache */
    CHECK_RC(m, model_cache_step(c, col, 3, 1, 1, 0, 0, NULL), MODEL_EINVAL);
    model_cache_reset(c);
    CHECK_INT(0, model_cache_len(c));
    col[0] = V + 1;
    CHECK_RC(m, model_cache_step(c, col, 0, 1, 1, 0, 0, NULL), MODEL_ERANGE);
    model_cache_close(&c);
    model_cache_close(&c);
    model_close(&m);
}

/* block: each block partly masked, its logits from the cache (the blocks before it kept)
 * against the 2T training pass's log-probs, with a prior on two mask types; the finished
 * blocks committed alone or together with the next block's first step */
static void check_block_cache(void)
{
    enum { V = 19, K = 2, B = 2, T = 12, BK = 3, NB = T / BK };
    model *m = cache_model(V, K, T, MODEL_BLOCK, BK, 211);
    gsl_rng *r = test_rng(212);
    float prior[K * V];
    for (int i = 0; i < K * V; i++)
        prior[i] = (float)(gsl_rng_uniform(r) * 2 - 1);
    CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);
    int32_t x0[B * T], xt[B * T];
    for (int n = 0; n < B * T; n++) {
        x0[n] = (int32_t)gsl_rng_uniform_int(r, V);
        int masked = gsl_rng_uniform(r) < 0.6 || n % BK == 1;
        xt[n] = masked ? V + (int32_t)gsl_rng_uniform_int(r, K) : x0[n];
    }
    gsl_rng_free(r);
    /* reference: the training pass on (xt, x0); block k's rows see x0 before it */
    static float ref[V][B * T];
    int32_t tgt[B * T];
    for (int v = 0; v < V; v++) {
        for (int n = 0; n < B * T; n++)
            tgt[n] = xt[n] < V ? xt[n] : v;
        CHECK_RC(m, model_score_block(m, xt, x0, tgt, B, T, ref[v]), MODEL_OK);
    }
    for (int merged = 0; merged <= 1; merged++) {
        model_cache *c = NULL;
        CHECK_RC(m, model_cache_open(m, &c, B), MODEL_OK);
        static double a[B * T * V], e[B * T * V];
        size_t na = 0;
        for (int k = 0; k < NB; k++) {
            int lo = k * BK, pend = merged && k > 0 ? BK : 0, n = pend + BK;
            int32_t rows[B * 2 * BK];
            float l[B * BK * V];
            for (int b = 0; b < B; b++) {
                memcpy(rows + b * n, x0 + b * T + lo - pend, (size_t)pend * 4);
                memcpy(rows + b * n + pend, xt + b * T + lo, BK * 4);
            }
            CHECK_RC(m, model_cache_step(c, rows, lo - pend, n, pend, pend, BK, l), MODEL_OK);
            for (int b = 0; b < B; b++)
                for (int i = 0; i < BK; i++) {
                    int pos = b * T + lo + i;
                    if (xt[pos] < V)
                        continue;
                    float *row = l + ((size_t)b * BK + i) * V;
                    log_softmax(row, V);
                    for (int v = 0; v < V; v++) {
                        a[na] = row[v];
                        e[na++] = ref[v][pos];
                    }
                }
            if (!merged || k == NB - 1) { /* commit block k alone */
                for (int b = 0; b < B; b++)
                    memcpy(rows + b * BK, x0 + b * T + lo, BK * 4);
                CHECK_RC(m, model_cache_step(c, rows, lo, BK, BK, 0, 0, NULL), MODEL_OK);
            }
        }
        CHECK(na >= (size_t)B * NB * V, "block cache: %zu values compared", na);
        double err = rel(a, e, na);
        CHECK(err <= 1e-5,
              "block cache%s: log-probs differ from the full recomputation by %.3g",
              merged ? " (commits merged)" : "", err);
        CHECK_INT(T, model_cache_len(c));
        int32_t one[B * BK] = {0};
        CHECK_RC(m, model_cache_step(c, one, T - 2, 1, 0, 0, 0, NULL), MODEL_EINVAL);
        model_cache_reset(c);
        CHECK_RC(m, model_cache_step(c, one, 0, 2, 0, 0, 0, NULL), MODEL_EINVAL);
        CHECK(strstr(model_errmsg(m), "whole blocks of 3"), "message: %s", model_errmsg(m));
        model_cache_close(&c);
    }
    model_close(&m);
}

/* diffusion: one step over the whole sequence is the training pass; a window step right
 * after it, on the same tokens, has nothing stale and gives the same logits */
static void check_diffusion_cache(void)
{
    enum { V = 19, K = 1, B = 2, T = 12, LO = 4, HI = 8 };
    model *m = cache_model(V, K, T, MODEL_DIFFUSION, 0, 221);
    gsl_rng *r = test_rng(222);
    int32_t xt[B * T];
    for (int n = 0; n < B * T; n++)
        xt[n] = gsl_rng_uniform(r) < 0.5 ? V : (int32_t)gsl_rng_uniform_int(r, V);
    gsl_rng_free(r);
    for (int b = 0; b < B; b++)
        xt[b * T + LO] = V;
    static float ref[V][B * T];
    int32_t tgt[B * T];
    for (int v = 0; v < V; v++) {
        for (int n = 0; n < B * T; n++)
            tgt[n] = xt[n] < V ? xt[n] : v;
        CHECK_RC(m, model_score(m, xt, tgt, B, T, ref[v]), MODEL_OK);
    }
    model_cache *c = NULL;
    CHECK_RC(m, model_cache_open(m, &c, B), MODEL_OK);
    static float full[B * (HI - LO) * V], win[B * (HI - LO) * V];
    CHECK_RC(m, model_cache_step(c, xt, 0, T, T, LO, HI - LO, full), MODEL_OK);
    int32_t w[B * (HI - LO)];
    for (int b = 0; b < B; b++)
        memcpy(w + b * (HI - LO), xt + b * T + LO, (HI - LO) * 4);
    CHECK_RC(m, model_cache_step(c, w, LO, HI - LO, HI - LO, 0, HI - LO, win), MODEL_OK);
    static double a[B * T * V], e[B * T * V], aw[B * T * V];
    size_t na = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < HI - LO; i++) {
            int pos = b * T + LO + i;
            if (xt[pos] < V)
                continue;
            float *f = full + ((size_t)b * (HI - LO) + i) * V;
            float *g = win + ((size_t)b * (HI - LO) + i) * V;
            log_softmax(f, V);
            log_softmax(g, V);
            for (int v = 0; v < V; v++) {
                a[na] = f[v];
                aw[na] = g[v];
                e[na++] = ref[v][pos];
            }
        }
    CHECK(na >= (size_t)B * V, "diffusion cache: %zu values compared", na);
    double err = rel(a, e, na), errw = rel(aw, e, na);
    CHECK(err <= 1e-5, "diffusion cache: a full step differs from model_score by %.3g", err);
    CHECK(errw <= 1e-5, "diffusion cache: a window step on fresh keys differs by %.3g", errw);
    CHECK_RC(m, model_cache_step(c, w, T, 1, 1, 0, 0, NULL), MODEL_EINVAL);
    model_cache_close(&c);
    model_close(&m);
}

void test_cache(void)
{
    check_ar_cache();
    check_block_cache();
    check_diffusion_cache();
}

/* runs model_sample at seed, returns the model calls it made */
static long sample_at(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                      unsigned long seed)
{
    gsl_rng *r = test_rng(seed);
    long before = model_calls(m);
    int rc = model_sample(m, tok, B, T, s, r);
    CHECK_RC(m, rc, MODEL_OK);
    gsl_rng_free(r);
    return model_calls(m) - before;
}

static void check_ar_sampler(void)
{
    enum { V = 19, B = 3, T = 16, P = 4 };
    model *m = cache_model(V, 1, T, MODEL_AR, 0, 231);
    int32_t init[B * T], a[B * T], b[B * T];
    for (int n = 0; n < B * T; n++)
        init[n] = n % T < P + n / T ? (int32_t)(n * 7 % V) : V; /* prompts of 4, 5, 6 */
    init[T + 9] = 3;                                            /* a given token inside */
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.temperature = 1.0f;
    s.top_p = 0.9f;
    for (int cache = MODEL_CACHE_NONE; cache <= MODEL_CACHE_EXACT; cache++) {
        s.cache = cache;
        memcpy(cache ? b : a, init, sizeof init);
        long calls = sample_at(m, cache ? b : a, B, T, &s, 232);
        CHECK_INT(T - P, calls); /* one per position from the first masked one */
    }
    CHECK(!memcmp(a, b, sizeof a), "AR: the cache changed the tokens drawn");
    int ok = 1;
    for (int n = 0; n < B * T; n++)
        ok &= b[n] < V && (init[n] >= V || b[n] == init[n]);
    CHECK(ok, "AR: a mask left, or a given token changed");
    /* a nucleus this small is the greedy choice; greedy is the argmax of model_score */
    s.top_p = 1e-6f;
    memcpy(a, init, sizeof init);
    sample_at(m, a, B, T, &s, 233);
    s.temperature = 0.0f;
    memcpy(b, init, sizeof init);
    sample_at(m, b, B, T, &s, 234);
    CHECK(!memcmp(a, b, sizeof a), "AR: top_p 1e-6 differs from greedy decoding");
    static float lp[V][B * T];
    int32_t tgt[B * T];
    for (int v = 0; v < V; v++) {
        for (int n = 0; n < B * T; n++)
            tgt[n] = v;
        CHECK_RC(m, model_score(m, b, tgt, B, T, lp[v]), MODEL_OK);
    }
    int greedy = 1;
    for (int n = 0; n < B * T; n++) {
        if (init[n] < V)
            continue;
        for (int v = 0; v < V; v++)
            greedy &= lp[v][n - 1] <= lp[b[n]][n - 1];
    }
    CHECK(greedy, "AR: greedy decoding did not pick the most probable next token");
    init[T] = V; /* nothing predicts position 0 */
    gsl_rng *r = test_rng(235);
    CHECK_RC(m, model_sample(m, init, B, T, &s, r), MODEL_EINVAL);
    gsl_rng_free(r);
    model_close(&m);
}

static void check_block_sampler(void)
{
    enum { V = 19, K = 2, B = 2, T = 16, BK = 4 };
    model *m = cache_model(V, K, T, MODEL_BLOCK, BK, 241);
    int32_t init[B * T], a[B * T], b[B * T];
    for (int n = 0; n < B * T; n++)
        init[n] = n % T < 5 || n % 7 == 0 ? (int32_t)(n * 5 % V) : V + n % K;
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.steps = 10;
    model_strategy strat[] = {MODEL_SAMPLE_CONFIDENCE, MODEL_SAMPLE_RANDOM};
    for (int i = 0; i < 2; i++) {
        s.strategy = strat[i];
        s.temperature = (float)i;
        long calls[2];
        for (int cache = MODEL_CACHE_NONE; cache <= MODEL_CACHE_EXACT; cache++) {
            s.cache = cache;
            memcpy(cache ? b : a, init, sizeof init);
            calls[cache] = sample_at(m, cache ? b : a, B, T, &s, 242);
        }
        CHECK(!memcmp(a, b, sizeof a), "block %s: the cache changed the tokens",
              model_strategy_name(s.strategy));
        CHECK(calls[0] == calls[1] && calls[0] >= T / BK - 1 && calls[0] <= s.steps,
              "block %s: %ld calls without the cache, %ld with",
              model_strategy_name(s.strategy), calls[0], calls[1]);
        int ok = 1;
        for (int n = 0; n < B * T; n++)
            ok &= b[n] < V && (init[n] >= V || b[n] == init[n]);
        CHECK(ok, "block %s: a mask left, or a given token changed",
              model_strategy_name(s.strategy));
    }
    s.strategy = MODEL_SAMPLE_CHAIN;
    gsl_rng *r = test_rng(243);
    memcpy(a, init, sizeof init);
    CHECK_RC(m, model_sample(m, a, B, T, &s, r), MODEL_EINVAL);
    s.strategy = MODEL_SAMPLE_CONFIDENCE;
    s.steps = 3; /* fewer than the 4 blocks */
    CHECK_RC(m, model_sample(m, a, B, T, &s, r), MODEL_EINVAL);
    gsl_rng_free(r);
    model_close(&m);
}

/* the dual cache with one block spanning the sequence recomputes everything every step:
 * the BLOCK sampler's tokens exactly; with smaller blocks it runs and fills every mask */
static void check_dual_sampler(void)
{
    enum { V = 19, B = 2, T = 16 };
    model *m = cache_model(V, 1, T, MODEL_DIFFUSION, 0, 251);
    int32_t init[B * T], a[B * T], b[B * T];
    for (int n = 0; n < B * T; n++)
        init[n] = n % 5 == 0 ? (int32_t)(n % V) : V;
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.strategy = MODEL_SAMPLE_BLOCK;
    s.steps = 8;
    s.block_len = T;
    s.cache = MODEL_CACHE_NONE;
    memcpy(a, init, sizeof init);
    sample_at(m, a, B, T, &s, 252);
    s.cache = MODEL_CACHE_DUAL;
    memcpy(b, init, sizeof init);
    CHECK_INT(8, sample_at(m, b, B, T, &s, 252));
    CHECK(!memcmp(a, b, sizeof a), "dual cache, one block: tokens differ from exact decoding");
    s.block_len = 4;
    memcpy(b, init, sizeof init);
    CHECK_INT(8, sample_at(m, b, B, T, &s, 253));
    int ok = 1;
    for (int n = 0; n < B * T; n++)
        ok &= b[n] < V && (init[n] >= V || b[n] == init[n]);
    CHECK(ok, "dual cache: a mask left, or a given token changed");
    s.strategy = MODEL_SAMPLE_CONFIDENCE;
    gsl_rng *r = test_rng(254);
    CHECK_RC(m, model_sample(m, b, B, T, &s, r), MODEL_EINVAL);
    gsl_rng_free(r);
    model_close(&m);
}

void test_cache_sampler(void)
{
    check_ar_sampler();
    check_block_sampler();
    check_dual_sampler();
}
