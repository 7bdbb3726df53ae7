/* model_io.c - the binary model file (format v1, docs/FORMATS.md).
 *
 * Every multi-byte value is little-endian whatever the host: integers are
 * written byte by byte with shifts, floats/doubles through their IEEE bit
 * patterns (memcpy to uint32_t/uint64_t), so files are portable and round
 * trips are bit-exact (NaN payloads included).
 *
 *   offset  size  field
 *        0     8  magic "SMRMODEL"
 *        8     4  u32 version = 1
 *       12     4  u32 dtype (0 = f32, 1 = f64)
 *       16     8  u64 d (>= 1)
 *       24     8  u64 k (1 ..= INT32_MAX)
 *       32     4  u32 flags: bit0 standardization, bit1 class names
 *       36     4  u32 reserved = 0
 *       40     8  f64 learning rate (finite, > 0)
 *       48        W (d*k of dtype, row-major), b (k of dtype)
 *                 [bit0] d f64 means, d f64 scales
 *                 [bit1] k x (u32 length <= SMR_MAX_NAME_LEN, bytes, no NUL)
 *                 u32 CRC-32 of every preceding byte
 *
 * The loader checks the header, then walks every section against the
 * buffer's length (sizes through smr_mul_ok, so a huge d or k is a format
 * error, never an allocation), then the CRC, then the values; only then does
 * it build the model, through the public model functions. From a file, the
 * header is read and checked before anything else, and the file's size
 * against the least and most bytes that header allows (read_model_file).
 *
 * Saving replaces a regular file through a temporary beside it and a rename
 * (keeping the mode), writes through a character device or FIFO, and
 * refuses anything else (smr_model_save_file).
 */
/* realpath (XSI) */
#define _XOPEN_SOURCE 700
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MODEL_MAGIC "SMRMODEL"
#define MODEL_VERSION 1u
#define HEADER_BYTES 48u
#define CRC_BYTES 4u
#define FLAG_STANDARDIZATION 1u
#define FLAG_CLASS_NAMES 2u
#define MAX_FILE_BYTES ((uint64_t)1 << 40)

