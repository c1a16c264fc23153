/* adamw.c: the optimizer: warm-up then cosine learning rate, global gradient-norm
 * clipping and AdamW with decoupled weight decay over the one parameter buffer. */
#include "model_internal.h"

#include "fastmath.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The memset is called through a volatile pointer, or the compiler turns malloc and memset
 * back into calloc. */
static void *(*volatile const write_zeros)(void *, int, size_t) = memset;

float *model_alloc_floats(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n > (SIZE_MAX - huge) / sizeof(float))
        return NULL;
    size_t bytes = n * sizeof(float);
    if (bytes < 2 * huge)
        return malloc(bytes ? bytes : 1);
    bytes = (bytes + huge - 1) / huge * huge;
    void *p;
    if (posix_memalign(&p, huge, bytes))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advice: without it (or THP off) the pages are 4 KB */
#endif
    return p;
}

float *model_zeroed_floats(size_t n)
{
    float *p = model_alloc_floats(n);
    if (p)
        write_zeros(p, 0, n * sizeof(float));
    return p;
}

double model_lr(const model_optim *o, long step)
{
    if (step < 0)
        step = 0;
    if (o->warmup_steps > 0 && step < o->warmup_steps)
        return (double)o->lr * (double)(step + 1) / (double)o->warmup_steps;
    if (step >= o->total_steps)
        return o->min_lr;
    long span = o->total_steps - o->warmup_steps;
    double progress = span > 0 ? (double)(step - o->warmup_steps) / (double)span : 1.0;
    return o->min_lr + 0.5 * ((double)o->lr - o->min_lr) * (1.0 + cos(M_PI * progress));
}

#define NORM_SLICES 16 /* a multiple of 4 */

typedef struct adam_ctx {
    model *m;
    double partial[NORM_SLICES]; /* sums of squares of fixed slices of the gradients */
    float lr, b1, b2, eps, wd, clip_scale, bc1, bc2;
    atomic_long next; /* dynamic chunks (model_pool_chunk) */
} adam_ctx;

/* the norm over fixed slices, added in slice order: the same bits for any thread count */
KERNEL_BODY sumsq_part_body(void *arg, int tid, int nth)
{
    adam_ctx *c = arg;
    const float *g = c->m->grads_mem;
    (void)tid;
    (void)nth;
    /* four slices at a time, their four sums in step: each is still the plain sum of its
     * slice in order, but four chains of additions overlap where one would wait on the
     * last addition's latency */
    for (long q; (q = model_pool_next(&c->next, NORM_SLICES / 4)) >= 0;) {
        size_t lo[4], hi[4], len = SIZE_MAX;
        double s[4] = {0.0, 0.0, 0.0, 0.0};
        for (int k = 0; k < 4; k++) {
            model_pool_range(c->m->num_params, (int)q * 4 + k, NORM_SLICES, &lo[k], &hi[k]);
            len = hi[k] - lo[k] < len ? hi[k] - lo[k] : len;
        }
        for (size_t i = 0; i < len; i++)
            for (int k = 0; k < 4; k++)
                s[k] += (double)g[lo[k] + i] * g[lo[k] + i];
        for (int k = 0; k < 4; k++) {
            for (size_t i = lo[k] + len; i < hi[k]; i++)
                s[k] += (double)g[i] * g[i];
            c->partial[q * 4 + k] = s[k];
        }
    }
}
MODEL_KERNEL(sumsq_part)

