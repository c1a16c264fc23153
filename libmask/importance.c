/* Importance annotations: per-token weights (rules, idf, surprisal, the caller's loss), the
 * corpus statistics behind them, and the bent per-unit schedules with their exact weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "mask_internal.h"

int mask_corpus_add(mask *m, const int32_t *ids, int n)
{
    mask_clear_error(m);
    if (!m || (!ids && n > 0) || n < 0)
        return mask_fail(m, MASK_E_ARG, "corpus: bad arguments");
    int V = m->s.vocab_size;
    if (!m->df) {
        m->df = calloc((size_t)V, sizeof *m->df);
        m->unigram = calloc((size_t)V, sizeof *m->unigram);
        m->last_doc = malloc((size_t)V * sizeof *m->last_doc);
        if (!m->df || !m->unigram || !m->last_doc) {
            free(m->df), free(m->unigram), free(m->last_doc);
            m->df = NULL, m->unigram = NULL, m->last_doc = NULL;
            return mask_fail(m, MASK_E_NOMEM, "corpus: out of memory");
        }
        for (int v = 0; v < V; v++)
            m->last_doc[v] = -1;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return mask_fail(m, MASK_E_INPUT, "corpus: token %d has id %d outside [0, %d)", i,
                             (int)ids[i], V);
    int32_t doc = (int32_t)m->n_docs;
    for (int i = 0; i < n; i++) {
        int32_t v = ids[i];
        m->unigram[v] += 1;
        if (m->last_doc[v] != doc) {
            m->last_doc[v] = doc;
            m->df[v]++;
        }
    }
    m->n_docs++;
    m->n_tokens += n;
    return MASK_OK;
}

static int check_weights(mask *m, const double *a, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(a[i]) || a[i] < 0)
            return mask_fail(m, MASK_E_WEIGHT, "%s %d has weight %g (must be finite and >= 0)",
                             what, i, a[i]);
    return MASK_OK;
}

int mask_token_importance(mask *m, const mask_seq *seq, double *a)
{
    int n = seq->n, V = m->s.vocab_size;
    if (seq->importance) {
        for (int i = 0; i < n; i++)
            a[i] = seq->importance[i];
        return check_weights(m, a, n, "importance of token");
    }
    switch (m->s.importance) {
    case MASK_IMPORTANCE_RULES:
        mask_rules_token_keys(&m->imp_rules, m->md, seq, m->sc.byte_key, m->sc.tok_key);
        for (int i = 0; i < n; i++) {
            int k = m->sc.tok_key[i];
            a[i] = k < 0 ? m->imp_rules.default_weight : m->imp_rules.weights[k];
        }
        return MASK_OK;
    case MASK_IMPORTANCE_IDF:
    case MASK_IMPORTANCE_SURPRISAL:
        if (m->n_docs == 0)
            return mask_fail(m, MASK_E_STATE,
                             "importance '%s' needs corpus statistics: call "
                             "mask_corpus_add first",
                             mask_importance_source_name(m->s.importance));
        for (int i = 0; i < n; i++) {
            int32_t v = seq->ids[i];
            if (m->s.importance == MASK_IMPORTANCE_IDF)
                a[i] = log((1.0 + (double)m->n_docs) / (1.0 + m->df[v])) + 1.0;
            else
                a[i] = -log2((m->unigram[v] + 1.0) / (m->n_tokens + V));
        }
        return MASK_OK;
    default:
        return mask_fail(m, MASK_E_INPUT,
                         "importance source '%s' needs the caller's per-token "
                         "array (seq->importance)",
                         mask_importance_source_name(m->s.importance));
    }
}

int mask_importance(mask *m, const mask_seq *seq, float *out)
{
    mask_clear_error(m);
    if (!m || !seq || !out)
        return mask_fail(m, MASK_E_ARG, "importance: NULL argument");
    int rc =
        mask_check_seq(m, seq, !seq->importance && m->s.importance == MASK_IMPORTANCE_RULES);
    if (rc || (rc = mask_scratch_reserve(m, seq->n, seq->text_len)))
        return rc;
    if ((rc = mask_token_importance(m, seq, m->sc.tok_a)))
        return rc;
    for (int i = 0; i < seq->n; i++)
        out[i] = (float)m->sc.tok_a[i];
    return MASK_OK;
}

static double sigmoid(double x)
{
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

/* sigmoid(x) and 1 - sigmoid(x), both to full relative precision, with one exp. */
static void sigmoid_pair(double x, double *p, double *q)
{
    double e = exp(-fabs(x)), one = 1.0 / (1.0 + e);
    *p = x >= 0 ? one : e * one;
    *q = x >= 0 ? e * one : one;
}

