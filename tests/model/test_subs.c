/* test_subs.c: behaviour of the denoiser's outputs: SUBS invariants, causal mode really
 * causal, the prior bias, and the OpenBLAS check. */
#define _GNU_SOURCE /* dladdr */
#include "test.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "model_internal.h"

/* log sum_v exp(lp[v]) */
static double logsumexp(const double *lp, int n)
{
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++)
        mx = lp[i] > mx ? lp[i] : mx;
    for (int i = 0; i < n; i++)
        s += exp(lp[i] - mx);
    return mx + log(s);
}

/* log p(v) at one position for every v: T scores of the same batch with the target at
 * position `pos` set to each v in turn. */
static void all_logprobs(model *m, const int32_t *inp, int B, int T, int pos, double *out)
{
    const int V = model_get_config(m)->vocab;
    int32_t *tgt = malloc((size_t)B * T * 4);
    float *lp = malloc((size_t)B * T * 4);
    for (int n = 0; n < B * T; n++)
        tgt[n] = inp[n] < V ? inp[n] : 0;
    for (int v = 0; v < V; v++) {
        tgt[pos] = v;
        int rc = model_score(m, inp, tgt, B, T, lp);
        CHECK_RC(m, rc, MODEL_OK);
        out[v] = lp[pos];
    }
    free(tgt);
    free(lp);
}

void test_subs(void)
{
    enum { V = 17, K = 2, B = 2, T = 8 };
    model *m = test_model(V, K, 16, 2, 4, T, 0, 2, 1);
    test_scale_params(m, 0.3, 2);
    int32_t inp[B * T], tgt[B * T];
    float lp[B * T], w[B * T];
    gsl_rng *r = test_rng(3);
    for (int n = 0; n < B * T; n++) {
        tgt[n] = (int32_t)gsl_rng_uniform_int(r, V);
        inp[n] = n % 2 ? tgt[n] : V + n % K; /* odd positions given, even ones masked */
        w[n] = 1.0f;
    }
    CHECK_RC(m, model_score(m, inp, tgt, B, T, lp), MODEL_OK);
    /* scoring reuses one layer's buffers and runs the last layer at the masked rows only;
     * training keeps every buffer and runs every row: the same numbers, up to the products'
     * rounding (OpenBLAS's bits for a row depend on the rows around it in the call) */
    float lpf[B * T];
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, B, T, NULL, lpf), MODEL_OK);
    for (int n = 0; n < B * T; n++)
        CHECK(fabsf(lp[n] - lpf[n]) <= 1e-5f * (1.0f + fabsf(lpf[n])),
              "position %d: model_score's log-prob %.9g, model_forward's %.9g", n,
              (double)lp[n], (double)lpf[n]);
    for (int n = 1; n < B * T; n += 2)
        CHECK(lp[n] == 0.0f, "unmasked position %d: expected log-prob 0, got %g", n,
              (double)lp[n]);
    for (int n = 0; n < B * T; n += 2)
        CHECK(lp[n] < 0.0f && isfinite(lp[n]), "masked position %d: log-prob %g", n,
              (double)lp[n]);

    /* the V ordinary ids carry all the mass: mask ids are never predicted */
    double all[V];
    all_logprobs(m, inp, B, T, 4, all);
    double lse = logsumexp(all, V);
    CHECK(fabs(lse) < 1e-5, "masked position: sum over V of p(v) = exp(%g), expected 1", lse);

    /* at an unmasked position every other target has log-prob -inf */
    int32_t t2[B * T];
    memcpy(t2, tgt, sizeof t2);
    t2[3] = (tgt[3] + 1) % V;
    CHECK_RC(m, model_score(m, inp, t2, B, T, lp), MODEL_OK);
    CHECK(lp[3] == -INFINITY, "unmasked position with another target: expected -inf, got %g",
          (double)lp[3]);
    /* ... which a weighted loss refuses, unless the position's weight is 0 */
    float loss;
    int rc = model_forward(m, inp, t2, w, B, T, &loss, NULL);
    CHECK_RC(m, rc, MODEL_ENONFINITE);
    CHECK(strstr(model_errmsg(m), "unmasked") != NULL,
          "message should name the unmasked "
          "position: %s",
          model_errmsg(m));
    w[3] = 0.0f;
    CHECK_RC(m, model_forward(m, inp, t2, w, B, T, &loss, NULL), MODEL_OK);
    CHECK(isfinite(loss), "weight 0 must drop the position, loss %g", (double)loss);
    w[3] = 1.0f;

    /* the loss is the weighted mean of -log p, and weights only scale */
    float lp2[B * T], loss2;
    for (int n = 0; n < B * T; n++)
        w[n] = (float)(n + 1);
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss2, lp2), MODEL_OK);
    double want = 0;
    for (int n = 0; n < B * T; n++)
        want += w[n] * -(double)lp2[n];
    want /= B * T;
    CHECK(fabs(loss2 - want) < 1e-5 * fabs(want), "loss %.7g, expected %.7g", (double)loss2,
          want);

    /* the input at an unmasked position changes the others' predictions (it is context),
     * but never its own log-prob */
    int32_t inp3[B * T];
    memcpy(inp3, inp, sizeof inp3);
    inp3[5] = (inp[5] + 3) % V;
    int32_t tgt3[B * T];
    memcpy(tgt3, tgt, sizeof tgt3);
    tgt3[5] = inp3[5];
    float lp3[B * T];
    CHECK_RC(m, model_score(m, inp, tgt, B, T, lp), MODEL_OK);
    CHECK_RC(m, model_score(m, inp3, tgt3, B, T, lp3), MODEL_OK);
    CHECK(lp3[5] == 0.0f, "changed unmasked input: log-prob %g", (double)lp3[5]);
    CHECK(lp3[4] != lp[4], "bidirectional: position 4 should see position 5 change");
    CHECK(lp3[B * T - 2] == lp[B * T - 2], "the other sequence must not see it: %g vs %g",
          (double)lp3[B * T - 2], (double)lp[B * T - 2]);
    gsl_rng_free(r);
    model_close(&m);
}

