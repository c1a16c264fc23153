/* layers.c: the row-wise kernels of the transformer (embedding, LayerNorm, matmul on
 * cblas_sgemm, GELU) with their backward passes, parallel on the pool where it pays. */
#include "layers.h"

#include "fastmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoder ---- */

typedef struct enc_ctx {
    float *out, *dwte;
    const float *dout, *wte;
    const int32_t *inp;
    int N, C;
    atomic_long next; /* dynamic chunks (model_pool_chunk) */
} enc_ctx;

static void encoder_forward_part(void *arg, int tid, int nth)
{
    enc_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->N, nth, 1, &lo, &hi))
        for (size_t n = lo; n < hi; n++)
            memcpy(c->out + n * c->C, c->wte + (size_t)c->inp[n] * c->C,
                   (size_t)c->C * sizeof(float));
}

void model_encoder_forward(float *out, const int32_t *inp, const float *wte, int N, int C,
                           pool *p)
{
    enc_ctx c = {.out = out, .inp = inp, .wte = wte, .N = N, .C = C};
    model_pool_run(p, encoder_forward_part, &c);
}

/* Each thread owns a slice of the columns, so the scatter into dwte never races and
 * sums in the same order for any thread count. */
static void encoder_backward_part(void *arg, int tid, int nth)
{
    enc_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->C, nth, 64, &lo, &hi)) {
        for (size_t n = 0; n < (size_t)c->N; n++) {
            const float *g = c->dout + n * c->C;
            float *de = c->dwte + (size_t)c->inp[n] * c->C;
            for (size_t i = lo; i < hi; i++)
                de[i] += g[i];
        }
    }
}

void model_encoder_backward(float *dwte, const float *dout, const int32_t *inp, int N, int C,
                            pool *p)
{
    enc_ctx c = {.dwte = dwte, .dout = dout, .inp = inp, .N = N, .C = C};
    model_pool_run(p, encoder_backward_part, &c);
}

/* ---- layernorm ---- */

typedef struct ln_ctx {
    float *out, *mean, *rstd, *dinp, *dweight, *dbias;
    const float *inp, *weight, *bias, *dout, *cmean, *crstd;
    int N, C;
    atomic_long next; /* dynamic chunks (model_pool_chunk) */
} ln_ctx;

KERNEL_BODY layernorm_forward_part_body(void *arg, int tid, int nth)
{
    ln_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->N, nth, 1, &lo, &hi)) {
        const int C = c->C;
        for (size_t n = lo; n < hi; n++) {
            const float *restrict x = c->inp + n * C;
            float m = vec_sum(x, (size_t)C) / C;
            float v = vec_sqdev(x, (size_t)C, m) / C;
            float s = 1.0f / sqrtf(v + 1e-5f);
            float *restrict o = c->out + n * C;
            const float *restrict w = c->weight, *restrict b = c->bias;
            for (int i = 0; i < C; i++)
                o[i] = (x[i] - m) * s * w[i] + b[i];
            c->mean[n] = m;
            c->rstd[n] = s;
        }
    }
}
MODEL_KERNEL(layernorm_forward_part)

void model_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *weight, const float *bias, int N, int C, pool *p)
{
    ln_ctx c = {.out = out,
                .mean = mean,
                .rstd = rstd,
                .inp = inp,
                .weight = weight,
                .bias = bias,
                .N = N,
                .C = C};
    model_pool_run(p, layernorm_forward_part(), &c);
}

/* The rows in LN_SLICES fixed slices, taken by the threads in turn: each row's input
 * gradient, and the slice's sums of the weight and bias gradients in its own partial (2C
 * floats), added into dweight, dbias in slice order afterwards: one pass over the rows, and
 * the same bits for any thread count or schedule. */
#define LN_SLICES 16

