/*
 * lvsagent_netlink: a minimal netlink socket binding for Node-API (NAPI_VERSION 8).
 *
 * Why not the `netlink` npm package: on an event-socket overflow (ENOBUFS,
 * reported by epoll as EPOLLERR) it throws a C++ exception outside any JS frame
 * and the process aborts. Here nothing may abort the process: every napi status
 * is checked, no napi_fatal_error is used, and errors met in the libuv poll
 * callback become arguments of a JS callback.
 *
 * Exports:
 *   class NetlinkHandle(protocol)     AF_NETLINK raw socket, SOCK_CLOEXEC | SOCK_NONBLOCK
 *     .bind(pid, groups)              pid 0 = kernel-assigned port id
 *     .portId() -> number             getsockname().nl_pid
 *     .fd() -> number                 -1 once closed
 *     .setInt(level, opt, value)      integer setsockopt at any level
 *     .getInt(level, opt) -> number
 *     .addMembership(group) / .dropMembership(group)
 *     .send(buf, offset, length) -> bytes        sendto the kernel (pid 0)
 *     .recv(buf, offset, length) -> bytes | -1   non-blocking; -1 = EAGAIN; MSG_TRUNC semantics:
 *                                                a result > length means the datagram was truncated
 *     .pollStart(buffers, lengths, onBatch, onError)
 *                                     uv_poll; per wakeup, recv datagrams into buffers[i] (lengths[i] = size)
 *                                     then onBatch(count); lengths[i] > buffer size = truncated. ENOBUFS -> onError(err) and polling CONTINUES.
 *     .pollOnce(onReadable)           one-shot readability notification (for dumps that hit EAGAIN)
 *     .pollStop()
 *     .ref() / .unref()               whether an active poll keeps the event loop alive (default ref)
 *     .close()                        idempotent; safe inside callbacks
 *   withNetns(path, fn)               run fn synchronously with the calling thread inside the netns at path
 *
 * Errors are JS Errors with `code` ('ENOENT', ...), `errno` (positive) and `syscall`.
 * Datagrams whose sender is not the kernel (nl_pid != 0) are ignored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif

/* ---------- errors ---------- */

static const char *errno_code(int e) {
  switch (e) {
#define E(x) \
  case x:    \
    return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM)
    E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE)
    E(ENOTTY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE) E(EDEADLK) E(ENAMETOOLONG)
    E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENOMSG) E(EIDRM) E(ENODATA) E(ETIME) E(ENOLINK) E(EPROTO)
    E(EBADMSG) E(EOVERFLOW) E(EILSEQ) E(ENOTSOCK) E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT)
    E(EPROTONOSUPPORT) E(ESOCKTNOSUPPORT) E(EOPNOTSUPP) E(EPFNOSUPPORT) E(EAFNOSUPPORT) E(EADDRINUSE)
    E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ENETRESET) E(ECONNABORTED) E(ECONNRESET) E(ENOBUFS) E(EISCONN)
    E(ENOTCONN) E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTDOWN) E(EHOSTUNREACH) E(EALREADY) E(EINPROGRESS) E(ESTALE)
    E(EDQUOT) E(ECANCELED) E(EOWNERDEAD) E(ENOTRECOVERABLE)
#undef E
    default:
      return NULL;
  }
}

/* Builds an Error with code/errno/syscall; returns NULL if even that failed. */
static napi_value make_errno_error(napi_env env, int err, const char *syscall, const char *detail) {
  char codebuf[24];
  const char *code = errno_code(err);
  if (code == NULL) {
    snprintf(codebuf, sizeof codebuf, "E%d", err);
    code = codebuf;
  }
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s, %s%s%s", code, strerror(err), syscall, detail ? ": " : "", detail ? detail : "");
  napi_value jcode, jmsg, error, jerrno, jsyscall;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg) != napi_ok) return NULL;
  if (napi_create_error(env, jcode, jmsg, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, err, &jerrno) == napi_ok) napi_set_named_property(env, error, "errno", jerrno);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsyscall) == napi_ok)
    napi_set_named_property(env, error, "syscall", jsyscall);
  return error;
}

