/* test_edit.c: the edit output classes ([expand], [delete]): configs, the output layer's
 * shape and log-probs, bad targets, checkpoints of version 5, and the variable-length adapter. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_internal.h"

enum { EV = 13, EK = 1, ED = 8, EL = 2, EH = 2, ET = 12 };
#define EXPAND (EV + EK)
#define DELETE (EV + EK + 1)

/* A diffusion model with edit classes (n_edit 2), parameters drawn at seed. */
static model *edit_model(int n_edit, unsigned long seed)
{
    model *m = test_model_config((model_config){.vocab = EV,
                                                .n_mask = EK,
                                                .d = ED,
                                                .layers = EL,
                                                .heads = EH,
                                                .seq_len = ET,
                                                .mode = MODEL_DIFFUSION,
                                                .n_edit = n_edit},
                                 2, seed);
    return m;
}

static int open_config(model_config c, char *msg, size_t n)
{
    model_settings s;
    model_default_settings(&s);
    s.config = c;
    s.threads = 1;
    gsl_rng *r = test_rng(1);
    model *m = NULL;
    int rc = model_open(&m, &s, r);
    snprintf(msg, n, "%s", model_errmsg(m));
    model_close(&m);
    gsl_rng_free(r);
    return rc;
}

/* configs, sizes, and the log-probs of a masked row over the V+2 classes */
void test_edit_outputs(void)
{
    char msg[256];
    model_settings s;
    model_default_settings(&s);
    CHECK_INT(0, s.config.n_edit);
    model_config c = {.vocab = EV,
                      .n_mask = EK,
                      .d = ED,
                      .layers = EL,
                      .heads = EH,
                      .seq_len = ET,
                      .n_edit = 1};
    CHECK_INT(MODEL_EINVAL, open_config(c, msg, sizeof msg));
    CHECK(strstr(msg, "n_edit 1"), "message: %s", msg);
    c.n_edit = 2;
    c.mode = MODEL_AR;
    CHECK_INT(MODEL_EINVAL, open_config(c, msg, sizeof msg));
    CHECK(strstr(msg, "diffusion"), "message: %s", msg);
    c.mode = MODEL_DIFFUSION;
    c.n_desc = 3;
    CHECK_INT(MODEL_EINVAL, open_config(c, msg, sizeof msg));
    c.n_desc = 0;
    CHECK_INT(MODEL_OK, open_config(c, msg, sizeof msg));

    /* two more rows of wte, of wout and of bout, nothing else */
    model *a = edit_model(0, 3), *m = edit_model(2, 3);
    CHECK_INT(model_num_params(a) + 2 * ED + 2 * ED + 2, model_num_params(m));
    CHECK_INT(0, model_get_config(a)->n_edit);
    CHECK_INT(2, model_get_config(m)->n_edit);
    test_scale_params(m, 0.5, 4);
    float prior[EK * EV];
    for (int j = 0; j < EV; j++)
        prior[j] = (float)(0.3 * (j % 4) - 0.5);
    CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);

    /* a masked row: log p(class) by hand from the final layernorm's row, in double, over
     * V+2 classes with the prior on the tokens only; an edit input row without any prior */
    enum { T = 6 };
    int32_t inp[T] = {2, EV, 5, EXPAND, EV, 7};
    int32_t tgt[T] = {2, EXPAND, 5, DELETE, 4, 7};
    float lp[T], w[T] = {0, 1, 0, 1, 1, 0};
    CHECK_RC(m, model_score(m, inp, tgt, 1, T, lp), MODEL_OK);
    for (int t = 0; t < T; t++) {
        if (inp[t] < EV) {
            CHECK(lp[t] == 0.0f, "carry-over at %d: log-prob %g", t, (double)lp[t]);
            continue;
        }
        int r = m->row_of[t];
        CHECK(r >= 0 && r < m->Mf, "position %d is not a full row (%d of %d)", t, r, m->Mf);
        double l[EV + 2], mx = -INFINITY, z = 0;
        const float *h = m->acts.lnf + (size_t)t * ED;
        for (int j = 0; j < EV + 2; j++) {
            double v = m->params.bout[j];
            for (int i = 0; i < ED; i++)
                v += (double)h[i] * m->params.wout[(size_t)j * ED + i];
            if (j < EV && inp[t] == EV)
                v += prior[j];
            l[j] = v;
            mx = v > mx ? v : mx;
        }
        for (int j = 0; j < EV + 2; j++)
            z += exp(l[j] - mx);
        int cls = tgt[t] >= EXPAND ? tgt[t] - EK : tgt[t];
        CHECK_NEAR(l[cls] - mx - log(z), lp[t], 2e-4);
    }
    /* the loss is the weighted mean of -log p over all B*T positions */
    float loss;
    CHECK_RC(m, model_forward(m, inp, tgt, w, 1, T, &loss, NULL), MODEL_OK);
    double want = 0;
    for (int t = 0; t < T; t++)
        want += w[t] * -(double)lp[t];
    CHECK_NEAR(want / T, loss, 1e-5);
    /* argmax over the tokens only, and the samplers draw tokens only */
    int32_t am[T];
    CHECK_RC(m, model_score_argmax(m, inp, tgt, 1, T, lp, am), MODEL_OK);
    for (int t = 0; t < T; t++)
        CHECK(inp[t] < EV ? am[t] == inp[t] : am[t] >= 0 && am[t] < EV, "argmax %d at %d",
              am[t], t);
    int32_t tok[T] = {2, EV, 5, EV, EV, 7};
    model_sample_settings ss;
    model_default_sample_settings(&ss);
    ss.steps = 3;
    ss.strategy = MODEL_SAMPLE_RANDOM;
    gsl_rng *r = test_rng(5);
    CHECK_RC(m, model_sample(m, tok, 1, T, &ss, r), MODEL_OK);
    for (int t = 0; t < T; t++)
        CHECK(tok[t] >= 0 && tok[t] < EV, "sampled id %d at %d", tok[t], t);
    gsl_rng_free(r);
    model_close(&a);
    model_close(&m);
}

