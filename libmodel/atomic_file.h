/* atomic_file.h: libmodel's one way to write a file safely: a temporary file beside the
 * target, fsynced, renamed into place, then the directory fsynced. Private header. */
#ifndef PYRAMASK_MODEL_ATOMIC_FILE_H
#define PYRAMASK_MODEL_ATOMIC_FILE_H

#include <stdio.h>

typedef struct model_atomic_file {
    FILE *f;          /* write here (binary) */
    char *tmp;        /* the temporary file: PATH.tmpXXXXXX, in the target's directory */
    const char *path; /* the target, borrowed from the caller */
} model_atomic_file;

/* Creates the temporary file for path. 0, or an errno value (ENOMEM, or why the file could
 * not be created); on failure nothing is left behind and *w needs no abort. */
int model_atomic_open(model_atomic_file *w, const char *path);
/* Flushes, fsyncs and closes the file, renames it onto path, then fsyncs the directory (the
 * rename is durable; a directory that cannot be opened or synced, as on some file systems,
 * is not an error: the file itself is). 0, or the errno value of the step that failed, and
 * then the temporary file is removed and path is as it was. */
int model_atomic_commit(model_atomic_file *w);
/* Gives up: closes and removes the temporary file; path is as it was. */
void model_atomic_abort(model_atomic_file *w);

#endif
