/* Checkpoints of a copy (see checkpoint.h). */
#include "copy/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "copy/dest.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

#define FORMAT_NAME "hoist-checkpoint"
#define FORMAT_VERSION 1
#define DEFAULT_INTERVAL 5.0
#define UNIT_MIN (1ull * 1024 * 1024)
#define UNIT_MAX (64ull * 1024 * 1024)
/* What a file may say: any multiple of 4 KiB up to 1 GiB. */
#define PARSE_UNIT_MIN 4096ull
#define PARSE_UNIT_MAX (1024ull * 1024 * 1024)
#define DIGEST_HEX 64

struct checkpoint {
  char *path;
  char *source_id;
  uint64_t source_size;
  char *target_kind;
  uint64_t target_size, target_dev, target_ino;
  uint64_t unit_size, units;
  double interval;

  uint8_t *loaded;  /* done when loaded (never changes) */
  uint8_t *durable; /* done and flushed (changed by saves only) */
  uint8_t *pending; /* finished since the last save (under lock) */
  uint8_t *scratch; /* the pending set being saved (under save_lock) */
  size_t map_bytes;
  _Atomic uint64_t durable_count;

  pthread_mutex_t lock;      /* pending, last_save */
  pthread_mutex_t save_lock; /* one save at a time; durable, scratch */
  double last_save;
};

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool bit_get(const uint8_t *map, uint64_t i)
{
  return map[i / 8] & (1u << (i % 8));
}

