/* pretok_fast.h: exact hand-written shortcuts for the tiktoken-style presets on ASCII text: the
 * match PCRE2 would return at a position, worked out by hand; anything else goes to PCRE2. */
#ifndef PYRAMASK_PRETOK_FAST_H
#define PYRAMASK_PRETOK_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { FAST_NONE = 0, FAST_GPT2, FAST_CL100K, FAST_O200K };
/* ASCII classes of every byte: one table load instead of range tests */
enum {
    C_LETTER = 1,
    C_UPPER = 2,
    C_LOWER = 4,
    C_DIGIT = 8,
    C_SPACE = 16, /* \t..\r and ' ' */
    C_NL = 32,    /* \n, \r */
    C_HIGH = 64,  /* >= 0x80 */
    C_PUNCT = 128 /* other ASCII */
};
static const uint8_t tok_fast_class[256] = {
    128, 128, 128, 128, 128, 128, 128, 128, 128, 16,  48,  16,  16,  48,  128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 16,  128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 8,   8,   8,   8,   8,   8,
    8,   8,   8,   8,   128, 128, 128, 128, 128, 128, 128, 3,   3,   3,   3,   3,   3,   3,
    3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,   3,
    3,   128, 128, 128, 128, 128, 128, 5,   5,   5,   5,   5,   5,   5,   5,   5,   5,   5,
    5,   5,   5,   5,   5,   5,   5,   5,   5,   5,   5,   5,   5,   5,   5,   128, 128, 128,
    128, 128, 64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
    64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
    64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
    64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
    64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
    64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
    64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
    64,  64,  64,  64,
};

static inline bool fast_is_lower(uint8_t c)
{
    return tok_fast_class[c] & C_LOWER;
}
static inline bool fast_is_upper(uint8_t c)
{
    return tok_fast_class[c] & C_UPPER;
}
static inline bool fast_is_letter(uint8_t c)
{
    return tok_fast_class[c] & C_LETTER;
}
static inline bool fast_is_digit(uint8_t c)
{
    return tok_fast_class[c] & C_DIGIT;
}
static inline bool fast_is_space(uint8_t c)
{
    return tok_fast_class[c] & C_SPACE;
}
static inline bool fast_is_nl(uint8_t c)
{
    return tok_fast_class[c] & C_NL;
}
static inline bool fast_is_punct(uint8_t c)
{
    return tok_fast_class[c] & C_PUNCT;
}

/* End of the ASCII letter run from i, or 0 when it runs into a non-ASCII byte. With SSE2,
 * 16 bytes a step: a byte is a letter when (c | 0x20) - 'a' < 26, compared as signed bytes
 * offset by 128; the loop's exit then costs no branch per letter. */
static inline size_t fast_letters(const uint8_t *s, size_t n, size_t i)
{
#ifdef __SSE2__
    const __m128i lower = _mm_set1_epi8(0x20), shift = _mm_set1_epi8((char)(128 - 'a')),
                  limit = _mm_set1_epi8((char)(26 - 128));
    while (i + 16 <= n) {
        __m128i v =
            _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), lower);
        __m128i in = _mm_cmplt_epi8(_mm_add_epi8(v, shift), limit);
        unsigned out = ~(unsigned)_mm_movemask_epi8(in) & 0xffffu;
        if (out) {
            i += (size_t)__builtin_ctz(out);
            return s[i] >= 0x80 ? 0 : i;
        }
        i += 16;
    }
#endif
    while (i < n && fast_is_letter(s[i]))
        i++;
    return i < n && s[i] >= 0x80 ? 0 : i;
}

/* o200k's letter alternatives from i (after an optional prefix): [Lu...]*[Ll...]+ or else
 * [Lu...]+[Ll...]*, each with an optional contraction (left to PCRE2). 0 = not decided. */
static inline size_t fast_o200k_letters(const uint8_t *s, size_t n, size_t i)
{
    size_t u = i;
    while (u < n && fast_is_upper(s[u]))
        u++;
    size_t l = u;
    while (l < n && fast_is_lower(s[l]))
        l++;
    if (l < n && (s[l] >= 0x80 || s[l] == '\''))
        return 0; /* a mark, a letter, a contraction */
    if (l > u)
        return l;         /* upper* lower+ */
    return u > i ? u : 0; /* upper+ */
}

