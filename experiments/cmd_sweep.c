/* cmd_sweep.c: `pyramask sweep run|show|submit|status SWEEP.ini`: expands a sweep, skips
 * finished cells, runs the rest in --jobs worker processes (one cell each), optionally one
 * --shard i/n or a --cells list; submit and status hand the cells to Slurm (sweep_slurm.c). */
#include "cli.h"
#include "progress.h"
#include "run.h"
#include "runlog.h"
#include "sweep.h"
#include "sweep_slurm.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: pyramask sweep run    SWEEP.ini [--jobs N] [--shard I/N | --cells LIST] [--db "
    "FILE]\n"
    "                             [--set k=v]...\n"
    "       pyramask sweep show   SWEEP.ini [--shard I/N] [--set k=v]...\n"
    "       pyramask sweep submit SWEEP.ini [--array-limit K] [--cells-per-task N]\n"
    "                             [--sbatch-arg ARG]... [--db FILE] [--set k=v]...\n"
    "       pyramask sweep status SWEEP.ini [--list] [--db FILE] [--set k=v]...\n"
    "\n"
    "A sweep file is a config plus a [sweep] section:\n"
    "  name = NAME                 (default: the file name without .ini)\n"
    "  seeds = 1, 2, 3             (or a range 1..3; default: train.seed)\n"
    "  base = FILE                 (a config the sweep file's keys override)\n"
    "  section.key = a, b, c       (a factor and its levels; use | between levels\n"
    "                               that are lists themselves: 512,1024 | 1024,2048)\n"
    "The sweep is every combination of factor levels, times the seeds (at most\n"
    "100000 cells); every combination is checked before anything runs.\n"
    "\n"
    "run     runs the cells not yet finished in the run log (so an interrupted sweep\n"
    "        resumes where it stopped); failed and interrupted cells are run again.\n"
    "show    lists the cells: index, config hash, seed and factor levels.\n"
    "submit  submits the cells not finished (in the run log or a shard log) and not\n"
    "        queued or running as a Slurm job array: each task runs its cells into its\n"
    "        own shard run log beside the run log; a merge job (--dependency=afterok on\n"
    "        the array, cancelled if a task fails) merges the shards into the run log.\n"
    "        Scripts, cell lists and task output go to pyramask-slurm/NAME/ beside the\n"
    "        run log. Submitting again submits what is left, and merges every shard.\n"
    "status  the cells finished, failed, running, queued and not run, from the run log,\n"
    "        the shard logs and the scheduler (squeue); the jobs of each submission;\n"
    "        the cells that failed with their error.\n"
    "\n"
    "  --jobs N            worker processes (default 1); each runs one cell at a time\n"
    "  --shard I/N         only cells with index % N == I-1, for cluster array jobs; give\n"
    "                      each shard its own --db and combine them with `pyramask db merge`\n"
    "  --cells LIST        only these cells: INDEX or INDEX:HASH:SEED, comma-separated (with\n"
    "                      a hash and seed, a cell that differs is an error: submit's tasks)\n"
    "  --array-limit K     at most K tasks of the array at once (sbatch --array=...%K)\n"
    "  --cells-per-task N  cells per array task (default 1; raised to fit the cluster's\n"
    "                      MaxArraySize); a task runs them with --jobs $SLURM_CPUS_PER_TASK\n"
    "  --sbatch-arg ARG    an sbatch option for both jobs (--partition=P, --time=1:00:00,\n"
    "                      --cpus-per-task=2, --account=A); repeat it for more\n"
    "  --list              status: every cell, one line each\n"
    "  --db FILE           the run log (default $PYRAMASK_DB, else pyramask.db)\n"
    "  --set k=v           override a config key that is not a factor (give submit and\n"
    "                      status the same ones)\n"
    "\n"
    "Where stderr is not a terminal, run prints a progress line every 30 s (and so do\n"
    "its workers: training step, loss, tokens/s, ETA); $PYRAMASK_PROGRESS_SECONDS sets\n"
    "the period (0 turns the lines off).\n";

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}
/* SIGALRM: only wakes waitpid up, so that the progress line is printed on time */
static void on_alarm(int sig)
{
    (void)sig;
}

struct args {
    const char *file, *db, *cells;
    long jobs, shard, nshards, array_limit, cells_per_task;
    char **sets, **sbatch_args;
    int nsets, nsbatch_args, list;
};

/* A count option: 1..max. */
static int parse_count(const char *opt, const char *arg, long max, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(arg, &end, 10);
    if (errno || end == arg || *end || *out < 1 || *out > max)
        return cli_usage("sweep", "%s %s: expected 1..%ld", opt, arg, max);
    return 0;
}

