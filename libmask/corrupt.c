/* One corruption: checks the sequence, cuts it into units by the structure, masks units with
 * their (possibly bent) probabilities, assigns types and weights; the batch driver. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"

void mask_scratch_free(mask_scratch *sc)
{
    free(sc->unit_start), free(sc->unit_p), free(sc->unit_w), free(sc->unit_a);
    free(sc->unit_len), free(sc->tok_a), free(sc->tok_key), free(sc->unit_masked);
    free(sc->byte_key), free(sc->out_ids), free(sc->out_masked), free(sc->out_weight);
    free(sc->out_type), free(sc->unit_level), free(sc->out_level);
    memset(sc, 0, sizeof *sc);
}

#define GROW(ptr, count)                                        \
    do {                                                        \
        void *grown_ = realloc((ptr), (count) * sizeof *(ptr)); \
        if (!grown_)                                            \
            return mask_fail(m, MASK_E_NOMEM, "out of memory"); \
        (ptr) = grown_;                                         \
    } while (0)

int mask_scratch_reserve(mask *m, int n, size_t text_len)
{
    mask_scratch *sc = &m->sc;
    if (n > sc->cap_tokens || !sc->unit_start) {
        size_t cap = (size_t)(n > 2 * sc->cap_tokens ? n : 2 * sc->cap_tokens);
        cap = cap < 64 ? 64 : cap;
        GROW(sc->unit_start, cap + 1);
        GROW(sc->unit_p, cap);
        GROW(sc->unit_w, cap);
        GROW(sc->unit_a, cap);
        GROW(sc->unit_len, cap);
        GROW(sc->unit_level, cap);
        GROW(sc->out_level, cap);
        GROW(sc->tok_a, cap);
        GROW(sc->tok_key, cap);
        GROW(sc->unit_masked, cap);
        GROW(sc->out_ids, cap);
        GROW(sc->out_masked, cap);
        GROW(sc->out_weight, cap);
        GROW(sc->out_type, cap);
        sc->cap_tokens = (int)cap;
    }
    if (text_len > sc->cap_bytes || !sc->byte_key) {
        size_t cap = text_len > 2 * sc->cap_bytes ? text_len : 2 * sc->cap_bytes;
        cap = cap < 256 ? 256 : cap;
        GROW(sc->byte_key, cap);
        sc->cap_bytes = cap;
    }
    return MASK_OK;
}

/* What a corruption reads from the sequence beyond the ids. */
static int needs_importance(const mask *m)
{
    return m->s.importance_mode != MASK_IMPORTANCE_OFF || m->s.types == MASK_TYPES_IMPORTANCE;
}

static int levels_needed(const mask *m)
{
    const mask_settings *s = &m->s;
    int need = s->types == MASK_TYPES_LEVEL ? s->n_levels : 0;
    if (s->structure == MASK_STRUCT_UNIT || s->structure == MASK_STRUCT_SPAN)
        need = s->unit_level > need ? s->unit_level : need;
    return need;
}

static int needs_text(const mask *m, const mask_seq *seq)
{
    return m->s.structure == MASK_STRUCT_REGEX || m->s.types == MASK_TYPES_CLASS ||
           (needs_importance(m) && !seq->importance &&
            m->s.importance == MASK_IMPORTANCE_RULES);
}

