/* test_chain.c: descriptions: the restricted outputs against log-softmax over each state set
 * computed here, the flat case bit for bit, threads, the layout's and batch's errors, and
 * checkpoints that carry a layout. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_internal.h"

/* 1 when token x is in the state set / target set of id under layout (start, members) */
static int in_set(const model *m, int32_t id, int32_t x)
{
    const int V = m->cfg.vocab, VK = V + m->cfg.n_mask;
    if (id < V)
        return id == x;
    if (id < VK)
        return 1;
    int e = id - VK;
    for (int k = m->lay_start[e]; k < m->lay_start[e + 1]; k++)
        if (m->lay_members[k] == x)
            return 1;
    return 0;
}

/* log p(target | input) at position n, in double from the final layernorm of the last
 * forward: log sum_{A n S} exp(l) - log sum_S exp(l), l = lnf wout^T + bout (+ prior). */
static double reference_logprob(const model *m, const int32_t *inp, const int32_t *tgt, int n)
{
    const int V = m->cfg.vocab, C = m->cfg.d, VK = V + m->cfg.n_mask;
    if (inp[n] < V)
        return in_set(m, tgt[n], inp[n]) ? 0.0 : -INFINITY;
    double zs = 0, za = 0;
    for (int j = 0; j < V; j++) {
        if (!in_set(m, inp[n], j))
            continue;
        double l = m->params.bout[j];
        for (int k = 0; k < C; k++)
            l += (double)m->acts.lnf[(size_t)n * C + k] * m->params.wout[(size_t)j * C + k];
        if (inp[n] < VK && m->prior)
            l += m->prior[(size_t)(inp[n] - V) * V + j];
        zs += exp(l);
        za += in_set(m, tgt[n], j) ? exp(l) : 0;
    }
    return log(za) - log(zs);
}

static void check_against_reference(const char *what, model *m, const int32_t *inp,
                                    const int32_t *tgt, int B, int T)
{
    float *lp = malloc((size_t)B * T * sizeof *lp);
    CHECK_RC(m, model_score(m, inp, tgt, B, T, lp), MODEL_OK);
    for (int n = 0; n < B * T; n++) {
        double want = reference_logprob(m, inp, tgt, n);
        if (isinf(want))
            CHECK(lp[n] == -INFINITY,
                  "%s: position %d (input %d, target %d): log-prob %g, "
                  "expected -inf",
                  what, n, inp[n], tgt[n], (double)lp[n]);
        else
            CHECK(fabs(lp[n] - want) < 2e-5 * (1 + fabs(want)),
                  "%s: position %d (input %d, target %d): log-prob %.7g, expected %.7g", what,
                  n, inp[n], tgt[n], (double)lp[n], want);
    }
    free(lp);
}

