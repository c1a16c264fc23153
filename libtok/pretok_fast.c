/* pretok_fast.c: exact shortcuts for the gpt2, cl100k and o200k patterns on ASCII text: the
 * match PCRE2 would return at a position, worked out by hand; anything else goes to PCRE2. */
#include "pretok_fast.h"

static inline bool is_lower(uint8_t c)
{
    return c >= 'a' && c <= 'z';
}
static inline bool is_upper(uint8_t c)
{
    return c >= 'A' && c <= 'Z';
}
static inline bool is_letter(uint8_t c)
{
    return is_lower(c) || is_upper(c);
}
static inline bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}
static inline bool is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}
static inline bool is_nl(uint8_t c)
{
    return c == '\n' || c == '\r';
}
static inline bool is_punct(uint8_t c)
{
    return c < 0x80 && !is_letter(c) && !is_digit(c) && !is_space(c);
}

/* End of the ASCII letter run from i, or 0 when it runs into a non-ASCII byte. */
static size_t letters(const uint8_t *s, size_t n, size_t i)
{
    while (i < n && is_letter(s[i]))
        i++;
    return i < n && s[i] >= 0x80 ? 0 : i;
}

/* o200k's letter alternatives from i (after an optional prefix): [Lu...]*[Ll...]+ or else
 * [Lu...]+[Ll...]*, each with an optional contraction (left to PCRE2). 0 = not decided. */
static size_t o200k_letters(const uint8_t *s, size_t n, size_t i)
{
    size_t u = i;
    while (u < n && is_upper(s[u]))
        u++;
    size_t l = u;
    while (l < n && is_lower(s[l]))
        l++;
    if (l < n && (s[l] >= 0x80 || s[l] == '\''))
        return 0; /* a mark, a letter, a contraction */
    if (l > u)
        return l;         /* upper* lower+ */
    return u > i ? u : 0; /* upper+ */
}

/* Whitespace from pos: cl100k/o200k (newline-aware) or gpt2. 0 = not decided. */
static size_t spaces(const uint8_t *s, size_t n, size_t pos, bool nl_rule)
{
    size_t q = pos, last_nl = 0;
    while (q < n && is_space(s[q])) {
        if (is_nl(s[q]))
            last_nl = q + 1;
        q++;
    }
    if (q < n && s[q] >= 0x80)
        return 0; /* Unicode spaces may follow */
    if (nl_rule && last_nl)
        return last_nl; /* \s*[\r\n]+ */
    if (q == n)
        return n;                    /* \s+(?!\S) at the end */
    return q - pos >= 2 ? q - 1 : q; /* \s+(?!\S) leaves one before \S, else \s+ */
}

/* [^\s\p{L}\p{N}]+ from i, then tail 1: [\r\n]*, 2: [\r\n/]* (o200k), 0: nothing. */
static size_t punct_run(const uint8_t *s, size_t n, size_t i, int tail)
{
    while (i < n && is_punct(s[i]))
        i++;
    if (i < n && s[i] >= 0x80)
        return 0;
    while (tail && i < n && (is_nl(s[i]) || (tail == 2 && s[i] == '/')))
        i++;
    return i;
}

static size_t cl100k(const uint8_t *s, size_t n, size_t pos, bool o200k)
{
    uint8_t c = s[pos];
    uint8_t d = pos + 1 < n ? s[pos + 1] : 0;
    bool prefix = !is_nl(c) && (is_space(c) || is_punct(c)); /* [^\r\n\p{L}\p{N}] */
    if (is_letter(c))
        return o200k ? o200k_letters(s, n, pos) : letters(s, n, pos);
    if (c == '\'' && !o200k)
        return 0; /* contractions */
    if (prefix && pos + 1 < n && is_letter(d))
        return o200k ? o200k_letters(s, n, pos + 1) : letters(s, n, pos + 1);
    if (prefix && d >= 0x80)
        return 0;
    if (is_digit(c)) {
        size_t i = pos;
        while (i < n && i < pos + 3 && is_digit(s[i]))
            i++;
        return i < n && i < pos + 3 && s[i] >= 0x80 ? 0 : i;
    }
    if (c == ' ' && pos + 1 < n && is_punct(d))
        return punct_run(s, n, pos + 1, o200k ? 2 : 1);
    if (is_punct(c))
        return punct_run(s, n, pos, o200k ? 2 : 1);
    if (is_space(c))
        return spaces(s, n, pos, true);
    return 0;
}

static size_t gpt2(const uint8_t *s, size_t n, size_t pos)
{
    uint8_t c = s[pos];
    size_t i = c == ' ' && pos + 1 < n ? pos + 1 : pos; /* the optional leading space */
    uint8_t d = s[i];
    if (c == '\'')
        return 0;
    if (d >= 0x80)
        return 0;
    if (is_letter(d) && (i > pos || is_letter(c)))
        return letters(s, n, i);
    if (is_digit(d) && (i > pos || is_digit(c))) {
        while (i < n && is_digit(s[i]))
            i++;
        return i < n && s[i] >= 0x80 ? 0 : i;
    }
    if (is_punct(d) && (i > pos || is_punct(c)))
        return punct_run(s, n, i, 0);
    if (is_space(c))
        return spaces(s, n, pos, false);
    return 0;
}

size_t tok_pretok_fast(int kind, const uint8_t *s, size_t n, size_t pos)
{
    if (pos >= n || s[pos] >= 0x80)
        return 0;
    switch (kind) {
    case FAST_CL100K:
        return cl100k(s, n, pos, false);
    case FAST_O200K:
        return cl100k(s, n, pos, true);
    case FAST_GPT2:
        return gpt2(s, n, pos);
    default:
        return 0;
    }
}
