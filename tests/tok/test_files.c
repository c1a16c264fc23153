/* test_files.c: the .pyr file: save and load give the same pyramid; missing, empty, foreign,
 * corrupt and tampered files are refused with a reason; failed saves leave nothing behind. */
#include "test_tok.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *path_in_tmp(const char *name)
{
    static char buf[8][4096];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/%s", tmp_dir, name);
    return p;
}

static void sql(const char *path, const char *stmt)
{
    sqlite3 *db;
    sqlite3_open(path, &db);
    char *msg = NULL;
    int rc = sqlite3_exec(db, stmt, 0, 0, &msg);
    CHECK(rc == SQLITE_OK, "sql '%s': %s", stmt, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
}

static void copy_file(const char *from, const char *to)
{
    blob b = read_blob(from);
    FILE *f = fopen(to, "wb");
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    free_blob(&b);
}

/* Loading `path` fails with rc and a message containing `want`. */
static void expect_bad(const char *path, int rc, const char *want)
{
    tok *t = (tok *)1;
    tok_err e = {0};
    int got = tok_open(&t, path, &e);
    CHECK(got == rc && t == NULL, "%s: expected %s, got %s (%s)", path, tok_strerror(rc),
          tok_strerror(got), e.msg);
    CHECK(strstr(e.msg, want) != NULL, "%s: message '%s' lacks '%s'", path, e.msg, want);
}

static int tmp_leftovers(void)
{
    DIR *d = opendir(tmp_dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp-"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void check_same(const tok *a, const tok *b)
{
    char h1[17], h2[17];
    tok_hash(a, h1);
    tok_hash(b, h2);
    CHECK(!strcmp(h1, h2), "hash %s after load, %s before", h2, h1);
    CHECK_INT(tok_nlevels(a), tok_nlevels(b));
    CHECK_INT(tok_superword_level(a), tok_superword_level(b));
    for (int k = 0; k <= tok_nlevels(a); k++)
        CHECK_INT(tok_vocab_size(a, k), tok_vocab_size(b, k));
    int bad = 0;
    for (int32_t id = 0; id < tok_ntokens(a) && !bad; id++) {
        size_t n1, n2;
        const uint8_t *p1 = tok_token_bytes(a, id, &n1), *p2 = tok_token_bytes(b, id, &n2);
        bad = n1 != n2 || memcmp(p1, p2, n1) ||
              tok_token_count(a, id) != tok_token_count(b, id) ||
              tok_token_level(a, id) != tok_token_level(b, id) ||
              tok_token_stage(a, id) != tok_token_stage(b, id);
        CHECK(!bad, "token %d differs after load", id);
    }
    blob text = prose_text();
    tok_ids x = {0}, y = {0};
    tok_encode_parallel(a, tok_nlevels(a), text.p, 100000, 1, &x);
    tok_encode_parallel(b, tok_nlevels(b), text.p, 100000, 1, &y);
    CHECK(x.n == y.n && !memcmp(x.ids, y.ids, x.n * sizeof *x.ids),
          "encoding differs after load");
    tok_ids_free(&x);
    tok_ids_free(&y);
}

void test_files(void)
{
    const tok *p = prose_pyramid();
    const char *good = path_in_tmp("good.pyr");
    tok_err e = {0};
    unlink(good);
    CHECK_INT(0, tok_save(p, good, &e));
    CHECK_INT(0, tok_save(p, good, &e)); /* replaces an existing file */
    tok *t = NULL;
    int rc = tok_open(&t, good, &e);
    CHECK_OK(rc, e);
    if (!rc)
        check_same(p, t);
    tok_close(&t);
    tok_close(&t);
    CHECK(t == NULL, "close sets NULL");
    tok_close(NULL);

    expect_bad(path_in_tmp("missing.pyr"), TOK_EIO, "No such file");
    const char *empty = path_in_tmp("empty.pyr");
    fclose(fopen(empty, "wb"));
    expect_bad(empty, TOK_EFORMAT, "empty file");
    const char *text = path_in_tmp("text.pyr");
    FILE *f = fopen(text, "wb");
    for (int i = 0; i < 200; i++)
        fputs("this is not a database at all\n", f);
    fclose(f);
    expect_bad(text, TOK_EFORMAT, "not a pyramid file");
    const char *foreign = path_in_tmp("foreign.pyr");
    unlink(foreign);
    sql(foreign, "CREATE TABLE runs(id INTEGER PRIMARY KEY); INSERT INTO runs VALUES (1);");
    expect_bad(foreign, TOK_EFORMAT, "application_id 0");
    const char *newer = path_in_tmp("newer.pyr");
    copy_file(good, newer);
    sql(newer, "PRAGMA user_version = 9;");
    expect_bad(newer, TOK_EFORMAT, "version 9");
    static const struct {
        const char *stmt, *why;
    } tamper[] = {
        {"UPDATE tokens SET count = count + 1 WHERE rank = 700;", "checksum"},
        {"UPDATE tokens SET bytes = (SELECT bytes FROM tokens WHERE rank = 600) WHERE rank = "
         "700;",
         "same bytes"},
        {"UPDATE tokens SET bytes = bytes || X'41' WHERE rank = 700;", "concatenation"},
        {"DELETE FROM tokens WHERE rank = 900;", "4999 tokens, the meta table says 5000"},
        {"UPDATE levels SET vocab_size = 100 WHERE level = 2;", "level 2"},
        {"DROP TABLE tokens;", "tokens"},
    };
    const char *tampered = path_in_tmp("tampered.pyr");
    for (size_t i = 0; i < sizeof tamper / sizeof *tamper; i++) {
        copy_file(good, tampered);
        sql(tampered, tamper[i].stmt);
        expect_bad(tampered, TOK_EFORMAT, tamper[i].why);
    }
    const char *trunc = path_in_tmp("truncated.pyr");
    blob b = read_blob(good);
    f = fopen(trunc, "wb");
    fwrite(b.p, 1, b.n / 2, f);
    fclose(f);
    free_blob(&b);
    t = (tok *)1;
    rc = tok_open(&t, trunc, &e);
    CHECK(rc != 0 && t == NULL && e.msg[0], "a truncated file is refused (%s)", e.msg);

    /* a save that cannot happen leaves nothing, and no temporary file */
    CHECK_INT(TOK_EIO, tok_save(p, "/nonexistent-dir/x.pyr", &e));
    CHECK(access("/nonexistent-dir/x.pyr", F_OK) != 0, "no output file");
    CHECK_INT(0, tmp_leftovers());
    /* nor one that fails after the temporary file is written (the target is a directory:
     * the rename fails), and the target is left as it was */
    const char *dir = path_in_tmp("a-directory.pyr");
    rmdir(dir);
    CHECK(mkdir(dir, 0755) == 0, "cannot make %s", dir);
    CHECK_INT(TOK_EIO, tok_save(p, dir, &e));
    CHECK(strstr(e.msg, "a-directory.pyr: Is a directory") != NULL, "message: %s", e.msg);
    struct stat sb;
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode), "the directory is still there");
    CHECK_INT(0, tmp_leftovers());
    rmdir(dir);
}
