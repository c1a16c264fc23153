/* Mask-type policies: how many of the K mask ids each policy needs, their display names, and
 * the type of every masked token (single, level, class, length, importance). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mask_internal.h"

#define MASK_TYPES_MAX 127 /* types are int8 */

static int needed_types(mask *m, int *need)
{
    const mask_settings *s = &m->s;
    switch (s->types) {
    case MASK_TYPES_SINGLE:
        *need = 1;
        return MASK_OK;
    case MASK_TYPES_LEVEL:
        if (s->n_levels < 1)
            return mask_fail(m, MASK_E_ARG,
                             "mask type policy 'level' needs n_levels >= 1 "
                             "coarser pyramid levels");
        *need = s->n_levels + 1;
        return MASK_OK;
    case MASK_TYPES_CLASS:
        *need = m->classes.n + 1;
        return MASK_OK;
    case MASK_TYPES_LENGTH:
        if (s->length_buckets < 1)
            return mask_fail(m, MASK_E_RANGE, "length_buckets = %d must be >= 1",
                             s->length_buckets);
        *need = s->length_buckets;
        return MASK_OK;
    case MASK_TYPES_IMPORTANCE:
        if (s->n_importance_edges < 0 || s->n_importance_edges > 8)
            return mask_fail(m, MASK_E_RANGE, "n_importance_edges = %d must be in 0..8",
                             s->n_importance_edges);
        for (int i = 0; i < s->n_importance_edges; i++)
            if (!isfinite(s->importance_edges[i]) || s->importance_edges[i] < 0 ||
                (i && s->importance_edges[i] <= s->importance_edges[i - 1]))
                return mask_fail(m, MASK_E_RANGE,
                                 "importance edges must be finite, >= 0 and "
                                 "ascending (edge %d = %g)",
                                 i, s->importance_edges[i]);
        *need = s->n_importance_edges + 1;
        return MASK_OK;
    default:
        return mask_fail(m, MASK_E_NAME, "unknown mask type policy %d", (int)s->types);
    }
}

static void name_type(mask *m, int k, char *out)
{
    const mask_settings *s = &m->s;
    int need = 0;
    needed_types(m, &need);
    if (k >= need) {
        snprintf(out, MASK_KEY_MAX, "type%d", k);
        return;
    }
    switch (s->types) {
    case MASK_TYPES_LEVEL:
        snprintf(out, MASK_KEY_MAX, "L%d", k);
        break;
    case MASK_TYPES_CLASS:
        snprintf(out, MASK_KEY_MAX, "%s", k == 0 ? "other" : m->classes.keys[k - 1]);
        break;
    case MASK_TYPES_LENGTH: {
        long lo = 1L << k, hi = (1L << (k + 1)) - 1;
        if (k == need - 1)
            snprintf(out, MASK_KEY_MAX, "len%ld+", lo);
        else if (lo == hi)
            snprintf(out, MASK_KEY_MAX, "len%ld", lo);
        else
            snprintf(out, MASK_KEY_MAX, "len%ld-%ld", lo, hi);
        break;
    }
    case MASK_TYPES_IMPORTANCE: {
        const double *e = s->importance_edges;
        int ne = s->n_importance_edges;
        if (ne == 0)
            snprintf(out, MASK_KEY_MAX, "imp");
        else if (k == 0)
            snprintf(out, MASK_KEY_MAX, "imp<%g", e[0]);
        else if (k == ne)
            snprintf(out, MASK_KEY_MAX, "imp>=%g", e[ne - 1]);
        else
            snprintf(out, MASK_KEY_MAX, "imp%g-%g", e[k - 1], e[k]);
        break;
    }
    default:
        snprintf(out, MASK_KEY_MAX, "mask");
        break;
    }
}