static void throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_value error = make_errno_error(env, err, syscall, detail);
  if (error != NULL) napi_throw(env, error);
  else napi_throw_error(env, NULL, syscall);
}

/* For napi calls that failed without necessarily leaving an exception. */
static void throw_napi(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_error(env, "ERR_NETLINK_NAPI", what);
}

static void throw_type(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
}

#define NAPI_OK(call, what)      \
  do {                           \
    if ((call) != napi_ok) {     \
      throw_napi(env, what);     \
      return NULL;               \
    }                            \
  } while (0)

/* ---------- handle ---------- */

enum { MODE_IDLE = 0, MODE_BATCH = 1, MODE_NOTIFY = 2 };

typedef struct nl_handle {
  int fd;
  napi_env env;
  napi_ref wrapper; /* weak; strong (1) while a poll is active so callbacks stay reachable */
  int wrapper_strong;
  uv_poll_t poll;
  int poll_init, poll_closing, poll_closed;
  int want_ref;
  int mode;
  unsigned generation; /* bumped on every start/stop/close: callbacks detect changes made by JS */
  napi_ref on_data;    /* onBatch (batch mode) or onReadable (notify mode) */
  napi_ref on_error;
  napi_async_context actx;
  int actx_init;
  uint32_t nbufs;
  napi_ref *buf_refs;
  char **buf_data;
  size_t *buf_size;
  napi_ref lengths_ref;
  uint32_t *lengths;
  int in_callback;
  int finalized;
  /* Registered with napi_add_async_cleanup_hook for the handle's whole libuv lifetime: at environment
   * teardown (process exit, worker termination) it closes the socket and lets the env wait for the
   * uv_close callback, which must run before the addon may be unloaded. */
  napi_async_cleanup_hook_handle cleanup;
  int cleanup_pending;
} nl_handle;

static void maybe_free(nl_handle *h) {
  if (h->finalized && (!h->poll_init || h->poll_closed) && !h->in_callback) {
    free(h->buf_refs);
    free(h->buf_data);
    free(h->buf_size);
    free(h);
  }
}

static void release_cleanup_hook(nl_handle *h) {
  if (h->cleanup_pending) {
    h->cleanup_pending = 0;
    napi_remove_async_cleanup_hook(h->cleanup);
  }
}

static void on_poll_closed(uv_handle_t *p) {
  nl_handle *h = (nl_handle *)p->data;
  h->poll_closed = 1;
  release_cleanup_hook(h);
  maybe_free(h);
}

static void set_strong(nl_handle *h, int strong) {
  if (h->wrapper == NULL || h->wrapper_strong == strong) return;
  uint32_t count = 0;
  if (strong) {
    if (napi_reference_ref(h->env, h->wrapper, &count) == napi_ok) h->wrapper_strong = 1;
  } else {
    if (napi_reference_unref(h->env, h->wrapper, &count) == napi_ok) h->wrapper_strong = 0;
  }
}

static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

/* Releases everything tied to the current poll mode (callbacks, batch buffers). */
static void release_poll_state(nl_handle *h) {
  napi_env env = h->env;
  delete_ref(env, &h->on_data);
  delete_ref(env, &h->on_error);
  if (h->buf_refs != NULL) {
    for (uint32_t i = 0; i < h->nbufs; i++) delete_ref(env, &h->buf_refs[i]);
  }
  free(h->buf_refs);
  free(h->buf_data);
  free(h->buf_size);
  h->buf_refs = NULL;
  h->buf_data = NULL;
  h->buf_size = NULL;
  h->nbufs = 0;
  delete_ref(env, &h->lengths_ref);
  h->lengths = NULL;
}

static void stop_polling(nl_handle *h) {
  if (h->poll_init && !h->poll_closing) uv_poll_stop(&h->poll);
  h->mode = MODE_IDLE;
  h->generation++;
  release_poll_state(h);
  set_strong(h, 0);
}

