/* classifier.c: the SUBS output layer: projection of the masked rows onto the vocabulary,
 * per-type log-prior bias, fused log-softmax / cross-entropy and its backward. */
#include "layers.h"

#include "fastmath.h"

#include <math.h>
#include <string.h>

typedef struct cls_ctx {
    float *h, *logits, *lse, *logp, *dlnf, *dbout;
    const float *lnf, *wout, *bout, *prior, *scale, *clse, *dh;
    const int *rows;
    const int32_t *inp, *targets;
    int M, C, V;
    atomic_long next; /* dynamic chunks (model_pool_chunk) */
} cls_ctx;

/* h = lnf[rows] */
KERNEL_BODY classifier_gather_part_body(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->M, nth, 1, &lo, &hi)) {
        const size_t C = (size_t)c->C;
        for (size_t r = lo; r < hi; r++)
            memcpy(c->h + r * C, c->lnf + (size_t)c->rows[r] * C, C * sizeof(float));
    }
}
MODEL_KERNEL(classifier_gather_part)

/* logits += bout + prior[k], then the row's log-sum-exp and the target's log-prob */
KERNEL_BODY classifier_softmax_part_body(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->M, nth, 1, &lo, &hi)) {
        const size_t V = (size_t)c->V;
        const float *restrict bout = c->bout;
        for (size_t r = lo; r < hi; r++) {
            float *restrict l = c->logits + r * V;
            int32_t id = c->inp[c->rows[r]];
            if (c->prior && (size_t)id >= V) {
                const float *restrict pr = c->prior + ((size_t)id - V) * V;
                for (size_t j = 0; j < V; j++)
                    l[j] += bout[j] + pr[j];
            } else {
                for (size_t j = 0; j < V; j++)
                    l[j] += bout[j];
            }
            float mx = vec_max(l, V);
            float sum = vec_expsum(NULL, l, V, mx);
            float lse = mx + logf(sum);
            c->lse[r] = lse;
            if (c->logp)
                c->logp[r] = l[c->targets[c->rows[r]]] - lse;
        }
    }
}
MODEL_KERNEL(classifier_softmax_part)

void model_classifier_forward(float *h, float *logits, float *lse, float *logp,
                              const float *lnf, const int *rows, const int32_t *inp,
                              const int32_t *targets, const float *wout, const float *bout,
                              const float *prior, int M, int C, int V, pool *p)
{
    if (M == 0)
        return;
    cls_ctx c = {.h = h,
                 .logits = logits,
                 .lse = lse,
                 .logp = targets ? logp : NULL,
                 .lnf = lnf,
                 .rows = rows,
                 .inp = inp,
                 .targets = targets,
                 .wout = wout,
                 .bout = bout,
                 .prior = prior,
                 .M = M,
                 .C = C,
                 .V = V};
    model_pool_run(p, classifier_gather_part(), &c);
    model_gemm(0, 1, M, V, C, 1.0f, h, C, wout, C, 0.0f, logits, V, p);
    atomic_store(&c.next, 0);
    model_pool_run(p, classifier_softmax_part(), &c);
}

/* dlogits = scale * (softmax - onehot(target)), in place */
KERNEL_BODY classifier_dlogits_part_body(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->M, nth, 1, &lo, &hi)) {
        const size_t V = (size_t)c->V;
        for (size_t r = lo; r < hi; r++) {
            float *l = c->logits + r * V;
            float g = c->scale[r], lse = c->clse[r];
            if (g == 0.0f) {
                memset(l, 0, V * sizeof(float));
                continue;
            }
            for (size_t j = 0; j < V; j++)
                l[j] = g * fast_expf(l[j] - lse);
            l[c->targets[c->rows[r]]] -= g;
        }
    }
}
MODEL_KERNEL(classifier_dlogits_part)

static void classifier_scatter_part(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->M, nth, 1, &lo, &hi)) {
        const size_t C = (size_t)c->C;
        for (size_t r = lo; r < hi; r++) {
            float *d = c->dlnf + (size_t)c->rows[r] * C;
            const float *s = c->dh + r * C;
            for (size_t i = 0; i < C; i++)
                d[i] += s[i];
        }
    }
}

void model_classifier_backward(float *dlnf, float *dwout, float *dbout, float *dh,
                               float *logits, const float *lse, const float *h, const int *rows,
                               const int32_t *targets, const float *scale, const float *wout,
                               int M, int C, int V, pool *p)
{
    if (M == 0)
        return;
    cls_ctx c = {.logits = logits,
                 .clse = lse,
                 .rows = rows,
                 .targets = targets,
                 .scale = scale,
                 .dbout = dbout,
                 .dlnf = dlnf,
                 .dh = dh,
                 .M = M,
                 .C = C,
                 .V = V};
    model_pool_run(p, classifier_dlogits_part(), &c);
    model_bias_backward(dbout, logits, M, V, p);
    model_gemm(0, 0, M, C, V, 1.0f, logits, V, wout, C, 0.0f, dh, C, p);
    model_gemm(1, 0, V, C, M, 1.0f, logits, V, h, C, 1.0f, dwout, C, p);
    atomic_store(&c.next, 0);
    model_pool_run(p, classifier_scatter_part, &c);
}