KERNEL_BODY layernorm_backward_part_body(void *arg, int tid, int nth)
{
    ln_ctx *c = arg;
    (void)tid;
    (void)nth;
    const size_t C = (size_t)c->C;
    const float *restrict w = c->weight;
    for (long sl; (sl = model_pool_next(&c->next, LN_SLICES)) >= 0;) {
        size_t lo, hi;
        model_pool_range((size_t)c->N, (int)sl, LN_SLICES, &lo, &hi);
        float *pw = c->out ? c->out + (size_t)sl * 2 * C : NULL;
        if (pw)
            memset(pw, 0, 2 * C * sizeof(float));
        for (size_t n = lo; n < hi; n++) {
            const float *restrict x = c->inp + n * C, *restrict g = c->dout + n * C;
            float m = c->cmean[n], s = c->crstd[n];
            /* means of dnorm = w g and of dnorm * norm, eight running sums (fastmath.h) */
            fastmath_v8f a1 = {0}, a2 = {0}, vw, vg, vx;
            size_t i = 0;
            for (; i + 8 <= C; i += 8) {
                memcpy(&vw, w + i, sizeof vw);
                memcpy(&vg, g + i, sizeof vg);
                memcpy(&vx, x + i, sizeof vx);
                fastmath_v8f dn = vw * vg;
                a1 += dn;
                a2 += dn * ((vx - m) * s);
            }
            float dnorm_mean = fastmath_hsum8(&a1), dnorm_norm_mean = fastmath_hsum8(&a2);
            for (; i < C; i++) {
                float dn = w[i] * g[i];
                dnorm_mean += dn;
                dnorm_norm_mean += dn * ((x[i] - m) * s);
            }
            dnorm_mean /= (float)C;
            dnorm_norm_mean /= (float)C;
            float *restrict dx = c->dinp + n * C;
            for (size_t j = 0; j < C; j++) {
                float norm = (x[j] - m) * s;
                dx[j] += (w[j] * g[j] - dnorm_mean - norm * dnorm_norm_mean) * s;
            }
            if (pw) {
                float *restrict dw = pw, *restrict db = pw + C;
                for (size_t j = 0; j < C; j++) {
                    dw[j] += (x[j] - m) * s * g[j];
                    db[j] += g[j];
                }
            }
        }
    }
}
MODEL_KERNEL(layernorm_backward_part)

void model_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const float *mean,
                              const float *rstd, int N, int C, pool *p)
{
    float *partial = model_pool_scratch(p, (size_t)LN_SLICES * 2 * C);
    float *own = partial ? NULL : malloc((size_t)LN_SLICES * 2 * C * sizeof(float));
    ln_ctx c = {.out = partial ? partial : own,
                .dinp = dinp,
                .dout = dout,
                .inp = inp,
                .weight = weight,
                .cmean = mean,
                .crstd = rstd,
                .N = N,
                .C = C};
    if (!c.out) { /* no memory for the partials: one slice at a time, in order */
        float pw[2 * 64];
        for (int c0 = 0; c0 < C; c0 += 64) {
            int w = C - c0 < 64 ? C - c0 : 64;
            memset(pw, 0, sizeof pw);
            for (int n = 0; n < N; n++)
                for (int j = 0; j < w; j++) {
                    const float g = dout[(size_t)n * C + c0 + j];
                    pw[j] += (inp[(size_t)n * C + c0 + j] - mean[n]) * rstd[n] * g;
                    pw[64 + j] += g;
                }
            for (int j = 0; j < w; j++) {
                dweight[c0 + j] += pw[j];
                dbias[c0 + j] += pw[64 + j];
            }
        }
    }
    model_pool_run(p, layernorm_backward_part(), &c);
    for (size_t sl = 0; c.out && sl < LN_SLICES; sl++)
        for (size_t j = 0; j < (size_t)C; j++) {
            dweight[j] += c.out[sl * 2 * C + j];
            dbias[j] += c.out[sl * 2 * C + C + j];
        }
    free(own);
}

/* ---- matmul ---- */

typedef struct mm_ctx {
    float *out, *dbias, *partial, *gelu_out;
    const float *res, *bias, *dout, *gelu_grad;
    int N, OC;
    model_rows_fn hook; /* more row work beside the product, on hook_ctx */
    void *hook_ctx;
    float *bias_part;         /* model_bias_backward's partial rows, made beside a product */
    unsigned char *bias_done; /* 1 for each slice whose partial row is made */
    atomic_long next;         /* dynamic chunks (model_pool_chunk) */
} mm_ctx;

static void matmul_hook_rows(void *arg, size_t lo, size_t hi)
{
    mm_ctx *c = arg;
    c->hook(c->hook_ctx, lo, hi);
}

/* rows [lo, hi) of out = res + bias (either may be absent), before the product adds to it */
static void matmul_prefill_rows(void *arg, size_t lo, size_t hi)
{
    mm_ctx *c = arg;
    const size_t OC = (size_t)c->OC;
    for (size_t n = lo; n < hi; n++) {
        float *o = c->out + n * OC;
        const float *r = c->res ? c->res + n * OC : NULL;
        if (r && c->bias)
            for (size_t j = 0; j < OC; j++)
                o[j] = r[j] + c->bias[j];
        else if (r) {
            if (r != o)
                memcpy(o, r, OC * sizeof *o);
        } else if (c->bias)
            memcpy(o, c->bias, OC * sizeof *o);
        else
            memset(o, 0, OC * sizeof *o);
    }
}

/* rows [lo, hi) of gelu_out = GELU(out), after the product */
static inline __attribute__((always_inline)) void gelu_rows_body(void *arg, size_t lo,
                                                                 size_t hi)
{
    mm_ctx *c = arg;
    const size_t OC = (size_t)c->OC;
    vec_gelu(c->gelu_out + lo * OC, c->out + lo * OC, (hi - lo) * OC);
}
MODEL_ROWS_KERNEL(gelu_rows)