static void close_handle(nl_handle *h) {
  if (h->mode != MODE_IDLE) stop_polling(h);
  h->generation++;
  if (h->poll_init && !h->poll_closing) {
    h->poll_closing = 1;
    uv_close((uv_handle_t *)&h->poll, on_poll_closed);
  }
  if (h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  if (h->actx_init) {
    napi_async_destroy(h->env, h->actx);
    h->actx_init = 0;
  }
  /* without a libuv handle nothing is pending; otherwise on_poll_closed releases the hook */
  if (!h->poll_init) release_cleanup_hook(h);
}

/* Environment teardown: close what is still open; the env waits until the hook is released. */
static void env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  nl_handle *h = (nl_handle *)arg;
  h->cleanup = handle;
  close_handle(h);
  if (!h->poll_init || h->poll_closed) release_cleanup_hook(h);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  nl_handle *h = (nl_handle *)data;
  close_handle(h);
  release_poll_state(h);
  delete_ref(env, &h->wrapper);
  h->finalized = 1;
  maybe_free(h);
}

static nl_handle *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) {
    throw_napi(env, "napi_get_cb_info");
    return NULL;
  }
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    throw_type(env, "not a NetlinkHandle");
    return NULL;
  }
  return (nl_handle *)data;
}

static nl_handle *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  nl_handle *h = unwrap(env, info, argc, argv);
  if (h != NULL && h->fd < 0) {
    throw_errno(env, EBADF, "netlink socket closed", NULL);
    return NULL;
  }
  return h;
}

static int get_int(napi_env env, napi_value v, int64_t *out, const char *name) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", name);
    throw_type(env, msg);
    return 0;
  }
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    throw_napi(env, "napi_get_value_int64");
    return 0;
  }
  return 1;
}

/* Resolves (buffer, offset, length) arguments to a byte range. */
static int get_range(napi_env env, napi_value *argv, size_t argc, char **data, size_t *len) {
  bool isbuf = false;
  void *base = NULL;
  size_t size = 0;
  if (argc < 1 || napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf) {
    throw_type(env, "buffer must be a Buffer");
    return 0;
  }
  if (napi_get_buffer_info(env, argv[0], &base, &size) != napi_ok) {
    throw_napi(env, "napi_get_buffer_info");
    return 0;
  }
  int64_t off = 0, n = (int64_t)size;
  if (argc >= 2 && !get_int(env, argv[1], &off, "offset")) return 0;
  if (argc >= 3 && !get_int(env, argv[2], &n, "length")) return 0;
  if (off < 0 || n < 0 || (uint64_t)off + (uint64_t)n > size) {
    throw_errno(env, ERANGE, "netlink buffer range", "offset/length outside the buffer");
    return 0;
  }
  *data = (char *)base + off;
  *len = (size_t)n;
  return 1;
}

static napi_value New(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, target;
  NAPI_OK(napi_get_new_target(env, info, &target), "napi_get_new_target");
  if (target == NULL) {
    throw_type(env, "NetlinkHandle must be called with new");
    return NULL;
  }
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, &self, NULL), "napi_get_cb_info");
  int64_t protocol = 0;
  if (argc < 1 || !get_int(env, argv[0], &protocol, "protocol")) return NULL;
  if (protocol < 0 || protocol > 31) {
    throw_errno(env, EPROTONOSUPPORT, "socket", "netlink protocol out of range");
    return NULL;
  }
  nl_handle *h = calloc(1, sizeof *h);
  if (h == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  h->env = env;
  h->want_ref = 1;
  h->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, (int)protocol);
  if (h->fd < 0) {
    int e = errno;
    free(h);
    throw_errno(env, e, "socket", NULL);
    return NULL;
  }
  if (napi_wrap(env, self, h, finalize_handle, NULL, &h->wrapper) != napi_ok) {
    close(h->fd);
    free(h);
    throw_napi(env, "napi_wrap");
    return NULL;
  }
  if (napi_add_async_cleanup_hook(env, env_cleanup, h, &h->cleanup) == napi_ok) h->cleanup_pending = 1;
  return self;
}

