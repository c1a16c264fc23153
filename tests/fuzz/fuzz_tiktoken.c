/* fuzz_tiktoken.c: tiktoken rank files ("base64-token rank" per line): the import refuses
 * them with a reason or gives a pyramid that encodes and decodes exactly, in which every
 * single byte is a token, and that saves and loads again unchanged. */
#include "fuzz_common.h"
#include "tok.h"

#include <string.h>

static const char sample[] = "In the beginning God created the heaven and the earth.\n"
                             "def f(x_1):\n\treturn x_1 * 42  # caf\xc3\xa9 \xff\x00!\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("ranks.tiktoken", data, size);
    tok *t = NULL;
    tok_err err = {{0}};
    int rc = tok_import_tiktoken(&t, path, NULL, &err);
    if (rc) {
        FUZZ_CHECK(rc < 0 && !t && err.msg[0] && rc != TOK_ENOMEM,
                   "refused with %s, message '%s'", tok_strerror(rc), err.msg);
        return 0;
    }
    FUZZ_CHECK(tok_nlevels(t) == 1, "%d levels", tok_nlevels(t));
    tok_encoder *e = NULL;
    FUZZ_CHECK(tok_encoder_open(&e, t) == 0, "encoder");
    tok_ids ids = {0};
    for (int k = 0; k <= 1; k++) {
        FUZZ_CHECK(tok_encode(e, k, sample, sizeof sample - 1, &ids) == 0, "encode");
        uint8_t *out;
        size_t n;
        FUZZ_CHECK(tok_decode(t, k, ids.ids, ids.n, &out, &n, &err) == 0, "decode: %s", err.msg);
        FUZZ_CHECK(n == sizeof sample - 1 && !memcmp(out, sample, n),
                   "level %d: decode(encode(x)) != x", k);
        free(out);
        for (size_t i = 0; k == 0 && i < ids.n; i++) {
            size_t len;
            tok_token_bytes(t, ids.ids[i], &len);
            FUZZ_CHECK(len == 1, "level 0 token %zu is %zu bytes long", i, len);
        }
    }
    tok_ids_free(&ids);
    tok_encoder_close(&e);
    char saved[512], h1[17], h2[17];
    snprintf(saved, sizeof saved, "%s/saved.pyr", fuzz_dir());
    FUZZ_CHECK(tok_save(t, saved, &err) == 0, "save: %s", err.msg);
    tok *t2 = NULL;
    FUZZ_CHECK(tok_open(&t2, saved, &err) == 0, "an imported pyramid does not load: %s", err.msg);
    tok_hash(t, h1);
    tok_hash(t2, h2);
    FUZZ_CHECK(!strcmp(h1, h2), "saved and loaded pyramids differ: %s vs %s", h1, h2);
    tok_close(&t2);
    tok_close(&t);
    return 0;
}
