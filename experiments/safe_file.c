/* safe_file.c: the one way experiments/ writes a file: temporary file, fsync, rename,
 * fsync of the directory, so that a crash or a full disk never leaves half a file. */
#include "safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void close_sf(struct safe_file *sf)
{
    if (sf->f)
        fclose(sf->f);
    if (sf->tmp && sf->fd >= 0) /* fd is 0 in a zero-initialised, never opened sf */
        close(sf->fd);
    free(sf->data);
    free(sf->tmp);
    free(sf->path);
    memset(sf, 0, sizeof *sf);
    sf->fd = -1;
}

int safe_file_open(struct safe_file *sf, const char *path, char *err, size_t errlen)
{
    static unsigned serial;
    size_t n = strlen(path) + 64;
    memset(sf, 0, sizeof *sf);
    sf->fd = -1;
    sf->path = strdup(path);
    sf->tmp = malloc(n);
    if (!sf->path || !sf->tmp) {
        close_sf(sf);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int tries = 0; sf->fd < 0 && tries < 100; tries++) {
        snprintf(sf->tmp, n, "%s.tmp-%ld-%u", path, (long)getpid(), serial++);
        sf->fd = open(sf->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (sf->fd < 0 && errno != EEXIST)
            break;
    }
    if (sf->fd < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == EEXIST ? "no free temporary name" : strerror(errno));
        close_sf(sf);
        return -1;
    }
    sf->f = open_memstream(&sf->data, &sf->len);
    if (!sf->f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(sf->tmp);
        close_sf(sf);
        return -1;
    }
    return 0;
}

/* fsync of the directory holding path, so that the rename is on disk too. A file system
 * that cannot sync a directory (EINVAL) is not an error. Returns 0 or an errno. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return ENOMEM;
    int e = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) && errno != EINVAL))
        e = errno;
    if (fd >= 0)
        close(fd);
    free(dir);
    return e;
}

int safe_file_commit(struct safe_file *sf, char *err, size_t errlen)
{
    if (!sf->f) {
        snprintf(err, errlen, "%s: not open", sf->path ? sf->path : "(no file)");
        close_sf(sf);
        return -1;
    }
    int e = 0;
    /* closing the memory stream fixes data and len; it fails only for want of memory */
    if (fclose(sf->f))
        e = errno ? errno : ENOMEM;
    sf->f = NULL;
    for (size_t done = 0; !e && done < sf->len;) {
        ssize_t w = write(sf->fd, sf->data + done, sf->len - done);
        if (w < 0 && errno != EINTR)
            e = errno;
        else if (w > 0)
            done += (size_t)w;
    }
    if (!e && fsync(sf->fd))
        e = errno;
    if (close(sf->fd) && !e)
        e = errno;
    sf->fd = -1;
    if (!e && rename(sf->tmp, sf->path))
        e = errno;
    if (e)
        unlink(sf->tmp);
    else
        e = sync_dir(sf->path);
    if (e)
        snprintf(err, errlen, "%s: %s", sf->path, strerror(e));
    close_sf(sf);
    return e ? -1 : 0;
}

void safe_file_abort(struct safe_file *sf)
{
    if (!sf || !sf->tmp)
        return;
    unlink(sf->tmp);
    close_sf(sf);
}