static void bit_set(uint8_t *map, uint64_t i)
{
  map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static uint64_t count_bits(const uint8_t *map, size_t bytes)
{
  uint64_t n = 0;
  size_t i;

  for (i = 0; i < bytes; i++)
    n += (uint64_t)__builtin_popcount(map[i]);
  return n;
}

uint64_t checkpoint_default_unit_size(uint64_t size)
{
  uint64_t u = size / 64 + (size % 64 != 0);

  u = ROUND_UP(u, UNIT_MIN);
  return MAX(MIN(u, UNIT_MAX), UNIT_MIN);
}

static uint64_t units_for(uint64_t size, uint64_t unit_size)
{
  return size / unit_size + (size % unit_size != 0);
}

void checkpoint_free(struct checkpoint *cp)
{
  if (!cp)
    return;
  free(cp->path);
  free(cp->source_id);
  free(cp->target_kind);
  free(cp->loaded);
  free(cp->durable);
  free(cp->pending);
  free(cp->scratch);
  pthread_mutex_destroy(&cp->lock);
  pthread_mutex_destroy(&cp->save_lock);
  free(cp);
}
DEFINE_CLEANUP_FUNC(struct checkpoint, checkpoint_free)

/* A checkpoint with no unit done yet; the caller checks the sizes. */
static int alloc_checkpoint(const char *path, const char *source_id,
                            uint64_t source_size, const char *target_kind,
                            uint64_t unit_size, double interval,
                            struct checkpoint **ret)
{
  _cleanup_(checkpoint_freep) struct checkpoint *cp = calloc(1, sizeof *cp);

  if (!cp)
    return error_set(ENOMEM, "out of memory");
  pthread_mutex_init(&cp->lock, NULL);
  pthread_mutex_init(&cp->save_lock, NULL);
  cp->source_size = source_size;
  cp->unit_size = unit_size;
  cp->units = units_for(source_size, unit_size);
  cp->interval = interval > 0 ? interval : DEFAULT_INTERVAL;
  cp->map_bytes = cp->units / 8 + 1;
  cp->path = strdup(path ? path : "");
  cp->source_id = strdup(source_id);
  cp->target_kind = strdup(target_kind);
  cp->loaded = calloc(1, cp->map_bytes);
  cp->durable = calloc(1, cp->map_bytes);
  cp->pending = calloc(1, cp->map_bytes);
  cp->scratch = calloc(1, cp->map_bytes);
  if (!cp->path || !cp->source_id || !cp->target_kind || !cp->loaded ||
      !cp->durable || !cp->pending || !cp->scratch)
    return error_set(ENOMEM, "out of memory");
  cp->last_save = now();
  *ret = TAKE_PTR(cp);
  return 0;
}

static bool identity_valid(const struct checkpoint_identity *id)
{
  return id->source_id && *id->source_id &&
         strlen(id->source_id) <= CHECKPOINT_ID_MAX && id->target_kind &&
         (streq(id->target_kind, "file") || streq(id->target_kind, "block"));
}

int checkpoint_new(const char *path, const struct checkpoint_identity *id,
                   double interval, struct checkpoint **ret)
{
  uint64_t unit = checkpoint_default_unit_size(id->source_size);
  struct checkpoint *cp;
  int r;

  if (!identity_valid(id))
    return error_set(EINVAL,
                     "%s: a checkpoint needs a source id of at most "
                     "%d bytes and a target kind (file or block)",
                     path, CHECKPOINT_ID_MAX);
  if (units_for(id->source_size, unit) > CHECKPOINT_UNITS_MAX)
    return error_set(EFBIG,
                     "%s: the disk (%llu bytes) is too large for a "
                     "checkpoint",
                     path, (unsigned long long)id->source_size);
  r = alloc_checkpoint(path, id->source_id, id->source_size, id->target_kind,
                       unit, interval, &cp);
  if (r < 0)
    return r;
  cp->target_size = id->target_size;
  cp->target_dev = id->target_dev;
  cp->target_ino = id->target_ino;
  *ret = cp;
  return 0;
}

/* ---- the text ---- */

static void sha256_hex(const void *data, size_t len, char hex[DIGEST_HEX + 1])
{
  unsigned char md[32];
  unsigned int mdlen = 0;
  unsigned int i;

  EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
  for (i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  hex[DIGEST_HEX] = 0;
}

int checkpoint_format(struct checkpoint *cp, char **ret, size_t *ret_len)
{
  _cleanup_free_ char *idjson = NULL;
  char *buf = NULL, hex[DIGEST_HEX + 1];
  size_t len = 0, line_len;
  json_t *idstr;
  FILE *f;
  uint64_t i;
  bool first = true;

  idstr = json_string(cp->source_id);
  idjson = idstr ? json_dumps(idstr, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
  json_decref(idstr);
  if (!idjson)
    return error_set(ENOMEM, "out of memory");
  f = open_memstream(&buf, &len);
  if (!f)
    return error_set(ENOMEM, "out of memory");
  fprintf(f,
          "{\"format\":\"%s\",\"version\":%d,\"source\":{\"id\":%s,"
          "\"size\":%llu},\"target\":{\"kind\":\"%s\",\"size\":%llu,"
          "\"dev\":%lld,\"ino\":%lld},\"unit_size\":%llu,\"units\":%llu,"
          "\"done\":[",
          FORMAT_NAME, FORMAT_VERSION, idjson,
          (unsigned long long)cp->source_size, cp->target_kind,
          (unsigned long long)cp->target_size, (long long)cp->target_dev,
          (long long)cp->target_ino, (unsigned long long)cp->unit_size,
          (unsigned long long)cp->units);
  for (i = 0; i < cp->units;) {
    uint64_t j;

    if (cp->durable[i / 8] == 0 && i % 8 == 0) {
      i += 8;
      continue;
    }
    if (!bit_get(cp->durable, i)) {
      i++;
      continue;
    }
    for (j = i; j + 1 < cp->units && bit_get(cp->durable, j + 1); j++)
      ;
    fprintf(f, "%s[%llu,%llu]", first ? "" : ",", (unsigned long long)i,
            (unsigned long long)j);
    first = false;
    i = j + 1;
  }
  fputs("]}", f);
  if (fclose(f) != 0) {
    free(buf);
    return error_set(ENOMEM, "out of memory");
  }
  line_len = len;
  sha256_hex(buf, line_len, hex);
  {
    char *full = NULL;
    int n = asprintf(&full, "%s\nsha256 %s\n", buf, hex);
    free(buf);
    if (n < 0)
      return error_set(ENOMEM, "out of memory");
    *ret = full;
    *ret_len = (size_t)n;
  }
  return 0;
}

static int get_u64(json_t *obj, const char *key, bool any_sign, uint64_t *out)
{
  json_t *v = json_object_get(obj, key);

  if (!json_is_integer(v) || (!any_sign && json_integer_value(v) < 0))
    return -1;
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

/* Marks the "done" ranges; they must be in order and not touch. */
static int parse_done(struct checkpoint *cp, json_t *done, const char *path)
{
  uint64_t next = 0; /* the lowest unit the next range may start at */
  size_t i;
  json_t *pair;

  if (!json_is_array(done))
    return error_set(EINVAL, "%s: \"done\" is not a list", path);
  json_array_foreach(done, i, pair)
  {
    json_t *ja = json_array_get(pair, 0), *jb = json_array_get(pair, 1);
    json_int_t a, b, k;

    if (!json_is_array(pair) || json_array_size(pair) != 2 ||
        !json_is_integer(ja) || !json_is_integer(jb))
      return error_set(EINVAL, "%s: done range %zu is not [first, last]", path,
                       i);
    a = json_integer_value(ja);
    b = json_integer_value(jb);
    if (a < 0 || b < a || (uint64_t)b >= cp->units || (uint64_t)a < next)
      return error_set(EINVAL,
                       "%s: done range %zu [%lld, %lld] is out of order or "
                       "outside the %llu units",
                       path, i, (long long)a, (long long)b,
                       (unsigned long long)cp->units);
    for (k = a; k <= b; k++) {
      bit_set(cp->loaded, (uint64_t)k);
      bit_set(cp->durable, (uint64_t)k);
    }
    next = (uint64_t)b + 2;
  }
  return 0;
}

/* Why a checkpoint does not belong to `id`, or NULL if it does. */
static const char *mismatch(const struct checkpoint *cp,
                            const struct checkpoint_identity *id)
{
  if (!streq(cp->source_id, id->source_id))
    return "it was made for another source";
  if (cp->source_size != id->source_size)
    return "the source has another size";
  if (!streq(cp->target_kind, id->target_kind))
    return "the target is of another kind";
  if (cp->target_size != id->target_size)
    return "the target has another size";
  if (cp->target_dev != id->target_dev || cp->target_ino != id->target_ino)
    return "the target is another file or device";
  return NULL;
}

static int parse_line(json_t *j, const char *path,
                      const struct checkpoint_identity *id, double interval,
                      struct checkpoint **ret)
{
  _cleanup_(checkpoint_freep) struct checkpoint *cp = NULL;
  json_t *src = json_object_get(j, "source");
  json_t *tgt = json_object_get(j, "target");
  json_t *v;
  const char *sid, *kind, *why;
  uint64_t ssize, tsize, tdev, tino, unit, units, version;
  int r;

  v = json_object_get(j, "format");
  if (!json_is_string(v) || !streq(json_string_value(v), FORMAT_NAME))
    return error_set(EINVAL, "%s: not a hoist checkpoint", path);
  if (get_u64(j, "version", false, &version) < 0 || version != FORMAT_VERSION)
    return error_set(EINVAL, "%s: unknown checkpoint version", path);
  v = json_object_get(src, "id");
  sid = json_string_value(v);
  if (!sid || !*sid || strlen(sid) > CHECKPOINT_ID_MAX ||
      strlen(sid) != json_string_length(v) ||
      get_u64(src, "size", false, &ssize) < 0)
    return error_set(EINVAL, "%s: the source is not described", path);
  kind = json_string_value(json_object_get(tgt, "kind"));
  if (!kind || (!streq(kind, "file") && !streq(kind, "block")) ||
      get_u64(tgt, "size", false, &tsize) < 0 ||
      get_u64(tgt, "dev", true, &tdev) < 0 ||
      get_u64(tgt, "ino", true, &tino) < 0)
    return error_set(EINVAL, "%s: the target is not described", path);
  if (get_u64(j, "unit_size", false, &unit) < 0 || unit < PARSE_UNIT_MIN ||
      unit > PARSE_UNIT_MAX || unit % PARSE_UNIT_MIN != 0)
    return error_set(EINVAL, "%s: the unit size is missing or out of range",
                     path);
  if (get_u64(j, "units", false, &units) < 0 ||
      units != units_for(ssize, unit) || units > CHECKPOINT_UNITS_MAX)
    return error_set(EINVAL, "%s: the number of units does not match the size",
                     path);
  r = alloc_checkpoint(path, sid, ssize, kind, unit, interval, &cp);
  if (r < 0)
    return r;
  cp->target_size = tsize;
  cp->target_dev = tdev;
  cp->target_ino = tino;
  if (id && (why = mismatch(cp, id)))
    return error_set(ESTALE, "%s: %s (%s, %llu bytes)", path, why, sid,
                     (unsigned long long)ssize);
  r = parse_done(cp, json_object_get(j, "done"), path);
  if (r < 0)
    return r;
  atomic_store(&cp->durable_count, count_bits(cp->durable, cp->map_bytes));
  *ret = TAKE_PTR(cp);
  return 0;
}

int checkpoint_parse(const char *text, size_t len, const char *path,
                     const struct checkpoint_identity *id, double interval,
                     struct checkpoint **ret)
{
  static const char tag[] = "sha256 ";
  const char *nl = memchr(text, '\n', len);
  const char *sum;
  size_t line_len, rest;
  char hex[DIGEST_HEX + 1];
  json_t *j;
  int r;

  if (!path)
    path = "checkpoint";
  if (len > CHECKPOINT_FILE_MAX)
    return error_set(EFBIG, "%s: larger than %u bytes", path,
                     CHECKPOINT_FILE_MAX);
  if (!nl)
    return error_set(EINVAL, "%s: truncated (no digest line)", path);
  line_len = (size_t)(nl - text);
  sum = nl + 1;
  rest = len - line_len - 1;
  if (rest < sizeof tag - 1 + DIGEST_HEX ||
      memcmp(sum, tag, sizeof tag - 1) != 0 ||
      !(rest == sizeof tag - 1 + DIGEST_HEX ||
        (rest == sizeof tag + DIGEST_HEX &&
         sum[sizeof tag - 1 + DIGEST_HEX] == '\n')))
    return error_set(EINVAL, "%s: the digest line is malformed", path);
  sha256_hex(text, line_len, hex);
  if (memcmp(hex, sum + sizeof tag - 1, DIGEST_HEX) != 0)
    return error_set(EINVAL, "%s: the digest does not match the content", path);
  j = json_loadb(text, line_len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    return error_set(EINVAL, "%s: not a JSON object", path);
  }
  r = parse_line(j, path, id, interval, ret);
  json_decref(j);
  return r;
}

/* ---- the file ---- */

static int read_capped(int fd, const char *path, char **ret, size_t *ret_len)
{
  struct stat st;
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;

  if (fstat(fd, &st) < 0)
    return error_errno("%s: cannot stat the checkpoint", path);
  if (st.st_size > (off_t)CHECKPOINT_FILE_MAX)
    return error_set(EFBIG, "%s: larger than %u bytes", path,
                     CHECKPOINT_FILE_MAX);
  buf = malloc((size_t)st.st_size + 1);
  if (!buf)
    return error_set(ENOMEM, "out of memory");
  while (len < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_errno("%s: cannot read the checkpoint", path);
    if (n == 0)
      break;
    len += (size_t)n;
  }
  buf[len] = 0;
  *ret = TAKE_PTR(buf);
  *ret_len = len;
  return 0;
}

int checkpoint_load(const char *path, const struct checkpoint_identity *id,
                    double interval, struct checkpoint **ret, char **ret_why)
{
  _cleanup_close_ int fd = -1;
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  int r;

  *ret = NULL;
  *ret_why = NULL;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return error_errno("%s: cannot open the checkpoint", path);
  r = read_capped(fd, path, &text, &len);
  if (r == -EFBIG)
    goto discard;
  if (r < 0)
    return r;
  r = checkpoint_parse(text, len, path, id, interval, ret);
  if (r == -ENOMEM)
    return r;
  if (r == 0)
    return 1;
discard:
  *ret_why = strdup(error_message() ? error_message() : "unreadable");
  error_clear();
  if (!*ret_why)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

static int fsync_dir_of(const char *path)
{
  _cleanup_free_ char *copy = strdup(path);
  _cleanup_close_ int fd = -1;

  if (!copy)
    return error_set(ENOMEM, "out of memory");
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) < 0)
    return error_errno("%s: cannot flush the directory of the checkpoint",
                       path);
  return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Temporary file, fsync, rename over the old one, fsync the directory. */
static int write_file(struct checkpoint *cp)
{
  _cleanup_free_ char *text = NULL, *tmp = NULL;
  _cleanup_close_ int fd = -1;
  size_t len = 0;
  int r;

  r = checkpoint_format(cp, &text, &len);
  if (r < 0)
    return r;
  if (asprintf(&tmp, "%s.tmp", cp->path) < 0) {
    tmp = NULL;
    return error_set(ENOMEM, "out of memory");
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return error_errno("%s: cannot write the checkpoint", tmp);
  if (write_all(fd, text, len) < 0 || fsync(fd) < 0) {
    r = error_errno("%s: cannot write the checkpoint", tmp);
    unlink(tmp);
    return r;
  }
  if (rename(tmp, cp->path) < 0) {
    r = error_errno("%s: cannot move the checkpoint into place", cp->path);
    unlink(tmp);
    return r;
  }
  return fsync_dir_of(cp->path);
}

int checkpoint_write(struct checkpoint *cp)
{
  int r;

  pthread_mutex_lock(&cp->save_lock);
  r = write_file(cp);
  pthread_mutex_unlock(&cp->save_lock);
  return r;
}

/* Under save_lock: flush the data of the finished units, then record
 * them. */
static int save_locked(struct checkpoint *cp, struct dest *dst)
{
  size_t i;
  bool any = false;
  int r;

  pthread_mutex_lock(&cp->lock);
  for (i = 0; i < cp->map_bytes; i++) {
    cp->scratch[i] = cp->pending[i];
    any |= cp->pending[i] != 0;
    cp->pending[i] = 0;
  }
  cp->last_save = now();
  pthread_mutex_unlock(&cp->lock);
  if (!any)
    return 0;
  r = dest_flush(dst);
  if (r < 0) {
    pthread_mutex_lock(&cp->lock);
    for (i = 0; i < cp->map_bytes; i++)
      cp->pending[i] |= cp->scratch[i];
    pthread_mutex_unlock(&cp->lock);
    return r;
  }
  for (i = 0; i < cp->map_bytes; i++)
    cp->durable[i] |= cp->scratch[i];
  atomic_store(&cp->durable_count, count_bits(cp->durable, cp->map_bytes));
  return write_file(cp);
}

int checkpoint_unit_done(struct checkpoint *cp, uint64_t unit, struct dest *dst)
{
  bool due;
  int r = 0;

  if (unit >= cp->units)
    return 0;
  pthread_mutex_lock(&cp->lock);
  bit_set(cp->pending, unit);
  due = now() - cp->last_save >= cp->interval;
  pthread_mutex_unlock(&cp->lock);
  if (due && pthread_mutex_trylock(&cp->save_lock) == 0) {
    r = save_locked(cp, dst);
    pthread_mutex_unlock(&cp->save_lock);
  }
  return r;
}

int checkpoint_save(struct checkpoint *cp, struct dest *dst)
{
  int r;

  pthread_mutex_lock(&cp->save_lock);
  r = save_locked(cp, dst);
  pthread_mutex_unlock(&cp->save_lock);
  return r;
}

int checkpoint_remove(struct checkpoint *cp)
{
  if (unlink(cp->path) < 0 && errno != ENOENT)
    return error_errno("%s: cannot remove the checkpoint", cp->path);
  return fsync_dir_of(cp->path);
}

uint64_t checkpoint_unit_size(const struct checkpoint *cp)
{
  return cp->unit_size;
}

uint64_t checkpoint_units(const struct checkpoint *cp)
{
  return cp->units;
}

bool checkpoint_was_done(const struct checkpoint *cp, uint64_t unit)
{
  return unit < cp->units && bit_get(cp->loaded, unit);
}

uint64_t checkpoint_done_units(struct checkpoint *cp)
{
  return atomic_load(&cp->durable_count);
}

const char *checkpoint_path(const struct checkpoint *cp)
{
  return cp->path;
}
