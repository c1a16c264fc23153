/* sweep_submit.c: `pyramask sweep submit`: the cells not finished as a Slurm job array
 * (one shard run log per task), and a merge job after it that merges the shards. */
#include "cli.h"
#include "safe_file.h"
#include "slurm.h"
#include "sweep_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
}

/* ---- writing files ---- */

static int write_file(const char *path, const char *text)
{
    struct safe_file sf;
    char err[PATH_MAX + 128];
    if (safe_file_open(&sf, path, err, sizeof err)) {
        cli_error("sweep", "%s", err);
        return -1;
    }
    fputs(text, sf.f);
    if (safe_file_commit(&sf, err, sizeof err)) {
        cli_error("sweep", "%s", err);
        return -1;
    }
    return 0;
}

/* A memory stream; returns its text (free it) after fclose. */
struct text {
    FILE *f;
    char *p;
    size_t n;
};

static int text_open(struct text *t)
{
    t->p = NULL;
    t->f = open_memstream(&t->p, &t->n);
    return t->f ? 0 : -1;
}

static char *text_close(struct text *t)
{
    if (fclose(t->f)) {
        free(t->p);
        return NULL;
    }
    return t->p;
}

static int write_text(const char *path, struct text *t)
{
    char *s = text_close(t);
    if (!s) {
        cli_error("sweep", "%s: out of memory", path);
        return -1;
    }
    int rc = write_file(path, s);
    free(s);
    return rc;
}

/* ---- submit ---- */