static napi_value Bind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  int64_t pid = 0, groups = 0;
  if (argc >= 1 && !get_int(env, argv[0], &pid, "pid")) return NULL;
  if (argc >= 2 && !get_int(env, argv[1], &groups, "groups")) return NULL;
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_pid = (uint32_t)pid;
  sa.nl_groups = (uint32_t)groups;
  if (bind(h->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    throw_errno(env, errno, "bind", NULL);
    return NULL;
  }
  return NULL;
}

static napi_value PortId(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_handle *h = unwrap_open(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  struct sockaddr_nl sa;
  socklen_t len = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getsockname(h->fd, (struct sockaddr *)&sa, &len) < 0) {
    throw_errno(env, errno, "getsockname", NULL);
    return NULL;
  }
  napi_value r;
  NAPI_OK(napi_create_uint32(env, sa.nl_pid, &r), "napi_create_uint32");
  return r;
}

static napi_value Fd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_handle *h = unwrap(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  napi_value r;
  NAPI_OK(napi_create_int32(env, h->fd, &r), "napi_create_int32");
  return r;
}

static napi_value SetInt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  int64_t level, opt, value;
  if (argc < 3) {
    throw_type(env, "setInt(level, option, value)");
    return NULL;
  }
  if (!get_int(env, argv[0], &level, "level") || !get_int(env, argv[1], &opt, "option") ||
      !get_int(env, argv[2], &value, "value"))
    return NULL;
  int v = (int)value;
  if (setsockopt(h->fd, (int)level, (int)opt, &v, sizeof v) < 0) {
    throw_errno(env, errno, "setsockopt", NULL);
    return NULL;
  }
  return NULL;
}

static napi_value GetInt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  int64_t level, opt;
  if (argc < 2) {
    throw_type(env, "getInt(level, option)");
    return NULL;
  }
  if (!get_int(env, argv[0], &level, "level") || !get_int(env, argv[1], &opt, "option")) return NULL;
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(h->fd, (int)level, (int)opt, &v, &len) < 0) {
    throw_errno(env, errno, "getsockopt", NULL);
    return NULL;
  }
  napi_value r;
  NAPI_OK(napi_create_int32(env, v, &r), "napi_create_int32");
  return r;
}

static napi_value membership(napi_env env, napi_callback_info info, int opt, const char *name) {
  size_t argc = 1;
  napi_value argv[1];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  int64_t group;
  if (argc < 1 || !get_int(env, argv[0], &group, "group")) return NULL;
  int g = (int)group;
  if (setsockopt(h->fd, SOL_NETLINK, opt, &g, sizeof g) < 0) {
    throw_errno(env, errno, name, NULL);
    return NULL;
  }
  return NULL;
}

static napi_value AddMembership(napi_env env, napi_callback_info info) {
  return membership(env, info, NETLINK_ADD_MEMBERSHIP, "setsockopt(NETLINK_ADD_MEMBERSHIP)");
}

static napi_value DropMembership(napi_env env, napi_callback_info info) {
  return membership(env, info, NETLINK_DROP_MEMBERSHIP, "setsockopt(NETLINK_DROP_MEMBERSHIP)");
}

static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  char *data;
  size_t len;
  if (!get_range(env, argv, argc, &data, &len)) return NULL;
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(h->fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    throw_errno(env, errno, "sendto", NULL);
    return NULL;
  }
  napi_value r;
  NAPI_OK(napi_create_int64(env, (int64_t)n, &r), "napi_create_int64");
  return r;
}

/* recvfrom into a buffer range; returns bytes (the full datagram size, thanks to MSG_TRUNC), -1 for
 * EAGAIN, or -3 with *err set. Datagrams from non-kernel senders are skipped. */
