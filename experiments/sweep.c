/* sweep.c: reading a sweep file's [sweep] section (name, seeds, base, factor lines),
 * layering base config, sweep file and --set, and expanding the grid cell by cell. */
#include "sweep.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse {
    struct sweep *s;
    struct config *scratch; /* canonicalizes factor levels */
    char *base;             /* resolved base path */
    char base_where[512];
    int seeds_line;
};

static int add_seed(struct sweep *s, long x)
{
    /* room for a power of two of seeds, doubled when full (growing by one is quadratic) */
    if ((s->nseeds & (s->nseeds - 1)) == 0) {
        long *p = realloc(s->seeds, (size_t)(s->nseeds ? 2 * s->nseeds : 1) * sizeof *p);
        if (!p)
            return -1;
        s->seeds = p;
    }
    s->seeds[s->nseeds++] = x;
    return 0;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int parse_seeds(struct sweep *s, const char *value, const char *where,
                       char err[CONFIG_ERR_MAX])
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return config_fail(err, "out of memory");
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && !rc;
         item = strtok_r(NULL, ",", &save)) {
        item = config_trim(item);
        char *end;
        errno = 0;
        long a = strtol(item, &end, 10), b = a;
        if (end != item && !strncmp(end, "..", 2)) {
            char *e2;
            b = strtol(end + 2, &e2, 10);
            end = e2 == end + 2 ? end : e2;
        }
        if (errno || end == item || *end || a < 0 || b < a || b - a > 100000 ||
            b > 4294967295L) {
            rc = config_fail(err, "%s: seeds: '%s' is not a seed or a range a..b of seeds",
                             where, item);
            break;
        }
        if (b - a >= SWEEP_MAX_CELLS - s->nseeds) {
            rc = config_fail(err, "%s: seeds: more than %d seeds", where, SWEEP_MAX_CELLS);
            break;
        }
        for (long x = a; x <= b && !rc; x++)
            if (add_seed(s, x))
                rc = config_fail(err, "out of memory");
    }
    free(copy);
    if (!rc && s->nseeds == 0)
        rc = config_fail(err, "%s: seeds: empty list", where);
    /* duplicates: sorted, neighbours (a pairwise check is quadratic in the seeds) */
    long *sorted = rc ? NULL : malloc((size_t)s->nseeds * sizeof *sorted);
    if (!rc && !sorted)
        rc = config_fail(err, "out of memory");
    if (sorted) {
        memcpy(sorted, s->seeds, (size_t)s->nseeds * sizeof *sorted);
        qsort(sorted, (size_t)s->nseeds, sizeof *sorted, cmp_long);
        for (int i = 1; i < s->nseeds && !rc; i++)
            if (sorted[i] == sorted[i - 1])
                rc = config_fail(err, "%s: seeds: %ld is listed twice", where, sorted[i]);
        free(sorted);
    }
    return rc;
}

static int parse_factor(struct parse *P, const char *key, const char *value, const char *where,
                        char err[CONFIG_ERR_MAX])
{
    struct sweep *s = P->s;
    int k = config_key_index(key);
    if (k < 0)
        return config_fail(err, "%s: unknown key '%s' (see experiments/sweeps/reference.ini)",
                           where, key);
    if (!strcmp(key, "train.seed"))
        return config_fail(
            err, "%s: train.seed cannot be a factor; list seeds with `seeds = ...`", where);
    for (int f = 0; f < s->nfactors; f++)
        if (!strcmp(s->factors[f].key, key))
            return config_fail(err, "%s: factor %s is given twice", where, key);
    struct sweep_factor *fs = realloc(s->factors, (size_t)(s->nfactors + 1) * sizeof *fs);
    if (!fs)
        return config_fail(err, "out of memory");
    s->factors = fs;
    struct sweep_factor *F = &s->factors[s->nfactors++];
    memset(F, 0, sizeof *F);
    F->key = strdup(key);
    F->where = strdup(where);
    char *copy = strdup(value), *save = NULL;
    if (!F->key || !F->where || !copy) {
        free(copy);
        return config_fail(err, "out of memory");
    }
    /* levels are comma-separated, or |-separated when a level is itself a list */
    const char *sep = strchr(value, '|') ? "|" : ",";
    const char *dot = strchr(key, '.');
    char section[64];
    snprintf(section, sizeof section, "%.*s", (int)(dot - key), key);
    int rc = 0;
    for (char *item = strtok_r(copy, sep, &save); item && !rc;
         item = strtok_r(NULL, sep, &save)) {
        char why[CONFIG_ERR_MAX];
        const char *file = where; /* "file:line": resolve paths against the file */
        char fname[512];
        snprintf(fname, sizeof fname, "%s", file);
        char *colon = strrchr(fname, ':');
        int line = colon ? atoi(colon + 1) : 0;
        if (colon)
            *colon = 0;
        if (config_set(P->scratch, section, dot + 1, item, fname, line, why)) {
            rc = config_fail(err, "%s", why);
            break;
        }
        const char *canon = config_value(P->scratch, k);
        for (int i = 0; i < F->nlevels; i++)
            if (!strcmp(F->levels[i], canon))
                rc = config_fail(err, "%s: %s: level '%s' is listed twice", where, key, canon);
        char **lv = rc ? NULL : realloc(F->levels, (size_t)(F->nlevels + 1) * sizeof *lv);
        if (!rc && !lv)
            rc = config_fail(err, "out of memory");
        if (!rc) {
            F->levels = lv;
            if (!(F->levels[F->nlevels] = strdup(canon)))
                rc = config_fail(err, "out of memory");
            else
                F->nlevels++;
        }
    }
    free(copy);
    if (!rc && F->nlevels == 0)
        rc = config_fail(err, "%s: %s: no levels", where, key);
    return rc;
}

