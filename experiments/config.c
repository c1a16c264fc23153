/* config.c: the key table (types, ranges, choices), INI loading through libinih with
 * file:line errors, canonical values, and the config hash. Defaults and docs come from
 * the embedded experiments/sweeps/reference.ini, so the file and the code cannot drift. */
#include "config.h"
#include "chain.h"
#include "cli.h"
#include "corpus.h"
#include "mask.h"
#include "model.h"
#include "oracle.h"
#include "reference_ini.h"
#include "samples.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ktype {
    K_INT,          /* integer in [lo, hi] */
    K_FLOAT,        /* finite real in [lo, hi] */
    K_BOOL,         /* true/false/yes/no/1/0 */
    K_ENUM,         /* one of choices */
    K_STR,          /* any text */
    K_PATHS,        /* comma-separated files */
    K_ENUM_OR_PATH, /* one of choices, or else a file */
    K_INTS,         /* comma-separated integers in [lo, hi] */
};

/* The names a K_ENUM or K_ENUM_OR_PATH key accepts: the i-th, NULL past the last. Each
 * list has one home, the code that gives the names a meaning (mostly libmask's name
 * functions); the functions below only adapt their signatures. */
typedef const char *(*choice_fn)(int i);

struct key {
    const char *section, *name;
    enum ktype type;
    double lo, hi;
    choice_fn choice; /* for K_ENUM and K_ENUM_OR_PATH */
    size_t off;       /* into struct config_values */
    int nohash;       /* left out of the config hash: 1 always, 2 at its default (keys added
                       * later, so that the configs before them keep their hashes) */
};

static const char *schedule_choice(int i)
{
    const mask_schedule_type *const *t = mask_schedule_types();
    for (int k = 0; k < i; k++)
        if (!t[k])
            return NULL;
    return t[i] ? t[i]->name : NULL;
}
static const char *time_choice(int i)
{
    return mask_time_sampler_name((mask_time_sampler)i);
}
static const char *structure_choice(int i)
{
    return mask_structure_name((mask_structure)i);
}
static const char *types_choice(int i)
{
    return mask_type_policy_name((mask_type_policy)i);
}
/* libmask's importance sources but two: 'rules' is given as a rule file, and 'loss' needs a
 * reference denoiser's losses, which the harness does not compute */
static const char *importance_choice(int i)
{
    for (int s = 0, k = 0; mask_importance_source_name((mask_importance_source)s); s++) {
        if (s == MASK_IMPORTANCE_RULES || s == MASK_IMPORTANCE_LOSS)
            continue;
        if (k++ == i)
            return mask_importance_source_name((mask_importance_source)s);
    }
    return NULL;
}
static const char *importance_mode_choice(int i)
{
    return mask_importance_mode_name((mask_importance_mode)i);
}
/* the class rules built into libmask; any other value is a rule file */
static const char *classes_choice(int i)
{
    return i == 0 ? "default" : NULL;
}
/* libmodel's sampling strategies, named in samples.c */
static const char *strategy_choice(int i)
{
    return samples_strategy_name(i);
}

/* ReMDM's remasking schedules */
static const char *remdm_choice(int i)
{
    return model_remdm_schedule_name(i);
}

/* where the data come from, and what denoises them */
static const char *source_choice(int i)
{
    static const char *const names[] = {"corpus", "markov", NULL};
    return i >= 0 && i < 2 ? names[i] : NULL;
}
static const char *kind_choice(int i)
{
    static const char *const names[] = {"transformer", "oracle", NULL};
    return i >= 0 && i < 2 ? names[i] : NULL;
}

