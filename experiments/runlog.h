/* runlog.h: the SQLite run log (schema in schema.sql): opening with WAL and a busy
 * timeout, claiming a run with BEGIN IMMEDIATE, logging params, metrics, scores, artifacts. */
#ifndef PYRAMASK_RUNLOG_H
#define PYRAMASK_RUNLOG_H

#include <sqlite3.h>
#include <stdint.h>

#include "config.h"

enum { RUNLOG_VERSION = 2, RUNLOG_ERR_MAX = 8192 };

/* Results of runlog_claim besides errors. */
enum { RUNLOG_CLAIMED = 0, RUNLOG_DONE = 1, RUNLOG_BUSY = 2 };

struct runlog;

/* The database path: `flag` (--db) if given, else $PYRAMASK_DB, else "pyramask.db". */
const char *runlog_path(const char *flag);

/* Opens (with create, creates) the log, sets WAL and a busy timeout (60 s, or
 * $PYRAMASK_BUSY_TIMEOUT seconds), creates or checks
 * the schema and marks runs of dead processes on this host 'interrupted'.
 * Returns 0, or -1 with a message in err (the caller prints "pyramask: <path>: <err>"). */
int runlog_open(struct runlog **out, const char *path, int create, char err[RUNLOG_ERR_MAX]);
void runlog_close(struct runlog **rl);
sqlite3 *runlog_db(struct runlog *rl);
const char *runlog_errmsg(struct runlog *rl);

/* Marks runs left 'running' by a process that no longer exists 'interrupted'
 * (same host: the pid is gone; another host: no heartbeat for an hour).
 * Returns the number of runs marked, or -1. */
int runlog_reap(struct runlog *rl);

/* Registers a sweep (or finds it by name) and its factors with their levels. */
struct sweep;
int runlog_sweep(struct runlog *rl, const struct sweep *s, int64_t *sweep_id);

/* Claims (sweep_id, config hash, seed) for this process: inserts a 'running' row, or
 * takes over a failed or interrupted one (its old rows removed, attempts + 1).
 * sweep_id 0 = a lone run, always a new row. Writes the config's params.
 * Returns RUNLOG_CLAIMED with *run_id, RUNLOG_DONE when already finished, RUNLOG_BUSY
 * when a live process runs it, or -1. */
int runlog_claim(struct runlog *rl, int64_t sweep_id, const char *kind, const struct config *c,
                 int64_t *run_id, char uid[33]);

/* Status of (sweep, hash, seed): "finished", "running", ... or NULL when absent. */
int runlog_status(struct runlog *rl, int64_t sweep_id, const char *config_hash, long seed,
                  char status[16]);

int runlog_metric(struct runlog *rl, int64_t run_id, long step, const char *key, double value);
/* One more params row, for what a run derives from its config (e.g. the chain's scoring
 * schedule); keys that are not config keys. */
int runlog_param(struct runlog *rl, int64_t run_id, const char *key, const char *value);
int runlog_score(struct runlog *rl, int64_t run_id, const char *split, const char *metric,
                 double value, double stderr_, long n);
int runlog_artifact(struct runlog *rl, int64_t run_id, const char *kind, const char *path);
int runlog_pyramid(struct runlog *rl, const char *hash, const char *path, const char *corpus,
                   const char *levels, long superword, const char *pretok);
/* What a run's inputs look like (for reports): one level of its pyramid measured on a
 * split; a curve y(x) of n points (name 'alpha': the schedule, label e.g. 'poly:2'); a
 * corrupted-text preview at time t with the names of the mask types it may show. */
int runlog_pyramid_level(struct runlog *rl, int64_t run_id, const char *pyramid, int level,
                         const char *stage, long vocab, long tokens, long bytes, long used);
int runlog_curve(struct runlog *rl, int64_t run_id, const char *name, const char *label, int n,
                 const double *x, const double *y);
int runlog_preview(struct runlog *rl, int64_t run_id, double t, long seed, const char *text,
                   long masked, long tokens, char *const *types, int ntypes);
int runlog_heartbeat(struct runlog *rl, int64_t run_id);
/* status: "finished", "failed" or "interrupted"; error may be NULL. A locked log is waited
 * for up to four busy timeouts. */
int runlog_finish(struct runlog *rl, int64_t run_id, const char *status, const char *error);

/* A run's rows in every table that holds some (params, metrics, scores, artifacts,
 * pyramid_levels, curves, previews; not its row in runs): deleted, or copied from run
 * `from` of the attached database `schema` to run `to` of main. Return 0 or -1 with the
 * message (runlog_errmsg). */
int runlog_delete_rows(struct runlog *rl, int64_t run_id);
int runlog_copy_rows(struct runlog *rl, const char *schema, int64_t from, int64_t to);

/* sqlite3_exec of sql on the log's connection; 0, or -1 with the message. */
int runlog_exec(struct runlog *rl, const char *sql);
/* Records "what: <SQLite's message>" as the log's message after a failed SQLite call on
 * runlog_db(rl); returns -1. */
int runlog_fail(struct runlog *rl, const char *what);

/* Runs fn(user) inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when fn returns nonzero). */
int runlog_transaction(struct runlog *rl, int (*fn)(void *user), void *user);

/* This process's liveness tag ("<boot id>:<start ticks>") and the host name. */
const char *runlog_pid_tag(long pid, char out[96]);
const char *runlog_host(void);

#endif