void test_causal(void)
{
    enum { V = 11, B = 1, T = 9 };
    for (int causal = 0; causal <= 1; causal++) {
        model *m = test_model(V, 1, 8, 2, 2, T, causal, 2, 4);
        test_scale_params(m, 0.4, 5);
        int32_t inp[T], tgt[T];
        for (int t = 0; t < T; t++) {
            tgt[t] = (t * 5 + 1) % V;
            inp[t] = t % 3 == 0 ? tgt[t] : V;
        }
        float a[T], b[T];
        CHECK_RC(m, model_score(m, inp, tgt, B, T, a), MODEL_OK);
        inp[6] = 2; /* reveal position 6: only positions >= 6 may change when causal */
        tgt[6] = 2;
        CHECK_RC(m, model_score(m, inp, tgt, B, T, b), MODEL_OK);
        int earlier_same = 1, later_changed = 0;
        for (int t = 0; t < 6; t++)
            earlier_same &= a[t] == b[t];
        for (int t = 7; t < T; t++)
            later_changed |= a[t] != b[t];
        if (causal) {
            CHECK(earlier_same, "causal: a change at position 6 reached an earlier position");
            CHECK(later_changed, "causal: a change at position 6 reached no later position");
            /* the autoregressive baseline predicts every position, given ones included */
            CHECK(b[0] < 0.0f && isfinite(b[0]) && b[6] < 0.0f && isfinite(b[6]),
                  "causal: given positions must be predicted too: log-probs %g, %g",
                  (double)b[0], (double)b[6]);
            double all[V];
            all_logprobs(m, inp, B, T, 3, all);
            CHECK(fabs(logsumexp(all, V)) < 1e-5,
                  "causal: p over V at a given position sums "
                  "to exp(%g)",
                  logsumexp(all, V));
        } else {
            CHECK(!earlier_same, "bidirectional: earlier positions should see position 6");
        }
        model_close(&m);
    }
}

