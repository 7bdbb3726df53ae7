/* util.c - status strings, version, error details, CRC-32. */
#include "internal.h"
#include "smr_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *smr_strerror(smr_status s) {
  switch (s) {
  case SMR_OK: return "success";
  case SMR_EINVAL: return "invalid argument";
  case SMR_ERANGE: return "value out of range (a label outside [0, k), or a number beyond the dtype)";
  case SMR_EOVERFLOW: return "size overflow";
  case SMR_ENOMEM: return "out of memory";
  case SMR_EUNSUPPORTED: return "instruction set not available";
  case SMR_EIO: return "input/output error";
  case SMR_EFORMAT: return "malformed file";
  case SMR_ENONFINITE: return "non-finite loss or parameters (training diverged)";
  }
  return "unknown status";
}

const char *smr_version(void) { return SMR_VERSION_STRING; }

void smr_set_error(smr_error_detail *err, size_t line, size_t column,
                   const char *fmt, ...) {
  if (err == NULL) return;
  err->line = line;
  err->column = column;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
}

/* Table-driven CRC-32, polynomial 0xEDB88320 (reflected 0x04C11DB7). */
static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int j = 0; j < 8; j++) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  crc_ready = true;
}

uint32_t smr_crc32(uint32_t crc, const void *buf, size_t len) {
  /* The table is a pure function of i: racing initializers write the same
     values, and a reader that sees crc_ready = false recomputes it. */
  if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE)) {
    crc_init();
    __atomic_store_n(&crc_ready, true, __ATOMIC_RELEASE);
  }
  const unsigned char *p = buf;
  crc = ~crc;
  for (size_t i = 0; i < len; i++) crc = crc_table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/* One read sized from fstat for regular files, growing for pipes. */
smr_status smr_read_file(const char *path, uint64_t max_bytes, unsigned char **out,
                         size_t *out_len, bool *open_failed) {
  if (open_failed != NULL) *open_failed = false;
  int fd;
  do {
    fd = open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (open_failed != NULL) *open_failed = true;
    return SMR_EIO;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return SMR_EIO;
  }
  uint64_t limit = max_bytes < SIZE_MAX ? max_bytes : SIZE_MAX - 1;
  size_t cap = 1u << 16;
  if (S_ISREG(sb.st_mode)) {
    if (sb.st_size < 0 || (uint64_t)sb.st_size > limit) {
      close(fd);
      return SMR_EFORMAT;
    }
    cap = (size_t)sb.st_size + 1; /* +1: a read of 0 confirms the end */
  }
  unsigned char *buf = malloc(cap);
  size_t len = 0;
  smr_status st = buf != NULL ? SMR_OK : SMR_ENOMEM;
  while (st == SMR_OK) {
    if (len == cap) { /* the file grew, or is not a regular file */
      if (cap > limit) {
        st = SMR_EFORMAT;
        break;
      }
      size_t ncap = cap > limit / 2 ? (size_t)limit + 1 : cap * 2;
      unsigned char *q = realloc(buf, ncap);
      if (q == NULL) {
        st = SMR_ENOMEM;
        break;
      }
      buf = q;
      cap = ncap;
    }
    size_t want = cap - len > ((size_t)1 << 30) ? ((size_t)1 << 30) : cap - len;
    ssize_t r = read(fd, buf + len, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      st = SMR_EIO;
    } else if (r == 0) {
      break;
    } else {
      len += (size_t)r;
    }
  }
  const int saved = errno; /* what callers report, not close()'s */
  close(fd);
  errno = saved;
  if (st == SMR_OK && len > limit) st = SMR_EFORMAT;
  if (st != SMR_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  *out_len = len;
  return SMR_OK;
}