int mask_types_fixed(const mask_settings *s)
{
    switch (s->types) {
    case MASK_TYPES_SINGLE:
    case MASK_TYPES_CLASS:
    case MASK_TYPES_IMPORTANCE:
        return 1;
    case MASK_TYPES_LENGTH:
        return s->structure == MASK_STRUCT_TOKEN || s->structure == MASK_STRUCT_BLOCK ||
               s->structure == MASK_STRUCT_RESPONSE;
    default:
        return 0;
    }
}

int mask_types_resolve(mask *m)
{
    int need = 0, rc = needed_types(m, &need);
    if (rc)
        return rc;
    int K = m->s.n_types;
    if (K < 0 || K > MASK_TYPES_MAX)
        return mask_fail(m, MASK_E_RANGE, "K = %d mask types is outside 0..%d", K,
                         MASK_TYPES_MAX);
    if (K == 0)
        K = need;
    if (K < need)
        return mask_fail(m, MASK_E_K,
                         "mask type policy '%s' needs K >= %d mask types, got K "
                         "= %d",
                         mask_type_policy_name(m->s.types), need, K);
    if (need > MASK_TYPES_MAX)
        return mask_fail(m, MASK_E_K,
                         "mask type policy '%s' needs %d mask types, more than "
                         "%d",
                         mask_type_policy_name(m->s.types), need, MASK_TYPES_MAX);
    m->K = K;
    m->type_names = calloc((size_t)K, sizeof *m->type_names);
    if (!m->type_names)
        return mask_fail(m, MASK_E_NOMEM, "out of memory");
    for (int k = 0; k < K; k++)
        name_type(m, k, m->type_names[k]);
    return MASK_OK;
}

int mask_n_types(const mask *m)
{
    return m ? m->K : 0;
}

const char *mask_type_name(const mask *m, int k)
{
    return m && m->type_names && k >= 0 && k < m->K ? m->type_names[k] : NULL;
}

/* level: type = the coarsest level whose unit around the token is wholly masked. */
static void assign_levels(const mask_seq *seq, int n_levels, mask_out *out)
{
    for (int l = 1; l <= n_levels; l++) {
        const int32_t *u = seq->unit_of[l - 1];
        for (int a = 0, b; a < seq->n; a = b) {
            int whole = 1;
            for (b = a; b < seq->n && u[b] == u[a]; b++)
                whole &= out->masked[b];
            if (whole)
                for (int i = a; i < b; i++)
                    out->type[i] = (int8_t)l;
        }
    }
}

void mask_types_assign(const mask *m, const mask_seq *seq, const int *unit_start, int n_units,
                       const uint8_t *unit_masked, const double *tok_a, double mean_a,
                       const int *tok_key, mask_out *out)
{
    const mask_settings *s = &m->s;
    int n = seq->n;
    for (int i = 0; i < n; i++)
        out->type[i] = out->masked[i] ? 0 : -1;
    switch (s->types) {
    case MASK_TYPES_LEVEL:
        assign_levels(seq, s->n_levels, out);
        break;
    case MASK_TYPES_CLASS:
        for (int i = 0; i < n; i++)
            if (out->masked[i])
                out->type[i] = (int8_t)(tok_key[i] + 1);
        break;
    case MASK_TYPES_LENGTH:
        for (int u = 0; u < n_units; u++) {
            if (!unit_masked[u])
                continue;
            int len = unit_start[u + 1] - unit_start[u], bucket = 0;
            while (len >= 2 && bucket < s->length_buckets - 1)
                len >>= 1, bucket++;
            for (int i = unit_start[u]; i < unit_start[u + 1]; i++)
                out->type[i] = (int8_t)bucket;
        }
        break;
    case MASK_TYPES_IMPORTANCE:
        for (int i = 0; i < n; i++) {
            if (!out->masked[i])
                continue;
            double ratio = mean_a > 0 ? tok_a[i] / mean_a : 1.0;
            int k = 0;
            while (k < s->n_importance_edges && s->importance_edges[k] <= ratio)
                k++;
            out->type[i] = (int8_t)k;
        }
        break;
    default:
        break;
    }
}
