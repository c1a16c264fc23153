/* Schedule and curriculum strings: the parser of "NAME[:PARAM][[LO,HI]]" stages with ramped
 * bounds and step switches, and the evaluation of a curriculum at a training step. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"

/* A clip bound: a constant (s1 < 0), or a ramp from a at step s0 to b at step s1. */
typedef struct bound {
    double a, b;
    long s0, s1;
} bound;

typedef struct stage {
    long start;
    const mask_schedule_type *type;
    double param;
    bound lo, hi;
} stage;

struct mask_curriculum {
    int n;
    stage *st;
};

typedef struct parser {
    const char *spec, *p;
    char *err;
    size_t errlen;
} parser;

static int perr(parser *ps, int rc, const char *why)
{
    return mask_fail_buf(ps->err, ps->errlen, rc, "schedule '%s': %s at offset %d", ps->spec,
                         why, (int)(ps->p - ps->spec));
}

static void skip_blanks(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static int expect(parser *ps, char c)
{
    skip_blanks(ps);
    if (*ps->p != c) {
        char why[32] = "expected ' '";
        why[10] = c;
        return perr(ps, MASK_E_RANGE, why);
    }
    ps->p++;
    return MASK_OK;
}

/* A finite number; stops before "..". */
static int parse_number(parser *ps, double *out)
{
    char buf[64];
    size_t k = 0;
    skip_blanks(ps);
    const char *q = ps->p;
    while (k + 1 < sizeof buf &&
           (isdigit((unsigned char)*q) || (*q == '.' && q[1] != '.') || *q == 'e' ||
            *q == 'E' ||
            ((*q == '-' || *q == '+') && (k == 0 || q[-1] == 'e' || q[-1] == 'E'))))
        buf[k++] = *q++;
    buf[k] = '\0';
    char *end = NULL;
    double v = k ? strtod(buf, &end) : 0;
    if (k == 0 || *end != '\0' || !isfinite(v))
        return perr(ps, MASK_E_RANGE, "expected a number");
    ps->p = q;
    *out = v;
    return MASK_OK;
}

static int parse_step(parser *ps, long *out)
{
    skip_blanks(ps);
    if (!isdigit((unsigned char)*ps->p))
        return perr(ps, MASK_E_RANGE, "expected a step");
    char *end = NULL;
    long v = strtol(ps->p, &end, 10);
    if (v < 0 || v == LONG_MAX)
        return perr(ps, MASK_E_RANGE, "step out of range");
    ps->p = end;
    *out = v;
    return MASK_OK;
}

static int parse_bound(parser *ps, bound *b)
{
    int rc = parse_number(ps, &b->a);
    if (rc)
        return rc;
    b->b = b->a;
    b->s0 = 0;
    b->s1 = -1;
    skip_blanks(ps);
    if (strncmp(ps->p, "..", 2) != 0)
        return MASK_OK;
    ps->p += 2;
    if ((rc = parse_number(ps, &b->b)) || (rc = expect(ps, '@')) ||
        (rc = parse_step(ps, &b->s1)))
        return rc;
    skip_blanks(ps);
    if (*ps->p == '-') {
        ps->p++;
        b->s0 = b->s1;
        if ((rc = parse_step(ps, &b->s1)))
            return rc;
    }
    if (b->s1 <= b->s0)
        return perr(ps, MASK_E_RANGE, "a ramp must end after it starts");
    return MASK_OK;
}

static double bound_at(const bound *b, long step)
{
    if (b->s1 < 0 || step >= b->s1)
        return b->b;
    if (step <= b->s0)
        return b->a;
    return b->a + (b->b - b->a) * (double)(step - b->s0) / (double)(b->s1 - b->s0);
}

/* Both bounds in [0, 1] and lo <= hi at every step from `start` on: the bounds are piecewise
 * linear, so checking the breakpoints and the final values suffices. */
static int check_bounds(parser *ps, const stage *st)
{
    long steps[6] = {st->start, st->lo.s0, st->lo.s1, st->hi.s0, st->hi.s1, LONG_MAX};
    for (int i = 0; i < 6; i++) {
        long s = steps[i] < st->start ? st->start : steps[i];
        double lo = bound_at(&st->lo, s), hi = bound_at(&st->hi, s);
        if (!(lo >= 0 && hi <= 1 && lo <= hi))
            return perr(ps, MASK_E_RANGE, "the t range must satisfy 0 <= lo <= hi <= 1");
    }
    return MASK_OK;
}

static int parse_stage(parser *ps, stage *st)
{
    skip_blanks(ps);
    char name[32];
    size_t k = 0;
    while (k + 1 < sizeof name &&
           (isalnum((unsigned char)*ps->p) || *ps->p == '-' || *ps->p == '_'))
        name[k++] = *ps->p++;
    name[k] = '\0';
    st->type = NULL;
    for (const mask_schedule_type *const *t = mask_schedule_types(); *t; t++)
        if (strcmp((*t)->name, name) == 0)
            st->type = *t;
    if (!st->type) {
        char why[200];
        int len = snprintf(why, sizeof why, "unknown schedule '%s' (", name);
        for (const mask_schedule_type *const *t = mask_schedule_types(); *t; t++)
            if (len > 0 && (size_t)len < sizeof why)
                len += snprintf(why + len, sizeof why - (size_t)len, "%s%s",
                                t == mask_schedule_types() ? "" : ", ", (*t)->name);
        if (len > 0 && (size_t)len < sizeof why)
            snprintf(why + len, sizeof why - (size_t)len, ")");
        return perr(ps, MASK_E_NAME, why);
    }
    int rc;
    st->param = st->type->param_default;
    skip_blanks(ps);
    if (*ps->p == ':') {
        ps->p++;
        if (st->type->param_default == 0)
            return perr(ps, MASK_E_RANGE, "this schedule takes no parameter");
        if ((rc = parse_number(ps, &st->param)))
            return rc;
        if (!(st->param > st->type->param_min && st->param < st->type->param_max))
            return perr(ps, MASK_E_RANGE, "parameter out of range");
    }
    st->lo = (bound){0, 0, 0, -1};
    st->hi = (bound){1, 1, 0, -1};
    skip_blanks(ps);
    if (*ps->p == '[') {
        ps->p++;
        if ((rc = parse_bound(ps, &st->lo)) || (rc = expect(ps, ',')) ||
            (rc = parse_bound(ps, &st->hi)) || (rc = expect(ps, ']')))
            return rc;
    }
    return check_bounds(ps, st);
}

int mask_curriculum_parse(mask_curriculum **out, const char *spec, char *err, size_t errlen)
{
    if (!out)
        return mask_fail_buf(err, errlen, MASK_E_ARG, "schedule: no output given");
    *out = NULL;
    if (!spec)
        return mask_fail_buf(err, errlen, MASK_E_ARG, "schedule: no string given");
    parser ps = {spec, spec, err, errlen};
    int cap = 1;
    for (const char *q = spec; *q; q++)
        cap += *q == ';';
    mask_curriculum *c = calloc(1, sizeof *c);
    if (c)
        c->st = calloc((size_t)cap, sizeof *c->st);
    if (!c || !c->st) {
        mask_curriculum_close(&c);
        return mask_fail_buf(err, errlen, MASK_E_NOMEM, "schedule: out of memory");
    }
    int rc = MASK_OK;
    for (;;) {
        stage *st = &c->st[c->n];
        st->start = 0;
        if (c->n > 0) {
            if ((rc = parse_step(&ps, &st->start)) || (rc = expect(&ps, ':')))
                break;
            if (st->start <= c->st[c->n - 1].start) {
                rc = perr(&ps, MASK_E_RANGE, "stage steps must increase");
                break;
            }
        }
        if ((rc = parse_stage(&ps, st)))
            break;
        c->n++;
        skip_blanks(&ps);
        if (*ps.p == '\0')
            break;
        if ((rc = expect(&ps, ';')))
            break;
    }
    if (rc) {
        mask_curriculum_close(&c);
        return rc;
    }
    *out = c;
    return MASK_OK;
}

void mask_curriculum_close(mask_curriculum **c)
{
    if (!c || !*c)
        return;
    free((*c)->st);
    free(*c);
    *c = NULL;
}

void mask_curriculum_at(const mask_curriculum *c, long step, mask_schedule *out)
{
    int i = 0;
    while (i + 1 < c->n && step >= c->st[i + 1].start)
        i++;
    const stage *st = &c->st[i];
    out->type = st->type;
    out->param = st->param;
    out->lo = bound_at(&st->lo, step);
    out->hi = bound_at(&st->hi, step);
}

int mask_schedule_parse(mask_schedule *out, const char *spec, char *err, size_t errlen)
{
    if (!out)
        return mask_fail_buf(err, errlen, MASK_E_ARG, "schedule: no output given");
    mask_curriculum *c = NULL;
    int rc = mask_curriculum_parse(&c, spec, err, errlen);
    if (rc)
        return rc;
    const stage *st = &c->st[0];
    if (c->n != 1 || st->lo.s1 >= 0 || st->hi.s1 >= 0) {
        mask_curriculum_close(&c);
        return mask_fail_buf(err, errlen, MASK_E_RANGE,
                             "schedule '%s': a curriculum where one schedule was expected",
                             spec);
    }
    mask_curriculum_at(c, 0, out);
    mask_curriculum_close(&c);
    return MASK_OK;
}