int mask_check_seq(mask *m, const mask_seq *seq, int want_text)
{
    int n = seq->n, V = m->s.vocab_size;
    if (n < 0 || (n > 0 && !seq->ids))
        return mask_fail(m, MASK_E_ARG, "sequence: n = %d with ids %s", n,
                         seq->ids ? "given" : "NULL");
    for (int i = 0; i < n; i++)
        if (seq->ids[i] < 0 || seq->ids[i] >= V)
            return mask_fail(m, MASK_E_INPUT, "token %d has id %d outside [0, %d)", i,
                             (int)seq->ids[i], V);
    if (seq->prompt_len < 0 || seq->prompt_len > n)
        return mask_fail(m, MASK_E_INPUT, "prompt_len = %d outside [0, %d]", seq->prompt_len,
                         n);
    int need = levels_needed(m);
    if (need > 0 && (seq->n_levels < need || !seq->unit_of))
        return mask_fail(m, MASK_E_INPUT, "the sequence gives %d coarser levels, %d needed",
                         seq->unit_of ? seq->n_levels : 0, need);
    for (int l = 0; l < need; l++) {
        const int32_t *u = seq->unit_of[l];
        if (!u && n > 0)
            return mask_fail(m, MASK_E_INPUT, "unit_of[%d] is NULL", l);
        for (int i = 1; i < n; i++)
            if (u[i] < u[i - 1])
                return mask_fail(m, MASK_E_INPUT,
                                 "unit_of[%d][%d] = %d after %d: units must "
                                 "be contiguous runs",
                                 l, i, (int)u[i], (int)u[i - 1]);
    }
    if (want_text || needs_text(m, seq)) {
        if (n > 0 && (!seq->text || !seq->offsets))
            return mask_fail(m, MASK_E_INPUT,
                             "this corruption needs the text and the token "
                             "offsets");
        for (int i = 0; i < n; i++) {
            int32_t o = seq->offsets[i];
            if (o < 0 || (size_t)o >= seq->text_len || (i > 0 && o <= seq->offsets[i - 1]))
                return mask_fail(m, MASK_E_INPUT,
                                 "offset of token %d is %d: offsets must "
                                 "increase strictly and stay below text_len %zu",
                                 i, (int)o, seq->text_len);
        }
    }
    return MASK_OK;
}

/* Units from runs of equal values of u over [0, n). */
static int runs_to_units(const int32_t *u, int n, int *unit_start)
{
    int nu = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || u[i] != u[i - 1])
            unit_start[nu++] = i;
    unit_start[nu] = n;
    return nu;
}

/* Truncated geometric length in [1, max]: inverse CDF of Geo(p) restricted to [1, max]. */
static int span_length(double p, int max, gsl_rng *r)
{
    if (p >= 1)
        return 1;
    double q = 1 - p, u = gsl_rng_uniform(r);
    double L = 1 + floor(log1p(-u * -expm1(max * log(q))) / log(q));
    return L < 1 ? 1 : L > max ? max : (int)L;
}

/* Groups base units into spans of geometric numbers of base units, in place. */
static int group_spans(const mask_settings *s, int *unit_start, int nu, gsl_rng *r)
{
    int out = 0;
    for (int u = 0; u < nu;) {
        int len = span_length(s->span_p, s->span_max, r);
        unit_start[out++] = unit_start[u];
        u += len;
    }
    unit_start[out] = unit_start[nu];
    return out;
}

/* The corruption's units. Tokens outside [first, last) of units stay clean, except the later
 * blocks [*later, n) of the block structure, masked without loss. */
typedef struct cut {
    int nu;
    int begin; /* first maskable token (prompt_len for response) */
    int later; /* block: first token of the later blocks; n otherwise */
    int nb;    /* block: number of blocks; 1 otherwise */
} cut;

static cut cut_units(mask *m, const mask_seq *seq, gsl_rng *r, int all)
{
    const mask_settings *s = &m->s;
    int n = seq->n, *us = m->sc.unit_start;
    cut c = {0, 0, n, 1};
    switch (s->structure) {
    case MASK_STRUCT_RESPONSE:
        c.begin = seq->prompt_len;
        for (int i = c.begin; i < n; i++)
            us[c.nu++] = i;
        us[c.nu] = n;
        break;
    case MASK_STRUCT_UNIT:
        c.nu = runs_to_units(seq->unit_of[s->unit_level - 1], n, us);
        break;
    case MASK_STRUCT_SPAN:
        if (s->unit_level > 0) {
            c.nu = runs_to_units(seq->unit_of[s->unit_level - 1], n, us);
        } else {
            for (int i = 0; i <= n; i++)
                us[i] = i;
            c.nu = n;
        }
        if (!all)
            c.nu = group_spans(s, us, c.nu, r); /* the census needs no spans */
        break;
    case MASK_STRUCT_REGEX:
        c.nu = mask_regex_units(m->regex, m->md, seq, us);
        break;
    case MASK_STRUCT_BLOCK: {
        int B = s->block_size;
        c.nb = n > 0 ? (n + B - 1) / B : 1;
        int cur = all || n == 0 ? 0 : (int)gsl_rng_uniform_int(r, (unsigned long)c.nb);
        c.begin = cur * B;
        c.later = all ? n : (cur + 1) * B < n ? (cur + 1) * B : n;
        if (all)
            c.nb = 1;
        for (int i = c.begin; i < c.later; i++)
            us[c.nu++] = i;
        us[c.nu] = c.later;
        c.begin = 0; /* importance means are over the whole sequence */
        break;
    }
    case MASK_STRUCT_TOKEN:
    default:
        for (int i = 0; i <= n; i++)
            us[i] = i;
        c.nu = n;
        break;
    }
    return c;
}

