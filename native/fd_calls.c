/*
 * kvmclone's file-descriptor calls that Node does not offer: flock,
 * lseek with SEEK_DATA / SEEK_HOLE, posix_fadvise and fallocate, each on a
 * descriptor the caller holds. Node-API only (no V8 or libuv headers), and no
 * state outside the calling environment: NAPI_MODULE_INIT makes it
 * context-aware, so every worker thread may load it, and unload it, on its own.
 *
 * Every call is synchronous and cheap: flock must be asked not to block
 * (LOCK_NB), the others are metadata calls or advice. A failure throws an Error
 * as Node's fs does: `code` the errno name, `errno` (negative, as in Node),
 * `syscall`. Bad arguments throw TypeError or RangeError (codes
 * ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <node_api.h>

/* JavaScript's Number.MAX_SAFE_INTEGER: larger offsets would not survive a double. */
#define MAX_SAFE_INTEGER 9007199254740991.0

/* Returns early with NULL when a Node-API call fails (an exception is then pending or thrown). */
#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      const napi_extended_error_info *info_ = NULL;                          \
      bool pending_ = false;                                                 \
      napi_is_exception_pending(env, &pending_);                             \
      if (!pending_) {                                                       \
        napi_get_last_error_info(env, &info_);                               \
        napi_throw_error(env, NULL, info_ != NULL && info_->error_message != NULL \
                                        ? info_->error_message                \
                                        : "Node-API call failed");           \
      }                                                                      \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static const char *errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  if (name != NULL) return name;
#endif
  switch (err) {
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EFBIG: return "EFBIG";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case ENODEV: return "ENODEV";
    case ENOLCK: return "ENOLCK";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case ENXIO: return "ENXIO";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EOVERFLOW: return "EOVERFLOW";
    case EPERM: return "EPERM";
    case ESPIPE: return "ESPIPE";
    case ETXTBSY: return "ETXTBSY";
    default: return "EUNKNOWN";
  }
}

/* Throws `err` from `syscall` as Node's fs would: "EAGAIN: Resource temporarily unavailable, flock". */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char text[160];
  char message[256];
  const char *code = errno_name(err);
  const char *description = strerror_r(err, text, sizeof text);
  snprintf(message, sizeof message, "%s: %s, %s", code, description, syscall);
  napi_value code_value, message_value, error, errno_value, syscall_value;
  CHECK(napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value));
  CHECK(napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value));
  CHECK(napi_create_error(env, code_value, message_value, &error));
  CHECK(napi_create_int32(env, -err, &errno_value));
  CHECK(napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value));
  CHECK(napi_set_named_property(env, error, "errno", errno_value));
  CHECK(napi_set_named_property(env, error, "syscall", syscall_value));
  napi_throw(env, error);
  return NULL;
}

static bool fail_type(napi_env env, const char *name, const char *expected) {
  char message[192];
  snprintf(message, sizeof message, "The \"%s\" argument must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return false;
}

static bool fail_range(napi_env env, const char *name, const char *expected, double got) {
  char message[320];
  snprintf(message, sizeof message, "The value of \"%s\" is out of range. It must be %s. Received %.17g", name,
           expected, got);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return false;
}

/* An integral number in [min, max], or a thrown TypeError/RangeError and false. */
static bool get_integer(napi_env env, napi_value value, const char *name, double min, double max,
                        const char *expected, double *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return fail_type(env, name, "of type number");
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok) return fail_type(env, name, "of type number");
  if (!isfinite(d) || d != trunc(d) || d < min || d > max) return fail_range(env, name, expected, d);
  *out = d;
  return true;
}

static bool get_fd(napi_env env, napi_value value, int *fd) {
  double d = 0;
  if (!get_integer(env, value, "fd", 0, INT32_MAX, "an integer >= 0 and <= 2147483647", &d)) return false;
  *fd = (int)d;
  return true;
}

static bool get_offset(napi_env env, napi_value value, const char *name, off_t *offset) {
  double d = 0;
  if (!get_integer(env, value, name, 0, MAX_SAFE_INTEGER, "an integer >= 0 and <= 2^53 - 1", &d)) return false;
  *offset = (off_t)d;
  return true;
}

static bool get_int(napi_env env, napi_value value, const char *name, int *out) {
  double d = 0;
  if (!get_integer(env, value, name, INT32_MIN, INT32_MAX, "a 32-bit integer", &d)) return false;
  *out = (int)d;
  return true;
}

/* The call's first `count` arguments; fewer is a TypeError. */
static bool get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < count) {
    char message[64];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", count, argc);
    napi_throw_type_error(env, "ERR_MISSING_ARGS", message);
    return false;
  }
  return true;
}

