/*
 * eio-fs: a FUSE passthrough filesystem for the testbed that can be told to fail
 * reads of chosen files with EIO, from a given offset on: the "source image becomes
 * unreadable" fault of the fault matrix, on a kernel without device-mapper.
 *
 * Every operation goes through to a backing directory. It is written against
 * libfuse's low-level, inode-based API: each inode the kernel knows is held as an
 * O_PATH descriptor of the backing file, and every call works on descriptors, never
 * on a path rebuilt from names. (libfuse's path-based API cannot do that: an open
 * file whose name was unlinked - as the agent's commit does, linkat to the target,
 * unlink of the staging name, then fstat - answers ESTALE there.)
 * Choices that keep it faithful for the agent, qemu-img and QEMU:
 *   - every file is opened with FUSE direct_io: no read is answered from the page
 *     cache, so a read after `enable` reaches this daemon and fails, even if the
 *     same bytes were read a moment before;
 *   - attribute and entry timeouts are 0: the backing directory may be changed
 *     from outside the mount (tests write $E2E/NAME/images directly);
 *   - st_ino is the backing file's, and one inode keeps one node id however many
 *     names it has (hard links, /proc/locks);
 *   - xattrs, fallocate, SEEK_DATA/SEEK_HOLE, renameat2 flags, linkat and fsync of
 *     directories go through as they are; flock and POSIX locks are kept by the
 *     kernel (this daemon implements neither); O_DIRECT is honoured by the FUSE
 *     file (direct_io) and not passed on (the daemon's buffers are not aligned);
 *   - umask 0 in the daemon: the kernel has already applied the caller's umask.
 * Errors are injected per inode (the file named at `enable` time, whatever name it
 * has later): a read wholly at or past OFFSET fails with EIO, a read that starts
 * before it is cut short at OFFSET, as a disk with a bad region answers.
 *
 * Usage:
 *   eio-fs serve BACKING MOUNTPOINT CONTROL_SOCKET PIDFILE
 *       mounts, detaches once the mount and the control socket exist, writes PIDFILE;
 *       exits when the filesystem is unmounted
 *   eio-fs ctl CONTROL_SOCKET enable NAME [OFFSET] | disable NAME | list
 *       NAME is a path relative to BACKING (no "..", no leading "/"); prints the
 *       daemon's answer, exit status 0 when it ends in "ok"
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- inodes: one O_PATH descriptor per backing inode the kernel holds a reference to ---- */

struct inode {
	struct inode *next, *prev;
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;
};
static struct inode root = { .next = &root, .prev = &root, .fd = -1 };
static pthread_mutex_t inodes_lock = PTHREAD_MUTEX_INITIALIZER;

static struct inode *node(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &root : (struct inode *)(uintptr_t)ino;
}

/* /proc/self/fd/N of an inode: to reopen it, or for the calls that have no *at() form. */
static void fd_path(const struct inode *n, char out[64])
{
	snprintf(out, 64, "/proc/self/fd/%d", n->fd);
}

/* Looks `name` up in `parent`; fills `e` and counts one kernel reference. 0 or an errno. */
static int do_lookup(struct inode *parent, const char *name, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	int fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
		int err = errno;
		close(fd);
		return err;
	}
	pthread_mutex_lock(&inodes_lock);
	struct inode *n;
	for (n = root.next; n != &root; n = n->next)
		if (n->dev == e->attr.st_dev && n->ino == e->attr.st_ino)
			break;
	if (n != &root) {
		n->nlookup++;
		close(fd);
	} else {
		n = calloc(1, sizeof *n);
		if (n == NULL) {
			pthread_mutex_unlock(&inodes_lock);
			close(fd);
			return ENOMEM;
		}
		n->fd = fd;
		n->dev = e->attr.st_dev;
		n->ino = e->attr.st_ino;
		n->nlookup = 1;
		n->next = &root;
		n->prev = root.prev;
		root.prev->next = n;
		root.prev = n;
	}
	pthread_mutex_unlock(&inodes_lock);
	e->ino = (fuse_ino_t)(uintptr_t)n;
	e->attr_timeout = 0;
	e->entry_timeout = 0;
	return 0;
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	struct inode *n = node(ino);
	if (n == &root)
		return;
	pthread_mutex_lock(&inodes_lock);
	n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
	if (n->nlookup == 0) {
		n->prev->next = n->next;
		n->next->prev = n->prev;
		close(n->fd);
		free(n);
	}
	pthread_mutex_unlock(&inodes_lock);
}

