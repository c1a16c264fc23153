/* PCRE2 rules: loading class and importance rule files (with FILE:LINE: errors), the built-in
 * classes and regex-unit presets, and mapping matches over the text onto tokens. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"

#define MASK_RULES_MAX 120 /* mask types are int8: at most 1 + 120 classes */

static const uint32_t compile_options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;

static const char *const builtin_classes[][2] = {
    {"space", "\\s+"},
    {"number", "(?<![\\p{L}\\p{N}_])\\p{N}+(?:[.,_]\\p{N}+)*"},
    {"identifier", "[\\p{L}_][\\p{L}\\p{N}_]*[\\p{N}_][\\p{L}\\p{N}_]*|_\\w*"},
    {"word", "\\p{L}+(?:['\\x{2019}]\\p{L}+)*"},
    {"punct", "[\\p{P}\\p{S}]+"},
};

#define STRINGS_RE                                                        \
    "\"\"\"[\\s\\S]*?\"\"\"|'''[\\s\\S]*?'''|\"(?:[^\"\\\\\\n]|\\\\.)*\"" \
    "|'(?:[^'\\\\\\n]|\\\\.)*'"
#define IDENT_RE  "[\\p{L}_][\\p{L}\\p{N}_]*"
#define NUMBER_RE "\\p{N}+(?:[.,_]\\p{N}+)*(?:[eE][-+]?\\p{N}+)?"

static const char *const regex_presets[][2] = {
    {"words", "\\p{L}+(?:['\\x{2019}]\\p{L}+)*"},
    {"identifiers", IDENT_RE},
    {"numbers", NUMBER_RE},
    {"strings", STRINGS_RE},
    {"lines", "[^\\n]*\\n|[^\\n]+"},
    {"code", STRINGS_RE "|" IDENT_RE "|" NUMBER_RE},
};

/* Compiles one pattern; on failure writes "WHERE: pattern error at offset N: MESSAGE". */
static int compile(pcre2_code **out, const char *pattern, size_t len, const char *where,
                   char *err, size_t errlen)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    *out = pcre2_compile((PCRE2_SPTR)pattern, len, compile_options, &code, &off, NULL);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return mask_fail_buf(err, errlen, MASK_E_RULES, "%s: pattern error at offset %d: %s",
                             where, (int)off, (const char *)msg);
    }
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* optional speed-up; failure is harmless */
    return MASK_OK;
}

int mask_regex_compile(pcre2_code **out, const char *pattern_or_preset, char *err,
                       size_t errlen)
{
    const char *pattern = pattern_or_preset;
    if (!pattern || !*pattern)
        return mask_fail_buf(err, errlen, MASK_E_ARG, "regex units: no pattern given");
    for (size_t i = 0; i < sizeof regex_presets / sizeof regex_presets[0]; i++)
        if (strcmp(regex_presets[i][0], pattern) == 0)
            pattern = regex_presets[i][1];
    return compile(out, pattern, strlen(pattern), "regex units", err, errlen);
}

void mask_rules_free(mask_rules *r)
{
    for (int i = 0; r->codes && i < r->n; i++)
        pcre2_code_free(r->codes[i]);
    free(r->codes);
    free(r->keys);
    free(r->weights);
    memset(r, 0, sizeof *r);
}

static int rules_add(mask_rules *r, const char *key, double weight, pcre2_code *code)
{
    if (r->n % 16 == 0) {
        size_t cap = (size_t)r->n + 16;
        void *k = realloc(r->keys, cap * sizeof *r->keys);
        if (k)
            r->keys = k;
        void *w = realloc(r->weights, cap * sizeof *r->weights);
        if (w)
            r->weights = w;
        void *c = realloc(r->codes, cap * sizeof *r->codes);
        if (c)
            r->codes = c;
        if (!k || !w || !c) {
            pcre2_code_free(code);
            return MASK_E_NOMEM;
        }
    }
    size_t len = strlen(key);
    len = len < MASK_KEY_MAX - 1 ? len : MASK_KEY_MAX - 1; /* class names are checked */
    memcpy(r->keys[r->n], key, len);
    r->keys[r->n][len] = '\0';
    r->weights[r->n] = weight;
    r->codes[r->n] = code;
    r->n++;
    return MASK_OK;
}

int mask_rules_builtin_classes(mask_rules *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->default_weight = 1.0;
    for (size_t i = 0; i < sizeof builtin_classes / sizeof builtin_classes[0]; i++) {
        pcre2_code *code = NULL;
        const char *pat = builtin_classes[i][1];
        int rc = compile(&code, pat, strlen(pat), "built-in class", err, errlen);
        if (!rc && (rc = rules_add(out, builtin_classes[i][0], 1.0, code)))
            mask_fail_buf(err, errlen, rc, "built-in classes: out of memory");
        if (rc) {
            mask_rules_free(out);
            return rc;
        }
    }
    return MASK_OK;
}

