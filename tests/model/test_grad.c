/* test_grad.c: finite-difference checks of every kernel's backward and of the whole
 * model's loss gradient, on tiny shapes. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model_internal.h"

/*
 * Tolerance. The kernels are fp32; the probe loss sum(r * out) is accumulated in double,
 * so its rounding error is that of the outputs, ~n * 6e-8 * |out| in the worst case, and
 * divided by 2*eps in the central difference. With eps = 1e-2 and outputs O(1) that is
 * <= ~1e-4 per entry, while the truncation error of the central difference is
 * eps^2/6 * f''' ~ 2e-5. Gradient entries are O(0.1..1), so a relative error of the whole
 * probed gradient vector, ||a - n|| / max(||a||, ||n||), below 1e-2 leaves a margin of
 * ~10x over the noise, while any real mistake (a missing term, a transposed index, a
 * wrong factor) gives errors of order 1.
 */
#define FD_EPS 1e-2
#define FD_TOL 1e-2

typedef double (*probe_fn)(void *ctx);

static float *randvec(size_t n, double sd, gsl_rng *r)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((gsl_rng_uniform(r) * 2 - 1) * sd);
    return x;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Compares the analytic gradient of f with respect to x[idx[0..k)] against central
 * differences; idx NULL: every index of x[0..k). */
static void fd_compare(const char *what, float *x, const float *grad, const size_t *idx,
                       size_t k, probe_fn f, void *ctx)
{
    double num2 = 0, ana2 = 0, diff2 = 0, worst = 0;
    size_t worst_i = 0;
    float worst_a = 0, worst_n = 0;
    for (size_t j = 0; j < k; j++) {
        size_t i = idx ? idx[j] : j;
        float save = x[i];
        x[i] = save + (float)FD_EPS;
        double lp = f(ctx);
        x[i] = save - (float)FD_EPS;
        double lm = f(ctx);
        x[i] = save;
        double h = ((double)(save + (float)FD_EPS) - (double)(save - (float)FD_EPS));
        double num = (lp - lm) / h;
        double a = grad[i];
        num2 += num * num;
        ana2 += a * a;
        diff2 += (a - num) * (a - num);
        if (fabs(a - num) > worst) {
            worst = fabs(a - num);
            worst_i = i;
            worst_a = (float)a;
            worst_n = (float)num;
        }
    }
    double scale = sqrt(num2 > ana2 ? num2 : ana2);
    double rel = scale > 0 ? sqrt(diff2) / scale : 0;
    CHECK(scale > 0, "%s: the probed gradient is all zero, the check proves nothing", what);
    CHECK(rel < FD_TOL,
          "%s: relative error %.3g >= %.3g (worst at %zu: analytic %.6g, "
          "numeric %.6g)",
          what, rel, FD_TOL, worst_i, (double)worst_a, (double)worst_n);
    f(ctx); /* leave the outputs as at x */
}

/* ---- encoder ---- */
typedef struct {
    float *out, *wte, *r;
    int32_t *inp;
    int N, C;
    pool *p;
} enc_t;
static double enc_probe(void *v)
{
    enc_t *c = v;
    model_encoder_forward(c->out, c->inp, c->wte, c->N, c->C, c->p);
    return dot(c->out, c->r, (size_t)c->N * c->C);
}

static void check_encoder(pool *p, gsl_rng *r)
{
    enum { N = 10, C = 6, VIN = 7 };
    enc_t c = {.out = malloc(N * C * sizeof(float)),
               .wte = randvec(VIN * C, 1, r),
               .r = randvec(N * C, 1, r),
               .inp = malloc(N * sizeof(int32_t)),
               .N = N,
               .C = C,
               .p = p};
    for (int n = 0; n < N; n++)
        c.inp[n] = (int32_t)gsl_rng_uniform_int(r, VIN - 1); /* row VIN-1 stays unused */
    float *dwte = calloc(VIN * C, sizeof(float));
    model_encoder_backward(dwte, c.r, c.inp, N, C, p);
    fd_compare("encoder dwte", c.wte, dwte, NULL, VIN * C, enc_probe, &c);
    for (int i = 0; i < C; i++)
        CHECK(dwte[(VIN - 1) * C + i] == 0.0f, "unused embedding row got gradient %g",
              (double)dwte[(VIN - 1) * C + i]);
    free(c.out);
    free(c.wte);
    free(c.r);
    free(c.inp);
    free(dwte);
}

/* ---- rotary positions ---- */
typedef struct {
    float *x0, *x, *rope, *r;
    int B, T, C, H;
    pool *p;
} rope_t;
static double rope_probe(void *v)
{
    rope_t *c = v;
    size_t n = (size_t)c->B * c->T * 3 * c->C;
    memcpy(c->x, c->x0, n * sizeof(float));
    model_rope_forward(c->x, c->rope, c->B, c->T, c->C, c->H, c->p);
    return dot(c->x, c->r, n);
}

/* hs = 3: one rotated pair and an odd last dimension that must stay as it is */
static void check_rope(pool *p, gsl_rng *r)
{
    enum { B = 2, T = 7, C = 6, H = 2, hs = C / H, N3 = B * T * 3 * C };
    rope_t c = {.x0 = randvec(N3, 1, r),
                .x = malloc(N3 * 4),
                .rope = malloc(T * 2 * 4),
                .r = randvec(N3, 1, r),
                .B = B,
                .T = T,
                .C = C,
                .H = H,
                .p = p};
    model_rope_table(c.rope, T, hs);
    float *g = malloc(N3 * 4);
    memcpy(g, c.r, N3 * 4);
    model_rope_backward(g, c.rope, B, T, C, H, p);
    fd_compare("rope dqkv", c.x0, g, NULL, N3, rope_probe, &c);
    rope_probe(&c);
    for (int n = 0; n < B * T; n++)
        for (int i = 0; i < 3 * C; i++) {
            int part = i / hs, rotated = part < 2 * H && i % hs < hs - 1;
            if (!rotated)
                CHECK(c.x[n * 3 * C + i] == c.x0[n * 3 * C + i],
                      "row %d column %d (v, or "
                      "the odd last dimension) changed: %g -> %g",
                      n, i, (double)c.x0[n * 3 * C + i], (double)c.x[n * 3 * C + i]);
        }
    /* the same q and k at every position: q_t . k_j depends on t - j only */
    for (int n = 0; n < B * T; n++)
        memcpy(c.x + n * 3 * C, c.x0, 3 * C * sizeof(float));
    model_rope_forward(c.x, c.rope, B, T, C, H, p);
    for (int t = 1; t < T; t++)
        for (int j = 1; j < T; j++) {
            const float *q = c.x + t * 3 * C, *k = c.x + j * 3 * C + C;
            const float *q2 = c.x + (t - 1) * 3 * C, *k2 = c.x + (j - 1) * 3 * C + C;
            double a = dot(q, k, hs), b = dot(q2, k2, hs);
            CHECK(fabs(a - b) < 1e-5,
                  "rotated q.k at (%d, %d) is %.7g, at (%d, %d) %.7g: "
                  "not relative",
                  t, j, a, t - 1, j - 1, b);
        }
    free(c.x0);
    free(c.x);
    free(c.rope);
    free(c.r);
    free(g);
}