static int parse_args(const char *sub, int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {{"jobs", required_argument, NULL, 'j'},
                                         {"shard", required_argument, NULL, 's'},
                                         {"cells", required_argument, NULL, 'c'},
                                         {"db", required_argument, NULL, 'd'},
                                         {"set", required_argument, NULL, 'S'},
                                         {"array-limit", required_argument, NULL, 'A'},
                                         {"cells-per-task", required_argument, NULL, 'C'},
                                         {"sbatch-arg", required_argument, NULL, 'B'},
                                         {"list", no_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    /* which options each subcommand takes */
    static const struct {
        const char *sub, *opts;
    } takes[] = {{"run", "jscdS"}, {"show", "sS"}, {"submit", "dSACB"}, {"status", "dSl"}};
    const char *mine = "";
    for (size_t i = 0; i < sizeof takes / sizeof *takes; i++)
        if (!strcmp(sub, takes[i].sub))
            mine = takes[i].opts;
    memset(a, 0, sizeof *a);
    a->jobs = 1;
    a->shard = a->nshards = 1;
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    a->sbatch_args = calloc((size_t)argc, sizeof *a->sbatch_args);
    if (!a->sets || !a->sbatch_args)
        return CLI_FAIL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
        if (o != 'h' && o != '?' && !strchr(mine, o)) {
            const char *name = "?";
            for (const struct option *p = opts; p->name; p++)
                if (p->val == o)
                    name = p->name;
            return cli_usage("sweep", "sweep %s takes no --%s", sub, name);
        }
        switch (o) {
        case 'j':
            if (parse_count("--jobs", optarg, 256, &a->jobs))
                return CLI_USAGE;
            break;
        case 's':
            if (sscanf(optarg, "%ld/%ld", &a->shard, &a->nshards) != 2 || a->nshards < 1 ||
                a->shard < 1 || a->shard > a->nshards)
                return cli_usage("sweep", "--shard %s: expected I/N with 1 <= I <= N", optarg);
            break;
        case 'c':
            a->cells = optarg;
            break;
        case 'd':
            a->db = optarg;
            break;
        case 'S':
            a->sets[a->nsets++] = optarg;
            break;
        case 'A':
            if (parse_count("--array-limit", optarg, 1000000, &a->array_limit))
                return CLI_USAGE;
            break;
        case 'C':
            if (parse_count("--cells-per-task", optarg, SWEEP_MAX_CELLS, &a->cells_per_task))
                return CLI_USAGE;
            break;
        case 'B':
            if (strchr(optarg, '\n'))
                return cli_usage("sweep", "--sbatch-arg: a line break in '%s'", optarg);
            a->sbatch_args[a->nsbatch_args++] = optarg;
            break;
        case 'l':
            a->list = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return cli_usage("sweep", "bad option");
        }
    }
    if (a->cells && a->nshards > 1)
        return cli_usage("sweep", "--cells and --shard exclude each other");
    if (optind != argc - 1)
        return cli_usage("sweep", "expected one sweep file");
    a->file = argv[optind];
    return 0;
}

/* --cells LIST into want[0..n): 1 for each cell named. Returns 0 or an exit status. */
static int parse_cells(const struct sweep *s, const char *list, char *want)
{
    long n = sweep_ncells(s);
    char *copy = strdup(list);
    if (!copy)
        return CLI_FAIL;
    int rc = 0;
    long named = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item && !rc;
         item = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        long i = strtol(item, &end, 10);
        if (errno || end == item || (*end && *end != ':') || i < 0 || i >= n) {
            rc = cli_usage("sweep", "--cells: '%s' is not a cell (0..%ld)", item, n - 1);
            break;
        }
        if (*end == ':') { /* the cell as it was submitted: HASH:SEED */
            char err[CONFIG_ERR_MAX], hash[17], now[48];
            struct config *c = sweep_cell(s, i, err);
            if (!c) {
                cli_error("sweep", "%s", err);
                rc = CLI_USAGE;
                break;
            }
            config_hash(c, hash);
            snprintf(now, sizeof now, "%s:%ld", hash, config_values(c)->train.seed);
            config_free(&c);
            if (strcmp(now, end + 1)) {
                cli_error("sweep",
                          "--cells: cell %ld is %s now, not %s: the sweep file (or its base, "
                          "or --set) changed since the cells were listed",
                          i, now, end + 1);
                rc = CLI_USAGE;
                break;
            }
        }
        want[i] = 1;
        named++;
    }
    free(copy);
    if (!rc && !named)
        rc = cli_usage("sweep", "--cells: no cell given");
    return rc;
}

