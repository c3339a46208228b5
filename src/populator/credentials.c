/* Credentials from the populator's Secret: environment variables (as
 * envFrom injects them), else files in the mounted secret directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "populator/populator.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/readfile.h"

/* A CA bundle fits in this; anything larger is not a credential. */
#define SECRET_FILE_MAX (1024 * 1024)

/* Reads dir/name; *ret stays NULL when there is no such file. */
static int read_file(const char *dir, const char *name, char **ret)
{
  _cleanup_free_ char *path = NULL, *buf = NULL;
  _cleanup_close_ int fd = -1;
  size_t len = 0;
  int r;

  *ret = NULL;
  if (!dir)
    return 0;
  if (asprintf(&path, "%s/%s", dir, name) < 0) {
    path = NULL;
    return error_set(ENOMEM, "out of memory");
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
    return 0;
  if (fd < 0)
    return error_errno("%s: cannot read the credential", path);
  r = read_fd_whole(fd, path, SECRET_FILE_MAX, &buf, &len);
  if (r < 0)
    return r;
  if (strlen(buf) != len)
    return error_set(EINVAL, "%s: holds a NUL byte", path);
  *ret = TAKE_PTR(buf);
  return 0;
}

/* One trailing newline, as `kubectl create secret --from-file` keeps. */
static void chomp(char *s)
{
  size_t n = strlen(s);

  if (n && s[n - 1] == '\n')
    s[--n] = 0;
  if (n && s[n - 1] == '\r')
    s[--n] = 0;
}

/* The value of `name`: the environment variable, else the file. */
static int get_value(const char *dir, const char *name, bool trim, char **ret)
{
  const char *env = getenv(name);
  int r;

  if (env && *env) {
    *ret = strdup(env);
    if (!*ret)
      return error_set(ENOMEM, "out of memory");
  } else {
    r = read_file(dir, name, ret);
    if (r < 0)
      return r;
  }
  if (*ret && trim)
    chomp(*ret);
  return 0;
}

/* PEM text from the environment, into a private file curl can read. */
static int write_private_cacert(const char *pem, char **ret)
{
  const char *tmpdir = getenv("TMPDIR");
  _cleanup_free_ char *path = NULL;
  _cleanup_close_ int fd = -1;
  size_t len = strlen(pem), done = 0;

  if (asprintf(&path, "%s/hoist-populator-ca-XXXXXX",
               tmpdir && *tmpdir ? tmpdir : "/tmp") < 0) {
    path = NULL;
    return error_set(ENOMEM, "out of memory");
  }
  fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0)
    return error_errno("%s: cannot write the CA certificate", path);
  while (done < len) {
    ssize_t n = write(fd, pem + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int r = error_errno("%s: cannot write the CA certificate", path);
      unlink(path);
      return r;
    }
    done += (size_t)n;
  }
  *ret = TAKE_PTR(path);
  return 0;
}

static int load_cacert(const char *dir, struct pop_credentials *c)
{
  const char *env = getenv("cacert");
  _cleanup_free_ char *path = NULL;
  static const char *const names[] = {"cacert", "ca.crt"};
  size_t i;
  int r;

  if (env && *env) {
    r = write_private_cacert(env, &c->cacert_file);
    c->cacert_is_tmp = r == 0;
    return r;
  }
  for (i = 0; dir && i < ARRAY_SIZE(names); i++) {
    struct stat st;
    if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
      path = NULL;
      return error_set(ENOMEM, "out of memory");
    }
    if (stat(path, &st) == 0 && st.st_size > 0) {
      c->cacert_file = TAKE_PTR(path);
      return 0;
    }
    free(TAKE_PTR(path));
  }
  return 0;
}

static int parse_bool(const char *s, bool *ret)
{
  if (!strcasecmp(s, "true") || streq(s, "1") || !strcasecmp(s, "yes")) {
    *ret = true;
    return 0;
  }
  if (!strcasecmp(s, "false") || streq(s, "0") || !strcasecmp(s, "no") || !*s) {
    *ret = false;
    return 0;
  }
  return -1;
}

int pop_credential_value(const char *secret_dir, const char *name, char **ret)
{
  *ret = NULL;
  return get_value(secret_dir, name, true, ret);
}

int pop_credentials_load(const char *secret_dir, struct pop_credentials *c)
{
  _cleanup_free_ char *insecure = NULL;
  int r;

  *c = (struct pop_credentials){0};
  if ((r = get_value(secret_dir, "user", true, &c->user)) < 0 ||
      (r = get_value(secret_dir, "password", true, &c->password)) < 0 ||
      (r = get_value(secret_dir, "url", true, &c->url)) < 0 ||
      (r = get_value(secret_dir, "insecureSkipVerify", true, &insecure)) < 0 ||
      (r = load_cacert(secret_dir, c)) < 0) {
    pop_credentials_clear(c);
    return r;
  }
  /* Masked in every line printed from now on. */
  pop_log_add_secret(c->password);
  if (insecure) {
    c->insecure_set = true;
    if (parse_bool(insecure, &c->insecure) < 0) {
      pop_credentials_clear(c);
      return error_set(EINVAL, "the Secret's insecureSkipVerify is neither "
                               "true nor false");
    }
  }
  return 0;
}

void pop_credentials_clear(struct pop_credentials *c)
{
  if (c->password)
    explicit_bzero(c->password, strlen(c->password));
  free(c->user);
  free(c->password);
  free(c->url);
  if (c->cacert_file && c->cacert_is_tmp)
    unlink(c->cacert_file);
  free(c->cacert_file);
  *c = (struct pop_credentials){0};
}