/* ---- layernorm ---- */
typedef struct {
    float *out, *mean, *rstd, *inp, *w, *b, *r;
    int N, C;
    pool *p;
} ln_t;
static double ln_probe(void *v)
{
    ln_t *c = v;
    model_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C, c->p);
    return dot(c->out, c->r, (size_t)c->N * c->C);
}

static void check_layernorm(pool *p, gsl_rng *r)
{
    enum { N = 7, C = 8 };
    ln_t c = {.out = malloc(N * C * 4),
              .mean = malloc(N * 4),
              .rstd = malloc(N * 4),
              .inp = randvec(N * C, 1, r),
              .w = randvec(C, 1, r),
              .b = randvec(C, 1, r),
              .r = randvec(N * C, 1, r),
              .N = N,
              .C = C,
              .p = p};
    ln_probe(&c);
    float *dinp = calloc(N * C, 4), *dw = calloc(C, 4), *db = calloc(C, 4);
    model_layernorm_backward(dinp, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, N, C, p);
    fd_compare("layernorm dinp", c.inp, dinp, NULL, N * C, ln_probe, &c);
    fd_compare("layernorm dweight", c.w, dw, NULL, C, ln_probe, &c);
    fd_compare("layernorm dbias", c.b, db, NULL, C, ln_probe, &c);
    free(c.out);
    free(c.mean);
    free(c.rstd);
    free(c.inp);
    free(c.w);
    free(c.b);
    free(c.r);
    free(dinp);
    free(dw);
    free(db);
}

/* ---- matmul ---- */
typedef struct {
    float *out, *res, *inp, *w, *b, *r;
    int N, C, OC;
    pool *p;
} mm_t;
static double mm_probe(void *v)
{
    mm_t *c = v;
    model_matmul_forward(c->out, c->res, c->inp, c->w, c->b, c->N, c->C, c->OC, c->p);
    return dot(c->out, c->r, (size_t)c->N * c->OC);
}

static void check_matmul(pool *p, gsl_rng *r)
{
    enum { N = 6, C = 5, OC = 7 };
    mm_t c = {.out = malloc(N * OC * 4),
              .res = randvec(N * OC, 1, r),
              .inp = randvec(N * C, 1, r),
              .w = randvec(OC * C, 1, r),
              .b = randvec(OC, 1, r),
              .r = randvec(N * OC, 1, r),
              .N = N,
              .C = C,
              .OC = OC,
              .p = p};
    mm_probe(&c);
    /* forward against a plain triple loop */
    double err = 0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = c.res[n * OC + o] + c.b[o];
            for (int i = 0; i < C; i++)
                s += (double)c.inp[n * C + i] * c.w[o * C + i];
            err = fmax(err, fabs(s - c.out[n * OC + o]));
        }
    CHECK(err < 1e-5, "matmul forward differs from the reference by %g", err);
    float *dinp = calloc(N * C, 4), *dw = calloc(OC * C, 4), *db = calloc(OC, 4);
    model_matmul_backward(dinp, dw, db, c.r, c.inp, c.w, N, C, OC, 1.0f, p);
    fd_compare("matmul dinp", c.inp, dinp, NULL, N * C, mm_probe, &c);
    fd_compare("matmul dweight", c.w, dw, NULL, OC * C, mm_probe, &c);
    fd_compare("matmul dbias", c.b, db, NULL, OC, mm_probe, &c);
    free(c.out);
    free(c.res);
    free(c.inp);
    free(c.w);
    free(c.b);
    free(c.r);
    free(dinp);
    free(dw);
    free(db);
}

/* ---- gelu ---- */
typedef struct {
    float *out, *inp, *r;
    size_t N;
    pool *p;
} gelu_t;
static double gelu_probe(void *v)
{
    gelu_t *c = v;
    model_gelu_forward(c->out, c->inp, c->N, c->p);
    return dot(c->out, c->r, c->N);
}

static void check_gelu(pool *p, gsl_rng *r)
{
    enum { N = 40 };
    gelu_t c = {
        .out = malloc(N * 4), .inp = randvec(N, 3, r), .r = randvec(N, 1, r), .N = N, .p = p};
    float *dinp = calloc(N, 4);
    model_gelu_backward(dinp, c.inp, c.r, N, p);
    fd_compare("gelu dinp", c.inp, dinp, NULL, N, gelu_probe, &c);
    gelu_probe(&c);
    float x = 1.0f, y = c.out[0];
    c.inp[0] = x;
    gelu_probe(&c);
    y = c.out[0];
    CHECK(fabsf(y - 0.8411920f) < 1e-5f, "gelu(1) expected 0.841192, got %.7f", (double)y);
    free(c.out);
    free(c.inp);
    free(c.r);
    free(dinp);
}

/* ---- attention ---- */
typedef struct {
    float *out, *att, *qkv, *r;
    int B, T, C, H, causal;
    pool *p;
} att_t;
static double att_probe(void *v)
{
    att_t *c = v;
    model_attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->C, c->H, c->causal, 1, c->p);
    return dot(c->out, c->r, (size_t)c->B * c->T * c->C);
}

/* the block-sparse patterns: R = T rows (BLOCK) or 2T (PAIR), blocks of blk */
typedef struct {
    float *out, *att, *qkv, *r;
    int B, R, C, H;
    model_att_mask mk;
    pool *p;
} blk_att_t;
static double blk_att_probe(void *v)
{
    blk_att_t *c = v;
    model_attention_blocked_forward(c->out, c->att, c->qkv, c->B, c->R, c->C, c->H, &c->mk, 1,
                                    c->p);
    return dot(c->out, c->r, (size_t)c->B * c->R * c->C);
}

static void check_blocked_attention(pool *p, gsl_rng *r, int kind, int blk)
{
    enum { B = 2, T = 6, C = 8, H = 2 };
    const int R = kind == MODEL_ATT_PAIR ? 2 * T : T;
    blk_att_t c = {.qkv = randvec((size_t)B * R * 3 * C, 1.5, r),
                   .r = randvec((size_t)B * R * C, 1, r),
                   .B = B,
                   .R = R,
                   .C = C,
                   .H = H,
                   .mk = {.kind = kind, .T = T, .blk = blk},
                   .p = p};
    c.out = malloc((size_t)B * R * C * 4);
    c.att = malloc((size_t)B * H * model_att_head_size(&c.mk, R) * 4);
    blk_att_probe(&c);
    float *dqkv = malloc((size_t)B * R * 3 * C * 4);
    for (int i = 0; i < B * R * 3 * C; i++)
        dqkv[i] = NAN; /* every entry is written */
    float *scratch = malloc((size_t)model_pool_size(p) * R * R * 4);
    model_attention_blocked_backward(dqkv, scratch, c.r, c.qkv, c.att, B, R, C, H, &c.mk, p);
    char what[64];
    snprintf(what, sizeof what, "%s attention (block %d) dqkv",
             kind == MODEL_ATT_PAIR ? "pair" : "block-causal", blk);
    fd_compare(what, c.qkv, dqkv, NULL, (size_t)B * R * 3 * C, blk_att_probe, &c);
    free(c.out);
    free(c.att);
    free(c.qkv);
    free(c.r);
    free(dqkv);
    free(scratch);
}

