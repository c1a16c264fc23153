/* fuzz_tok.h: checks shared by the harnesses that end with a pyramid (pretok, pyr,
 * tiktoken): a text round-trips at every level, and the pyramid saves and loads unchanged. */
#ifndef PYRAMASK_FUZZ_TOK_H
#define PYRAMASK_FUZZ_TOK_H

#include "tok.h"

/* At every level: encoding succeeds with ids of that level (single bytes at level 0) and
 * decoding gives the text back. Aborts otherwise. */
void fuzz_tok_round_trip(const tok *t, const void *text, size_t n);

/* Saved to the scratch directory and loaded again, the pyramid has the same hash. */
void fuzz_tok_save_load(const tok *t);

#endif
