/* test_varlen.c: variable-length generation: the end-of-text cut of model_sample with a
 * model whose outputs are forced by its output bias, checked position by position. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

enum { EV = 8, EB = 3, ET = 12, EOT = 5 };

/* every mask position proposes `tok` whatever its context: the bias outweighs the rest */
static void force_output(model *m, int tok)
{
    for (int v = 0; v < EV; v++)
        m->params.bout[v] = v == tok ? 50.0f : -50.0f;
}

void test_eot(void)
{
    model *m = test_model(EV, 1, 16, 1, 2, ET, 0, 1, 3);
    static const int prompt[EB] = {0, 3, 7};
    model_sample_settings s;
    model_default_sample_settings(&s);
    CHECK(s.eot == -1 && s.lengths == NULL, "default eot %d, lengths %p", s.eot,
          (void *)s.lengths);
    int32_t tok[EB * ET];
    int len[EB];
    for (int st = 0; st < 2; st++) {
        /* the model ends the text at once: each text is its prompt */
        force_output(m, EOT);
        for (int b = 0; b < EB; b++)
            for (int t = 0; t < ET; t++)
                tok[b * ET + t] = t < prompt[b] ? 1 + (t % 3) : EV; /* prompt, then masks */
        s.strategy = st ? MODEL_SAMPLE_RANDOM : MODEL_SAMPLE_CONFIDENCE;
        s.steps = 4;
        s.eot = EOT;
        s.lengths = len;
        gsl_rng *r = test_rng(5);
        CHECK_RC(m, model_sample(m, tok, EB, ET, &s, r), MODEL_OK);
        gsl_rng_free(r);
        for (int b = 0; b < EB; b++) {
            CHECK(len[b] == prompt[b], "%s: sequence %d has length %d, expected %d",
                  model_strategy_name(s.strategy), b, len[b], prompt[b]);
            for (int t = 0; t < ET; t++) {
                int32_t want = t < prompt[b] ? 1 + (t % 3) : EOT;
                CHECK(tok[b * ET + t] == want, "%s: sequence %d position %d holds %d, not %d",
                      model_strategy_name(s.strategy), b, t, tok[b * ET + t], want);
            }
        }
    }

    /* the model writes token 2; a given eot ends the text where it stands, and a sequence
     * without one keeps its whole window */
    force_output(m, 2);
    static const int given_at[EB] = {4, -1, 0};
    for (int b = 0; b < EB; b++)
        for (int t = 0; t < ET; t++)
            tok[b * ET + t] = t == given_at[b] ? EOT : EV;
    tok[1 * ET + ET - 1] = 6; /* a given token at the window's end survives */
    s.strategy = MODEL_SAMPLE_CONFIDENCE;
    gsl_rng *r = test_rng(6);
    CHECK_RC(m, model_sample(m, tok, EB, ET, &s, r), MODEL_OK);
    gsl_rng_free(r);
    for (int b = 0; b < EB; b++) {
        int want_len = given_at[b] < 0 ? ET : given_at[b];
        CHECK(len[b] == want_len, "given eot: sequence %d has length %d, expected %d", b,
              len[b], want_len);
        for (int t = 0; t < ET; t++) {
            int32_t want = t >= want_len ? EOT : (b == 1 && t == ET - 1) ? 6 : 2;
            CHECK(tok[b * ET + t] == want, "given eot: sequence %d position %d holds %d, not %d",
                  b, t, tok[b * ET + t], want);
        }
    }

    /* the cut changes no draw: eot set = eot unset, then cut */
    test_scale_params(m, 1.0, 8); /* a model that draws a mix of tokens, eot among them */
    int32_t a[EB * ET], c[EB * ET];
    for (int n = 0; n < EB * ET; n++)
        a[n] = n % ET < 2 ? 1 : EV;
    memcpy(c, a, sizeof a);
    s.strategy = MODEL_SAMPLE_RANDOM;
    s.temperature = 1.0f;
    r = test_rng(9);
    CHECK_RC(m, model_sample(m, a, EB, ET, &s, r), MODEL_OK);
    gsl_rng_free(r);
    int len2[EB];
    s.eot = -1;
    s.lengths = len2;
    r = test_rng(9);
    CHECK_RC(m, model_sample(m, c, EB, ET, &s, r), MODEL_OK);
    gsl_rng_free(r);
    for (int b = 0; b < EB; b++)
        CHECK(len2[b] == ET, "eot -1: length %d, expected the window %d", len2[b], ET);
    model_cut_at_eot(c, EB, ET, EOT, len2);
    CHECK(!memcmp(a, c, sizeof a) && !memcmp(len, len2, sizeof len),
          "sampling with eot differs from sampling without it and cutting");

    /* bad ids */
    s.eot = EV;
    r = test_rng(1);
    CHECK_RC(m, model_sample(m, a, EB, ET, &s, r), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "end-of-text id 8"), "message: %s", model_errmsg(m));
    s.eot = -2;
    CHECK_RC(m, model_sample(m, a, EB, ET, &s, r), MODEL_EINVAL);
    gsl_rng_free(r);
    model_close(&m);
}