#define V(f) offsetof(struct config_values, f)
static const struct key keys[] = {
    {"data", "corpus", K_PATHS, 0, 0, NULL, V(data.corpus), 0},
    {"data", "split", K_ENUM, 0, 0, corpus_split_name, V(data.split), 0},
    {"data", "header", K_STR, 0, 0, NULL, V(data.header), 0},
    {"data", "max_bytes", K_INT, 0, 1e15, NULL, V(data.max_bytes), 0},
    {"data", "valid_fraction", K_FLOAT, 0.001, 0.9, NULL, V(data.valid_fraction), 0},
    {"data", "split_seed", K_INT, 0, 4294967295.0, NULL, V(data.split_seed), 0},
    {"data", "source", K_ENUM, 0, 0, source_choice, V(data.source), 2},
    {"data", "eot", K_BOOL, 0, 0, NULL, V(data.eot), 2},
    {"data", "markov_alphabet", K_INT, 2, ORACLE_MAX_A, NULL, V(data.markov_alphabet), 2},
    {"data", "markov_concentration", K_FLOAT, 1e-3, 1e3, NULL, V(data.markov_conc), 2},
    {"data", "markov_seed", K_INT, 0, 4294967295.0, NULL, V(data.markov_seed), 2},
    {"data", "markov_train_tokens", K_INT, 1, 1e9, NULL, V(data.markov_train), 2},
    {"data", "markov_valid_tokens", K_INT, 1, 1e9, NULL, V(data.markov_valid), 2},
    {"tokenizer", "pyramid", K_PATHS, 0, 0, NULL, V(tokenizer.pyramid), 0},
    {"tokenizer", "levels", K_INTS, 257, 1 << 20, NULL, V(tokenizer.levels), 0},
    {"tokenizer", "superword", K_INT, 0, 1 << 20, NULL, V(tokenizer.superword), 0},
    {"tokenizer", "pretok", K_STR, 0, 0, NULL, V(tokenizer.pretok), 0},
    {"tokenizer", "model_level", K_INT, 0, CONFIG_MAX_LEVELS, NULL, V(tokenizer.model_level),
     0},
    {"tokenizer", "train_bytes", K_INT, 0, 1e15, NULL, V(tokenizer.train_bytes), 0},
    {"mask", "schedule", K_ENUM, 0, 0, schedule_choice, V(mask.schedule), 0},
    {"mask", "poly_w", K_FLOAT, 0.05, 20, NULL, V(mask.poly_w), 0},
    {"mask", "eps", K_FLOAT, 1e-9, 0.5, NULL, V(mask.eps), 0},
    {"mask", "t_lo", K_FLOAT, 0, 1, NULL, V(mask.t_lo), 0},
    {"mask", "t_hi", K_FLOAT, 0, 1, NULL, V(mask.t_hi), 0},
    {"mask", "curriculum", K_STR, 0, 0, NULL, V(mask.curriculum), 0},
    {"mask", "time", K_ENUM, 0, 0, time_choice, V(mask.time), 0},
    {"mask", "structure", K_ENUM, 0, 0, structure_choice, V(mask.structure), 0},
    {"mask", "span_p", K_FLOAT, 0.01, 1, NULL, V(mask.span_p), 0},
    {"mask", "span_max", K_INT, 1, 4096, NULL, V(mask.span_max), 0},
    {"mask", "unit_level", K_INT, 1, CONFIG_MAX_LEVELS + 1, NULL, V(mask.unit_level), 0},
    {"mask", "regex", K_STR, 0, 0, NULL, V(mask.regex), 0},
    {"mask", "block", K_INT, 1, 1 << 16, NULL, V(mask.block), 0},
    {"mask", "prompt", K_INT, 0, 1 << 16, NULL, V(mask.prompt), 0},
    {"mask", "types", K_ENUM, 0, 0, types_choice, V(mask.types), 0},
    {"mask", "classes", K_ENUM_OR_PATH, 0, 0, classes_choice, V(mask.classes), 0},
    {"mask", "prior_alpha", K_FLOAT, 1e-6, 1e6, NULL, V(mask.prior_alpha), 0},
    {"mask", "importance", K_ENUM_OR_PATH, 0, 0, importance_choice, V(mask.importance), 0},
    {"mask", "importance_mode", K_ENUM, 0, 0, importance_mode_choice, V(mask.importance_mode),
     0},
    {"mask", "importance_strength", K_FLOAT, -100, 100, NULL, V(mask.importance_strength), 0},
    {"mask", "chain", K_STR, 0, 0, NULL, V(mask.chain), 2},
    {"mask", "chain_shape", K_FLOAT, 0.001, 0.999, NULL, V(mask.chain_shape), 2},
    {"mask", "cluster_seed", K_INT, 0, 4294967295.0, NULL, V(mask.cluster_seed), 2},
    {"model", "d", K_INT, 4, 4096, NULL, V(model.d), 0},
    {"model", "layers", K_INT, 1, 64, NULL, V(model.layers), 0},
    {"model", "heads", K_INT, 1, 64, NULL, V(model.heads), 0},
    {"model", "seq_len", K_INT, 4, 8192, NULL, V(model.seq_len), 0},
    {"model", "prior_bias", K_BOOL, 0, 0, NULL, V(model.prior_bias), 0},
    {"model", "mode", K_STR, 0, 0, NULL, V(model.mode), 2},
    {"model", "block", K_INT, 0, 8192, NULL, V(model.block), 2},
    {"model", "kind", K_ENUM, 0, 0, kind_choice, V(model.kind), 2},
    {"model", "edit", K_BOOL, 0, 0, NULL, V(model.edit), 2},
    {"train", "steps", K_INT, 0, 1e9, NULL, V(train.steps), 0},
    {"train", "batch", K_INT, 1, 1 << 16, NULL, V(train.batch), 0},
    {"train", "lr", K_FLOAT, 0, 10, NULL, V(train.lr), 0},
    {"train", "weight_decay", K_FLOAT, 0, 10, NULL, V(train.weight_decay), 0},
    {"train", "beta1", K_FLOAT, 0, 0.999999, NULL, V(train.beta1), 0},
    {"train", "beta2", K_FLOAT, 0, 0.999999, NULL, V(train.beta2), 0},
    {"train", "warmup", K_INT, 0, 1e9, NULL, V(train.warmup), 0},
    {"train", "grad_clip", K_FLOAT, 0, 1e9, NULL, V(train.grad_clip), 0},
    {"train", "seed", K_INT, 0, 4294967295.0, NULL, V(train.seed), 1},
    {"train", "log_every", K_INT, 1, 1e9, NULL, V(train.log_every), 0},
    {"train", "threads", K_INT, 1, 256, NULL, V(train.threads), 1},
    {"train", "edit_merge", K_FLOAT, 0, 1, NULL, V(train.edit_merge), 2},
    {"train", "edit_delete", K_FLOAT, 0, 1, NULL, V(train.edit_delete), 2},
    {"score", "max_tokens", K_INT, 0, 1e12, NULL, V(score.max_tokens), 0},
    {"score", "t_samples", K_INT, 2, 64, NULL, V(score.t_samples), 0},
    {"score", "replicates", K_INT, 2, 64, NULL, V(score.replicates), 0},
    {"score", "schedule", K_STR, 0, 0, NULL, V(score.schedule), 0},
    {"score", "time_density", K_STR, 0, 0, NULL, V(score.time_density), 0},
    {"score", "seed", K_INT, 0, 4294967295.0, NULL, V(score.seed), 0},
    {"score", "buckets", K_INT, 1, 100, NULL, V(score.buckets), 0},
    {"score", "samples", K_INT, 0, 10000, NULL, V(score.samples), 0},
    {"score", "infill", K_INT, 0, 1000000, NULL, V(score.infill), 2},
    {"score", "infill_max", K_INT, 1, 4096, NULL, V(score.infill_max), 2},
    {"score", "sample_steps", K_INT, 1, 1 << 16, NULL, V(score.sample_steps), 0},
    {"score", "sample_strategy", K_ENUM, 0, 0, strategy_choice, V(score.sample_strategy), 0},
    {"score", "curve_every", K_INT, 0, 1e9, NULL, V(score.curve_every), 2},
    {"score", "curve_tokens", K_INT, 0, 1e12, NULL, V(score.curve_tokens), 2},
    {"score", "chain_schedule", K_STR, 0, 0, NULL, V(score.chain_schedule), 2},
    {"sample", "temperature", K_FLOAT, 0, 100, NULL, V(sample.temperature), 2},
    {"sample", "top_p", K_FLOAT, 0, 1, NULL, V(sample.top_p), 2},
    {"sample", "block", K_INT, 0, 1 << 16, NULL, V(sample.block), 2},
    {"sample", "threshold", K_FLOAT, 1e-6, 0.999999, NULL, V(sample.threshold), 2},
    {"sample", "factor", K_FLOAT, 0, 1e6, NULL, V(sample.factor), 2},
    {"sample", "remdm_schedule", K_ENUM, 0, 0, remdm_choice, V(sample.remdm_schedule), 2},
    {"sample", "eta", K_FLOAT, 0, 1e6, NULL, V(sample.eta), 2},
    {"sample", "t_on", K_FLOAT, 0, 1, NULL, V(sample.t_on), 2},
    {"sample", "t_off", K_FLOAT, 0, 1, NULL, V(sample.t_off), 2},
    {"sample", "alpha_on", K_FLOAT, 1e-6, 0.999999, NULL, V(sample.alpha_on), 2},
    {"sample", "reference", K_PATHS, 0, 0, NULL, V(sample.reference), 2},
};
#undef V
enum { NKEYS = sizeof keys / sizeof keys[0] };

