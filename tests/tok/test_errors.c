/* test_errors.c: the tok_err record of every call that takes one: a failure leaves its code
 * and details, the next call starts from a clean record, tok_errmsg always has an answer. */
#include "test_tok.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tmp_path(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 4096, "%s/%s", tmp_dir, name);
    return p;
}

/* The call `what` returned rc; it was to fail with `want`, its record saying so. */
static void expect_fail(const char *what, int rc, int want, const tok_err *e)
{
    CHECK(rc == want, "%s: expected %s, got %s (%s)", what, tok_strerror(want),
          tok_strerror(rc), e->msg);
    CHECK(e->code == rc, "%s: returned %d but the record holds code %d", what, rc, e->code);
    CHECK(e->msg[0] != 0, "%s: failed with %s and no details", what, tok_strerror(rc));
    CHECK(tok_errmsg(e) == e->msg, "%s: tok_errmsg gives '%s', the details are '%s'", what,
          tok_errmsg(e), e->msg);
}

/* The call `what` succeeded; the failure recorded before it is gone. */
static void expect_clean(const char *what, int rc, const tok_err *e)
{
    CHECK(rc == 0, "%s: expected success, got %s (%s)", what, tok_strerror(rc), e->msg);
    CHECK(e->code == TOK_OK && e->msg[0] == 0,
          "%s: succeeded, but the record still holds code %d, '%.80s'", what, e->code, e->msg);
    CHECK_STR("ok", tok_errmsg(e));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A small pyramid from buffers, or NULL; rc and the record in *rc and e. */
static tok *train(const char *text, int32_t level, const char *pretok, int *rc, tok_err *e)
{
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.levels[0] = level;
    s.pretok = pretok;
    const void *texts[] = {text};
    size_t lens[] = {strlen(text)};
    tok *t = (tok *)1;
    *rc = tok_train_buffers(&t, &s, texts, lens, text[0] ? 1 : 0, e);
    CHECK((*rc == 0) == (t != NULL), "a pyramid exactly on success (rc %d)", *rc);
    return *rc ? NULL : t;
}

void test_errors(void)
{
    /* the record starts as anything: the first call clears it */
    tok_err e;
    memset(&e, 'x', sizeof e);
    expect_clean("check gpt2 on a dirty record", tok_check_pretok("gpt2", &e), &e);

    expect_fail("check '(a'", tok_check_pretok("(a", &e), TOK_EREGEX, &e);
    expect_clean("check cl100k", tok_check_pretok("cl100k", &e), &e);
    expect_fail("check ''", tok_check_pretok("", &e), TOK_EINVAL, &e);
    expect_clean("check code", tok_check_pretok("code", &e), &e);

    /* training */
    int rc;
    expect_fail("train on nothing", (train("", 300, "gpt2", &rc, &e), rc), TOK_ECORPUS, &e);
    tok *t = train("a small text, a small text, a small text", 262, "gpt2", &rc, &e);
    expect_clean("train a small pyramid", rc, &e);
    expect_fail("train to 4096 on 10 bytes", (train("tiny text.", 4096, "gpt2", &rc, &e), rc),
                TOK_ECORPUS, &e);
    expect_clean("check gpt2", tok_check_pretok("gpt2", &e), &e);
    expect_fail("train with '[x'", (train("some text", 300, "[x", &rc, &e), rc), TOK_EREGEX,
                &e);
    expect_fail("train a level of 256", (train("some text", 256, "gpt2", &rc, &e), rc),
                TOK_EINVAL, &e);
    tok_train_settings s;
    tok_default_train_settings(&s);
    const char *paths[] = {"/nonexistent/corpus.txt"};
    tok *u = (tok *)1;
    expect_fail("train on a missing file", tok_train_files(&u, &s, paths, 1, &e), TOK_EIO, &e);
    CHECK(u == NULL, "no pyramid after a failure");
    paths[0] = tmp_dir;
    expect_fail("train on a directory", tok_train_files(&u, &s, paths, 1, &e), TOK_EIO, &e);
    expect_fail("train on no file", tok_train_files(&u, &s, paths, 0, &e), TOK_ECORPUS, &e);
    if (!t)
        return;

    /* files */
    const char *good = tmp_path("errors.pyr");
    expect_fail("save into a missing directory", tok_save(t, "/nonexistent/x.pyr", &e), TOK_EIO,
                &e);
    expect_clean("save", tok_save(t, good, &e), &e);
    expect_fail("open a missing file", tok_open(&u, tmp_path("missing.pyr"), &e), TOK_EIO, &e);
    CHECK(u == NULL, "no pyramid after a failure");
    expect_clean("open", tok_open(&u, good, &e), &e);
    tok_close(&u);
    const char *text = tmp_path("errors-text.pyr");
    write_file(text, "not a pyramid\n");
    expect_fail("open a text file", tok_open(&u, text, &e), TOK_EFORMAT, &e);
    expect_fail("open a directory", tok_open(&u, tmp_dir, &e), TOK_EIO, &e);

    /* tiktoken rank files */
    const char *ranks = tmp_path("errors.tiktoken");
    write_file(ranks, "IQ== 0\nIg== one\n");
    expect_fail("import a bad rank", tok_import_tiktoken(&u, ranks, NULL, &e), TOK_EFORMAT, &e);
    expect_fail("import a missing file",
                tok_import_tiktoken(&u, tmp_path("missing.tiktoken"), NULL, &e), TOK_EIO, &e);
    char fixture[4096];
    snprintf(fixture, sizeof fixture, "%s/tiktoken/cl100k_subset.tiktoken", fixture_dir);
    expect_clean("import", tok_import_tiktoken(&u, fixture, NULL, &e), &e);
    tok_close(&u);
    write_file(ranks, "IQ== 0\nIQ== 1\n");
    expect_fail("import twice the same token", tok_import_tiktoken(&u, ranks, "gpt2", &e),
                TOK_EFORMAT, &e);
    CHECK(strstr(e.msg, ranks) != NULL, "the file is named: %s", e.msg);

    /* decoding */
    int32_t ids[] = {104, 105, tok_ntokens(t)};
    uint8_t *out;
    size_t n;
    expect_fail("decode an id out of range", tok_decode(t, -1, ids, 3, &out, &n, &e),
                TOK_ERANGE, &e);
    expect_clean("decode", tok_decode(t, 0, ids, 2, &out, &n, &e), &e);
    free(out);
    expect_fail("decode at level 9", tok_decode(t, 9, ids, 2, &out, &n, &e), TOK_ERANGE, &e);
    CHECK(out == NULL, "no output after a failure");
    int32_t merged = 256;
    expect_fail("decode a merged token at level 0", tok_decode(t, 0, &merged, 1, &out, &n, &e),
                TOK_ERANGE, &e);

    /* with no details the message is the code's name; a NULL record is allowed */
    tok_err bare = {0};
    CHECK_STR("ok", tok_errmsg(&bare));
    bare.code = TOK_EFORMAT;
    CHECK_STR(tok_strerror(TOK_EFORMAT), tok_errmsg(&bare));
    CHECK(tok_errmsg(NULL) && tok_errmsg(NULL)[0], "a NULL record has an answer too");
    CHECK_INT(TOK_EREGEX, tok_check_pretok("(a", NULL));
    CHECK_INT(TOK_ERANGE, tok_decode(t, 9, ids, 2, &out, &n, NULL));
    for (int code = TOK_ERANGE; code <= TOK_OK; code++)
        CHECK(strcmp(tok_strerror(code), tok_strerror(-100)) != 0, "code %d has a name", code);
    unlink(good);
    unlink(text);
    unlink(ranks);
    tok_close(&t);
}
