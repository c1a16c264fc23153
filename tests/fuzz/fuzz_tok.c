/* fuzz_tok.c: the pyramid checks the pretok, pyr and tiktoken harnesses share: round trip of
 * a text at every level, and save then load to the same pyramid. */
#include "fuzz_tok.h"
#include "fuzz_common.h"

#include <string.h>

void fuzz_tok_round_trip(const tok *t, const void *text, size_t n)
{
    tok_encoder *e = NULL;
    FUZZ_CHECK(tok_encoder_open(&e, t) == 0, "encoder");
    tok_ids ids = {0};
    tok_err err;
    for (int k = 0; k <= tok_nlevels(t); k++) {
        FUZZ_CHECK(tok_encode(e, k, text, n, &ids) == 0, "encode at level %d", k);
        for (size_t j = 0; j < ids.n; j++) {
            int level = tok_token_level(t, ids.ids[j]);
            size_t len;
            tok_token_bytes(t, ids.ids[j], &len);
            FUZZ_CHECK(level >= 0 && level <= k && (k > 0 || len == 1),
                       "level %d: token %zu is id %d of level %d, %zu bytes", k, j, ids.ids[j],
                       level, len);
        }
        uint8_t *out;
        size_t outlen;
        FUZZ_CHECK(tok_decode(t, k, ids.ids, ids.n, &out, &outlen, &err) == 0, "decode: %s",
                   err.msg);
        FUZZ_CHECK(outlen == n && (!n || !memcmp(out, text, n)),
                   "level %d: decode(encode(x)) != x (%zu bytes, %zu decoded)", k, n, outlen);
        free(out);
    }
    tok_ids_free(&ids);
    tok_encoder_close(&e);
}

void fuzz_tok_save_load(const tok *t)
{
    char path[512], h1[17], h2[17];
    tok_err err;
    snprintf(path, sizeof path, "%s/saved.pyr", fuzz_dir());
    FUZZ_CHECK(tok_save(t, path, &err) == 0, "save: %s", err.msg);
    tok *t2 = NULL;
    FUZZ_CHECK(tok_open(&t2, path, &err) == 0, "a saved pyramid does not load: %s", err.msg);
    tok_hash(t, h1);
    tok_hash(t2, h2);
    FUZZ_CHECK(!strcmp(h1, h2), "saved and loaded pyramids differ: %s vs %s", h1, h2);
    tok_close(&t2);
}
