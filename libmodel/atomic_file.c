/* atomic_file.c: writing a file so that a reader sees the old one or the whole new one:
 * temporary file, fsync, rename, directory fsync; nothing half-written is left behind. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int model_atomic_open(model_atomic_file *w, const char *path)
{
    w->f = NULL;
    w->path = path;
    size_t n = strlen(path) + sizeof ".tmpXXXXXX";
    w->tmp = malloc(n);
    if (!w->tmp)
        return ENOMEM;
    snprintf(w->tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(w->tmp);
    int e = errno;
    if (fd >= 0) {
        w->f = fdopen(fd, "wb");
        if (w->f)
            return 0;
        e = errno;
        close(fd);
        unlink(w->tmp);
    }
    free(w->tmp);
    w->tmp = NULL;
    return e ? e : EIO;
}

/* fsyncs the directory holding path */
static void sync_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = slash ? (slash == dir ? "/" : (*slash = 0, dir)) : ".";
    int dfd = open(d, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
}

int model_atomic_commit(model_atomic_file *w)
{
    int err = 0;
    if (fflush(w->f) != 0)
        err = errno ? errno : EIO;
    if (!err && fsync(fileno(w->f)) != 0)
        err = errno ? errno : EIO;
    if (fclose(w->f) != 0 && !err)
        err = errno ? errno : EIO;
    w->f = NULL;
    if (!err && rename(w->tmp, w->path) != 0)
        err = errno ? errno : EIO;
    if (err)
        unlink(w->tmp);
    else
        sync_dir(w->path);
    free(w->tmp);
    w->tmp = NULL;
    return err;
}

void model_atomic_abort(model_atomic_file *w)
{
    if (w->f)
        fclose(w->f);
    w->f = NULL;
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    w->tmp = NULL;
}
