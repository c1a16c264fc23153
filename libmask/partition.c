/* Side information: what a corruption reveals about the clean sequence besides its tokens
 * (types that are functions of x, data-dependent partitions) and its code length. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"

/* Run lengths past this share the last hazard bin. */
enum { SIDE_MAX_LEN = 32 };

/* A coded partition: its boundaries among the gaps of a finer base partition. */
typedef struct side_part {
    int level;              /* > 0: unit_of[level - 1]; 0: the regex units */
    int base;               /* the base partition: 0 = tokens, else unit_of[base - 1] */
    double n[SIDE_MAX_LEN]; /* gaps seen after a run of L + 1 base units */
    double b[SIDE_MAX_LEN]; /* ... that were boundaries */
} side_part;

struct mask_side {
    mask *m; /* borrowed */
    unsigned reveals;
    int K;
    double *type_count; /* (K) */
    int nparts;
    side_part *part;         /* (n_levels + 1) */
    int cap;                 /* tokens the buffers hold */
    uint8_t *start, *bstart; /* (cap) 1 where a unit / a base unit starts */
    int *unit_start;         /* (cap + 1) regex units */
    gsl_rng *r;              /* never drawn from: the census masks every unit */
};

unsigned mask_reveals(const mask *m)
{
    if (!m)
        return 0;
    const mask_settings *s = &m->s;
    unsigned f = 0;
    if (s->types == MASK_TYPES_CLASS || s->types == MASK_TYPES_IMPORTANCE)
        f |= MASK_REVEALS_TYPES;
    if (s->types == MASK_TYPES_LEVEL)
        f |= MASK_REVEALS_LEVELS;
    if (s->structure == MASK_STRUCT_UNIT || s->structure == MASK_STRUCT_REGEX ||
        (s->structure == MASK_STRUCT_SPAN && s->unit_level > 0))
        f |= MASK_REVEALS_UNITS;
    if (s->importance_mode == MASK_IMPORTANCE_SCHEDULE && s->importance_strength != 0)
        f |= MASK_REVEALS_RATES;
    return f;
}

int mask_side_open(mask_side **out, mask *m)
{
    if (!out)
        return mask_fail(m, MASK_E_ARG, "side: NULL argument");
    *out = NULL;
    if (!m)
        return MASK_E_ARG;
    mask_side *sd = calloc(1, sizeof *sd);
    if (!sd)
        return mask_fail(m, MASK_E_NOMEM, "out of memory");
    sd->m = m;
    sd->reveals = mask_reveals(m);
    sd->K = m->K;
    sd->type_count = calloc((size_t)(sd->K > 0 ? sd->K : 1), sizeof *sd->type_count);
    sd->part = calloc((size_t)m->s.n_levels + 1, sizeof *sd->part);
    sd->r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!sd->type_count || !sd->part || !sd->r) {
        mask_side_close(&sd);
        return mask_fail(m, MASK_E_NOMEM, "out of memory");
    }
    const mask_settings *s = &m->s;
    int coded = 0; /* levels 1..coded are coded, each given the one below */
    if (sd->reveals & MASK_REVEALS_LEVELS) {
        for (int l = 1; l <= s->n_levels; l++)
            sd->part[sd->nparts++] = (side_part){.level = l, .base = l - 1};
        coded = s->n_levels;
    }
    if (sd->reveals & MASK_REVEALS_UNITS) {
        if (s->structure == MASK_STRUCT_REGEX)
            sd->part[sd->nparts++] = (side_part){.level = 0, .base = 0};
        else if (s->unit_level > coded)
            sd->part[sd->nparts++] = (side_part){.level = s->unit_level, .base = 0};
    }
    *out = sd;
    return MASK_OK;
}

void mask_side_close(mask_side **p)
{
    if (!p || !*p)
        return;
    mask_side *sd = *p;
    free(sd->type_count);
    free(sd->part);
    free(sd->start);
    free(sd->bstart);
    free(sd->unit_start);
    gsl_rng_free(sd->r);
    free(sd);
    *p = NULL;
}

unsigned mask_side_reveals(const mask_side *sd)
{
    return sd ? sd->reveals : 0;
}

static int reserve(mask_side *sd, int n)
{
    if (n <= sd->cap && sd->start)
        return MASK_OK;
    int cap = n < 64 ? 64 : n;
    uint8_t *a = realloc(sd->start, (size_t)cap), *b = realloc(sd->bstart, (size_t)cap);
    sd->start = a ? a : sd->start;
    sd->bstart = b ? b : sd->bstart;
    int *u = realloc(sd->unit_start, (size_t)(cap + 1) * sizeof *u);
    sd->unit_start = u ? u : sd->unit_start;
    if (!a || !b || !u)
        return mask_fail(sd->m, MASK_E_NOMEM, "out of memory");
    sd->cap = cap;
    return MASK_OK;
}