/* targets and inputs out of range: codes and messages */
void test_edit_errors(void)
{
    model *a = edit_model(0, 7), *m = edit_model(2, 7);
    enum { T = 4 };
    int32_t inp[T] = {1, EV, EV, 3}, tgt[T] = {1, 2, EXPAND, 3};
    float lp[T], loss;
    /* no edit classes: an edit target, an edit input are out of range */
    CHECK_RC(a, model_forward(a, inp, tgt, NULL, 1, T, &loss, NULL), MODEL_ERANGE);
    CHECK(strstr(model_errmsg(a), "position 2"), "message: %s", model_errmsg(a));
    tgt[2] = 4;
    inp[1] = EXPAND;
    CHECK_RC(a, model_score(a, inp, tgt, 1, T, lp), MODEL_ERANGE);
    inp[1] = EV;
    /* with edit classes: past [delete], a mask id as target */
    tgt[2] = DELETE + 1;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, 1, T, &loss, NULL), MODEL_ERANGE);
    CHECK(strstr(model_errmsg(m), "[expand]"), "message: %s", model_errmsg(m));
    tgt[2] = EV;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, 1, T, &loss, NULL), MODEL_ERANGE);
    tgt[2] = -1;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, 1, T, &loss, NULL), MODEL_ERANGE);
    inp[2] = DELETE + 1;
    tgt[2] = 4;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, 1, T, &loss, NULL), MODEL_ERANGE);
    inp[2] = EV;
    /* an edit target at a token input: impossible under SUBS, named */
    tgt[0] = EXPAND;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, 1, T, &loss, NULL), MODEL_ENONFINITE);
    CHECK(strstr(model_errmsg(m), "edit id"), "message: %s", model_errmsg(m));
    CHECK_RC(m, model_score(m, inp, tgt, 1, T, lp), MODEL_OK);
    CHECK(lp[0] == -INFINITY, "edit target at a token: log-prob %g", (double)lp[0]);
    tgt[0] = 1;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, 1, T, &loss, NULL), MODEL_OK);
    /* the fixed-length sampler and the cache take no edit inputs */
    int32_t tok[T] = {1, EV, EXPAND, 3};
    model_sample_settings ss;
    model_default_sample_settings(&ss);
    gsl_rng *r = test_rng(8);
    CHECK_RC(m, model_sample(m, tok, 1, T, &ss, r), MODEL_ERANGE);
    /* the adapter wants edit classes */
    float logits[T * (EV + 2)];
    int len = T;
    CHECK_RC(a, model_varlen_model_denoise(a, inp, &len, 1, T, logits), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(a), "edit classes"), "message: %s", model_errmsg(a));
    model_varlen_settings vs = {0};
    CHECK_RC(a, model_varlen_use_model(&vs, a), MODEL_EINVAL);
    CHECK(vs.denoise == NULL, "settings were changed on failure");
    CHECK_RC(m, model_varlen_use_model(&vs, m), MODEL_OK);
    CHECK_INT(EV, vs.vocab);
    CHECK_INT(EV, vs.mask_id);
    gsl_rng_free(r);
    model_close(&a);
    model_close(&m);
}