struct config {
    char *text[NKEYS];     /* canonical value */
    char *resolved[NKEYS]; /* paths resolved against their file; else NULL */
    char *where[NKEYS];    /* "file:line", "--set" or "default" */
    struct config_values v;
};

static char *docs[NKEYS];     /* filled once from the reference */
static char *defaults[NKEYS]; /* the reference's values, for keys hashed off their default */
static char reference_error[CONFIG_ERR_MAX];
static char *names[NKEYS];

int config_fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CONFIG_ERR_MAX, fmt, ap);
    va_end(ap);
    return -1;
}

uint64_t config_fnv(uint64_t h, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

int config_nkeys(void)
{
    return NKEYS;
}

const char *config_key_name(int i)
{
    if (i < 0 || i >= NKEYS)
        return NULL;
    if (!names[i]) {
        size_t n = strlen(keys[i].section) + strlen(keys[i].name) + 2;
        char *s = malloc(n);
        if (!s)
            return NULL;
        snprintf(s, n, "%s.%s", keys[i].section, keys[i].name);
        names[i] = s;
    }
    return names[i];
}

const char *config_key_doc(int i)
{
    return i >= 0 && i < NKEYS && docs[i] ? docs[i] : "";
}

static int find_key(const char *section, const char *name)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return i;
    return -1;
}

int config_key_index(const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot - name >= 64)
        return -1;
    char section[64];
    memcpy(section, name, (size_t)(dot - name));
    section[dot - name] = 0;
    return find_key(section, dot + 1);
}

/* ---- canonical values ---- */

char *config_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Shortest %g that reads back as the same double. */
static void format_double(char *out, size_t n, double x)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = x;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

static int in_choices(choice_fn choice, const char *v)
{
    for (int i = 0; choice && choice(i); i++)
        if (!strcmp(choice(i), v))
            return 1;
    return 0;
}

/* The choices as one comma-separated list, for messages. */
static const char *choices_text(choice_fn choice, char *out, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; choice && choice(i) && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? "," : "", choice(i));
    return out;
}

static char *resolve_path(const char *file, const char *path)
{
    if (!file || path[0] == '/' || !strrchr(file, '/'))
        return strdup(path);
    size_t dir = (size_t)(strrchr(file, '/') - file);
    size_t n = dir + 1 + strlen(path) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%.*s/%s", (int)dir, file, path);
    return s;
}

