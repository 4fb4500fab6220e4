/*
 * eio-fs: a FUSE passthrough filesystem for the testbed that can be told to fail
 * reads of chosen files with EIO, from a given offset on: the "source image becomes
 * unreadable" fault of the fault matrix, on a kernel without device-mapper.
 *
 * Every operation goes through to a backing directory (open file descriptors,
 * *at() calls relative to the backing directory's descriptor), so the images
 * directory behaves as the backing filesystem does: xattrs, fallocate,
 * SEEK_DATA/SEEK_HOLE, renameat2 flags, hard links, fsync of directories.
 * Choices that keep it faithful for the agent and QEMU:
 *   - every file is opened with FUSE direct_io: no read is ever answered from the
 *     page cache, so a read after `enable` reaches this daemon and fails, even if
 *     the data was read a moment before;
 *   - attribute, entry and negative timeouts are 0: the backing directory may be
 *     changed from outside the mount (tests write $E2E/NAME/images directly);
 *   - use_ino: st_ino is the backing file's (the agent compares inodes, and
 *     /proc/locks names them); hard_remove + nullpath_ok: an unlinked open file
 *     keeps working through its descriptor and no .fuse_hidden* file appears;
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
 *       daemon's answer, exit status 0 when it starts with "ok"
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <fuse.h>

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

static int backing_fd = -1;
static char backing_path[PATH_MAX];

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

/* ---- path helpers ---- */

/* FUSE paths are absolute in the mount: "/" -> ".", "/a/b" -> "a/b" (relative to backing_fd). */
static const char *rel(const char *path)
{
	if (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0)
		return ".";
	return path[0] == '/' ? path + 1 : path;
}

/* Absolute backing path, for the calls that have no *at() form (xattrs by path). */
static int abs_path(const char *path, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", backing_path, rel(path));
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* New objects belong to the caller, as on a local filesystem. */
static void own(const char *path)
{
	struct fuse_context *c = fuse_get_context();
	if (fchownat(backing_fd, rel(path), c->uid, c->gid, AT_SYMLINK_NOFOLLOW) != 0) {
		/* the caller may not be allowed to give it away: leave it as created */
	}
}

/* ---- operations ---- */

static void *eio_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	return NULL;
}

static int eio_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int r = fi != NULL ? fstat((int)fi->fh, st) : fstatat(backing_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return r == 0 ? 0 : -errno;
}

static int eio_access(const char *path, int mask)
{
	return faccessat(backing_fd, rel(path), mask, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int eio_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = readlinkat(backing_fd, rel(path), buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int eio_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(backing_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		int e = errno;
		close(fd);
		return -e;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int eio_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)path; (void)off; (void)flags;
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	rewinddir(d);
	errno = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL; errno = 0) {
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_ino = e->d_ino;
		st.st_mode = (mode_t)DTTOIF(e->d_type);
		if (filler(buf, e->d_name, &st, 0, 0) != 0)
			return 0;
	}
	return errno == 0 ? 0 : -errno;
}

static int eio_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int eio_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	int fd = dirfd((DIR *)(uintptr_t)fi->fh);
	return (datasync ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : -errno;
}

static int eio_mknod(const char *path, mode_t mode, dev_t rdev)
{
	if (mknodat(backing_fd, rel(path), mode, rdev) != 0)
		return -errno;
	own(path);
	return 0;
}

static int eio_mkdir(const char *path, mode_t mode)
{
	if (mkdirat(backing_fd, rel(path), mode) != 0)
		return -errno;
	own(path);
	return 0;
}

static int eio_unlink(const char *path)
{
	return unlinkat(backing_fd, rel(path), 0) == 0 ? 0 : -errno;
}

static int eio_rmdir(const char *path)
{
	return unlinkat(backing_fd, rel(path), AT_REMOVEDIR) == 0 ? 0 : -errno;
}

static int eio_symlink(const char *target, const char *path)
{
	if (symlinkat(target, backing_fd, rel(path)) != 0)
		return -errno;
	own(path);
	return 0;
}

static int eio_rename(const char *from, const char *to, unsigned int flags)
{
	return renameat2(backing_fd, rel(from), backing_fd, rel(to), flags) == 0 ? 0 : -errno;
}

static int eio_link(const char *from, const char *to)
{
	return linkat(backing_fd, rel(from), backing_fd, rel(to), 0) == 0 ? 0 : -errno;
}

static int eio_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int r = fi != NULL ? fchmod((int)fi->fh, mode) : fchmodat(backing_fd, rel(path), mode, 0);
	return r == 0 ? 0 : -errno;
}

static int eio_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int r = fi != NULL ? fchown((int)fi->fh, uid, gid)
			   : fchownat(backing_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);
	return r == 0 ? 0 : -errno;
}

static int eio_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (fi != NULL)
		return ftruncate((int)fi->fh, size) == 0 ? 0 : -errno;
	int fd = openat(backing_fd, rel(path), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	int r = ftruncate(fd, size) == 0 ? 0 : -errno;
	close(fd);
	return r;
}

static int eio_utimens(const char *path, const struct timespec ts[2], struct fuse_file_info *fi)
{
	int r = fi != NULL ? futimens((int)fi->fh, ts) : utimensat(backing_fd, rel(path), ts, AT_SYMLINK_NOFOLLOW);
	return r == 0 ? 0 : -errno;
}

/* O_DIRECT is the caller's business with the FUSE file (direct_io already bypasses the
 * page cache there); the daemon's own buffers are not aligned for it. */
