/* The coarse-to-fine chain: the caller's maps copied and composed, the input id layout, the
 * hop probabilities F_l = p^(a_l), their exact ELBO weights, and the sampler's reverse kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"

void mask_chain_free(mask *m)
{
    for (int l = 0; l < MASK_MAX_CHAIN; l++) {
        free(m->chain_map[l]);
        free(m->chain_desc[l]);
        m->chain_map[l] = m->chain_desc[l] = NULL;
    }
}

int mask_chain_setup(mask *m)
{
    mask_settings *s = &m->s;
    int V = s->vocab_size, M = s->chain_length;
    if (M < 0 || M > MASK_MAX_CHAIN)
        return mask_fail(m, MASK_E_RANGE, "chain_length = %d is outside 0..%d", M,
                         MASK_MAX_CHAIN);
    m->chain_m = M;
    if (M > 0 && !(s->chain_shape > 0 && s->chain_shape < 1))
        return mask_fail(m, MASK_E_RANGE, "chain_shape = %g must be in (0, 1)", s->chain_shape);
    if (M > 0 && !mask_types_fixed(s))
        return mask_fail(m, MASK_E_ARG,
                         "mask type policy '%s'%s%s cannot be combined with a chain: a "
                         "[MASK]'s type must be fixed by its own token before the corruption "
                         "(single, class, importance; length with single-token units)",
                         mask_type_policy_name(s->types),
                         s->types == MASK_TYPES_LENGTH ? " with structure " : "",
                         s->types == MASK_TYPES_LENGTH ? mask_structure_name(s->structure)
                                                       : "");
    /* exponents: a_{m+1} = 1, a_l = gamma^(m+1-l); a[0] and a[m+2] are unused */
    for (int l = 1; l <= M + 1; l++)
        m->chain_a[l] = l == M + 1 ? 1.0 : pow(s->chain_shape, M + 1 - l);
    int64_t next = (int64_t)V + m->K;
    m->level_first[0] = 0;
    m->level_size[0] = V;
    for (int l = 1; l <= M; l++) {
        int from = m->level_size[l - 1], D = s->chain_size[l - 1];
        const int32_t *map = s->chain_map[l - 1];
        if (D < 1)
            return mask_fail(m, MASK_E_RANGE, "chain stage %d: size %d must be >= 1", l, D);
        if (!map)
            return mask_fail(m, MASK_E_ARG, "chain stage %d: no map given", l);
        for (int i = 0; i < from; i++)
            if (map[i] < 0 || map[i] >= D)
                return mask_fail(m, MASK_E_RANGE,
                                 "chain stage %d: map[%d] = %d is outside [0, %d) (the map "
                                 "takes %s %d ids)",
                                 l, i, (int)map[i], D, l == 1 ? "the" : "the previous stage's",
                                 from);
        if (next + D > INT32_MAX)
            return mask_fail(m, MASK_E_RANGE, "chain stage %d: the input ids overflow int32",
                             l);
        m->chain_map[l - 1] = malloc((size_t)from * sizeof *map);
        m->chain_desc[l - 1] = malloc((size_t)V * sizeof *map);
        if (!m->chain_map[l - 1] || !m->chain_desc[l - 1])
            return mask_fail(m, MASK_E_NOMEM, "chain: out of memory");
        memcpy(m->chain_map[l - 1], map, (size_t)from * sizeof *map);
        for (int v = 0; v < V; v++) /* compose: token -> stage l */
            m->chain_desc[l - 1][v] = map[l == 1 ? v : m->chain_desc[l - 2][v]];
        m->level_first[l] = (int)next;
        m->level_size[l] = D;
        next += D;
    }
    m->level_first[M + 1] = V;
    m->level_size[M + 1] = m->K;
    m->n_inputs = (int)next;
    for (int l = 0; l < MASK_MAX_CHAIN; l++) /* copied: the handle keeps no borrowed pointer */
        s->chain_map[l] = NULL;
    return MASK_OK;
}

/* F_l = p^(a_l) for l = 1..m+1 into F[1..m+1]; F[0] = 1 and F[m+2] = 0. */
void mask_chain_fill_cdf(const mask *m, double p, double *F)
{
    int M = m->chain_m;
    F[0] = 1.0;
    for (int l = 1; l <= M; l++)
        F[l] = p > 0 ? pow(p, m->chain_a[l]) : 0.0;
    F[M + 1] = p;
    F[M + 2] = 0.0;
}

int mask_chain_level(const mask *m, double U, double p, const double *F)
{
    int M = m->chain_m;
    if (U < p) /* exactly the flat corruption's test */
        return M + 1;
    for (int l = M; l >= 1; l--)
        if (U < (F ? F[l] : p > 0 ? pow(p, m->chain_a[l]) : 0.0))
            return l;
    return 0;
}

