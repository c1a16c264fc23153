/* progress.h: a one-line progress display with elapsed time and ETA on stderr, shown
 * only when stderr is a terminal (quiet when piped or redirected). */
#ifndef PYRAMASK_PROGRESS_H
#define PYRAMASK_PROGRESS_H

struct progress {
    int tty;         /* draw at all */
    double t0, last; /* start and last draw, seconds */
    long total;
    char label[64];
};

void progress_start(struct progress *p, const char *label, long total);
/* Redraws at most a few times a second; `note` (may be NULL) follows the counts. */
void progress_update(struct progress *p, long done, const char *note);
/* Clears the line. */
void progress_end(struct progress *p);
/* Seconds on a monotonic clock. */
double progress_now(void);

#endif