/* ---- fault rules ---- */

#define MAX_RULES 64
struct rule {
	int used;
	dev_t dev;
	ino_t ino;
	off_t from;
	uint64_t failed; /* reads answered with EIO or cut short */
	char name[NAME_MAX + 1];
};
static struct rule rules[MAX_RULES];
static pthread_mutex_t rules_lock = PTHREAD_MUTEX_INITIALIZER;

/* The offset from which reads of (dev, ino) fail, or -1; counts a read of [off, off+size) that reaches it. */
static off_t fail_from(dev_t dev, ino_t ino, off_t off, size_t size)
{
	off_t from = -1;
	pthread_mutex_lock(&rules_lock);
	for (int i = 0; i < MAX_RULES; i++) {
		if (rules[i].used && rules[i].dev == dev && rules[i].ino == ino) {
			from = rules[i].from;
			if (off + (off_t)size > from && size > 0)
				rules[i].failed++;
			break;
		}
	}
	pthread_mutex_unlock(&rules_lock);
	return from;
}

/* ---- operations ---- */

static void reply_errno(fuse_req_t req, int ok)
{
	fuse_reply_err(req, ok ? 0 : errno);
}

static void eio_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = do_lookup(node(parent), name, &e);
	if (err == ENOENT) {
		/* a negative entry that is not cached (ino 0, timeout 0) */
		memset(&e, 0, sizeof e);
		fuse_reply_entry(req, &e);
	} else if (err != 0) {
		fuse_reply_err(req, err);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void eio_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void eio_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void eio_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int r = fi != NULL ? fstat((int)fi->fh, &st) : fstatat(node(ino)->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (r != 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, 0);
}

static void eio_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid, struct fuse_file_info *fi)
{
	struct inode *n = node(ino);
	char p[64];
	fd_path(n, p);
	int fd = fi != NULL ? (int)fi->fh : -1;
	if (valid & FUSE_SET_ATTR_MODE) {
		if ((fd >= 0 ? fchmod(fd, attr->st_mode) : chmod(p, attr->st_mode)) != 0)
			goto fail;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
			goto fail;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if ((fd >= 0 ? ftruncate(fd, attr->st_size) : truncate(p, attr->st_size)) != 0)
			goto fail;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			ts[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			ts[1] = attr->st_mtim;
		if ((fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, p, ts, 0)) != 0)
			goto fail;
	}
	eio_getattr(req, ino, fi);
	return;
fail:
	fuse_reply_err(req, errno);
}

static void eio_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t len = readlinkat(node(ino)->fd, "", buf, sizeof buf - 1);
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* After creating `name` in `parent`: it belongs to the caller, as on a local filesystem; reply its entry. */
static void reply_new_entry(fuse_req_t req, struct inode *parent, const char *name)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	if (fchownat(parent->fd, name, c->uid, c->gid, AT_SYMLINK_NOFOLLOW) != 0) {
		/* not allowed to give it away: it stays as created */
	}
	struct fuse_entry_param e;
	int err = do_lookup(parent, name, &e);
	if (err != 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void eio_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	if (mknodat(node(parent)->fd, name, mode, rdev) != 0)
		fuse_reply_err(req, errno);
	else
		reply_new_entry(req, node(parent), name);
}

static void eio_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	if (mkdirat(node(parent)->fd, name, mode) != 0)
		fuse_reply_err(req, errno);
	else
		reply_new_entry(req, node(parent), name);
}

static void eio_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	if (symlinkat(target, node(parent)->fd, name) != 0)
		fuse_reply_err(req, errno);
	else
		reply_new_entry(req, node(parent), name);
}