static void check_attention(pool *p, gsl_rng *r, int causal)
{
    enum { B = 2, T = 5, C = 8, H = 2 };
    att_t c = {.out = malloc(B * T * C * 4),
               .att = malloc(B * H * T * T * 4),
               .qkv = randvec(B * T * 3 * C, 1.5, r),
               .r = randvec(B * T * C, 1, r),
               .B = B,
               .T = T,
               .C = C,
               .H = H,
               .causal = causal,
               .p = p};
    att_probe(&c);
    float *dqkv = calloc(B * T * 3 * C, 4);
    float *scratch = malloc((size_t)model_pool_size(p) * T * T * 4);
    model_attention_backward(dqkv, scratch, c.r, c.qkv, c.att, B, T, C, H, p);
    fd_compare(causal ? "causal attention dqkv" : "attention dqkv", c.qkv, dqkv, NULL,
               B * T * 3 * C, att_probe, &c);
    free(c.out);
    free(c.att);
    free(c.qkv);
    free(c.r);
    free(dqkv);
    free(scratch);
}

/* ---- classifier (output layer, fused log-softmax / cross-entropy) ---- */
typedef struct {
    float *h, *logits, *lse, *logp, *lnf, *wout, *bout, *prior, *scale;
    int *rows;
    int32_t *inp, *targets;
    int M, C, V, K, E; /* E: edit classes after the V tokens (0 or 2) */
    pool *p;
} cls_t;
static double cls_probe(void *v)
{
    cls_t *c = v;
    model_classifier_forward(c->h, c->logits, c->lse, c->logp, NULL, NULL, c->lnf, c->rows,
                             c->inp, c->targets, c->wout, c->bout, c->prior, NULL, NULL, 1,
                             c->M, c->M, c->C, c->V, c->K, c->V + c->E, c->p);
    double s = 0;
    for (int i = 0; i < c->M; i++)
        s += c->scale[i] * -(double)c->logp[i];
    return s;
}

/* E = 2: the edit classes V, V+1 as targets, and rows whose input is an edit id (V+K+j),
 * which get no prior row. */
static void check_classifier(pool *p, gsl_rng *r, int E)
{
    enum { N = 9, C = 6, V = 11, K = 2 };
    const int W = V + E;
    cls_t c = {.h = malloc(N * C * 4),
               .logits = malloc(N * W * 4),
               .lse = malloc(N * 4),
               .logp = malloc(N * 4),
               .lnf = randvec(N * C, 1, r),
               .wout = randvec((size_t)W * C, 1, r),
               .bout = randvec((size_t)W, 1, r),
               .prior = randvec(K * V, 2, r),
               .scale = randvec(N, 1, r),
               .rows = malloc(N * sizeof(int)),
               .inp = malloc(N * 4),
               .targets = malloc(N * 4),
               .C = C,
               .V = V,
               .K = K,
               .E = E,
               .p = p};
    int M = 0;
    for (int n = 0; n < N; n++) {
        int masked = n % 3 != 1;
        c.inp[n] = masked ? V + (int32_t)gsl_rng_uniform_int(r, K + E)
                          : (int32_t)gsl_rng_uniform_int(r, V);
        c.targets[n] = (int32_t)gsl_rng_uniform_int(r, (unsigned long)W);
        if (E && n % 3 == 2)
            c.targets[n] = V + n % 2; /* an edit class at every third row */
        if (masked)
            c.rows[M++] = n;
    }
    c.M = M;
    c.scale[M - 1] = 0.0f; /* a row that weighs nothing */
    cls_probe(&c);
    if (E) { /* log p against a log-softmax over the W classes computed here in double,
              * the prior on the first V classes of mask-id rows only */
        for (int i = 0; i < M; i++) {
            int n = c.rows[i];
            double l[V + 2], mx = -INFINITY, z = 0;
            for (int j = 0; j < W; j++) {
                l[j] = dot(c.h + (size_t)i * C, c.wout + (size_t)j * C, C) + c.bout[j];
                if (j < V && c.inp[n] < V + K)
                    l[j] += c.prior[(c.inp[n] - V) * V + j];
                mx = l[j] > mx ? l[j] : mx;
            }
            for (int j = 0; j < W; j++)
                z += exp(l[j] - mx);
            CHECK_NEAR(l[c.targets[n]] - mx - log(z), c.logp[i], 1e-4);
        }
    }
    float *dlnf = calloc(N * C, 4), *dw = calloc((size_t)W * C, 4), *db = calloc((size_t)W, 4);
    float *dh = malloc(N * C * 4);
    model_classifier_backward(dlnf, dw, db, dh, c.logits, c.lse, NULL, c.h, c.rows, c.targets,
                              c.scale, c.wout, NULL, 0, M, M, C, V, W, p);
    { /* a training forward given the scale leaves the dlogits; the backward told so gives
       * the same bits as the one that makes them */
        float *dlnf2 = calloc(N * C, 4), *dw2 = calloc((size_t)W * C, 4);
        float *db2 = calloc((size_t)W, 4), *dh2 = malloc(N * C * 4);
        float *lse = malloc(N * 4);
        memcpy(lse, c.lse, N * 4);
        model_classifier_forward(c.h, c.logits, c.lse, c.logp, NULL, NULL, c.lnf, c.rows, c.inp,
                                 c.targets, c.wout, c.bout, c.prior, NULL, c.scale, 1, M, M, C,
                                 V, K, W, p);
        CHECK(!memcmp(lse, c.lse, N * 4), "a forward with dscale changed the log-sum-exps");
        model_classifier_backward(dlnf2, dw2, db2, dh2, c.logits, c.lse, NULL, c.h, c.rows,
                                  c.targets, c.scale, c.wout, NULL, 1, M, M, C, V, W, p);
        CHECK(!memcmp(dlnf, dlnf2, N * C * 4) && !memcmp(dw, dw2, (size_t)W * C * 4) &&
                  !memcmp(db, db2, (size_t)W * 4),
              "classifier%s: dlogits made in the forward give other gradients",
              E ? " (edit classes)" : "");
        free(dlnf2);
        free(dw2);
        free(db2);
        free(dh2);
        free(lse);
    }
    const char *tag = E ? " (edit classes)" : "";
    char what[64];
    snprintf(what, sizeof what, "classifier dlnf%s", tag);
    fd_compare(what, c.lnf, dlnf, NULL, N * C, cls_probe, &c);
    snprintf(what, sizeof what, "classifier dwout%s", tag);
    fd_compare(what, c.wout, dw, NULL, (size_t)W * C, cls_probe, &c);
    snprintf(what, sizeof what, "classifier dbout%s", tag);
    fd_compare(what, c.bout, db, NULL, (size_t)W, cls_probe, &c);
    if (E) { /* the edit classes' own rows, alone: a wrong factor there cannot hide */
        size_t idx[2 * C + 2];
        for (int j = 0; j < 2 * C; j++)
            idx[j] = (size_t)V * C + (size_t)j;
        snprintf(what, sizeof what, "classifier dwout of the edit rows");
        fd_compare(what, c.wout, dw, idx, 2 * C, cls_probe, &c);
        idx[0] = V;
        idx[1] = V + 1;
        snprintf(what, sizeof what, "classifier dbout of the edit classes");
        fd_compare(what, c.bout, db, idx, 2, cls_probe, &c);
    }
    for (int n = 1; n < N; n += 3)
        for (int i = 0; i < C; i++)
            CHECK(dlnf[n * C + i] == 0.0f, "unmasked row %d got gradient %g", n,
                  (double)dlnf[n * C + i]);
    free(c.h);
    free(c.logits);
    free(c.lse);
    free(c.logp);
    free(c.lnf);
    free(c.wout);
    free(c.bout);
    free(c.prior);
    free(c.scale);
    free(c.rows);
    free(c.inp);
    free(c.targets);
    free(dlnf);
    free(dw);
    free(db);
    free(dh);
}

