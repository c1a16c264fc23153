/* coarsen_prefix.c: the prefix:N coarsening map: each token of a level described by its first
 * piece at a finer level, found by unmerging the token's merge tree. */
#include "tok_impl.h"

int tok_prefix_map(const tok *t, int level, int piece_level, int32_t *map, tok_err *err)
{
    tok_err_clear(err);
    if (!t || !map)
        return tok_fail(err, TOK_EINVAL, "prefix map: %s is NULL",
                        t ? "the map" : "the pyramid");
    if (level < 1 || level > t->nlevels)
        return tok_fail(err, TOK_ERANGE, "prefix map of level %d: the pyramid has levels 1..%d",
                        level, t->nlevels);
    if (piece_level > 0 && t->rule == RULE_RANKS)
        return tok_fail(err, TOK_EINVAL,
                        "prefix:%d: an imported tiktoken pyramid has no merge parts, so only "
                        "prefix:0 (the first byte) is defined",
                        piece_level);
    if (piece_level < 0 || piece_level >= level)
        return tok_fail(err, TOK_EINVAL,
                        "prefix:%d of level %d: the piece level must be finer, 0..%d",
                        piece_level, level, level - 1);
    int32_t V = t->vocab[level];
    for (int32_t id = 0; id < V; id++) {
        if (piece_level == 0) {
            map[id] = t->bytes[t->off[id]];
            continue;
        }
        /* the leftmost part of the merge tree cut at piece_level: parts are earlier ids
         * (tok_finish checks it), so the descent ends */
        int32_t p = id;
        while (t->level[p] > piece_level)
            p = t->left[p];
        map[id] = p;
    }
    return TOK_OK;
}

const uint8_t *tok_prefix_piece_bytes(const tok *t, int piece_level, int32_t d, size_t *len)
{
    static const uint8_t byte[256] = {
#define B4(i)  (i), (i) + 1, (i) + 2, (i) + 3
#define B16(i) B4(i), B4((i) + 4), B4((i) + 8), B4((i) + 12)
#define B64(i) B16(i), B16((i) + 16), B16((i) + 32), B16((i) + 48)
        B64(0), B64(64), B64(128), B64(192)
#undef B64
#undef B16
#undef B4
    };
    if (piece_level < 0 || piece_level > t->nlevels || d < 0 || d >= t->vocab[piece_level])
        return NULL;
    if (piece_level == 0) {
        *len = 1;
        return &byte[d];
    }
    return tok_bytes_of(t, d, len);
}
