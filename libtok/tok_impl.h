/* tok_impl.h: libtok's private types shared by its files: the pyramid struct, its hash
 * tables, the pre-tokenizer and the merge kernel. Not part of the public API, but its
 * functions are external symbols of libtok.a: they carry the prefix tok_ as well. */
#ifndef PYRAMASK_TOK_IMPL_H
#define PYRAMASK_TOK_IMPL_H

#include "tok.h"

#include <stdarg.h>
#include <stdbool.h>

/* ---- hash tables (tables.c) ---- */
/* Advises transparent huge pages over the whole pages of p[0..bytes) if it is 4 MB or
 * more: its first touch then takes one page fault per 2 MB instead of one per 4 KB (on a
 * virtual machine a fault costs as much as encoding a few hundred bytes). Advice only. */
void tok_advise_huge(void *p, size_t bytes);
/* n zeroed elements of `size` bytes, for a table read before it is written (NULL if out of
 * memory). */
void *tok_zeroed(size_t n, size_t size);
/* A table of `bytes`, zeroed (written, for a table read before it is written) when `zero`,
 * else untouched until used: from 1 MB up in a mapping of its own made of 2 MB pages
 * (advised; the first touch takes a fault per 2 MB), below that from malloc. Freed by
 * tok_table_free with the same size. NULL if out of memory. */
void *tok_table_alloc(size_t bytes, bool zero);
void tok_table_free(void *p, size_t bytes);
/* realloc(old, bytes) for an array whose first touches are an encoding's largest (the token
 * arrays): a first block (old NULL) of 1 MB or more starts on a 2 MB boundary, rounded up to
 * 2 MB pages (advised), and realloc and free then take it as any other block; a grown one
 * gets the advice of tok_advise_huge. NULL if out of memory (old is then kept). */
void *tok_realloc_paged(void *old, size_t bytes);

/* (left, right) -> result id; the merge's priority is the result id (its rank). */
/* A slot holds its key and value side by side: a lookup touches one cache line, not two. */
typedef struct pair_slot {
    uint64_t key; /* left << 32 | right, or PAIRMAP_EMPTY */
    int32_t val;
} pair_slot;
typedef struct pairmap {
    pair_slot *slots;
    size_t cap, n; /* cap is a power of two */
} pairmap;
#define PAIRMAP_EMPTY UINT64_MAX
int tok_pairmap_init(pairmap *m, size_t expect);
void tok_pairmap_free(pairmap *m);
int tok_pairmap_put(pairmap *m, int32_t left, int32_t right, int32_t val);
static inline uint64_t pair_key(int32_t l, int32_t r)
{
    return (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
}
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}
/* The result id of merging (l, r), or -1. */
static inline int32_t tok_pairmap_get(const pairmap *m, int32_t l, int32_t r)
{
    uint64_t k = pair_key(l, r);
    size_t mask = m->cap - 1, i = mix64(k) & mask;
    for (;;) {
        uint64_t kk = m->slots[i].key;
        if (kk == k)
            return m->slots[i].val;
        if (kk == PAIRMAP_EMPTY)
            return -1;
        i = (i + 1) & mask;
    }
}

/* byte strings of the pyramid's tokens -> id */
typedef struct byte_slot {
    int32_t id; /* -1 = empty */
    uint32_t hash;
} byte_slot;
typedef struct bytemap {
    byte_slot *slots;
    size_t cap, n;
} bytemap;
/* The strings live outside the map: string id is base[off[id]] .. base[off[id + 1]]. */
typedef struct bytestrs {
    const uint8_t *base;
    const size_t *off;
} bytestrs;
uint64_t tok_hash_bytes(const uint8_t *p, size_t n);
int tok_bytemap_init(bytemap *m, size_t expect);
void tok_bytemap_free(bytemap *m);
/* Adds string id; returns id, or the id already holding the same bytes, or TOK_ENOMEM. The
 * strings (base may move between calls, e.g. after realloc) are given on each call. */
int32_t tok_bytemap_add(bytemap *m, bytestrs s, int32_t id);
int32_t tok_bytemap_get(const bytemap *m, bytestrs s, const uint8_t *p, size_t n);

/* ---- pre-tokenizer (pretok.c) ---- */

typedef struct pretok pretok;
typedef struct pretok_matcher pretok_matcher;
/* Compiles a preset name or a regex; err gets PCRE2's message and offset. */
int tok_pretok_compile(pretok **out, const char *preset_or_regex, tok_err *err);
void tok_pretok_free(pretok **p);
const char *tok_pretok_pattern(const pretok *p);
const char *tok_pretok_preset_name(const pretok *p);
int tok_pretok_matcher_open(pretok_matcher **out, const pretok *p);
void tok_pretok_matcher_close(pretok_matcher **m);

/* Iteration state over one buffer: the next search position and a match found after a gap. */
typedef struct pretok_iter {
    size_t pos;
    size_t pend_s, pend_e; /* a match waiting to be returned after the gap before it */
    bool pending;
} pretok_iter;
/* The next pre-token [*ps, *pe) of s[0..n) from it->pos; false at the end. Bytes the regex
 * does not match (between matches) come back as pre-tokens of their own. */
bool tok_pretok_next(pretok_matcher *m, const uint8_t *s, size_t n, pretok_iter *it, size_t *ps,
                     size_t *pe);
/* The matcher's exact ASCII shortcut (FAST_* of pretok_fast.h), FAST_NONE for none: a caller
 * may try it inline, where no match is pending, before tok_pretok_next. */
int tok_pretok_fast_kind(const pretok_matcher *m);

/* ---- the pyramid (pyramid.c) ---- */

enum { RULE_MERGES = 0, RULE_RANKS = 1 };

