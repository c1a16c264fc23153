/* libmask tests: the chain's closed forms (a_l, F_l, P_l) written independently of the
 * library, and output buffers with the chain's target and level arrays. */
#ifndef PYRAMASK_TESTS_MASK_CHAIN_FORMS_H
#define PYRAMASK_TESTS_MASK_CHAIN_FORMS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "mask.h"

enum { MAXL = MASK_MAX_CHAIN + 2 };

/* Closed forms: a_l = gamma^(m+1-l), F_l = p^(a_l) (F_0 = 1, F_{m+2} = 0), P_l = F_l - F_{l+1}
 * (as 1 - p^(a_{l+1} - a_l) times p^(a_l) for l in 1..m, to keep precision near p = 1). */
static inline double expo(int M, double g, int l)
{
    return l >= M + 1 ? 1.0 : pow(g, M + 1 - l);
}
static inline double cdf(int M, double g, int l, double p)
{
    return l == 0 ? 1.0 : l >= M + 2 ? 0.0 : pow(p, expo(M, g, l));
}
static inline double marginal(int M, double g, int l, double p)
{
    if (l == 0)
        return -expm1(expo(M, g, 1) * log(p));
    if (l == M + 1)
        return p;
    return -pow(p, expo(M, g, l)) * expm1((expo(M, g, l + 1) - expo(M, g, l)) * log(p));
}

typedef struct outbuf {
    int32_t *ids, *target;
    uint8_t *masked;
    float *weight;
    int8_t *type, *level;
    mask_out out;
} outbuf;

static inline void outbuf_init(outbuf *o, int n)
{
    o->ids = calloc((size_t)n, sizeof *o->ids);
    o->target = calloc((size_t)n, sizeof *o->target);
    o->masked = calloc((size_t)n, 1);
    o->weight = calloc((size_t)n, sizeof *o->weight);
    o->type = calloc((size_t)n, 1);
    o->level = calloc((size_t)n, 1);
    o->out = (mask_out){.ids = o->ids,
                        .masked = o->masked,
                        .weight = o->weight,
                        .type = o->type,
                        .target = o->target,
                        .level = o->level};
}

static inline void outbuf_free(outbuf *o)
{
    free(o->ids), free(o->target), free(o->masked), free(o->weight), free(o->type);
    free(o->level);
}

#endif