void test_chain_outputs(void)
{
    chain_fixture f;
    chain_fixture_init(&f, 16, 2);
    enum { B = 3, T = 10 };
    const int V = f.V;
    model *m = chain_model(&f, 16, 2, 2, T, 2, 31);
    test_scale_params(m, 0.4, 32);
    float prior[2 * 16];
    for (int i = 0; i < 2 * 16; i++)
        prior[i] = (float)((i * 7) % 5) * -0.4f;
    CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);
    gsl_rng *r = test_rng(33);
    /* every input level with every target a chain can give, and off-chain targets */
    int32_t inp[B * T], tgt[B * T];
    for (int n = 0; n < B * T; n++) {
        int32_t x = (int32_t)gsl_rng_uniform_int(r, V);
        int32_t states[4] = {x, f.d1[x], f.d2[x], V + n % f.K};
        int level = (int)gsl_rng_uniform_int(r, 4), to = (int)gsl_rng_uniform_int(r, 4);
        inp[n] = states[level];
        tgt[n] = to < level || level == 0 ? states[to == 3 ? 0 : to] : states[level - 1];
    }
    tgt[0] = f.d2[15]; /* a mask predicting a stage-2 description */
    inp[0] = V;
    inp[1] = f.d2[0]; /* stage 2 predicting a token outside it: -inf */
    tgt[1] = 12;
    inp[2] = f.d1[4]; /* stage 1 predicting a disjoint stage-1 description: -inf */
    tgt[2] = f.d1[0];
    inp[3] = 5; /* a token carrying over into its description: 0 */
    tgt[3] = f.d2[5];
    inp[4] = 5; /* ... or into another: -inf */
    tgt[4] = f.d1[9];
    inp[5] = f.d1[15]; /* a one-member description: log-prob 0 */
    tgt[5] = 15;
    check_against_reference("two-stage chain", m, inp, tgt, B, T);
    /* training and scoring agree, and the loss is the weighted mean of -log p */
    float lp[B * T], lpf[B * T], w[B * T], loss;
    for (int n = 0; n < B * T; n++)
        w[n] = n < 5 && n != 0 && n != 3 ? 0.0f : (float)(1 + n % 3);
    CHECK_RC(m, model_score(m, inp, tgt, B, T, lp), MODEL_OK);
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, lpf), MODEL_OK);
    CHECK(!memcmp(lp, lpf, sizeof lp), "model_score and model_forward log-probs differ");
    double want = 0;
    for (int n = 0; n < B * T; n++)
        want += w[n] ? w[n] * -(double)lpf[n] : 0;
    want /= B * T;
    CHECK(fabs(loss - want) < 1e-5 * fabs(want), "loss %.7g, expected %.7g", (double)loss,
          want);
    /* an impossible target that weighs is named */
    w[1] = 1.0f;
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_ENONFINITE);
    CHECK(strstr(model_errmsg(m), "outside the members of its input description"),
          "message: %s", model_errmsg(m));
    w[1] = 0.0f;
    w[4] = 1.0f;
    CHECK_RC(m, model_forward(m, inp, tgt, w, B, T, &loss, NULL), MODEL_ENONFINITE);
    CHECK(strstr(model_errmsg(m), "description without its unmasked input"), "message: %s",
          model_errmsg(m));
    model_close(&m);

    /* a layout that is no chain: overlapping descriptions, a target partly inside the input
     * (the probability of its part), an empty description as a target (-inf) */
    model_settings s;
    model_default_settings(&s);
    s.config = (model_config){
        .vocab = 7, .n_mask = 1, .d = 8, .layers = 1, .heads = 2, .seq_len = 6, .n_desc = 4};
    s.threads = 1;
    CHECK_RC(m, model_open(&m, &s, r), MODEL_OK);
    test_scale_params(m, 0.5, 34);
    static const int32_t start[5] = {0, 3, 5, 5, 11};
    static const int32_t members[11] = {1, 2, 3, 3, 4, 0, 2, 3, 4, 5, 6};
    CHECK_RC(m, model_set_layout(m, start, members), MODEL_OK);
    const int32_t D0 = 8, D1 = 9, DE = 10, D3 = 11;
    int32_t in2[6] = {D0, D0, D3, 7, D1, D0}, tg2[6] = {D1, DE, D0, D1, 4, 2};
    check_against_reference("overlapping layout", m, in2, tg2, 1, 6);
    int32_t in3[6] = {DE, 1, 2, 3, 4, 5}, tg3[6] = {1, 1, 2, 3, 4, 5};
    CHECK_RC(m, model_score(m, in3, tg3, 1, 6, lp), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "no members"), "message: %s", model_errmsg(m));
    model_close(&m);
    gsl_rng_free(r);
}

/* Copies a's parameters into b, whose embedding has extra rows after a's. */
static void copy_params(model *b, const model *a)
{
    size_t wa = a->param_sizes[P_WTE], wb = b->param_sizes[P_WTE];
    memcpy(b->params_mem, a->params_mem, wa * sizeof(float));
    memcpy(b->params_mem + wb, a->params_mem + wa, (a->num_params - wa) * sizeof(float));
}

