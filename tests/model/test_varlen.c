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
            CHECK(tok[b * ET + t] == want,
                  "given eot: sequence %d position %d holds %d, not %d", b, t, tok[b * ET + t],
                  want);
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

/* a forced denoiser: [expand] at every mask for its first `expand_calls` calls (or
 * [delete] when `delete` is set), then token 3 */
typedef struct forced {
    int calls, expand_calls, delete;
} forced;

enum { FV = 8, FT = 12, FM = FV };

static int forced_denoise(void *arg, const int32_t *tokens, const int *len, int B, int T,
                          float *logits)
{
    forced *f = arg;
    int cls = f->calls < f->expand_calls ? (f->delete ? FV + 1 : FV) : 3;
    f->calls++;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            CHECK(t < len[b] || tokens[b * T + t] == 0, "padding at %d holds %d", t,
                  tokens[b * T + t]);
            for (int c = 0; c < FV + 2; c++) {
                int want = cls; /* mode 2: [delete] at even positions, token 3 at odd ones */
                if (f->delete == 2 && cls != 3)
                    want = t % 2 ? 3 : FV + 1;
                logits[((size_t)b * T + t) * (FV + 2) + c] =
                    c == want ? (want == FV + 1 ? 6.0f : 5.0f) : 0.0f;
            }
        }
    return 0;
}

static void run_forced(int expand_calls, int del, int T, const int32_t *in, int n,
                       const int32_t *want, int want_len)
{
    forced f = {0, expand_calls, del};
    model_varlen_settings s = {.vocab = FV,
                               .mask_id = FM,
                               .pad_id = 0,
                               .steps = del == 2 ? 2 : 16,
                               .temperature = 0.0f,
                               .denoise = forced_denoise,
                               .denoise_arg = &f};
    int32_t tok[FT];
    memcpy(tok, in, sizeof(int32_t) * n);
    int len = n;
    char err[160] = "";
    gsl_rng *r = test_rng(2);
    int rc = model_varlen_sample(&s, tok, &len, 1, T, r, err, sizeof err);
    gsl_rng_free(r);
    CHECK(rc == MODEL_OK, "varlen: %d %s", rc, err);
    CHECK(len == want_len, "expand %d delete %d T %d: length %d, expected %d", expand_calls,
          del, T, len, want_len);
    for (int t = 0; t < T; t++) {
        int32_t w = t < want_len ? want[t] : 0;
        CHECK(tok[t] == w, "expand %d delete %d: position %d holds %d, expected %d",
              expand_calls, del, t, tok[t], w);
    }
}

void test_varlen_sampler(void)
{
    /* "1 2 [hole] 4 5": k expanding calls grow the hole to 1 + k masks (one expansion per
     * call, the leftmost, while masks <= steps left), which then become token 3 */
    const int32_t in[5] = {1, 2, FM, 4, 5};
    const int32_t as_is[5] = {1, 2, 3, 4, 5};
    run_forced(0, 0, FT, in, 5, as_is, 5);
    const int32_t grown[8] = {1, 2, 3, 3, 3, 3, 4, 5};
    run_forced(3, 0, FT, in, 5, grown, 8);
    /* at the cap (T = 6) an [expand] stays one mask */
    const int32_t capped[6] = {1, 2, 3, 3, 4, 5};
    run_forced(3, 0, 6, in, 5, capped, 6);
    /* [delete] removes the hole, the text after it moves left */
    const int32_t deleted[4] = {1, 2, 4, 5};
    run_forced(1, 1, FT, in, 5, deleted, 4);
    /* two holes: the leftmost mask expands each call; the given token keeps its place in
     * the text */
    const int32_t two[3] = {FM, 1, FM};
    const int32_t two_out[5] = {3, 3, 3, 1, 3};
    run_forced(2, 0, FT, two, 3, two_out, 5);

    /* several commits in one step (2 steps: k = 2 of 3 masks): a [delete] at 0 and a token
     * at 1 ([delete] scores higher, so it goes first; tokens tie, the leftmost wins),
     * committed right to left, so the given 1 is untouched */
    const int32_t mixed[4] = {FM, FM, 1, FM};
    const int32_t mixed_out[3] = {3, 1, 3};
    run_forced(1, 2, FT, mixed, 4, mixed_out, 3);

    /* bad input: no hole, a length past the window, an id out of range */
    forced f = {0, 0, 0};
    model_varlen_settings s = {.vocab = FV,
                               .mask_id = FM,
                               .pad_id = 0,
                               .steps = 4,
                               .denoise = forced_denoise,
                               .denoise_arg = &f};
    int32_t tok[FT] = {1, 2, 3};
    int len = 3;
    char err[160] = "";
    gsl_rng *r = test_rng(3);
    CHECK(model_varlen_sample(&s, tok, &len, 1, FT, r, err, sizeof err) == MODEL_EINVAL &&
              strstr(err, "no hole"),
          "no hole: %s", err);
    tok[1] = FM;
    len = FT + 1;
    CHECK(model_varlen_sample(&s, tok, &len, 1, FT, r, err, sizeof err) == MODEL_EINVAL &&
              strstr(err, "length 13"),
          "long: %s", err);
    len = 3;
    tok[2] = FM + 1;
    CHECK(model_varlen_sample(&s, tok, &len, 1, FT, r, err, sizeof err) == MODEL_ERANGE &&
              strstr(err, "position 2"),
          "range: %s", err);
    CHECK(f.calls == 0 && len == 3 && tok[2] == FM + 1, "a refused call ran or wrote");
    gsl_rng_free(r);
}
