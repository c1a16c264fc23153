/* pretok.c: the PCRE2 pre-tokenizer: preset patterns, compilation (UTF, UCP, JIT) and the
 * iteration that splits a byte buffer into pre-tokens, covering every byte. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pretok_fast.h"
#include "tok_impl.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unicode White_Space, which is what tiktoken's \s means (PCRE2's \s adds U+180E). */
#define WS                                                                               \
    "\\x{09}-\\x{0D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
    "\\x{202F}\\x{205F}\\x{3000}"
#define CONTRACTIONS "'s|'t|'re|'ve|'m|'ll|'d"

static const struct preset {
    const char *name;
    int fast; /* the exact ASCII shortcut of pretok_fast.c, if any */
    const char *pattern;
} presets[] = {
    {"gpt2", FAST_GPT2,
     CONTRACTIONS "| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS
                  "]+"},
    {"cl100k", FAST_CL100K,
     "(?i:" CONTRACTIONS ")|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS
     "\\p{L}\\p{N}]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+"},
    {"o200k", FAST_O200K,
     "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
     "(?i:" CONTRACTIONS ")?"
     "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
     "*"
     "(?i:" CONTRACTIONS ")?"
     "|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS
     "])|[" WS "]+"},
    /* identifiers with one leading blank, numbers by 3 digits, operators by up to 3
     * characters, a newline with the indentation after it, other whitespace runs */
    {"code", FAST_NONE,
     "[ \\t]?[\\p{L}_][\\p{L}\\p{N}_]*|\\p{N}{1,3}|[ \\t]?[^" WS "\\p{L}\\p{N}_]{1,3}"
     "|\\r?\\n[ \\t]*|[" WS "]+(?![^" WS "])|[" WS "]+"},
    /* words (anything but whitespace) with one leading space, other whitespace runs */
    {"whitespace", FAST_NONE, " ?[^" WS "]+|[" WS "]+(?![^" WS "])|[" WS "]+"},
};
enum { NPRESETS = sizeof presets / sizeof presets[0] };

struct pretok {
    pcre2_code *code;
    bool jit;
    int fast;
    char *pattern, *name;
};

struct pretok_matcher {
    const pretok *p;
    pcre2_match_data *md;
    PCRE2_SIZE *ov;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
};

const char *tok_preset_pattern(const char *name)
{
    for (int i = 0; i < NPRESETS; i++)
        if (!strcmp(presets[i].name, name))
            return presets[i].pattern;
    return NULL;
}

int tok_pretok_compile(pretok **out, const char *spec, tok_err *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return tok_fail(err, TOK_EINVAL, "empty pre-tokenizer pattern");
    const char *pattern = spec, *name = "custom";
    int fast = FAST_NONE;
    for (int i = 0; i < NPRESETS; i++)
        if (!strcmp(presets[i].name, spec) || !strcmp(presets[i].pattern, spec)) {
            pattern = presets[i].pattern;
            name = presets[i].name;
            fast = presets[i].fast;
        }
    int ecode;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ecode, &eoff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        return tok_fail(err, TOK_EREGEX, "invalid regex at offset %zu: %s", (size_t)eoff,
                        (char *)msg);
    }
    pretok *p = calloc(1, sizeof *p);
    if (!p || !(p->pattern = strdup(pattern)) || !(p->name = strdup(name))) {
        pcre2_code_free(code);
        if (p)
            free(p->pattern);
        free(p);
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    p->code = code;
    p->fast = fast;
    p->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    *out = p;
    return TOK_OK;
}

void tok_pretok_free(pretok **pp)
{
    if (!pp || !*pp)
        return;
    pretok *p = *pp;
    pcre2_code_free(p->code);
    free(p->pattern);
    free(p->name);
    free(p);
    *pp = NULL;
}

const char *tok_pretok_pattern(const pretok *p)
{
    return p->pattern;
}
const char *tok_pretok_preset_name(const pretok *p)
{
    return p->name;
}

int tok_check_pretok(const char *spec, tok_err *err)
{
    tok_err_clear(err);
    pretok *p;
    int rc = tok_pretok_compile(&p, spec, err);
    tok_pretok_free(&p);
    return rc;
}

int tok_pretok_matcher_open(pretok_matcher **out, const pretok *p)
{
    pretok_matcher *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return TOK_ENOMEM;
    m->p = p;
    m->md = pcre2_match_data_create_from_pattern(p->code, NULL);
    m->mc = pcre2_match_context_create(NULL);
    if (p->jit)
        m->js = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!m->md || !m->mc || (p->jit && !m->js)) {
        tok_pretok_matcher_close(&m);
        return TOK_ENOMEM;
    }
    if (m->js)
        pcre2_jit_stack_assign(m->mc, NULL, m->js);
    m->ov = pcre2_get_ovector_pointer(m->md);
    *out = m;
    return TOK_OK;
}

void tok_pretok_matcher_close(pretok_matcher **mp)
{
    if (!mp || !*mp)
        return;
    pretok_matcher *m = *mp;
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mc);
    pcre2_jit_stack_free(m->js);
    free(m);
    *mp = NULL;
}

/* The first non-empty match at or after `from`; false if there is none. A match that fails
 * for want of resources (JIT stack, match limit) takes one byte, so splitting stays total. */
static bool find(pretok_matcher *m, const uint8_t *s, size_t n, size_t from, size_t *ms,
                 size_t *me)
{
    const pretok *p = m->p;
    int rc = p->jit ? pcre2_jit_match(p->code, s, n, from, PCRE2_NOTEMPTY, m->md, m->mc)
                    : pcre2_match(p->code, s, n, from, PCRE2_NOTEMPTY, m->md, m->mc);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && p->jit)
        rc = pcre2_match(p->code, s, n, from, PCRE2_NOTEMPTY | PCRE2_NO_JIT, m->md, m->mc);
    if (rc == PCRE2_ERROR_NOMATCH)
        return false;
    if (rc < 0) {
        *ms = from;
        *me = from + 1;
        return true;
    }
    *ms = m->ov[0];
    *me = m->ov[1];
    return true;
}

int tok_pretok_fast_kind(const pretok_matcher *m)
{
    return m->p->fast;
}

bool tok_pretok_next(pretok_matcher *m, const uint8_t *s, size_t n, pretok_iter *it, size_t *ps,
                     size_t *pe)
{
    if (it->pending) {
        *ps = it->pend_s;
        *pe = it->pos = it->pend_e;
        it->pending = false;
        return true;
    }
    if (it->pos >= n)
        return false;
    size_t ms, me = m->p->fast ? tok_pretok_fast(m->p->fast, s, n, it->pos) : 0;
    if (me) { /* the shortcut knows the match at pos */
        *ps = it->pos;
        *pe = it->pos = me;
        return true;
    }
    if (!find(m, s, n, it->pos, &ms, &me)) {
        *ps = it->pos;
        *pe = it->pos = n;
        return true;
    }
    if (ms > it->pos) { /* bytes the pattern skipped: a pre-token of their own */
        *ps = it->pos;
        *pe = ms;
        it->pending = true;
        it->pend_s = ms;
        it->pend_e = me;
        it->pos = ms;
        return true;
    }
    *ps = ms;
    *pe = it->pos = me;
    return true;
}