/* Gradients equal but for b's extra embedding rows, which must be zero. */
static int same_grads(const model *a, const model *b)
{
    size_t wa = a->param_sizes[P_WTE], wb = b->param_sizes[P_WTE];
    for (size_t i = wa; i < wb; i++)
        if (b->grads_mem[i] != 0.0f)
            return 0;
    return !memcmp(a->grads_mem, b->grads_mem, wa * sizeof(float)) &&
           !memcmp(a->grads_mem + wa, b->grads_mem + wb, (a->num_params - wa) * sizeof(float));
}

void test_chain_flat(void)
{
    chain_fixture f;
    chain_fixture_init(&f, 16, 2);
    enum { B = 4, T = 12 };
    /* the same model without descriptions, and with them but a batch of masks and tokens:
     * the same bits everywhere */
    model *a = test_model(f.V, f.K, 16, 2, 2, T, 0, 2, 41);
    model *b = chain_model(&f, 16, 2, 2, T, 2, 42);
    test_scale_params(a, 0.4, 43);
    copy_params(b, a);
    float prior[2 * 16];
    for (int i = 0; i < 2 * 16; i++)
        prior[i] = (float)(i % 6) * -0.3f;
    CHECK_RC(a, model_set_prior(a, prior), MODEL_OK);
    CHECK_RC(b, model_set_prior(b, prior), MODEL_OK);
    gsl_rng *r = test_rng(44);
    int32_t inp[B * T], tgt[B * T];
    float w[B * T];
    for (int n = 0; n < B * T; n++) {
        tgt[n] = (int32_t)gsl_rng_uniform_int(r, f.V);
        inp[n] = gsl_rng_uniform(r) < 0.5 ? f.V + n % f.K : tgt[n];
        w[n] = (float)(0.5 + gsl_rng_uniform(r));
    }
    model_optim o;
    model_default_optim(&o);
    for (int step = 0; step < 3; step++) {
        float la, lb, lpa[B * T], lpb[B * T], ga, gb;
        CHECK_RC(a, model_zero_grad(a), MODEL_OK);
        CHECK_RC(b, model_zero_grad(b), MODEL_OK);
        CHECK_RC(a, model_forward(a, inp, tgt, w, B, T, &la, lpa), MODEL_OK);
        CHECK_RC(b, model_forward(b, inp, tgt, w, B, T, &lb, lpb), MODEL_OK);
        CHECK(la == lb, "step %d: loss %.9g without descriptions, %.9g with", step, (double)la,
              (double)lb);
        CHECK(!memcmp(lpa, lpb, sizeof lpa), "step %d: log-probs differ", step);
        CHECK_RC(a, model_backward(a), MODEL_OK);
        CHECK_RC(b, model_backward(b), MODEL_OK);
        CHECK(same_grads(a, b), "step %d: gradients differ", step);
        CHECK_RC(a, model_update(a, &o, &ga), MODEL_OK);
        CHECK_RC(b, model_update(b, &o, &gb), MODEL_OK);
        CHECK(ga == gb, "step %d: gradient norm %.9g vs %.9g", step, (double)ga, (double)gb);
    }
    /* every flat sampler draws the same tokens */
    for (int st = MODEL_SAMPLE_RANDOM; st <= MODEL_SAMPLE_BLOCK; st++) {
        int32_t ta[B * T], tb[B * T];
        memcpy(ta, inp, sizeof ta);
        memcpy(tb, inp, sizeof tb);
        model_sample_settings s;
        model_default_sample_settings(&s);
        s.strategy = (model_strategy)st;
        s.steps = 6;
        s.block_len = 4;
        s.temperature = 0.7f;
        gsl_rng_set(r, 45);
        CHECK_RC(a, model_sample(a, ta, B, T, &s, r), MODEL_OK);
        gsl_rng_set(r, 45);
        CHECK_RC(b, model_sample(b, tb, B, T, &s, r), MODEL_OK);
        CHECK(!memcmp(ta, tb, sizeof ta), "%s: samples differ with descriptions in the model",
              model_strategy_name((model_strategy)st));
    }
    model_close(&a);
    model_close(&b);

    gsl_rng_free(r);

    /* with descriptions in the batch, the same bits for 1 and 4 threads: a layout of 1024
     * tokens in 8 stage-2 descriptions (ids first: the big groups start first) and 256
     * stage-1 ones, whose wout rows the backward adds one colour (stage) at a time; groups
     * of one pass that shared a row would race */
    enum { BV = 1024, BD1 = 16, BD2 = 4, BB = 8, BT = 64, BN = BB * BT };
    static int32_t start[BD1 + BD2 + 1], members[2 * BV], in[BN], tg[BN];
    static float wt[BN];
    for (int e = 0; e <= BD2; e++)
        start[e] = e * (BV / BD2);
    for (int e = 1; e <= BD1; e++)
        start[BD2 + e] = BV + e * (BV / BD1);
    for (int v = 0; v < BV; v++)
        members[v] = members[BV + v] = v;
    model_settings s;
    model_default_settings(&s);
    s.config = (model_config){.vocab = BV,
                              .n_mask = 1,
                              .d = 128,
                              .layers = 1,
                              .heads = 2,
                              .seq_len = BT,
                              .n_desc = BD1 + BD2};
    model *m1 = NULL, *m4 = NULL;
    r = test_rng(46);
    s.threads = 1;
    CHECK_RC(m1, model_open(&m1, &s, r), MODEL_OK);
    s.threads = 8;
    gsl_rng_set(r, 46);
    CHECK_RC(m4, model_open(&m4, &s, r), MODEL_OK);
    CHECK_RC(m1, model_set_layout(m1, start, members), MODEL_OK);
    CHECK_RC(m4, model_set_layout(m4, start, members), MODEL_OK);
    /* the colours: one per stage, and no two descriptions of one colour share a token */
    CHECK(m4->lay_colours == 2, "%d colours for a two-stage layout", m4->lay_colours);
    static int owner[2][BV];
    memset(owner, 0xff, sizeof owner);
    int shared = 0;
    for (int e = 0; e < BD1 + BD2; e++)
        for (int k = start[e]; k < start[e + 1]; k++) {
            int *o = &owner[m4->lay_colour[e] & 1][members[k]];
            shared += *o >= 0;
            *o = e;
        }
    CHECK(shared == 0, "%d tokens are shared by two descriptions of one colour", shared);
    const int32_t VK1 = BV + 1;
    for (int n = 0; n < BN; n++) {
        int32_t x = (int32_t)gsl_rng_uniform_int(r, BV);
        int32_t states[4] = {x, VK1 + BD2 + x / (BV / BD1), VK1 + x / (BV / BD2), BV};
        int level = (int)gsl_rng_uniform_int(r, 4);
        in[n] = states[level];
        tg[n] = states[level ? level - 1 : 0];
        wt[n] = (float)(0.5 + gsl_rng_uniform(r));
    }
    float l1, l4;
    CHECK_RC(m1, model_zero_grad(m1), MODEL_OK);
    CHECK_RC(m1, model_forward(m1, in, tg, wt, BB, BT, &l1, NULL), MODEL_OK);
    CHECK_RC(m1, model_backward(m1), MODEL_OK);
    for (int rep = 0; rep < 24; rep++) {
        CHECK_RC(m4, model_zero_grad(m4), MODEL_OK);
        CHECK_RC(m4, model_forward(m4, in, tg, wt, BB, BT, &l4, NULL), MODEL_OK);
        CHECK_RC(m4, model_backward(m4), MODEL_OK);
        CHECK(l1 == l4, "loss %.9g on 1 thread, %.9g on 8", (double)l1, (double)l4);
        CHECK(!memcmp(m1->grads_mem, m4->grads_mem, m1->num_params * sizeof(float)),
              "repetition %d: gradients differ between 1 and 8 threads", rep);
    }
    model_close(&m1);
    model_close(&m4);
    gsl_rng_free(r);
}