static int show(const struct sweep *s, const struct args *a)
{
    long n = sweep_ncells(s);
    for (long i = 0; i < n; i++) {
        if (i % a->nshards != a->shard - 1)
            continue;
        char err[CONFIG_ERR_MAX], hash[17], label[1024];
        struct config *c = sweep_cell(s, i, err);
        if (!c) {
            cli_error("sweep", "%s", err);
            return CLI_USAGE;
        }
        config_hash(c, hash);
        sweep_cell_label(s, c, label, sizeof label);
        printf("%ld\t%s\t%s\n", i, hash, label);
        config_free(&c);
    }
    return CLI_OK;
}

/* The worker: runs cell i in this (child) process and returns its exit status. */
static int worker(const struct sweep *s, long i, const char *db, int64_t sweep_id)
{
    char err[CONFIG_ERR_MAX], label[1200], cell[1024];
    struct config *c = sweep_cell(s, i, err);
    if (!c) {
        cli_error("sweep", "%s", err);
        return CLI_USAGE;
    }
    sweep_cell_label(s, c, cell, sizeof cell);
    snprintf(label, sizeof label, "sweep %s: %s", s->name, cell);
    progress_context(label); /* this worker's progress lines, told apart from the others' */
    struct run_opts o = {.db_path = db, .sweep_id = sweep_id, .quiet = 1, .label = label};
    int status = run_train(c, &o);
    config_free(&c);
    return status;
}

static int run_sweep(const struct sweep *s, const struct args *a)
{
    const char *db = runlog_path(a->db);
    struct runlog *rl;
    char err[RUNLOG_ERR_MAX];
    if (runlog_open(&rl, db, 1, err)) {
        cli_error("sweep", "%s: %s", db, err);
        return CLI_USAGE;
    }
    int64_t sweep_id;
    if (runlog_sweep(rl, s, &sweep_id)) {
        cli_error("sweep", "%s: %s", db, runlog_errmsg(rl));
        runlog_close(&rl);
        return CLI_FAIL;
    }
    long n = sweep_ncells(s), mine = 0, ntodo = 0;
    long *todo = malloc((size_t)n * sizeof *todo);
    char *want = calloc((size_t)n, 1); /* this process's cells: --shard or --cells */
    if (!todo || !want) {
        free(todo);
        free(want);
        runlog_close(&rl);
        return CLI_FAIL;
    }
    for (long i = 0; i < n; i++)
        want[i] = i % a->nshards == a->shard - 1;
    if (a->cells) {
        memset(want, 0, (size_t)n);
        int prc = parse_cells(s, a->cells, want);
        if (prc) {
            free(todo);
            free(want);
            runlog_close(&rl);
            return prc;
        }
    }
    for (long i = 0; i < n; i++) {
        if (!want[i])
            continue;
        mine++;
        char cerr[CONFIG_ERR_MAX], hash[17], status[16];
        struct config *c = sweep_cell(s, i, cerr);
        if (!c) {
            cli_error("sweep", "%s", cerr);
            free(todo);
            free(want);
            runlog_close(&rl);
            return CLI_USAGE;
        }
        config_hash(c, hash);
        if (runlog_status(rl, sweep_id, hash, config_values(c)->train.seed, status)) {
            cli_error("sweep", "%s: %s", db, runlog_errmsg(rl));
            config_free(&c);
            free(todo);
            free(want);
            runlog_close(&rl);
            return CLI_FAIL;
        }
        if (strcmp(status, "finished"))
            todo[ntodo++] = i;
        config_free(&c);
    }
    /* no database connection may cross fork(): workers open their own */
    runlog_close(&rl);

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    pid_t *pids = calloc((size_t)(a->jobs), sizeof *pids);
    struct progress pr;
    char title[128];
    snprintf(title, sizeof title, "sweep %s", s->name);
    progress_start(&pr, title, "cells", ntodo);
    /* a timer wakes the wait for workers: the terminal's clock each second, a plain line
     * every pr.every seconds (children do not inherit it) */
    struct sigaction sa_alarm = {.sa_handler = on_alarm}, old_alarm;
    sigemptyset(&sa_alarm.sa_mask);
    sigaction(SIGALRM, &sa_alarm, &old_alarm);
    double tick = pr.tty ? 1.0 : pr.every;
    struct timeval tv = {(time_t)tick, (suseconds_t)(1e6 * (tick - (double)(time_t)tick))};
    struct itimerval timer = {tv, tv};
    if (tick > 0)
        setitimer(ITIMER_REAL, &timer, NULL);
    long next = 0, running = 0, done = 0, failed = 0;
    pid_t parent = getpid();
    while (pids && (next < ntodo || running > 0)) {
        while (!stop_signal && running < a->jobs && next < ntodo) {
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                cli_error("sweep", "fork: %s", strerror(errno));
                stop_signal = SIGTERM;
                break;
            }
            if (pid == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* a killed parent takes its workers along */
                if (getppid() != parent)
                    _exit(RUN_INTERRUPTED);
                int st = worker(s, todo[next], db, sweep_id);
                fflush(NULL);
                _exit(st);
            }
            for (long j = 0; j < a->jobs; j++)
                if (!pids[j]) {
                    pids[j] = pid;
                    break;
                }
            next++;
            running++;
        }
        char note[64];
        snprintf(note, sizeof note, "running %ld%s", running, failed ? ", some failed" : "");
        progress_update(&pr, done, note);
        int wst;
        pid_t pid = waitpid(-1, &wst, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                if (stop_signal)
                    for (long j = 0; j < a->jobs; j++)
                        if (pids[j])
                            kill(pids[j], SIGTERM);
                continue;
            }
            break;
        }
        for (long j = 0; j < a->jobs; j++)
            if (pids[j] == pid)
                pids[j] = 0;
        running--;
        done++;
        if (!(WIFEXITED(wst) && (WEXITSTATUS(wst) == 0 || WEXITSTATUS(wst) == RUN_SKIPPED)))
            failed++;
        if (WIFSIGNALED(wst) && !stop_signal)
            cli_error("sweep", "a worker was killed by signal %d", WTERMSIG(wst));
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_alarm, NULL);
    progress_end(&pr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(pids);
    free(todo);

    /* the final word comes from the log itself: workers killed outright are reaped here */
    if (runlog_open(&rl, db, 1, err)) {
        cli_error("sweep", "%s: %s", db, err);
        free(want);
        return CLI_FAIL;
    }
    long counts[4] = {0, 0, 0, 0};
    static const char *const names[4] = {"finished", "failed", "interrupted", "running"};
    for (long i = 0; i < n; i++) {
        if (!want[i])
            continue;
        char cerr[CONFIG_ERR_MAX], hash[17], status[16];
        struct config *c = sweep_cell(s, i, cerr);
        if (!c)
            continue;
        config_hash(c, hash);
        if (!runlog_status(rl, sweep_id, hash, config_values(c)->train.seed, status))
            for (int k = 0; k < 4; k++)
                if (!strcmp(status, names[k]))
                    counts[k]++;
        config_free(&c);
    }
    runlog_close(&rl);
    free(want);
    fprintf(stderr, "sweep %s: %ld cells%s, %ld finished, %ld failed, %ld interrupted%s\n",
            s->name, mine,
            a->cells         ? " listed"
            : a->nshards > 1 ? " in this shard"
                             : "",
            counts[0], counts[1], counts[2], counts[3] ? ", some running elsewhere" : "");
    if (stop_signal)
        return RUN_INTERRUPTED;
    /* cells another live process is running count as done here */
    return counts[1] + counts[2] == 0 && counts[0] + counts[3] == mine ? CLI_OK : CLI_FAIL;
}

