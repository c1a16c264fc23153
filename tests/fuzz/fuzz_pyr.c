/* fuzz_pyr.c: mutated .pyr files (SQLite databases): loading refuses them with a reason
 * or gives a pyramid that encodes and decodes exactly and saves to an equal file. A file
 * refused only for its checksum is re-signed with the checksum the loader computed and
 * loaded again, so the checks behind the checksum are fuzzed too. */
#include "fuzz_common.h"
#include "fuzz_tok.h"

#include <sqlite3.h>
#include <string.h>

static const char sample[] = "In the beginning God created the heaven and the earth.\n"
                             "def f(x_1):\n\treturn x_1 * 42  # caf\xc3\xa9 \xff\n";

/* A pyramid in this build's format written as a seed to $FUZZ_SEED_DIR when set
 * (tests/fuzz/run.sh sets it), so that the fuzzer starts from valid files whatever the
 * committed seeds' version. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *seeds = getenv("FUZZ_SEED_DIR");
    if (!seeds || !*seeds)
        return 0;
    size_t n;
    uint8_t *text = fuzz_data("data/prose/kjv.txt", 4000, &n);
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.nlevels = 2;
    s.levels[0] = 270, s.levels[1] = 290;
    s.superword = 300;
    const void *texts[1] = {text};
    tok *t = NULL;
    tok_err err;
    FUZZ_CHECK(tok_train_buffers(&t, &s, texts, &n, 1, &err) == 0, "training: %s", err.msg);
    char path[1024];
    snprintf(path, sizeof path, "%s/fresh.pyr", seeds);
    FUZZ_CHECK(tok_save(t, path, &err) == 0, "save: %s", err.msg);
    tok_close(&t);
    free(text);
    /* small pages: a 10 kB file rather than 28, well inside the fuzzer's input size */
    sqlite3 *db = NULL;
    FUZZ_CHECK(sqlite3_open(path, &db) == SQLITE_OK &&
                   sqlite3_exec(db, "PRAGMA page_size = 512; VACUUM", NULL, NULL, NULL) ==
                       SQLITE_OK,
               "%s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return 0;
}

/* Writes the checksum the loader reported into the file's meta table; 0 when done. */
static int resign(const char *path, const char *msg)
{
    const char *p = strstr(msg, "does not match the contents (");
    if (!p)
        return -1;
    char sum[17];
    if (sscanf(p, "does not match the contents (%16[0-9a-f])", sum) != 1)
        return -1;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA journal_mode = OFF", NULL, NULL, NULL);
    char *sql = sqlite3_mprintf("UPDATE meta SET value = %Q WHERE key = 'checksum'", sum);
    if (rc == SQLITE_OK)
        rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_write("in.pyr", data, size));
    for (int attempt = 0; attempt < 2; attempt++) {
        tok *t = NULL;
        tok_err err = {0};
        int rc = tok_open(&t, path, &err);
        if (rc == 0) {
            FUZZ_CHECK(t, "tok_open returned 0 and no pyramid");
            fuzz_tok_round_trip(t, sample, sizeof sample - 1);
            fuzz_tok_round_trip(t, data, size < 512 ? size : 512);
            fuzz_tok_save_load(t);
            tok_close(&t);
            break;
        }
        FUZZ_CHECK(rc < 0 && !t && err.msg[0], "refused with %s, message '%s'",
                   tok_strerror(rc), err.msg);
        FUZZ_CHECK(rc != TOK_ENOMEM, "a file of %zu bytes exhausts memory: %s", size, err.msg);
        if (attempt || resign(path, err.msg))
            break;
    }
    return 0;
}
