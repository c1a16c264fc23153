/* safe_write.c: libtok's one way to write a file: whole or not at all (a temporary file
 * beside the target, filled, fsynced, renamed over it, then the directory fsynced). */
#include "tok_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes the rename of a file in path's directory last: fsync of the directory. Only
 * durability is at stake here (path already holds the whole new file), so a failure is
 * not reported; some file systems refuse to sync a directory. */
static void sync_dir(const char *path)
{
    char *d = strdup(path);
    if (!d)
        return;
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(d);
}

int tok_write_file(const char *path, tok_fill_fn fill, void *ctx, tok_err *err)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    snprintf(tmp, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    int rc = fill(fd, tmp, ctx, err);
    if (!rc && fsync(fd))
        rc = tok_fail(err, TOK_EIO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) && !rc)
        rc = tok_fail(err, TOK_EIO, "%s: cannot close: %s", path, strerror(errno));
    if (!rc && rename(tmp, path))
        rc = tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    else
        sync_dir(path);
    free(tmp);
    return rc;
}
