/* attention.c: multi-head self-attention on the packed qkv tensor with its relative
 * positions (rotary q and k, ALiBi distance bias), forward and backward, on the pool. */
#include "layers.h"

#include "fastmath.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

typedef struct att_ctx {
    float *out, *att, *dqkv, *scratch, *x;
    const float *qkv, *dout, *catt, *rope;
    int B, T, C, H, causal, keep;
    float sign;       /* rope: +1 rotates forward, -1 back (the transpose, for gradients) */
    atomic_long next; /* (batch, head) pairs are taken dynamically: each is independent */
} att_ctx;

void model_rope_table(float *rope, int maxT, int hs)
{
    const int P = hs / 2;
    for (int t = 0; t < maxT; t++)
        for (int i = 0; i < P; i++) {
            double a = t * pow(ROPE_BASE, -2.0 * i / hs);
            rope[((size_t)t * P + i) * 2] = (float)cos(a);
            rope[((size_t)t * P + i) * 2 + 1] = (float)sin(a);
        }
}

/* rotates the q and k pairs of rows [lo, hi) of x (N, 3C) by sign * t * theta_i */
KERNEL_BODY rope_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, P = hs / 2;
    const float sign = c->sign;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->B * T, nth, 1, &lo, &hi)) {
        for (size_t n = lo; n < hi; n++) {
            const float *restrict cs = c->rope + (n % (size_t)T) * P * 2;
            float *row = c->x + n * 3 * C;
            for (int part = 0; part < 2 * H; part++) { /* H q heads, then H k heads */
                float *restrict x = row + (size_t)part * hs;
                for (int i = 0; i < P; i++) {
                    float co = cs[2 * i], si = sign * cs[2 * i + 1];
                    float x0 = x[2 * i], x1 = x[2 * i + 1];
                    x[2 * i] = x0 * co - x1 * si;
                    x[2 * i + 1] = x0 * si + x1 * co;
                }
            }
        }
    }
}
MODEL_KERNEL(rope_part)

void model_rope_forward(float *qkv, const float *rope, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.x = qkv, .rope = rope, .B = B, .T = T, .C = C, .H = H, .sign = 1.0f};
    model_pool_run(p, rope_part(), &c);
}

void model_rope_backward(float *dqkv, const float *rope, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.x = dqkv, .rope = rope, .B = B, .T = T, .C = C, .H = H, .sign = -1.0f};
    model_pool_run(p, rope_part(), &c);
}

float model_alibi_slope(int h)
{
    return ldexpf(1.0f, 1 - h);
}

KERNEL_BODY attention_forward_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    (void)nth;
    for (long i; (i = model_pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        const float *q = c->qkv + b * T * C3 + h * hs;
        const float *k = q + C, *v = q + 2 * C;
        float *S = c->att + (c->keep ? bh : (size_t)tid) * T * T;
        /* S (T, T) = scale * q k^T; causal rows only need columns 0..t, but one full
         * sgemm is faster than T thin ones at these sizes. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3,
                    0.0f, S, T);
        const float slope = model_alibi_slope((int)h);
        for (int t = 0; t < T; t++) {
            float *row = S + (size_t)t * T;
            int n = c->causal ? t + 1 : T;
            for (int j = 0; j < n; j++) /* ALiBi: - slope * |t - j| */
                row[j] -= slope * (float)(j > t ? j - t : t - j);
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

void model_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                             int H, int causal, int keep, pool *p)
{
    att_ctx c = {.out = out,
                 .att = att,
                 .qkv = qkv,
                 .B = B,
                 .T = T,
                 .C = C,
                 .H = H,
                 .causal = causal,
                 .keep = keep};
    model_pool_run(p, attention_forward_part(), &c);
}

KERNEL_BODY attention_backward_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    float *dS = c->scratch + (size_t)tid * T * T;
    (void)nth;
    for (long i; (i = model_pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        size_t off = b * T * C3 + h * hs;
        const float *q = c->qkv + off, *k = q + C, *v = q + 2 * C;
        float *dq = c->dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
        const float *A = c->catt + bh * T * T;
        const float *dy = c->dout + b * T * C + h * hs;
        /* datt (T, T) = dy v^T; dv = att^T dy */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, C3, 0.0f,
                    dS, T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, A, T, dy, C, 0.0f,
                    dv, C3);
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
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, q, C3, 0.0f,
                    dk, C3);
    }
}
MODEL_KERNEL(attention_backward_part)

void model_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.dqkv = dqkv,
                 .scratch = scratch,
                 .dout = dout,
                 .qkv = qkv,
                 .catt = att,
                 .B = B,
                 .T = T,
                 .C = C,
                 .H = H};
    model_pool_run(p, attention_backward_part(), &c);
}