/* ---- restricted outputs (descriptions) ----
 * A two-stage chain over V = 11 tokens: stage 1 (descriptions 0..4) cuts the tokens into
 * runs, stage 2 (descriptions 5, 6) joins stage-1 descriptions. */
enum { RV = 11, RK = 2, RD = 7 };
static const int32_t r_start[RD + 1] = {0, 3, 5, 6, 9, 11, 17, 22};
static const int32_t r_members[22] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, /* stage 1 */
                                      0, 1, 2, 3, 4, 5, /* stage 2: stage-1 0, 1, 2 */
                                      6, 7, 8, 9, 10};  /* stage 2: stage-1 3, 4 */
static const int32_t r_colour[RD] = {0, 0, 0, 0, 0, 1, 1};

typedef struct {
    float *h, *logits, *lse, *logp, *tlse, *lnf, *wout, *bout, *prior, *scale;
    int *rows;
    int32_t *inp, *targets;
    model_desc_rows *d;
    int M, Mf, C, V;
    pool *p;
} rst_t;
static double rst_probe(void *v)
{
    rst_t *c = v;
    model_classifier_forward(c->h, c->logits, c->lse, c->logp, c->tlse, NULL, c->lnf, c->rows,
                             c->inp, c->targets, c->wout, c->bout, c->prior, c->d, NULL, 1,
                             c->M, c->Mf, c->C, c->V, RK, c->V, c->p);
    double s = 0;
    for (int i = 0; i < c->M; i++)
        s += c->scale[i] * -(double)c->logp[i];
    return s;
}

/* The output layer with mask rows predicting tokens and descriptions, and description rows
 * (stage 2 and stage 1) predicting the state one level finer, against central differences;
 * and the log-probs against log-softmax over the state set computed here in double. */
static void check_restricted(pool *p, gsl_rng *r)
{
    enum { N = 14, C = 6, V = RV, K = RK, VK = RV + RK };
    /* position: input, target (ids: tokens 0..10, masks 11, 12, descriptions 13..19) */
    static const int32_t inp[N] = {11,     11,     VK + 5, VK + 1, 3,      12, VK + 6,
                                   VK + 5, VK + 0, VK + 6, 11,     VK + 3, 7,  12};
    static const int32_t tgt[N] = {4, VK + 6, VK + 1, 4,      3, VK + 0, 9,
                                   0, 2,      VK + 4, VK + 5, 8, 7,      10};
    float *lnf = randvec(N * C, 1, r);
    rst_t c = {.h = malloc(N * C * 4),
               .logits = malloc(N * V * 4),
               .lse = malloc(N * 4),
               .logp = malloc(N * 4),
               .tlse = malloc(N * 4),
               .lnf = lnf,
               .wout = randvec(V * C, 1, r),
               .bout = randvec(V, 1, r),
               .prior = randvec(K * V, 2, r),
               .scale = randvec(N, 1, r),
               .rows = malloc(N * sizeof(int)),
               .inp = (int32_t *)inp,
               .targets = (int32_t *)tgt,
               .C = C,
               .V = V,
               .p = p};
    /* the rows as take_batch orders them: mask rows, then description rows grouped by
     * description in (colour, id) order (here: id order) */
    int M = 0, grp_desc[N], grp_first[N + 1], ng = 0;
    size_t row_off[N];
    for (int n = 0; n < N; n++)
        if (inp[n] >= V && inp[n] < VK) {
            row_off[M] = (size_t)M * V;
            c.rows[M++] = n;
        }
    c.Mf = M;
    size_t off = (size_t)M * V;
    for (int e = 0; e < RD; e++) {
        int first = M;
        for (int n = 0; n < N; n++)
            if (inp[n] == VK + e) {
                row_off[M] = off;
                off += (size_t)(r_start[e + 1] - r_start[e]);
                c.rows[M++] = n;
            }
        if (M > first) {
            grp_desc[ng] = e;
            grp_first[ng++] = first;
        }
    }
    grp_first[ng] = M;
    c.M = M;
    size_t stride = (2 * 6 * C + 2 * 6 + 15) / 16 * 16;
    float *scratch = aligned_alloc(64, (size_t)model_pool_size(p) * stride * 4);
    model_desc_rows d = {.first_id = VK,
                         .start = r_start,
                         .members = r_members,
                         .colour = r_colour,
                         .max = 6,
                         .n_groups = ng,
                         .grp_desc = grp_desc,
                         .grp_first = grp_first,
                         .row_off = row_off,
                         .scratch = scratch,
                         .stride = stride};
    c.d = &d;
    rst_probe(&c);
    /* log p(target) = lse over (target set n S) - lse over S, in double from lnf */
    for (int i = 0; i < M; i++) {
        int n = c.rows[i];
        double l[V];
        for (int j = 0; j < V; j++) {
            l[j] = c.bout[j];
            for (int k = 0; k < C; k++)
                l[j] += (double)lnf[n * C + k] * c.wout[j * C + k];
            if (inp[n] < VK)
                l[j] += c.prior[(inp[n] - V) * V + j];
        }
        int inS[V], inA[V];
        for (int j = 0; j < V; j++) {
            inS[j] = inp[n] < VK;
            inA[j] = tgt[n] == j;
        }
        for (int e = 0; e < RD; e++)
            for (int k = r_start[e]; k < r_start[e + 1]; k++) {
                if (inp[n] == VK + e)
                    inS[r_members[k]] = 1;
                if (tgt[n] == VK + e)
                    inA[r_members[k]] = 1;
            }
        double zs = 0, za = 0;
        for (int j = 0; j < V; j++) {
            zs += inS[j] ? exp(l[j]) : 0;
            za += inS[j] && inA[j] ? exp(l[j]) : 0;
        }
        double want = log(za) - log(zs);
        CHECK(fabs(c.logp[i] - want) < 1e-5 * (1 + fabs(want)),
              "row %d (input %d, target %d): log-prob %.7g, expected %.7g", i, inp[n], tgt[n],
              (double)c.logp[i], want);
    }
    float *dlnf = calloc(N * C, 4), *dw = calloc(V * C, 4), *db = calloc(V, 4);
    float *dh = malloc(N * C * 4);
    model_classifier_backward(dlnf, dw, db, dh, c.logits, c.lse, c.tlse, c.h, c.rows, c.targets,
                              c.scale, c.wout, &d, 0, M, c.Mf, C, V, V, p);
    fd_compare("restricted dlnf", c.lnf, dlnf, NULL, N * C, rst_probe, &c);
    fd_compare("restricted dwout", c.wout, dw, NULL, V * C, rst_probe, &c);
    fd_compare("restricted dbout", c.bout, db, NULL, V, rst_probe, &c);
    for (int n = 0; n < N; n++)
        if (inp[n] < V)
            for (int i = 0; i < C; i++)
                CHECK(dlnf[n * C + i] == 0.0f, "token row %d got gradient %g", n,
                      (double)dlnf[n * C + i]);
    free(c.h);
    free(c.logits);
    free(c.lse);
    free(c.logp);
    free(c.tlse);
    free(c.lnf);
    free(c.wout);
    free(c.bout);
    free(c.prior);
    free(c.scale);
    free(c.rows);
    free(scratch);
    free(dlnf);
    free(dw);
    free(db);
    free(dh);
}

