/* sweep_slurm.h: a sweep as a Slurm job array: `sweep submit` (the cells not finished, one
 * shard run log per task, a merge job after the array) and `sweep status`. */
#ifndef PYRAMASK_SWEEP_SLURM_H
#define PYRAMASK_SWEEP_SLURM_H

#include <limits.h>
#include <stdio.h>

#include "slurm.h"
#include "sweep.h"

/* Beside the run log DIR/NAME.db:
 *   DIR/pyramask-slurm/KEY/        KEY = the sweep's name in [A-Za-z0-9._-]
 *     submissions                  one line per submission: "S ARRAY_JOB MERGE_JOB TASKS"
 *     sS.cells                     line T+1: task T's cells, "INDEX:HASH:SEED,..."
 *     sS.sbatch, sS-merge.sbatch   the array's script and the merge job's
 *     sS-tT.out, sS-merge.out      their output (progress lines, errors)
 *   DIR/NAME.KEY.sS-tT.db          task T's shard run log (beside the run log, so that the
 *                                  pyramid cache and the runs' files are the run log's) */

struct sweep_slurm_opts {
    const char *sweep_file;   /* as given on the command line */
    const char *db;           /* --db, or NULL */
    long array_limit;         /* --array-limit: tasks running at once (0 = no limit) */
    long cells_per_task;      /* --cells-per-task (0 = 1; raised to fit MaxArraySize) */
    char *const *sbatch_args; /* --sbatch-arg, for both jobs */
    int nsbatch_args;
    char *const *sets; /* --set, passed on to the tasks */
    int nsets;
    int list_cells; /* status --list: every cell, one line each */
};

/* `pyramask sweep submit`: returns an exit status (CLI_OK, CLI_FAIL, CLI_USAGE). */
int sweep_submit(const struct sweep *s, const struct sweep_slurm_opts *o);

/* `pyramask sweep status`: returns an exit status. */
int sweep_status(const struct sweep *s, const struct sweep_slurm_opts *o);

/* ---- shared by sweep_slurm.c (status) and sweep_submit.c ---- */

struct sweep_place {
    char db[PATH_MAX];    /* the run log, absolute */
    char dir[PATH_MAX];   /* DIR/pyramask-slurm/KEY */
    char shard[PATH_MAX]; /* DIR/NAME.KEY. (then "sS-tT.db") */
    char key[128];
};

enum { SHARD_PATH_MAX = PATH_MAX + 64 };

struct sweep_submission {
    long n, array, merge, ntasks; /* array 0: a merge job alone */
    char **tasks;                 /* task t's cells, "I:HASH:SEED,..." */
};

struct sweep_history {
    struct sweep_submission *subs;
    int n;
};

enum cell_state {
    C_NONE,        /* never submitted, no record */
    C_NOTRUN,      /* its task ended without a record of it */
    C_FAILED,      /* failed */
    C_INTERRUPTED, /* interrupted, or its task ended while it ran */
    C_QUEUED,      /* its task is pending */
    C_RUNNING,     /* its task is running (or a process on this log's host runs it) */
    C_FINISHED,
};

struct sweep_cell_state {
    char key[40]; /* "HASH:SEED" */
    long index;
    int state, in_log; /* in_log: finished in the run log itself */
    long sub, task;    /* where the state was seen (sub 0: the run log) */
    char note[256];    /* why: an error, the task's end */
    long mark;
};

struct sweep_survey {
    struct sweep_cell_state *cells;
    long n;
    long *order; /* cells sorted by key */
    struct slurm_job *jobs;
    int njobs;
    int sched_ok; /* squeue answered */
    char sched_err[SLURM_ERR_MAX];
    int log_read; /* the run log was read (not while a merge job runs) */
};

/* The run log's absolute path, the sweep's directory and its shard prefix (from --db).
 * Returns 0 or an exit status (printed). */
int sweep_slurm_place(struct sweep_place *P, const struct sweep *s, const char *db_flag);
/* Task `task` of submission `sub`'s shard run log. */
void sweep_slurm_shard(const struct sweep_place *P, long sub, long task,
                       char out[SHARD_PATH_MAX]);

/* Reads the submissions and their cell lists (none yet: h->n = 0). Returns 0 or -1
 * (printed). */
int sweep_slurm_history(const struct sweep_place *P, struct sweep_history *h);
void sweep_slurm_history_free(struct sweep_history *h);

/* Every cell of the grid with its state: the scheduler is asked about every job of the
 * history (squeue), the run log is read (not while a merge job runs), and so is the shard
 * log of each task that has ended (never one a live task may be writing). Returns 0 or an
 * exit status (printed). */
int sweep_slurm_survey(struct sweep_survey *v, const struct sweep *s,
                       const struct sweep_place *P, const struct sweep_history *h);
void sweep_slurm_survey_free(struct sweep_survey *v);

/* The job or array task (task -1: not an array) squeue showed under that name, or NULL. */
const struct slurm_job *sweep_slurm_job(const struct sweep_survey *v, long job, long task,
                                        const char *name);
/* The names of the sweep's array and merge jobs ("pyramask-KEY", "pyramask-merge-KEY"). */
void sweep_slurm_job_names(const struct sweep_place *P, char array[160], char merge[160]);
/* True for a job that may still run (pending, running...). NULL-safe. */
int sweep_slurm_live(const struct slurm_job *j);

/* s in single quotes for sh. */
void sweep_slurm_quote(FILE *f, const char *s);

#endif
