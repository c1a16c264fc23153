/* layers.c: the row-wise kernels of the transformer (embedding, LayerNorm, matmul on
 * cblas_sgemm, GELU) with their backward passes, parallel on the pool where it pays. */
#include "layers.h"

#include "fastmath.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sgemm on the pool ----
 * OpenBLAS runs single-threaded (its own pthread pool would spin in sched_yield against
 * ours on 2 cores); big products are cut into one slice of C per pool thread instead, and
 * every slice is its own sgemm call. Slices are rows of C, or columns when C is wide. */

void layers_init_blas(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

typedef struct gemm_ctx {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int by_cols;
    size_t chunk;   /* rows (or columns) of C per work item, a multiple of 16 */
    long nchunks;
    atomic_long next;
    float *partial; /* K split: (nth - 1) x M x N partial products */
} gemm_ctx;

/* The K-split form, for weight gradients (M, N small, K the tokens): thread t multiplies
 * its share of K, thread 0 into C, the others into partials that are then added in
 * thread order (deterministic for a given thread count). Nothing is packed twice. */
static void gemm_ksplit_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    size_t lo, hi;
    pool_range((size_t)g->K, tid, nth, &lo, &hi);
    const float *A = g->A + (g->ta ? lo * (size_t)g->lda : lo);
    const float *B = g->B + (g->tb ? lo : lo * (size_t)g->ldb);
    float *C = tid == 0 ? g->C : g->partial + (size_t)(tid - 1) * g->M * g->N;
    int ldc = tid == 0 ? g->ldc : g->N;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, g->M, g->N, (int)(hi - lo), g->alpha, A,
                g->lda, B, g->ldb, tid == 0 ? g->beta : 0.0f, C, ldc);
}

static void gemm_reduce_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    size_t lo, hi;
    pool_range((size_t)g->M, tid, nth, &lo, &hi);
    const size_t MN = (size_t)g->M * g->N, N = (size_t)g->N;
    for (int t = 1; t < nth; t++)
        for (size_t i = lo; i < hi; i++) {
            float *restrict c = g->C + i * g->ldc;
            const float *restrict s = g->partial + (t - 1) * MN + i * N;
            for (size_t j = 0; j < N; j++)
                c[j] += s[j];
        }
}

/* One work item: the chunk-th slice of C's rows (or columns) as its own sgemm. */
static void gemm_chunk(gemm_ctx *g, long chunk)
{
    size_t n = (size_t)(g->by_cols ? g->N : g->M);
    size_t lo = (size_t)chunk * g->chunk, hi = lo + g->chunk < n ? lo + g->chunk : n;
    const float *A = g->A, *B = g->B;
    float *C = g->C;
    int M = g->M, N = g->N;
    if (g->by_cols) {
        B += g->tb ? lo * (size_t)g->ldb : lo;
        C += lo;
        N = (int)(hi - lo);
    } else {
        A += g->ta ? lo : lo * (size_t)g->lda;
        C += lo * (size_t)g->ldc;
        M = (int)(hi - lo);
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, M, N, g->K, g->alpha, A, g->lda, B, g->ldb,
                g->beta, C, g->ldc);
}

static void gemm_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    (void)tid;
    (void)nth;
    for (long c; (c = pool_next(&g->next, g->nchunks)) >= 0;)
        gemm_chunk(g, c);
}

void layers_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, pool *p)
{
    gemm_ctx g = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb,
                  .ldc = ldc, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C,
                  .by_cols = N > M};
    int nth = pool_size(p);
    size_t n = (size_t)(g.by_cols ? N : M);
    if (nth == 1 || (double)M * N * K < 1e6) {
        g.chunk = n;
        g.nchunks = 1;
        gemm_part(&g, 0, 1);
        return;
    }
    int big = M > N ? M : N;
    if (K >= 4 * big && K >= 1024) {
        g.partial = pool_scratch(p, (size_t)(nth - 1) * M * N);
        if (g.partial) {
            pool_run(p, gemm_ksplit_part, &g);
            pool_run(p, gemm_reduce_part, &g);
            return;
        }
    }
    /* four items per thread, so one the OS delays is covered by the others; edges on
     * multiples of 16, the kernels' register blocking */
    size_t want = (size_t)nth * 4;
    g.chunk = ((n + want - 1) / want + 15) / 16 * 16;
    g.nchunks = (long)((n + g.chunk - 1) / g.chunk);
    pool_run(p, gemm_part, &g);
}