void test_chain_errors(void)
{
    chain_fixture f;
    chain_fixture_init(&f, 16, 1);
    const int V = f.V, VK = f.V + f.K;
    /* descriptions need the bidirectional model */
    model_settings s;
    model_default_settings(&s);
    s.config = (model_config){.vocab = 16,
                              .n_mask = 1,
                              .d = 8,
                              .layers = 1,
                              .heads = 2,
                              .seq_len = 4,
                              .mode = MODEL_AR,
                              .n_desc = 3};
    gsl_rng *r = test_rng(51);
    model *m = NULL;
    CHECK_RC(m, model_open(&m, &s, r), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "mode diffusion or block"), "message: %s", model_errmsg(m));
    model_close(&m);
    s.config.mode = MODEL_DIFFUSION;
    s.config.n_desc = -1;
    CHECK_RC(m, model_open(&m, &s, r), MODEL_EINVAL);
    model_close(&m);
    /* no layout without descriptions */
    m = test_model(16, 1, 8, 1, 2, 4, 0, 1, 52);
    CHECK_RC(m, model_set_layout(m, f.start, f.members), MODEL_EINVAL);
    CHECK(!model_get_layout(m, NULL, NULL), "a model without descriptions has a layout");
    model_close(&m);

    m = chain_model(&f, 8, 1, 2, 4, 1, 53);
    const int32_t *gs, *gm;
    CHECK(model_get_layout(m, &gs, &gm) && gs != f.start && gm != f.members &&
              !memcmp(gs, f.start, (f.D + 1) * sizeof *gs) &&
              !memcmp(gm, f.members, f.start[f.D] * sizeof *gm),
          "model_get_layout: not a copy of the layout set");
    /* bad layouts name the entry and leave the layout in force */
    int32_t st[CHAIN_MAXV + 1], mem[2 * CHAIN_MAXV];
    struct {
        const char *what, *word;
        int at, val, in_start;
    } bad[] = {
        {"start[0] not 0", "start[0]", 0, 1, 1},
        {"decreasing start", "start[3]", 3, 2, 1},
        {"a member out of range", "outside", 4, 16, 0},
        {"a negative member", "outside", 0, -1, 0},
        {"members not increasing", "not increasing", 2, 0, 0},
        {"a repeated member", "not increasing", 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(st, f.start, sizeof st);
        memcpy(mem, f.members, sizeof mem);
        (bad[i].in_start ? st : mem)[bad[i].at] = bad[i].val;
        int rc = model_set_layout(m, st, mem);
        CHECK(rc == MODEL_EINVAL && strstr(model_errmsg(m), bad[i].word),
              "%s: expected MODEL_EINVAL naming '%s', got %d: %s", bad[i].what, bad[i].word, rc,
              model_errmsg(m));
    }
    CHECK(model_get_layout(m, &gs, NULL) && !memcmp(gs, f.start, (f.D + 1) * sizeof *gs),
          "a refused layout replaced the one in force");
    CHECK_RC(m, model_set_layout(m, f.start, NULL), MODEL_EINVAL);
    CHECK_RC(m, model_set_layout(m, NULL, f.members), MODEL_EINVAL);
    /* a backward after a new layout would read the old batch's groups into it */
    int32_t fi[4] = {f.d2[0], f.d1[3], 16, 7}, ft[4] = {f.d1[0], 3, 2, 7};
    CHECK_RC(m, model_forward(m, fi, ft, NULL, 1, 4, NULL, NULL), MODEL_OK);
    CHECK_RC(m, model_set_layout(m, f.start, f.members), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_ESTATE);
    /* batches */
    int32_t inp[4] = {V, f.d1[4], f.d2[9], 3}, tgt[4] = {1, 4, f.d1[9], 3};
    float lp[4];
    CHECK_RC(m, model_score(m, inp, tgt, 1, 4, lp), MODEL_OK);
    tgt[0] = V; /* a mask id is never a target */
    CHECK_RC(m, model_score(m, inp, tgt, 1, 4, lp), MODEL_ERANGE);
    CHECK(strstr(model_errmsg(m), "neither a token"), "message: %s", model_errmsg(m));
    tgt[0] = VK + f.D;
    CHECK_RC(m, model_score(m, inp, tgt, 1, 4, lp), MODEL_ERANGE);
    tgt[0] = 1;
    inp[1] = VK + f.D;
    CHECK_RC(m, model_score(m, inp, tgt, 1, 4, lp), MODEL_ERANGE);
    inp[1] = f.d1[4];
    CHECK_RC(m, model_set_layout(m, NULL, NULL), MODEL_OK);
    CHECK(!model_get_layout(m, NULL, NULL), "the layout was not removed");
    CHECK_RC(m, model_score(m, inp, tgt, 1, 4, lp), MODEL_ESTATE);
    CHECK(strstr(model_errmsg(m), "model_set_layout"), "message: %s", model_errmsg(m));
    int32_t inp_flat[4] = {V, 2, V, 3}, tgt_desc[4] = {f.d1[4], 2, 1, 3};
    CHECK_RC(m, model_score(m, inp_flat, tgt_desc, 1, 4, lp), MODEL_ESTATE);
    tgt_desc[0] = 4; /* without descriptions in the batch, no layout is needed */
    CHECK_RC(m, model_score(m, inp_flat, tgt_desc, 1, 4, lp), MODEL_OK);
    model_close(&m);
    gsl_rng_free(r);
}

