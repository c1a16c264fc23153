/* restricted.c: the output layer of the positions holding a description: a softmax over
 * its members only, one small product per description, and its backward. */
#include "layers.h"

#include "fastmath.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* The indices k into the increasing s[0..ns) whose s[k] is in the increasing a[0..na),
 * increasing, into idx; returns how many. Binary searches from the smaller side. */
int model_intersect(int32_t *idx, const int32_t *a, int na, const int32_t *s, int ns)
{
    int n = 0;
    if (na <= ns) {
        int lo = 0; /* a is increasing: each search starts where the last one ended */
        for (int i = 0; i < na; i++) {
            int hi = ns;
            while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (s[mid] < a[i])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < ns && s[lo] == a[i])
                idx[n++] = lo;
        }
    } else {
        int lo = 0;
        for (int k = 0; k < ns; k++) {
            int hi = na;
            while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (a[mid] < s[k])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < na && a[lo] == s[k])
                idx[n++] = k;
        }
    }
    return n;
}

float model_lse_at(const float *l, const int32_t *idx, int n)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = l[idx[i]] > mx ? l[idx[i]] : mx;
    if (mx == -INFINITY)
        return -INFINITY; /* an empty set, or every member banned */
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += fast_expf(l[idx[i]] - mx);
    return mx + logf(sum);
}

typedef struct rs_ctx {
    float *logits, *lse, *logp, *tlse, *dh, *dwout, *dbout;
    const float *h, *wout, *bout, *scale;
    const int *rows;
    const int32_t *targets;
    const model_desc_rows *d;
    int C, V, g0, g1; /* the groups [g0, g1) of this run */
    atomic_long next;
} rs_ctx;

/* Per-thread scratch: W (max, C) the members' rows of wout, dW (max, C), saved (max) logits
 * of the target's set, idx (max) their indices. */
static float *scratch_w(const model_desc_rows *d, int tid)
{
    return d->scratch + (size_t)tid * d->stride;
}

static int32_t *scratch_idx(const model_desc_rows *d, int tid, int C)
{
    return (int32_t *)(scratch_w(d, tid) + 2 * (size_t)d->max * C + (size_t)d->max);
}

static float *scratch_saved(const model_desc_rows *d, int tid, int C)
{
    return scratch_w(d, tid) + 2 * (size_t)d->max * C;
}

/* W (s, C) = wout[S] */
static void gather_rows(float *W, const float *wout, const int32_t *S, int s, int C)
{
    for (int i = 0; i < s; i++)
        memcpy(W + (size_t)i * C, wout + (size_t)S[i] * C, (size_t)C * sizeof(float));
}

/* Group g's logits (rows x s) = h[rows] W^T + bout[S], each row's log-sum-exp, and with
 * targets the log-prob of the target's set. */
KERNEL_BODY restricted_forward_part_body(void *arg, int tid, int nth)
{
    rs_ctx *c = arg;
    const model_desc_rows *d = c->d;
    const int C = c->C, V = c->V;
    float *W = scratch_w(d, tid);
    int32_t *idx = scratch_idx(d, tid, C);
    (void)nth;
    for (long g; (g = model_pool_next(&c->next, c->g1 - c->g0)) >= 0;) {
        g += c->g0;
        const int e = d->grp_desc[g], r0 = d->grp_first[g], r1 = d->grp_first[g + 1];
        const int32_t *S = d->members + d->start[e];
        const int s = d->start[e + 1] - d->start[e];
        float *L = c->logits + d->row_off[r0];
        gather_rows(W, c->wout, S, s, C);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, s, C, 1.0f,
                    c->h + (size_t)r0 * C, C, W, C, 0.0f, L, s);
        for (int r = r0; r < r1; r++) {
            float *restrict l = L + (size_t)(r - r0) * s;
            for (int i = 0; i < s; i++)
                l[i] += c->bout[S[i]];
            float mx = vec_max(l, (size_t)s);
            float lse = mx + logf(vec_expsum(NULL, l, (size_t)s, mx));
            c->lse[r] = lse;
            if (!c->logp)
                continue;
            int32_t tg = c->targets[c->rows[r]];
            if (tg < V) {
                int k = model_find(S, s, tg);
                c->logp[r] = k >= 0 ? l[k] - lse : -INFINITY;
            } else {
                int te = tg - d->first_id;
                const int32_t *A = d->members + d->start[te];
                int n = model_intersect(idx, A, d->start[te + 1] - d->start[te], S, s);
                float tl = model_lse_at(l, idx, n);
                c->tlse[r] = tl;
                c->logp[r] = tl - lse;
            }
        }
    }
}
MODEL_KERNEL(restricted_forward_part)

