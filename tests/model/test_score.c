/* test_score.c: model_score_argmax: its log-probs are model_score's, bit for bit, and its
 * argmax is the token model_sample's confidence strategy proposes at temperature 0 (the
 * masked-token accuracy of scoring, from the score's own forward pass). */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

enum { AV = 37, AK = 3, AB = 5, AT = 16 };

static void check_argmax(int threads)
{
    model *m = test_model(AV, AK, 16, 2, 2, AT, 0, threads, 11);
    test_scale_params(m, 2.0, 12); /* spread logits: one token everywhere would hide a bug */
    /* the edges of the vocabulary lead (a loop's bounds matter), the rows choose among them */
    for (int v = 0; v < AV; v++)
        m->params.bout[v] = v == 0 || v == 1 || v == AV - 1 ? 0.0f : -100.0f;
    gsl_rng *r = test_rng(13);
    int32_t inp[AB * AT], tgt[AB * AT], amax[AB * AT], samp[AB * AT];
    float lp[AB * AT], lp2[AB * AT];
    int masks = 0;
    for (int n = 0; n < AB * AT; n++) {
        tgt[n] = (int32_t)gsl_rng_uniform_int(r, AV);
        int masked = gsl_rng_uniform(r) < 0.5;
        inp[n] = masked ? AV + (int32_t)gsl_rng_uniform_int(r, AK) : tgt[n];
        if (!masked && n % 2) /* a target that is not the input: argmax keeps the input */
            tgt[n] = (tgt[n] + 1) % AV;
        masks += masked;
    }
    CHECK(masks > 0, "no masks drawn");
    CHECK_RC(m, model_score(m, inp, tgt, AB, AT, lp), MODEL_OK);
    CHECK_RC(m, model_score_argmax(m, inp, tgt, AB, AT, lp2, amax), MODEL_OK);
    CHECK(!memcmp(lp, lp2, sizeof lp),
          "%d threads: score_argmax's log-probs differ from score's", threads);
    memcpy(samp, inp, sizeof samp);
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.strategy = MODEL_SAMPLE_CONFIDENCE;
    s.steps = 1;
    s.temperature = 0;
    CHECK_RC(m, model_sample(m, samp, AB, AT, &s, r), MODEL_OK);
    int diff = 0, kept = 0;
    for (int n = 0; n < AB * AT; n++) {
        diff += amax[n] != samp[n];
        kept += inp[n] < AV && amax[n] != inp[n];
    }
    CHECK(diff == 0, "%d threads: %d of %d argmax tokens differ from the sampler's proposals",
          threads, diff, AB * AT);
    CHECK(kept == 0, "%d threads: %d unmasked positions changed", threads, kept);
    /* the oracle: score every token v as the target everywhere; the argmax is the first v
     * of the largest log-prob (one log-sum-exp per row: the logits' order) */
    static float lpv[AV][AB * AT];
    int32_t all[AB * AT];
    for (int v = 0; v < AV; v++) {
        for (int n = 0; n < AB * AT; n++)
            all[n] = inp[n] < AV ? inp[n] : v;
        CHECK_RC(m, model_score(m, inp, all, AB, AT, lpv[v]), MODEL_OK);
    }
    int wrong = 0, distinct = 0, seen[AV] = {0};
    for (int n = 0; n < AB * AT; n++) {
        if (inp[n] < AV)
            continue;
        int best = 0;
        for (int v = 1; v < AV; v++)
            if (lpv[v][n] > lpv[best][n])
                best = v;
        wrong += amax[n] != best;
        distinct += !seen[best]++;
    }
    CHECK(wrong == 0, "%d threads: %d argmax tokens are not the most probable", threads, wrong);
    CHECK(distinct >= 3, "%d threads: only %d distinct argmax tokens: a weak check", threads,
          distinct);
    CHECK_RC(m, model_score_argmax(m, inp, tgt, AB, AT, lp2, NULL), MODEL_EINVAL);
    gsl_rng_free(r);
    model_close(&m);
}

void test_score_argmax(void)
{
    check_argmax(1);
    check_argmax(2);
}

/* A forward without keep runs its last layer, from the attention on, at the predicted rows
 * only. Each row's log-prob is the full forward's (the keeping forward runs every row) up to
 * the products' rounding, at every mask rate; the bits do not depend on the threads; and the
 * attention at a subset of query rows gives them the full attention's bits where the
 * per-head products are libmodel's own kernels (AVX2, AVX-512). */