/* the same, and out = GELU'(out) in place, while the rows are in cache */
static inline __attribute__((always_inline)) void gelu_grad_rows_body(void *arg, size_t lo,
                                                                      size_t hi)
{
    mm_ctx *c = arg;
    const size_t OC = (size_t)c->OC;
    float *o = c->out + lo * OC;
    vec_gelu_grad(c->gelu_out + lo * OC, o, o, (hi - lo) * OC);
}
MODEL_ROWS_KERNEL(gelu_grad_rows)

/* Column sums in BIAS_SLICES fixed slices of rows, each summed into its own partial row
 * (whichever thread takes it), then the partials added in slice order: contiguous reads,
 * and the same bits for any thread count or schedule. */
#define BIAS_SLICES 16

/* slice s of dout (N, OC): its column sums into partial row s */
static inline __attribute__((always_inline)) void bias_slice(const float *dout, float *partial,
                                                             size_t N, size_t OC, int s)
{
    size_t lo, hi;
    model_pool_range(N, s, BIAS_SLICES, &lo, &hi);
    float *restrict acc = partial + (size_t)s * OC;
    memset(acc, 0, OC * sizeof(float));
    for (size_t n = lo; n < hi; n++) {
        const float *restrict g = dout + n * OC;
        for (size_t j = 0; j < OC; j++)
            acc[j] += g[j];
    }
}

/* rows [lo, hi) of out = gelu_grad * out, after the product */
static inline __attribute__((always_inline)) void gelu_back_rows_body(void *arg, size_t lo,
                                                                      size_t hi)
{
    mm_ctx *c = arg;
    const size_t OC = (size_t)c->OC;
    float *o = c->out + lo * OC;
    const float *restrict g = c->gelu_grad + lo * OC;
    for (size_t i = 0; i < (hi - lo) * OC; i++)
        o[i] = g[i] * o[i];
    if (c->bias_part) /* the bias slices within these rows, while they are in cache */
        for (int s = 0; s < BIAS_SLICES; s++) {
            size_t slo, shi;
            model_pool_range((size_t)c->N, s, BIAS_SLICES, &slo, &shi);
            if (slo >= lo && shi <= hi) {
                bias_slice(c->out, c->bias_part, (size_t)c->N, OC, s);
                c->bias_done[s] = 1;
            }
        }
}
MODEL_ROWS_KERNEL(gelu_back_rows)

void model_matmul_forward(float *out, const float *res, const float *inp, const float *weight,
                          const float *bias, int N, int C, int OC, pool *p)
{
    model_matmul_forward_post(out, res, inp, weight, bias, N, C, OC, NULL, NULL, p);
}

void model_matmul_forward_post(float *out, const float *res, const float *inp,
                               const float *weight, const float *bias, int N, int C, int OC,
                               model_rows_fn post, void *post_ctx, pool *p)
{
    mm_ctx c = {.out = out,
                .res = res,
                .bias = bias,
                .N = N,
                .OC = OC,
                .hook = post,
                .hook_ctx = post_ctx};
    model_gemm_rows rows = {
        .pre = matmul_prefill_rows, .post = post ? matmul_hook_rows : NULL, .ctx = &c};
    model_gemm_rows_run(0, 1, N, OC, C, 1.0f, inp, C, weight, C, 1.0f, out, OC, &rows, p);
}

void model_matmul_gelu_forward(float *out, float *gelu_out, const float *inp,
                               const float *weight, const float *bias, int N, int C, int OC,
                               int grad, pool *p)
{
    mm_ctx c = {.out = out, .gelu_out = gelu_out, .bias = bias, .N = N, .OC = OC};
    model_gemm_rows rows = {
        .pre = matmul_prefill_rows, .post = grad ? gelu_grad_rows() : gelu_rows(), .ctx = &c};
    model_gemm_rows_run(0, 1, N, OC, C, 1.0f, inp, C, weight, C, 1.0f, out, OC, &rows, p);
}

/* the slices not made yet (bias_done) */
KERNEL_BODY bias_backward_part_body(void *arg, int tid, int nth)
{
    mm_ctx *c = arg;
    (void)tid;
    (void)nth;
    for (long s; (s = model_pool_next(&c->next, BIAS_SLICES)) >= 0;)
        if (!c->bias_done || !c->bias_done[s])
            bias_slice(c->dout, c->partial, (size_t)c->N, (size_t)c->OC, (int)s);
}
MODEL_KERNEL(bias_backward_part)

/* the partials into dbias, in slice order */
static void bias_reduce(float *dbias, const float *partial, size_t OC)
{
    for (size_t s = 0; s < BIAS_SLICES; s++)
        for (size_t j = 0; j < OC; j++)
            dbias[j] += partial[s * OC + j];
}