/* Appends `s` to a growing malloc'd buffer. */
struct buf {
    char *p;
    size_t n, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static int buf_str(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* Validates `value` for key k and produces its canonical text (and resolved path). */
static int canonical(int k, const char *value, const char *file, char **text, char **resolved,
                     char err[CONFIG_ERR_MAX])
{
    const struct key *K = &keys[k];
    char *copy = strdup(value);
    if (!copy)
        return config_fail(err, "out of memory");
    char *v = config_trim(copy);
    char num[64], list[256];
    int rc = 0;
    struct buf out = {0}, res = {0};
    *text = *resolved = NULL;
    switch (K->type) {
    case K_INT: {
        long x;
        if (parse_long(v, &x)) {
            rc = config_fail(err, "'%s' is not an integer", v);
            break;
        }
        if (x < K->lo || x > K->hi) {
            rc = config_fail(err, "%ld is out of range [%.15g, %.15g]", x, K->lo, K->hi);
            break;
        }
        snprintf(num, sizeof num, "%ld", x);
        rc = buf_str(&out, num);
        break;
    }
    case K_FLOAT: {
        double x;
        if (parse_double(v, &x)) {
            rc = config_fail(err, "'%s' is not a finite number", v);
            break;
        }
        if (x < K->lo || x > K->hi) {
            rc = config_fail(err, "%.15g is out of range [%.15g, %.15g]", x, K->lo, K->hi);
            break;
        }
        format_double(num, sizeof num, x);
        rc = buf_str(&out, num);
        break;
    }
    case K_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
            rc = buf_str(&out, "true");
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") ||
                 !strcmp(v, "off"))
            rc = buf_str(&out, "false");
        else
            rc = config_fail(err, "'%s' is not a boolean (true, false)", v);
        break;
    case K_ENUM:
        if (!in_choices(K->choice, v))
            rc = config_fail(err, "unknown value '%s' (one of: %s)", v,
                             choices_text(K->choice, list, sizeof list));
        else
            rc = buf_str(&out, v);
        break;
    case K_STR:
        rc = buf_str(&out, v);
        break;
    case K_ENUM_OR_PATH:
        if (!*v) {
            rc = config_fail(err, "empty value (one of: %s, or a file)",
                             choices_text(K->choice, list, sizeof list));
            break;
        }
        rc = buf_str(&out, v);
        if (!rc && !in_choices(K->choice, v)) {
            char *r = resolve_path(file, v);
            rc = r ? buf_str(&res, r) : -1;
            free(r);
        }
        break;
    case K_PATHS:
    case K_INTS: {
        char *save = NULL;
        int count = 0;
        for (char *item = strtok_r(v, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            item = config_trim(item);
            if (!*item) {
                rc = config_fail(err, "empty item in the list '%s'", value);
                break;
            }
            if (count++ && (buf_str(&out, ",") || (K->type == K_PATHS && buf_str(&res, ",")))) {
                rc = config_fail(err, "out of memory");
                break;
            }
            if (K->type == K_INTS) {
                long x;
                if (parse_long(item, &x) || x < K->lo || x > K->hi) {
                    rc = config_fail(err, "'%s' is not an integer in [%.15g, %.15g]", item,
                                     K->lo, K->hi);
                    break;
                }
                if (count > CONFIG_MAX_LEVELS) {
                    rc = config_fail(err, "more than %d items", CONFIG_MAX_LEVELS);
                    break;
                }
                snprintf(num, sizeof num, "%ld", x);
                rc = buf_str(&out, num);
            } else {
                char *r = resolve_path(file, item);
                rc = (r && !buf_str(&out, item) && !buf_str(&res, r))
                         ? 0
                         : config_fail(err, "out of memory");
                free(r);
            }
            if (rc)
                break;
        }
        if (!rc && K->type == K_INTS && count == 0)
            rc = config_fail(err, "empty list");
        if (!rc && !out.p)
            rc = buf_str(&out, "");
        break;
    }
    }
    free(copy);
    if (!rc && !out.p)
        rc = buf_str(&out, "");
    if (rc) {
        if (rc != -1 || !err[0])
            config_fail(err, "out of memory");
        free(out.p);
        free(res.p);
        return -1;
    }
    *text = out.p;
    *resolved = res.p;
    return 0;
}

/* ---- INI reading with line numbers ---- */

struct reader {
    const char *p; /* remaining text */
    int line;      /* number of the line last returned */
    int too_long;  /* line number of an over-long line, or 0 */
    char doc[512]; /* the comment block just above the current line */
    char lastdoc[512];
};

static char *read_line(char *str, int num, void *stream)
{
    struct reader *r = stream;
    if (!*r->p)
        return NULL;
    const char *nl = strchr(r->p, '\n');
    size_t len = nl ? (size_t)(nl - r->p) + 1 : strlen(r->p);
    r->line++;
    if (len + 1 > (size_t)num) {
        if (!r->too_long)
            r->too_long = r->line;
        len = (size_t)num - 2;
        memcpy(str, r->p, len);
        str[len] = '\n';
        str[len + 1] = 0;
    } else {
        memcpy(str, r->p, len);
        str[len] = 0;
    }
    r->p += nl ? (size_t)(nl - r->p) + 1 : strlen(r->p);
    /* remember the comment block above a key for its doc */
    const char *s = str;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == ';' || *s == '#') {
        s++;
        while (*s == ' ')
            s++;
        snprintf(r->doc, sizeof r->doc, "%s", s);
        char *e = r->doc + strlen(r->doc);
        while (e > r->doc && (e[-1] == '\n' || e[-1] == '\r'))
            *--e = 0;
    } else if (*s == '\n' || *s == '\r' || !*s) {
        r->doc[0] = 0;
    }
    return str;
}

static void init_ini(void)
{
    ini_allow_multiline = false;
    ini_max_line = 4096;
    ini_initial_alloc = 4096; /* the heap buffer's size: without realloc, the line limit */
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_stop_on_first_error = true;
}

struct load {
    struct config *c;
    struct reader *r;
    const char *file;
    config_sweep_fn sweep;
    void *user;
    int seen[NKEYS]; /* line where a key was set in this file */
    int rc;
    char *err;
    int reference; /* loading the embedded reference: record docs */
};

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct load *L = user;
    int line = L->r->line;
    if (L->rc)
        return 0;
    if (!strcmp(section, "sweep")) {
        if (!L->sweep) {
            L->rc = config_fail(L->err,
                                "%s:%d: a [sweep] section belongs in a sweep file "
                                "(pyramask sweep run)",
                                L->file, line);
            return 0;
        }
        if (L->sweep(L->user, name, value, L->file, line, L->err)) {
            L->rc = -1;
            return 0;
        }
        return 1;
    }
    int k = find_key(section, name);
    if (k < 0) {
        L->rc = config_fail(L->err,
                            "%s:%d: unknown key '%s.%s' (see experiments/sweeps/reference.ini)",
                            L->file, line, section, name);
        return 0;
    }
    if (L->seen[k]) {
        L->rc = config_fail(L->err, "%s:%d: %s.%s is set twice (first at line %d)", L->file,
                            line, section, name, L->seen[k]);
        return 0;
    }
    L->seen[k] = line;
    if (L->reference) {
        const char *doc = L->r->doc[0] ? L->r->doc : L->r->lastdoc;
        free(docs[k]);
        docs[k] = strdup(doc);
        snprintf(L->r->lastdoc, sizeof L->r->lastdoc, "%s", doc);
    }
    if (config_set(L->c, section, name, value, L->reference ? NULL : L->file, line, L->err)) {
        L->rc = -1;
        return 0;
    }
    if (L->reference) {
        free(L->c->where[k]);
        L->c->where[k] = strdup("default");
        if (!defaults[k])
            defaults[k] = strdup(L->c->text[k]);
    }
    return 1;
}

static int load_text(struct config *c, const char *text, const char *file,
                     config_sweep_fn sweep, void *user, int reference, char err[CONFIG_ERR_MAX])
{
    struct reader r = {.p = text};
    struct load L = {.c = c,
                     .r = &r,
                     .file = file,
                     .sweep = sweep,
                     .user = user,
                     .err = err,
                     .reference = reference};
    init_ini();
    int rc = ini_parse_stream(read_line, &r, on_key, &L);
    if (r.too_long)
        return config_fail(err, "%s:%d: line longer than %d characters", file, r.too_long,
                           4094);
    if (L.rc)
        return L.rc;
    if (rc > 0)
        return config_fail(err, "%s:%d: syntax error (expected [section] or key = value)", file,
                           rc);
    if (rc < 0)
        return config_fail(err, "%s: out of memory", file);
    return 0;
}

