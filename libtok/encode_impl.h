/* encode_impl.h: the encoder's private state and the steps that encode.c shares with the
 * joint (aligned) encoding in align.c. */
#ifndef PYRAMASK_ENCODE_IMPL_H
#define PYRAMASK_ENCODE_IMPL_H

#include "pretok_fast.h"
#include "tok_impl.h"

#include <string.h>

/* A direct-mapped cache of short pre-tokens (<= 7 bytes) that are one or two tokens, in
 * front of the general cache: 24 bytes an entry, small enough to stay near the core. */
enum { SMALL_BITS = 15, SHORT_IDS = 2 };
struct small_entry {
    uint64_t key; /* the bytes, zero-padded, and the length in the top byte */
    uint32_t tag; /* the merge limit + 1; 0 = empty */
    uint32_t n;   /* the tokens, 1 or 2 */
    int32_t id[SHORT_IDS];
};

/* The same for pre-tokens of 8 to 15 bytes (a word with its leading space, most often): the
 * bytes in two words, the length in the top byte of the second; 32 bytes an entry. Without it
 * these pieces went to the general cache, whose probes wait on memory. */
enum { MID_BITS = 14 };
struct mid_entry {
    uint64_t key[2];
    uint32_t tag;
    uint32_t n;
    int32_t id[SHORT_IDS];
};

struct tok_encoder {
    const tok *t;
    struct small_entry *small; /* (1 << SMALL_BITS) */
    struct mid_entry *mid;     /* (1 << MID_BITS) */
    pretok_matcher *m;
    int fast; /* the matcher's ASCII shortcut, tried inline */
    merge_scratch sc;
    struct centry *ents; /* pre-token (and line) cache: open addressing */
    size_t ecap, en;
    uint32_t *arena; /* the entries' records: tag, result ids, key bytes */
    size_t alen, acap;
    int32_t *seq, *seq2; /* work buffers: one piece, one line */
    size_t seqcap, seq2cap;
    int32_t *rec; /* a piece's record for the cache, in the joint encoding */
    size_t reccap;
    size_t *pcs; /* the pieces of the current line: start, end pairs */
    size_t pcap;
    int32_t one;
};

/* The key of a short piece p[0..n), 2 <= n <= 7: its bytes zero-padded in a little-endian
 * word, from two overlapping loads (a byte-wise copy to the stack and a word load from it
 * stall the core), and n in the top byte. */
