/* slurm.c: running sbatch, squeue, scancel and scontrol as child processes (posix_spawnp,
 * both output streams read through poll) and parsing what they print. */
#include "slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct buf {
    char *p;
    size_t n, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* The last nonempty line of s, without its newline, into out. */
static void last_line(const char *s, char *out, size_t n)
{
    size_t len = s ? strlen(s) : 0;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    size_t start = len;
    while (start && s[start - 1] != '\n')
        start--;
    snprintf(out, n, "%.*s", (int)(len - start), s ? s + start : "");
}

int slurm_run(char *const argv[], char **out, char err[SLURM_ERR_MAX])
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    struct buf bo = {0}, be = {0};
    posix_spawn_file_actions_t fa;
    if (out)
        *out = NULL;
    err[0] = 0;
    if (pipe(po) || pipe(pe)) {
        snprintf(err, SLURM_ERR_MAX, "%s: pipe: %s", argv[0], strerror(errno));
        if (po[0] >= 0)
            close(po[0]), close(po[1]);
        return -1;
    }
    for (int i = 0; i < 2; i++) /* the child keeps only its ends, as 1 and 2 */
        fcntl(po[i], F_SETFD, FD_CLOEXEC), fcntl(pe[i], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc) {
        snprintf(err, SLURM_ERR_MAX, "%s: %s%s", argv[0], strerror(rc),
                 rc == ENOENT ? " (is Slurm installed, and its commands on PATH?)" : "");
        close(po[0]);
        close(pe[0]);
        return -1;
    }
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2, oom = 0;
    while (open_fds) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[4096];
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (buf_add(i ? &be : &bo, chunk, (size_t)got)) {
                oom = 1;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    char line[SLURM_ERR_MAX - 64];
    last_line(be.p, line, sizeof line);
    free(be.p);
    if (oom) {
        free(bo.p);
        snprintf(err, SLURM_ERR_MAX, "%s: out of memory reading its output", argv[0]);
        return -1;
    }
    if (!WIFEXITED(st)) {
        free(bo.p);
        snprintf(err, SLURM_ERR_MAX, "%s: killed by signal %d", argv[0],
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        return -1;
    }
    size_t n0 = strlen(argv[0]);
    if (WEXITSTATUS(st) && !strncmp(line, argv[0], n0) && line[n0] == ':')
        snprintf(err, SLURM_ERR_MAX, "%s", line); /* "sbatch: error: ..." */
    else if (WEXITSTATUS(st))
        snprintf(err, SLURM_ERR_MAX, "%s: %s", argv[0],
                 *line ? line : "failed without a message");
    if (out)
        *out = bo.p ? bo.p : calloc(1, 1);
    else
        free(bo.p);
    if (out && !*out) {
        snprintf(err, SLURM_ERR_MAX, "%s: out of memory", argv[0]);
        return -1;
    }
    return WEXITSTATUS(st);
}

int slurm_sbatch(char *const *args, int nargs, const char *script, long *job,
                 char err[SLURM_ERR_MAX])
{
    char **argv = calloc((size_t)nargs + 4, sizeof *argv);
    if (!argv)
        return snprintf(err, SLURM_ERR_MAX, "out of memory"), -1;
    int k = 0;
    argv[k++] = "sbatch";
    argv[k++] = "--parsable";
    for (int i = 0; i < nargs; i++)
        argv[k++] = args[i];
    argv[k++] = (char *)script;
    char *out;
    int rc = slurm_run(argv, &out, err);
    free(argv);
    if (rc < 0)
        return -1;
    if (rc) {
        free(out);
        return -1;
    }
    /* "jobid" or "jobid;cluster" */
    char *end;
    long id = strtol(out, &end, 10);
    if (id <= 0 || end == out || (*end && *end != ';' && *end != '\n')) {
        snprintf(err, SLURM_ERR_MAX, "sbatch: expected a job id, got '%.200s'", out);
        free(out);
        return -1;
    }
    free(out);
    *job = id;
    return 0;
}

int slurm_scancel(long job, long task, char err[SLURM_ERR_MAX])
{
    char id[48];
    if (task >= 0)
        snprintf(id, sizeof id, "%ld_%ld", job, task);
    else
        snprintf(id, sizeof id, "%ld", job);
    char *argv[] = {"scancel", id, NULL};
    return slurm_run(argv, NULL, err) ? -1 : 0;
}

int slurm_state_ended(const char *state)
{
    static const char *const ended[] = {"COMPLETED", "FAILED",    "CANCELLED",
                                        "TIMEOUT",   "NODE_FAIL", "OUT_OF_MEMORY",
                                        "BOOT_FAIL", "DEADLINE",  "PREEMPTED"};
    for (size_t i = 0; i < sizeof ended / sizeof *ended; i++)
        if (!strncmp(state, ended[i], strlen(ended[i])))
            return 1; /* "CANCELLED by 0" and the like */
    return 0;
}

int slurm_squeue(const long *ids, int nids, struct slurm_job **out, int *n,
                 char err[SLURM_ERR_MAX])
{
    *out = NULL;
    *n = 0;
    if (nids == 0)
        return 0;
    size_t cap = (size_t)nids * 24 + 1;
    char *list = malloc(cap);
    if (!list)
        return snprintf(err, SLURM_ERR_MAX, "out of memory"), -1;
    size_t used = 0;
    for (int i = 0; i < nids; i++)
        used += (size_t)snprintf(list + used, cap - used, "%s%ld", i ? "," : "", ids[i]);
    /* array job id | task id (N/A) | state | reason | name (last: it may hold '|') */
    char *argv[] = {"squeue",         "-h", "-r", "-t", "all", "-j", list, "-o",
                    "%F|%K|%T|%r|%j", NULL};
    char *text;
    int rc = slurm_run(argv, &text, err);
    free(list);
    if (rc < 0)
        return -1;
    if (rc) {
        free(text);
        /* every id unknown to the controller (long ended): nothing to show */
        if (strstr(err, "Invalid job id")) {
            err[0] = 0;
            return 0;
        }
        return -1;
    }
    size_t lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    struct slurm_job *jobs = calloc(lines + 1, sizeof *jobs);
    if (!jobs) {
        free(text);
        return snprintf(err, SLURM_ERR_MAX, "out of memory"), -1;
    }
    int k = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[5] = {0};
        char *p = line;
        for (int i = 0; i < 5 && p; i++) {
            f[i] = p;
            char *bar = i < 4 ? strchr(p, '|') : NULL;
            if (bar)
                *bar = 0;
            p = bar ? bar + 1 : NULL;
        }
        if (!f[4])
            continue;
        struct slurm_job *j = &jobs[k];
        char *end;
        j->job = strtol(f[0], &end, 10);
        if (end == f[0] || j->job <= 0)
            continue;
        j->task = strtol(f[1], &end, 10);
        if (end == f[1])
            j->task = -1;
        snprintf(j->state, sizeof j->state, "%s", f[2]);
        snprintf(j->reason, sizeof j->reason, "%s", f[3]);
        snprintf(j->name, sizeof j->name, "%s", f[4]);
        k++;
    }
    free(text);
    *out = jobs;
    *n = k;
    return 0;
}

int slurm_config(const char *key, char *value, size_t n, char err[SLURM_ERR_MAX])
{
    char *argv[] = {"scontrol", "show", "config", NULL};
    char *text;
    int rc = slurm_run(argv, &text, err);
    if (rc) {
        if (rc > 0)
            free(text);
        return -1;
    }
    size_t klen = strlen(key);
    rc = 1;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, key, klen) || (line[klen] != ' ' && line[klen] != '='))
            continue;
        char *eq = strchr(line + klen, '=');
        if (!eq)
            continue;
        eq++;
        while (*eq == ' ')
            eq++;
        snprintf(value, n, "%s", eq);
        rc = 0;
        break;
    }
    free(text);
    return rc;
}
