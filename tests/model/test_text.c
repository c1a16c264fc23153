/* test_text.c: the denoiser must learn real text: a few hundred steps on the bytes of the
 * King James Bible bring the held-out NELBO clearly below the unigram entropy. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    TRAIN_BYTES = 224 * 1024, /* the first bytes train, the next HELD_BYTES are held out */
    HELD_BYTES = 32 * 1024,
    V = 256,
    D = 32,
    L = 1,
    H = 4,
    T = 32,
    B = 16,
    STEPS = 600,
    HELD_WINDOWS = 1024,
    TIMES = 8, /* held-out windows, stratified times per window */
};

/* A batch as the harness makes it: B windows at random offsets, antithetic times
 * t_b = (u + b) / B, each position masked with probability t_b and weighted 1/t_b (the
 * linear schedule's ELBO weight); the loss is divided by all B*T positions. */
static void text_batch(const unsigned char *text, size_t n, gsl_rng *r, int32_t *inp,
                       int32_t *tgt, float *w)
{
    double u = gsl_rng_uniform(r);
    for (int b = 0; b < B; b++) {
        size_t start = gsl_rng_uniform_int(r, n - T);
        double t = (u + b) / B;
        t = t < 1e-3 ? 1e-3 : t;
        for (int i = 0; i < T; i++) {
            int k = b * T + i, masked = gsl_rng_uniform(r) < t;
            tgt[k] = text[start + (size_t)i];
            inp[k] = masked ? V : tgt[k];
            w[k] = masked ? (float)(1.0 / t) : 0.0f;
        }
    }
}

/* Held-out: the model's NELBO in nats per byte (TIMES stratified t per window) minus the
 * unigram code length of the same window (log p from the training byte counts), averaged
 * over the windows, with its standard error; paired per window, the text's difficulty
 * cancels. *unigram gets the unigram code length alone. */
static void heldout_gain(model *m, const unsigned char *text, const double *logp, double *gain,
                         double *se, double *unigram)
{
    int32_t inp[TIMES * T], tgt[TIMES * T];
    float lp[TIMES * T];
    double wt[TIMES * T], s = 0, s2 = 0, su = 0;
    gsl_rng *r = test_rng(77);
    for (int win = 0; win < HELD_WINDOWS; win++) {
        const unsigned char *x = text + (size_t)win * (HELD_BYTES / HELD_WINDOWS);
        for (int j = 0; j < TIMES; j++) {
            double t = (j + gsl_rng_uniform(r)) / TIMES;
            t = t < 1e-3 ? 1e-3 : t;
            for (int i = 0; i < T; i++) {
                int k = j * T + i, masked = gsl_rng_uniform(r) < t;
                tgt[k] = x[i];
                inp[k] = masked ? V : tgt[k];
                wt[k] = masked ? 1.0 / t : 0.0;
            }
        }
        CHECK_RC(m, model_score(m, inp, tgt, TIMES, T, lp), MODEL_OK);
        double nats = 0, uni = 0;
        for (int k = 0; k < TIMES * T; k++)
            if (wt[k] > 0)
                nats -= wt[k] * lp[k];
        nats /= (double)TIMES * T;
        for (int i = 0; i < T; i++)
            uni -= logp[x[i]];
        uni /= T;
        su += uni;
        s += nats - uni;
        s2 += (nats - uni) * (nats - uni);
    }
    gsl_rng_free(r);
    *unigram = su / HELD_WINDOWS;
    *gain = s / HELD_WINDOWS;
    *se = sqrt((s2 / HELD_WINDOWS - *gain * *gain) / (HELD_WINDOWS - 1));
}

int test_text(void)
{
    const char *path = getenv("MODEL_TEXT");
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) {
        fprintf(stderr, "skipped: MODEL_TEXT (%s) cannot be read\n", path ? path : "unset");
        return 77;
    }
    unsigned char *text = malloc(TRAIN_BYTES + HELD_BYTES);
    size_t got = fread(text, 1, TRAIN_BYTES + HELD_BYTES, f);
    fclose(f);
    if (got != TRAIN_BYTES + HELD_BYTES) {
        CHECK(0, "%s: expected %d bytes, read %zu", path, TRAIN_BYTES + HELD_BYTES, got);
        free(text);
        return 1;
    }
    const unsigned char *held = text + TRAIN_BYTES;
    /* the unigram model: the training bytes' frequencies (add one half) */
    double logp[V], count[V];
    for (int v = 0; v < V; v++)
        count[v] = 0.5;
    for (size_t i = 0; i < TRAIN_BYTES; i++)
        count[text[i]] += 1;
    for (int v = 0; v < V; v++)
        logp[v] = log(count[v] / (TRAIN_BYTES + 0.5 * V));

    model *m = test_model(V, 1, D, L, H, T, 0, 2, 5);
    model_optim o;
    model_default_optim(&o);
    o.total_steps = STEPS;
    int32_t inp[B * T], tgt[B * T];
    float w[B * T], loss = 0;
    gsl_rng *r = test_rng(6);
    for (int s = 0; s < STEPS; s++) {
        text_batch(text, TRAIN_BYTES, r, inp, tgt, w);
        int rc = model_zero_grad(m);
        if (!rc)
            rc = model_forward(m, inp, tgt, w, B, T, &loss, NULL);
        if (!rc)
            rc = model_backward(m);
        if (!rc)
            rc = model_update(m, &o, NULL);
        CHECK_RC(m, rc, MODEL_OK);
        if (rc)
            break;
    }
    double diff, se, unigram;
    heldout_gain(m, held, logp, &diff, &se, &unigram);
    if (getenv("MODEL_TEST_VERBOSE"))
        fprintf(stderr, "held-out: unigram %.4f nats a byte, NELBO %+.4f +- %.4f from it\n",
                unigram, diff, se);
    /* A denoiser on the unigram plateau scores the unigram code length (3.2 nats a byte
     * here): it predicts every masked byte from the byte frequencies alone. Reading the
     * neighbours is worth much more (the bigram conditional entropy is 2.2), and 600 steps
     * get about 0.6 below the unigram; a model that never leaves the plateau (uniform
     * attention over the window) stays within 0.1 of it. The bar, 0.25 below, sits between
     * the two, many standard errors (~0.02) from each. */
    CHECK(diff < -0.25 && se < 0.05,
          "after %d steps the held-out NELBO is %+.4f +- %.4f "
          "nats a byte from the unigram code length %.4f, expected below -0.25 (standard "
          "error below 0.05)",
          STEPS, diff, se, unigram);
    gsl_rng_free(r);
    model_close(&m);
    free(text);
    return 0;
}