static void eio_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	/* AT_EMPTY_PATH links the descriptor's inode itself (the daemon runs as root) */
	if (linkat(node(ino)->fd, "", node(newparent)->fd, newname, AT_EMPTY_PATH) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	struct fuse_entry_param e;
	int err = do_lookup(node(newparent), newname, &e);
	if (err != 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void eio_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_errno(req, unlinkat(node(parent)->fd, name, 0) == 0);
}

static void eio_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_errno(req, unlinkat(node(parent)->fd, name, AT_REMOVEDIR) == 0);
}

static void eio_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	reply_errno(req, renameat2(node(parent)->fd, name, node(newparent)->fd, newname, flags) == 0);
}

/* The caller's open flags as the daemon opens the backing file with them. */
static int backing_flags(int flags)
{
	return (flags & ~(O_DIRECT | O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY)) | O_CLOEXEC;
}

static void eio_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char p[64];
	fd_path(node(ino), p);
	int fd = open(p, backing_flags(fi->flags));
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

static void eio_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct inode *pn = node(parent);
	int fd = openat(pn->fd, name, backing_flags(fi->flags) | (fi->flags & O_EXCL) | O_CREAT | O_NOFOLLOW, mode);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	const struct fuse_ctx *c = fuse_req_ctx(req);
	if (fchown(fd, c->uid, c->gid) != 0) {
		/* not allowed to give it away: it stays as created */
	}
	struct fuse_entry_param e;
	int err = do_lookup(pn, name, &e);
	if (err != 0) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) != 0)
		close(fd);
}

static void eio_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct inode *n = node(ino);
	off_t from = fail_from(n->dev, n->ino, off, size);
	if (from >= 0) {
		if (off >= from) {
			fuse_reply_err(req, EIO);
			return;
		}
		if (off + (off_t)size > from)
			size = (size_t)(from - off);
	}
	char *buf = malloc(size > 0 ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t got = pread((int)fi->fh, buf, size, off);
	if (got < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

static void eio_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	ssize_t put = pwrite((int)fi->fh, buf, size, off);
	if (put < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)put);
}

static void eio_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	/* the caller's close(2): report write-back errors as close would */
	int fd = dup((int)fi->fh);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_errno(req, close(fd) == 0);
}

static void eio_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void eio_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	int fd = (int)fi->fh;
	reply_errno(req, (datasync ? fdatasync(fd) : fsync(fd)) == 0);
}

struct dir_handle {
	DIR *dp;
	struct dirent *pending; /* read but not yet sent: it did not fit */
	off_t offset;
};

static void eio_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d = calloc(1, sizeof *d);
	if (d == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int fd = openat(node(ino)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d->dp = fdopendir(fd)) == NULL) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		closedir(d->dp);
		free(d);
	}
}

static void eio_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	char *buf = calloc(1, size > 0 ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->pending = NULL;
		d->offset = off;
	}
	size_t used = 0;
	int err = 0;
	for (;;) {
		if (d->pending == NULL) {
			errno = 0;
			d->pending = readdir(d->dp);
			if (d->pending == NULL) {
				err = errno;
				break;
			}
		}
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_ino = d->pending->d_ino;
		st.st_mode = (mode_t)DTTOIF(d->pending->d_type);
		off_t next = d->pending->d_off;
		size_t len = fuse_add_direntry(req, buf + used, size - used, d->pending->d_name, &st, next);
		if (len > size - used)
			break;
		used += len;
		d->pending = NULL;
		d->offset = next;
	}
	if (err != 0 && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void eio_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void eio_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	int fd = dirfd(((struct dir_handle *)(uintptr_t)fi->fh)->dp);
	reply_errno(req, (datasync ? fdatasync(fd) : fsync(fd)) == 0);
}

static void eio_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	if (fstatvfs(node(ino)->fd, &sv) != 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void eio_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	char p[64];
	fd_path(node(ino), p);
	reply_errno(req, setxattr(p, name, value, size, flags) == 0);
}