/* The root problem: units (or groups of units sharing a bias) with biases b and weights
 * (lengths) given as ints, doubles, or all 1. */
typedef struct bend_problem {
    const double *b;
    const int *len_i;
    const double *len_d;
    int n;
    double total, mp;
} bend_problem;

static double unit_len(const int *len, int u)
{
    return len ? len[u] : 1.0;
}

static double group_len(const bend_problem *bp, int u)
{
    return bp->len_d ? bp->len_d[u] : unit_len(bp->len_i, u);
}

/* Length-weighted mean masking probability at logit shift s, minus the target. */
static double bend_excess(double s, void *vp)
{
    const bend_problem *bp = vp;
    double sum = 0;
    for (int u = 0; u < bp->n; u++)
        sum += group_len(bp, u) * sigmoid(s + bp->b[u]);
    return sum / bp->total - bp->mp;
}

/* The excess and its derivative in s, the length-weighted mean of p (1 - p). */
static double bend_slope(double s, const bend_problem *bp, double *excess)
{
    double sum = 0, slope = 0;
    for (int u = 0; u < bp->n; u++) {
        double p = sigmoid(s + bp->b[u]), l = group_len(bp, u);
        sum += l * p;
        slope += l * p * (1 - p);
    }
    if (excess)
        *excess = sum / bp->total - bp->mp;
    return slope / bp->total;
}

enum { BEND_GROUPS = 64 };

