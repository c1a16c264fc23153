/* classifier.c: the SUBS output layer: projection of the masked rows onto the vocabulary,
 * per-type log-prior bias, fused log-softmax / cross-entropy and its backward; the rows of
 * description inputs go to restricted.c. Where the CPU has AVX2 and no AVX-512, the
 * projection runs a few rows at a time beside their softmax (model_gemm_panels). */
#include "layers.h"

#include "fastmath.h"

#include <math.h>
#include <string.h>

typedef struct cls_ctx {
    float *h, *logits, *lse, *logp, *tlse, *dlnf, *dbout;
    const float *lnf, *wout, *bout, *prior, *scale, *clse, *ctlse, *dh;
    const float *dscale; /* forward: with it, rows of a class target become their dlogits */
    float *pack;         /* forward: wout in panels (model_gemm_panels), or NULL */
    float *blocks;       /* forward with panels, logits not kept: a block of rows a thread */
    int fused;           /* backward: those rows are dlogits already */
    const int *rows;
    const int32_t *inp, *targets;
    int32_t *amax;
    const model_desc_rows *d;
    int M, C, V, K, W; /* W >= V output classes per full row; K mask ids (prior rows) */
    atomic_long next;  /* dynamic chunks (model_pool_chunk) */
} cls_ctx;

/* The members of a description target (d is set whenever a target can be one). */
static const int32_t *target_set(const model_desc_rows *d, int32_t tg, int *n)
{
    int e = tg - d->first_id;
    *n = d->start[e + 1] - d->start[e];
    return d->members + d->start[e];
}

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

/* a row of a class target: dlogits = g (softmax - onehot(tg)) in place of its logits */
static inline __attribute__((always_inline)) void
cls_dlogits_row(float *l, size_t V, int32_t tg, float g, float lse)
{
    if (g == 0.0f) {
        memset(l, 0, V * sizeof(float));
        return;
    }
    for (size_t j = 0; j < V; j++)
        l[j] = g * fast_expf(l[j] - lse);
    l[tg] -= g;
}

/* logits += bout + prior[k], then the row's log-sum-exp and the target's log-prob (a
 * description target: the log-sum-exp of its members, less the row's): rows [lo, hi),
 * whose logits start at lg */
KERNEL_BODY classifier_softmax_rows(cls_ctx *c, size_t lo, size_t hi, float *lg)
{
    const size_t V = (size_t)c->V, W = (size_t)c->W;
    const float *restrict bout = c->bout;
    for (size_t r = lo; r < hi; r++) {
        float *restrict l = lg + (r - lo) * W;
        int32_t id = c->inp[c->rows[r]];
        if (c->prior && (size_t)id >= V && (size_t)id - V < (size_t)c->K) {
            const float *restrict pr = c->prior + ((size_t)id - V) * V;
            for (size_t j = 0; j < V; j++)
                l[j] += bout[j] + pr[j];
            for (size_t j = V; j < W; j++)
                l[j] += bout[j];
        } else {
            for (size_t j = 0; j < W; j++)
                l[j] += bout[j];
        }
        float mx = vec_max(l, W);
        if (c->amax) { /* the first index of the largest over the vocabulary */
            float mv = W == V ? mx : vec_max(l, V);
            size_t j = 0;
            while (j + 1 < V && l[j] != mv)
                j++;
            c->amax[r] = (int32_t)j;
        }
        float sum = vec_expsum(NULL, l, W, mx);
        float lse = mx + logf(sum);
        c->lse[r] = lse;
        if (c->logp) {
            int32_t tg = c->targets[c->rows[r]];
            if ((size_t)tg < W) {
                c->logp[r] = l[tg] - lse;
                if (c->dscale) /* the backward's dlogits, while the row is in cache */
                    cls_dlogits_row(l, W, tg, c->dscale[r], lse);
            } else {
                int n;
                const int32_t *A = target_set(c->d, tg, &n);
                float tl = model_lse_at(l, A, n);
                c->tlse[r] = tl;
                c->logp[r] = tl - lse;
            }
        }
    }
}

KERNEL_BODY classifier_softmax_part_body(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->M, nth, 1, &lo, &hi))
        classifier_softmax_rows(c, lo, hi, c->logits + lo * (size_t)c->W);
}
MODEL_KERNEL(classifier_softmax_part)

/* The product in panels (model_gemm_panels): CLS_BLOCK rows' logits are made and at once
 * taken through their softmax, while they are in cache; the weight is packed first, its
 * panels shared among the threads. */
#define CLS_BLOCK 12

static void classifier_pack_part(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    const size_t nq = ((size_t)c->W + MODEL_PANEL - 1) / MODEL_PANEL;
    while (model_pool_chunk(&c->next, nq, nth, 1, &lo, &hi))
        model_pack_panels(c->wout, c->W, c->C, c->C, c->pack, (int)lo, (int)hi);
}

