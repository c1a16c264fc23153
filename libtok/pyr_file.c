/* pyr_file.c: the .pyr pyramid file, a SQLite database (meta, levels, tokens): writing it
 * whole or not at all (tok_write_file) and loading that checks what it reads. */
#include "tok_impl.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PYR_APP_ID  0x50595231 /* "PYR1" */
#define PYR_VERSION 1

static const char *stage_name[] = {"byte", "subword", "superword"};

static const char *schema =
    "PRAGMA application_id = %d;" /* PYR_APP_ID */
    "PRAGMA user_version = %d;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE levels(level INTEGER PRIMARY KEY, vocab_size INTEGER NOT NULL,"
    " id_limit INTEGER NOT NULL, stage TEXT NOT NULL);"
    "CREATE TABLE tokens(rank INTEGER PRIMARY KEY, bytes BLOB NOT NULL, level INTEGER NOT NULL,"
    " stage TEXT NOT NULL, count INTEGER NOT NULL, left INTEGER, right INTEGER);"
    "CREATE VIEW token_text AS SELECT rank, CAST(bytes AS TEXT) AS text, level, stage, count"
    " FROM tokens;";

static int sql_fail(sqlite3 *db, tok_err *err, int rc, const char *what)
{
    return tok_fail(err, rc, "%s: %s", what, db ? sqlite3_errmsg(db) : "cannot open");
}

static int put_meta(sqlite3 *db, const char *k, const char *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO meta VALUES (?, ?)", -1, &st, NULL))
        return -1;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static int write_db(const tok *t, sqlite3 *db)
{
    char *ddl = sqlite3_mprintf(schema, PYR_APP_ID, PYR_VERSION);
    int bad = !ddl ||
              sqlite3_exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;", 0,
                           0, 0) ||
              sqlite3_exec(db, ddl, 0, 0, 0);
    sqlite3_free(ddl);
    if (bad)
        return -1;
    char buf[64], h[17];
    tok_hash(t, h);
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)tok_content_hash(t, true));
    char ntok[32], sl[32], ss[32];
    snprintf(ntok, sizeof ntok, "%d", t->ntok);
    snprintf(sl, sizeof sl, "%d", t->super_level);
    snprintf(ss, sizeof ss, "%d", t->super_start);
    if (put_meta(db, "format", "pyramask-pyramid") || put_meta(db, "version", "1") ||
        put_meta(db, "pretok", t->pattern) || put_meta(db, "pretok_name", t->pretok_name) ||
        put_meta(db, "rule", t->rule == RULE_MERGES ? "merges" : "tiktoken") ||
        put_meta(db, "ntokens", ntok) || put_meta(db, "superword_level", sl) ||
        put_meta(db, "superword_start", ss) || put_meta(db, "hash", h) ||
        put_meta(db, "checksum", buf))
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO levels VALUES (?, ?, ?, ?)", -1, &st, NULL))
        return -1;
    for (int k = 0; k <= t->nlevels; k++) {
        int stg = k == 0 ? 0 : k == t->super_level ? 2 : 1;
        sqlite3_bind_int(st, 1, k);
        sqlite3_bind_int(st, 2, t->vocab[k]);
        sqlite3_bind_int(st, 3, t->limit[k]);
        sqlite3_bind_text(st, 4, stage_name[stg], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return -1;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &st,
                           NULL))
        return -1;
    for (int32_t id = 0; id < t->ntok; id++) {
        size_t n;
        const uint8_t *p = tok_bytes_of(t, id, &n);
        sqlite3_bind_int(st, 1, id);
        sqlite3_bind_blob(st, 2, p, (int)n, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, t->level[id]);
        sqlite3_bind_text(st, 4, stage_name[t->stage[id]], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, t->count[id]);
        if (t->left[id] >= 0)
            sqlite3_bind_int(st, 6, t->left[id]);
        else
            sqlite3_bind_null(st, 6);
        if (t->right[id] >= 0)
            sqlite3_bind_int(st, 7, t->right[id]);
        else
            sqlite3_bind_null(st, 7);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return -1;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return sqlite3_exec(db, "COMMIT;", 0, 0, 0) ? -1 : 0;
}

/* What tok_write_file's temporary file gets: the pyramid as a SQLite database (SQLite writes
 * it by its path; the caller's fsync of fd makes it durable). */
struct save {
    const tok *t;
    const char *path;
};