/* ---- encoder ---- */

typedef struct enc_ctx {
    float *out, *dwte, *dwpe;
    const float *dout, *wte, *wpe;
    const int32_t *inp;
    int N, T, C;
} enc_ctx;

static void encoder_forward_part(void *arg, int tid, int nth)
{
    enc_ctx *c = arg;
    size_t lo, hi;
    pool_range((size_t)c->N, tid, nth, &lo, &hi);
    for (size_t n = lo; n < hi; n++) {
        float *o = c->out + n * c->C;
        const float *e = c->wte + (size_t)c->inp[n] * c->C;
        const float *q = c->wpe + (n % (size_t)c->T) * c->C;
        for (int i = 0; i < c->C; i++)
            o[i] = e[i] + q[i];
    }
}

void encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe,
                     int N, int T, int C, pool *p)
{
    enc_ctx c = {.out = out, .inp = inp, .wte = wte, .wpe = wpe, .N = N, .T = T, .C = C};
    pool_run(p, encoder_forward_part, &c);
}

/* Each thread owns a slice of the columns, so the scatter into dwte never races and
 * sums in the same order for any thread count. */
static void encoder_backward_part(void *arg, int tid, int nth)
{
    enc_ctx *c = arg;
    size_t lo, hi;
    pool_range((size_t)c->C, tid, nth, &lo, &hi);
    for (size_t n = 0; n < (size_t)c->N; n++) {
        const float *g = c->dout + n * c->C;
        float *de = c->dwte + (size_t)c->inp[n] * c->C;
        float *dq = c->dwpe + (n % (size_t)c->T) * c->C;
        for (size_t i = lo; i < hi; i++) {
            de[i] += g[i];
            dq[i] += g[i];
        }
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp,
                      int N, int T, int C, pool *p)
{
    enc_ctx c = {.dwte = dwte, .dwpe = dwpe, .dout = dout, .inp = inp, .N = N, .T = T,
                 .C = C};
    pool_run(p, encoder_backward_part, &c);
}

/* ---- layernorm ---- */

typedef struct ln_ctx {
    float *out, *mean, *rstd, *dinp, *dweight, *dbias;
    const float *inp, *weight, *bias, *dout, *cmean, *crstd;
    int N, C;
} ln_ctx;

KERNEL_BODY layernorm_forward_part_body(void *arg, int tid, int nth)
{
    ln_ctx *c = arg;
    size_t lo, hi;
    pool_range((size_t)c->N, tid, nth, &lo, &hi);
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
MODEL_KERNEL(layernorm_forward_part)

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int N, int C, pool *p)
{
    ln_ctx c = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .weight = weight,
                .bias = bias, .N = N, .C = C};
    pool_run(p, layernorm_forward_part(), &c);
}

KERNEL_BODY layernorm_backward_rows_body(void *arg, int tid, int nth)
{
    ln_ctx *c = arg;
    size_t lo, hi;
    pool_range((size_t)c->N, tid, nth, &lo, &hi);
    const size_t C = (size_t)c->C;
    const float *restrict w = c->weight;
    for (size_t n = lo; n < hi; n++) {
        const float *restrict x = c->inp + n * C, *restrict g = c->dout + n * C;
        float m = c->cmean[n], s = c->crstd[n];
        /* means of dnorm = w g and of dnorm * norm, eight running sums to vectorize */
        float a1[8] = {0}, a2[8] = {0};
        size_t i = 0;
        for (; i + 8 <= C; i += 8)
            for (int k = 0; k < 8; k++) {
                float dn = w[i + k] * g[i + k];
                a1[k] += dn;
                a2[k] += dn * ((x[i + k] - m) * s);
            }
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        for (int k = 0; k < 8; k++) {
            dnorm_mean += a1[k];
            dnorm_norm_mean += a2[k];
        }
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
    }
}
MODEL_KERNEL(layernorm_backward_rows)