static void score_rows(int threads, int d, int H, int L, int T, int B, double rate,
                       int32_t *inp, int32_t *tgt, float *full, float *sub, int *M)
{
    enum { RV = 61, RK = 2 };
    model *m = test_model(RV, RK, d, L, H, T, 0, threads, 17);
    test_scale_params(m, 1.5, 19);
    gsl_rng *r = test_rng(23 + (unsigned long)(100 * rate));
    const int N = B * T;
    for (int n = 0; n < N; n++) {
        tgt[n] = (int32_t)gsl_rng_uniform_int(r, RV);
        inp[n] = gsl_rng_uniform(r) < rate ? RV + (int32_t)gsl_rng_uniform_int(r, RK) : tgt[n];
    }
    /* the score first: nothing a full forward leaves in the buffers can stand in for it */
    CHECK_RC(m, model_score(m, inp, tgt, B, T, sub), MODEL_OK);
    CHECK_RC(m, model_run_forward(m, inp, NULL, tgt, B, T, 1), MODEL_OK);
    *M = m->M;
    for (int n = 0; n < N; n++)
        full[n] = m->row_of[n] >= 0 ? m->scale[m->row_of[n]] : sub[n];
    gsl_rng_free(r);
    model_close(&m);
}

static void check_attention_rows(int B, int T, int C, int H)
{
    const int N = B * T;
    float *qkv = malloc((size_t)N * 3 * C * sizeof *qkv), *out = malloc((size_t)N * C * 4);
    float *outs = malloc((size_t)N * C * 4), *scratch = malloc((size_t)T * T * 4);
    int *rows = malloc((size_t)N * sizeof *rows), M = 0;
    gsl_rng *r = test_rng(29);
    for (size_t i = 0; i < (size_t)N * 3 * C; i++)
        qkv[i] = (float)gsl_rng_uniform(r) * 2.0f - 1.0f;
    for (int n = 0; n < N; n++)
        if (n % T == T - 1 || gsl_rng_uniform(r) < 0.4) /* each sequence's last position too */
            rows[M++] = n;
    model_attention_forward(out, scratch, qkv, B, T, C, H, 0, 0, NULL);
    model_attention_rows_forward(outs, scratch, qkv, rows, M, B, T, C, H, NULL);
    int diff = 0, far = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < C; j++) {
            float a = out[(size_t)rows[i] * C + j], b = outs[(size_t)i * C + j];
            diff += memcmp(&a, &b, sizeof a) != 0;
            far += fabsf(a - b) > 1e-5f * (1.0f + fabsf(a));
        }
    CHECK(far == 0, "attention at %d query rows: %d outputs differ from the full attention's",
          M, far);
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        CHECK(diff == 0,
              "attention at %d query rows: %d outputs' bits differ from the full "
              "attention's",
              M, diff);
#endif
    gsl_rng_free(r);
    free(qkv);
    free(out);
    free(outs);
    free(scratch);
    free(rows);
}

void test_score_rows(void)
{
    check_attention_rows(3, 32, 64, 4);
    check_attention_rows(2, 40, 128, 4);
    const struct {
        int d, H, L, T, B;
    } shapes[] = {{64, 4, 2, 32, 3}, {128, 4, 1, 40, 2}};
    const double rates[] = {0.02, 0.3, 0.5, 0.9, 1.0};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
            const int N = shapes[s].B * shapes[s].T;
            int32_t *inp = malloc((size_t)N * sizeof *inp), *tgt = malloc((size_t)N * 4);
            float *full = malloc((size_t)N * sizeof *full), *sub[2];
            int M = 0;
            for (int th = 0; th < 2; th++) {
                sub[th] = malloc((size_t)N * sizeof *sub[th]);
                score_rows(th + 1, shapes[s].d, shapes[s].H, shapes[s].L, shapes[s].T,
                           shapes[s].B, rates[k], inp, tgt, full, sub[th], &M);
            }
            int far = 0;
            for (int n = 0; n < N; n++)
                far += fabsf(full[n] - sub[0][n]) > 1e-5f * (1.0f + fabsf(full[n]));
            CHECK(far == 0,
                  "d %d, mask rate %.2f: %d of %d predicted rows' log-probs differ from the "
                  "full forward's",
                  shapes[s].d, rates[k], far, M);
            CHECK(!memcmp(sub[0], sub[1], (size_t)N * sizeof *sub[0]),
                  "d %d, mask rate %.2f: the log-probs depend on the threads", shapes[s].d,
                  rates[k]);
            free(inp);
            free(tgt);
            free(full);
            free(sub[0]);
            free(sub[1]);
        }
}
