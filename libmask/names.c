/* Names of libmask's enumerations, and parsing them back from configs.
 * An unknown name fails with MASK_E_NAME and a message listing the known ones. */
#include <string.h>

#include "mask_internal.h"

static const char *const structure_names[] = {"token", "span",     "unit", "regex",
                                              "block", "response", NULL};
static const char *const policy_names[] = {"single", "level",      "class",
                                           "length", "importance", NULL};
static const char *const source_names[] = {"none", "rules", "idf", "surprisal", "loss", NULL};
static const char *const mode_names[] = {"off", "schedule", "loss", NULL};
static const char *const sampler_names[] = {"iid", "stratified", "antithetic", NULL};

static const char *name_at(const char *const *names, int count, int i)
{
    return i >= 0 && i < count ? names[i] : NULL;
}

/* Finds name in the NULL-terminated list; on failure writes
 * "unknown WHAT 'NAME' (a, b, c)" into err. */
static int parse_name(const char *const *names, const char *what, const char *name, int *out,
                      char *err, size_t errlen)
{
    for (int i = 0; name && names[i]; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = i;
            return MASK_OK;
        }
    }
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        if (i)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return mask_fail_buf(err, errlen, MASK_E_NAME, "unknown %s '%s' (%s)", what,
                         name ? name : "(null)", list);
}

const char *mask_structure_name(mask_structure s)
{
    return name_at(structure_names, MASK_STRUCT_COUNT, (int)s);
}
const char *mask_type_policy_name(mask_type_policy p)
{
    return name_at(policy_names, MASK_TYPES_COUNT, (int)p);
}
const char *mask_importance_source_name(mask_importance_source s)
{
    return name_at(source_names, MASK_IMPORTANCE_COUNT, (int)s);
}
const char *mask_importance_mode_name(mask_importance_mode m)
{
    return name_at(mode_names, MASK_IMPORTANCE_MODE_COUNT, (int)m);
}
const char *mask_time_sampler_name(mask_time_sampler s)
{
    return name_at(sampler_names, MASK_TIME_COUNT, (int)s);
}

int mask_structure_parse(const char *name, mask_structure *out, char *err, size_t errlen)
{
    int i = 0, rc = parse_name(structure_names, "structure", name, &i, err, errlen);
    if (rc == MASK_OK)
        *out = (mask_structure)i;
    return rc;
}
int mask_type_policy_parse(const char *name, mask_type_policy *out, char *err, size_t errlen)
{
    int i = 0, rc = parse_name(policy_names, "mask type policy", name, &i, err, errlen);
    if (rc == MASK_OK)
        *out = (mask_type_policy)i;
    return rc;
}
int mask_importance_source_parse(const char *name, mask_importance_source *out, char *err,
                                 size_t errlen)
{
    int i = 0, rc = parse_name(source_names, "importance source", name, &i, err, errlen);
    if (rc == MASK_OK)
        *out = (mask_importance_source)i;
    return rc;
}
int mask_importance_mode_parse(const char *name, mask_importance_mode *out, char *err,
                               size_t errlen)
{
    int i = 0, rc = parse_name(mode_names, "importance mode", name, &i, err, errlen);
    if (rc == MASK_OK)
        *out = (mask_importance_mode)i;
    return rc;
}
int mask_time_sampler_parse(const char *name, mask_time_sampler *out, char *err, size_t errlen)
{
    int i = 0, rc = parse_name(sampler_names, "time sampler", name, &i, err, errlen);
    if (rc == MASK_OK)
        *out = (mask_time_sampler)i;
    return rc;
}