/* ---- the public API ---- */

struct config *config_new(void)
{
    struct config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    char err[CONFIG_ERR_MAX] = "";
    if (load_text(c, reference_ini, "reference.ini", NULL, NULL, 1, err))
        goto bad;
    for (int k = 0; k < NKEYS; k++)
        if (!c->text[k] || !docs[k] || !docs[k][0]) {
            snprintf(err, sizeof err, "reference.ini: %s.%s has no default or no doc",
                     keys[k].section, keys[k].name);
            goto bad;
        }
    if (config_finish(c, err))
        goto bad;
    return c;
bad:
    /* a reference that disagrees with the key table is a build defect */
    snprintf(reference_error, sizeof reference_error, "%s", err);
    config_free(&c);
    return NULL;
}

const char *config_reference_error(void)
{
    return reference_error;
}

void config_free(struct config **pc)
{
    if (!pc || !*pc)
        return;
    struct config *c = *pc;
    for (int k = 0; k < NKEYS; k++) {
        free(c->text[k]);
        free(c->resolved[k]);
        free(c->where[k]);
    }
    free(c);
    *pc = NULL;
}

struct config *config_copy(const struct config *src)
{
    struct config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (int k = 0; k < NKEYS; k++) {
        c->text[k] = src->text[k] ? strdup(src->text[k]) : NULL;
        c->resolved[k] = src->resolved[k] ? strdup(src->resolved[k]) : NULL;
        c->where[k] = src->where[k] ? strdup(src->where[k]) : NULL;
        if ((src->text[k] && !c->text[k]) || (src->resolved[k] && !c->resolved[k]) ||
            (src->where[k] && !c->where[k])) {
            config_free(&c);
            return NULL;
        }
    }
    /* the values are filled in; whether they are valid together is the caller's question
     * (a sweep's base may be invalid alone and every one of its cells valid) */
    char err[CONFIG_ERR_MAX];
    (void)config_finish(c, err);
    return c;
}

int config_set(struct config *c, const char *section, const char *key, const char *value,
               const char *file, int line, char err[CONFIG_ERR_MAX])
{
    char where[512];
    if (file)
        snprintf(where, sizeof where, "%s:%d", file, line);
    else
        snprintf(where, sizeof where, "--set");
    int k = find_key(section, key);
    if (k < 0)
        return config_fail(err,
                           "%s: unknown key '%s.%s' (see experiments/sweeps/reference.ini)",
                           where, section, key);
    char *text = NULL, *resolved = NULL, why[CONFIG_ERR_MAX] = "";
    if (canonical(k, value, file, &text, &resolved, why))
        return config_fail(err, "%s: %s.%s: %s", where, section, key, why);
    free(c->text[k]);
    free(c->resolved[k]);
    free(c->where[k]);
    c->text[k] = text;
    c->resolved[k] = resolved;
    c->where[k] = strdup(where);
    return 0;
}

int config_set_arg(struct config *c, const char *arg, char err[CONFIG_ERR_MAX])
{
    const char *eq = strchr(arg, '=');
    const char *dot = strchr(arg, '.');
    if (!eq || !dot || dot > eq)
        return config_fail(err, "--set %s: expected section.key=value", arg);
    char section[64], key[64];
    if (dot - arg >= 64 || eq - dot - 1 >= 64)
        return config_fail(err, "--set %s: unknown key", arg);
    snprintf(section, sizeof section, "%.*s", (int)(dot - arg), arg);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    return config_set(c, config_trim(section), config_trim(key), eq + 1, NULL, 0, err);
}

struct config *config_open(const char *path, char *const *sets, int nsets,
                           char err[CONFIG_ERR_MAX])
{
    struct config *c = config_new();
    if (!c) {
        config_fail(err, "out of memory");
        return NULL;
    }
    if (path && config_load(c, path, NULL, NULL, err))
        goto bad;
    for (int i = 0; i < nsets; i++)
        if (config_set_arg(c, sets[i], err))
            goto bad;
    if (config_finish(c, err))
        goto bad;
    return c;
bad:
    config_free(&c);
    return NULL;
}

int config_load(struct config *c, const char *path, config_sweep_fn sweep, void *user,
                char err[CONFIG_ERR_MAX])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        config_fail(err, "%s: %s", path, strerror(errno));
        return -2;
    }
    size_t n = 0;
    char *text = cli_read_all(f, &n);
    fclose(f);
    if (!text) {
        config_fail(err, "%s: cannot read", path);
        return -2;
    }
    if (memchr(text, 0, n)) {
        free(text);
        return config_fail(err, "%s: not a text file (NUL byte)", path);
    }
    int rc = load_text(c, text, path, sweep, user, 0, err);
    free(text);
    return rc;
}

int config_load_string(struct config *c, const char *text, const char *name,
                       char err[CONFIG_ERR_MAX])
{
    return load_text(c, text, name, NULL, NULL, 0, err);
}

const struct config_values *config_values(const struct config *c)
{
    return &c->v;
}
const char *config_value(const struct config *c, int i)
{
    return i >= 0 && i < NKEYS ? c->text[i] : NULL;
}
int config_key_choice(int i, const char *value)
{
    return i >= 0 && i < NKEYS && value && in_choices(keys[i].choice, value);
}

const char *config_where(const struct config *c, int i)
{
    return i >= 0 && i < NKEYS ? c->where[i] : NULL;
}