double mask_chain_hop_weight(const mask *m, int l, double p, double w)
{
    int M = m->chain_m;
    if (l >= M + 1)
        return w;
    if (!(p > 0 && p < 1))
        return HUGE_VAL; /* level l <= m has probability 0 at p = 0 or 1 */
    /* F_l' / (F_l - F_{l+1}) = a_l (p'/p) / (1 - p^(a_{l+1} - a_l)), without cancellation */
    double gap = -expm1((m->chain_a[l + 1] - m->chain_a[l]) * log(p));
    return m->chain_a[l] * w / gap;
}

int mask_n_inputs(const mask *m)
{
    return m ? m->n_inputs : 0;
}

int mask_chain_length(const mask *m)
{
    return m ? m->chain_m : 0;
}

int mask_level_first_id(const mask *m, int level)
{
    return m && level >= 0 && level <= m->chain_m + 1 ? m->level_first[level] : -1;
}

int mask_level_size(const mask *m, int level)
{
    return m && level >= 0 && level <= m->chain_m + 1 ? m->level_size[level] : -1;
}

const int32_t *mask_chain_map(const mask *m, int stage)
{
    return m && stage >= 1 && stage <= m->chain_m ? m->chain_map[stage - 1] : NULL;
}

const int32_t *mask_chain_descriptions(const mask *m, int stage)
{
    return m && stage >= 1 && stage <= m->chain_m ? m->chain_desc[stage - 1] : NULL;
}

int32_t mask_chain_describe(const mask *m, int32_t token, int stage)
{
    if (!m || token < 0 || token >= m->s.vocab_size || stage < 0 || stage > m->chain_m)
        return -1;
    return stage == 0 ? token : m->chain_desc[stage - 1][token];
}

int mask_chain_cdf(mask *m, double p, double *F)
{
    mask_clear_error(m);
    if (!m || !F)
        return mask_fail(m, MASK_E_ARG, "chain cdf: NULL argument");
    if (!(p >= 0 && p <= 1))
        return mask_fail(m, MASK_E_RANGE, "chain cdf: p = %g is outside [0, 1]", p);
    double all[MASK_MAX_CHAIN + 3];
    mask_chain_fill_cdf(m, p, all);
    memcpy(F, all + 1, (size_t)(m->chain_m + 1) * sizeof *F);
    return MASK_OK;
}

int mask_chain_weights(mask *m, double p, double dp, double *w)
{
    mask_clear_error(m);
    if (!m || !w)
        return mask_fail(m, MASK_E_ARG, "chain weights: NULL argument");
    if (!(p >= 0 && p <= 1) || !isfinite(dp))
        return mask_fail(m, MASK_E_RANGE, "chain weights: p = %g, p' = %g", p, dp);
    double flat = p > 0 ? dp / p : HUGE_VAL;
    for (int l = 1; l <= m->chain_m + 1; l++)
        w[l - 1] = p > 0 ? mask_chain_hop_weight(m, l, p, flat) : HUGE_VAL;
    return MASK_OK;
}

int mask_chain_kernel(mask *m, double p_s, double p_t, double *kernel)
{
    mask_clear_error(m);
    if (!m || !kernel)
        return mask_fail(m, MASK_E_ARG, "chain kernel: NULL argument");
    if (!(p_s >= 0 && p_s <= p_t && p_t <= 1))
        return mask_fail(m, MASK_E_RANGE,
                         "chain kernel: p_s = %g, p_t = %g must satisfy 0 <= p_s <= p_t <= 1",
                         p_s, p_t);
    int L = m->chain_m + 2;
    double Fs[MASK_MAX_CHAIN + 3], Ft[MASK_MAX_CHAIN + 3];
    mask_chain_fill_cdf(m, p_s, Fs);
    mask_chain_fill_cdf(m, p_t, Ft);
    for (int l = 0; l < L; l++) {
        double *row = kernel + (size_t)l * L, lo = Ft[l + 1], hi = Ft[l], mass = hi - lo;
        for (int j = 0; j < L; j++) {
            double a = lo > Fs[j + 1] ? lo : Fs[j + 1], b = hi < Fs[j] ? hi : Fs[j];
            row[j] = mass > 0 && b > a ? (b - a) / mass : 0.0;
        }
        if (!(mass > 0)) /* a level that cannot occur at t: stays where it is */
            row[l] = 1.0;
    }
    return MASK_OK;
}

mask_schedule mask_chain_scoring_schedule(const mask *m)
{
    /* p ~ t^k near 0 with k = 2 / a_1: the hop-1 term's variance integrand is then t^(k a_1 - 2)
     * = t^0; sinpow's p'(1) = 0 keeps the intermediate hops finite near t = 1 */
    double a1 = m && m->chain_m > 0 ? m->chain_a[1] : 1.0;
    return (mask_schedule){mask_schedule_sinpow, 2.0 / a1, 0, 1};
}
