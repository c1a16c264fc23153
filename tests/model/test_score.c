/* test_score.c: model_score_argmax: its log-probs are model_score's, bit for bit, and its
 * argmax is the token model_sample's confidence strategy proposes at temperature 0 (the
 * masked-token accuracy of scoring, from the score's own forward pass). */
#include "test.h"

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
