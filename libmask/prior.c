/* Per-type priors over the vocabulary: counts of the training tokens each mask type covers,
 * exported as Dirichlet-smoothed log-probabilities (K x V) for the denoiser's logits. */
#include <math.h>
#include <stdlib.h>

#include "mask_internal.h"

int mask_prior_add(mask *m, const mask_seq *seq, gsl_rng *r)
{
    mask_clear_error(m);
    if (!m || !seq)
        return mask_fail(m, MASK_E_ARG, "prior: NULL argument");
    int fixed = mask_types_fixed(&m->s);
    if (!fixed && !r)
        return mask_fail(m, MASK_E_ARG, "prior: this policy needs a gsl_rng");
    size_t V = (size_t)m->s.vocab_size, K = (size_t)m->K;
    if (!m->prior_counts) {
        m->prior_counts = calloc(K * V, sizeof *m->prior_counts);
        m->prior_totals = calloc(K, sizeof *m->prior_totals);
        if (!m->prior_counts || !m->prior_totals) {
            free(m->prior_counts), free(m->prior_totals);
            m->prior_counts = NULL, m->prior_totals = NULL;
            return mask_fail(m, MASK_E_NOMEM, "prior: out of memory");
        }
    }
    mask_out out;
    int rc = mask_census(m, seq, r, fixed, &out);
    if (rc)
        return rc;
    for (int i = 0; i < seq->n; i++) {
        if (!out.masked[i] || out.type[i] < 0)
            continue;
        size_t k = (size_t)out.type[i];
        m->prior_counts[k * V + (size_t)seq->ids[i]] += 1;
        m->prior_totals[k] += 1;
    }
    return MASK_OK;
}

int mask_prior_export(mask *m, float *logp)
{
    mask_clear_error(m);
    if (!m || !logp)
        return mask_fail(m, MASK_E_ARG, "prior: NULL argument");
    size_t V = (size_t)m->s.vocab_size, K = (size_t)m->K;
    double a = m->s.prior_alpha;
    for (size_t k = 0; k < K; k++) {
        double total = m->prior_totals ? m->prior_totals[k] : 0;
        double lz = log(total + a * (double)V);
        for (size_t v = 0; v < V; v++) {
            double c = m->prior_counts ? m->prior_counts[k * V + v] : 0;
            logp[k * V + v] = (float)(log(c + a) - lz);
        }
    }
    return MASK_OK;
}
