/* progress.c: the terminal progress line (counts, percent, elapsed and ETA, redrawn in
 * place) and, where stderr is not a terminal, a plain line every ~30 seconds. */
#include "progress.h"
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char context[256];

void progress_context(const char *c)
{
    snprintf(context, sizeof context, "%s", c ? c : "");
}

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double progress_interval(void)
{
    const char *e = getenv("PYRAMASK_PROGRESS_SECONDS");
    if (!e || !*e)
        return PROGRESS_SECONDS;
    if (!strcasecmp(e, "off"))
        return 0;
    char *end;
    double s = strtod(e, &end);
    if (*end || !isfinite(s) || s < 0)
        return PROGRESS_SECONDS; /* not a number: the default, as if unset */
    return s;
}

static void clock_text(char *out, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

void progress_start(struct progress *p, const char *label, const char *unit, long total)
{
    memset(p, 0, sizeof *p);
    p->tty = cli_isatty(STDERR_FILENO);
    p->every = p->tty ? 0 : progress_interval();
    p->t0 = p->line_at = p->phase_t0 = progress_now();
    p->total = total;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
}

void progress_start_lines(struct progress *p, const char *label, const char *unit, long total)
{
    progress_start(p, label, unit, total);
    p->tty = 0;
}

/* "label: " with this process's context before it */
static void line_start(const struct progress *p)
{
    if (*context)
        fprintf(stderr, "%s: ", context);
    fprintf(stderr, "%s: ", p->label);
}

static void plain_line(struct progress *p, long done, const char *note, double now)
{
    char el[32], eta[32] = "?";
    clock_text(el, sizeof el, now - p->t0);
    if (done > 0 && p->total > 0)
        clock_text(eta, sizeof eta, (now - p->t0) / (double)done * (double)(p->total - done));
    line_start(p);
    fprintf(stderr, "%s%s%ld/%ld (%.0f%%)", p->unit, *p->unit ? " " : "", done, p->total,
            p->total ? 100.0 * (double)done / (double)p->total : 100.0);
    if (note && *note)
        fprintf(stderr, ", %s", note);
    if (p->unit_tokens > 0 && now > p->line_at)
        fprintf(stderr, ", %.0f tokens/s",
                p->unit_tokens * (double)(done - p->line_done) / (now - p->line_at));
    fprintf(stderr, ", elapsed %s, eta %s\n", el, eta);
    fflush(stderr);
    p->line_at = now;
    p->line_done = done;
    p->lines++;
}

void progress_update(struct progress *p, long done, const char *note)
{
    double now = progress_now();
    if (p->every > 0 && now - p->line_at >= p->every)
        plain_line(p, done, note, now);
    if (!p->tty || (now - p->last < 0.25 && done < p->total))
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

void progress_phase(void *ctx, const char *phase, double done, double total)
{
    struct progress *p = ctx;
    double now = progress_now();
    if (strncmp(p->phase, phase, sizeof p->phase - 1)) {
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->phase_t0 = now;
    }
    double frac = total > 0 ? done / total : 0, in = now - p->phase_t0;
    char el[32], eta[32] = "?";
    clock_text(el, sizeof el, now - p->t0);
    if (frac > 0.01)
        clock_text(eta, sizeof eta, in / frac - in);
    if (p->every > 0 && now - p->line_at >= p->every) {
        line_start(p);
        fprintf(stderr, "%s %.1f%%, elapsed %s, eta of %s %s\n", phase, 100 * frac, el, phase,
                eta);
        fflush(stderr);
        p->line_at = now;
        p->lines++;
    }
    if (!p->tty || (now - p->last < 0.2 && done < total))
        return;
    p->last = now;
    fprintf(stderr, "\r\033[K%s: %s %5.1f%% elapsed %s eta %s", p->label, phase, 100 * frac, el,
            eta);
    fflush(stderr);
}

void progress_end(struct progress *p)
{
    if (p->tty && p->last > 0) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    if (p->lines) {
        char el[32];
        clock_text(el, sizeof el, progress_now() - p->t0);
        line_start(p);
        fprintf(stderr, "done in %s\n", el);
        fflush(stderr);
    }
}
