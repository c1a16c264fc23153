/* cmd_db.c: `pyramask db merge OUT IN...`: combines run logs (the shards of a sweep) into
 * one. Runs are matched by (sweep name, config hash, seed); a finished run wins. */
#include "cli.h"
#include "runlog.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "usage: pyramask db merge OUT.db IN.db...\n"
    "\n"
    "Merges run logs into OUT.db (created if missing): sweeps by name, runs by\n"
    "(sweep, config hash, seed), a lone run by its uid. A finished run replaces an\n"
    "unfinished one; a run already finished in OUT.db is kept. Merging twice adds\n"
    "nothing. Each input is merged in one transaction.\n";

struct merge {
    struct runlog *out;
    long added, replaced, kept;
};

/* Removes run `id` of the output with all its rows. */
static int delete_run(struct runlog *out, sqlite3_int64 id)
{
    sqlite3 *db = runlog_db(out);
    sqlite3_stmt *st;
    if (runlog_delete_rows(out, id))
        return -1;
    if (sqlite3_prepare_v2(db, "DELETE FROM main.runs WHERE run_id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return runlog_fail(out, "removing a run");
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : runlog_fail(out, "removing a run");
}

static int merge_tx(void *user)
{
    struct merge *M = user;
    sqlite3 *db = runlog_db(M->out);
    if (runlog_exec(M->out, "INSERT OR IGNORE INTO main.sweeps(name, spec, created_at) "
                            "SELECT name, spec, created_at FROM src.sweeps") ||
        runlog_exec(M->out,
                    "INSERT OR IGNORE INTO main.factors(sweep_id, key, position, levels) "
                    "SELECT m.sweep_id, f.key, f.position, f.levels FROM src.factors f "
                    "JOIN src.sweeps s ON s.sweep_id = f.sweep_id "
                    "JOIN main.sweeps m ON m.name = s.name") ||
        runlog_exec(M->out, "INSERT OR IGNORE INTO main.pyramids SELECT * FROM src.pyramids"))
        return -1;
    /* each source run with the output's sweep id and its existing twin, if any */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.run_id, m.sweep_id, r.status, "
                           "  (SELECT o.run_id FROM main.runs o WHERE o.uid = r.uid OR "
                           "(o.sweep_id = m.sweep_id "
                           "     AND o.config_hash = r.config_hash AND o.seed = r.seed)), "
                           "  (SELECT o.status FROM main.runs o WHERE o.uid = r.uid OR "
                           "(o.sweep_id = m.sweep_id "
                           "     AND o.config_hash = r.config_hash AND o.seed = r.seed)) "
                           "FROM src.runs r LEFT JOIN src.sweeps s ON s.sweep_id = r.sweep_id "
                           "LEFT JOIN main.sweeps m ON m.name = s.name ORDER BY r.run_id",
                           -1, &st, NULL) != SQLITE_OK)
        return runlog_fail(M->out, "reading the runs");
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO main.runs(uid, sweep_id, kind, status, seed, config_hash, config, "
            "started_at, finished_at, heartbeat_at, attempts, code_revision, host, pid, "
            "pid_tag, "
            "error) SELECT uid, ?2, kind, status, seed, config_hash, config, started_at, "
            "finished_at, heartbeat_at, attempts, code_revision, host, pid, pid_tag, error "
            "FROM src.runs WHERE run_id = ?1",
            -1, &ins, NULL) != SQLITE_OK) {
        runlog_fail(M->out, "copying the runs");
        sqlite3_finalize(st);
        return -1;
    }
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 from = sqlite3_column_int64(st, 0);
        int has_twin = sqlite3_column_type(st, 3) != SQLITE_NULL;
        const char *status = (const char *)sqlite3_column_text(st, 2);
        const char *twin_status = (const char *)sqlite3_column_text(st, 4);
        if (has_twin) {
            int src_finished = !strcmp(status, "finished");
            int out_finished = twin_status && !strcmp(twin_status, "finished");
            if (out_finished || !src_finished) {
                M->kept++;
                continue;
            }
            if (delete_run(M->out, sqlite3_column_int64(st, 3))) {
                rc = -1;
                break;
            }
            M->replaced++;
        } else {
            M->added++;
        }
        sqlite3_bind_int64(ins, 1, from);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL)
            sqlite3_bind_null(ins, 2);
        else
            sqlite3_bind_int64(ins, 2, sqlite3_column_int64(st, 1));
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = runlog_fail(M->out, "copying the runs");
        else if (runlog_copy_rows(M->out, "src", from, sqlite3_last_insert_rowid(db)))
            rc = -1;
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(st);
    return rc;
}

static int merge_one(struct runlog *out, const char *in)
{
    sqlite3 *db = runlog_db(out);
    struct stat sb;
    if (stat(in, &sb)) {
        cli_error("db merge", "%s: no such file", in);
        return CLI_USAGE;
    }
    /* open the input once through the run log code: it checks and reaps it */
    struct runlog *src;
    char err[RUNLOG_ERR_MAX];
    if (runlog_open(&src, in, 0, err)) {
        cli_error("db merge", "%s: %s", in, err);
        return CLI_USAGE;
    }
    runlog_close(&src);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "ATTACH DATABASE ? AS src", -1, &st, NULL) != SQLITE_OK) {
        cli_error("db merge", "%s: %s", in, sqlite3_errmsg(db));
        return CLI_FAIL;
    }
    sqlite3_bind_text(st, 1, in, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cli_error("db merge", "%s: %s", in, sqlite3_errmsg(db));
        return CLI_FAIL;
    }
    struct merge M = {.out = out};
    int status = CLI_OK;
    if (runlog_transaction(out, merge_tx, &M)) {
        cli_error("db merge", "%s: %s", in, runlog_errmsg(out));
        status = CLI_FAIL;
    } else {
        fprintf(stderr, "%s: %ld runs added, %ld replaced, %ld already there\n", in, M.added,
                M.replaced, M.kept);
    }
    sqlite3_exec(db, "DETACH DATABASE src", NULL, NULL, NULL);
    return status;
}

int cmd_db(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "merge"))
        return cli_usage("db", "unknown subcommand '%s' (merge)", argv[1]);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return CLI_OK;
        }
    if (argc < 4)
        return cli_usage("db", "merge needs OUT.db and at least one IN.db");
    struct runlog *out;
    char err[RUNLOG_ERR_MAX];
    if (runlog_open(&out, argv[2], 1, err)) {
        cli_error("db merge", "%s: %s", argv[2], err);
        return CLI_USAGE;
    }
    int status = CLI_OK;
    for (int i = 3; i < argc && status == CLI_OK; i++) {
        if (!strcmp(argv[i], argv[2])) {
            cli_error("db merge", "%s: is the output", argv[i]);
            status = CLI_USAGE;
            break;
        }
        status = merge_one(out, argv[i]);
    }
    runlog_close(&out);
    return status;
}
