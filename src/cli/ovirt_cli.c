/* oVirt provider options and interrupts (see ovirt_cli.h). */
#include "cli/ovirt_cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"

#define P(s) names_printable((s), (char[128]){0}, 128)
#define TRANSFER_TIMEOUT_MAX (24 * 3600)

int cli_ovirt_option(struct cli_ovirt *o, const char *cmd, int opt,
                     const char *arg)
{
  unsigned long long v;

  switch (opt) {
  case OPT_OVIRT_ENGINE:
    o->engine = arg;
    return 1;
  case OPT_OVIRT_USER:
    o->user = arg;
    return 1;
  case OPT_OVIRT_PASSWORD_FILE:
    o->password_file = arg;
    return 1;
  case OPT_OVIRT_CACERT:
    o->cacert = arg;
    return 1;
  case OPT_OVIRT_INSECURE:
    o->insecure = true;
    return 1;
  case OPT_OVIRT_PROVIDER:
    o->provider = arg;
    return 1;
  case OPT_OVIRT_TRANSFER_TIMEOUT:
    if (cli_parse_uint(arg, TRANSFER_TIMEOUT_MAX, &v) < 0 || v == 0) {
      fprintf(stderr,
              "%s %s: --transfer-timeout takes seconds (1 to %d), not "
              "\"%s\"; run 'hoist %s --help'\n",
              cli_program, cmd, TRANSFER_TIMEOUT_MAX, P(arg), cmd);
      return -1;
    }
    o->transfer_timeout = v;
    return 1;
  default:
    return 0;
  }
}

static int fail(const char *cmd)
{
  fprintf(stderr, "%s %s: %s\n", cli_program, cmd,
          error_message() ? error_message() : "failed");
  error_clear();
  return -1;
}

int cli_ovirt_config(struct cli_ovirt *o, const char *cmd, const char *url,
                     struct ovirt_config *cfg)
{
  const char *env = getenv("HOIST_OVIRT_PASSWORD");

  memset(cfg, 0, sizeof *cfg);
  if (o->provider && ovirt_provider_load(o->provider, &o->prov) < 0)
    return fail(cmd);
  cfg->url = url ? url : o->engine ? o->engine : o->prov.url;
  cfg->user = o->user ? o->user : o->prov.user;
  cfg->cacert = o->cacert ? o->cacert : o->prov.cacert;
  cfg->insecure = o->insecure || (o->prov.insecure_set && o->prov.insecure);
  cfg->transfer_timeout = o->transfer_timeout;
  if (!cfg->url) {
    fprintf(stderr,
            "%s %s: which engine? give --engine https://ENGINE-HOST or a "
            "--provider file with its url\n",
            cli_program, cmd);
    return -1;
  }
  if (o->password_file) {
    if (ovirt_read_password_file(o->password_file, &o->password) < 0)
      return fail(cmd);
    cfg->password = o->password;
  } else if (o->prov.password_file) {
    if (ovirt_read_password_file(o->prov.password_file, &o->password) < 0)
      return fail(cmd);
    cfg->password = o->password;
  } else if (o->prov.password) {
    cfg->password = o->prov.password;
  } else if (env && *env) {
    cfg->password = env;
  }
  if (cfg->insecure)
    fprintf(stderr,
            "%s %s: warning: TLS certificate verification is off "
            "(--insecure): the engine and its hosts are not "
            "authenticated\n",
            cli_program, cmd);
  return 0;
}

void cli_ovirt_clear(struct cli_ovirt *o)
{
  if (o->password) {
    explicit_bzero(o->password, strlen(o->password));
    free(o->password);
    o->password = NULL;
  }
  ovirt_provider_clear(&o->prov);
}

/* ---- interrupts ---- */

/* The transfers in progress (the disks of a VM are copied in parallel). */
#define CURRENT_MAX 16
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ovirt_transfer *current[CURRENT_MAX];
static atomic_int received;
static atomic_bool *stop_flag;

static void *wait_signals(void *arg)
{
  sigset_t *set = arg;

  for (;;) {
    int sig;

    if (sigwait(set, &sig) != 0)
      continue;
    if (atomic_load(&received))
      _exit(128 + sig);
    atomic_store(&received, sig);
    atomic_store(stop_flag, true);
    pthread_mutex_lock(&current_lock);
    size_t running = 0;
    for (size_t i = 0; i < CURRENT_MAX; i++)
      running += current[i] != NULL;
    fprintf(stderr, "%s: %s: stopping%s (again to quit at once)\n", cli_program,
            sig == SIGINT ? "interrupted" : "terminated",
            running > 1    ? "; the image transfers in progress are cancelled"
            : running == 1 ? "; the image transfer in progress is cancelled"
                           : "");
    for (size_t i = 0; i < CURRENT_MAX; i++) {
      if (current[i] && ovirt_transfer_abort(current[i]) < 0)
        fprintf(stderr, "%s: cannot cancel the image transfer: %s\n",
                cli_program, error_message() ? error_message() : "failed");
      error_clear();
    }
    pthread_mutex_unlock(&current_lock);
  }
  return NULL;
}

int cli_interrupts_start(atomic_bool *stop)
{
  static sigset_t set;
  pthread_t thread;
  int r;

  stop_flag = stop;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  r = pthread_sigmask(SIG_BLOCK, &set, NULL);
  if (r == 0)
    r = pthread_create(&thread, NULL, wait_signals, &set);
  if (r == 0)
    r = pthread_detach(thread);
  if (r != 0) {
    errno = r;
    return error_errno("cannot set up the interrupt handling");
  }
  return 0;
}

int cli_interrupts_register(struct ovirt_transfer *t)
{
  size_t i;

  pthread_mutex_lock(&current_lock);
  for (i = 0; i < CURRENT_MAX && current[i]; i++)
    ;
  if (i < CURRENT_MAX)
    current[i] = t;
  pthread_mutex_unlock(&current_lock);
  if (i == CURRENT_MAX)
    return error_set(EBUSY, "too many image transfers at once");
  return 0;
}

void cli_interrupts_unregister(struct ovirt_transfer *t)
{
  size_t i;

  pthread_mutex_lock(&current_lock);
  for (i = 0; i < CURRENT_MAX; i++)
    if (current[i] == t)
      current[i] = NULL;
  pthread_mutex_unlock(&current_lock);
}

int cli_interrupts_signal(void)
{
  return atomic_load(&received);
}