/* ------------------------------------------------------------------------ */
/* Little-endian bytes                                                       */
/* ------------------------------------------------------------------------ */

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static void put_f64(unsigned char *p, double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  put_u64(p, u);
}
static double get_f64(const unsigned char *p) {
  uint64_t u = get_u64(p);
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* count values of the dtype (element size es) between memory and file. */
static void put_values(unsigned char *p, const void *src, size_t count, size_t es) {
  if (es == 4) {
    const float *s = src;
    for (size_t i = 0; i < count; i++) {
      uint32_t u;
      memcpy(&u, &s[i], sizeof u);
      put_u32(p + 4 * i, u);
    }
  } else {
    const double *s = src;
    for (size_t i = 0; i < count; i++) put_f64(p + 8 * i, s[i]);
  }
}
static void get_values(void *dst, const unsigned char *p, size_t count, size_t es) {
  if (es == 4) {
    float *d = dst;
    for (size_t i = 0; i < count; i++) {
      uint32_t u = get_u32(p + 4 * i);
      memcpy(&d[i], &u, sizeof u);
    }
  } else {
    double *d = dst;
    for (size_t i = 0; i < count; i++) d[i] = get_f64(p + 8 * i);
  }
}

static bool add_ok(size_t a, size_t b, size_t *out) {
  if (b > SIZE_MAX - a) return false;
  *out = a + b;
  return true;
}

/* ------------------------------------------------------------------------ */
/* Save                                                                      */
/* ------------------------------------------------------------------------ */

smr_status smr_model_save_buffer(const smr_model *m, void **buf, size_t *len) {
  if (m == NULL || buf == NULL || len == NULL) return SMR_EINVAL;
  *buf = NULL;
  *len = 0;
  if (m->d == 0 || m->k == 0 || m->k > (size_t)INT32_MAX) return SMR_EINVAL;
  if (m->dtype != SMR_F32 && m->dtype != SMR_F64) return SMR_EINVAL;
  size_t es = m->dtype == SMR_F32 ? sizeof(float) : sizeof(double);
  bool has_std = m->mean != NULL && m->scale != NULL;
  bool names = m->class_names != NULL;

  size_t values, bytes, total = HEADER_BYTES + CRC_BYTES, std_bytes = 0;
  if (!smr_mul_ok(m->d, m->k, &values) || !add_ok(values, m->k, &values) ||
      !smr_mul_ok(values, es, &bytes) || !add_ok(total, bytes, &total))
    return SMR_EOVERFLOW;
  if (has_std && (!smr_mul_ok(m->d, 2 * sizeof(double), &std_bytes) ||
              !add_ok(total, std_bytes, &total)))
    return SMR_EOVERFLOW;
  if (names) {
    for (size_t j = 0; j < m->k; j++) {
      size_t l = strlen(m->class_names[j]);
      if (l > SMR_MAX_NAME_LEN) return SMR_EINVAL;
      if (!add_ok(total, 4 + l, &total)) return SMR_EOVERFLOW;
    }
  }

  unsigned char *p = malloc(total);
  if (p == NULL) return SMR_ENOMEM;
  memcpy(p, MODEL_MAGIC, 8);
  put_u32(p + 8, MODEL_VERSION);
  put_u32(p + 12, m->dtype == SMR_F32 ? 0u : 1u);
  put_u64(p + 16, (uint64_t)m->d);
  put_u64(p + 24, (uint64_t)m->k);
  put_u32(p + 32, (has_std ? FLAG_STANDARDIZATION : 0u) | (names ? FLAG_CLASS_NAMES : 0u));
  put_u32(p + 36, 0);
  put_f64(p + 40, m->learning_rate);
  size_t pos = HEADER_BYTES;
  put_values(p + pos, m->W, m->d * m->k, es);
  pos += m->d * m->k * es;
  put_values(p + pos, m->b, m->k, es);
  pos += m->k * es;
  if (has_std) {
    for (size_t j = 0; j < m->d; j++) put_f64(p + pos + 8 * j, m->mean[j]);
    pos += 8 * m->d;
    for (size_t j = 0; j < m->d; j++) put_f64(p + pos + 8 * j, m->scale[j]);
    pos += 8 * m->d;
  }
  if (names) {
    for (size_t j = 0; j < m->k; j++) {
      size_t l = strlen(m->class_names[j]);
      put_u32(p + pos, (uint32_t)l);
      memcpy(p + pos + 4, m->class_names[j], l);
      pos += 4 + l;
    }
  }
  put_u32(p + pos, smr_crc32(0, p, pos));
  *buf = p;
  *len = total;
  return SMR_OK;
}

static smr_status write_all(int fd, const unsigned char *p, size_t len) {
  while (len > 0) {
    size_t chunk = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
    ssize_t w = write(fd, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return SMR_EIO;
    }
    p += w;
    len -= (size_t)w;
  }
  return SMR_OK;
}

/* Temporary files are "TARGET.tmp-PID-XXXXXX": PID is the writer's process
   id, so a later save can tell a temporary whose writer died (a SIGKILL
   between write and rename) from one being written right now. */
#define TMP_TAG ".tmp-"

/* Opens a fresh temporary beside target (mode 0666 & ~umask, like a plain
   fopen would create). */
static int open_temporary(const char *target, char *tmp, size_t size) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  static unsigned long counter;
  struct timespec ts = {0, 0};
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
               ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)tmp;
  for (int attempt = 0; attempt < 100; attempt++) {
    x += 0x9E3779B97F4A7C15ull * (1 + __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    char suffix[7];
    for (int i = 0; i < 6; i++) {
      suffix[i] = digits[z % 36];
      z /= 36;
    }
    suffix[6] = '\0';
    int n = snprintf(tmp, size, "%s" TMP_TAG "%ld-%s", target, (long)getpid(), suffix);
    if (n < 0 || (size_t)n >= size) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

/* Removes the temporaries of `target` left by writers that are no longer
   running on this machine (a process killed between write and rename).
   Best effort: what cannot be read or removed is left. */
static void remove_stale_temporaries(const char *target) {
  const char *slash = strrchr(target, '/');
  const char *base = slash != NULL ? slash + 1 : target;
  size_t dlen = slash != NULL ? (size_t)(slash - target) + 1 : 0, blen = strlen(base);
  char *dir = malloc(dlen + 2);
  if (dir == NULL) return;
  if (dlen > 0) memcpy(dir, target, dlen);
  else dir[dlen++] = '.';
  dir[dlen] = '\0';
  DIR *dp = opendir(dir);
  if (dp == NULL) {
    free(dir);
    return;
  }
  const size_t tag = strlen(TMP_TAG);
  struct dirent *e;
  while ((e = readdir(dp)) != NULL) {
    const char *nm = e->d_name;
    if (strncmp(nm, base, blen) != 0 || strncmp(nm + blen, TMP_TAG, tag) != 0) continue;
    const char *q = nm + blen + tag;
    char *end = NULL;
    errno = 0;
    long pid = strtol(q, &end, 10);
    if (end == q || *end != '-' || errno != 0 || pid <= 0 || strlen(end + 1) != 6) continue;
    if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    struct stat sb;
    if (fstatat(dirfd(dp), nm, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
      (void)unlinkat(dirfd(dp), nm, 0);
  }
  closedir(dp);
  free(dir);
}

/* Writes buf straight into an existing character device or FIFO (no
   temporary, no rename: there is no file to replace). */
static smr_status write_through(const char *path, const unsigned char *buf, size_t len,
                                smr_error_detail *err) {
  int fd;
  do {
    fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int e = errno;
    smr_set_error(err, 0, 0, "%s: cannot open: %s", path, strerror(e));
    errno = e;
    return SMR_EIO;
  }
  smr_status st = write_all(fd, buf, len);
  int e = errno;
  if (close(fd) != 0 && st == SMR_OK) {
    st = SMR_EIO;
    e = errno;
  }
  if (st != SMR_OK) {
    smr_set_error(err, 0, 0, "%s: write error: %s", path, strerror(e));
    errno = e;
  }
  return st;
}

static const char *file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

smr_status smr_model_save_file(const smr_model *m, const char *path, smr_error_detail *err) {
  if (m == NULL || path == NULL) {
    smr_set_error(err, 0, 0, "%s: NULL argument", path != NULL ? path : "<model>");
    return SMR_EINVAL;
  }
  void *buf = NULL;
  size_t len = 0;
  smr_status st = smr_model_save_buffer(m, &buf, &len);
  if (st != SMR_OK) {
    smr_set_error(err, 0, 0, "%s: %s", path, smr_strerror(st));
    return st;
  }
  /* The file the model replaces: path itself, or what a symbolic link at
     path resolves to (the link stays a link). */
  char *target = NULL;
  struct stat sb;
  bool exists = stat(path, &sb) == 0;
  if (exists) {
    if (S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)) {
      st = write_through(path, buf, len, err);
      free(buf);
      return st;
    }
    if (!S_ISREG(sb.st_mode)) {
      smr_set_error(err, 0, 0, "%s: %s; a model replaces only a regular file", path,
                    file_kind(sb.st_mode));
      free(buf);
      errno = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
      return SMR_EIO;
    }
    struct stat lsb;
    if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) target = realpath(path, NULL);
  }
  const char *dest = target != NULL ? target : path;
  size_t plen = strlen(dest), tlen = plen <= SIZE_MAX - 48 ? plen + 48 : 0;
  char *tmp = tlen > 0 ? malloc(tlen) : NULL;
  if (tmp == NULL) {
    free(target);
    free(buf);
    smr_set_error(err, 0, 0, "%s: out of memory", path);
    return SMR_ENOMEM;
  }
  remove_stale_temporaries(dest);
  int fd = open_temporary(dest, tmp, tlen);
  int e = errno;
  if (fd < 0) {
    smr_set_error(err, 0, 0, "%s: cannot create a file beside it: %s", path, strerror(e));
    st = SMR_EIO;
  } else {
    /* an existing model keeps its permission bits (and, where allowed, its
       owner) */
    if (exists) {
      if (fchmod(fd, sb.st_mode & 07777) != 0) st = SMR_EIO;
      if (st == SMR_OK && (sb.st_uid != geteuid() || sb.st_gid != getegid()))
        (void)!fchown(fd, sb.st_uid, sb.st_gid);
    }
    if (st == SMR_OK) st = write_all(fd, buf, len);
    if (st == SMR_OK && fsync(fd) != 0) st = SMR_EIO;
    e = errno;
    if (close(fd) != 0 && st == SMR_OK) {
      st = SMR_EIO;
      e = errno;
    }
    if (st == SMR_OK && rename(tmp, dest) != 0) {
      st = SMR_EIO;
      e = errno;
    }
    if (st != SMR_OK) {
      unlink(tmp);
      smr_set_error(err, 0, 0, "%s: cannot write the model: %s", path, strerror(e));
    }
  }
  free(tmp);
  free(target);
  free(buf);
  errno = e;
  return st;
}

smr_status smr_model_save(const smr_model *m, const char *path) {
  return smr_model_save_file(m, path, NULL);
}

/* ------------------------------------------------------------------------ */
/* Load                                                                      */
/* ------------------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static smr_status bad(smr_error_detail *err, const char *fmt, ...) {
  if (err != NULL) {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    smr_set_error(err, 0, 0, "%s", what);
  }
  return SMR_EFORMAT;
}

/* Messages below are written without a source name; the public entry points
   put theirs ("<memory>" or the path) in front, once. */
static void name_error(smr_error_detail *err, const char *name) {
  if (err == NULL) return;
  char what[sizeof err->message];
  memcpy(what, err->message, sizeof what);
  smr_set_error(err, 0, 0, "%s: %s", name, what);
}

/* Decoded layout of a checked buffer. */
typedef struct model_layout {
  size_t d, k, es;
  smr_dtype dtype;
  uint32_t flags;
  double learning_rate;
  size_t w_off, b_off, mean_off, scale_off, names_off, crc_off;
} model_layout;

/* "need" more bytes at *pos within the body (everything before the CRC). */
static bool take(size_t *pos, size_t need, size_t body) {
  if (*pos > body || need > body - *pos) return false;
  *pos += need;
  return true;
}

/* The header's fields (the first HEADER_BYTES bytes) into L. */
static smr_status check_header(const unsigned char *p, model_layout *L, smr_error_detail *err) {
  if (memcmp(p, MODEL_MAGIC, 8) != 0) return bad(err, "bad magic (not an smr model file)");
  uint32_t version = get_u32(p + 8);
  if (version != MODEL_VERSION)
    return bad(err, "unsupported version %lu (this library reads version %u)",
               (unsigned long)version, MODEL_VERSION);
  uint32_t dtype = get_u32(p + 12);
  if (dtype > 1) return bad(err, "bad dtype %lu", (unsigned long)dtype);
  uint64_t d = get_u64(p + 16), k = get_u64(p + 24);
  if (d == 0) return bad(err, "zero features");
  if (k == 0) return bad(err, "zero classes");
  if (k > (uint64_t)INT32_MAX) return bad(err, "too many classes (%llu)", (unsigned long long)k);
  if (d > SIZE_MAX) return bad(err, "too many features (%llu)", (unsigned long long)d);
  L->flags = get_u32(p + 32);
  if (L->flags & ~(FLAG_STANDARDIZATION | FLAG_CLASS_NAMES))
    return bad(err, "unknown flags 0x%lx", (unsigned long)L->flags);
  if (get_u32(p + 36) != 0) return bad(err, "nonzero reserved field");
  L->d = (size_t)d;
  L->k = (size_t)k;
  L->dtype = dtype == 0 ? SMR_F32 : SMR_F64;
  L->es = dtype == 0 ? sizeof(float) : sizeof(double);
  L->learning_rate = get_f64(p + 40);
  return SMR_OK;
}

/* The least and the most bytes a file with header L can hold (class names
   of 0 to SMR_MAX_NAME_LEN bytes), saturated at UINT64_MAX: the file
   reader's plausibility check before it reads the rest. */
static void layout_bounds(const model_layout *L, uint64_t *min_len, uint64_t *max_len) {
  /* d < 2^64 and k < 2^31: in long double (64-bit mantissa on x86, 113 on
     AArch64) the bound is exact enough to compare; saturate above 2^63 */
  const long double d = (long double)L->d, k = (long double)L->k, es = (long double)L->es;
  long double lo = (long double)HEADER_BYTES + CRC_BYTES + (d * k + k) * es;
  if (L->flags & FLAG_STANDARDIZATION) lo += 16.0L * d;
  long double hi = lo;
  if (L->flags & FLAG_CLASS_NAMES) {
    lo += 4.0L * k;
    hi += (4.0L + SMR_MAX_NAME_LEN) * k;
  }
  const long double cap = 9.2e18L;
  *min_len = lo >= cap ? UINT64_MAX : (uint64_t)lo;
  *max_len = hi >= cap ? UINT64_MAX : (uint64_t)hi;
}

static smr_status check_layout(const unsigned char *p, size_t len, model_layout *L,
                               smr_error_detail *err) {
  if (len < HEADER_BYTES + CRC_BYTES)
    return bad(err, "truncated: %zu bytes, less than the %u-byte minimum", len,
               HEADER_BYTES + CRC_BYTES);
  smr_status hs = check_header(p, L, err);
  if (hs != SMR_OK) return hs;
  const uint64_t d = L->d, k = L->k;

  /* Every section against the remaining length, before any allocation. */
  size_t body = len - CRC_BYTES, pos = HEADER_BYTES, bytes;
  L->w_off = pos;
  if (!smr_mul_ok(L->d, L->k, &bytes) || !smr_mul_ok(bytes, L->es, &bytes) ||
      !take(&pos, bytes, body))
    return bad(err, "truncated: weights (%llu x %llu) exceed the file", (unsigned long long)d,
               (unsigned long long)k);
  L->b_off = pos;
  if (!take(&pos, L->k * L->es, body)) return bad(err, "truncated: bias");
  L->mean_off = L->scale_off = 0;
  if (L->flags & FLAG_STANDARDIZATION) {
    L->mean_off = pos;
    if (!smr_mul_ok(L->d, sizeof(double), &bytes) || !take(&pos, bytes, body))
      return bad(err, "truncated: feature means");
    L->scale_off = pos;
    if (!take(&pos, bytes, body)) return bad(err, "truncated: feature scales");
  }
  L->names_off = pos;
  if (L->flags & FLAG_CLASS_NAMES) {
    for (size_t j = 0; j < L->k; j++) {
      if (!take(&pos, 4, body)) return bad(err, "truncated: class name %zu", j);
      uint32_t l = get_u32(p + pos - 4);
      if (l > SMR_MAX_NAME_LEN)
        return bad(err, "class name %zu too long (%lu bytes)", j, (unsigned long)l);
      if (!take(&pos, l, body)) return bad(err, "truncated: class name %zu", j);
      if (memchr(p + pos - l, '\0', l) != NULL)
        return bad(err, "NUL byte in class name %zu", j);
    }
  }
  if (pos != body) return bad(err, "%zu trailing bytes after the model", body - pos);
  L->crc_off = pos;
  if (get_u32(p + pos) != smr_crc32(0, p, pos)) return bad(err, "checksum mismatch");

  if (!isfinite(L->learning_rate) || !(L->learning_rate > 0))
    return bad(err, "invalid learning rate");
  if (L->flags & FLAG_STANDARDIZATION) {
    for (size_t j = 0; j < L->d; j++) {
      double mu = get_f64(p + L->mean_off + 8 * j), s = get_f64(p + L->scale_off + 8 * j);
      if (!isfinite(mu)) return bad(err, "non-finite feature mean %zu", j);
      if (!isfinite(s) || !(s > 0)) return bad(err, "invalid feature scale %zu", j);
    }
  }
  return SMR_OK;
}

static smr_status load_standardization(smr_model *m, const unsigned char *p,
                                       const model_layout *L, smr_error_detail *err) {
  double *v = malloc(2 * L->d * sizeof(double)); /* 16*d bytes are in the buffer */
  if (v == NULL) return SMR_ENOMEM;
  get_values(v, p + L->mean_off, L->d, sizeof(double));
  get_values(v + L->d, p + L->scale_off, L->d, sizeof(double));
  smr_status st = smr_model_set_standardization(m, v, v + L->d);
  free(v);
  if (st == SMR_EINVAL) return bad(err, "invalid standardization");
  return st;
}

static smr_status load_names(smr_model *m, const unsigned char *p, const model_layout *L,
                             smr_error_detail *err) {
  char **names = calloc(L->k, sizeof(char *)); /* k <= (file bytes) / 4 */
  if (names == NULL) return SMR_ENOMEM;
  smr_status st = SMR_OK;
  size_t pos = L->names_off;
  for (size_t j = 0; j < L->k && st == SMR_OK; j++) {
    size_t l = get_u32(p + pos);
    names[j] = malloc(l + 1);
    if (names[j] == NULL) {
      st = SMR_ENOMEM;
      break;
    }
    memcpy(names[j], p + pos + 4, l);
    names[j][l] = '\0';
    pos += 4 + l;
  }
  if (st == SMR_OK) {
    st = smr_model_set_class_names(m, (const char *const *)names);
    if (st == SMR_EINVAL) st = bad(err, "invalid class names");
  }
  for (size_t j = 0; j < L->k; j++) free(names[j]);
  free(names);
  return st;
}

/* smr_model_load_buffer without the source name in err's message. */
static smr_status load_buffer(smr_model **out, const unsigned char *p, size_t len,
                              smr_error_detail *err) {
  model_layout L;
  memset(&L, 0, sizeof L);
  smr_status st = check_layout(p, len, &L, err);
  if (st != SMR_OK) return st;

  smr_model *m = NULL;
  st = smr_model_create(&m, L.d, L.k, L.dtype, L.learning_rate, 0);
  if (st != SMR_OK) {
    smr_set_error(err, 0, 0, "cannot create the model: %s", smr_strerror(st));
    return st == SMR_EINVAL ? SMR_EFORMAT : st;
  }
  get_values(smr_model_weights(m), p + L.w_off, L.d * L.k, L.es);
  get_values(smr_model_bias(m), p + L.b_off, L.k, L.es);
  if (L.flags & FLAG_STANDARDIZATION) st = load_standardization(m, p, &L, err);
  if (st == SMR_OK && (L.flags & FLAG_CLASS_NAMES)) st = load_names(m, p, &L, err);
  if (st != SMR_OK) {
    if (st == SMR_ENOMEM) smr_set_error(err, 0, 0, "out of memory");
    smr_model_free(m);
    return st;
  }
  *out = m;
  return SMR_OK;
}

smr_status smr_model_load_buffer(smr_model **out, const void *buf, size_t len,
                                 smr_error_detail *err) {
  if (out == NULL || (buf == NULL && len > 0)) {
    smr_set_error(err, 0, 0, "<memory>: NULL argument");
    return SMR_EINVAL;
  }
  *out = NULL;
  const smr_status st = load_buffer(out, buf, len, err);
  if (st != SMR_OK) name_error(err, "<memory>");
  return st;
}

/* Reads exactly len bytes (fewer only at the end of the file: *got). */
static smr_status read_upto(int fd, unsigned char *buf, size_t len, size_t *got) {
  size_t have = 0;
  while (have < len) {
    size_t want = len - have > ((size_t)1 << 30) ? ((size_t)1 << 30) : len - have;
    ssize_t r = read(fd, buf + have, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      return SMR_EIO;
    }
    if (r == 0) break;
    have += (size_t)r;
  }
  *got = have;
  return SMR_OK;
}

/* Reads the header first and checks it, so that a file that is no model
   (/dev/zero, a 6 GiB file of something else) costs 48 bytes; then reads at
   most the most bytes that header allows (a regular file's size must lie
   between the least and the most before anything more is read). */
static smr_status read_model_file(const char *path, unsigned char **out, size_t *out_len,
                                  smr_error_detail *err) {
  int fd;
  do {
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int e = errno;
    smr_set_error(err, 0, 0, "%s: cannot open: %s", path, strerror(e));
    return SMR_EIO;
  }
  smr_status st = SMR_OK;
  unsigned char head[HEADER_BYTES], *buf = NULL;
  size_t got = 0, len = 0;
  struct stat sb;
  model_layout L;
  uint64_t min_len = 0, max_len = 0;
  if (fstat(fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
    errno = S_ISDIR(sb.st_mode) ? EISDIR : errno;
    st = SMR_EIO;
  }
  if (st == SMR_OK) st = read_upto(fd, head, HEADER_BYTES, &got);
  if (st == SMR_EIO) {
    const int e = errno;
    smr_set_error(err, 0, 0, "%s: cannot read: %s", path, strerror(e));
    goto done;
  }
  if (got < HEADER_BYTES) {
    st = bad(err, "truncated: %zu bytes, less than the %u-byte minimum", got,
             HEADER_BYTES + CRC_BYTES);
    name_error(err, path);
    goto done;
  }
  memset(&L, 0, sizeof L);
  st = check_header(head, &L, err);
  if (st == SMR_OK) layout_bounds(&L, &min_len, &max_len);
  if (st == SMR_OK && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < min_len)
    st = bad(err, "truncated: %llu bytes, but its header needs at least %llu",
             (unsigned long long)sb.st_size, (unsigned long long)min_len);
  if (st == SMR_OK && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max_len)
    st = bad(err, "%llu bytes, more than the %llu its header allows",
             (unsigned long long)sb.st_size, (unsigned long long)max_len);
  if (st == SMR_OK && (max_len > MAX_FILE_BYTES || max_len >= SIZE_MAX)) {
    /* max_len bounds what is read: a pipe claiming 2^40 bytes is not
       trusted that far */
    if (min_len > MAX_FILE_BYTES) st = bad(err, "implausibly large model (header)");
    else max_len = MAX_FILE_BYTES;
  }
  if (st != SMR_OK) {
    name_error(err, path);
    goto done;
  }
  /* regular files: their size (checked above); otherwise grow up to the
     most the header allows, plus one byte to see a longer stream */
  size_t cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : (size_t)min_len + 1;
  buf = malloc(cap);
  if (buf == NULL) {
    smr_set_error(err, 0, 0, "%s: out of memory", path);
    st = SMR_ENOMEM;
    goto done;
  }
  memcpy(buf, head, HEADER_BYTES);
  len = HEADER_BYTES;
  for (;;) {
    st = read_upto(fd, buf + len, cap - len, &got);
    if (st != SMR_OK) {
      const int e = errno;
      smr_set_error(err, 0, 0, "%s: cannot read: %s", path, strerror(e));
      goto done;
    }
    len += got;
    if (len < cap) break; /* the end */
    if (len > max_len) {
      st = bad(err, "longer than the %llu bytes its header allows", (unsigned long long)max_len);
      name_error(err, path);
      goto done;
    }
    size_t ncap = cap > (size_t)max_len / 2 ? (size_t)max_len + 1 : cap * 2;
    unsigned char *q = realloc(buf, ncap);
    if (q == NULL) {
      smr_set_error(err, 0, 0, "%s: out of memory", path);
      st = SMR_ENOMEM;
      goto done;
    }
    buf = q;
    cap = ncap;
  }
done:
  close(fd);
  if (st != SMR_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  *out_len = len;
  return SMR_OK;
}

smr_status smr_model_load_file(smr_model **out, const char *path, smr_error_detail *err) {
  if (out == NULL || path == NULL) return SMR_EINVAL;
  *out = NULL;
  unsigned char *buf = NULL;
  size_t len = 0;
  smr_status st = read_model_file(path, &buf, &len, err);
  if (st != SMR_OK) return st;
  st = load_buffer(out, buf, len, err);
  free(buf);
  if (st != SMR_OK) name_error(err, path);
  return st;
}

smr_status smr_model_load(smr_model **out, const char *path) {
  return smr_model_load_file(out, path, NULL);
}