/* getxattr / listxattr: the size asked for (size 0) or the value. */
static void reply_xattr_value(fuse_req_t req, size_t size, ssize_t (*get)(const char *, const char *, char *, size_t),
			      const char *p, const char *name)
{
	char *buf = size > 0 ? malloc(size) : NULL;
	if (size > 0 && buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = get(p, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static ssize_t get_xattr(const char *p, const char *name, char *buf, size_t size)
{
	return getxattr(p, name, buf, size);
}

static ssize_t list_xattr(const char *p, const char *name, char *buf, size_t size)
{
	(void)name;
	return listxattr(p, buf, size);
}

static void eio_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char p[64];
	fd_path(node(ino), p);
	reply_xattr_value(req, size, get_xattr, p, name);
}

static void eio_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char p[64];
	fd_path(node(ino), p);
	reply_xattr_value(req, size, list_xattr, p, NULL);
}

static void eio_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char p[64];
	fd_path(node(ino), p);
	reply_errno(req, removexattr(p, name) == 0);
}

static void eio_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)ino;
	reply_errno(req, fallocate((int)fi->fh, mode, off, len) == 0);
}

static void eio_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	(void)ino;
	off_t r = lseek((int)fi->fh, off, whence);
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = eio_lookup,
	.forget = eio_forget,
	.forget_multi = eio_forget_multi,
	.getattr = eio_getattr,
	.setattr = eio_setattr,
	.readlink = eio_readlink,
	.mknod = eio_mknod,
	.mkdir = eio_mkdir,
	.symlink = eio_symlink,
	.link = eio_link,
	.unlink = eio_unlink,
	.rmdir = eio_rmdir,
	.rename = eio_rename,
	.open = eio_open,
	.create = eio_create,
	.read = eio_read,
	.write = eio_write,
	.flush = eio_flush,
	.release = eio_release,
	.fsync = eio_fsync,
	.opendir = eio_opendir,
	.readdir = eio_readdir,
	.releasedir = eio_releasedir,
	.fsyncdir = eio_fsyncdir,
	.statfs = eio_statfs,
	.setxattr = eio_setxattr,
	.getxattr = eio_getxattr,
	.listxattr = eio_listxattr,
	.removexattr = eio_removexattr,
	.fallocate = eio_fallocate,
	.lseek = eio_lseek,
};

/* ---- control socket ---- */

static int valid_name(const char *name)
{
	if (name[0] == '\0' || name[0] == '/' || strlen(name) > NAME_MAX)
		return 0;
	for (const char *p = name; *p != '\0';) {
		const char *slash = strchr(p, '/');
		size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n + (slash != NULL ? 1 : 0);
	}
	return 1;
}

