/*
 * text_source.h - the bytes of a text file, plain or gzip (every member;
 * other bytes after one are an error), read in pieces (internal;
 * src/text_source.c). The CSV reader parses what it returns as it arrives.
 */
#ifndef SMR_TEXT_SOURCE_H
#define SMR_TEXT_SOURCE_H

#include "internal.h"
#include "smr_config.h"

#include <stdbool.h>
#include <stddef.h>
#if SMR_HAVE_ZLIB
#include <zlib.h>
#endif

#define TEXT_CHUNK ((size_t)1 << 20) /* text bytes a reader asks for at a time */

typedef struct text_source {
  int fd;
  const char *name;
  smr_error_detail *err;
  bool gz, eof;
  unsigned char *in; /* IN_CHUNK: raw bytes read, not yet used */
  size_t in_len, in_pos;
#if SMR_HAVE_ZLIB
  z_stream zs;
  bool zs_ready, member_done;
#endif
} text_source;

/* Opens path and looks at its first bytes: gzip (1f 8b) or plain text.
   SMR_EIO (err says why) when it cannot be opened or read, SMR_EFORMAT for
   gzip in a build without zlib. Close it either way. */
smr_status smr_source_open(text_source *s, const char *path, smr_error_detail *err);
/* Up to room text bytes into out; *got = 0 at the end. */
smr_status smr_source_read(text_source *s, char *out, size_t room, size_t *got);
void smr_source_close(text_source *s);

#endif /* SMR_TEXT_SOURCE_H */
