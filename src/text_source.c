/*
 * text_source.c - a text file, plain or gzip, read in pieces
 * (text_source.h): raw reads of IN_CHUNK bytes, inflated here (every gzip
 * member, trailing non-gzip bytes an error).
 */
#include "text_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IN_CHUNK ((size_t)1 << 16)   /* compressed bytes per read */



static smr_status read_error(text_source *s, int e) {
  char ebuf[128];
  smr_errno_text(e, ebuf, sizeof ebuf);
  return smr_fail_at(s->err, s->name, SMR_EIO, 0, 0, "read error: %s", ebuf);
}

/* More raw bytes after the unused ones (moved to the front); at the end of
   the file s->eof. */
static smr_status fill_raw(text_source *s) {
  if (s->in_pos > 0) {
    memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
    s->in_len -= s->in_pos;
    s->in_pos = 0;
  }
  while (s->in_len < IN_CHUNK && !s->eof) {
    ssize_t got = read(s->fd, s->in + s->in_len, IN_CHUNK - s->in_len);
    if (got < 0) {
      if (errno == EINTR) continue;
      return read_error(s, errno);
    }
    if (got == 0) s->eof = true;
    s->in_len += (size_t)got;
    break;
  }
  return SMR_OK;
}

#if SMR_HAVE_ZLIB
/* Inflates into out; *got = 0 only at the end of the last member. gzip
   members may follow each other (all are read); anything else after a
   member is an error, as is a stream that ends inside a member. */
static smr_status gz_read(text_source *s, char *out, size_t room, size_t *got) {
  *got = 0;
  while (*got == 0) {
    if (s->member_done) {
      /* another member, the end, or trailing garbage */
      while (s->in_len - s->in_pos < 2 && !s->eof) {
        smr_status st = fill_raw(s);
        if (st != SMR_OK) return st;
      }
      const size_t left = s->in_len - s->in_pos;
      if (left == 0) return SMR_OK; /* the end */
      if (left < 2 || s->in[s->in_pos] != 0x1f || s->in[s->in_pos + 1] != 0x8b)
        return smr_fail_at(s->err, s->name, SMR_EFORMAT, 0, 0,
                    "data after the end of the gzip stream (not another gzip member)");
      if (inflateReset(&s->zs) != Z_OK)
        return smr_fail_at(s->err, s->name, SMR_ENOMEM, 0, 0, "out of memory");
      s->member_done = false;
    }
    if (s->in_pos == s->in_len) {
      if (s->eof) return smr_fail_at(s->err, s->name, SMR_EFORMAT, 0, 0, "truncated gzip data");
      smr_status st = fill_raw(s);
      if (st != SMR_OK) return st;
      continue;
    }
    s->zs.next_in = s->in + s->in_pos;
    s->zs.avail_in = (uInt)(s->in_len - s->in_pos);
    s->zs.next_out = (Bytef *)out;
    s->zs.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
    const uInt before = s->zs.avail_out;
    int z = inflate(&s->zs, Z_NO_FLUSH);
    s->in_pos = s->in_len - s->zs.avail_in;
    *got = before - s->zs.avail_out;
    if (z == Z_STREAM_END) {
      s->member_done = true;
    } else if (z == Z_MEM_ERROR) {
      return smr_fail_at(s->err, s->name, SMR_ENOMEM, 0, 0, "out of memory");
    } else if (z == Z_DATA_ERROR || z == Z_NEED_DICT || z == Z_STREAM_ERROR) {
      return smr_fail_at(s->err, s->name, SMR_EFORMAT, 0, 0, "corrupt gzip data: %s",
                  s->zs.msg != NULL ? s->zs.msg : "invalid data");
    } else if (z == Z_BUF_ERROR && s->eof && s->in_pos == s->in_len) {
      return smr_fail_at(s->err, s->name, SMR_EFORMAT, 0, 0, "truncated gzip data");
    }
  }
  return SMR_OK;
}
#endif

/* Up to room text bytes into out; *got = 0 at the end. */
smr_status smr_source_read(text_source *s, char *out, size_t room, size_t *got) {
#if SMR_HAVE_ZLIB
  if (s->gz) return gz_read(s, out, room, got);
#endif
  *got = 0;
  if (s->in_pos < s->in_len) { /* bytes read while looking for the gzip magic */
    size_t n = s->in_len - s->in_pos < room ? s->in_len - s->in_pos : room;
    memcpy(out, s->in + s->in_pos, n);
    s->in_pos += n;
    *got = n;
    return SMR_OK;
  }
  for (;;) {
    ssize_t r = read(s->fd, out, room > ((size_t)1 << 30) ? ((size_t)1 << 30) : room);
    if (r < 0) {
      if (errno == EINTR) continue;
      return read_error(s, errno);
    }
    *got = (size_t)r;
    return SMR_OK;
  }
}

/* Opens path and looks at its first bytes: gzip (1f 8b) or plain text. */
smr_status smr_source_open(text_source *s, const char *path, smr_error_detail *err) {
  memset(s, 0, sizeof *s);
  s->name = path;
  s->err = err;
  do {
    s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  } while (s->fd < 0 && errno == EINTR);
  if (s->fd < 0) {
    char ebuf[128];
    smr_errno_text(errno, ebuf, sizeof ebuf);
    return smr_fail_at(err, path, SMR_EIO, 0, 0, "cannot open: %s", ebuf);
  }
  struct stat sb;
  if (fstat(s->fd, &sb) == 0 && S_ISDIR(sb.st_mode))
    return smr_fail_at(err, path, SMR_EIO, 0, 0, "cannot read: is a directory");
  s->in = malloc(IN_CHUNK);
  if (s->in == NULL) return smr_fail_at(err, path, SMR_ENOMEM, 0, 0, "out of memory");
  while (s->in_len < 2 && !s->eof) {
    smr_status st = fill_raw(s);
    if (st != SMR_OK) return st;
  }
  s->gz = s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
  if (!s->gz) return SMR_OK;
#if SMR_HAVE_ZLIB
  if (inflateInit2(&s->zs, 15 + 16) != Z_OK) /* gzip wrapper only */
    return smr_fail_at(err, path, SMR_ENOMEM, 0, 0, "out of memory");
  s->zs_ready = true;
  return SMR_OK;
#else
  return smr_fail_at(err, path, SMR_EFORMAT, 0, 0,
              "gzip-compressed, but this smr was built without zlib (smr_has_zlib())");
#endif
}

void smr_source_close(text_source *s) {
#if SMR_HAVE_ZLIB
  if (s->zs_ready) inflateEnd(&s->zs);
#endif
  if (s->fd >= 0) close(s->fd);
  free(s->in);
}