/* Whitespace from pos: cl100k/o200k (newline-aware) or gpt2. 0 = not decided. */
static inline size_t fast_spaces(const uint8_t *s, size_t n, size_t pos, bool nl_rule)
{
    size_t q = pos, last_nl = 0;
    while (q < n && fast_is_space(s[q])) {
        if (fast_is_nl(s[q]))
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
static inline size_t fast_punct_run(const uint8_t *s, size_t n, size_t i, int tail)
{
    while (i < n && fast_is_punct(s[i]))
        i++;
    if (i < n && s[i] >= 0x80)
        return 0;
    while (tail && i < n && (fast_is_nl(s[i]) || (tail == 2 && s[i] == '/')))
        i++;
    return i;
}

static inline size_t fast_cl100k(const uint8_t *s, size_t n, size_t pos, bool o200k)
{
    uint8_t c = s[pos];
    uint8_t d = pos + 1 < n ? s[pos + 1] : 0;
    bool prefix =
        !fast_is_nl(c) && (fast_is_space(c) || fast_is_punct(c)); /* [^\r\n\p{L}\p{N}] */
    if (fast_is_letter(c))
        return o200k ? fast_o200k_letters(s, n, pos) : fast_letters(s, n, pos);
    if (c == '\'' && !o200k)
        return 0; /* contractions */
    if (prefix && pos + 1 < n && fast_is_letter(d))
        return o200k ? fast_o200k_letters(s, n, pos + 1) : fast_letters(s, n, pos + 1);
    if (prefix && d >= 0x80)
        return 0;
    if (fast_is_digit(c)) {
        size_t i = pos;
        while (i < n && i < pos + 3 && fast_is_digit(s[i]))
            i++;
        return i < n && i < pos + 3 && s[i] >= 0x80 ? 0 : i;
    }
    if (c == ' ' && pos + 1 < n && fast_is_punct(d))
        return fast_punct_run(s, n, pos + 1, o200k ? 2 : 1);
    if (fast_is_punct(c))
        return fast_punct_run(s, n, pos, o200k ? 2 : 1);
    if (fast_is_space(c))
        return fast_spaces(s, n, pos, true);
    return 0;
}

static inline size_t fast_gpt2(const uint8_t *s, size_t n, size_t pos)
{
    uint8_t c = s[pos];
    size_t i = c == ' ' && pos + 1 < n ? pos + 1 : pos; /* the optional leading space */
    uint8_t d = s[i];
    if (c == '\'')
        return 0;
    if (d >= 0x80)
        return 0;
    if (fast_is_letter(d) && (i > pos || fast_is_letter(c)))
        return fast_letters(s, n, i);
    if (fast_is_digit(d) && (i > pos || fast_is_digit(c))) {
        while (i < n && fast_is_digit(s[i]))
            i++;
        return i < n && s[i] >= 0x80 ? 0 : i;
    }
    if (fast_is_punct(d) && (i > pos || fast_is_punct(c)))
        return fast_punct_run(s, n, i, 0);
    if (fast_is_space(c))
        return fast_spaces(s, n, pos, false);
    return 0;
}

/* The end of the match the preset's pattern makes at s[pos] (the search starting there), or
 * 0 when the bytes around pos leave it undecided (non-ASCII, contractions...). Inline: it
 * runs once a pre-token, in the encoder's loop. */
static inline size_t tok_pretok_fast(int kind, const uint8_t *s, size_t n, size_t pos)
{
    if (pos >= n || s[pos] >= 0x80)
        return 0;
    switch (kind) {
    case FAST_CL100K:
        return fast_cl100k(s, n, pos, false);
    case FAST_O200K:
        return fast_cl100k(s, n, pos, true);
    case FAST_GPT2:
        return fast_gpt2(s, n, pos);
    default:
        return 0;
    }
}

#endif