void test_grad_ops(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        pool *p = NULL;
        if (threads > 1 && model_pool_open(&p, threads) != 0) {
            CHECK(0, "model_pool_open(%d) failed", threads);
            continue;
        }
        model_init_blas();
        gsl_rng *r = test_rng(100 + threads);
        check_encoder(p, r);
        check_rope(p, r);
        check_layernorm(p, r);
        check_matmul(p, r);
        check_gelu(p, r);
        check_attention(p, r, 0);
        check_attention(p, r, 1);
        for (int blk = 1; blk <= 6; blk *= 2 + (blk == 2)) { /* 1, 2, 6 */
            check_blocked_attention(p, r, MODEL_ATT_PAIR, blk);
            check_blocked_attention(p, r, MODEL_ATT_BLOCK, blk);
        }
        check_classifier(p, r, 0);
        check_classifier(p, r, 2);
        check_restricted(p, r);
        gsl_rng_free(r);
        model_pool_close(&p);
    }
}

/* ---- the whole model ---- */
typedef struct {
    model *m;
    int32_t *inp, *tgt;
    float *w, *lp;
    int B, T;
} whole_t;
/* The loss re-summed in double from the per-position log-probs (the float loss itself
 * would add its own rounding, 1e-7 relative, to the differences). */
static double whole_probe(void *v)
{
    whole_t *c = v;
    int rc = model_forward(c->m, c->inp, c->tgt, c->w, c->B, c->T, NULL, c->lp);
    if (rc)
        return NAN;
    double s = 0;
    for (int n = 0; n < c->B * c->T; n++)
        s += (double)c->w[n] * -(double)c->lp[n];
    return s / (c->B * c->T);
}

static void check_whole(int causal, int K, int with_prior)
{
    enum { V = 13, D = 8, L = 2, H = 2, B = 2, T = 6 };
    model *m = test_model(V, K, D, L, H, T + 3, causal, 2, 7); /* T below seq_len */
    test_scale_params(m, 0.5, 8);
    gsl_rng *r = test_rng(9);
    if (with_prior) {
        float *prior = randvec((size_t)K * V, 1.5, r);
        CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);
        free(prior);
    }
    whole_t c = {.m = m,
                 .inp = malloc(B * T * 4),
                 .tgt = malloc(B * T * 4),
                 .w = malloc(B * T * 4),
                 .lp = malloc(B * T * 4),
                 .B = B,
                 .T = T};
    for (int n = 0; n < B * T; n++) {
        c.tgt[n] = (int32_t)gsl_rng_uniform_int(r, V);
        int masked = gsl_rng_uniform(r) < 0.6;
        c.inp[n] = masked ? V + (int32_t)gsl_rng_uniform_int(r, K) : c.tgt[n];
        c.w[n] = (float)(0.5 + gsl_rng_uniform(r) * 2);
    }
    model_zero_grad(m);
    CHECK_RC(m, model_forward(m, c.inp, c.tgt, c.w, B, T, NULL, NULL), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_OK);
    float *grads = malloc(m->num_params * 4);
    memcpy(grads, m->grads_mem, m->num_params * 4);
    size_t start = 0;
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        size_t n = m->param_sizes[t], k = n < 24 ? n : 24;
        size_t idx[24];
        for (size_t j = 0; j < k; j++)
            idx[j] = start + (k == n ? j : gsl_rng_uniform_int(r, n));
        if (t == 0) /* wte: probe rows the batch uses */
            for (size_t j = 0; j < k; j++)
                idx[j] = (size_t)c.inp[j % (B * T)] * D + j % D;
        char what[80];
        snprintf(what, sizeof what, "model%s%s loss d%s", causal ? " (causal)" : "",
                 with_prior ? " (prior)" : "", model_param_names[t]);
        fd_compare(what, m->params_mem, grads, idx, k, whole_probe, &c);
        start += n;
    }
    free(grads);
    free(c.inp);
    free(c.tgt);
    free(c.w);
    free(c.lp);
    gsl_rng_free(r);
    model_close(&m);
}

/* The whole model with descriptions: positions at every level of r_start's chain (token,
 * stage 1, stage 2, mask), each predicting the state one level finer. */
static void check_whole_chain(int with_prior)
{
    enum { V = RV, K = RK, VK = RV + RK, D = 8, L = 2, H = 2, B = 2, T = 7 };
    model_settings ms;
    model_default_settings(&ms);
    ms.config = (model_config){
        .vocab = V, .n_mask = K, .d = D, .layers = L, .heads = H, .seq_len = T, .n_desc = RD};
    ms.threads = 2;
    gsl_rng *r = test_rng(19);
    model *m = NULL;
    CHECK_RC(m, model_open(&m, &ms, r), MODEL_OK);
    CHECK_RC(m, model_set_layout(m, r_start, r_members), MODEL_OK);
    test_scale_params(m, 0.5, 18);
    if (with_prior) {
        float *prior = randvec((size_t)K * V, 1.5, r);
        CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);
        free(prior);
    }
    /* stage-1 and stage-2 description of each token */
    int32_t d1[V], d2[V];
    for (int e = 0; e < RD; e++)
        for (int k = r_start[e]; k < r_start[e + 1]; k++)
            (e < 5 ? d1 : d2)[r_members[k]] = VK + e;
    whole_t c = {.m = m,
                 .inp = malloc(B * T * 4),
                 .tgt = malloc(B * T * 4),
                 .w = malloc(B * T * 4),
                 .lp = malloc(B * T * 4),
                 .B = B,
                 .T = T};
    for (int n = 0; n < B * T; n++) {
        int32_t x = (int32_t)gsl_rng_uniform_int(r, V);
        int level = n % 4; /* 0 token, 1 stage 1, 2 stage 2, 3 mask */
        int32_t states[4] = {x, d1[x], d2[x], V + (int32_t)gsl_rng_uniform_int(r, K)};
        c.inp[n] = states[level];
        c.tgt[n] = states[level ? level - 1 : 0];
        c.w[n] = (float)(0.5 + gsl_rng_uniform(r) * 2);
    }
    model_zero_grad(m);
    CHECK_RC(m, model_forward(m, c.inp, c.tgt, c.w, B, T, NULL, NULL), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_OK);
    float *grads = malloc(m->num_params * 4);
    memcpy(grads, m->grads_mem, m->num_params * 4);
    size_t start = 0;
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        size_t n = m->param_sizes[t], k = n < 24 ? n : 24;
        size_t idx[24];
        for (size_t j = 0; j < k; j++)
            idx[j] = start + (k == n ? j : gsl_rng_uniform_int(r, n));
        if (t == P_WTE) /* rows the batch uses: descriptions among them */
            for (size_t j = 0; j < k; j++)
                idx[j] = (size_t)c.inp[(j * 5) % (B * T)] * D + j % D;
        char what[80];
        snprintf(what, sizeof what, "model with descriptions%s loss d%s",
                 with_prior ? " (prior)" : "", model_param_names[t]);
        fd_compare(what, m->params_mem, grads, idx, k, whole_probe, &c);
        start += n;
    }
    free(grads);
    free(c.inp);
    free(c.tgt);
    free(c.w);
    free(c.lp);
    gsl_rng_free(r);
    model_close(&m);
}