/* The adapter's logits are the forward's rows; one model call per step. */
void test_edit_adapter(void)
{
    model *m = edit_model(2, 11);
    test_scale_params(m, 0.5, 12);
    enum { B = 2, T = 8, W = EV + 2 };
    int32_t tok[B * T] = {1, EV, EV, 4, 0, 0, 0, 0, /* */ EV, 2, 3, EV, 5, 6, 0, 0};
    int len[B] = {4, 6};
    float *logits = malloc(sizeof(float) * B * T * W);
    for (int i = 0; i < B * T * W; i++)
        logits[i] = 12345.0f;
    long calls = model_calls(m);
    CHECK_RC(m, model_varlen_model_denoise(m, tok, len, B, T, logits), MODEL_OK);
    CHECK_INT(calls + 1, model_calls(m));
    int32_t tgt[B * T];
    float lp[B * T];
    for (int c = 0; c < W; c++) {
        for (int n = 0; n < B * T; n++)
            tgt[n] = tok[n] >= EV ? (c < EV ? c : c + EK) : tok[n];
        CHECK_RC(m, model_score(m, tok, tgt, B, T, lp), MODEL_OK);
        for (int n = 0; n < B * T; n++) {
            if (tok[n] < EV) {
                CHECK(logits[(size_t)n * W] == 12345.0f, "row %d (a token) was written", n);
                continue;
            }
            const float *l = logits + (size_t)n * W;
            double mx = -INFINITY, z = 0;
            for (int j = 0; j < W; j++)
                mx = l[j] > mx ? l[j] : mx;
            for (int j = 0; j < W; j++)
                z += exp(l[j] - mx);
            CHECK_NEAR(l[c] - mx - log(z), lp[n], 1e-4);
        }
    }
    free(logits);
    model_close(&m);
}

/* ---- checkpoints ---- */