void test_prior(void)
{
    enum { V = 7, K = 2, B = 1, T = 4 };
    model *m = test_model(V, K, 8, 1, 2, T, 0, 1, 6);
    /* with a zero output layer the logits are exactly the prior rows */
    memset(m->params.wout, 0, (size_t)V * 8 * 4);
    memset(m->params.bout, 0, V * 4);
    float prior[K * V];
    for (int k = 0; k < K; k++)
        for (int v = 0; v < V; v++)
            prior[k * V + v] = (float)((k + 1) * v) * 0.3f;
    prior[1 * V + 3] = -INFINITY; /* type 1 bans id 3 */
    CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);
    int32_t inp[T] = {V, V + 1, 2, V + 1};
    for (int v = 0; v < V; v++) {
        int32_t tgt[T] = {v, v, 2, v};
        float lp[T];
        CHECK_RC(m, model_score(m, inp, tgt, B, T, lp), MODEL_OK);
        for (int pos = 0; pos < T; pos += 1) {
            if (pos == 2)
                continue;
            int k = inp[pos] - V;
            double mx = -INFINITY, s = 0;
            for (int j = 0; j < V; j++)
                mx = prior[k * V + j] > mx ? prior[k * V + j] : mx;
            for (int j = 0; j < V; j++)
                s += exp(prior[k * V + j] - mx);
            double want = prior[k * V + v] - mx - log(s);
            if (isinf(want))
                CHECK(lp[pos] == -INFINITY, "banned id %d of type %d: log-prob %g", v, k,
                      (double)lp[pos]);
            else
                CHECK(fabs(lp[pos] - want) < 1e-5,
                      "type %d id %d: log-prob %.7g, expected "
                      "log-softmax(prior) %.7g",
                      k, v, (double)lp[pos], want);
        }
    }
    /* the prior bends a trained-looking output too: raising one id's prior raises it */
    test_scale_params(m, 0.3, 7);
    int32_t tgt[T] = {4, 4, 2, 4};
    float before[T], after[T];
    CHECK_RC(m, model_set_prior(m, NULL), MODEL_OK);
    CHECK_RC(m, model_score(m, inp, tgt, B, T, before), MODEL_OK);
    float bump[K * V] = {0};
    bump[0 * V + 4] = 2.0f;
    CHECK_RC(m, model_set_prior(m, bump), MODEL_OK);
    CHECK_RC(m, model_score(m, inp, tgt, B, T, after), MODEL_OK);
    CHECK(after[0] > before[0], "type 0 prior +2 on id 4: log-prob %g -> %g", (double)before[0],
          (double)after[0]);
    CHECK(after[1] == before[1], "type 1 has no bump: log-prob %g -> %g", (double)before[1],
          (double)after[1]);
    float badprior[K * V] = {0};
    badprior[5] = NAN;
    CHECK_RC(m, model_set_prior(m, badprior), MODEL_EINVAL);
    model_close(&m);
}

void test_blas(void)
{
    /* cblas_sgemm must be OpenBLAS's, never GSL's reference CBLAS */
    Dl_info info;
    void *sym = (void *)(size_t)&cblas_sgemm;
    int found = dladdr(sym, &info);
    CHECK(found && info.dli_fname, "dladdr(cblas_sgemm) found nothing");
    if (found && info.dli_fname) {
        CHECK(strstr(info.dli_fname, "gslcblas") == NULL, "cblas_sgemm comes from %s",
              info.dli_fname);
        /* linked dynamically it is libopenblas; statically, the test binary itself */
        CHECK(strstr(info.dli_fname, "openblas") != NULL ||
                  strstr(info.dli_fname, "test_model") != NULL,
              "cblas_sgemm comes from %s, expected libopenblas", info.dli_fname);
    }
    /* Debian's libgsl.so itself needs libgslcblas, so it may be mapped; what matters is
     * that the process-wide lookup (which GSL's own calls use too) finds OpenBLAS first */
    static const char *const syms[] = {"cblas_sgemm", "cblas_dgemm", "cblas_sdot"};
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p = dlsym(RTLD_DEFAULT, syms[i]);
        Dl_info di;
        CHECK(p && dladdr(p, &di) && di.dli_fname && !strstr(di.dli_fname, "gslcblas"),
              "%s resolves to %s, expected OpenBLAS", syms[i],
              p && dladdr(p, &di) && di.dli_fname ? di.dli_fname : "(nothing)");
    }
    const char *cfg = openblas_get_config();
    CHECK(cfg && strstr(cfg, "OpenBLAS"), "openblas_get_config() = %s", cfg ? cfg : "(null)");
}