static int lock_dir(const struct sweep_place *P)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/lock", P->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 || flock(fd, LOCK_EX)) {
        cli_error("sweep", "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* "# submitted as: sbatch --parsable ARG... SCRIPT" */
static void put_submitted_as(FILE *f, char *const *args, int n, const char *script)
{
    fputs("# submitted as: sbatch --parsable", f);
    for (int i = 0; i < n; i++) {
        fputc(' ', f);
        sweep_slurm_quote(f, args[i]);
    }
    fputc(' ', f);
    sweep_slurm_quote(f, script);
    fputc('\n', f);
}

/* The merge job's script: every shard of submissions 1..S that exists when it runs. */
static int write_merge_script(const struct sweep_place *P, const struct sweep_history *h,
                              long S, long ntasks, const char *exe, char *const *args,
                              int nargs, const char *path)
{
    struct text t;
    if (text_open(&t))
        return cli_error("sweep", "out of memory"), -1;
    fprintf(t.f,
            "#!/bin/sh\n"
            "# pyramask sweep submit: merges the shard run logs of submissions 1..%ld into\n"
            "# the run log (a shard whose task never ran does not exist and is left out)\n",
            S);
    put_submitted_as(t.f, args, nargs, path);
    fputs("set -eu\nset --\nfor f in \\\n", t.f);
    char shard[SHARD_PATH_MAX];
    for (int i = 0; i <= h->n; i++) {
        long n = i < h->n ? h->subs[i].n : S, tasks = i < h->n ? h->subs[i].ntasks : ntasks;
        for (long k = 0; k < tasks; k++) {
            sweep_slurm_shard(P, n, k, shard);
            fputs("    ", t.f);
            sweep_slurm_quote(t.f, shard);
            fputs(" \\\n", t.f);
        }
    }
    fputs("    ; do\n    [ -e \"$f\" ] && set -- \"$@\" \"$f\"\ndone\n"
          "[ $# -gt 0 ] || { echo 'pyramask: sweep merge: no shard run log to merge' >&2; "
          "exit 1; }\nexec ",
          t.f);
    sweep_slurm_quote(t.f, exe);
    fputs(" db merge ", t.f);
    sweep_slurm_quote(t.f, P->db);
    fputs(" \"$@\"\n", t.f);
    return write_text(path, &t);
}

static int write_array_script(const struct sweep_place *P, const struct sweep *s,
                              const struct sweep_slurm_opts *o, long S, long ntasks,
                              long ncells, const char *exe, const char *sweep_file,
                              char *const *args, int nargs, const char *path)
{
    struct text t;
    if (text_open(&t))
        return cli_error("sweep", "out of memory"), -1;
    char cells[PATH_MAX + 32];
    snprintf(cells, sizeof cells, "%s/s%ld.cells", P->dir, S);
    fprintf(t.f,
            "#!/bin/sh\n"
            "# pyramask sweep submit: sweep '%s', submission %ld: %ld cells in %ld tasks.\n"
            "# Task T runs the cells on line T+1 of s%ld.cells into its own shard run log;\n"
            "# the merge job merges the shards into the run log once every task succeeded.\n",
            s->name, S, ncells, ntasks, S);
    put_submitted_as(t.f, args, nargs, path);
    fputs("set -eu\n"
          "task=${SLURM_ARRAY_TASK_ID:?not a Slurm array task}\n"
          "cells=$(sed -n \"$((task + 1))p\" ",
          t.f);
    sweep_slurm_quote(t.f, cells);
    fputs(")\nexec ", t.f);
    sweep_slurm_quote(t.f, exe);
    fputs(" sweep run ", t.f);
    sweep_slurm_quote(t.f, sweep_file);
    fputs(" --cells \"$cells\" --jobs \"${SLURM_CPUS_PER_TASK:-1}\" \\\n    --db ", t.f);
    char prefix[PATH_MAX + 16];
    snprintf(prefix, sizeof prefix, "%ss%ld-t", P->shard, S);
    sweep_slurm_quote(t.f, prefix);
    fputs("\"$task\".db", t.f);
    for (int i = 0; i < o->nsets; i++) {
        fputs(" --set ", t.f);
        sweep_slurm_quote(t.f, o->sets[i]);
    }
    fputc('\n', t.f);
    return write_text(path, &t);
}

static int append_history(const struct sweep_place *P, const struct sweep_history *h,
                          const struct sweep_submission *S)
{
    struct text t;
    if (text_open(&t))
        return cli_error("sweep", "out of memory"), -1;
    fputs("# submission  array_job  merge_job  tasks (written by pyramask sweep submit)\n",
          t.f);
    for (int i = 0; i < h->n; i++)
        fprintf(t.f, "%ld %ld %ld %ld\n", h->subs[i].n, h->subs[i].array, h->subs[i].merge,
                h->subs[i].ntasks);
    fprintf(t.f, "%ld %ld %ld %ld\n", S->n, S->array, S->merge, S->ntasks);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/submissions", P->dir);
    return write_text(path, &t);
}

/* sbatch's arguments: ours, then the user's --sbatch-arg */
static char **sbatch_argv(const struct sweep_slurm_opts *o, char *const *ours, int n, int *out)
{
    char **a = calloc((size_t)(n + o->nsbatch_args) + 1, sizeof *a);
    if (!a)
        return NULL;
    for (int i = 0; i < n; i++)
        a[i] = ours[i];
    for (int i = 0; i < o->nsbatch_args; i++)
        a[n + i] = o->sbatch_args[i];
    *out = n + o->nsbatch_args;
    return a;
}

static int submit_locked(const struct sweep *s, const struct sweep_slurm_opts *o,
                         const struct sweep_place *P)
{
    struct sweep_history h;
    if (sweep_slurm_history(P, &h))
        return CLI_FAIL;
    struct sweep_survey v;
    int rc = sweep_slurm_survey(&v, s, P, &h);
    if (!rc && !v.sched_ok) {
        cli_error("sweep", "cannot ask the scheduler which earlier tasks still run: %s",
                  v.sched_err);
        rc = CLI_FAIL;
    }
    long *todo = rc ? NULL : malloc(((size_t)v.n + 1) * sizeof *todo);
    if (!rc && !todo)
        rc = CLI_FAIL;
    char exe[PATH_MAX], sweep_file[PATH_MAX], cwd[PATH_MAX];
    if (!rc) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n < 0 || !realpath(o->sweep_file, sweep_file) || !getcwd(cwd, sizeof cwd)) {
            cli_error("sweep", "%s: %s", o->sweep_file, strerror(errno));
            rc = CLI_FAIL;
        } else {
            exe[n] = 0;
        }
    }
    if (rc) {
        free(todo);
        sweep_slurm_survey_free(&v);
        sweep_slurm_history_free(&h);
        return rc;
    }

    long ntodo = 0, nfinished = 0, nunmerged = 0, nlive = 0;
    for (long i = 0; i < v.n; i++) {
        const struct sweep_cell_state *c = &v.cells[i];
        if (c->state == C_FINISHED) {
            nfinished++;
            nunmerged += !c->in_log;
        } else if (c->state == C_QUEUED || c->state == C_RUNNING) {
            nlive++;
        } else {
            todo[ntodo++] = i;
        }
    }
    /* arrays of earlier submissions with a task still queued or running: the merge waits
     * for them too (afterany), as it merges their shards */
    char aname[160], mname[160];
    sweep_slurm_job_names(P, aname, mname);
    long *live_arrays = calloc((size_t)h.n + 1, sizeof *live_arrays);
    int nlive_arrays = 0, latest_merge_live = 0;
    for (int i = 0; live_arrays && i < h.n; i++) {
        for (int k = 0; k < v.njobs; k++)
            if (v.jobs[k].job == h.subs[i].array && sweep_slurm_live(&v.jobs[k]) &&
                !strcmp(v.jobs[k].name, aname)) {
                live_arrays[nlive_arrays++] = h.subs[i].array;
                break;
            }
        /* a merge job whose array failed waits forever where the cluster does not cancel
         * it (no kill_invalid_depend, no --kill-on-invalid-dep): this submission's merge
         * job takes over its shards */
        const struct slurm_job *m = sweep_slurm_job(&v, h.subs[i].merge, -1, mname);
        char cerr[SLURM_ERR_MAX];
        if (sweep_slurm_live(m) && !strcmp(m->reason, "DependencyNeverSatisfied")) {
            if (slurm_scancel(m->job, -1, cerr))
                cli_error("sweep", "cancelling merge job %ld: %s", m->job, cerr);
            else
                printf("merge job %ld of submission %ld cancelled: a task it waited for did "
                       "not succeed, so it could never run\n",
                       m->job, h.subs[i].n);
            m = NULL;
        }
        if (i == h.n - 1)
            latest_merge_live = sweep_slurm_live(m);
    }
    int need_merge = ntodo > 0 || ((nunmerged > 0 || nlive_arrays > 0) && !latest_merge_live);
    printf("sweep %s: %ld cells: %ld finished (%ld in the run log), %ld queued or running, "
           "%ld to submit\n",
           s->name, v.n, nfinished, nfinished - nunmerged, nlive, ntodo);
    if (!need_merge) {
        printf(ntodo == 0 && nlive == 0 && nunmerged == 0
                   ? "nothing to submit: every cell is finished in the run log %s\n"
                   : "nothing to submit: the merge job of the last submission will merge "
                     "them into %s\n",
               P->db);
        free(live_arrays);
        free(todo);
        sweep_slurm_survey_free(&v);
        sweep_slurm_history_free(&h);
        return CLI_OK;
    }

    struct sweep_submission S = {.n = h.n ? h.subs[h.n - 1].n + 1 : 1};
    long cpt = o->cells_per_task > 0 ? o->cells_per_task : 1;
    char err[SLURM_ERR_MAX], value[64];
    if (ntodo) {
        long max_array = 1001; /* Slurm's default MaxArraySize */
        if (!slurm_config("MaxArraySize", value, sizeof value, err) && atol(value) > 1)
            max_array = atol(value);
        if ((ntodo + cpt - 1) / cpt > max_array) {
            cpt = (ntodo + max_array - 1) / max_array;
            printf("%ld cells per task: the cluster's MaxArraySize is %ld\n", cpt, max_array);
        }
        S.ntasks = (ntodo + cpt - 1) / cpt;
    }
    char cells_path[PATH_MAX + 32], script[PATH_MAX + 32], merge_script[PATH_MAX + 32];
    snprintf(cells_path, sizeof cells_path, "%s/s%ld.cells", P->dir, S.n);
    snprintf(script, sizeof script, "%s/s%ld.sbatch", P->dir, S.n);
    snprintf(merge_script, sizeof merge_script, "%s/s%ld-merge.sbatch", P->dir, S.n);
    char name_arg[200], array_arg[64], out_arg[PATH_MAX + 32], chdir_arg[PATH_MAX + 16];
    snprintf(chdir_arg, sizeof chdir_arg, "--chdir=%s", cwd);
    rc = 0;
    if (S.ntasks) { /* the cells, the array's script, the array */
        snprintf(name_arg, sizeof name_arg, "--job-name=%s", aname);
        if (o->array_limit > 0)
            snprintf(array_arg, sizeof array_arg, "--array=0-%ld%%%ld", S.ntasks - 1,
                     o->array_limit);
        else
            snprintf(array_arg, sizeof array_arg, "--array=0-%ld", S.ntasks - 1);
        snprintf(out_arg, sizeof out_arg, "--output=%s/s%ld-t%%a.out", P->dir, S.n);
        char *ours[] = {name_arg, array_arg, out_arg, chdir_arg};
        int na;
        char **args = sbatch_argv(o, ours, 4, &na);
        struct text t;
        if (!args || text_open(&t)) {
            cli_error("sweep", "out of memory");
            rc = CLI_FAIL;
        } else {
            for (long k = 0; k < ntodo; k++)
                fprintf(t.f, "%s%ld:%s%s", k % cpt ? "," : "", v.cells[todo[k]].index,
                        v.cells[todo[k]].key, (k + 1) % cpt && k + 1 < ntodo ? "" : "\n");
            if (write_text(cells_path, &t) ||
                write_array_script(P, s, o, S.n, S.ntasks, ntodo, exe, sweep_file, args, na,
                                   script))
                rc = CLI_FAIL;
            else if (slurm_sbatch(args, na, script, &S.array, err)) {
                cli_error("sweep", "submitting the job array: %s", err);
                rc = CLI_FAIL;
            }
        }
        free(args);
    }
    if (!rc) { /* the merge job's script, the merge job */
        /* afterok on this array (a failed task holds the merge back: --kill-on-invalid-dep
         * cancels it then, not left pending); afterany on earlier arrays still going */
        char *dep = malloc(64 + 24 * (size_t)nlive_arrays);
        size_t used = 0;
        if (dep) {
            dep[0] = 0;
            if (S.array)
                used += (size_t)sprintf(dep + used, "--dependency=afterok:%ld", S.array);
            for (int i = 0; i < nlive_arrays; i++)
                used += (size_t)sprintf(
                    dep + used, "%s%ld",
                    i ? ":" : (used ? ",afterany:" : "--dependency=afterany:"), live_arrays[i]);
        }
        snprintf(name_arg, sizeof name_arg, "--job-name=%s", mname);
        snprintf(out_arg, sizeof out_arg, "--output=%s/s%ld-merge.out", P->dir, S.n);
        char kill_arg[] = "--kill-on-invalid-dep=yes";
        char *ours[] = {name_arg, out_arg, chdir_arg, kill_arg, dep};
        int na;
        char **args = dep ? sbatch_argv(o, ours, used ? 5 : 4, &na) : NULL;
        if (!args) {
            cli_error("sweep", "out of memory");
            rc = CLI_FAIL;
        } else if (write_merge_script(P, &h, S.n, S.ntasks, exe, args, na, merge_script)) {
            rc = CLI_FAIL;
        } else if (slurm_sbatch(args, na, merge_script, &S.merge, err)) {
            cli_error("sweep", "submitting the merge job: %s", err);
            rc = CLI_FAIL;
        }
        free(args);
        free(dep);
        if (rc && S.array) { /* no array without its merge job */
            char cerr[SLURM_ERR_MAX];
            if (slurm_scancel(S.array, -1, cerr))
                cli_error("sweep", "cancelling job array %ld: %s", S.array, cerr);
            else
                cli_error("sweep", "job array %ld cancelled", S.array);
        }
    }
    if (!rc && append_history(P, &h, &S)) {
        char cerr[SLURM_ERR_MAX];
        if (S.array)
            slurm_scancel(S.array, -1, cerr);
        slurm_scancel(S.merge, -1, cerr);
        cli_error("sweep", "jobs %ld and %ld cancelled: their record could not be written",
                  S.array, S.merge);
        rc = CLI_FAIL;
    }
    if (rc) { /* nothing of a submission that did not happen */
        unlink(cells_path);
        unlink(script);
        unlink(merge_script);
    } else {
        if (S.array)
            printf("submission %ld: job array %ld, %ld tasks of %ld cell%s%s (%s)\n", S.n,
                   S.array, S.ntasks, cpt, cpt > 1 ? "s" : "",
                   o->array_limit > 0 ? ", a limited number at once" : "", script);
        printf("merge job %ld: merges the shard run logs into %s%s\n", S.merge, P->db,
               S.array ? " once every task has succeeded" : "");
        if (!S.array)
            printf("submission %ld: no cells to run%s\n", S.n,
                   nlive_arrays ? "; the merge waits for the tasks still going" : "");
        printf("follow it with: pyramask sweep status %s%s%s\n", o->sweep_file,
               o->db ? " --db " : "", o->db ? o->db : "");
    }
    free(live_arrays);
    free(todo);
    sweep_slurm_survey_free(&v);
    sweep_slurm_history_free(&h);
    return rc;
}

int sweep_submit(const struct sweep *s, const struct sweep_slurm_opts *o)
{
    for (int i = 0; i < o->nsbatch_args; i++) {
        const char *a = o->sbatch_args[i];
        static const char *const ours[] = {"-a",       "--array", "-d", "--dependency", "-o",
                                           "--output", "--wrap",  "-J", "--job-name"};
        for (size_t k = 0; k < sizeof ours / sizeof *ours; k++) {
            size_t n = strlen(ours[k]);
            if (!strncmp(a, ours[k], n) && (!a[n] || a[n] == '=' || ours[k][1] != '-'))
                return cli_usage("sweep", "--sbatch-arg %s: pyramask sets %s itself", a,
                                 ours[k]);
        }
    }
    struct sweep_place P;
    int rc = sweep_slurm_place(&P, s, o->db);
    if (rc)
        return rc;
    if (mkdirs(P.dir)) {
        cli_error("sweep", "%s: %s", P.dir, strerror(errno));
        return CLI_FAIL;
    }
    int fd = lock_dir(&P); /* one submission at a time */
    if (fd < 0)
        return CLI_FAIL;
    rc = submit_locked(s, o, &P);
    close(fd);
    return rc;
}
