/* attention.c: multi-head self-attention forward and backward on the packed qkv tensor;
 * (batch, head) pairs are split across the pool, each running its own small sgemms. */
#include "layers.h"

#include "fastmath.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

typedef struct att_ctx {
    float *out, *att, *dqkv, *scratch;
    const float *qkv, *dout, *catt;
    int B, T, C, H, causal, keep;
    atomic_long next; /* (batch, head) pairs are taken dynamically: each is independent */
} att_ctx;

KERNEL_BODY attention_forward_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    (void)nth;
    for (long i; (i = pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        const float *q = c->qkv + b * T * C3 + h * hs;
        const float *k = q + C, *v = q + 2 * C;
        float *S = c->att + (c->keep ? bh : (size_t)tid) * T * T;
        /* S (T, T) = scale * q k^T; causal rows only need columns 0..t, but one full
         * sgemm is faster than T thin ones at these sizes. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3,
                    0.0f, S, T);
        for (int t = 0; t < T; t++) {
            float *row = S + (size_t)t * T;
            int n = c->causal ? t + 1 : T;
            float mx = vec_max(row, (size_t)n);
            float sum = vec_expsum(row, row, (size_t)n, mx);
            float inv = 1.0f / sum;
            for (int j = 0; j < n; j++)
                row[j] *= inv;
            for (int j = n; j < T; j++)
                row[j] = 0.0f;
        }
        /* y (T, hs) = att v, into the head's columns of out (B, T, C) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, S, T, v, C3,
                    0.0f, c->out + b * T * C + h * hs, C);
    }
}
MODEL_KERNEL(attention_forward_part)

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int H,
                       int causal, int keep, pool *p)
{
    att_ctx c = {.out = out, .att = att, .qkv = qkv, .B = B, .T = T, .C = C, .H = H,
                 .causal = causal, .keep = keep};
    pool_run(p, attention_forward_part(), &c);
}

KERNEL_BODY attention_backward_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    float *dS = c->scratch + (size_t)tid * T * T;
    (void)nth;
    for (long i; (i = pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        size_t off = b * T * C3 + h * hs;
        const float *q = c->qkv + off, *k = q + C, *v = q + 2 * C;
        float *dq = c->dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
        const float *A = c->catt + bh * T * T;
        const float *dy = c->dout + b * T * C + h * hs;
        /* datt (T, T) = dy v^T; dv = att^T dy */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, C3,
                    0.0f, dS, T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, A, T, dy, C,
                    0.0f, dv, C3);
        /* softmax backward: dS = att * (datt - sum_j att datt) * scale (zero where att is) */
        for (int t = 0; t < T; t++) {
            const float *a = A + (size_t)t * T;
            float *g = dS + (size_t)t * T;
            float dot = vec_dot(a, g, (size_t)T);
            for (int j = 0; j < T; j++)
                g[j] = a[j] * (g[j] - dot) * scale;
        }
        /* dq = dS k; dk = dS^T q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, k, C3,
                    0.0f, dq, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, q, C3,
                    0.0f, dk, C3);
    }
}
MODEL_KERNEL(attention_backward_part)

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.dqkv = dqkv, .scratch = scratch, .dout = dout, .qkv = qkv, .catt = att,
                 .B = B, .T = T, .C = C, .H = H};
    pool_run(p, attention_backward_part(), &c);
}