KERNEL_BODY adam_part_body(void *arg, int tid, int nth)
{
    adam_ctx *c = arg;
    model *m = c->m;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, m->num_params, nth, 64, &lo, &hi)) {
        size_t start = 0;
        for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
            size_t end = start + m->param_sizes[t];
            size_t a = lo > start ? lo : start, b = hi < end ? hi : end;
            float wd = model_param_decays(t) ? c->wd : 0.0f;
            for (size_t i = a; i < b; i++) {
                float g = m->grads_mem[i] * c->clip_scale;
                float mm = c->b1 * m->m_mem[i] + (1.0f - c->b1) * g;
                float vv = c->b2 * m->v_mem[i] + (1.0f - c->b2) * g * g;
                m->m_mem[i] = mm;
                m->v_mem[i] = vv;
                float mhat = mm / c->bc1, vhat = vv / c->bc2;
                float p = m->params_mem[i];
                m->params_mem[i] = p - c->lr * (mhat / (sqrtf(vhat) + c->eps) + wd * p);
            }
            start = end;
        }
    }
}
MODEL_KERNEL(adam_part)

/* Names the first gradient tensor (and layer) holding a NaN or Inf. */
static int report_nonfinite_grads(model *m)
{
    const float *g = m->grads_mem;
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        size_t n = m->param_sizes[t];
        long at = model_first_nonfinite(g, n);
        if (at >= 0) {
            const char *kind = isnan(g[at]) ? "NaN" : "Inf";
            if (model_param_is_layered(t))
                return model_fail(m, MODEL_ENONFINITE,
                                  "step %ld: gradient of layer %ld %s "
                                  "is %s",
                                  m->step, at / (long)(n / m->cfg.layers), model_param_names[t],
                                  kind);
            return model_fail(m, MODEL_ENONFINITE, "step %ld: gradient of %s is %s", m->step,
                              model_param_names[t], kind);
        }
        g += n;
    }
    return model_fail(m, MODEL_ENONFINITE, "step %ld: gradient norm is not finite", m->step);
}

int model_update(model *m, const model_optim *o, float *grad_norm)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (!o)
        return model_fail(m, MODEL_EINVAL, "update: no optimizer settings");
    if (!(o->lr >= 0.0f) || !(o->beta1 >= 0.0f && o->beta1 < 1.0f) ||
        !(o->beta2 >= 0.0f && o->beta2 < 1.0f) || !(o->eps > 0.0f) ||
        !(o->weight_decay >= 0.0f) || isnan(o->grad_clip) || o->warmup_steps < 0 ||
        o->total_steps < o->warmup_steps)
        return model_fail(m, MODEL_EINVAL,
                          "bad optimizer settings (lr %g, betas %g/%g, eps "
                          "%g, weight decay %g, warm-up %ld, total %ld)",
                          (double)o->lr, (double)o->beta1, (double)o->beta2, (double)o->eps,
                          (double)o->weight_decay, o->warmup_steps, o->total_steps);
    if (!m->m_mem) {
        m->m_mem = model_zeroed_floats(m->num_params);
        m->v_mem = model_zeroed_floats(m->num_params);
        if (!m->m_mem || !m->v_mem) {
            free(m->m_mem);
            free(m->v_mem);
            m->m_mem = m->v_mem = NULL;
            return model_fail(m, MODEL_ENOMEM, "cannot allocate the AdamW moments");
        }
    }
    adam_ctx c = {.m = m};
    model_pool_run(m->pool, sumsq_part(), &c);
    double ss = 0.0;
    for (int t = 0; t < NORM_SLICES; t++)
        ss += c.partial[t];
    atomic_store(&c.next, 0);
    double norm = sqrt(ss);
    if (grad_norm)
        *grad_norm = (float)norm;
    if (!isfinite(norm))
        return report_nonfinite_grads(m);
    long t = m->step + 1;
    c.lr = (float)model_lr(o, m->step);
    c.b1 = o->beta1;
    c.b2 = o->beta2;
    c.eps = o->eps;
    c.wd = o->weight_decay;
    c.clip_scale = (o->grad_clip > 0.0f && norm > o->grad_clip)
                       ? (float)(o->grad_clip / (norm + 1e-6))
                       : 1.0f;
    c.bc1 = (float)(1.0 - pow(o->beta1, (double)t));
    c.bc2 = (float)(1.0 - pow(o->beta2, (double)t));
    model_pool_run(m->pool, adam_part(), &c);
    m->step = t;
    return MODEL_OK;
}