void model_bias_backward(float *dbias, const float *dout, int N, int OC, pool *p)
{
    mm_ctx c = {.dbias = dbias, .dout = dout, .N = N, .OC = OC};
    float *partial = model_pool_scratch(p, (size_t)BIAS_SLICES * OC);
    float *own = partial ? NULL : malloc((size_t)BIAS_SLICES * OC * sizeof(float));
    c.partial = partial ? partial : own;
    if (!c.partial) { /* no memory for the partials: a plain serial sum */
        for (size_t n = 0; n < (size_t)N; n++)
            for (size_t j = 0; j < (size_t)OC; j++)
                dbias[j] += dout[n * OC + j];
        return;
    }
    model_pool_run(p, bias_backward_part(), &c);
    bias_reduce(dbias, c.partial, (size_t)OC);
    free(own);
}

void model_matmul_gelu_backward(float *dinp, float *dinp_bias, float *dweight, float *dbias,
                                const float *dout, const float *inp, const float *weight,
                                const float *gelu_grad, int N, int C, int OC, pool *p)
{
    mm_ctx c = {.out = dinp, .gelu_grad = gelu_grad, .N = N, .OC = C};
    /* dinp_bias's partials in their own memory: the products below use the pool's scratch */
    float *part = dinp_bias ? malloc((size_t)BIAS_SLICES * C * sizeof(float)) : NULL;
    unsigned char done[BIAS_SLICES] = {0};
    c.bias_part = part;
    c.bias_done = done;
    model_gemm_rows rows = {.post = gelu_back_rows(), .ctx = &c};
    model_gemm_rows_run(0, 0, N, C, OC, 1.0f, dout, OC, weight, C, 0.0f, dinp, C, &rows, p);
    if (part) { /* the slices no row slice of the product held whole, then the sum */
        mm_ctx b = {.dout = dinp, .partial = part, .bias_done = done, .N = N, .OC = C};
        model_pool_run(p, bias_backward_part(), &b);
        bias_reduce(dinp_bias, part, (size_t)C);
        free(part);
    } else if (dinp_bias)
        model_bias_backward(dinp_bias, dinp, N, C, p);
    model_matmul_backward(NULL, dweight, dbias, dout, inp, weight, N, C, OC, 0.0f, p);
}

void model_matmul_backward_pre(float *dinp, float *dweight, float *dbias, float *dout,
                               const float *inp, const float *weight, int N, int C, int OC,
                               float dinp_beta, model_rows_fn pre, void *pre_ctx, pool *p)
{
    mm_ctx c = {.N = N, .OC = C, .hook = pre, .hook_ctx = pre_ctx};
    model_gemm_rows rows = {.pre = matmul_hook_rows, .ctx = &c};
    model_gemm_rows_run(0, 0, N, C, OC, 1.0f, dout, OC, weight, C, dinp_beta, dinp, C, &rows,
                        p);
    model_matmul_backward(NULL, dweight, dbias, dout, inp, weight, N, C, OC, 0.0f, p);
}

void model_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int N, int C, int OC,
                           float dinp_beta, pool *p)
{
    if (dinp)
        model_gemm(0, 0, N, C, OC, 1.0f, dout, OC, weight, C, dinp_beta, dinp, C, p);
    model_gemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C, p);
    if (dbias)
        model_bias_backward(dbias, dout, N, OC, p);
}

/* ---- GELU (tanh form, in fastmath.h) ---- */

typedef struct gelu_ctx {
    float *out;
    const float *inp, *dout;
    size_t N;
    atomic_long next; /* dynamic chunks (model_pool_chunk) */
} gelu_ctx;

KERNEL_BODY gelu_forward_part_body(void *arg, int tid, int nth)
{
    gelu_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, c->N, nth, 64, &lo, &hi)) {
        vec_gelu(c->out + lo, c->inp + lo, hi - lo);
    }
}
MODEL_KERNEL(gelu_forward_part)

void model_gelu_forward(float *out, const float *inp, size_t N, pool *p)
{
    gelu_ctx c = {.out = out, .inp = inp, .N = N};
    model_pool_run(p, gelu_forward_part(), &c);
}

KERNEL_BODY gelu_backward_part_body(void *arg, int tid, int nth)
{
    gelu_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, c->N, nth, 64, &lo, &hi)) {
        vec_gelu_backward(c->out + lo, c->inp + lo, c->dout + lo, hi - lo);
    }
}
MODEL_KERNEL(gelu_backward_part)

void model_gelu_backward(float *dinp, const float *inp, const float *dout, size_t N, pool *p)
{
    gelu_ctx c = {.out = dinp, .inp = inp, .dout = dout, .N = N};
    model_pool_run(p, gelu_backward_part(), &c);
}
