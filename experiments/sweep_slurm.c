/* sweep_slurm.c: a sweep under Slurm: where its files are, what was submitted, each cell's
 * state from the run log, the shard logs and the scheduler; and `pyramask sweep status`. */
#include "sweep_slurm.h"
#include "cli.h"
#include "runlog.h"
#include "slurm.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- where things are ---- */

int sweep_slurm_place(struct sweep_place *P, const struct sweep *s, const char *db_flag)
{
    const char *db = runlog_path(db_flag);
    const char *slash = strrchr(db, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - db) : 1, slash ? db : ".");
    if (slash == db)
        snprintf(dir, sizeof dir, "/");
    if (!realpath(dir, real)) {
        cli_error("sweep", "%s: %s", dir, strerror(errno));
        return CLI_USAGE;
    }
    const char *base = slash ? slash + 1 : db;
    size_t blen = strlen(base);
    if (blen > 3 && !strcmp(base + blen - 3, ".db"))
        blen -= 3;
    size_t k = 0;
    for (const char *c = s->name; *c && k + 1 < sizeof P->key; c++)
        P->key[k++] = strchr("._-", *c) || isalnum((unsigned char)*c) ? *c : '_';
    P->key[k] = 0;
    if (strchr(real, '%')) { /* sbatch would read it as a file name pattern */
        cli_error("sweep",
                  "%s: a run log for Slurm cannot live in a directory whose path has "
                  "a '%%'",
                  real);
        return CLI_USAGE;
    }
    if (snprintf(P->db, sizeof P->db, "%s/%s", strcmp(real, "/") ? real : "", base) >=
            (int)sizeof P->db ||
        snprintf(P->dir, sizeof P->dir, "%s/pyramask-slurm/%s", real, P->key) >=
            (int)sizeof P->dir ||
        snprintf(P->shard, sizeof P->shard, "%s/%.*s.%s.", real, (int)blen, base, P->key) >=
            (int)sizeof P->shard) {
        cli_error("sweep", "%s: path too long", real);
        return CLI_USAGE;
    }
    return 0;
}

void sweep_slurm_shard(const struct sweep_place *P, long sub, long task,
                       char out[SHARD_PATH_MAX])
{
    snprintf(out, SHARD_PATH_MAX, "%ss%ld-t%ld.db", P->shard, sub, task);
}

/* ---- what was submitted ---- */

void sweep_slurm_history_free(struct sweep_history *h)
{
    for (int i = 0; i < h->n; i++) {
        for (long t = 0; h->subs[i].tasks && t < h->subs[i].ntasks; t++)
            free(h->subs[i].tasks[t]);
        free(h->subs[i].tasks);
    }
    free(h->subs);
    memset(h, 0, sizeof *h);
}

static int read_cells_file(const struct sweep_place *P, struct sweep_submission *S)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/s%ld.cells", P->dir, S->n);
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("sweep", "%s: %s", path, strerror(errno));
        return -1;
    }
    S->tasks = calloc((size_t)S->ntasks + 1, sizeof *S->tasks);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long t = 0;
    while (S->tasks && t < S->ntasks && (len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            line[len - 1] = 0;
        if (!(S->tasks[t++] = strdup(line)))
            break;
    }
    free(line);
    fclose(f);
    if (!S->tasks || t < S->ntasks || !S->tasks[t - 1]) {
        cli_error("sweep", "%s: %ld tasks expected, %ld read", path, S->ntasks, t);
        return -1;
    }
    return 0;
}

int sweep_slurm_history(const struct sweep_place *P, struct sweep_history *h)
{
    memset(h, 0, sizeof *h);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/submissions", P->dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        cli_error("sweep", "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        struct sweep_submission S = {0};
        if (sscanf(line, "%ld %ld %ld %ld", &S.n, &S.array, &S.merge, &S.ntasks) != 4 ||
            S.n != (h->n ? h->subs[h->n - 1].n + 1 : 1) || S.ntasks < 0) {
            cli_error("sweep", "%s:%d: not a submission record", path, lineno);
            rc = -1;
            break;
        }
        struct sweep_submission *q = realloc(h->subs, (size_t)(h->n + 1) * sizeof *q);
        if (!q) {
            rc = -1;
            break;
        }
        h->subs = q;
        h->subs[h->n++] = S;
        if (S.ntasks && read_cells_file(P, &h->subs[h->n - 1]))
            rc = -1;
    }
    fclose(f);
    if (rc)
        sweep_slurm_history_free(h);
    return rc;
}