/* all = 1: every maskable unit is masked, no random draw (the type census for priors). */
static int corrupt_one(mask *m, const mask_seq *seq, double t, gsl_rng *r, mask_out *out,
                       int all)
{
    int rc = mask_check_seq(m, seq, 0);
    if (rc || (rc = mask_scratch_reserve(m, seq->n, seq->text_len)))
        return rc;
    mask_scratch *sc = &m->sc;
    const mask_settings *s = &m->s;
    int n = seq->n, V = s->vocab_size;
    double mean_a = 0;
    cut c = cut_units(m, seq, r, all);
    if (needs_importance(m)) {
        if ((rc = mask_token_importance(m, seq, sc->tok_a)))
            return rc;
        for (int i = c.begin; i < n; i++)
            mean_a += sc->tok_a[i];
        mean_a = n > c.begin ? mean_a / (n - c.begin) : 0;
    }
    if (s->types == MASK_TYPES_CLASS)
        mask_rules_token_keys(&m->classes, m->md, seq, sc->byte_key, sc->tok_key);

    const mask_schedule *sch = &m->sched;
    double mp = all ? 1.0 : mask_schedule_mask_prob(sch, t);
    double dmp = -mask_schedule_dalpha(sch, t), w = mp > 0 ? dmp / mp : HUGE_VAL;
    if (s->importance_mode == MASK_IMPORTANCE_SCHEDULE && !all) {
        for (int u = 0; u < c.nu; u++) {
            double sum = 0;
            sc->unit_len[u] = sc->unit_start[u + 1] - sc->unit_start[u];
            for (int i = sc->unit_start[u]; i < sc->unit_start[u + 1]; i++)
                sum += sc->tok_a[i];
            double a = sum / sc->unit_len[u];
            sc->unit_a[u] = mean_a > 0 ? s->importance_strength * (a / mean_a - 1) : 0;
        }
        rc = mask_bend(m, mp, dmp, sc->unit_a, sc->unit_len, c.nu, sc->unit_p, sc->unit_w);
        if (rc)
            return rc;
    } else {
        for (int u = 0; u < c.nu; u++)
            sc->unit_p[u] = mp, sc->unit_w[u] = w;
    }
    /* one uniform per unit: its level is #{l : U < F_l}, [MASK] exactly when U < p_u */
    int M = m->chain_m, top = M + 1, bent = s->importance_mode == MASK_IMPORTANCE_SCHEDULE;
    double F[MASK_MAX_CHAIN + 3], wl[MASK_MAX_CHAIN + 2];
    if (M > 0 && !bent) { /* every unit has p = mp: one cdf and one weight per level */
        mask_chain_fill_cdf(m, mp, F);
        for (int l = 1; l <= M; l++)
            wl[l] = mask_chain_hop_weight(m, l, mp, w);
    }
    for (int u = 0; u < c.nu; u++) {
        int level = all ? top
                        : mask_chain_level(m, gsl_rng_uniform(r), sc->unit_p[u],
                                           M > 0 && !bent ? F : NULL);
        sc->unit_level[u] = (int8_t)level;
        sc->unit_masked[u] = level > 0;
    }

    int8_t *level = out->level ? out->level : sc->out_level;
    for (int i = 0; i < n; i++)
        out->ids[i] = seq->ids[i], out->masked[i] = 0, out->weight[i] = 0, level[i] = 0;
    for (int u = 0; u < c.nu; u++) {
        if (!sc->unit_masked[u])
            continue;
        int l = sc->unit_level[u];
        double wu = l == top ? sc->unit_w[u]
                    : bent   ? mask_chain_hop_weight(m, l, sc->unit_p[u], sc->unit_w[u])
                             : wl[l];
        for (int i = sc->unit_start[u]; i < sc->unit_start[u + 1]; i++) {
            double wi = wu * c.nb;
            if (s->importance_mode == MASK_IMPORTANCE_WEIGHT_LOSS && mean_a > 0)
                wi *= sc->tok_a[i] / mean_a;
            out->masked[i] = 1;
            out->weight[i] = (float)wi;
            level[i] = (int8_t)l;
        }
    }
    for (int i = c.later; i < n; i++)
        out->masked[i] = 1, level[i] = (int8_t)top;

    int8_t *type = out->type ? out->type : sc->out_type;
    mask_out typed = *out;
    typed.type = type;
    mask_types_assign(m, seq, sc->unit_start, c.nu, sc->unit_masked, sc->tok_a, mean_a,
                      sc->tok_key, &typed);
    for (int i = 0; i < n; i++) {
        int l = level[i];
        int32_t x = seq->ids[i];
        if (l == top)
            out->ids[i] = V + type[i];
        else if (l > 0) /* a description: not a mask id, so no type */
            out->ids[i] = m->level_first[l] + m->chain_desc[l - 1][x], type[i] = -1;
        if (out->target) /* the state one level finer: x, or a description */
            out->target[i] = l <= 1 ? x : m->level_first[l - 1] + m->chain_desc[l - 2][x];
    }
    out->t = t;
    return MASK_OK;
}