static int backing_flags(int flags)
{
	return (flags & ~O_DIRECT) | O_CLOEXEC | O_NOFOLLOW;
}

static int eio_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(backing_fd, rel(path), backing_flags(fi->flags) | O_CREAT, mode);
	if (fd < 0)
		return -errno;
	own(path);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int eio_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(backing_fd, rel(path), backing_flags(fi->flags));
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int eio_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	int fd = (int)fi->fh;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	off_t from = fail_from(st.st_dev, st.st_ino, off, size);
	if (from >= 0) {
		if (off >= from)
			return -EIO;
		if (off + (off_t)size > from)
			size = (size_t)(from - off);
	}
	ssize_t n = pread(fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int eio_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pwrite((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int eio_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return fstatvfs(backing_fd, sv) == 0 ? 0 : -errno;
}

static int eio_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	/* close(2) of the caller's descriptor: report write-back errors as close would */
	int fd = dup((int)fi->fh);
	if (fd < 0)
		return -errno;
	return close(fd) == 0 ? 0 : -errno;
}

static int eio_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int eio_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	int fd = (int)fi->fh;
	return (datasync ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : -errno;
}

static int eio_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)path;
	return fallocate((int)fi->fh, mode, off, len) == 0 ? 0 : -errno;
}

static off_t eio_lseek(const char *path, off_t off, int whence, struct fuse_file_info *fi)
{
	(void)path;
	off_t r = lseek((int)fi->fh, off, whence);
	return r < 0 ? -errno : r;
}

static int eio_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	char p[PATH_MAX];
	int r = abs_path(path, p, sizeof p);
	if (r != 0)
		return r;
	return lsetxattr(p, name, value, size, flags) == 0 ? 0 : -errno;
}

static int eio_getxattr(const char *path, const char *name, char *value, size_t size)
{
	char p[PATH_MAX];
	int r = abs_path(path, p, sizeof p);
	if (r != 0)
		return r;
	ssize_t n = lgetxattr(p, name, value, size);
	return n < 0 ? -errno : (int)n;
}

static int eio_listxattr(const char *path, char *list, size_t size)
{
	char p[PATH_MAX];
	int r = abs_path(path, p, sizeof p);
	if (r != 0)
		return r;
	ssize_t n = llistxattr(p, list, size);
	return n < 0 ? -errno : (int)n;
}

static int eio_removexattr(const char *path, const char *name)
{
	char p[PATH_MAX];
	int r = abs_path(path, p, sizeof p);
	if (r != 0)
		return r;
	return lremovexattr(p, name) == 0 ? 0 : -errno;
}

static const struct fuse_operations ops = {
	.init = eio_init,
	.getattr = eio_getattr,
	.access = eio_access,
	.readlink = eio_readlink,
	.opendir = eio_opendir,
	.readdir = eio_readdir,
	.releasedir = eio_releasedir,
	.fsyncdir = eio_fsyncdir,
	.mknod = eio_mknod,
	.mkdir = eio_mkdir,
	.unlink = eio_unlink,
	.rmdir = eio_rmdir,
	.symlink = eio_symlink,
	.rename = eio_rename,
	.link = eio_link,
	.chmod = eio_chmod,
	.chown = eio_chown,
	.truncate = eio_truncate,
	.utimens = eio_utimens,
	.create = eio_create,
	.open = eio_open,
	.read = eio_read,
	.write = eio_write,
	.statfs = eio_statfs,
	.flush = eio_flush,
	.release = eio_release,
	.fsync = eio_fsync,
	.fallocate = eio_fallocate,
	.lseek = eio_lseek,
	.setxattr = eio_setxattr,
	.getxattr = eio_getxattr,
	.listxattr = eio_listxattr,
	.removexattr = eio_removexattr,
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
	if (fstatat(backing_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
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
	if (realpath(backing, backing_path) == NULL) {
		fprintf(stderr, "eio-fs: backing dir %s: %s\n", backing, strerror(errno));
		return 1;
	}
	backing_fd = open(backing_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (backing_fd < 0) {
		fprintf(stderr, "eio-fs: backing dir %s: %s\n", backing_path, strerror(errno));
		return 1;
	}
	umask(0);
	char *fargv[] = { "eio-fs", "-o", "allow_other,default_permissions,fsname=eio-fs,subtype=eio", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse *f = fuse_new(&args, &ops, sizeof ops, NULL);
	if (f == NULL)
		return 1;
	if (fuse_mount(f, mnt) != 0) {
		fuse_destroy(f);
		return 1;
	}
	int lfd = control_listen(sock);
	if (lfd < 0) {
		fuse_unmount(f);
		fuse_destroy(f);
		return 1;
	}
	/* the parent returns (status 0) once this child is running: the mount and socket exist */
	if (fuse_daemonize(0) != 0) {
		fuse_unmount(f);
		return 1;
	}
	FILE *pf = fopen(pidfile, "w");
	if (pf != NULL) {
		fprintf(pf, "%d\n", (int)getpid());
		fclose(pf);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, control_loop, (void *)(intptr_t)lfd) != 0) {
		fuse_unmount(f);
		return 1;
	}
	struct fuse_session *se = fuse_get_session(f);
	if (fuse_set_signal_handlers(se) != 0) {
		fuse_unmount(f);
		return 1;
	}
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 16);
	int r = fuse_loop_mt(f, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(se);
	fuse_unmount(f);
	fuse_destroy(f);
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