static ssize_t recv_kernel(int fd, char *data, size_t len, int *err) {
  struct sockaddr_nl sa;
  for (;;) {
    socklen_t alen = sizeof sa;
    ssize_t n = recvfrom(fd, data, len, MSG_TRUNC, (struct sockaddr *)&sa, &alen);
    if (n >= 0) {
      if (alen >= sizeof sa && sa.nl_pid != 0) continue; /* not from the kernel: ignore */
      return n;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    *err = errno;
    return -3;
  }
}

static napi_value Recv(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  char *data;
  size_t len;
  if (!get_range(env, argv, argc, &data, &len)) return NULL;
  int err = 0;
  ssize_t n = recv_kernel(h->fd, data, len, &err);
  if (n == -3) {
    throw_errno(env, err, "recvmsg", NULL);
    return NULL;
  }
  napi_value r;
  NAPI_OK(napi_create_int64(env, (int64_t)n, &r), "napi_create_int64");
  return r;
}

/* ---------- polling ---------- */

/* Calls a JS callback from the libuv loop. A JS exception becomes an ordinary uncaught exception
 * ('uncaughtException'), never a crash. Returns 0 if the callback could not be called. */
static int call_js(nl_handle *h, napi_value fn, size_t argc, napi_value *argv) {
  napi_env env = h->env;
  napi_value recv;
  if (fn == NULL) return 0;
  /* napi_make_callback converts the receiver with ToObject: undefined would throw */
  if (napi_get_global(env, &recv) != napi_ok) return 0;
  napi_status st = napi_make_callback(env, h->actx, recv, fn, argc, argv, NULL);
  if (st != napi_ok) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  return 1;
}

static void ensure_poll(napi_env env, nl_handle *h, int *ok) {
  *ok = 0;
  if (!h->actx_init) {
    napi_value name;
    if (napi_create_string_utf8(env, "lvsagent:netlink", NAPI_AUTO_LENGTH, &name) != napi_ok) return;
    if (napi_async_init(env, NULL, name, &h->actx) != napi_ok) return;
    h->actx_init = 1;
  }
  if (!h->poll_init) {
    uv_loop_t *loop = NULL;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) return;
    int r = uv_poll_init_socket(loop, &h->poll, h->fd);
    if (r != 0) return;
    h->poll.data = h;
    h->poll_init = 1;
    if (!h->want_ref) uv_unref((uv_handle_t *)&h->poll);
  }
  *ok = 1;
}

static void on_poll(uv_poll_t *p, int status, int events);

static napi_value ref_value(nl_handle *h, napi_ref ref) {
  napi_value v = NULL;
  if (ref == NULL || napi_get_reference_value(h->env, ref, &v) != napi_ok) return NULL;
  return v;
}

static void deliver_error(nl_handle *h, int err, const char *syscall) {
  napi_value e = make_errno_error(h->env, err, syscall, NULL);
  if (e != NULL) call_js(h, ref_value(h, h->on_error), 1, &e);
}

static void deliver_batch(nl_handle *h, uint32_t count) {
  napi_value n;
  if (napi_create_uint32(h->env, count, &n) == napi_ok) call_js(h, ref_value(h, h->on_data), 1, &n);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  nl_handle *h = (nl_handle *)p->data;
  if (h == NULL || h->fd < 0 || h->mode == MODE_IDLE) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  h->in_callback = 1;
  unsigned gen = h->generation;

  if (h->mode == MODE_NOTIFY) {
    /* One-shot: the JS side now reads synchronously until EAGAIN. The local handle `fn` keeps the
     * callback alive for the call although its reference is released first. */
    napi_value fn = NULL;
    if (h->on_data == NULL || napi_get_reference_value(env, h->on_data, &fn) != napi_ok) fn = NULL;
    uv_poll_stop(&h->poll);
    stop_polling(h);
    if (fn != NULL) call_js(h, fn, 0, NULL);
    goto out;
  }

  /* Batch mode. After EPOLLERR libuv has stopped the watcher (status UV_EBADF): the pending
   * socket error (ENOBUFS) is returned by the first recv below, then polling is restarted. */
  int restart = status < 0;
  uint32_t count = 0;
  for (;;) {
    if (count == h->nbufs) break; /* batch full: deliver; level-triggered poll calls again */
    int err = 0;
    ssize_t n = recv_kernel(h->fd, h->buf_data[count], h->buf_size[count], &err);
    if (n == -1) break;
    if (n >= 0) {
      /* a length above the buffer's size tells JS the datagram was truncated */
      h->lengths[count++] = n > (ssize_t)UINT32_MAX ? UINT32_MAX : (uint32_t)n;
      continue;
    }
    /* error: deliver what came before it, then the error itself */
    if (count > 0) {
      deliver_batch(h, count);
      count = 0;
      if (h->generation != gen || h->fd < 0) goto out;
    }
    deliver_error(h, err, "recvmsg");
    if (h->generation != gen || h->fd < 0) goto out;
    if (err == ENOBUFS) continue; /* events were lost; the socket keeps working */
    /* any other error would repeat forever: stop polling (JS may restart) */
    stop_polling(h);
    goto out;
  }
  if (count > 0) {
    deliver_batch(h, count);
    if (h->generation != gen || h->fd < 0) goto out;
  }
  if (restart && h->mode == MODE_BATCH) {
    int r = uv_poll_start(&h->poll, UV_READABLE, on_poll);
    if (r != 0) {
      deliver_error(h, -r, "uv_poll_start");
      if (h->generation == gen && h->fd >= 0) stop_polling(h);
    }
  }

out:
  h->in_callback = 0;
  napi_close_handle_scope(env, scope);
  maybe_free(h);
}