int cmd_sweep(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "run") && strcmp(sub, "show") && strcmp(sub, "submit") &&
        strcmp(sub, "status"))
        return cli_usage("sweep", "unknown subcommand '%s' (run, show, submit, status)", sub);
    struct args a;
    int rc = parse_args(sub, argc - 1, argv + 1, &a);
    if (rc) {
        free(a.sets);
        free(a.sbatch_args);
        return rc < 0 ? CLI_OK : rc;
    }
    struct sweep *s;
    char err[CONFIG_ERR_MAX];
    rc = sweep_load(&s, a.file, a.sets, a.nsets, err);
    if (rc) {
        cli_error("sweep", "%s", err);
        free(a.sets);
        free(a.sbatch_args);
        return CLI_USAGE;
    }
    struct sweep_slurm_opts so = {.sweep_file = a.file,
                                  .db = a.db,
                                  .array_limit = a.array_limit,
                                  .cells_per_task = a.cells_per_task,
                                  .sbatch_args = a.sbatch_args,
                                  .nsbatch_args = a.nsbatch_args,
                                  .sets = a.sets,
                                  .nsets = a.nsets,
                                  .list_cells = a.list};
    if (!strcmp(sub, "show"))
        rc = show(s, &a);
    else if (!strcmp(sub, "submit"))
        rc = sweep_submit(s, &so);
    else if (!strcmp(sub, "status"))
        rc = sweep_status(s, &so);
    else
        rc = run_sweep(s, &a);
    sweep_free(&s);
    free(a.sets);
    free(a.sbatch_args);
    return rc;
}
