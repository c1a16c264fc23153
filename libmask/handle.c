/* The mask handle: default settings, opening (schedule, structure, rules and types checked
 * up front so corruptions cannot fail on configuration), closing, and the step. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"

void mask_default_settings(mask_settings *s)
{
    memset(s, 0, sizeof *s);
    s->schedule = "linear";
    s->sampler = MASK_TIME_STRATIFIED;
    s->structure = MASK_STRUCT_TOKEN;
    s->span_p = 0.2;
    s->span_max = 10;
    s->regex = "code";
    s->block_size = 16;
    s->types = MASK_TYPES_SINGLE;
    s->length_buckets = 4;
    s->importance_edges[0] = 0.5;
    s->importance_edges[1] = 1.0;
    s->importance_edges[2] = 2.0;
    s->n_importance_edges = 3;
    s->importance = MASK_IMPORTANCE_NONE;
    s->importance_mode = MASK_IMPORTANCE_OFF;
    s->importance_strength = 1.0;
    s->prior_alpha = 0.5;
    s->chain_shape = 0.5;
}

static int check_structure(mask *m)
{
    const mask_settings *s = &m->s;
    char err[MASK_ERRMSG_MAX] = "";
    switch (s->structure) {
    case MASK_STRUCT_UNIT:
        if (s->unit_level < 1 || s->unit_level > s->n_levels)
            return mask_fail(m, MASK_E_RANGE,
                             "structure 'unit' needs unit_level in 1..%d "
                             "(n_levels), got %d",
                             s->n_levels, s->unit_level);
        return MASK_OK;
    case MASK_STRUCT_SPAN:
        if (s->unit_level < 0 || s->unit_level > s->n_levels)
            return mask_fail(m, MASK_E_RANGE,
                             "structure 'span' needs unit_level in 0..%d, "
                             "got %d",
                             s->n_levels, s->unit_level);
        if (!(s->span_p > 0 && s->span_p <= 1))
            return mask_fail(m, MASK_E_RANGE, "span_p = %g must be in (0, 1]", s->span_p);
        if (s->span_max < 1)
            return mask_fail(m, MASK_E_RANGE, "span_max = %d must be >= 1", s->span_max);
        return MASK_OK;
    case MASK_STRUCT_REGEX: {
        int rc = mask_regex_compile(&m->regex, s->regex, err, sizeof err);
        return rc ? mask_fail(m, rc, "%s", err) : MASK_OK;
    }
    case MASK_STRUCT_BLOCK:
        if (s->block_size < 1)
            return mask_fail(m, MASK_E_RANGE, "block_size = %d must be >= 1", s->block_size);
        return MASK_OK;
    case MASK_STRUCT_TOKEN:
    case MASK_STRUCT_RESPONSE:
        return MASK_OK;
    default:
        return mask_fail(m, MASK_E_NAME, "unknown structure %d", (int)s->structure);
    }
}

static int check_importance(mask *m)
{
    const mask_settings *s = &m->s;
    char err[MASK_ERRMSG_MAX] = "";
    if ((unsigned)s->importance >= MASK_IMPORTANCE_COUNT)
        return mask_fail(m, MASK_E_NAME, "unknown importance source %d", (int)s->importance);
    if ((unsigned)s->importance_mode >= MASK_IMPORTANCE_MODE_COUNT)
        return mask_fail(m, MASK_E_NAME, "unknown importance mode %d", (int)s->importance_mode);
    if (!isfinite(s->importance_strength))
        return mask_fail(m, MASK_E_RANGE, "importance_strength = %g must be finite",
                         s->importance_strength);
    if (s->importance == MASK_IMPORTANCE_RULES) {
        if (!s->importance_rules)
            return mask_fail(m, MASK_E_ARG,
                             "importance source 'rules' needs importance_rules "
                             "(a rule file)");
        int rc = mask_rules_load(&m->imp_rules, s->importance_rules, MASK_RULES_IMPORTANCE, err,
                                 sizeof err);
        if (rc)
            return mask_fail(m, rc, "%s", err);
    }
    return MASK_OK;
}

static int open_checked(mask *m)
{
    mask_settings *s = &m->s;
    char err[MASK_ERRMSG_MAX] = "";
    if (s->vocab_size < 1)
        return mask_fail(m, MASK_E_RANGE, "vocab_size = %d must be >= 1", s->vocab_size);
    if (s->n_levels < 0)
        return mask_fail(m, MASK_E_RANGE, "n_levels = %d < 0", s->n_levels);
    if ((unsigned)s->sampler >= MASK_TIME_COUNT)
        return mask_fail(m, MASK_E_NAME, "unknown time sampler %d", (int)s->sampler);
    if (!(s->prior_alpha > 0 && isfinite(s->prior_alpha)))
        return mask_fail(m, MASK_E_RANGE, "prior_alpha = %g must be finite and > 0",
                         s->prior_alpha);
    int rc = mask_curriculum_parse(&m->curriculum, s->schedule ? s->schedule : "linear", err,
                                   sizeof err);
    if (rc)
        return mask_fail(m, rc, "%s", err);
    mask_curriculum_at(m->curriculum, 0, &m->sched0);
    m->sched = m->sched0;
    if ((rc = check_structure(m)) || (rc = check_importance(m)))
        return rc;
    if ((unsigned)s->types >= MASK_TYPES_COUNT)
        return mask_fail(m, MASK_E_NAME, "unknown mask type policy %d", (int)s->types);
    if (s->types == MASK_TYPES_CLASS) {
        rc = s->class_rules ? mask_rules_load(&m->classes, s->class_rules, MASK_RULES_CLASS,
                                              err, sizeof err)
                            : mask_rules_builtin_classes(&m->classes, err, sizeof err);
        if (rc)
            return mask_fail(m, rc, "%s", err);
    }
    if ((rc = mask_types_resolve(m)))
        return rc;
    if ((int64_t)s->vocab_size + m->K > INT32_MAX)
        return mask_fail(m, MASK_E_RANGE, "vocab_size + K overflows int32 ids");
    if ((rc = mask_chain_setup(m)))
        return rc;
    if (s->types != MASK_TYPES_CLASS && s->class_rules &&
        !(m->class_rules_path = strdup(s->class_rules)))
        return mask_fail(m, MASK_E_NOMEM, "out of memory");
    m->md = pcre2_match_data_create(1, NULL);
    m->solver = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!m->md || !m->solver)
        return mask_fail(m, MASK_E_NOMEM, "out of memory");
    return MASK_OK;
}

int mask_open(mask **out, const mask_settings *s)
{
    if (!out)
        return MASK_E_ARG;
    mask *m = calloc(1, sizeof *m);
    *out = m;
    if (!m)
        return MASK_E_NOMEM;
    if (!s)
        return mask_fail(m, MASK_E_ARG, "no settings given");
    m->s = *s;
    int rc = open_checked(m);
    /* the strings and maps were read; the handle keeps no borrowed pointer */
    m->s.schedule = m->s.regex = m->s.class_rules = m->s.importance_rules = NULL;
    memset(m->s.chain_map, 0, sizeof m->s.chain_map);
    return rc;
}

void mask_close(mask **pm)
{
    if (!pm || !*pm)
        return;
    mask *m = *pm;
    mask_curriculum_close(&m->curriculum);
    mask_rules_free(&m->classes);
    mask_rules_free(&m->imp_rules);
    pcre2_code_free(m->regex);
    pcre2_match_data_free(m->md);
    if (m->solver)
        gsl_root_fsolver_free(m->solver);
    free(m->type_names);
    mask_chain_free(m);
    free(m->class_rules_path);
    free(m->df);
    free(m->unigram);
    free(m->last_doc);
    free(m->prior_counts);
    free(m->prior_totals);
    mask_scratch_free(&m->sc);
    free(m);
    *pm = NULL;
}

const mask_curriculum *mask_get_curriculum(const mask *m)
{
    return m ? m->curriculum : NULL;
}

void mask_set_step(mask *m, long step)
{
    if (m && m->curriculum)
        mask_curriculum_at(m->curriculum, step < 0 ? 0 : step, &m->sched);
}

const mask_schedule *mask_get_schedule(const mask *m)
{
    return m ? &m->sched : NULL;
}