/* Runs one command line; writes the answer (ending in "ok" or "error ...") to `out`. */
static void command(char *line, FILE *out)
{
	char *save = NULL;
	char *verb = strtok_r(line, " \t\r\n", &save);
	char *name = strtok_r(NULL, " \t\r\n", &save);
	char *arg = strtok_r(NULL, " \t\r\n", &save);
	if (verb != NULL && strcmp(verb, "list") == 0) {
		pthread_mutex_lock(&rules_lock);
		for (int i = 0; i < MAX_RULES; i++)
			if (rules[i].used)
				fprintf(out, "rule %s ino=%ju from=%jd failed=%" PRIu64 "\n", rules[i].name,
					(uintmax_t)rules[i].ino, (intmax_t)rules[i].from, rules[i].failed);
		pthread_mutex_unlock(&rules_lock);
		fprintf(out, "ok\n");
		return;
	}
	if (verb == NULL || name == NULL || !valid_name(name) ||
	    (strcmp(verb, "enable") != 0 && strcmp(verb, "disable") != 0)) {
		fprintf(out, "error usage: enable NAME [OFFSET] | disable NAME | list\n");
		return;
	}
	if (strcmp(verb, "disable") == 0) {
		int n = 0;
		pthread_mutex_lock(&rules_lock);
		for (int i = 0; i < MAX_RULES; i++)
			if (rules[i].used && strcmp(rules[i].name, name) == 0) {
				rules[i].used = 0;
				n++;
			}
		pthread_mutex_unlock(&rules_lock);
		fprintf(out, "ok disabled %d\n", n);
		return;
	}
	off_t from = 0;
	if (arg != NULL) {
		char *end = NULL;
		errno = 0;
		long long v = strtoll(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || v < 0) {
			fprintf(out, "error bad OFFSET '%s'\n", arg);
			return;
		}
		from = (off_t)v;
	}
	struct stat st;
	if (fstatat(root.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		fprintf(out, "error %s: %s\n", name, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(out, "error %s: not a regular file\n", name);
		return;
	}
	int slot = -1;
	pthread_mutex_lock(&rules_lock);
	for (int i = 0; i < MAX_RULES; i++) {
		if (rules[i].used && rules[i].dev == st.st_dev && rules[i].ino == st.st_ino) {
			slot = i;
			break;
		}
		if (!rules[i].used && slot < 0)
			slot = i;
	}
	if (slot >= 0) {
		struct rule *r = &rules[slot];
		if (!(r->used && r->ino == st.st_ino && r->dev == st.st_dev))
			r->failed = 0;
		r->used = 1;
		r->dev = st.st_dev;
		r->ino = st.st_ino;
		r->from = from;
		snprintf(r->name, sizeof r->name, "%s", name);
	}
	pthread_mutex_unlock(&rules_lock);
	if (slot < 0)
		fprintf(out, "error too many rules (%d)\n", MAX_RULES);
	else
		fprintf(out, "ok enabled %s from %jd\n", name, (intmax_t)from);
}

static void *control_loop(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		FILE *f = fdopen(c, "r+");
		if (f == NULL) {
			close(c);
			continue;
		}
		char line[PATH_MAX + 64];
		if (fgets(line, sizeof line, f) != NULL)
			command(line, f);
		fclose(f);
	}
}

static int control_listen(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof a.sun_path) {
		fprintf(stderr, "eio-fs: control socket path too long: %s\n", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0) {
		fprintf(stderr, "eio-fs: control socket %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int ctl(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: eio-fs ctl CONTROL_SOCKET enable NAME [OFFSET] | disable NAME | list\n");
		return 2;
	}
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(argv[2]) >= sizeof a.sun_path) {
		fprintf(stderr, "eio-fs: control socket path too long\n");
		return 2;
	}
	strcpy(a.sun_path, argv[2]);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		fprintf(stderr, "eio-fs: cannot reach the control socket %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	FILE *f = fdopen(fd, "r+");
	for (int i = 3; i < argc; i++)
		fprintf(f, "%s%s", argv[i], i + 1 < argc ? " " : "\n");
	fflush(f);
	shutdown(fd, SHUT_WR);
	char line[PATH_MAX + 128];
	int ok = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		fputs(line, stdout);
		if (strncmp(line, "ok", 2) == 0)
			ok = 1;
		else if (strncmp(line, "error", 5) == 0)
			ok = 0;
	}
	fclose(f);
	return ok ? 0 : 1;
}

static int serve(char **argv)
{
	const char *backing = argv[2], *mnt = argv[3], *sock = argv[4], *pidfile = argv[5];
	root.fd = open(backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (root.fd < 0 || fstat(root.fd, &st) != 0) {
		fprintf(stderr, "eio-fs: backing dir %s: %s\n", backing, strerror(errno));
		return 1;
	}
	root.dev = st.st_dev;
	root.ino = st.st_ino;
	umask(0);
	char *fargv[] = { "eio-fs", "-o", "allow_other,default_permissions,fsname=eio-fs,subtype=eio", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (se == NULL)
		return 1;
	if (fuse_session_mount(se, mnt) != 0) {
		fuse_session_destroy(se);
		return 1;
	}
	int lfd = control_listen(sock);
	/* the parent returns (status 0) once this child runs: the mount and the socket exist */
	if (lfd < 0 || fuse_daemonize(0) != 0) {
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		return 1;
	}
	FILE *pf = fopen(pidfile, "w");
	if (pf != NULL) {
		fprintf(pf, "%d\n", (int)getpid());
		fclose(pf);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, control_loop, (void *)(intptr_t)lfd) != 0 || fuse_set_signal_handlers(se) != 0) {
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		return 1;
	}
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 16);
	int r = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	unlink(sock);
	return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "serve") == 0)
		return serve(argv);
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return ctl(argc, argv);
	fprintf(stderr, "usage: eio-fs serve BACKING MOUNTPOINT CONTROL_SOCKET PIDFILE\n"
			"       eio-fs ctl CONTROL_SOCKET enable NAME [OFFSET] | disable NAME | list\n");
	return 2;
}