int mask_bend(mask *m, double mp, double dmp, const double *b, const int *len, int n_units,
              double *p, double *w)
{
    if (n_units <= 0)
        return MASK_OK;
    /* units sharing a bias (rule weights take few values) are solved as one group */
    double gb[BEND_GROUPS], gl[BEND_GROUPS];
    int ng = 0;
    bend_problem bp = {b, len, NULL, n_units, 0, mp};
    double bmin = b[0], bmax = b[0];
    for (int u = 0; u < n_units; u++) {
        double l = unit_len(len, u);
        bp.total += l;
        bmin = b[u] < bmin ? b[u] : bmin;
        bmax = b[u] > bmax ? b[u] : bmax;
        if (ng < 0)
            continue;
        int j = 0;
        while (j < ng && gb[j] != b[u])
            j++;
        if (j < ng)
            gl[j] += l;
        else if (ng < BEND_GROUPS)
            gb[ng] = b[u], gl[ng++] = l;
        else
            ng = -1;
    }
    if (ng > 0)
        bp.b = gb, bp.len_i = NULL, bp.len_d = gl, bp.n = ng;
    if (mp <= 0) { /* nothing is masked: the weights never apply */
        for (int u = 0; u < n_units; u++)
            p[u] = 0, w[u] = HUGE_VAL;
        return MASK_OK;
    }
    if (mp >= 1) { /* limit s -> inf: 1 - p_u ~ e^{-s-b_u}, w_u = m' e^{-b_u} / mean e^{-b} */
        double mean = 0;
        for (int u = 0; u < n_units; u++)
            mean += unit_len(len, u) * exp(-(b[u] - bmin));
        mean /= bp.total;
        for (int u = 0; u < n_units; u++)
            p[u] = 1, w[u] = dmp * exp(-(b[u] - bmin)) / mean;
        return MASK_OK;
    }
    double logit = log(mp) - log1p(-mp), s;
    if (bmax - bmin == 0) {
        s = logit - bmin;
    } else {
        double lo = logit - bmax, hi = logit - bmin;
        double flo = bend_excess(lo, &bp), fhi = bend_excess(hi, &bp);
        if (flo >= 0) {
            s = lo;
        } else if (fhi <= 0) {
            s = hi;
        } else {
            gsl_function F = {bend_excess, &bp};
            gsl_root_fsolver_set(m->solver, &F, lo, hi);
            int status = GSL_CONTINUE;
            for (int it = 0; it < 200 && status == GSL_CONTINUE; it++) {
                if (gsl_root_fsolver_iterate(m->solver) != GSL_SUCCESS)
                    break;
                status = gsl_root_test_interval(gsl_root_fsolver_x_lower(m->solver),
                                                gsl_root_fsolver_x_upper(m->solver), 1e-6, 0);
            }
            if (status != GSL_SUCCESS)
                return mask_fail(m, MASK_E_NUMERIC,
                                 "bent schedule: root finding did not "
                                 "converge at mask probability %g",
                                 mp);
            s = gsl_root_fsolver_root(m->solver);
        }
        /* Brent brackets the root to 1e-6; Newton's quadratic convergence then reaches
         * double precision in two steps */
        for (int it = 0; it < 2; it++) {
            double excess = 0, slope = bend_slope(s, &bp, &excess);
            if (slope > 0)
                s -= excess / slope;
        }
    }
    double slope = bend_slope(s, &bp, NULL);
    if (!(slope > 0))
        return mask_fail(m, MASK_E_NUMERIC, "bent schedule: degenerate at mask probability %g",
                         mp);
    for (int u = 0; u < n_units; u++) {
        double q;
        sigmoid_pair(s + b[u], &p[u], &q);
        w[u] = q * dmp / slope;
    }
    return MASK_OK;
}

int mask_bent_schedule(mask *m, const double *a, const int *len, int n_units, double t,
                       double *p, double *dp)
{
    mask_clear_error(m);
    if (!m || (!a && n_units > 0) || n_units < 0 || !p)
        return mask_fail(m, MASK_E_ARG, "bent schedule: bad arguments");
    if (!(t >= 0 && t <= 1))
        return mask_fail(m, MASK_E_RANGE, "t = %g is outside [0, 1]", t);
    int rc = check_weights(m, a, n_units, "importance of unit");
    if (rc)
        return rc;
    double *b = malloc(2 * (size_t)(n_units ? n_units : 1) * sizeof *b);
    if (!b)
        return mask_fail(m, MASK_E_NOMEM, "bent schedule: out of memory");
    double *w = b + n_units, sum = 0, total = 0;
    for (int u = 0; u < n_units; u++)
        sum += unit_len(len, u) * a[u], total += unit_len(len, u);
    double mean = total > 0 ? sum / total : 0;
    for (int u = 0; u < n_units; u++)
        b[u] = mean > 0 ? m->s.importance_strength * (a[u] / mean - 1) : 0;
    const mask_schedule *s = &m->sched;
    rc = mask_bend(m, mask_schedule_mask_prob(s, t), -mask_schedule_dalpha(s, t), b, len,
                   n_units, p, w);
    double mp = mask_schedule_mask_prob(s, t), bmax = 0, z = 0;
    for (int u = 0; u < n_units; u++)
        bmax = u == 0 || b[u] > bmax ? b[u] : bmax;
    for (int u = 0; u < n_units; u++)
        z += unit_len(len, u) * exp(b[u] - bmax) / total;
    for (int u = 0; !rc && dp && u < n_units; u++) /* at mp = 0, the limit p_u ~ e^{s+b_u} */
        dp[u] = mp > 0 ? w[u] * p[u] : -mask_schedule_dalpha(s, t) * exp(b[u] - bmax) / z;
    free(b);
    return rc;
}