static int on_sweep_key(void *user, const char *key, const char *value, const char *file,
                        int line, char err[CONFIG_ERR_MAX])
{
    struct parse *P = user;
    char where[512];
    snprintf(where, sizeof where, "%s:%d", file, line);
    if (!strcmp(key, "name")) {
        char *v = strdup(value);
        if (!v)
            return config_fail(err, "out of memory");
        char *t = config_trim(v);
        if (!*t) {
            free(v);
            return config_fail(err, "%s: name: empty", where);
        }
        free(P->s->name);
        P->s->name = strdup(t);
        free(v);
        return P->s->name ? 0 : config_fail(err, "out of memory");
    }
    if (!strcmp(key, "seeds")) {
        if (P->seeds_line)
            return config_fail(err, "%s: seeds is given twice (first at line %d)", where,
                               P->seeds_line);
        P->seeds_line = line;
        return parse_seeds(P->s, value, where, err);
    }
    if (!strcmp(key, "base")) {
        char *v = strdup(value);
        if (!v)
            return config_fail(err, "out of memory");
        char *t = config_trim(v);
        const char *slash = strrchr(file, '/');
        size_t n = (slash ? (size_t)(slash - file) + 1 : 0) + strlen(t) + 1;
        free(P->base);
        P->base = malloc(n);
        if (P->base)
            snprintf(P->base, n, "%.*s%s", t[0] == '/' || !slash ? 0 : (int)(slash - file + 1),
                     file, t);
        free(v);
        snprintf(P->base_where, sizeof P->base_where, "%s", where);
        return P->base ? 0 : config_fail(err, "out of memory");
    }
    if (strchr(key, '.'))
        return parse_factor(P, key, value, where, err);
    return config_fail(
        err, "%s: unknown [sweep] key '%s' (name, seeds, base, or section.key = levels)", where,
        key);
}

static int ignore_sweep_key(void *user, const char *key, const char *value, const char *file,
                            int line, char err[CONFIG_ERR_MAX])
{
    (void)user, (void)key, (void)value, (void)file, (void)line, (void)err;
    return 0;
}

static int check_grid(const struct sweep *s, char err[CONFIG_ERR_MAX]);

int sweep_load(struct sweep **out, const char *path, char *const *sets, int nsets,
               char err[CONFIG_ERR_MAX])
{
    *out = NULL;
    struct sweep *s = calloc(1, sizeof *s);
    struct parse P = {.s = s};
    int rc = -1;
    if (!s || !(P.scratch = config_new())) {
        config_fail(err, "out of memory");
        goto done;
    }
    /* pass 1: the [sweep] section, and the file's own keys checked */
    rc = config_load(P.scratch, path, on_sweep_key, &P, err);
    if (rc)
        goto done;
    rc = -1;
    if (!s->name) {
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        size_t n = strlen(b);
        if (n > 4 && !strcmp(b + n - 4, ".ini"))
            n -= 4;
        s->name = strndup(b, n);
    }
    FILE *f = fopen(path, "rb");
    s->spec = f ? cli_read_all(f, NULL) : NULL;
    if (f)
        fclose(f);
    if (!s->spec || !(s->base = config_new()) || !s->name) {
        config_fail(err, "%s: %s", path, strerror(errno));
        rc = -2;
        goto done;
    }
    /* pass 2: base config, then the sweep file over it, then --set */
    if (P.base) {
        rc = config_load(s->base, P.base, NULL, NULL, err);
        if (rc == -2) {
            char why[CONFIG_ERR_MAX];
            snprintf(why, sizeof why, "%s", err);
            config_fail(err, "%s: base: %s", P.base_where, why);
        }
        if (rc)
            goto done;
        rc = -1;
    }
    if ((rc = config_load(s->base, path, ignore_sweep_key, NULL, err)))
        goto done;
    rc = -1;
    for (int i = 0; i < nsets; i++) {
        if (config_set_arg(s->base, sets[i], err))
            goto done;
        for (int f = 0; f < s->nfactors; f++) {
            size_t n = strlen(s->factors[f].key);
            if (!strncmp(sets[i], s->factors[f].key, n) &&
                (sets[i][n] == '=' || sets[i][n] == ' ')) {
                config_fail(err, "--set %s: %s is a factor of the sweep (%s)", sets[i],
                            s->factors[f].key, s->factors[f].where);
                goto done;
            }
        }
    }
    if (!s->nseeds && add_seed(s, config_values(s->base)->train.seed)) {
        config_fail(err, "out of memory");
        goto done;
    }
    /* a bounded grid (so that its size is a long and its checks end) */
    long cells = s->nseeds;
    for (int f = 0; f < s->nfactors; f++) {
        if (cells > SWEEP_MAX_CELLS / s->factors[f].nlevels) {
            config_fail(err, "%s: %s: the sweep would have more than %d cells",
                        s->factors[f].where, s->factors[f].key, SWEEP_MAX_CELLS);
            goto done;
        }
        cells *= s->factors[f].nlevels;
    }
    /* every cell must be valid before anything runs */
    if (check_grid(s, err))
        goto done;
    rc = 0;
done:
    config_free(&P.scratch);
    free(P.base);
    if (rc)
        sweep_free(&s);
    *out = s;
    return rc;
}