void test_edit_checkpoint(void)
{
    char dir[] = "/tmp/pyramask-edit-XXXXXX", path[64], bad[64];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    /* without edit classes: version 2, as before */
    model *a = edit_model(0, 21);
    CHECK_RC(a, model_save(a, path, "m", 0), MODEL_OK);
    size_t len0 = 0;
    unsigned char *b0 = test_slurp(path, &len0);
    CHECK(b0 && b0[8] == 2, "a model without edit classes is not version 2");
    CHECK_INT(32 + 9 * 4 + 8 + 4 + 1 + model_num_params(a) * 4, len0);
    model_close(&a);

    /* with edit classes, a prior and the optimizer: version 5, round trip */
    model *m = edit_model(2, 22);
    float prior[EK * EV];
    for (int j = 0; j < EV; j++)
        prior[j] = (float)(j % 3) - 1.0f;
    CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);
    enum { T = 6 };
    int32_t inp[T] = {2, EV, 5, EV, EV, 7}, tgt[T] = {2, EXPAND, 5, DELETE, 4, 7};
    float w[T] = {0, 1, 0, 2, 1, 0}, loss;
    model_optim o;
    model_default_optim(&o);
    CHECK_RC(m, model_zero_grad(m), MODEL_OK);
    CHECK_RC(m, model_forward(m, inp, tgt, w, 1, T, &loss, NULL), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_OK);
    CHECK_RC(m, model_update(m, &o, NULL), MODEL_OK);
    CHECK_RC(m, model_save(m, path, "edit meta", 1), MODEL_OK);
    model *l = NULL;
    char *meta = NULL;
    int rc = model_load(&l, path, 2, &meta);
    CHECK_RC(l, rc, MODEL_OK);
    if (rc == MODEL_OK) {
        CHECK(!memcmp(model_get_config(m), model_get_config(l), sizeof(model_config)),
              "config differs after the round trip");
        CHECK_INT(2, model_get_config(l)->n_edit);
        CHECK(!memcmp(m->params_mem, l->params_mem, m->num_params * 4), "parameters differ");
        CHECK(l->m_mem && !memcmp(m->m_mem, l->m_mem, m->num_params * 4), "moments differ");
        CHECK(l->prior && !memcmp(m->prior, l->prior, sizeof prior), "prior differs");
        CHECK_INT(model_step(m), model_step(l));
        CHECK_STR("edit meta", meta);
        float la[T], lb[T];
        CHECK_RC(m, model_score(m, inp, tgt, 1, T, la), MODEL_OK);
        CHECK_RC(l, model_score(l, inp, tgt, 1, T, lb), MODEL_OK);
        CHECK(!memcmp(la, lb, sizeof la), "log-probs differ after the round trip");
    }
    free(meta);
    model_close(&l);
    size_t len = 0;
    unsigned char *buf = test_slurp(path, &len);
    CHECK(buf && buf[8] == 5, "a model with edit classes is not version 5 (%d)",
          buf ? buf[8] : -1);
    char msg[256];
    if (buf) {
        unsigned char *c = malloc(len);
        const size_t cfg = 32, n_edit_at = cfg + 12 * 4, n_members_at = cfg + 10 * 4;
        int32_t v;
        /* a version-5 file whose n_edit is 0, or 3 */
        memcpy(c, buf, len);
        v = 0;
        memcpy(c + n_edit_at, &v, 4);
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len, 1, msg, sizeof msg));
        CHECK(strstr(msg, "n_edit 0"), "message: %s", msg);
        v = 3;
        memcpy(c + n_edit_at, &v, 4);
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len, 1, msg, sizeof msg));
        /* with a layout announced */
        memcpy(c, buf, len);
        v = 0;
        memcpy(c + n_members_at, &v, 4);
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len, 1, msg, sizeof msg));
        /* a flipped byte in the parameters (checksum), a truncated file */
        memcpy(c, buf, len);
        c[len - 100] ^= 0x40;
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len, 0, msg, sizeof msg));
        CHECK(strstr(msg, "checksum"), "message: %s", msg);
        memcpy(c, buf, len);
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len - 7, 1, msg, sizeof msg));
        /* a later version, and a foreign file */
        memcpy(c, buf, len);
        c[8] = 6;
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len, 1, msg, sizeof msg));
        CHECK(strstr(msg, "version 6"), "message: %s", msg);
        memcpy(c, buf, len);
        memcpy(c, "NOTMODEL", 8);
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len, 1, msg, sizeof msg));
        /* the same bytes called version 4 (a block checkpoint): its config is one int
         * shorter, so the sizes disagree */
        memcpy(c, buf, len);
        c[8] = 4;
        CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c, len, 1, msg, sizeof msg));
        free(c);
        /* an older version-2 file called version 5: too short for its config */
        if (b0) {
            unsigned char *c2 = malloc(len0);
            memcpy(c2, b0, len0);
            c2[8] = 5;
            CHECK_INT(MODEL_EFORMAT, test_load_bytes(bad, c2, len0, 1, msg, sizeof msg));
            free(c2);
        }
    }
    free(buf);
    free(b0);
    model_close(&m);
    unlink(path);
    unlink(bad);
    rmdir(dir);
}