/* The block mode's 2T pass: the loss of the noisy rows through the block-causal mask */
typedef struct {
    model *m;
    int32_t *inp, *clean, *tgt;
    float *w, *lp;
    int B, T;
} whole_block_t;
static double whole_block_probe(void *v)
{
    whole_block_t *c = v;
    int rc = model_forward_block(c->m, c->inp, c->clean, c->tgt, c->w, c->B, c->T, NULL, c->lp);
    if (rc)
        return NAN;
    double s = 0;
    for (int n = 0; n < c->B * c->T; n++)
        s += (double)c->w[n] * -(double)c->lp[n];
    return s / (c->B * c->T);
}

static void check_whole_block(int blk)
{
    enum { V = 13, K = 2, D = 8, L = 2, H = 2, B = 2, T = 6 };
    model_settings ms;
    model_default_settings(&ms);
    ms.config = (model_config){.vocab = V,
                               .n_mask = K,
                               .d = D,
                               .layers = L,
                               .heads = H,
                               .seq_len = T,
                               .mode = MODEL_BLOCK,
                               .block = blk};
    ms.threads = 2;
    gsl_rng *r = test_rng(29);
    model *m = NULL;
    CHECK_RC(m, model_open(&m, &ms, r), MODEL_OK);
    test_scale_params(m, 0.5, 28);
    whole_block_t c = {.m = m,
                       .inp = malloc(B * T * 4),
                       .clean = malloc(B * T * 4),
                       .tgt = malloc(B * T * 4),
                       .w = malloc(B * T * 4),
                       .lp = malloc(B * T * 4),
                       .B = B,
                       .T = T};
    for (int n = 0; n < B * T; n++) {
        c.clean[n] = c.tgt[n] = (int32_t)gsl_rng_uniform_int(r, V);
        int masked = gsl_rng_uniform(r) < 0.6;
        c.inp[n] = masked ? V + (int32_t)gsl_rng_uniform_int(r, K) : c.tgt[n];
        c.w[n] = (float)(0.5 + gsl_rng_uniform(r) * 2);
    }
    model_zero_grad(m);
    CHECK_RC(m, model_forward_block(m, c.inp, c.clean, c.tgt, c.w, B, T, NULL, NULL), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_OK);
    float *grads = malloc(m->num_params * 4);
    memcpy(grads, m->grads_mem, m->num_params * 4);
    size_t start = 0;
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        size_t n = m->param_sizes[t], k = n < 24 ? n : 24;
        size_t idx[24];
        for (size_t j = 0; j < k; j++)
            idx[j] = start + (k == n ? j : gsl_rng_uniform_int(r, n));
        if (t == 0) /* wte: probe rows the batch uses, clean ones included */
            for (size_t j = 0; j < k; j++)
                idx[j] = (size_t)(j % 2 ? c.clean : c.inp)[j % (B * T)] * D + j % D;
        char what[80];
        snprintf(what, sizeof what, "model (block %d) loss d%s", blk, model_param_names[t]);
        fd_compare(what, m->params_mem, grads, idx, k, whole_block_probe, &c);
        start += n;
    }
    free(grads);
    free(c.inp);
    free(c.clean);
    free(c.tgt);
    free(c.w);
    free(c.lp);
    gsl_rng_free(r);
    model_close(&m);
}

void test_grad_block(void)
{
    check_whole_block(2);
    check_whole_block(3);
}

/* The whole model with edit classes (n_edit 2): masked positions predicting tokens,
 * [expand] (id V+K, class V) and [delete] (V+K+1, class V+1) under a prior, and a few edit
 * inputs, against central differences; the edit rows of wte, wout and bout probed alone. */
void test_grad_edit(void)
{
    enum { V = 9, K = 2, D = 8, L = 2, H = 2, B = 2, T = 7 };
    model_settings ms;
    model_default_settings(&ms);
    ms.config = (model_config){.vocab = V,
                               .n_mask = K,
                               .d = D,
                               .layers = L,
                               .heads = H,
                               .seq_len = T + 1,
                               .mode = MODEL_DIFFUSION,
                               .n_edit = 2};
    ms.threads = 2;
    gsl_rng *r = test_rng(31);
    model *m = NULL;
    CHECK_RC(m, model_open(&m, &ms, r), MODEL_OK);
    if (!m) {
        gsl_rng_free(r);
        return;
    }
    test_scale_params(m, 0.5, 32);
    float *prior = randvec((size_t)K * V, 1.5, r);
    CHECK_RC(m, model_set_prior(m, prior), MODEL_OK);
    free(prior);
    whole_t c = {.m = m,
                 .inp = malloc(B * T * 4),
                 .tgt = malloc(B * T * 4),
                 .w = malloc(B * T * 4),
                 .lp = malloc(B * T * 4),
                 .B = B,
                 .T = T};
    int edits = 0;
    for (int n = 0; n < B * T; n++) {
        int32_t x = (int32_t)gsl_rng_uniform_int(r, V);
        int kind = n % 6; /* 0 token, 1-2 masked, 3 expand, 4 delete, 5 an edit input */
        c.inp[n] = kind == 0 ? x : V + (int32_t)gsl_rng_uniform_int(r, K);
        c.tgt[n] = kind == 3 ? V + K : kind == 4 ? V + K + 1 : x;
        if (kind == 5) /* an edit input, predicting a token or an edit */
            c.inp[n] = V + K + (int32_t)(n % 2);
        edits += kind == 3 || kind == 4;
        c.w[n] = (float)(0.5 + gsl_rng_uniform(r) * 2);
    }
    CHECK(edits >= 3, "only %d edit targets: the check would prove little", edits);
    model_zero_grad(m);
    CHECK_RC(m, model_forward(m, c.inp, c.tgt, c.w, B, T, NULL, NULL), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_OK);
    float *grads = malloc(m->num_params * 4);
    memcpy(grads, m->grads_mem, m->num_params * 4);
    size_t start = 0, idx[24];
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        size_t n = m->param_sizes[t], k = n < 24 ? n : 24;
        for (size_t j = 0; j < k; j++)
            idx[j] = start + (k == n ? j : gsl_rng_uniform_int(r, n));
        if (t == 0) /* wte: probe rows the batch uses */
            for (size_t j = 0; j < k; j++)
                idx[j] = (size_t)c.inp[j % (B * T)] * D + j % D;
        char what[80];
        snprintf(what, sizeof what, "model (edit classes) loss d%s", model_param_names[t]);
        fd_compare(what, m->params_mem, grads, idx, k, whole_probe, &c);
        if (t == P_WTE || t == P_WOUT || t == P_BOUT) { /* the two edit rows, alone */
            size_t first = t == P_WTE ? (size_t)(V + K) * D : t == P_WOUT ? (size_t)V * D : V;
            size_t width = t == P_BOUT ? 1 : D;
            for (size_t j = 0; j < 2 * width; j++)
                idx[j] = start + first + j;
            snprintf(what, sizeof what, "model (edit classes) loss d%s, edit rows",
                     model_param_names[t]);
            fd_compare(what, m->params_mem, grads, idx, 2 * width, whole_probe, &c);
        }
        start += n;
    }
    free(grads);
    free(c.inp);
    free(c.tgt);
    free(c.w);
    free(c.lp);
    gsl_rng_free(r);
    model_close(&m);
}

