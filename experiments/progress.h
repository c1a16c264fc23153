/* progress.h: progress of long work on stderr: on a terminal one line redrawn in place with
 * elapsed time and ETA; otherwise (batch logs, CI) a plain line every ~30 seconds. */
#ifndef PYRAMASK_PROGRESS_H
#define PYRAMASK_PROGRESS_H

/* The plain lines' period: $PYRAMASK_PROGRESS_SECONDS (a number > 0, fractions allowed;
 * 0 or "off" turns them off), else 30. */
enum { PROGRESS_SECONDS = 30 };

struct progress {
    int tty;            /* redraw one line in place; the caller may clear it (quiet) */
    double every;       /* > 0: a plain line every `every` seconds (stderr not a terminal) */
    double t0, last;    /* start and last redraw, seconds */
    double line_at;     /* time of the last plain line (t0 before the first) */
    long line_done;     /* work done at the last plain line */
    double unit_tokens; /* tokens per unit of work, for a tokens/s figure (0: none) */
    long total;
    int lines;      /* plain lines printed so far */
    char label[64]; /* "train" */
    char unit[16];  /* "step" */
    char phase[32]; /* progress_phase: the current phase and when it began */
    double phase_t0;
};

/* Starts a display of `total` units of `unit` ("step", "cells"; may be NULL). */
void progress_start(struct progress *p, const char *label, const char *unit, long total);
/* The same with plain lines only, never drawn on a terminal: for work inside another
 * display's (a pyramid built during `train`). */
void progress_start_lines(struct progress *p, const char *label, const char *unit, long total);
/* Called as work is done; redraws a few times a second on a terminal, prints a plain line
 * every `every` seconds otherwise. `note` (may be NULL) follows the counts. */
void progress_update(struct progress *p, long done, const char *note);
/* Clears the terminal line; after plain lines, prints a last one with the total time. */
void progress_end(struct progress *p);

/* A progress callback for phases of unknown length in units of the callee's own
 * (libtok's tok_train_settings.progress): ctx is a started struct progress. */
void progress_phase(void *ctx, const char *phase, double done, double total);

/* A prefix for every plain line of this process ("sweep q: mask.structure=span seed=2"),
 * so that the lines of parallel sweep workers can be told apart; NULL clears it. */
void progress_context(const char *context);

/* The period of plain lines from the environment (see PROGRESS_SECONDS); 0 = none. */
double progress_interval(void);

/* Seconds on a monotonic clock. */
double progress_now(void);

#endif
