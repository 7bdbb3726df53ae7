/* util.c - status strings, version, error details, CRC-32. */
#include "internal.h"
#include "smr_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

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

/* ---- errors of the readers (csv.c, text_source.c) ---- */

static const char *display_name(const char *name) { return name != NULL ? name : "<memory>"; }

/* Sets err to "NAME:LINE:COL: what" and returns s. */
smr_status smr_fail_at(smr_error_detail *err, const char *name, smr_status s, size_t line,
                       size_t column, const char *fmt, ...) {
  if (err == NULL) return s;
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  name = display_name(name);
  if (line == 0)
    smr_set_error(err, 0, 0, "%s: %s", name, what);
  else if (column == 0)
    smr_set_error(err, line, 0, "%s:%zu: %s", name, line, what);
  else
    smr_set_error(err, line, column, "%s:%zu:%zu: %s", name, line, column, what);
  return s;
}

/* Thread-safe strerror (the XSI strerror_r under _POSIX_C_SOURCE). */
void smr_errno_text(int e, char *buf, size_t size) {
  if (strerror_r(e, buf, size) != 0) snprintf(buf, size, "error %d", e);
}