/* Column slices: the weight and bias gradients sum over rows in one fixed order. */
KERNEL_BODY layernorm_backward_cols_body(void *arg, int tid, int nth)
{
    ln_ctx *c = arg;
    size_t lo, hi;
    pool_range((size_t)c->C, tid, nth, &lo, &hi);
    const int C = c->C;
    for (size_t n = 0; n < (size_t)c->N; n++) {
        const float *x = c->inp + n * C, *g = c->dout + n * C;
        float m = c->cmean[n], s = c->crstd[n];
        for (size_t i = lo; i < hi; i++) {
            c->dweight[i] += (x[i] - m) * s * g[i];
            c->dbias[i] += g[i];
        }
    }
}
MODEL_KERNEL(layernorm_backward_cols)

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C, pool *p)
{
    ln_ctx c = {.dinp = dinp, .dweight = dweight, .dbias = dbias, .dout = dout, .inp = inp,
                .weight = weight, .cmean = mean, .crstd = rstd, .N = N, .C = C};
    pool_run(p, layernorm_backward_rows(), &c);
    pool_run(p, layernorm_backward_cols(), &c);
}

/* ---- matmul ---- */

typedef struct mm_ctx {
    float *out, *dbias;
    const float *res, *bias, *dout;
    int N, OC;
} mm_ctx;

static void matmul_prefill_part(void *arg, int tid, int nth)
{
    mm_ctx *c = arg;
    size_t lo, hi;
    pool_range((size_t)c->N, tid, nth, &lo, &hi);
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

void matmul_forward(float *out, const float *res, const float *inp, const float *weight,
                    const float *bias, int N, int C, int OC, pool *p)
{
    mm_ctx c = {.out = out, .res = res, .bias = bias, .N = N, .OC = OC};
    pool_run(p, matmul_prefill_part, &c);
    layers_gemm(0, 1, N, OC, C, 1.0f, inp, C, weight, C, 1.0f, out, OC, p);
}

KERNEL_BODY bias_backward_part_body(void *arg, int tid, int nth)
{
    mm_ctx *c = arg;
    size_t lo, hi;
    pool_range((size_t)c->OC, tid, nth, &lo, &hi);
    const size_t OC = (size_t)c->OC;
    for (size_t n = 0; n < (size_t)c->N; n++) {
        const float *g = c->dout + n * OC;
        for (size_t j = lo; j < hi; j++)
            c->dbias[j] += g[j];
    }
}
MODEL_KERNEL(bias_backward_part)

void bias_backward(float *dbias, const float *dout, int N, int OC, pool *p)
{
    mm_ctx c = {.dbias = dbias, .dout = dout, .N = N, .OC = OC};
    pool_run(p, bias_backward_part(), &c);
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC,
                     float dinp_beta, pool *p)
{
    if (dinp)
        layers_gemm(0, 0, N, C, OC, 1.0f, dout, OC, weight, C, dinp_beta, dinp, C, p);
    layers_gemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C, p);
    if (dbias)
        bias_backward(dbias, dout, N, OC, p);
}

/* ---- GELU (tanh form, in fastmath.h) ---- */

typedef struct gelu_ctx {
    float *out;
    const float *inp, *dout;
    size_t N;
} gelu_ctx;

KERNEL_BODY gelu_forward_part_body(void *arg, int tid, int nth)
{
    gelu_ctx *c = arg;
    size_t lo, hi;
    pool_range(c->N, tid, nth, &lo, &hi);
    vec_gelu(c->out + lo, c->inp + lo, hi - lo);
}
MODEL_KERNEL(gelu_forward_part)

void gelu_forward(float *out, const float *inp, size_t N, pool *p)
{
    gelu_ctx c = {.out = out, .inp = inp, .N = N};
    pool_run(p, gelu_forward_part(), &c);
}

KERNEL_BODY gelu_backward_part_body(void *arg, int tid, int nth)
{
    gelu_ctx *c = arg;
    size_t lo, hi;
    pool_range(c->N, tid, nth, &lo, &hi);
    vec_gelu_backward(c->out + lo, c->inp + lo, c->dout + lo, hi - lo);
}
MODEL_KERNEL(gelu_backward_part)

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N, pool *p)
{
    gelu_ctx c = {.out = dinp, .inp = inp, .dout = dout, .N = N};
    pool_run(p, gelu_backward_part(), &c);
}