static int fill_pyr(int fd, const char *tmp, void *ctx, tok_err *err)
{
    (void)fd;
    const struct save *s = ctx;
    sqlite3 *db = NULL;
    int rc = TOK_OK;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) || write_db(s->t, db))
        rc = sql_fail(db, err, TOK_EIO, s->path);
    if (sqlite3_close(db) && !rc)
        rc = tok_fail(err, TOK_EIO, "%s: cannot close", s->path);
    return rc;
}

int tok_save(const tok *t, const char *path, tok_err *err)
{
    tok_err_clear(err);
    struct save s = {t, path};
    return tok_write_file(path, fill_pyr, &s, err);
}

/* ---- loading ---- */

static int64_t pragma_int(sqlite3 *db, const char *sql, int *ok)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    *ok = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
        *ok = 1;
    }
    sqlite3_finalize(st);
    return v;
}

/* meta value of key (free it with free()), or NULL */
static char *get_meta_dup(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL))
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

/* meta value of key, copied into buf; false if missing */
static bool get_meta(sqlite3 *db, const char *key, char *buf, size_t cap)
{
    sqlite3_stmt *st;
    bool found = false;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL))
        return false;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        found = true;
    }
    sqlite3_finalize(st);
    return found;
}

static int stage_of(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, stage_name[i]))
            return i;
    return -1;
}

static int read_levels(sqlite3 *db, tok *t, const char *path, tok_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT level, vocab_size, id_limit FROM levels ORDER BY level",
                           -1, &st, NULL))
        return sql_fail(db, err, TOK_EFORMAT, path);
    int k = 0, rc = TOK_OK;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (k > TOK_MAX_LEVELS || sqlite3_column_int(st, 0) != k) {
            rc = tok_fail(err, TOK_EFORMAT, "%s: levels are not 0, 1, 2, ... (at most %d)",
                          path, TOK_MAX_LEVELS);
            break;
        }
        t->vocab[k] = sqlite3_column_int(st, 1);
        t->limit[k] = sqlite3_column_int(st, 2);
        k++;
    }
    sqlite3_finalize(st);
    if (!rc && k < 2)
        rc = tok_fail(err, TOK_EFORMAT, "%s: the levels table has %d rows", path, k);
    t->nlevels = k - 1;
    return rc;
}

static int read_tokens(sqlite3 *db, tok *t, const char *path, tok_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db,
            "SELECT rank, bytes, level, stage, count, left, right FROM tokens ORDER BY rank",
            -1, &st, NULL))
        return sql_fail(db, err, TOK_EFORMAT, path);
    int32_t id = 0;
    size_t nb = 0;
    int rc = TOK_OK, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (id >= t->ntok || sqlite3_column_int(st, 0) != id) {
            rc = tok_fail(err, TOK_EFORMAT, "%s: token ranks are not 0..%d", path, t->ntok - 1);
            break;
        }
        const void *b = sqlite3_column_blob(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        if (!b || n <= 0) {
            rc = tok_fail(err, TOK_EFORMAT, "%s: token %d has no bytes", path, id);
            break;
        }
        uint8_t *nbuf = realloc(t->bytes, nb + (size_t)n);
        if (!nbuf) {
            rc = tok_fail(err, TOK_ENOMEM, "out of memory");
            break;
        }
        t->bytes = nbuf;
        memcpy(t->bytes + nb, b, (size_t)n);
        nb += (size_t)n;
        t->off[id + 1] = nb;
        int lv = sqlite3_column_int(st, 2),
            sg = stage_of((const char *)sqlite3_column_text(st, 3));
        if (lv < 0 || lv > 255 || sg < 0) {
            rc = tok_fail(err, TOK_EFORMAT, "%s: token %d has a bad level or stage", path, id);
            break;
        }
        t->level[id] = (uint8_t)lv;
        t->stage[id] = (uint8_t)sg;
        t->count[id] = sqlite3_column_int64(st, 4);
        t->left[id] =
            sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5);
        t->right[id] =
            sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6);
        id++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = sql_fail(db, err, TOK_EFORMAT, path);
    if (!rc && id != t->ntok)
        rc = tok_fail(err, TOK_EFORMAT, "%s: %d tokens, the meta table says %d", path, id,
                      t->ntok);
    sqlite3_finalize(st);
    return rc;
}

