/* cmd_sweep.c: `pyramask sweep run|show SWEEP.ini`: expands a sweep, skips finished cells,
 * runs the rest in --jobs worker processes (one cell each), optionally one --shard i/n. */
#include "cli.h"
#include "progress.h"
#include "run.h"
#include "runlog.h"
#include "sweep.h"

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
    "usage: pyramask sweep run  SWEEP.ini [--jobs N] [--shard I/N] [--db FILE] [--set k=v]...\n"
    "       pyramask sweep show SWEEP.ini [--shard I/N] [--set k=v]...\n"
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
    "run   runs the cells not yet finished in the run log (so an interrupted sweep\n"
    "      resumes where it stopped); failed and interrupted cells are run again.\n"
    "show  lists the cells: index, config hash, seed and factor levels.\n"
    "\n"
    "  --jobs N      worker processes (default 1); each runs one cell at a time\n"
    "  --shard I/N   only cells with index % N == I-1, for cluster array jobs; give each\n"
    "                shard its own --db and combine them with `pyramask db merge`\n"
    "  --db FILE     the run log (default $PYRAMASK_DB, else pyramask.db)\n"
    "  --set k=v     override a config key that is not a factor\n"
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
    const char *file, *db;
    long jobs, shard, nshards;
    char **sets;
    int nsets;
};

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"jobs", required_argument, NULL, 'j'}, {"shard", required_argument, NULL, 's'},
        {"db", required_argument, NULL, 'd'},   {"set", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->jobs = 1;
    a->shard = a->nshards = 1;
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    if (!a->sets)
        return CLI_FAIL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
        char *end;
        switch (o) {
        case 'j':
            a->jobs = strtol(optarg, &end, 10);
            if (*end || a->jobs < 1 || a->jobs > 256)
                return cli_usage("sweep", "--jobs %s: expected 1..256", optarg);
            break;
        case 's':
            if (sscanf(optarg, "%ld/%ld", &a->shard, &a->nshards) != 2 || a->nshards < 1 ||
                a->shard < 1 || a->shard > a->nshards)
                return cli_usage("sweep", "--shard %s: expected I/N with 1 <= I <= N", optarg);
            break;
        case 'd':
            a->db = optarg;
            break;
        case 'S':
            a->sets[a->nsets++] = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return cli_usage("sweep", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage("sweep", "expected one sweep file");
    a->file = argv[optind];
    return 0;
}

static void cell_label(const struct sweep *s, const struct config *c, char *out, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (int f = 0; f < s->nfactors && used < n; f++)
        used += (size_t)snprintf(out + used, n - used, "%s=%s ", s->factors[f].key,
                                 config_value(c, config_key_index(s->factors[f].key)));
    if (used < n)
        snprintf(out + used, n - used, "seed=%ld", config_values(c)->train.seed);
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
        cell_label(s, c, label, sizeof label);
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
    cell_label(s, c, cell, sizeof cell);
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
    if (!todo) {
        runlog_close(&rl);
        return CLI_FAIL;
    }
    for (long i = 0; i < n; i++) {
        if (i % a->nshards != a->shard - 1)
            continue;
        mine++;
        char cerr[CONFIG_ERR_MAX], hash[17], status[16];
        struct config *c = sweep_cell(s, i, cerr);
        if (!c) {
            cli_error("sweep", "%s", cerr);
            free(todo);
            runlog_close(&rl);
            return CLI_USAGE;
        }
        config_hash(c, hash);
        if (runlog_status(rl, sweep_id, hash, config_values(c)->train.seed, status)) {
            cli_error("sweep", "%s: %s", db, runlog_errmsg(rl));
            config_free(&c);
            free(todo);
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
        return CLI_FAIL;
    }
    long counts[4] = {0, 0, 0, 0};
    static const char *const names[4] = {"finished", "failed", "interrupted", "running"};
    for (long i = 0; i < n; i++) {
        if (i % a->nshards != a->shard - 1)
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
    fprintf(stderr, "sweep %s: %ld cells%s, %ld finished, %ld failed, %ld interrupted%s\n",
            s->name, mine, a->nshards > 1 ? " in this shard" : "", counts[0], counts[1],
            counts[2], counts[3] ? ", some running elsewhere" : "");
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
    if (strcmp(sub, "run") && strcmp(sub, "show"))
        return cli_usage("sweep", "unknown subcommand '%s' (run, show)", sub);
    struct args a;
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc) {
        free(a.sets);
        return rc < 0 ? CLI_OK : rc;
    }
    struct sweep *s;
    char err[CONFIG_ERR_MAX];
    rc = sweep_load(&s, a.file, a.sets, a.nsets, err);
    if (rc) {
        cli_error("sweep", "%s", err);
        free(a.sets);
        return CLI_USAGE;
    }
    rc = !strcmp(sub, "show") ? show(s, &a) : run_sweep(s, &a);
    sweep_free(&s);
    free(a.sets);
    return rc;
}