static int relation_error(const struct config *c, int k, char err[CONFIG_ERR_MAX],
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int relation_error(const struct config *c, int k, char err[CONFIG_ERR_MAX],
                          const char *fmt, ...)
{
    char why[CONFIG_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *where = c->where[k] ? c->where[k] : "default";
    return config_fail(err, "%s: %s.%s: %s", where, keys[k].section, keys[k].name, why);
}

int score_time_density(const struct config_values *v, double *c)
{
    const char *d = v->score.time_density;
    char *end;
    double k = 0;
    if (strcmp(d, "uniform")) {
        if (strncmp(d, "sqrt:", 5))
            return -1;
        k = strtod(d + 5, &end);
        if (end == d + 5 || *end || !(k > 0 && k < 1e6))
            return -1;
    }
    if (c)
        *c = k / (double)v->model.seq_len;
    return 0;
}

/* Whether key k holds its reference value. */
static int at_default(const struct config *c, int k)
{
    return defaults[k] && c->text[k] && !strcmp(c->text[k], defaults[k]);
}

/* model.mode and model.block, and the keys each mode cannot take: an ar run has no
 * corruption (every mask.* key and the score's schedule keys have no meaning for it); a
 * block run corrupts each block on its own, which a chain (sampling inside a block has
 * none), the response structure (a prompt across blocks) and mask types (coded over whole
 * windows) do not do. */
static int check_mode(const struct config *c, struct config_values *v, char err[CONFIG_ERR_MAX])
{
    int km = config_key_index("model.mode"), kb = config_key_index("model.block");
    char name[32], why[256];
    const char *colon = strchr(v->model.mode, ':');
    size_t n = colon ? (size_t)(colon - v->model.mode) : strlen(v->model.mode);
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1),
             v->model.mode);
    if (model_mode_parse(name, &v->model.mode_id, why, sizeof why))
        return relation_error(c, km, err, "%s (or block:B)", why);
    if (colon) {
        char *end;
        long b = strtol(colon + 1, &end, 10);
        if (v->model.mode_id != MODEL_BLOCK || end == colon + 1 || *end || b < 1 || b > 8192)
            return relation_error(c, km, err,
                                  "'%s': only block takes a size, block:B with B in [1, 8192]",
                                  v->model.mode);
        if (v->model.block && v->model.block != b)
            return relation_error(c, kb, err, "%ld disagrees with model.mode = %s",
                                  v->model.block, v->model.mode);
        v->model.block = b;
    }
    if (v->model.mode_id != MODEL_BLOCK) {
        if (v->model.block)
            return relation_error(c, kb, err, "%ld is only for model.mode = block, not %s",
                                  v->model.block, v->model.mode);
    } else if (v->model.block < 1) {
        return relation_error(c, km, err, "block needs a block size (model.block = B)");
    } else if (v->model.seq_len % v->model.block) {
        int k = colon ? km : kb;
        return relation_error(c, k, err, "block size %ld does not divide model.seq_len = %ld",
                              v->model.block, v->model.seq_len);
    }
    if (v->model.mode_id == MODEL_AR) {
        static const char *const no_meaning[] = {"score.schedule", "score.time_density",
                                                 "score.chain_schedule"};
        for (int k = 0; k < NKEYS; k++)
            if (!strcmp(keys[k].section, "mask") && !at_default(c, k))
                return relation_error(c, k, err,
                                      "has no meaning for model.mode = ar (no "
                                      "corruption: next-token prediction)");
        for (size_t i = 0; i < sizeof no_meaning / sizeof *no_meaning; i++) {
            int k = config_key_index(no_meaning[i]);
            if (!at_default(c, k))
                return relation_error(c, k, err,
                                      "has no meaning for model.mode = ar (its "
                                      "score is the exact likelihood)");
        }
    }
    if (v->model.mode_id == MODEL_BLOCK) {
        if (!chain_flat(v->mask.chain))
            return relation_error(c, config_key_index("mask.chain"), err,
                                  "'%s' does not work inside blocks (block diffusion is flat)",
                                  v->mask.chain);
        if (strcmp(v->mask.types, "single"))
            return relation_error(c, config_key_index("mask.types"), err,
                                  "'%s' does not work inside blocks (its types are coded over "
                                  "whole windows, a block's NELBO cannot pay for them)",
                                  v->mask.types);
        if (!strcmp(v->mask.structure, "response"))
            return relation_error(c, config_key_index("mask.structure"), err,
                                  "response does not work inside blocks (the prompt is the "
                                  "clean blocks before each block)");
    }
    return 0;
}

/* The markov source and the oracle: the oracle denoises only the chain it knows, in
 * diffusion mode over a flat corruption; the source has no pyramid, so no structure or type
 * that reads coarser levels or text, and nothing that reveals side information. A
 * transformer trains on it under the same rules. */
static int check_markov(const struct config *c, const struct config_values *v,
                        char err[CONFIG_ERR_MAX])
{
    int markov = !strcmp(v->data.source, "markov"), oracle = !strcmp(v->model.kind, "oracle");
    if (oracle && !markov)
        return relation_error(c, config_key_index("model.kind"), err,
                              "oracle needs data.source = markov (it knows only that "
                              "chain's law)");
    if (!markov)
        return 0;
    if (!at_default(c, config_key_index("data.corpus")))
        return relation_error(c, config_key_index("data.corpus"), err,
                              "has no meaning with data.source = markov (the chain draws "
                              "the data)");
    if (v->data.eot)
        return relation_error(c, config_key_index("data.eot"), err,
                              "has no meaning with data.source = markov (its windows are drawn "
                              "from the chain, not cut from documents)");
    if (v->model.mode_id != MODEL_DIFFUSION)
        return relation_error(c, config_key_index("model.mode"), err,
                              "'%s': the markov source's exact measures are built for masked "
                              "diffusion (model.mode = diffusion)",
                              v->model.mode);
    if (!chain_flat(v->mask.chain))
        return relation_error(c, config_key_index("mask.chain"), err,
                              "'%s' needs a pyramid; the markov source has one level",
                              v->mask.chain);
    if (!strcmp(v->mask.structure, "unit") || !strcmp(v->mask.structure, "regex"))
        return relation_error(c, config_key_index("mask.structure"), err,
                              "%s cuts by coarser levels or text; the markov source has "
                              "neither (token, span, block or response)",
                              v->mask.structure);
    if (strcmp(v->mask.types, "single"))
        return relation_error(c, config_key_index("mask.types"), err,
                              "'%s' with data.source = markov: only single", v->mask.types);
    if (strcmp(v->mask.importance, "none"))
        return relation_error(c, config_key_index("mask.importance"), err,
                              "'%s' with data.source = markov: only none", v->mask.importance);
    static const char *const oracle_samplers[] = {"random", "confidence", "margin", "entropy",
                                                  "threshold"};
    int known = 0;
    for (size_t i = 0; i < sizeof oracle_samplers / sizeof *oracle_samplers; i++)
        known |= !strcmp(v->score.sample_strategy, oracle_samplers[i]);
    if (oracle && v->score.samples > 0 && !known)
        return relation_error(c, config_key_index("score.sample_strategy"), err,
                              "'%s' is not among the oracle's samplers (random, confidence, "
                              "margin, entropy, threshold)",
                              v->score.sample_strategy);
    if (*v->sample.reference)
        return relation_error(c, config_key_index("sample.reference"), err,
                              "has no meaning with data.source = markov (its samples are "
                              "measured exactly under the chain)");
    if (v->data.markov_valid < v->model.seq_len || v->data.markov_train < v->model.seq_len)
        return relation_error(c, config_key_index("data.markov_valid_tokens"), err,
                              "both splits need at least model.seq_len = %ld tokens",
                              v->model.seq_len);
    return 0;
}

