/* hpvm_error.h — the project-wide error codes.
 * Every module returns 0 or a negative HPVM_E* code from this one table; the X-macro gives
 * the enum, the short name and a user-facing message (what failed, what to do). */
#ifndef HPVM_ERROR_H
#define HPVM_ERROR_H

#define HPVM_ERRNO_MAP(X)                                                              \
  X(NOMEM,    "out of memory; free host memory or lower the guest's memory size")      \
  X(INVAL,    "invalid argument; see --help")                                          \
  X(IO,       "I/O error; check the file or device and its permissions")              \
  X(NOENT,    "no such file or object; check the name or path")                       \
  X(BADELF,   "not a static little-endian IA-64 ELF executable; rebuild it for ia64") \
  X(TRUNC,    "input is truncated; the file or stream ended early")                   \
  X(RANGE,    "value out of range")                                                   \
  X(NOTSUP,   "not supported by this version of hpvm")                                \
  X(FAULT,    "the guest took an interruption")                                        \
  X(BUSY,     "resource busy; try again later")                                       \
  X(CORRUPT,  "data is corrupted (bad magic, version or checksum)")                 \
  X(EXIST,    "already exists; choose another name or remove the existing one")          \
  X(STATE,    "not possible in the VM's current state; see hpvmstatus")               \
  X(PERM,     "permission denied; run as root or as a member of hpvmd's group")        \
  X(UNAVAIL,  "hpvmd is not running; start it (systemctl start hpvmd)")                 \
  X(TIMEDOUT, "timed out; check that the peer host is up and the link works")          \
  X(AUTH,     "authentication failed; check the host keys and the cluster secret")     \
  X(CANCELED, "canceled; nothing was changed")

enum hpvm_error {
  HPVM_OK = 0,
#define HPVM_ERR_ENUM(name, msg) HPVM_E##name,
  HPVM__EFIRST = -1000,
  HPVM_ERRNO_MAP(HPVM_ERR_ENUM)
#undef HPVM_ERR_ENUM
  HPVM__ELAST
};

static inline const char *hpvm_strerror(int err) {
  switch (err) {
  case HPVM_OK: return "success";
#define HPVM_ERR_CASE(name, msg) case HPVM_E##name: return msg;
    HPVM_ERRNO_MAP(HPVM_ERR_CASE)
#undef HPVM_ERR_CASE
  default: return "unknown error";
  }
}

static inline const char *hpvm_err_name(int err) {
  switch (err) {
  case HPVM_OK: return "OK";
#define HPVM_ERR_NAME(name, msg) case HPVM_E##name: return "E" #name;
    HPVM_ERRNO_MAP(HPVM_ERR_NAME)
#undef HPVM_ERR_NAME
  default: return "E?";
  }
}

#endif
