/* pretok_fast.h: exact hand-written shortcuts for the tiktoken-style presets on ASCII text,
 * tried before PCRE2 at each position (private to libtok). */
#ifndef PYRAMASK_PRETOK_FAST_H
#define PYRAMASK_PRETOK_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { FAST_NONE = 0, FAST_GPT2, FAST_CL100K, FAST_O200K };

/* The end of the match the preset's pattern makes at s[pos] (the search starting there), or
 * 0 when the bytes around pos leave it undecided (non-ASCII, contractions...). */
size_t tok_pretok_fast(int kind, const uint8_t *s, size_t n, size_t pos);

#endif