static napi_value PollStart(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  if (argc < 4) {
    throw_type(env, "pollStart(buffers, lengths, onBatch, onError)");
    return NULL;
  }
  bool isarr = false;
  uint32_t nbufs = 0;
  NAPI_OK(napi_is_array(env, argv[0], &isarr), "napi_is_array");
  if (!isarr) {
    throw_type(env, "buffers must be an array of Buffers");
    return NULL;
  }
  NAPI_OK(napi_get_array_length(env, argv[0], &nbufs), "napi_get_array_length");
  if (nbufs == 0 || nbufs > 1024) {
    throw_errno(env, EINVAL, "pollStart", "1 to 1024 buffers required");
    return NULL;
  }
  bool istyped = false;
  NAPI_OK(napi_is_typedarray(env, argv[1], &istyped), "napi_is_typedarray");
  if (!istyped) {
    throw_type(env, "lengths must be a Uint32Array");
    return NULL;
  }
  napi_typedarray_type ttype;
  size_t tlen = 0;
  void *tdata = NULL;
  NAPI_OK(napi_get_typedarray_info(env, argv[1], &ttype, &tlen, &tdata, NULL, NULL), "napi_get_typedarray_info");
  if (ttype != napi_uint32_array || tlen < nbufs) {
    throw_type(env, "lengths must be a Uint32Array with one slot per buffer");
    return NULL;
  }
  napi_valuetype t1, t2;
  NAPI_OK(napi_typeof(env, argv[2], &t1), "napi_typeof");
  NAPI_OK(napi_typeof(env, argv[3], &t2), "napi_typeof");
  if (t1 != napi_function || t2 != napi_function) {
    throw_type(env, "onBatch and onError must be functions");
    return NULL;
  }
  /* validate buffers before touching any state */
  for (uint32_t i = 0; i < nbufs; i++) {
    napi_value b;
    bool isbuf = false;
    NAPI_OK(napi_get_element(env, argv[0], i, &b), "napi_get_element");
    NAPI_OK(napi_is_buffer(env, b, &isbuf), "napi_is_buffer");
    if (!isbuf) {
      throw_type(env, "buffers must be an array of Buffers");
      return NULL;
    }
  }
  if (h->mode != MODE_IDLE) stop_polling(h);
  int ok;
  ensure_poll(env, h, &ok);
  if (!ok) {
    throw_errno(env, ENOMEM, "uv_poll_init", NULL);
    return NULL;
  }
  h->buf_refs = calloc(nbufs, sizeof *h->buf_refs);
  h->buf_data = calloc(nbufs, sizeof *h->buf_data);
  h->buf_size = calloc(nbufs, sizeof *h->buf_size);
  if (!h->buf_refs || !h->buf_data || !h->buf_size) {
    release_poll_state(h);
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  h->nbufs = nbufs;
  for (uint32_t i = 0; i < nbufs; i++) {
    napi_value b;
    void *d = NULL;
    size_t sz = 0;
    if (napi_get_element(env, argv[0], i, &b) != napi_ok || napi_get_buffer_info(env, b, &d, &sz) != napi_ok ||
        napi_create_reference(env, b, 1, &h->buf_refs[i]) != napi_ok) {
      release_poll_state(h);
      throw_napi(env, "pollStart buffers");
      return NULL;
    }
    h->buf_data[i] = d;
    h->buf_size[i] = sz;
  }
  if (napi_create_reference(env, argv[1], 1, &h->lengths_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &h->on_data) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &h->on_error) != napi_ok) {
    release_poll_state(h);
    throw_napi(env, "pollStart references");
    return NULL;
  }
  h->lengths = (uint32_t *)tdata;
  int r = uv_poll_start(&h->poll, UV_READABLE, on_poll);
  if (r != 0) {
    release_poll_state(h);
    throw_errno(env, -r, "uv_poll_start", NULL);
    return NULL;
  }
  h->mode = MODE_BATCH;
  h->generation++;
  set_strong(h, 1);
  return NULL;
}

