/* runlog.c: the SQLite run log: schema creation and versioning, WAL, busy timeout,
 * claiming runs with BEGIN IMMEDIATE, liveness of 'running' rows, logging calls. */
#include "runlog.h"
#include "cli.h"
#include "schema_sql.h"
#include "sweep.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { BUSY_TIMEOUT_MS = 60000, T_CRITICAL_MAX_DF = 1000 };

struct runlog {
    sqlite3 *db;
    char msg[RUNLOG_ERR_MAX];
};

const char *runlog_path(const char *flag)
{
    if (flag && *flag)
        return flag;
    const char *env = getenv("PYRAMASK_DB");
    return env && *env ? env : "pyramask.db";
}

sqlite3 *runlog_db(struct runlog *rl)
{
    return rl->db;
}
const char *runlog_errmsg(struct runlog *rl)
{
    return rl->msg;
}

/* sqlite3_errmsg, with the system's reason behind an I/O error ("disk I/O error (No space
 * left on device)"). */
static const char *db_errmsg(sqlite3 *db, char *buf, size_t n)
{
    int code = sqlite3_errcode(db) & 0xff, sys = sqlite3_system_errno(db);
    if (sys && (code == SQLITE_IOERR || code == SQLITE_CANTOPEN || code == SQLITE_FULL))
        snprintf(buf, n, "%s (%s)", sqlite3_errmsg(db), strerror(sys));
    else
        snprintf(buf, n, "%s", sqlite3_errmsg(db));
    return buf;
}

static int sql_fail(struct runlog *rl, const char *what)
{
    char why[512];
    snprintf(rl->msg, sizeof rl->msg, "%s: %s", what, db_errmsg(rl->db, why, sizeof why));
    return -1;
}

int runlog_fail(struct runlog *rl, const char *what)
{
    return sql_fail(rl, what);
}

const char *runlog_host(void)
{
    static char host[256];
    if (!host[0] && gethostname(host, sizeof host - 1))
        snprintf(host, sizeof host, "unknown");
    return host;
}

const char *runlog_pid_tag(long pid, char out[96])
{
    char path[64], boot[64] = "", buf[1024];
    out[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = 0;
        fclose(f);
        boot[strcspn(boot, "\n")] = 0;
    }
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    if (!p)
        return NULL;
    /* fields after the command name: state is field 3, starttime field 22; a zombie
     * (exited, not yet reaped) no longer runs anything */
    if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
        return NULL;
    unsigned long long start = 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ') {
            field++;
            if (field == 22)
                start = strtoull(p + 1, NULL, 10);
        }
    snprintf(out, 96, "%s:%llu", boot, start);
    return out;
}

/* Is the process recorded as (host, pid, tag) still running this run? */
static int alive(const char *host, long pid, const char *tag, double heartbeat_age_days)
{
    if (strcmp(host, runlog_host()))
        return heartbeat_age_days < 1.0 / 24;
    char now[96];
    if (!runlog_pid_tag(pid, now))
        return 0;
    return !strcmp(now, tag);
}

static int exec(struct runlog *rl, const char *sql)
{
    if (sqlite3_exec(rl->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        db_errmsg(rl->db, rl->msg, sizeof rl->msg);
        return -1;
    }
    return 0;
}

int runlog_exec(struct runlog *rl, const char *sql)
{
    return exec(rl, sql);
}

/* WAL mode. Switching a new file to it needs the file to itself, and SQLite answers busy
 * at once, without its busy handler, when another process opens the same new log at that
 * moment: retried here until the busy timeout. */
static int set_wal(struct runlog *rl, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        int rc = sqlite3_exec(rl->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || waited >= timeout_ms) {
            db_errmsg(rl->db, rl->msg, sizeof rl->msg);
            return -1;
        }
        sqlite3_sleep(10);
    }
}