void model_restricted_forward(float *logits, float *lse, float *logp, float *tlse,
                              const float *h, const int *rows, const int32_t *targets,
                              const float *wout, const float *bout, const model_desc_rows *d,
                              int C, int V, pool *p)
{
    if (!d || d->n_groups == 0)
        return;
    rs_ctx c = {.logits = logits,
                .lse = lse,
                .logp = targets ? logp : NULL,
                .tlse = tlse,
                .h = h,
                .wout = wout,
                .bout = bout,
                .rows = rows,
                .targets = targets,
                .d = d,
                .C = C,
                .V = V,
                .g0 = 0,
                .g1 = d->n_groups};
    model_pool_run(p, restricted_forward_part(), &c);
}

/* dlogits of group g in place (scale * (softmax_S - softmax_{A n S})), dh of its rows, and
 * its members' rows of dwout and dbout (no other group of the run shares a member). */
KERNEL_BODY restricted_backward_part_body(void *arg, int tid, int nth)
{
    rs_ctx *c = arg;
    const model_desc_rows *d = c->d;
    const int C = c->C, V = c->V;
    float *W = scratch_w(d, tid), *dW = W + (size_t)d->max * C;
    float *saved = scratch_saved(d, tid, C);
    int32_t *idx = scratch_idx(d, tid, C);
    (void)nth;
    for (long g; (g = model_pool_next(&c->next, c->g1 - c->g0)) >= 0;) {
        g += c->g0;
        const int e = d->grp_desc[g], r0 = d->grp_first[g], r1 = d->grp_first[g + 1];
        const int R = r1 - r0;
        const int32_t *S = d->members + d->start[e];
        const int s = d->start[e + 1] - d->start[e];
        float *L = c->logits + d->row_off[r0];
        for (int r = r0; r < r1; r++) {
            float *restrict l = L + (size_t)(r - r0) * s;
            const float gr = c->scale[r], lse = c->lse[r];
            if (gr == 0.0f) {
                memset(l, 0, (size_t)s * sizeof(float));
                continue;
            }
            int32_t tg = c->targets[c->rows[r]];
            if (tg < V) {
                int k = model_find(S, s, tg);
                for (int i = 0; i < s; i++)
                    l[i] = gr * fast_expf(l[i] - lse);
                if (k >= 0)
                    l[k] -= gr;
            } else {
                int te = tg - d->first_id;
                int n = model_intersect(idx, d->members + d->start[te],
                                        d->start[te + 1] - d->start[te], S, s);
                for (int i = 0; i < n; i++)
                    saved[i] = l[idx[i]];
                for (int i = 0; i < s; i++)
                    l[i] = gr * fast_expf(l[i] - lse);
                for (int i = 0; i < n; i++)
                    l[idx[i]] -= gr * fast_expf(saved[i] - c->tlse[r]);
            }
        }
        gather_rows(W, c->wout, S, s, C);
        /* dh (R, C) = dlogits W; dW (s, C) = dlogits^T h */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, C, s, 1.0f, L, s, W, C, 0.0f,
                    c->dh + (size_t)r0 * C, C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s, C, R, 1.0f, L, s,
                    c->h + (size_t)r0 * C, C, 0.0f, dW, C);
        for (int i = 0; i < s; i++) {
            float *restrict dw = c->dwout + (size_t)S[i] * C;
            const float *restrict src = dW + (size_t)i * C;
            for (int k = 0; k < C; k++)
                dw[k] += src[k];
            float sum = 0.0f;
            for (int r = 0; r < R; r++)
                sum += L[(size_t)r * s + i];
            c->dbout[S[i]] += sum;
        }
    }
}
MODEL_KERNEL(restricted_backward_part)

void model_restricted_backward(float *dwout, float *dbout, float *dh, float *logits,
                               const float *lse, const float *tlse, const float *h,
                               const int *rows, const int32_t *targets, const float *scale,
                               const float *wout, const model_desc_rows *d, int C, int V,
                               pool *p)
{
    if (!d || d->n_groups == 0)
        return;
    rs_ctx c = {.logits = logits,
                .lse = (float *)lse,
                .tlse = (float *)tlse,
                .dh = dh,
                .dwout = dwout,
                .dbout = dbout,
                .h = h,
                .wout = wout,
                .scale = scale,
                .rows = rows,
                .targets = targets,
                .d = d,
                .C = C,
                .V = V};
    /* the groups come in (colour, description) order; one run per colour, so that the
     * groups running together never add to the same row of dwout, and every row gets its
     * colours' additions in colour order, whatever the threads */
    for (int g0 = 0; g0 < d->n_groups;) {
        int colour = d->colour[d->grp_desc[g0]], g1 = g0 + 1;
        while (g1 < d->n_groups && d->colour[d->grp_desc[g1]] == colour)
            g1++;
        c.g0 = g0;
        c.g1 = g1;
        atomic_store(&c.next, 0);
        model_pool_run(p, restricted_backward_part(), &c);
        g0 = g1;
    }
}