int mask_corrupt(mask *m, const mask_seq *seq, double t, gsl_rng *r, mask_out *out)
{
    mask_clear_error(m);
    if (!m || !seq || !r || !out || !out->ids || !out->masked || !out->weight)
        return mask_fail(m, MASK_E_ARG, "corrupt: NULL argument");
    if (m->chain_m > 0 && (!out->target || !out->level))
        return mask_fail(m, MASK_E_ARG, "corrupt: a chain needs the target and level arrays");
    if (!(t >= 0 && t <= 1))
        return mask_fail(m, MASK_E_RANGE, "t = %g is outside [0, 1]", t);
    return corrupt_one(m, seq, t, r, out, 0);
}

int mask_corrupt_batch(mask *m, const mask_seq *seqs, int B, long step, gsl_rng *r,
                       mask_out *outs)
{
    mask_clear_error(m);
    if (!m || (!seqs && B > 0) || B < 0 || !r || (!outs && B > 0))
        return mask_fail(m, MASK_E_ARG, "corrupt batch: bad arguments");
    mask_set_step(m, step);
    double *t = malloc((size_t)(B ? B : 1) * sizeof *t);
    if (!t)
        return mask_fail(m, MASK_E_NOMEM, "out of memory");
    mask_sample_times(t, B, &m->sched, m->s.sampler, r);
    int rc = MASK_OK;
    for (int b = 0; b < B && !rc; b++) {
        rc = mask_corrupt(m, &seqs[b], t[b], r, &outs[b]);
        if (rc) {
            char msg[MASK_ERRMSG_MAX];
            memcpy(msg, m->errmsg, sizeof msg);
            mask_fail(m, rc, "sequence %d: %s", b, msg);
        }
    }
    free(t);
    return rc;
}

int mask_units(mask *m, const mask_seq *seq, gsl_rng *r, int *unit_start, int *n_units)
{
    mask_clear_error(m);
    if (!m || !seq || !r || !unit_start || !n_units)
        return mask_fail(m, MASK_E_ARG, "units: NULL argument");
    int rc = mask_check_seq(m, seq, 0);
    if (rc || (rc = mask_scratch_reserve(m, seq->n, seq->text_len)))
        return rc;
    cut c = cut_units(m, seq, r, 0);
    memcpy(unit_start, m->sc.unit_start, (size_t)(c.nu + 1) * sizeof *unit_start);
    *n_units = c.nu;
    return MASK_OK;
}

/* The type census of one sequence for the priors: all maskable tokens with their type (every
 * unit masked), or one corruption at t drawn from the schedule's range. */
int mask_census(mask *m, const mask_seq *seq, gsl_rng *r, int all, mask_out *out)
{
    int rc = mask_scratch_reserve(m, seq->n, seq->text_len);
    if (rc)
        return rc;
    out->ids = m->sc.out_ids;
    out->masked = m->sc.out_masked;
    out->weight = m->sc.out_weight;
    out->type = m->sc.out_type;
    out->target = NULL;
    out->level = m->sc.out_level;
    double t = all ? 1.0 : m->sched.lo + (m->sched.hi - m->sched.lo) * gsl_rng_uniform_pos(r);
    return corrupt_one(m, seq, t, r, out, all);
}