/* mask.chain against the pyramid's levels (from tokenizer.levels), the class rules and the
 * mask types libmask can combine with a chain. */
/* model.edit: a diffusion transformer on flat masking whose training pairs are padded with
 * the end of text (data.eot). */
static int check_edit(const struct config *c, const struct config_values *v,
                      char err[CONFIG_ERR_MAX])
{
    int k = config_key_index("model.edit"), ki = config_key_index("score.infill");
    if (v->score.infill > 0) {
        if (v->model.mode_id != MODEL_DIFFUSION || strcmp(v->model.kind, "transformer") ||
            !chain_flat(v->mask.chain))
            return relation_error(c, ki, err,
                                  "needs a diffusion transformer on flat masking (model.mode "
                                  "= diffusion, model.kind = transformer, no mask.chain)");
        if (v->score.infill_max > v->model.seq_len / 2)
            return relation_error(c, config_key_index("score.infill_max"), err,
                                  "%ld tokens: a hole lies in the middle half of a window, at "
                                  "most model.seq_len / 2 = %ld",
                                  v->score.infill_max, v->model.seq_len / 2);
    }
    if (!v->model.edit) {
        const char *rates[] = {"train.edit_merge", "train.edit_delete"};
        for (int i = 0; i < 2; i++)
            if (!at_default(c, config_key_index(rates[i])))
                return relation_error(c, config_key_index(rates[i]), err,
                                      "has no meaning without model.edit = true");
        return 0;
    }
    if (v->model.mode_id != MODEL_DIFFUSION)
        return relation_error(c, k, err,
                              "needs model.mode = diffusion ([expand] and [delete] are masked "
                              "diffusion's states; '%s' has none)",
                              v->model.mode);
    if (!chain_flat(v->mask.chain))
        return relation_error(c, k, err, "needs flat masking (mask.chain is '%s')",
                              v->mask.chain);
    if (!strcmp(v->data.source, "markov"))
        return relation_error(c, k, err,
                              "needs a corpus (data.source = markov has no end of "
                              "text)");
    if (strcmp(v->model.kind, "transformer"))
        return relation_error(c, k, err, "needs model.kind = transformer");
    if (!v->data.eot)
        return relation_error(c, k, err,
                              "needs data.eot = true (the training pairs are padded with the "
                              "end of text, where a shortened text ends)");
    return 0;
}

static int check_chain(const struct config *c, struct config_values *v, int top,
                       char err[CONFIG_ERR_MAX])
{
    if (chain_flat(v->mask.chain)) {
        if (v->score.samples > 0 && !strncmp(v->score.sample_strategy, "chain", 5))
            return relation_error(c, config_key_index("score.sample_strategy"), err,
                                  "'%s' needs mask.chain (a flat run has no chain to sample "
                                  "through)",
                                  v->score.sample_strategy);
        return 0;
    }
    int size[CONFIG_MAX_LEVELS + 2], n_classes = 6, k = config_key_index("mask.chain");
    size[0] = 256;
    for (int l = 1; l <= v->tokenizer.nlevels; l++)
        size[l] = v->tokenizer.levels[l - 1];
    if (v->tokenizer.superword)
        size[top] = (int)v->tokenizer.superword;
    char why[1024];
    if (strstr(v->mask.chain, "class") && strcmp(v->mask.classes, "default")) {
        int rules = 0;
        if (mask_rules_check(v->mask.classes, MASK_RULES_CLASS, &rules, why, sizeof why))
            return relation_error(c, config_key_index("mask.classes"), err, "%s", why);
        n_classes = 1 + rules;
    }
    struct chain_spec spec;
    if (chain_parse(v->mask.chain, (int)v->tokenizer.model_level, size, top, n_classes, &spec,
                    why, sizeof why))
        return relation_error(c, k, err, "%s", why);
    if (strcmp(v->score.chain_schedule, "auto")) {
        /* a finite-variance estimator: sinpow:k, k > 1 / a_1 (mask.h, Chains: Variance) */
        mask_schedule sch;
        double a1 = pow(v->mask.chain_shape, spec.n);
        int ks = config_key_index("score.chain_schedule");
        if (mask_schedule_parse(&sch, v->score.chain_schedule, why, sizeof why))
            return relation_error(c, ks, err, "%s", why);
        if (strcmp(sch.type->name, "sinpow") || !(sch.param > 1 / a1) || sch.lo != 0 ||
            sch.hi != 1)
            return relation_error(c, ks, err,
                                  "'%s' gives the chain's estimator an infinite variance: "
                                  "sinpow:k over [0, 1] with k > 1 / gamma^m = %g has a finite "
                                  "one (auto: k = %g)",
                                  v->score.chain_schedule, 1 / a1, 2 / a1);
    }
    const char *t = v->mask.types, *st = v->mask.structure;
    if (!strcmp(t, "level") || (!strcmp(t, "length") && strcmp(st, "token") &&
                                strcmp(st, "block") && strcmp(st, "response")))
        return relation_error(c, config_key_index("mask.types"), err,
                              "'%s'%s%s cannot be combined with mask.chain = %s: a [MASK]'s "
                              "type must be fixed by its own token before the corruption "
                              "(single, class, importance; length with token, block or "
                              "response units)",
                              t, strcmp(t, "length") ? "" : " with mask.structure = ",
                              strcmp(t, "length") ? "" : st, v->mask.chain);
    return 0;
}