/* Student t quantiles for the views' 95% intervals. */
static int fill_t_critical(struct runlog *rl)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(rl->db, "INSERT OR REPLACE INTO t_critical(df, t975) VALUES (?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(rl, "creating the schema");
    for (int df = 1; df <= T_CRITICAL_MAX_DF; df++) {
        sqlite3_bind_int(st, 1, df);
        sqlite3_bind_double(st, 2, gsl_cdf_tdist_Pinv(0.975, df));
        if (sqlite3_step(st) != SQLITE_DONE) {
            sql_fail(rl, "creating the schema");
            sqlite3_finalize(st);
            return -1;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

static int create_schema(struct runlog *rl)
{
    if (exec(rl, "BEGIN IMMEDIATE"))
        return -1;
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(rl->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version == RUNLOG_VERSION)
        return exec(rl, "COMMIT");
    if (version < 0 || version > RUNLOG_VERSION) {
        exec(rl, "ROLLBACK");
        snprintf(rl->msg, sizeof rl->msg, "schema version %d, this pyramask writes version %d",
                 version, RUNLOG_VERSION);
        return -1;
    }
    /* schema.sql is all IF NOT EXISTS: on an older log (version 1) it adds what version 2
     * added (pyramid_levels, curves, previews) and leaves the rest as it is */
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", RUNLOG_VERSION);
    if (exec(rl, schema_sql) || (version == 0 && fill_t_critical(rl)) || exec(rl, pragma)) {
        sqlite3_exec(rl->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec(rl, "COMMIT");
}

int runlog_open(struct runlog **out, const char *path, int create, char err[RUNLOG_ERR_MAX])
{
    *out = NULL;
    struct stat sb;
    if (!create && stat(path, &sb)) {
        snprintf(err, RUNLOG_ERR_MAX, "no such run log (%s)", strerror(errno));
        return -1;
    }
    struct runlog *rl = calloc(1, sizeof *rl);
    if (!rl) {
        snprintf(err, RUNLOG_ERR_MAX, "out of memory");
        return -1;
    }
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &rl->db, flags, NULL) != SQLITE_OK) {
        if (rl->db)
            db_errmsg(rl->db, err, RUNLOG_ERR_MAX);
        else
            snprintf(err, RUNLOG_ERR_MAX, "cannot open");
        goto bad;
    }
    sqlite3_extended_result_codes(rl->db, 1);
    const char *bt = getenv("PYRAMASK_BUSY_TIMEOUT");
    int timeout_ms = bt && *bt ? (int)(atof(bt) * 1000) : BUSY_TIMEOUT_MS;
    sqlite3_busy_timeout(rl->db, timeout_ms);
    if (set_wal(rl, timeout_ms) || exec(rl, "PRAGMA synchronous = NORMAL") ||
        exec(rl, "PRAGMA foreign_keys = ON") || create_schema(rl) || runlog_reap(rl) < 0) {
        snprintf(err, RUNLOG_ERR_MAX, "%s", rl->msg);
        goto bad;
    }
    *out = rl;
    return 0;
bad:
    sqlite3_close(rl->db);
    free(rl);
    return -1;
}

void runlog_close(struct runlog **prl)
{
    if (!prl || !*prl)
        return;
    sqlite3_close((*prl)->db);
    free(*prl);
    *prl = NULL;
}

int runlog_transaction(struct runlog *rl, int (*fn)(void *user), void *user)
{
    if (exec(rl, "BEGIN IMMEDIATE"))
        return -1;
    int rc = fn(user);
    if (rc) {
        sqlite3_exec(rl->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    if (exec(rl, "COMMIT")) {
        sqlite3_exec(rl->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Prepares sql, binds the arguments given by the format letters (i = int64, d = double,
 * z = int64 with 0 as NULL, t = text or NULL) and steps it once. Returns the step's result code. */
static int run(struct runlog *rl, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(rl->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(rl, "preparing"), SQLITE_ERROR;
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        switch (fmt[i]) {
        case 'i':
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        case 'd': {
            double x = va_arg(ap, double);
            if (isnan(x))
                sqlite3_bind_null(st, i + 1);
            else
                sqlite3_bind_double(st, i + 1, x);
            break;
        }
        case 'z': { /* int64, 0 binds NULL */
            int64_t x = va_arg(ap, int64_t);
            if (x)
                sqlite3_bind_int64(st, i + 1, x);
            else
                sqlite3_bind_null(st, i + 1);
            break;
        }
        case 't': { /* text, NULL binds NULL */
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i + 1);
            break;
        }
        }
    }
    va_end(ap);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        sql_fail(rl, "writing the run log");
    sqlite3_finalize(st);
    return rc;
}

#define RUN_OK(rc) ((rc) == SQLITE_DONE || (rc) == SQLITE_ROW)

/* Every table that holds rows of a run, besides `runs`: run_id and these columns. Claims
 * clear them, merges copy them; a new such table is added here and nowhere else. */
static const struct {
    const char *name, *columns;
} run_tables[] = {
    {"params", "key, value"},
    {"metrics", "step, key, value, at"},
    {"scores", "split, metric, value, stderr, n"},
    {"artifacts", "kind, path, bytes"},
    {"pyramid_levels", "pyramid, level, stage, vocab, tokens, bytes, used"},
    {"curves", "name, label, x, y"},
    {"previews", "t, seed, text, masked, tokens, types"},
};

int runlog_delete_rows(struct runlog *rl, int64_t run_id)
{
    char sql[256];
    for (size_t i = 0; i < sizeof run_tables / sizeof *run_tables; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM main.%s WHERE run_id = ?", run_tables[i].name);
        if (!RUN_OK(run(rl, sql, "i", run_id)))
            return -1;
    }
    return 0;
}

int runlog_copy_rows(struct runlog *rl, const char *schema, int64_t from, int64_t to)
{
    char sql[512];
    for (size_t i = 0; i < sizeof run_tables / sizeof *run_tables; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO main.%s(run_id, %s) SELECT ?, %s FROM \"%s\".%s WHERE run_id = ?",
                 run_tables[i].name, run_tables[i].columns, run_tables[i].columns, schema,
                 run_tables[i].name);
        if (!RUN_OK(run(rl, sql, "ii", to, from)))
            return -1;
    }
    return 0;
}

struct reap {
    struct runlog *rl;
    int marked;
};

static int reap_tx(void *user)
{
    struct reap *R = user;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            R->rl->db,
            "SELECT run_id, host, pid, pid_tag, julianday('now') - "
            "coalesce(heartbeat_at, started_at) FROM runs WHERE status = 'running'",
            -1, &st, NULL) != SQLITE_OK)
        return sql_fail(R->rl, "reading running runs");
    int64_t dead[256];
    int ndead = 0;
    while (sqlite3_step(st) == SQLITE_ROW && ndead < 256) {
        const char *host = (const char *)sqlite3_column_text(st, 1);
        const char *tag = (const char *)sqlite3_column_text(st, 3);
        if (!alive(host ? host : "", sqlite3_column_int64(st, 2), tag ? tag : "",
                   sqlite3_column_double(st, 4)))
            dead[ndead++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    for (int i = 0; i < ndead; i++) {
        int rc =
            run(R->rl,
                "UPDATE runs SET status = 'interrupted', finished_at = julianday('now'), "
                "error = coalesce(error, 'the process running it ended without finishing') "
                "WHERE run_id = ? AND status = 'running'",
                "i", dead[i]);
        if (!RUN_OK(rc))
            return -1;
    }
    R->marked = ndead;
    return 0;
}

int runlog_reap(struct runlog *rl)
{
    struct reap R = {rl, 0};
    sqlite3_stmt *st;
    /* a cheap read first: most opens find nothing running */
    if (sqlite3_prepare_v2(rl->db, "SELECT 1 FROM runs WHERE status = 'running' LIMIT 1", -1,
                           &st, NULL) != SQLITE_OK)
        return sql_fail(rl, "reading runs");
    int any = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!any)
        return 0;
    if (runlog_transaction(rl, reap_tx, &R))
        return -1;
    return R.marked;
}

/* A JSON array of n strings built by SQLite (malloc'd). */
static char *json_array_of(struct runlog *rl, char *const *items, int n)
{
    sqlite3_stmt *st;
    char *json = strdup("[]");
    if (!json ||
        sqlite3_prepare_v2(rl->db, "SELECT json_insert(?, '$[#]', ?)", -1, &st, NULL)) {
        free(json);
        return NULL;
    }
    for (int i = 0; json && i < n; i++) {
        sqlite3_bind_text(st, 1, json, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, items[i], -1, SQLITE_STATIC);
        char *next = sqlite3_step(st) == SQLITE_ROW
                         ? strdup((const char *)sqlite3_column_text(st, 0))
                         : NULL;
        free(json);
        json = next;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return json;
}

int runlog_sweep(struct runlog *rl, const struct sweep *s, int64_t *sweep_id)
{
    if (exec(rl, "BEGIN IMMEDIATE"))
        return -1;
    int rc = run(rl, "INSERT OR IGNORE INTO sweeps(name, spec) VALUES (?, ?)", "tt", s->name,
                 s->spec);
    sqlite3_stmt *st = NULL;
    if (!RUN_OK(rc) ||
        sqlite3_prepare_v2(rl->db, "SELECT sweep_id FROM sweeps WHERE name = ?", -1, &st, NULL))
        goto bad;
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto bad;
    *sweep_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    for (int i = 0; i < s->nfactors; i++) {
        char *json = json_array_of(rl, s->factors[i].levels, s->factors[i].nlevels);
        rc = json ? run(rl,
                        "INSERT INTO factors(sweep_id, key, position, levels) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT(sweep_id, key) DO UPDATE SET "
                        "levels = excluded.levels, position = excluded.position",
                        "itit", *sweep_id, s->factors[i].key, (int64_t)i, json)
                  : SQLITE_NOMEM;
        free(json);
        if (!RUN_OK(rc))
            goto bad;
    }
    if (exec(rl, "COMMIT"))
        goto bad;
    return 0;
bad:
    if (st || !rl->msg[0])
        sql_fail(rl, "registering the sweep");
    sqlite3_finalize(st);
    sqlite3_exec(rl->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int runlog_status(struct runlog *rl, int64_t sweep_id, const char *config_hash, long seed,
                  char status[16])
{
    sqlite3_stmt *st;
    status[0] = 0;
    if (sqlite3_prepare_v2(rl->db,
                           "SELECT status FROM runs WHERE sweep_id = ? AND "
                           "config_hash = ? AND seed = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(rl, "reading runs");
    sqlite3_bind_int64(st, 1, sweep_id);
    sqlite3_bind_text(st, 2, config_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, seed);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_fail(rl, "reading runs");
}

struct claim {
    struct runlog *rl;
    int64_t sweep_id;
    const char *kind;
    const struct config *c;
    int64_t run_id;
    char uid[33];
    int result;
};

int runlog_param(struct runlog *rl, int64_t run_id, const char *key, const char *value)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(rl->db,
                           "INSERT OR REPLACE INTO params(run_id, key, value) "
                           "VALUES (?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(rl, "writing params");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(rl, "writing params");
    sqlite3_finalize(st);
    return rc;
}

static int write_params(struct runlog *rl, int64_t run_id, const struct config *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(rl->db,
                           "INSERT OR REPLACE INTO params(run_id, key, value) "
                           "VALUES (?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(rl, "writing params");
    for (int k = 0; k < config_nkeys(); k++) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, config_key_name(k), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, config_value(c, k), -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sql_fail(rl, "writing params");
            sqlite3_finalize(st);
            return -1;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

static int claim_tx(void *user)
{
    struct claim *C = user;
    struct runlog *rl = C->rl;
    char hash[17], tag[96];
    config_hash(C->c, hash);
    long seed = config_values(C->c)->train.seed;
    if (!runlog_pid_tag(getpid(), tag))
        snprintf(tag, sizeof tag, "unknown");
    char *text = config_text(C->c, 0);
    if (!text) {
        snprintf(rl->msg, sizeof rl->msg, "out of memory");
        return -1;
    }
    int64_t existing = 0;
    if (C->sweep_id) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(rl->db,
                               "SELECT run_id, status, host, pid, pid_tag, "
                               "julianday('now') - coalesce(heartbeat_at, started_at) "
                               "FROM runs WHERE sweep_id = ? AND config_hash = ? "
                               "AND seed = ?",
                               -1, &st, NULL) != SQLITE_OK) {
            free(text);
            return sql_fail(rl, "claiming a run");
        }
        sqlite3_bind_int64(st, 1, C->sweep_id);
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, seed);
        if (sqlite3_step(st) == SQLITE_ROW) {
            existing = sqlite3_column_int64(st, 0);
            const char *status = (const char *)sqlite3_column_text(st, 1);
            const char *host = (const char *)sqlite3_column_text(st, 2);
            const char *ptag = (const char *)sqlite3_column_text(st, 4);
            if (!strcmp(status, "finished"))
                C->result = RUNLOG_DONE;
            else if (!strcmp(status, "running") &&
                     alive(host, sqlite3_column_int64(st, 3), ptag ? ptag : "",
                           sqlite3_column_double(st, 5)))
                C->result = RUNLOG_BUSY;
        }
        sqlite3_finalize(st);
        if (C->result != RUNLOG_CLAIMED) {
            free(text);
            return 0;
        }
    }
    int rc;
    if (existing) {
        if (runlog_delete_rows(rl, existing)) {
            free(text);
            return -1;
        }
        rc = run(rl,
                 "UPDATE runs SET status = 'running', kind = ?, config = ?, "
                 "started_at = julianday('now'), finished_at = NULL, "
                 "heartbeat_at = julianday('now'), attempts = attempts + 1, "
                 "code_revision = ?, host = ?, pid = ?, pid_tag = ?, error = NULL "
                 "WHERE run_id = ?",
                 "ttttiti", C->kind, text, cli_version(), runlog_host(), (int64_t)getpid(), tag,
                 existing);
        C->run_id = existing;
    } else {
        rc = run(rl,
                 "INSERT INTO runs(uid, sweep_id, kind, status, seed, config_hash, config, "
                 "started_at, heartbeat_at, code_revision, host, pid, pid_tag) "
                 "VALUES (lower(hex(randomblob(16))), ?, ?, 'running', ?, ?, ?, "
                 "julianday('now'), julianday('now'), ?, ?, ?, ?)",
                 "ztittttit", C->sweep_id, C->kind, (int64_t)seed, hash, text, cli_version(),
                 runlog_host(), (int64_t)getpid(), tag);
        C->run_id = sqlite3_last_insert_rowid(rl->db);
    }
    free(text);
    if (!RUN_OK(rc))
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(rl->db, "SELECT uid FROM runs WHERE run_id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return sql_fail(rl, "claiming a run");
    sqlite3_bind_int64(st, 1, C->run_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(C->uid, sizeof C->uid, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return write_params(rl, C->run_id, C->c);
}

int runlog_claim(struct runlog *rl, int64_t sweep_id, const char *kind, const struct config *c,
                 int64_t *run_id, char uid[33])
{
    struct claim C = {.rl = rl, .sweep_id = sweep_id, .kind = kind, .c = c};
    if (runlog_transaction(rl, claim_tx, &C))
        return -1;
    *run_id = C.run_id;
    snprintf(uid, 33, "%s", C.uid);
    return C.result;
}

int runlog_metric(struct runlog *rl, int64_t run_id, long step, const char *key, double value)
{
    return RUN_OK(run(rl,
                      "INSERT OR REPLACE INTO metrics(run_id, step, key, value) "
                      "VALUES (?, ?, ?, ?)",
                      "iitd", run_id, (int64_t)step, key, value))
               ? 0
               : -1;
}

int runlog_score(struct runlog *rl, int64_t run_id, const char *split, const char *metric,
                 double value, double stderr_, long n)
{
    return RUN_OK(run(rl,
                      "INSERT OR REPLACE INTO scores(run_id, split, metric, value, stderr, n) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      "ittddi", run_id, split, metric, value, stderr_, (int64_t)n))
               ? 0
               : -1;
}

int runlog_artifact(struct runlog *rl, int64_t run_id, const char *kind, const char *path)
{
    char *abs = realpath(path, NULL);
    struct stat sb;
    int64_t bytes = abs && !stat(abs, &sb) ? (int64_t)sb.st_size : -1;
    int rc = run(rl,
                 "INSERT OR REPLACE INTO artifacts(run_id, kind, path, bytes) "
                 "VALUES (?, ?, ?, nullif(?, -1))",
                 "itti", run_id, kind, abs ? abs : path, bytes);
    free(abs);
    return RUN_OK(rc) ? 0 : -1;
}

int runlog_pyramid(struct runlog *rl, const char *hash, const char *path, const char *corpus,
                   const char *levels, long superword, const char *pretok)
{
    return RUN_OK(run(rl,
                      "INSERT OR IGNORE INTO pyramids(hash, path, corpus, levels, superword, "
                      "pretok) VALUES (?, ?, ?, ?, ?, ?)",
                      "ttttit", hash, path, corpus, levels, (int64_t)superword, pretok))
               ? 0
               : -1;
}

int runlog_pyramid_level(struct runlog *rl, int64_t run_id, const char *pyramid, int level,
                         const char *stage, long vocab, long tokens, long bytes, long used)
{
    return RUN_OK(run(rl,
                      "INSERT OR REPLACE INTO pyramid_levels(run_id, pyramid, level, stage, "
                      "vocab, tokens, bytes, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      "ititiiii", run_id, pyramid, (int64_t)level, stage, (int64_t)vocab,
                      (int64_t)tokens, (int64_t)bytes, (int64_t)used))
               ? 0
               : -1;
}

int runlog_curve(struct runlog *rl, int64_t run_id, const char *name, const char *label, int n,
                 const double *x, const double *y)
{
    for (int i = 0; i < n; i++)
        if (!RUN_OK(run(rl,
                        "INSERT OR REPLACE INTO curves(run_id, name, label, x, y) "
                        "VALUES (?, ?, ?, ?, ?)",
                        "ittdd", run_id, name, label, x[i], y[i])))
            return -1;
    return 0;
}

int runlog_preview(struct runlog *rl, int64_t run_id, double t, long seed, const char *text,
                   long masked, long tokens, char *const *types, int ntypes)
{
    char *json = json_array_of(rl, types, ntypes);
    if (!json) {
        snprintf(rl->msg, sizeof rl->msg, "out of memory");
        return -1;
    }
    int rc =
        run(rl,
            "INSERT OR REPLACE INTO previews(run_id, t, seed, text, masked, tokens, "
            "types) VALUES (?, ?, ?, ?, ?, ?, ?)",
            "iditiit", run_id, t, (int64_t)seed, text, (int64_t)masked, (int64_t)tokens, json);
    free(json);
    return RUN_OK(rc) ? 0 : -1;
}

int runlog_heartbeat(struct runlog *rl, int64_t run_id)
{
    return RUN_OK(run(rl, "UPDATE runs SET heartbeat_at = julianday('now') WHERE run_id = ?",
                      "i", run_id))
               ? 0
               : -1;
}

int runlog_finish(struct runlog *rl, int64_t run_id, const char *status, const char *error)
{
    /* a run's last word is worth a longer wait: a log locked past the busy timeout (the
     * very reason a run may have failed) gets up to three more timeouts to come free */
    for (int attempt = 0;; attempt++) {
        int rc = run(rl,
                     "UPDATE runs SET status = ?, error = ?, finished_at = julianday('now'), "
                     "heartbeat_at = julianday('now') WHERE run_id = ?",
                     "tti", status, error, run_id);
        if (RUN_OK(rc))
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || attempt == 3)
            return -1;
    }
}