KERNEL_BODY classifier_fused_part_body(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    (void)nth;
    const size_t W = (size_t)c->W;
    const long nb = ((long)c->M + CLS_BLOCK - 1) / CLS_BLOCK;
    for (long b; (b = model_pool_next(&c->next, nb)) >= 0;) {
        size_t lo = (size_t)b * CLS_BLOCK,
               hi = lo + CLS_BLOCK < (size_t)c->M ? lo + CLS_BLOCK : (size_t)c->M;
        /* logits not kept: the thread's own block, which stays in cache from one block to
         * the next, where fresh lines of the logits would each be fetched from memory */
        float *lg = c->blocks ? c->blocks + (size_t)tid * CLS_BLOCK * W : c->logits + lo * W;
        model_gemm_panels((int)(hi - lo), c->W, c->C, c->h + lo * (size_t)c->C, c->C, c->pack,
                          lg, c->W);
        classifier_softmax_rows(c, lo, hi, lg);
    }
}
MODEL_KERNEL(classifier_fused_part)

void model_classifier_forward(float *h, float *logits, float *lse, float *logp, float *tlse,
                              int32_t *amax, const float *lnf, const int *rows,
                              const int32_t *inp, const int32_t *targets, const float *wout,
                              const float *bout, const float *prior, const model_desc_rows *d,
                              const float *dscale, int keep, int M, int Mf, int C, int V, int K,
                              int W, pool *p)
{
    if (M == 0)
        return;
    cls_ctx c = {.h = h,
                 .logits = logits,
                 .lse = lse,
                 .logp = targets ? logp : NULL,
                 .tlse = tlse,
                 .lnf = lnf,
                 .rows = rows,
                 .inp = inp,
                 .targets = targets,
                 .amax = amax,
                 .wout = wout,
                 .bout = bout,
                 .prior = prior,
                 .d = d,
                 .dscale = targets ? dscale : NULL,
                 .M = M,
                 .C = C,
                 .V = V,
                 .K = K,
                 .W = W};
    model_pool_run(p, classifier_gather_part(), &c);
    if (Mf > 0) {
        c.M = Mf;
        size_t nq = ((size_t)W + MODEL_PANEL - 1) / MODEL_PANEL, np = nq * MODEL_PANEL * C;
        size_t nbl = keep ? 0 : (size_t)model_pool_size(p) * CLS_BLOCK * W;
        c.pack = model_panels_wanted() ? model_pool_scratch(p, np + nbl) : NULL;
        c.blocks = c.pack && !keep ? c.pack + np : NULL;
        if (c.pack) {
            atomic_store(&c.next, 0);
            model_pool_run(p, classifier_pack_part, &c);
            atomic_store(&c.next, 0);
            model_pool_run(p, classifier_fused_part(), &c);
        } else {
            model_gemm(0, 1, Mf, W, C, 1.0f, h, C, wout, C, 0.0f, logits, W, p);
            atomic_store(&c.next, 0);
            model_pool_run(p, classifier_softmax_part(), &c);
        }
    }
    model_restricted_forward(logits, lse, logp, tlse, h, rows, targets, wout, bout, d, C, V, p);
}

/* dlogits = scale * (softmax - onehot(target)), in place; a description target A:
 * scale * (softmax - softmax_A 1[A]) */
KERNEL_BODY classifier_dlogits_part_body(void *arg, int tid, int nth)
{
    cls_ctx *c = arg;
    size_t lo, hi;
    while (model_pool_chunk(&c->next, (size_t)c->M, nth, 1, &lo, &hi)) {
        const size_t V = (size_t)c->W; /* the row's classes */
        for (size_t r = lo; r < hi; r++) {
            float *l = c->logits + r * V;
            float g = c->scale[r], lse = c->clse[r];
            int32_t tg = c->targets[c->rows[r]];
            if ((size_t)tg < V) {
                if (!c->fused)
                    cls_dlogits_row(l, V, tg, g, lse);
                continue;
            }
            if (g == 0.0f) {
                memset(l, 0, V * sizeof(float));
                continue;
            }
            int n;
            const int32_t *A = target_set(c->d, tg, &n);
            float *saved = c->d->scratch + (size_t)tid * c->d->stride;
            for (int i = 0; i < n; i++)
                saved[i] = l[A[i]];
            for (size_t j = 0; j < V; j++)
                l[j] = g * fast_expf(l[j] - lse);
            for (int i = 0; i < n; i++)
                l[A[i]] -= g * fast_expf(saved[i] - c->ctlse[r]);
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
                               float *logits, const float *lse, const float *tlse,
                               const float *h, const int *rows, const int32_t *targets,
                               const float *scale, const float *wout, const model_desc_rows *d,
                               int fused, int M, int Mf, int C, int V, int W, pool *p)
{
    if (M == 0)
        return;
    cls_ctx c = {.fused = fused,
                 .logits = logits,
                 .clse = lse,
                 .ctlse = tlse,
                 .rows = rows,
                 .targets = targets,
                 .scale = scale,
                 .dbout = dbout,
                 .dlnf = dlnf,
                 .dh = dh,
                 .d = d,
                 .M = Mf,
                 .C = C,
                 .V = V,
                 .W = W};
    if (Mf > 0) {
        model_pool_run(p, classifier_dlogits_part(), &c);
        model_bias_backward(dbout, logits, Mf, W, p);
        model_gemm(0, 0, Mf, C, W, 1.0f, logits, W, wout, C, 0.0f, dh, C, p);
        model_gemm(1, 0, W, C, Mf, 1.0f, logits, W, h, C, 1.0f, dwout, C, p);
    }
    model_restricted_backward(dwout, dbout, dh, logits, lse, tlse, h, rows, targets, scale,
                              wout, d, C, V, p);
    c.M = M;
    atomic_store(&c.next, 0);
    model_pool_run(p, classifier_scatter_part, &c);
}