int config_finish(struct config *c, char err[CONFIG_ERR_MAX])
{
    struct config_values *v = &c->v;
    for (int k = 0; k < NKEYS; k++) {
        const struct key *K = &keys[k];
        void *field = (char *)v + K->off;
        const char *t = c->text[k];
        if (!t)
            return config_fail(err, "%s.%s has no value", K->section, K->name);
        switch (K->type) {
        case K_INT:
            *(long *)field = strtol(t, NULL, 10);
            break;
        case K_FLOAT:
            *(double *)field = strtod(t, NULL);
            break;
        case K_BOOL:
            *(int *)field = !strcmp(t, "true");
            break;
        case K_ENUM:
        case K_STR:
            *(const char **)field = t;
            break;
        case K_PATHS:
        case K_ENUM_OR_PATH:
            *(const char **)field = c->resolved[k] ? c->resolved[k] : t;
            break;
        case K_INTS: {
            int *out = field, n = 0;
            for (const char *p = t; *p && n < CONFIG_MAX_LEVELS; n++) {
                out[n] = (int)strtol(p, (char **)&p, 10);
                if (*p == ',')
                    p++;
            }
            v->tokenizer.nlevels = n;
            break;
        }
        }
    }
    int levels = config_key_index("tokenizer.levels");
    for (int i = 1; i < v->tokenizer.nlevels; i++)
        if (v->tokenizer.levels[i] <= v->tokenizer.levels[i - 1])
            return relation_error(c, levels, err, "vocabulary sizes must increase");
    int top = v->tokenizer.nlevels + (v->tokenizer.superword > 0);
    if (v->tokenizer.superword &&
        v->tokenizer.superword <= v->tokenizer.levels[v->tokenizer.nlevels - 1])
        return relation_error(c, config_key_index("tokenizer.superword"), err,
                              "%ld must exceed the last level's size %d",
                              v->tokenizer.superword,
                              v->tokenizer.levels[v->tokenizer.nlevels - 1]);
    if (v->tokenizer.model_level > top)
        return relation_error(c, config_key_index("tokenizer.model_level"), err,
                              "level %ld does not exist (the pyramid has levels 0..%d)",
                              v->tokenizer.model_level, top);
    if (!strcmp(v->mask.structure, "unit") &&
        (v->mask.unit_level <= v->tokenizer.model_level || v->mask.unit_level > top))
        return relation_error(
            c, config_key_index("mask.unit_level"), err,
            "must be a level above tokenizer.model_level = %ld and at most %d",
            v->tokenizer.model_level, top);
    if (v->mask.t_lo >= v->mask.t_hi)
        return relation_error(c, config_key_index("mask.t_hi"), err,
                              "%g must exceed mask.t_lo = %g", v->mask.t_hi, v->mask.t_lo);
    if (v->score.t_samples % v->score.replicates)
        return relation_error(c, config_key_index("score.replicates"), err,
                              "%ld must divide score.t_samples = %ld", v->score.replicates,
                              v->score.t_samples);
    mask_schedule sch;
    char why[256];
    if (mask_schedule_parse(&sch, v->score.schedule, why, sizeof why))
        return relation_error(c, config_key_index("score.schedule"), err, "%s", why);
    if (sch.lo != 0 || sch.hi != 1 || !(fabs(mask_schedule_alpha(&sch, 1.0)) < 1e-12))
        return relation_error(c, config_key_index("score.schedule"), err,
                              "'%s' does not integrate over all of [0, 1] with alpha(1) = 0, "
                              "as the NELBO needs",
                              v->score.schedule);
    if (score_time_density(v, NULL))
        return relation_error(c, config_key_index("score.time_density"), err,
                              "'%s' is neither uniform nor sqrt:K with K > 0",
                              v->score.time_density);
    if (v->model.d % v->model.heads)
        return relation_error(c, config_key_index("model.heads"), err,
                              "%ld does not divide model.d = %ld", v->model.heads, v->model.d);
    if (strcmp(v->mask.importance_mode, "off") && !strcmp(v->mask.importance, "none"))
        return relation_error(c, config_key_index("mask.importance_mode"), err,
                              "'%s' needs mask.importance (idf, surprisal or a rule file)",
                              v->mask.importance_mode);
    if (check_mode(c, v, err) || check_markov(c, v, err) || check_edit(c, v, err))
        return -1;
    return check_chain(c, v, top, err);
}

char *config_text(const struct config *c, int with_docs)
{
    struct buf b = {0};
    const char *section = "";
    int bad = 0;
    for (int k = 0; k < NKEYS; k++) {
        if (strcmp(section, keys[k].section)) {
            section = keys[k].section;
            bad |= buf_str(&b, b.n ? "\n[" : "[") | buf_str(&b, section) | buf_str(&b, "]\n");
        }
        if (with_docs)
            bad |= buf_str(&b, "; ") | buf_str(&b, config_key_doc(k)) | buf_str(&b, "\n");
        bad |= buf_str(&b, keys[k].name) | buf_str(&b, " = ") | buf_str(&b, c->text[k]) |
               buf_str(&b, "\n");
    }
    if (bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void config_hash(const struct config *c, char out[17])
{
    uint64_t h = CONFIG_FNV_SEED;
    for (int k = 0; k < NKEYS; k++) {
        if (keys[k].nohash == 1 ||
            (keys[k].nohash == 2 && defaults[k] && !strcmp(c->text[k], defaults[k])))
            continue;
        const char *name = config_key_name(k);
        h = config_fnv(h, name, strlen(name));
        h = config_fnv(h, "=", 1);
        h = config_fnv(h, c->text[k], strlen(c->text[k]));
        h = config_fnv(h, "\n", 1);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}