/* start[i] = 1 where a unit of partition `level` (0 = tokens when base, or the regex units)
 * starts; regex = 1 for the regex partition. */
static void starts(mask_side *sd, const mask_seq *seq, int level, int regex, uint8_t *start)
{
    int n = seq->n;
    if (regex) {
        int nu = mask_regex_units(sd->m->regex, sd->m->md, seq, sd->unit_start);
        memset(start, 0, (size_t)n);
        for (int u = 0; u < nu; u++)
            start[sd->unit_start[u]] = 1;
    } else if (level == 0) {
        memset(start, 1, (size_t)n);
    } else {
        const int32_t *u = seq->unit_of[level - 1];
        for (int i = 0; i < n; i++)
            start[i] = i == 0 || u[i] != u[i - 1];
    }
}

/* The hazard of a boundary after a run of len base units: the Krichevsky-Trofimov estimate
 * of the training counts, in (0, 1). */
static double hazard(const side_part *p, int len)
{
    int k = (len < SIDE_MAX_LEN ? len : SIDE_MAX_LEN) - 1;
    return (p->b[k] + 0.5) / (p->n[k] + 1.0);
}

/* Walks the gaps between base units of partition p over seq: counts them (add = 1) or sums
 * their code length into *nats. */
static int walk_part(mask_side *sd, side_part *p, const mask_seq *seq, int add, double *nats)
{
    int n = seq->n;
    starts(sd, seq, p->level, p->level == 0, sd->start);
    starts(sd, seq, p->base, 0, sd->bstart);
    int len = 1;
    for (int i = 1; i < n; i++) {
        if (!sd->bstart[i]) {
            if (sd->start[i])
                return mask_fail(sd->m, MASK_E_INPUT,
                                 "a unit of level %d starts at token %d inside a unit of "
                                 "level %d: the levels must nest",
                                 p->level, i, p->base);
            continue;
        }
        int k = (len < SIDE_MAX_LEN ? len : SIDE_MAX_LEN) - 1;
        if (add) {
            p->n[k] += 1;
            p->b[k] += sd->start[i];
        } else {
            double h = hazard(p, len);
            *nats -= sd->start[i] ? log(h) : log1p(-h);
        }
        len = sd->start[i] ? 1 : len + 1;
    }
    return MASK_OK;
}

/* Types at every maskable position: one corruption with every unit masked. */
static int census_types(mask_side *sd, const mask_seq *seq, mask_out *out)
{
    return mask_census(sd->m, seq, sd->r, 1, out);
}

static int check(mask_side *sd, const mask_seq *seq)
{
    if (!seq)
        return mask_fail(sd->m, MASK_E_ARG, "side: NULL sequence");
    int rc = mask_check_seq(sd->m, seq, 0);
    if (rc)
        return rc;
    if ((rc = mask_scratch_reserve(sd->m, seq->n, seq->text_len)))
        return rc;
    return reserve(sd, seq->n);
}

int mask_side_add(mask_side *sd, const mask_seq *seq)
{
    if (!sd)
        return MASK_E_ARG;
    int rc = check(sd, seq);
    if (rc)
        return rc;
    if (sd->reveals & MASK_REVEALS_TYPES) {
        mask_out out;
        if ((rc = census_types(sd, seq, &out)))
            return rc;
        for (int i = 0; i < seq->n; i++)
            if (out.masked[i] && out.type[i] >= 0 && out.type[i] < sd->K)
                sd->type_count[out.type[i]] += 1;
    }
    for (int p = 0; p < sd->nparts && !rc; p++)
        rc = walk_part(sd, &sd->part[p], seq, 1, NULL);
    return rc;
}

int mask_side_nats(mask_side *sd, const mask_seq *seq, double *type_nats, double *part_nats)
{
    if (!sd || !type_nats || !part_nats)
        return sd ? mask_fail(sd->m, MASK_E_ARG, "side: NULL argument") : MASK_E_ARG;
    *type_nats = *part_nats = 0;
    int rc = check(sd, seq);
    if (rc)
        return rc;
    if (sd->reveals & MASK_REVEALS_TYPES) {
        double total = 0;
        for (int k = 0; k < sd->K; k++)
            total += sd->type_count[k] + 0.5;
        mask_out out;
        if ((rc = census_types(sd, seq, &out)))
            return rc;
        for (int i = 0; i < seq->n; i++)
            if (out.masked[i] && out.type[i] >= 0 && out.type[i] < sd->K)
                *type_nats -= log((sd->type_count[out.type[i]] + 0.5) / total);
    }
    for (int p = 0; p < sd->nparts && !rc; p++)
        rc = walk_part(sd, &sd->part[p], seq, 0, part_nats);
    return rc;
}
