/* fuzz_tiktoken.c: tiktoken rank files ("base64-token rank" per line): the import refuses
 * them with a reason or gives a pyramid that encodes and decodes exactly, in which every
 * single byte is a token, and that saves and loads again unchanged. */
#include "fuzz_common.h"
#include "fuzz_tok.h"

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
    tok_err err = {0};
    int rc = tok_import_tiktoken(&t, path, NULL, &err);
    if (rc) {
        FUZZ_CHECK(rc < 0 && !t && err.msg[0] && rc != TOK_ENOMEM,
                   "refused with %s, message '%s'", tok_strerror(rc), err.msg);
        return 0;
    }
    FUZZ_CHECK(tok_nlevels(t) == 1, "%d levels", tok_nlevels(t));
    fuzz_tok_round_trip(t, sample, sizeof sample - 1);
    fuzz_tok_save_load(t);
    tok_close(&t);
    return 0;
}