static napi_value PollOnce(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  nl_handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    throw_type(env, "pollOnce(onReadable)");
    return NULL;
  }
  if (h->mode != MODE_IDLE) stop_polling(h);
  int ok;
  ensure_poll(env, h, &ok);
  if (!ok) {
    throw_errno(env, ENOMEM, "uv_poll_init", NULL);
    return NULL;
  }
  NAPI_OK(napi_create_reference(env, argv[0], 1, &h->on_data), "napi_create_reference");
  int r = uv_poll_start(&h->poll, UV_READABLE, on_poll);
  if (r != 0) {
    delete_ref(env, &h->on_data);
    throw_errno(env, -r, "uv_poll_start", NULL);
    return NULL;
  }
  h->mode = MODE_NOTIFY;
  h->generation++;
  set_strong(h, 1);
  return NULL;
}

static napi_value PollStop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_handle *h = unwrap(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  if (h->mode != MODE_IDLE) stop_polling(h);
  return NULL;
}

static napi_value Ref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_handle *h = unwrap(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  h->want_ref = 1;
  if (h->poll_init && !h->poll_closing) uv_ref((uv_handle_t *)&h->poll);
  return NULL;
}

static napi_value Unref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_handle *h = unwrap(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  h->want_ref = 0;
  if (h->poll_init && !h->poll_closing) uv_unref((uv_handle_t *)&h->poll);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_handle *h = unwrap(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  close_handle(h);
  return NULL;
}

/* ---------- network namespaces ---------- */

static int netns_broken = 0;

static napi_value WithNetns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "napi_get_cb_info");
  napi_valuetype t0, t1;
  if (argc < 2 || napi_typeof(env, argv[0], &t0) != napi_ok || napi_typeof(env, argv[1], &t1) != napi_ok ||
      t0 != napi_string || t1 != napi_function) {
    throw_type(env, "withNetns(path: string, fn: function)");
    return NULL;
  }
  if (netns_broken) {
    throw_errno(env, EIO, "setns",
                "an earlier switch back to the original network namespace failed; this thread's namespace is "
                "undefined, restart the process");
    return NULL;
  }
  char path[4096];
  size_t plen = 0;
  NAPI_OK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen), "napi_get_value_string_utf8");
  if (plen >= sizeof path - 1) {
    throw_errno(env, ENAMETOOLONG, "open", NULL);
    return NULL;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    throw_errno(env, errno, "open", path);
    return NULL;
  }
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    /* kernels before 3.17 have no /proc/thread-self */
    char alt[64];
    snprintf(alt, sizeof alt, "/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
    self = open(alt, O_RDONLY | O_CLOEXEC);
  }
  if (self < 0) {
    int e = errno;
    close(target);
    throw_errno(env, e, "open", "/proc/thread-self/ns/net");
    return NULL;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(target);
    close(self);
    char detail[4200];
    if (e == EPERM)
      snprintf(detail, sizeof detail, "%s (entering a network namespace needs CAP_SYS_ADMIN)", path);
    else if (e == EINVAL)
      snprintf(detail, sizeof detail, "%s is not a network namespace", path);
    else
      snprintf(detail, sizeof detail, "%s", path);
    throw_errno(env, e, "setns", detail);
    return NULL;
  }
  close(target);

  napi_value global, result = NULL;
  napi_status st = napi_get_global(env, &global);
  if (st == napi_ok) st = napi_call_function(env, global, argv[1], 0, NULL, &result);

  /* ALWAYS switch back, whatever the callback did. */
  if (setns(self, CLONE_NEWNET) < 0) {
    int e = errno;
    close(self);
    netns_broken = 1;
    fprintf(stderr,
            "lvsagent netlink: FATAL: could not return the main thread to its network namespace after withNetns "
            "(%s); netlink sockets and files opened from now on would belong to the wrong namespace. Restart the "
            "process.\n",
            strerror(e));
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    throw_errno(env, e, "setns", "FATAL: could not switch back to the original network namespace");
    return NULL;
  }
  close(self);
  if (st != napi_ok) {
    throw_napi(env, "withNetns callback");
    return NULL;
  }
  return result;
}