/* ---- the cells and their states ---- */

static const char *const state_names[] = {"not run", "not run", "failed",  "interrupted",
                                          "queued",  "running", "finished"};

static int priority(int st)
{
    return st == C_INTERRUPTED ? C_FAILED : st;
}

void sweep_slurm_survey_free(struct sweep_survey *v)
{
    free(v->cells);
    free(v->order);
    free(v->jobs);
    memset(v, 0, sizeof *v);
}

static const struct sweep_cell_state *sort_base;
static int by_key(const void *a, const void *b)
{
    return strcmp(sort_base[*(const long *)a].key, sort_base[*(const long *)b].key);
}

static struct sweep_cell_state *find_cell(struct sweep_survey *v, const char *key)
{
    long lo = 0, hi = v->n;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        int c = strcmp(v->cells[v->order[mid]].key, key);
        if (!c)
            return &v->cells[v->order[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void set_state(struct sweep_cell_state *c, int st, long sub, long task, const char *note)
{
    if (priority(st) < priority(c->state))
        return;
    c->state = st;
    c->sub = sub;
    c->task = task;
    snprintf(c->note, sizeof c->note, "%s", note ? note : "");
}

/* The job squeue shows for (job, task), with the name pyramask gave it; NULL when the
 * controller no longer holds it. */
const struct slurm_job *sweep_slurm_job(const struct sweep_survey *v, long job, long task,
                                        const char *name)
{
    for (int i = 0; i < v->njobs; i++)
        if (v->jobs[i].job == job && v->jobs[i].task == task && !strcmp(v->jobs[i].name, name))
            return &v->jobs[i];
    return NULL;
}

void sweep_slurm_job_names(const struct sweep_place *P, char array[160], char merge[160])
{
    snprintf(array, 160, "pyramask-%s", P->key);
    snprintf(merge, 160, "pyramask-merge-%s", P->key);
}

int sweep_slurm_live(const struct slurm_job *j)
{
    return j && !slurm_state_ended(j->state);
}

/* Reads a log's runs of sweep `name`, read-only; for each: fn(v, key, status, error). A
 * missing file is no runs. Returns 0 or -1 (printed). */
static int read_log(struct sweep_survey *v, const char *path, const char *name, long sub,
                    long task, long mark)
{
    if (access(path, F_OK))
        return 0;
    /* read-write when allowed, only so that the last connection to close removes the
     * -wal and -shm files (a read-only one leaves them); nothing is written */
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            cli_error("sweep", "%s: %s", path, sqlite3_errmsg(db));
            sqlite3_close(db);
            return -1;
        }
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.config_hash, r.seed, r.status, coalesce(r.error, '') "
                           "FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id "
                           "WHERE s.name = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        cli_error("sweep", "%s: reading its runs: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char key[40];
        snprintf(key, sizeof key, "%s:%lld", (const char *)sqlite3_column_text(st, 0),
                 (long long)sqlite3_column_int64(st, 1));
        struct sweep_cell_state *c = find_cell(v, key);
        if (!c)
            continue; /* a cell of another grid (the file or --set changed) */
        const char *status = (const char *)sqlite3_column_text(st, 2);
        const char *error = (const char *)sqlite3_column_text(st, 3);
        c->mark = mark;
        if (!strcmp(status, "finished")) {
            set_state(c, C_FINISHED, sub, task, NULL);
            if (!sub)
                c->in_log = 1;
        } else if (!strcmp(status, "failed")) {
            set_state(c, C_FAILED, sub, task, error);
        } else if (!strcmp(status, "interrupted")) {
            set_state(c, C_INTERRUPTED, sub, task, error);
        } else if (!sub) {
            set_state(c, C_RUNNING, 0, 0, "a process on the run log's host runs it");
        } else {
            /* the task has ended (a live task's shard is not read) */
            set_state(c, v->sched_ok ? C_INTERRUPTED : C_RUNNING, sub, task,
                      v->sched_ok ? "its task ended while it ran (killed, time limit, node "
                                    "failure?)"
                                  : "per its shard log");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        cli_error("sweep", "%s: reading its runs: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Builds the grid's cells, asks the scheduler about every job of the history, and reads
 * the run log and the shard logs of the tasks that have ended. */
int sweep_slurm_survey(struct sweep_survey *v, const struct sweep *s,
                       const struct sweep_place *P, const struct sweep_history *h)
{
    memset(v, 0, sizeof *v);
    v->n = sweep_ncells(s);
    v->cells = calloc((size_t)v->n + 1, sizeof *v->cells);
    v->order = calloc((size_t)v->n + 1, sizeof *v->order);
    if (!v->cells || !v->order) {
        cli_error("sweep", "out of memory");
        return CLI_FAIL;
    }
    for (long i = 0; i < v->n; i++) {
        char err[CONFIG_ERR_MAX], hash[17];
        struct config *c = sweep_cell(s, i, err);
        if (!c) {
            cli_error("sweep", "%s", err);
            return CLI_USAGE;
        }
        config_hash(c, hash);
        snprintf(v->cells[i].key, sizeof v->cells[i].key, "%s:%ld", hash,
                 config_values(c)->train.seed);
        v->cells[i].index = i;
        v->order[i] = i;
        config_free(&c);
    }
    sort_base = v->cells;
    qsort(v->order, (size_t)v->n, sizeof *v->order, by_key);

    /* the scheduler */
    long *ids = calloc((size_t)h->n * 2 + 1, sizeof *ids);
    int nids = 0;
    for (int i = 0; ids && i < h->n; i++) {
        if (h->subs[i].array)
            ids[nids++] = h->subs[i].array;
        ids[nids++] = h->subs[i].merge;
    }
    v->sched_ok = nids == 0 || slurm_squeue(ids, nids, &v->jobs, &v->njobs, v->sched_err) == 0;
    free(ids);

    char aname[160], mname[160];
    sweep_slurm_job_names(P, aname, mname);
    int merging = 0;
    for (int i = 0; i < h->n; i++) {
        const struct slurm_job *m = sweep_slurm_job(v, h->subs[i].merge, -1, mname);
        merging |= m && !strcmp(m->state, "RUNNING");
    }
    /* the run log: not while a merge job writes it (perhaps on another host) */
    if (!merging) {
        if (read_log(v, P->db, s->name, 0, 0, 0))
            return CLI_FAIL;
        v->log_read = 1;
    }
    long mark = 0;
    for (int i = 0; i < h->n; i++) {
        const struct sweep_submission *S = &h->subs[i];
        for (long t = 0; t < S->ntasks; t++) {
            const struct slurm_job *j = sweep_slurm_job(v, S->array, t, aname);
            int st = 0;
            char note[200];
            if (sweep_slurm_live(j)) {
                st = !strcmp(j->state, "PENDING") ? C_QUEUED : C_RUNNING;
                snprintf(note, sizeof note, "%s", j->reason);
            } else {
                /* ended or forgotten: its shard log has the word */
                char path[SHARD_PATH_MAX];
                sweep_slurm_shard(P, S->n, t, path);
                if (read_log(v, path, s->name, S->n, t, ++mark))
                    return CLI_FAIL;
                if (j)
                    snprintf(note, sizeof note, "its task ended %s%s%s%s before it ran",
                             j->state, strcmp(j->reason, "None") ? " (" : "",
                             strcmp(j->reason, "None") ? j->reason : "",
                             strcmp(j->reason, "None") ? ")" : "");
                else
                    snprintf(note, sizeof note, "%s",
                             v->sched_ok ? "its task left the queue (cancelled?) before it ran"
                                         : "no record yet");
            }
            /* the task's cells */
            char *list = strdup(S->tasks[t]);
            for (char *save = NULL, *item = list ? strtok_r(list, ",", &save) : NULL; item;
                 item = strtok_r(NULL, ",", &save)) {
                char *colon = strchr(item, ':');
                struct sweep_cell_state *c = colon ? find_cell(v, colon + 1) : NULL;
                if (!c)
                    continue;
                if (st)
                    set_state(c, st, S->n, t, note);
                else if (c->mark != mark)
                    set_state(c, C_NOTRUN, S->n, t, note);
            }
            free(list);
        }
    }
    return 0;
}

/* s in single quotes for sh */
void sweep_slurm_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* ---- status ---- */

/* The last nonempty line of a task's output file, into out ("" when none). */
static void output_tail(const char *path, char *out, size_t n)
{
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len)
            snprintf(out, n, "%s", line);
    }
    fclose(f);
}

static void print_job_counts(const struct sweep_survey *v, const struct sweep_submission *S,
                             const char *aname)
{
    /* each task's state, counted: squeue's states in lower case; gone = left the queue */
    struct {
        char state[24];
        long n;
    } counts[16];
    int nc = 0;
    long gone = 0;
    for (long t = 0; t < S->ntasks; t++) {
        const struct slurm_job *j = sweep_slurm_job(v, S->array, t, aname);
        if (!j) {
            gone++;
            continue;
        }
        int k = 0;
        while (k < nc && strcmp(counts[k].state, j->state))
            k++;
        if (k == nc && nc < 16) {
            snprintf(counts[nc].state, sizeof counts[nc].state, "%s", j->state);
            counts[nc++].n = 0;
        }
        if (k < nc)
            counts[k].n++;
    }
    printf("job array %ld, %ld task%s (", S->array, S->ntasks, S->ntasks == 1 ? "" : "s");
    for (int k = 0; k < nc; k++) {
        printf("%s%ld ", k ? ", " : "", counts[k].n);
        for (const char *c = counts[k].state; *c; c++)
            putchar(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    }
    if (gone)
        printf("%s%ld %s", nc ? ", " : "", gone,
               v->sched_ok ? "no longer in the queue" : "in a state unknown");
    printf(")");
}

/* The command that submits this sweep again, as given to this one. */
static void print_submit(const struct sweep_slurm_opts *o)
{
    printf("pyramask sweep submit ");
    sweep_slurm_quote(stdout, o->sweep_file);
    if (o->db) {
        printf(" --db ");
        sweep_slurm_quote(stdout, o->db);
    }
    for (int i = 0; i < o->nsets; i++) {
        printf(" --set ");
        sweep_slurm_quote(stdout, o->sets[i]);
    }
    putchar('\n');
}

int sweep_status(const struct sweep *s, const struct sweep_slurm_opts *o)
{
    struct sweep_place P;
    int rc = sweep_slurm_place(&P, s, o->db);
    if (rc)
        return rc;
    struct sweep_history h;
    if (sweep_slurm_history(&P, &h))
        return CLI_FAIL;
    struct sweep_survey v;
    rc = sweep_slurm_survey(&v, s, &P, &h);
    if (rc) {
        sweep_slurm_survey_free(&v);
        sweep_slurm_history_free(&h);
        return rc;
    }
    long count[7] = {0}, in_log = 0;
    for (long i = 0; i < v.n; i++) {
        count[v.cells[i].state]++;
        in_log += v.cells[i].in_log;
    }
    printf("sweep %s: %ld cells: %ld finished", s->name, v.n, count[C_FINISHED]);
    if (v.log_read)
        printf(" (%ld in the run log)", in_log);
    printf(", %ld failed, %ld running, %ld queued, %ld not run\n",
           count[C_FAILED] + count[C_INTERRUPTED], count[C_RUNNING], count[C_QUEUED],
           count[C_NONE] + count[C_NOTRUN]);
    if (!v.log_read)
        printf("the run log is not read while its merge job runs\n");
    if (!v.sched_ok)
        printf("the scheduler could not be asked (%s): states from the logs alone\n",
               v.sched_err);

    char aname[160], mname[160];
    sweep_slurm_job_names(&P, aname, mname);
    int merge_live = 0, first = h.n > 10 ? h.n - 10 : 0;
    if (first)
        printf("(%d earlier submissions not shown)\n", first);
    for (int i = first; i < h.n; i++) {
        const struct sweep_submission *S = &h.subs[i];
        printf("submission %ld: ", S->n);
        if (S->array) {
            print_job_counts(&v, S, aname);
            printf("; ");
        }
        const struct slurm_job *m = sweep_slurm_job(&v, S->merge, -1, mname);
        merge_live |= sweep_slurm_live(m);
        printf("merge job %ld ", S->merge);
        if (!m)
            printf("%s\n", v.sched_ok ? "no longer in the queue" : "(state unknown)");
        else if (!strcmp(m->reason, "DependencyNeverSatisfied"))
            printf(sweep_slurm_live(m)
                       ? "pending, and it never will run: a task did not succeed "
                         "(DependencyNeverSatisfied); `pyramask sweep submit` cancels "
                         "it (or `scancel %ld`; a cluster with SchedulerParameters="
                         "kill_invalid_depend cancels such jobs itself)\n"
                       : "cancelled: a task did not succeed (DependencyNeverSatisfied)\n",
                   S->merge);
        else if (!strcmp(m->state, "PENDING"))
            printf("pending (%s)\n",
                   !strcmp(m->reason, "Dependency") ? "it waits for the tasks" : m->reason);
        else if (!strcmp(m->state, "COMPLETED") || !strcmp(m->state, "RUNNING"))
            printf("%s\n", !strcmp(m->state, "RUNNING") ? "running" : "completed");
        else if (!strncmp(m->state, "CANCELLED", 9))
            printf("cancelled%s%s%s\n", strcmp(m->reason, "None") ? " (" : "",
                   strcmp(m->reason, "None") ? m->reason : "",
                   strcmp(m->reason, "None") ? ")" : "");
        else
            printf("%s (%s): see %s/s%ld-merge.out\n", m->state, m->reason, P.dir, S->n);
    }

    /* the cells that need a look, or every cell with --list */
    long shown = 0, hidden = 0;
    for (long i = 0; i < v.n; i++) {
        const struct sweep_cell_state *c = &v.cells[i];
        int trouble = c->state == C_FAILED || c->state == C_INTERRUPTED ||
                      (c->state == C_NOTRUN && c->sub);
        if (!o->list_cells && !trouble)
            continue;
        if (!o->list_cells && shown >= 10) {
            hidden++;
            continue;
        }
        char err[CONFIG_ERR_MAX], label[1024] = "";
        struct config *cfg = sweep_cell(s, c->index, err);
        if (cfg) {
            sweep_cell_label(s, cfg, label, sizeof label);
            config_free(&cfg);
        }
        printf("cell %ld (%s): %s", c->index, label, state_names[c->state]);
        if (c->sub)
            printf(" in task %ld of submission %ld%s", c->task, c->sub,
                   c->in_log ? ", merged into the run log" : "");
        else if (c->state != C_NONE)
            printf(" in the run log");
        if (*c->note)
            printf(": %s", c->note);
        if (trouble && c->sub) {
            char out[PATH_MAX + 32], tail[512] = "";
            snprintf(out, sizeof out, "%s/s%ld-t%ld.out", P.dir, c->sub, c->task);
            if (c->state != C_FAILED) /* a failed run's error says it all */
                output_tail(out, tail, sizeof tail);
            if (*tail)
                printf("; the task's output (%s) ends: %s", out, tail);
            else if (!access(out, F_OK))
                printf(" (output: %s)", out);
        }
        putchar('\n');
        shown++;
    }
    if (hidden)
        printf("(%ld more such cells: --list shows every cell)\n", hidden);

    long unmerged = count[C_FINISHED] - in_log;
    long unfinished = v.n - count[C_FINISHED] - count[C_RUNNING] - count[C_QUEUED];
    if (h.n && !merge_live && unfinished > 0) {
        printf("to run the %ld unfinished cell%s and merge every shard: ", unfinished,
               unfinished == 1 ? "" : "s");
        print_submit(o);
    } else if (h.n && !merge_live && v.log_read && unmerged > 0) {
        printf("%ld finished cell%s not in the run log: ", unmerged,
               unmerged == 1 ? " is" : "s are");
        print_submit(o);
        printf("  (a merge job alone), or merge them here: pyramask db merge ");
        sweep_slurm_quote(stdout, P.db);
        putchar(' ');
        sweep_slurm_quote(stdout, P.shard);
        printf("s*-t*.db\n");
    }
    sweep_slurm_survey_free(&v);
    sweep_slurm_history_free(&h);
    return CLI_OK;
}