static inline uint64_t tok_small_key(const uint8_t *p, size_t n)
{
    uint64_t len = (uint64_t)n << 56;
    if (n >= 4) {
        uint64_t a =
            (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
        const uint8_t *q = p + n - 4;
        uint64_t b =
            (uint64_t)q[0] | (uint64_t)q[1] << 8 | (uint64_t)q[2] << 16 | (uint64_t)q[3] << 24;
        return len | a | b << (8 * (n - 4)); /* the overlap holds the same bytes in both */
    }
    return len | (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[n - 1] << (8 * (n - 1));
}

/* p[0..8) as a little-endian word (byte 0 the lowest), on any machine */
static inline uint64_t tok_load_le64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The bytes p[0..n), 8 <= n <= 15, in two words: the first 8 bytes, then the rest
 * zero-padded (from an overlapping load of the last 8) with n in the top byte. */
static inline void tok_mid_key(const uint8_t *p, size_t n, uint64_t key[2])
{
    key[0] = tok_load_le64(p);
    uint64_t tail = n > 8 ? tok_load_le64(p + n - 8) >> 8 * (16 - n) : 0;
    key[1] = tail | (uint64_t)n << 56;
}

/* The slots of a piece in the small and mid tables: one multiply (Fibonacci hashing) is
 * spread enough for a direct-mapped table. */
static inline struct small_entry *tok_small_slot(const tok_encoder *e, uint64_t key, int32_t hi)
{
    return &e->small[((key ^ (uint64_t)(uint32_t)hi << 20) * 0x9e3779b97f4a7c15ULL) >>
                     (64 - SMALL_BITS)];
}

static inline struct mid_entry *tok_mid_slot(const tok_encoder *e, const uint64_t mkey[2],
                                             int32_t hi)
{
    uint64_t x = (mkey[0] ^ (uint64_t)(uint32_t)hi << 20) * 0x9e3779b97f4a7c15ULL;
    return &e->mid[((x ^ mkey[1]) * 0x9e3779b97f4a7c15ULL) >> (64 - MID_BITS)];
}

const int32_t *tok_encode_piece_miss(tok_encoder *e, const uint8_t *p, size_t n, int32_t hi,
                                     size_t *nout);

/* Stage-1 tokens of piece p[0..n) with merges below hi; the result is borrowed (valid until
 * the next call); NULL when out of memory. A single byte and a hit in the small or mid table
 * (most pieces) are decided here, inline in the caller's loop. */
static inline const int32_t *tok_encode_piece(tok_encoder *e, const uint8_t *p, size_t n,
                                              int32_t hi, size_t *nout)
{
    if (n == 1) {
        *nout = 1;
        return &e->t->byte_id[p[0]];
    }
    if (n <= 7) {
        uint64_t key = tok_small_key(p, n);
        const struct small_entry *se = tok_small_slot(e, key, hi);
        if (se->key == key && se->tag == (uint32_t)hi + 1) {
            *nout = se->n;
            return se->id;
        }
    } else if (n <= 15) {
        uint64_t mkey[2];
        tok_mid_key(p, n, mkey);
        const struct mid_entry *me = tok_mid_slot(e, mkey, hi);
        if (me->key[0] == mkey[0] && me->key[1] == mkey[1] && me->tag == (uint32_t)hi + 1) {
            *nout = me->n;
            return me->id;
        }
    }
    return tok_encode_piece_miss(e, p, n, hi, nout);
}
/* Superword tokens (merges below hi) of the line s[cs..ce) made of npcs pieces. */
const int32_t *tok_encode_chunk(tok_encoder *e, const uint8_t *s, size_t cs, size_t ce,
                                const size_t *pcs, size_t npcs, int32_t hi, size_t *nout);
/* The piece cache (encode.c): the result stored for (tag, p[0..n)), or NULL, with the hash to
 * give tok_cache_put after a miss. Tags: a merge limit below 2^31 for a piece's tokens, bit 31
 * set for a line's superword tokens, bit 63 set for a piece's tokens at a range of levels. The
 * result is borrowed until the next put. */
const int32_t *tok_cache_get(tok_encoder *e, uint64_t tag, const uint8_t *p, size_t n,
                             size_t *nres, uint64_t *hout);
void tok_cache_put(tok_encoder *e, uint64_t tag, uint64_t h, const uint8_t *p, size_t n,
                   const int32_t *res, size_t nres);
/* The cache's entries that its lookup does not find by their own key and tag (0 when it is
 * sound), for the tests. */
size_t tok_cache_unsound(tok_encoder *e);
/* The next pre-token: the shortcut inline where it decides, else the matcher. */
static inline bool tok_next_piece(tok_encoder *e, const uint8_t *s, size_t n, pretok_iter *it,
                                  size_t *ps, size_t *pe)
{
    if (e->fast && !it->pending && it->pos < n) {
        size_t me = tok_pretok_fast(e->fast, s, n, it->pos);
        if (me) {
            *ps = it->pos;
            *pe = it->pos = me;
            return true;
        }
    }
    return tok_pretok_next(e->m, s, n, it, ps, pe);
}

/* The joint encoding of levels lo..hi (align.c), from `from` (a position where the encoding
 * restarts cleanly: no pre-token or line runs across it) until the first such position at or
 * after `stop`, which goes to *end: appends each level's tokens to lv[k]; the clean positions
 * passed are recorded in sync (up to maxsync; sync may be NULL). */
int tok_encode_levels_from(tok_encoder *e, int lo, int hi, const uint8_t *s, size_t n,
                           size_t from, size_t stop, tok_ids *lv, size_t *end, size_t *sync,
                           size_t *nsync, size_t maxsync);
/* Moves lv[lo..hi] (the tokens of an n-byte text) into *out and links the levels; on rc or a
 * failure, frees them and returns the error. */
int tok_align_finish(tok_align *out, tok_ids *lv, int lo, int hi, size_t n, int rc);
/* Grows ids to hold cap tokens. */
int tok_ids_reserve(tok_ids *ids, size_t cap);
/* Room in out for the tokens of n bytes at a level: 3 bytes a token (bytes 1). Untouched
 * pages cost nothing, and the output grows if needed (a huge input that cannot have that
 * much address space starts smaller). */
int tok_reserve_output(tok_ids *out, size_t n, int level);
/* Appends k ids whose first starts at byte `start`. */
int tok_ids_push(tok_ids *out, const tok *t, const int32_t *ids, size_t k, size_t start);
int tok_check_level(const tok *t, int level);

#endif