static int valid_class_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* A weight must stay finite as the float that mask_importance returns. */
static int parse_weight(const char *s, double *w)
{
    char *end = NULL;
    errno = 0;
    *w = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && *w >= 0 && *w <= FLT_MAX;
}

/* One rule line "KEY PATTERN" (blank and comment lines already skipped). */
static int rules_line(mask_rules *r, mask_rules_kind kind, char *line, const char *where,
                      char *err, size_t errlen)
{
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    char *key = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    size_t keylen = (size_t)(p - key);
    while (*p == ' ' || *p == '\t')
        p++;
    char *pat = p, *end = p + strlen(p);
    while (end > pat && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    char keybuf[64];
    if (keylen >= sizeof keybuf)
        return mask_fail_buf(err, errlen, MASK_E_RULES, "%s: key too long", where);
    memcpy(keybuf, key, keylen);
    keybuf[keylen] = '\0';
    double weight = 1.0;
    if (kind == MASK_RULES_IMPORTANCE && strcmp(keybuf, "default") == 0) {
        if (!parse_weight(pat, &r->default_weight))
            return mask_fail_buf(err, errlen, MASK_E_RULES,
                                 "%s: default weight '%s' is not a finite number >= 0", where,
                                 pat);
        return MASK_OK;
    }
    if (*pat == '\0')
        return mask_fail_buf(err, errlen, MASK_E_RULES, "%s: missing pattern after '%s'", where,
                             keybuf);
    if (kind == MASK_RULES_IMPORTANCE) {
        if (!parse_weight(keybuf, &weight))
            return mask_fail_buf(err, errlen, MASK_E_RULES,
                                 "%s: weight '%s' is not a finite number >= 0", where, keybuf);
    } else {
        if (keylen >= MASK_KEY_MAX || !valid_class_name(keybuf))
            return mask_fail_buf(err, errlen, MASK_E_RULES,
                                 "%s: bad class name '%s' (letters, digits, _ and -, at most "
                                 "31 bytes)",
                                 where, keybuf);
        for (int i = 0; i < r->n; i++)
            if (strcmp(r->keys[i], keybuf) == 0)
                return mask_fail_buf(err, errlen, MASK_E_RULES, "%s: class '%s' defined twice",
                                     where, keybuf);
    }
    if (r->n >= MASK_RULES_MAX)
        return mask_fail_buf(err, errlen, MASK_E_RULES, "%s: more than %d rules", where,
                             MASK_RULES_MAX);
    pcre2_code *code = NULL;
    int rc = compile(&code, pat, strlen(pat), where, err, errlen);
    if (rc)
        return rc;
    rc = rules_add(r, keybuf, weight, code);
    if (rc)
        return mask_fail_buf(err, errlen, rc, "%s: out of memory", where);
    return MASK_OK;
}

int mask_rules_load(mask_rules *out, const char *path, mask_rules_kind kind, char *err,
                    size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->default_weight = 1.0;
    if (!path)
        return mask_fail_buf(err, errlen, MASK_E_ARG, "rules: no file given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return mask_fail_buf(err, errlen, MASK_E_IO, "%s: %s", path, strerror(errno));
    int rc = MASK_OK, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (strlen(line) != (size_t)len) {
            rc = mask_fail_buf(err, errlen, MASK_E_RULES, "%s:%d: NUL byte in line", path,
                               lineno);
            break;
        }
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if ((rc = rules_line(out, kind, line, where, err, errlen)))
            break;
    }
    if (!rc && ferror(f))
        rc = mask_fail_buf(err, errlen, MASK_E_IO, "%s: read error", path);
    if (!rc && out->n == 0 && kind == MASK_RULES_CLASS)
        rc = mask_fail_buf(err, errlen, MASK_E_RULES, "%s: no class rules", path);
    free(line);
    fclose(f);
    if (rc)
        mask_rules_free(out);
    return rc;
}

int mask_rules_check(const char *path, mask_rules_kind kind, int *n_rules, char *err,
                     size_t errlen)
{
    mask_rules r;
    int rc = mask_rules_load(&r, path, kind, err, errlen);
    if (n_rules)
        *n_rules = rc ? 0 : r.n;
    if (!rc)
        mask_rules_free(&r);
    return rc;
}

/* Calls fn(s, e, ctx) for each non-empty match of re over the text, left to right. */
static void for_each_match(const pcre2_code *re, pcre2_match_data *md, const char *text,
                           size_t len, void (*fn)(size_t, size_t, void *), void *ctx)
{
    size_t start = 0;
    while (start < len) {
        int rc = pcre2_match(re, (PCRE2_SPTR)text, len, start, 0, md, NULL);
        if (rc < 0)
            return;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e > s) {
            fn(s, e, ctx);
            start = e;
        } else {
            start = e + 1;
            while (start < len && ((unsigned char)text[start] & 0xC0) == 0x80)
                start++;
        }
    }
}

