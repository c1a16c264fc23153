/* slurm.h: the Slurm commands pyramask uses (sbatch, squeue, scancel, scontrol), run as child
 * processes with their output parsed. Nothing here knows about sweeps; no sacct (no
 * accounting daemon is assumed). */
#ifndef PYRAMASK_SLURM_H
#define PYRAMASK_SLURM_H

#include <stddef.h>

enum { SLURM_ERR_MAX = 1024 };

/* Runs argv (argv[0] looked up in PATH) with stdin from /dev/null and returns its exit
 * status; *out (may be NULL) gets its standard output (NUL-terminated; free it). On a
 * nonzero status, err gets "argv[0]: " and the last line of its standard error. Returns -1
 * with err when it could not be run (not installed) or died of a signal. */
int slurm_run(char *const argv[], char **out, char err[SLURM_ERR_MAX]);

/* `sbatch --parsable ARGS... SCRIPT`: the new job's id in *job. Returns 0 or -1 with err. */
int slurm_sbatch(char *const *args, int nargs, const char *script, long *job,
                 char err[SLURM_ERR_MAX]);

/* `scancel JOB` (job, or one array task when task >= 0). Returns 0 or -1 with err. */
int slurm_scancel(long job, long task, char err[SLURM_ERR_MAX]);

/* A job or an array task as squeue shows it. */
struct slurm_job {
    long job;        /* the array's job id for an array task */
    long task;       /* the array task id, or -1 */
    char state[24];  /* PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT... */
    char reason[64]; /* None, Dependency, DependencyNeverSatisfied, JobArrayTaskLimit... */
    char name[128];
};

/* `squeue -h -r -t all -j IDS`: the jobs and array tasks of those job ids that the
 * controller still holds (ended jobs stay MinJobAge seconds, 300 by default; a job it
 * has forgotten is simply absent). Returns 0 with *out (free it) and *n, or -1 with err
 * (squeue missing, the controller unreachable). */
int slurm_squeue(const long *ids, int nids, struct slurm_job **out, int *n,
                 char err[SLURM_ERR_MAX]);

/* True for the states of a job that will not run again (COMPLETED, FAILED, CANCELLED,
 * TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED). */
int slurm_state_ended(const char *state);

/* A key of `scontrol show config` ("MaxArraySize", "SchedulerParameters") into value.
 * Returns 0, 1 when the key is absent, or -1 with err. */
int slurm_config(const char *key, char *value, size_t n, char err[SLURM_ERR_MAX]);

#endif