static int load(sqlite3 *db, tok **out, const char *path, tok_err *err)
{
    int ok;
    int64_t app = pragma_int(db, "PRAGMA application_id", &ok);
    if (!ok)
        return tok_fail(err, TOK_EFORMAT, "%s: not a pyramid file (%s)", path,
                        sqlite3_errmsg(db));
    if (app != PYR_APP_ID)
        return tok_fail(err, TOK_EFORMAT,
                        "%s: not a pyramid file (SQLite application_id %lld, expected %d)",
                        path, (long long)app, PYR_APP_ID);
    int64_t ver = pragma_int(db, "PRAGMA user_version", &ok);
    if (ver != PYR_VERSION)
        return tok_fail(err, TOK_EFORMAT,
                        "%s: pyramid format version %lld, this program reads version %d", path,
                        (long long)ver, PYR_VERSION);
    char fmt[64], rule[32], ntok[32], sl[32], ss[32], sum[32];
    if (!get_meta(db, "format", fmt, sizeof fmt) || strcmp(fmt, "pyramask-pyramid"))
        return tok_fail(err, TOK_EFORMAT, "%s: the meta table does not name the pyramid format",
                        path);
    if (!get_meta(db, "rule", rule, sizeof rule) ||
        !get_meta(db, "ntokens", ntok, sizeof ntok) ||
        !get_meta(db, "superword_level", sl, sizeof sl) ||
        !get_meta(db, "superword_start", ss, sizeof ss) ||
        !get_meta(db, "checksum", sum, sizeof sum))
        return tok_fail(err, TOK_EFORMAT,
                        "%s: the meta table lacks rule, ntokens, superword_level, "
                        "superword_start or checksum",
                        path);
    long n = strtol(ntok, NULL, 10);
    if (n < 256 || n > INT32_MAX / 2)
        return tok_fail(err, TOK_EFORMAT, "%s: %s tokens", path, ntok);
    /* the rows there are, before allocating for the count the meta table claims */
    int64_t rows = pragma_int(db, "SELECT count(*) FROM tokens", &ok);
    if (!ok)
        return tok_fail(err, TOK_EFORMAT, "%s: no tokens table (%s)", path, sqlite3_errmsg(db));
    if (rows != n)
        return tok_fail(err, TOK_EFORMAT, "%s: %lld tokens, the meta table says %ld", path,
                        (long long)rows, n);
    tok *t;
    if (tok_alloc(&t, (int32_t)n, 1))
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    t->rule = !strcmp(rule, "merges")     ? RULE_MERGES
              : !strcmp(rule, "tiktoken") ? RULE_RANKS
                                          : -1;
    t->super_level = atoi(sl);
    t->super_start = atoi(ss);
    int rc = TOK_OK;
    if (t->rule < 0)
        rc = tok_fail(err, TOK_EFORMAT, "%s: unknown merge rule '%s'", path, rule);
    else if (!(t->pattern = get_meta_dup(db, "pretok")))
        rc = tok_fail(err, TOK_EFORMAT, "%s: the meta table lacks the pre-tokenizer", path);
    if (!rc)
        rc = read_levels(db, t, path, err);
    if (!rc && t->super_level &&
        (t->super_level != t->nlevels || t->super_start != t->limit[t->nlevels - 1]))
        rc = tok_fail(err, TOK_EFORMAT,
                      "%s: superword level %d starting at %d does not fit the levels", path,
                      t->super_level, t->super_start);
    if (!rc)
        rc = read_tokens(db, t, path, err);
    if (!rc) {
        tok_err e2 = {0};
        rc = tok_finish(t, &e2);
        if (rc)
            tok_fail(err, rc, "%s: %s", path, tok_errmsg(&e2));
    }
    if (!rc) {
        char have[32];
        snprintf(have, sizeof have, "%016llx", (unsigned long long)tok_content_hash(t, true));
        if (strcmp(have, sum))
            rc = tok_fail(err, TOK_EFORMAT,
                          "%s: checksum %s does not match the contents (%s): the file "
                          "was changed or damaged",
                          path, sum, have);
    }
    if (rc)
        tok_close(&t);
    *out = t;
    return rc;
}

int tok_open(tok **out, const char *path, tok_err *err)
{
    tok_err_clear(err);
    *out = NULL;
    struct stat st;
    if (stat(path, &st))
        return tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tok_fail(err, TOK_EIO, "%s: not a regular file", path);
    if (access(path, R_OK))
        return tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
    if (st.st_size == 0)
        return tok_fail(err, TOK_EFORMAT, "%s: empty file, not a pyramid", path);
    sqlite3 *db = NULL;
    int rc;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL))
        rc = sql_fail(db, err, TOK_EIO, path);
    else
        rc = load(db, out, path, err);
    sqlite3_close(db);
    return rc;
}