typedef struct mark_ctx {
    int16_t *byte_key;
    int16_t key;
} mark_ctx;

static void mark_bytes(size_t s, size_t e, void *vctx)
{
    mark_ctx *c = vctx;
    for (size_t b = s; b < e; b++)
        if (c->byte_key[b] < 0)
            c->byte_key[b] = c->key;
}

void mask_rules_token_keys(const mask_rules *r, pcre2_match_data *md, const mask_seq *seq,
                           int16_t *byte_key, int *key)
{
    for (size_t b = 0; b < seq->text_len; b++)
        byte_key[b] = -1;
    for (int k = 0; k < r->n; k++) {
        mark_ctx c = {byte_key, (int16_t)k};
        for_each_match(r->codes[k], md, seq->text, seq->text_len, mark_bytes, &c);
    }
    for (int i = 0; i < seq->n; i++) {
        size_t b = (size_t)seq->offsets[i];
        size_t end = i + 1 < seq->n ? (size_t)seq->offsets[i + 1] : seq->text_len;
        size_t rep = b;
        while (rep < end && isspace((unsigned char)seq->text[rep]))
            rep++;
        key[i] = byte_key[rep < end ? rep : b];
    }
}

typedef struct unit_ctx {
    const mask_seq *seq;
    int *begins; /* (n) 1 where a unit begins */
    int i;       /* sweep position: the token containing the last match start */
} unit_ctx;

static void join_tokens(size_t s, size_t e, void *vctx)
{
    unit_ctx *c = vctx;
    const int32_t *off = c->seq->offsets;
    int n = c->seq->n;
    if (e <= (size_t)off[0])
        return;
    while (c->i + 1 < n && (size_t)off[c->i + 1] <= s)
        c->i++;
    int j = c->i;
    while (j + 1 < n && (size_t)off[j + 1] <= e - 1)
        j++;
    for (int k = c->i + 1; k <= j; k++)
        c->begins[k] = 0;
}

int mask_regex_units(const pcre2_code *re, pcre2_match_data *md, const mask_seq *seq,
                     int *unit_start)
{
    if (seq->n == 0) {
        unit_start[0] = 0;
        return 0;
    }
    for (int i = 0; i < seq->n; i++)
        unit_start[i] = 1;
    unit_ctx c = {seq, unit_start, 0};
    for_each_match(re, md, seq->text, seq->text_len, join_tokens, &c);
    int nu = 0;
    for (int i = 0; i < seq->n; i++)
        if (unit_start[i])
            unit_start[nu++] = i;
    unit_start[nu] = seq->n;
    return nu;
}

/* The class rules of mask_classify: the handle's (class policy), else loaded on first use
 * from settings.class_rules, else the built-in ones. */
static int classes_ready(mask *m)
{
    if (m->classes.n > 0)
        return MASK_OK;
    char err[MASK_ERRMSG_MAX] = "";
    int rc = m->class_rules_path ? mask_rules_load(&m->classes, m->class_rules_path,
                                                   MASK_RULES_CLASS, err, sizeof err)
                                 : mask_rules_builtin_classes(&m->classes, err, sizeof err);
    return rc ? mask_fail(m, rc, "%s", err) : MASK_OK;
}

int mask_classify(mask *m, const char *bytes, size_t len)
{
    mask_clear_error(m);
    if (!m || (!bytes && len > 0))
        return mask_fail(m, MASK_E_ARG, "classify: NULL argument");
    int rc = classes_ready(m);
    if (rc || len == 0)
        return rc;
    if (len > INT32_MAX)
        return mask_fail(m, MASK_E_RANGE, "classify: %zu bytes is too long", len);
    if ((rc = mask_scratch_reserve(m, 1, len)))
        return rc;
    int32_t offset = 0;
    mask_seq one = {.ids = NULL, .n = 1, .text = bytes, .text_len = len, .offsets = &offset};
    int key = -1;
    mask_rules_token_keys(&m->classes, m->md, &one, m->sc.byte_key, &key);
    return key + 1;
}

int mask_n_classes(mask *m)
{
    mask_clear_error(m);
    if (!m)
        return MASK_E_ARG;
    int rc = classes_ready(m);
    return rc ? rc : m->classes.n + 1;
}

const char *mask_class_name(mask *m, int k)
{
    if (!m || k < 0 || mask_n_classes(m) <= k)
        return NULL;
    return k == 0 ? "other" : m->classes.keys[k - 1];
}