struct tok {
    int32_t ntok;
    uint8_t *bytes;                    /* all tokens' bytes, concatenated */
    size_t *off;                       /* (ntok + 1) offsets into bytes */
    int32_t *left, *right;             /* (ntok) merge parts, -1 for none */
    int64_t *count;                    /* (ntok) */
    uint8_t *level;                    /* (ntok) first level containing the token */
    uint8_t *stage;                    /* (ntok) TOK_STAGE_* */
    int nlevels;                       /* L */
    int32_t vocab[TOK_MAX_LEVELS + 1]; /* tokens at level k */
    int32_t limit[TOK_MAX_LEVELS + 1]; /* merges with result id < limit[k] belong to level k */
    int super_level;                   /* 0 or the superword level (always L) */
    int32_t super_start;               /* first id of the superword stage */
    int rule;      /* RULE_MERGES: the stored merges; RULE_RANKS: tiktoken's rule */
    char *pattern; /* the pre-tokenizer regex */
    char *pretok_name;
    pretok *pre;
    pairmap pairs;
    bytemap byid;
    int32_t byte_id[256]; /* the id of each single byte */
    uint64_t hash;
};

/* Allocates the per-token arrays for ntok tokens holding nbytes bytes in all. */
int tok_alloc(tok **out, int32_t ntok, size_t nbytes);
/* Builds the lookup tables, compiles the pattern and computes the hash once the arrays,
 * levels and pattern are filled in. */
int tok_finish(tok *t, tok_err *err);
/* Content hash (what tok_hash prints) and checksum (that and the counts). */
uint64_t tok_content_hash(const tok *t, bool with_counts);

static inline const uint8_t *tok_bytes_of(const tok *t, int32_t id, size_t *len)
{
    *len = t->off[id + 1] - t->off[id];
    return t->bytes + t->off[id];
}

/* Records rc and the formatted details in err (if non-NULL) and returns rc: every failing
 * path of a call that takes a tok_err goes through here. */
int tok_fail(tok_err *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* What every public call that takes a tok_err does first: forgets the last outcome. */
static inline void tok_err_clear(tok_err *err)
{
    if (err) {
        err->msg[0] = 0;
        err->code = TOK_OK;
    }
}

/* ---- writing files (safe_write.c) ---- */

/* Fills the temporary file (open as fd, named tmp: write through either, e.g. SQLite by its
 * name; do not close fd); returns 0 or a TOK_E* code recorded in err. */
typedef int (*tok_fill_fn)(int fd, const char *tmp, void *ctx, tok_err *err);
/* Writes path whole or not at all, the only way libtok writes a file: a temporary file in
 * path's directory (path.tmp-XXXXXX, mode 0600), fill, fsync, rename over path, fsync of the
 * directory. On error the temporary file is removed and path is untouched. */
int tok_write_file(const char *path, tok_fill_fn fill, void *ctx, tok_err *err);

/* ---- the merge kernel (bpe_merge.c) ---- */

/* Applies the merges of `pairs` whose result id r has lo <= r < hi to s[0..n), lowest
 * result id first, leftmost on ties, until none applies; returns the new length.
 * scratch must hold 3 * n int32_t... see bpe_merge.c; it is grown as needed. */
typedef struct merge_scratch {
    int32_t *buf;
    size_t cap;
} merge_scratch;
size_t tok_bpe_merge(const pairmap *pairs, int32_t lo, int32_t hi, int32_t *s, size_t n,
                     merge_scratch *sc);
void tok_merge_scratch_free(merge_scratch *sc);

/* ---- training internals (train_count.c, bpe_train.c) ---- */

/* Unique pre-tokens with their counts, in a deterministic order (sorted by bytes). */
typedef struct word_counts {
    size_t nwords;
    uint8_t *bytes; /* concatenated */
    size_t *off;    /* (nwords + 1) */
    int64_t *count; /* (nwords) */
} word_counts;
void tok_word_counts_free(word_counts *w);

/* A training text: either a file path or a buffer. */
typedef struct train_text {
    const char *path;
    const uint8_t *buf;
    size_t len;
} train_text;

/* Counts the pre-tokens of all texts with nthreads threads. */
int tok_count_pretokens(const pretok *pre, const train_text *texts, int ntexts, int nthreads,
                        const tok_train_settings *s, word_counts *out, tok_err *err);

/* Sequences of symbols with counts that the merge loop works on. */
typedef struct symseqs {
    size_t n;
    int32_t *sym;   /* all sequences, concatenated */
    size_t *off;    /* (n + 1) start of each; a sequence shrinks in place as it merges */
    uint32_t *len;  /* (n) current length */
    int64_t *count; /* (n) */
} symseqs;
void tok_symseqs_free(symseqs *q);

/* The vocabulary under construction. */
typedef struct vocab_build {
    int32_t ntok, cap;
    uint8_t *bytes;
    size_t nbytes, bcap;
    size_t *off;
    int32_t *left, *right;
    int64_t *count;
    bytemap seen; /* bytes -> id, to refuse duplicates */
} vocab_build;

/* Learns merges on q until the vocabulary has `target` tokens (TOK_ECORPUS if the pairs
 * run out first); `stage` names the phase in progress reports. */
int tok_bpe_learn(vocab_build *v, symseqs *q, int32_t target, int stage,
                  const tok_train_settings *s, tok_err *err);
int tok_vocab_build_push(vocab_build *v, const uint8_t *p, size_t n, int32_t l, int32_t r,
                         int64_t count);

/* Unique lines (runs of pre-tokens with no newline byte) with their counts, each as the
 * concatenation of its words' current segmentations in `words` (indexed like w). */
int tok_count_chunks(const pretok *pre, const train_text *texts, int ntexts,
                     const word_counts *w, const symseqs *words, symseqs *out, tok_err *err);

#endif