void test_grad_model(void)
{
    check_whole(0, 2, 0);
    check_whole(1, 1, 0);
    check_whole(0, 3, 1);
    check_whole_chain(0);
    check_whole_chain(1);
}

/* ---- the vectorizable exp behind softmax and GELU ---- */

#include "fastmath.h"

void test_fastmath(void)
{
    double worst = 0;
    float worst_x = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        double want = exp((double)x), got = fast_expf(x);
        double rel = fabs(got - want) / want;
        if (rel > worst) {
            worst = rel;
            worst_x = x;
        }
    }
    /* fp32 has 6e-8 relative spacing: a few ulp */
    CHECK(worst < 5e-7, "fast_expf: relative error %.3g at x = %g", worst, (double)worst_x);
    CHECK(fast_expf(-INFINITY) == 0.0f && fast_expf(-200.0f) == 0.0f,
          "exp of very negative "
          "numbers must be 0: %g %g",
          (double)fast_expf(-INFINITY), (double)fast_expf(-200));
    CHECK(isnan(fast_expf(NAN)), "exp(NaN) = %g", (double)fast_expf(NAN));
    CHECK(isfinite(fast_expf(1000.0f)), "exp(1000) saturates, got %g", (double)fast_expf(1000));
    CHECK(fast_expf(0.0f) == 1.0f, "exp(0) = %.9g", (double)fast_expf(0.0f));
    for (float x = -10.0f; x <= 10.0f; x += 0.37f)
        CHECK(fabs(fast_tanhf(x) - tanh((double)x)) < 2e-7, "tanh(%g): %.9g vs %.9g", (double)x,
              (double)fast_tanhf(x), tanh((double)x));
}

/* ---- the attention's per-head products and the softmax cut ---- */

/* model_gemm_head against a double-precision product, for every transpose, shapes around
 * the kernel's 8 x 32 tiles (tails of rows and of columns), leading dimensions wider than
 * the matrices, beta 0 and 1; the AVX2 kernel's bits against the CPU's own kernel's (the
 * AVX-512 one where there is one); then the tile claim: the rows [3, M) of a product
 * computed on their own (other tiles) have the same bits. */
void test_gemm_head(void)
{
    gsl_rng *r = test_rng(91);
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    static const int sizes[][3] = {{1, 1, 1},   {8, 32, 32}, {9, 33, 7},  {17, 16, 40},
                                   {40, 9, 64}, {7, 65, 3},  {64, 48, 33}};
    double worst = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int tr = 0; tr < 4; tr++)
            for (int beta = 0; beta < 2; beta++) {
                const int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
                const int ta = tr & 1, tb = tr >> 1;
                const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
                float *A = randvec((size_t)(ta ? K : M) * lda, 1.0, r);
                float *B = randvec((size_t)(tb ? N : K) * ldb, 1.0, r);
                float *C = randvec((size_t)M * ldc, 1.0, r);
                float *C0 = malloc((size_t)M * ldc * sizeof *C0);
                float *pack = malloc((size_t)K * N * sizeof *pack);
                memcpy(C0, C, (size_t)M * ldc * sizeof *C0);
                model_gemm_head(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, (float)beta, C, ldc,
                                pack);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < ldc; j++) {
                        double want = C0[(size_t)i * ldc + j];
                        if (j < N) {
                            double sum = 0;
                            for (int k = 0; k < K; k++)
                                sum +=
                                    (double)A[ta ? (size_t)k * lda + i : (size_t)i * lda + k] *
                                    B[tb ? (size_t)j * ldb + k : (size_t)k * ldb + j];
                            want = 0.5 * sum + beta * want;
                        }
                        double e = fabs(C[(size_t)i * ldc + j] - want) / (1.0 + fabs(want));
                        worst = e > worst ? e : worst;
                    }
                if (avx2) { /* the AVX2 kernel (the CPU's own where it has no AVX-512) */
                    float *C1 = malloc((size_t)M * ldc * sizeof *C1);
                    memcpy(C1, C0, (size_t)M * ldc * sizeof *C1);
                    model_avx2_mode(1);
                    model_gemm_head(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, (float)beta, C1, ldc,
                                    pack);
                    model_avx2_mode(-1);
                    CHECK(!memcmp(C, C1, (size_t)M * ldc * 4),
                          "gemm_head %dx%dx%d ta %d tb %d: the AVX2 kernel's bits differ", M, N,
                          K, ta, tb);
                    free(C1);
                }
                if (M > 3) { /* rows 3.. alone: the same bits */
                    float *C2 = malloc((size_t)M * ldc * sizeof *C2);
                    memcpy(C2, C0, (size_t)M * ldc * sizeof *C2);
                    model_gemm_head(ta, tb, M - 3, N, K, 0.5f, ta ? A + 3 : A + 3 * lda, lda, B,
                                    ldb, (float)beta, C2 + 3 * ldc, ldc, pack);
                    CHECK(!memcmp(C + 3 * ldc, C2 + 3 * ldc, (size_t)(M - 3) * ldc * 4),
                          "gemm_head %dx%dx%d ta %d tb %d: rows 3.. differ computed alone", M,
                          N, K, ta, tb);
                    free(C2);
                }
                free(A);
                free(B);
                free(C);
                free(C0);
                free(pack);
            }
    /* fp32 sums of up to 65 products of O(1) terms: a few 1e-7 relative */
    CHECK(worst < 1e-5, "gemm_head: relative error %.3g against the double product", worst);

    /* the softmax's last step: x * inv, or 0 under 2^-64 (never a denormal) */
    float x[6] = {1.0f, 0x1p-64f, 0x1p-65f, 1e-30f, 0.25f, 0x1p-120f};
    vec_softmax_scale(x, 6, 0.5f);
    CHECK(x[0] == 0.5f && x[1] == 0x1p-65f && x[2] == 0.0f && x[3] == 0.0f && x[4] == 0.125f &&
              x[5] == 0.0f,
          "softmax cut: got %g %g %g %g %g %g", (double)x[0], (double)x[1], (double)x[2],
          (double)x[3], (double)x[4], (double)x[5]);
    gsl_rng_free(r);
}

