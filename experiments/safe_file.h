/* safe_file.h: writing a file that is whole or absent: a temporary file beside it, flushed
 * to disk (fsync), renamed into place, then the directory synced so the rename lasts. */
#ifndef PYRAMASK_SAFE_FILE_H
#define PYRAMASK_SAFE_FILE_H

#include <stddef.h>
#include <stdio.h>

/* What is written to f is gathered in memory and goes to the disk at the commit, so that
 * the commit sees every write error with its reason (files of a few megabytes at most:
 * samples, reports). */
struct safe_file {
    FILE *f;   /* write here between safe_file_open and safe_file_commit */
    char *tmp; /* the temporary file beside the path: "PATH.tmp-PID-N" */
    char *path;
    int fd;     /* of tmp */
    char *data; /* f's contents */
    size_t len;
};

/* Creates the temporary file beside path (mode 0666 less the umask), so that a path that
 * cannot be written fails here, before the work. Returns 0, or -1 with err ("PATH: why")
 * and nothing created. */
int safe_file_open(struct safe_file *sf, const char *path, char *err, size_t errlen);

/* Writes what f received to the temporary file, fsyncs and closes it, renames it to the
 * path and fsyncs the directory. Returns 0, or -1 with err ("PATH: why"); on failure the
 * temporary file is removed and an older file at the path is left as it was. Either way
 * sf is closed. */
int safe_file_commit(struct safe_file *sf, char *err, size_t errlen);

/* Closes and removes the temporary file: nothing is written. NULL-safe, and harmless on a
 * committed or never opened sf (zero-initialised). */
void safe_file_abort(struct safe_file *sf);

#endif
