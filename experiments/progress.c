/* progress.c: the terminal progress line: counts, percent, elapsed and ETA, redrawn in
 * place with a carriage return; nothing at all when stderr is not a terminal. */
#include "progress.h"
#include "cli.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void clock_text(char *out, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

void progress_start(struct progress *p, const char *label, long total)
{
    p->tty = cli_isatty(STDERR_FILENO);
    p->t0 = progress_now();
    p->last = 0;
    p->total = total;
    snprintf(p->label, sizeof p->label, "%s", label);
}

void progress_update(struct progress *p, long done, const char *note)
{
    if (!p->tty)
        return;
    double now = progress_now();
    if (now - p->last < 0.25 && done < p->total)
        return;
    p->last = now;
    char el[32], eta[32] = "?";
    clock_text(el, sizeof el, now - p->t0);
    if (done > 0 && p->total > 0)
        clock_text(eta, sizeof eta, (now - p->t0) / (double)done * (double)(p->total - done));
    fprintf(stderr, "\r\033[K%s %ld/%ld (%.0f%%) elapsed %s eta %s%s%s", p->label, done,
            p->total, p->total ? 100.0 * (double)done / (double)p->total : 100.0, el, eta,
            note ? "  " : "", note ? note : "");
    fflush(stderr);
}

void progress_end(struct progress *p)
{
    if (p->tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