void sweep_free(struct sweep **ps)
{
    if (!ps || !*ps)
        return;
    struct sweep *s = *ps;
    for (int f = 0; f < s->nfactors; f++) {
        for (int i = 0; i < s->factors[f].nlevels; i++)
            free(s->factors[f].levels[i]);
        free(s->factors[f].levels);
        free(s->factors[f].key);
        free(s->factors[f].where);
    }
    free(s->factors);
    free(s->seeds);
    free(s->name);
    free(s->spec);
    config_free(&s->base);
    free(s);
    *ps = NULL;
}

long sweep_ncells(const struct sweep *s)
{
    long n = s->nseeds;
    for (int f = 0; f < s->nfactors; f++)
        n *= s->factors[f].nlevels;
    return n;
}

/* Sets factor f of the sweep to its level l in c, as its line in the sweep file would. */
static int set_level(const struct sweep *s, int f, int l, struct config *c,
                     char err[CONFIG_ERR_MAX])
{
    const struct sweep_factor *F = &s->factors[f];
    char fname[512], section[64];
    snprintf(fname, sizeof fname, "%s", F->where);
    char *colon = strrchr(fname, ':');
    int line = colon ? atoi(colon + 1) : 0;
    if (colon)
        *colon = 0;
    const char *dot = strchr(F->key, '.');
    snprintf(section, sizeof section, "%.*s", (int)(dot - F->key), F->key);
    return config_set(c, section, dot + 1, F->levels[l], fname, line, err);
}

static int set_seed(struct config *c, long seed, char err[CONFIG_ERR_MAX])
{
    char num[32];
    snprintf(num, sizeof num, "%ld", seed);
    return config_set(c, "train", "seed", num, NULL, 0, err);
}

/* Checks every combination of levels (the seed does not change validity) in the order of the
 * cells, on one config in which only the factors that change from one combination to the next
 * are set again: the same configs as sweep_cell's, without a copy per cell. */
static int check_grid(const struct sweep *s, char err[CONFIG_ERR_MAX])
{
    struct config *c = config_copy(s->base);
    int *at = malloc((size_t)(s->nfactors ? s->nfactors : 1) * sizeof *at);
    int rc = -1;
    if (!c || !at) {
        config_fail(err, "out of memory");
        goto done;
    }
    if (set_seed(c, s->seeds[0], err))
        goto done;
    for (int f = 0; f < s->nfactors; f++)
        at[f] = -1;
    long n = sweep_ncells(s) / s->nseeds;
    for (long cell = 0; cell < n; cell++) {
        long i = cell;
        for (int f = s->nfactors - 1; f >= 0; f--) {
            int l = (int)(i % s->factors[f].nlevels);
            i /= s->factors[f].nlevels;
            if (l != at[f] && set_level(s, f, l, c, err))
                goto done;
            at[f] = l;
        }
        if (config_finish(c, err))
            goto done;
    }
    rc = 0;
done:
    free(at);
    config_free(&c);
    return rc;
}

struct config *sweep_cell(const struct sweep *s, long i, char err[CONFIG_ERR_MAX])
{
    struct config *c = config_copy(s->base);
    if (!c) {
        config_fail(err, "out of memory");
        return NULL;
    }
    long seed = s->seeds[i % s->nseeds];
    i /= s->nseeds;
    for (int f = s->nfactors - 1; f >= 0; f--) {
        int l = (int)(i % s->factors[f].nlevels);
        i /= s->factors[f].nlevels;
        if (set_level(s, f, l, c, err))
            goto bad;
    }
    if (set_seed(c, seed, err) || config_finish(c, err))
        goto bad;
    return c;
bad:
    config_free(&c);
    return NULL;
}

void sweep_cell_label(const struct sweep *s, const struct config *c, char *out, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (int f = 0; f < s->nfactors && used < n; f++)
        used += (size_t)snprintf(out + used, n - used, "%s=%s ", s->factors[f].key,
                                 config_value(c, config_key_index(s->factors[f].key)));
    if (used < n)
        snprintf(out + used, n - used, "seed=%ld", config_values(c)->train.seed);
}