/* ---- checkpoints ---- */

void test_chain_checkpoint(void)
{
    char dir[] = "/tmp/pyramask-chain-XXXXXX", path[64], path2[64];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    snprintf(path2, sizeof path2, "%s/b.ckpt", dir);
    chain_fixture f;
    chain_fixture_init(&f, 16, 1);
    enum { B = 2, T = 8 };
    model *a = chain_model(&f, 8, 1, 2, T, 1, 61);
    int32_t inp[B * T], tgt[B * T];
    float w[B * T], la, lb[B * T], lpa[B * T];
    for (int n = 0; n < B * T; n++) {
        int32_t x = (int32_t)((n * 5) % f.V), states[4] = {x, f.d1[x], f.d2[x], f.V};
        inp[n] = states[n % 4];
        tgt[n] = states[n % 4 ? n % 4 - 1 : 0];
        w[n] = 1.0f;
    }
    model_optim o;
    model_default_optim(&o);
    CHECK_RC(a, model_zero_grad(a), MODEL_OK);
    CHECK_RC(a, model_forward(a, inp, tgt, w, B, T, &la, NULL), MODEL_OK);
    CHECK_RC(a, model_backward(a), MODEL_OK);
    CHECK_RC(a, model_update(a, &o, NULL), MODEL_OK);
    CHECK_RC(a, model_save(a, path, "meta", 1), MODEL_OK);
    CHECK_RC(a, model_score(a, inp, tgt, B, T, lpa), MODEL_OK);
    model *b = NULL;
    CHECK_RC(b, model_load(&b, path, 1, NULL), MODEL_OK);
    if (b) {
        const int32_t *st, *mem;
        CHECK(model_get_config(b)->n_desc == f.D, "n_desc %d after loading, expected %d",
              model_get_config(b)->n_desc, f.D);
        CHECK(model_get_layout(b, &st, &mem) && !memcmp(st, f.start, (f.D + 1) * 4) &&
                  !memcmp(mem, f.members, f.start[f.D] * 4),
              "the layout did not survive the checkpoint");
        CHECK(!memcmp(a->params_mem, b->params_mem, a->num_params * 4), "parameters differ");
        CHECK_RC(b, model_score(b, inp, tgt, B, T, lb), MODEL_OK);
        CHECK(!memcmp(lpa, lb, sizeof lb), "log-probs differ after loading");
        CHECK_RC(b, model_save(b, path2, "meta", 1), MODEL_OK);
    }
    model_close(&b);
    size_t len = 0, len2 = 0;
    unsigned char *buf = test_slurp(path, &len), *buf2 = test_slurp(path2, &len2);
    CHECK(buf && buf2 && len == len2 && !memcmp(buf, buf2, len),
          "saved again, the checkpoint changed");
    uint32_t version = 0;
    if (buf)
        memcpy(&version, buf + 8, 4);
    CHECK(version == 3, "a checkpoint with descriptions has version %u, expected 3", version);
    char msg[256];
    if (buf && len > 100) {
        /* config ints at 32: V K d L H seq_len mode prior optim n_desc n_members */
        unsigned char *c = malloc(len);
        int32_t v;
        memcpy(c, buf, len);
        v = 0;
        memcpy(c + 32 + 9 * 4, &v, 4);
        CHECK(test_load_bytes(path2, c, len, 1, msg, sizeof msg) == MODEL_EFORMAT &&
                  strstr(msg, "n_desc"),
              "version 3 with n_desc 0: %s", msg);
        memcpy(c, buf, len);
        v = f.start[f.D] + 1;
        memcpy(c + 32 + 10 * 4, &v, 4);
        CHECK(test_load_bytes(path2, c, len, 1, msg, sizeof msg) == MODEL_EFORMAT,
              "member count: %s", msg);
        /* the layout sits after meta and the parameters; make a member decrease */
        size_t lay = 32 + 11 * 4 + 8 + 4 + 4 + a->num_params * 4 + (f.D + 1) * 4;
        memcpy(c, buf, len);
        int32_t m0;
        memcpy(&m0, c + lay, 4);
        CHECK(m0 == f.members[0], "the layout is not where expected: %d", m0);
        v = 9;
        memcpy(c + lay + 4, &v, 4);
        CHECK(test_load_bytes(path2, c, len, 1, msg, sizeof msg) == MODEL_EFORMAT &&
                  strstr(msg, "corrupt") && strstr(msg, "not increasing"),
              "a decreasing member: %s", msg);
        memcpy(c, buf, len);
        CHECK(test_load_bytes(path2, c, len - 4, 1, msg, sizeof msg) == MODEL_EFORMAT,
              "cut: %s", msg);
        free(c);
    }
    /* without a layout, n_desc survives alone */
    CHECK_RC(a, model_set_layout(a, NULL, NULL), MODEL_OK);
    CHECK_RC(a, model_save(a, path, NULL, 0), MODEL_OK);
    CHECK_RC(b, model_load(&b, path, 1, NULL), MODEL_OK);
    CHECK(b && model_get_config(b)->n_desc == f.D && !model_get_layout(b, NULL, NULL),
          "n_desc without a layout after loading");
    model_close(&b);
    model_close(&a);
    /* a model without descriptions keeps version 2 */
    a = test_model(16, 1, 8, 1, 2, T, 0, 1, 62);
    CHECK_RC(a, model_save(a, path, NULL, 0), MODEL_OK);
    free(buf);
    buf = test_slurp(path, &len);
    if (buf)
        memcpy(&version, buf + 8, 4);
    CHECK(version == 2, "a flat checkpoint has version %u, expected 2", version);
    model_close(&a);
    free(buf);
    free(buf2);
    unlink(path);
    unlink(path2);
    rmdir(dir);
}