/* The classifier's product in panels (AVX2 CPUs without AVX-512 take it by default;
 * model_avx2_mode(1) reaches it on any AVX2 CPU): model_gemm_panels against a
 * double-precision product, with tails of rows (the 6-row tiles) and of columns (the
 * 16-column panels), columns past N left alone, and the same bits as model_gemm_head; then the whole forward with its softmax in
 * blocks against the plain path (sgemm, then the softmax), and a row's bits independent of
 * the block it falls in, and with the logits not kept (scoring). */
void test_classifier_panels(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("classifier-panels: no AVX2 and FMA here; nothing to check\n");
        return;
    }
    gsl_rng *r = test_rng(97);
    static const int sizes[][3] = {{1, 1, 1},   {6, 16, 8},  {7, 17, 32},
                                   {13, 40, 7}, {5, 15, 64}, {12, 33, 3}};
    double worst = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        const int lda = K + 3, ldc = N + 2, nq = (N + MODEL_PANEL - 1) / MODEL_PANEL;
        float *A = randvec((size_t)M * lda, 1.0, r), *B = randvec((size_t)N * K, 1.0, r);
        float *C = randvec((size_t)M * ldc, 1.0, r), *C0 = malloc((size_t)M * ldc * 4);
        float *C2 = malloc((size_t)M * ldc * 4),
              *pack = malloc((size_t)nq * MODEL_PANEL * K * 4);
        memcpy(C0, C, (size_t)M * ldc * 4);
        memcpy(C2, C, (size_t)M * ldc * 4);
        model_pack_panels(B, N, K, K, pack, 0, nq);
        model_gemm_panels(M, N, K, A, lda, pack, C, ldc);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < ldc; j++) {
                double want = C0[(size_t)i * ldc + j];
                if (j < N) {
                    want = 0;
                    for (int k = 0; k < K; k++)
                        want += (double)A[(size_t)i * lda + k] * B[(size_t)j * K + k];
                }
                double e = fabs(C[(size_t)i * ldc + j] - want) / (1.0 + fabs(want));
                worst = e > worst ? e : worst;
            }
        float *hp = malloc((size_t)K * N * 4);
        model_gemm_head(0, 1, M, N, K, 1.0f, A, lda, B, K, 0.0f, C2, ldc, hp);
        CHECK(!memcmp(C, C2, (size_t)M * ldc * 4),
              "panels %dx%dx%d: not the bits of model_gemm_head", M, N, K);
        free(A);
        free(B);
        free(C);
        free(C0);
        free(C2);
        free(pack);
        free(hp);
    }
    CHECK(worst < 1e-5, "panels: relative error %.3g against the double product", worst);

    /* the forward: M rows of a (Npos, C) layer norm output, half of them behind a mask id
     * with a prior; V not a multiple of the panel; the training form (dscale) too */
    enum { Mr = 29, NP = 40, Cc = 24, V = 70, KM = 2 };
    pool *p = NULL;
    CHECK(model_pool_open(&p, 2) == 0, "pool");
    float *lnf = randvec((size_t)NP * Cc, 1.0, r), *wout = randvec((size_t)V * Cc, 0.5, r);
    float *bout = randvec(V, 0.1, r), *prior = randvec((size_t)KM * V, 1.0, r);
    float *dscale = randvec(Mr, 1.0, r);
    int rows[Mr];
    int32_t inp[NP], tgt[NP];
    for (int i = 0; i < NP; i++) {
        inp[i] = i % 2 ? V + (int32_t)gsl_rng_uniform_int(r, KM)
                       : (int32_t)gsl_rng_uniform_int(r, V);
        tgt[i] = (int32_t)gsl_rng_uniform_int(r, V);
    }
    for (int i = 0; i < Mr; i++)
        rows[i] = (i * 7) % NP;
    float *h[3], *lg[3], lse[3][Mr], lp[3][Mr];
    int32_t am[3][Mr];
    for (int t = 0; t < 3; t++) {
        h[t] = calloc((size_t)Mr * Cc, 4);
        lg[t] = calloc((size_t)Mr * V, 4);
    }
    for (int form = 0; form < 2; form++) { /* scoring (with argmax), then training */
        const float *ds = form ? dscale : NULL;
        int32_t *amx[3] = {form ? NULL : am[0], form ? NULL : am[1], form ? NULL : am[2]};
        model_avx2_mode(0);
        model_classifier_forward(h[0], lg[0], lse[0], lp[0], NULL, amx[0], lnf, rows, inp, tgt,
                                 wout, bout, prior, NULL, ds, 1, Mr, Mr, Cc, V, KM, V, p);
        model_avx2_mode(1);
        model_classifier_forward(h[1], lg[1], lse[1], lp[1], NULL, amx[1], lnf, rows, inp, tgt,
                                 wout, bout, prior, NULL, ds, 1, Mr, Mr, Cc, V, KM, V, p);
        /* rows 5.. on their own: other blocks, the same bits */
        model_classifier_forward(h[2] + 5 * Cc, lg[2] + 5 * V, lse[2] + 5, lp[2] + 5, NULL,
                                 amx[2] ? amx[2] + 5 : NULL, lnf, rows + 5, inp, tgt, wout,
                                 bout, prior, NULL, ds ? ds + 5 : NULL, 1, Mr - 5, Mr - 5, Cc,
                                 V, KM, V, p);
        model_avx2_mode(-1);
        double e = 0;
        for (int i = 0; i < Mr; i++) {
            e = fmax(e, fabs(lse[1][i] - lse[0][i]) + fabs(lp[1][i] - lp[0][i]));
            if (!form)
                CHECK(am[1][i] == am[0][i], "panels: row %d's argmax %d, not %d", i,
                      (int)am[1][i], (int)am[0][i]);
            for (int j = 0; j < V; j++)
                e = fmax(e, fabs(lg[1][(size_t)i * V + j] - lg[0][(size_t)i * V + j]));
        }
        CHECK(e < 1e-4, "panels: form %d: the forward differs from the plain one by %.3g", form,
              e);
        CHECK(!memcmp(lse[2] + 5, lse[1] + 5, (Mr - 5) * 4) &&
                  !memcmp(lp[2] + 5, lp[1] + 5, (Mr - 5) * 4) &&
                  !memcmp(lg[2] + 5 * V, lg[1] + 5 * V, (size_t)(Mr - 5) * V * 4),
              "panels: form %d: rows 5.. differ computed alone", form);
        if (!form) { /* scoring that keeps no logits (each thread's block): the same bits */
            model_avx2_mode(1);
            model_classifier_forward(h[2], lg[2], lse[2], lp[2], NULL, am[2], lnf, rows, inp,
                                     tgt, wout, bout, prior, NULL, NULL, 0, Mr, Mr, Cc, V, KM,
                                     V, p);
            model_avx2_mode(-1);
            CHECK(!memcmp(lse[2], lse[1], sizeof lse[1]) &&
                      !memcmp(lp[2], lp[1], sizeof lp[1]) &&
                      !memcmp(am[2], am[1], sizeof am[1]),
                  "panels: scoring without the logits kept differs");
        }
    }
    for (int t = 0; t < 3; t++) {
        free(h[t]);
        free(lg[t]);
    }
    free(lnf);
    free(wout);
    free(bout);
    free(prior);
    free(dscale);
    model_pool_close(&p);
    gsl_rng_free(r);
}