/* flock(fd, op): op is LOCK_SH or LOCK_EX with LOCK_NB (a wait would stall the thread), or LOCK_UN. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd, op;
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd) || !get_int(env, argv[1], "op", &op)) return NULL;
  if (op != (LOCK_SH | LOCK_NB) && op != (LOCK_EX | LOCK_NB) && op != LOCK_UN && op != (LOCK_UN | LOCK_NB)) {
    fail_range(env, "op", "LOCK_SH | LOCK_NB, LOCK_EX | LOCK_NB or LOCK_UN (a blocking lock would stall the thread)", op);
    return NULL;
  }
  int r;
  do r = flock(fd, op);
  while (r != 0 && errno == EINTR);
  if (r != 0) return throw_errno(env, errno, "flock");
  return NULL;
}

/* seek(fd, offset, whence): the new offset, or null for ENXIO (no data, or no hole, at or after `offset`). */
static napi_value js_seek(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int fd, whence;
  off_t offset;
  if (!get_args(env, info, 3, argv) || !get_fd(env, argv[0], &fd) || !get_offset(env, argv[1], "offset", &offset) ||
      !get_int(env, argv[2], "whence", &whence))
    return NULL;
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END && whence != SEEK_DATA && whence != SEEK_HOLE) {
    fail_range(env, "whence", "SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA or SEEK_HOLE", whence);
    return NULL;
  }
  off_t at = lseek(fd, offset, whence);
  if (at < 0 && errno == ENXIO) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  if (at < 0) return throw_errno(env, errno, "lseek");
  if ((double)at > MAX_SAFE_INTEGER) return throw_errno(env, EOVERFLOW, "lseek");
  CHECK(napi_create_double(env, (double)at, &result));
  return result;
}

/*
 * The arguments fadvise and fallocate share: an fd, then a byte range (offset, length) and an int flag
 * named `flag_name` at argument `flag_at` (fadvise's advice last, fallocate's mode second). Checked in
 * argument order, so the first bad argument is the one reported; false with an exception thrown.
 */
static bool get_fd_range_flag(napi_env env, napi_callback_info info, size_t flag_at, const char *flag_name, int *fd, off_t *offset,
                              off_t *length, int *flag) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv) || !get_fd(env, argv[0], fd)) return false;
  off_t *range[2] = {offset, length};
  const char *range_names[2] = {"offset", "length"};
  size_t next = 0;
  for (size_t i = 1; i < 4; i++) {
    if (i == flag_at) {
      if (!get_int(env, argv[i], flag_name, flag)) return false;
    } else if (!get_offset(env, argv[i], range_names[next], range[next])) {
      return false;
    } else {
      next++;
    }
  }
  return true;
}

/* fadvise(fd, offset, length, advice): posix_fadvise; length 0 means to the end of the file. */
static napi_value js_fadvise(napi_env env, napi_callback_info info) {
  int fd, advice;
  off_t offset, length;
  if (!get_fd_range_flag(env, info, 3, "advice", &fd, &offset, &length, &advice)) return NULL;
  int err;
  do err = posix_fadvise(fd, offset, length, advice);
  while (err == EINTR);
  if (err != 0) return throw_errno(env, err, "posix_fadvise");
  return NULL;
}

/* fallocate(fd, mode, offset, length): mode 0 or FALLOC_FL_KEEP_SIZE with PUNCH_HOLE or ZERO_RANGE. */
static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  int fd, mode;
  off_t offset, length;
  if (!get_fd_range_flag(env, info, 1, "mode", &fd, &offset, &length, &mode)) return NULL;
  if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) != 0) {
    fail_range(env, "mode", "a combination of FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE and FALLOC_FL_ZERO_RANGE", mode);
    return NULL;
  }
  int r;
  do r = fallocate(fd, mode, offset, length);
  while (r != 0 && errno == EINTR);
  if (r != 0) return throw_errno(env, errno, "fallocate");
  return NULL;
}

static napi_status set_int(napi_env env, napi_value exports, const char *name, int value) {
  napi_value v;
  napi_status status = napi_create_int32(env, value, &v);
  return status == napi_ok ? napi_set_named_property(env, exports, name, v) : status;
}

static napi_status set_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_status status = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  return status == napi_ok ? napi_set_named_property(env, exports, name, fn) : status;
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    int value;
  } constants[] = {
      {"LOCK_SH", LOCK_SH},
      {"LOCK_EX", LOCK_EX},
      {"LOCK_NB", LOCK_NB},
      {"LOCK_UN", LOCK_UN},
      {"SEEK_SET", SEEK_SET},
      {"SEEK_CUR", SEEK_CUR},
      {"SEEK_END", SEEK_END},
      {"SEEK_DATA", SEEK_DATA},
      {"SEEK_HOLE", SEEK_HOLE},
      {"POSIX_FADV_NORMAL", POSIX_FADV_NORMAL},
      {"POSIX_FADV_RANDOM", POSIX_FADV_RANDOM},
      {"POSIX_FADV_SEQUENTIAL", POSIX_FADV_SEQUENTIAL},
      {"POSIX_FADV_WILLNEED", POSIX_FADV_WILLNEED},
      {"POSIX_FADV_DONTNEED", POSIX_FADV_DONTNEED},
      {"POSIX_FADV_NOREUSE", POSIX_FADV_NOREUSE},
      {"FALLOC_FL_KEEP_SIZE", FALLOC_FL_KEEP_SIZE},
      {"FALLOC_FL_PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE},
      {"FALLOC_FL_ZERO_RANGE", FALLOC_FL_ZERO_RANGE},
  };
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
    CHECK(set_int(env, exports, constants[i].name, constants[i].value));
  CHECK(set_function(env, exports, "flock", js_flock));
  CHECK(set_function(env, exports, "seek", js_seek));
  CHECK(set_function(env, exports, "fadvise", js_fadvise));
  CHECK(set_function(env, exports, "fallocate", js_fallocate));
  return exports;
}