/* ---------- module ---------- */

/* libuv starts its threadpool lazily, all threads at once, from whichever
 * thread first queues work. If that happened inside withNetns (an async fs
 * call or a DNS lookup in the callback), every pool thread would stay in the
 * target network namespace for good. Queue one no-op at load time instead,
 * from the main thread in the process's own namespace. */
static uv_work_t pool_warmup;
static void pool_warmup_work(uv_work_t *req) { (void)req; }
static void pool_warmup_done(uv_work_t *req, int status) {
  (void)req;
  (void)status;
}

static void start_threadpool(napi_env env) {
  /* Once per process: the pool is shared by every thread's loop, and this request is static. */
  static int started = 0;
  if (started) return;
  started = 1;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) return;
  uv_queue_work(loop, &pool_warmup, pool_warmup_work, pool_warmup_done);
}

static napi_value Init(napi_env env, napi_value exports) {
  start_threadpool(env);
  napi_property_descriptor methods[] = {
      {"bind", NULL, Bind, NULL, NULL, NULL, napi_default_method, NULL},
      {"portId", NULL, PortId, NULL, NULL, NULL, napi_default_method, NULL},
      {"fd", NULL, Fd, NULL, NULL, NULL, napi_default_method, NULL},
      {"setInt", NULL, SetInt, NULL, NULL, NULL, napi_default_method, NULL},
      {"getInt", NULL, GetInt, NULL, NULL, NULL, napi_default_method, NULL},
      {"addMembership", NULL, AddMembership, NULL, NULL, NULL, napi_default_method, NULL},
      {"dropMembership", NULL, DropMembership, NULL, NULL, NULL, napi_default_method, NULL},
      {"send", NULL, Send, NULL, NULL, NULL, napi_default_method, NULL},
      {"recv", NULL, Recv, NULL, NULL, NULL, napi_default_method, NULL},
      {"pollStart", NULL, PollStart, NULL, NULL, NULL, napi_default_method, NULL},
      {"pollOnce", NULL, PollOnce, NULL, NULL, NULL, napi_default_method, NULL},
      {"pollStop", NULL, PollStop, NULL, NULL, NULL, napi_default_method, NULL},
      {"ref", NULL, Ref, NULL, NULL, NULL, napi_default_method, NULL},
      {"unref", NULL, Unref, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls, fn;
  if (napi_define_class(env, "NetlinkHandle", NAPI_AUTO_LENGTH, New, NULL, sizeof methods / sizeof methods[0],
                        methods, &cls) != napi_ok ||
      napi_set_named_property(env, exports, "NetlinkHandle", cls) != napi_ok) {
    throw_napi(env, "defining NetlinkHandle");
    return NULL;
  }
  if (napi_create_function(env, "withNetns", NAPI_AUTO_LENGTH, WithNetns, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "withNetns", fn) != napi_ok) {
    throw_napi(env, "defining withNetns");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
