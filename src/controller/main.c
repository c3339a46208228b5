/* hoist-controller: the volume populator controller (see controller.h and
 * docs/controller.md). Logs one plain line per event on stderr. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/controller.h"
#include "controller/health.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/leader.h"
#include "util/cleanup.h"
#include "util/error.h"

static const char usage[] =
    "Usage: hoist-controller [OPTIONS]\n"
    "\n"
    "Populates PVCs whose dataSourceRef names an OvirtVolumePopulator or\n"
    "an OpenstackVolumePopulator (forklift.konveyor.io/v1beta1): a prime\n"
    "PVC, a hoist-populator pod as its first consumer, then the volume\n"
    "handed to the PVC; progress in the CR's status.\n"
    "\n"
    "Cluster:\n"
    "  --kubeconfig FILE      default: $KUBECONFIG, in-cluster, "
    "~/.kube/config\n"
    "  --context NAME         the kubeconfig's context\n"
    "  --namespace NS         only PVCs of NS (default: all namespaces)\n"
    "  --qps N, --burst N     client-side rate limit (default 20, 40)\n"
    "\n"
    "Populator pods:\n"
    "  --populator-image IMAGE   the image (default\n"
    "                         quay.io/hoist/hoist-populator:latest)\n"
    "  --populator-command PATH  hoist-populator's path in the image\n"
    "                         (default /usr/bin/hoist-populator)\n"
    "  --populator-uid UID    run the pods as UID with runAsNonRoot\n"
    "                         (default 107, qemu); 0: as the image's user,\n"
    "                         for nodes that cannot give a non-root user\n"
    "                         the volume\n"
    "  --populator-arg ARG    one more argument for every pod (repeatable)\n"
    "  --restart-limit N      attempts per PVC (default 3); the failed pods\n"
    "                         are kept for their logs\n"
    "  --group-job FILE       a Job (JSON) to create once every PVC of a VM\n"
    "                         (label hoist.io/vm) is populated and bound\n"
    "\n"
    "Progress:\n"
    "  --progress-interval S  at most one status write per PVC every S\n"
    "                         seconds (default 10)\n"
    "  --scrape-interval S    read the pods' /metrics every S s (default 2)\n"
    "  --metrics-via-proxy    read /metrics through the API server's pod\n"
    "                         proxy instead of the pod's IP\n"
    "\n"
    "Leader election (on unless --no-leader-elect; --leader-elect is\n"
    "accepted):\n"
    "  --leader-elect-namespace NS  the Lease's namespace (default: the\n"
    "                         config's namespace; also\n"
    "                         --leader-election-namespace)\n"
    "  --leader-elect-name NAME     the Lease (default hoist-controller)\n"
    "  --leader-elect-identity ID   this replica (default: $POD_NAME, else\n"
    "                         host name and pid)\n"
    "  --lease-duration S, --renew-deadline S, --retry-period S\n"
    "                         (default 15, 10, 2)\n"
    "  --no-leader-elect      act without a Lease (one replica only!)\n"
    "\n"
    "  --health-addr [HOST]:PORT  HTTP: GET /healthz (200 while running)\n"
    "                         and /metrics (API requests by verb)\n"
    "  --workers N            parallel syncs (default 4)\n"
    "  -h, --help             this help\n"
    "\n"
    "Exit status: 0 after SIGTERM/SIGINT, 1 on an error or when the lease\n"
    "is lost, 2 for a usage error. At exit one line gives the API requests\n"
    "made (reads, writes).\n";

static struct ctl *volatile running;
static struct kube_leader *volatile leader;

/* SIGTERM and SIGINT are blocked in every thread and taken here, so that
 * stopping (locks, condition variables) never runs in a signal handler. */
static void *signal_thread(void *opaque)
{
  sigset_t *set = opaque;
  int sig;

  if (sigwait(set, &sig) == 0) {
    ctl_log("signal %d: stopping", sig);
    if (running)
      ctl_stop(running);
  }
  return NULL;
}

static void on_lost(void *opaque)
{
  (void)opaque;
  if (running)
    ctl_stop(running);
}

enum {
  OPT_KUBECONFIG = 256,
  OPT_CONTEXT,
  OPT_NAMESPACE,
  OPT_QPS,
  OPT_BURST,
  OPT_IMAGE,
  OPT_COMMAND,
  OPT_UID,
  OPT_ARG,
  OPT_LIMIT,
  OPT_GROUP_JOB,
  OPT_PROGRESS,
  OPT_SCRAPE,
  OPT_PROXY,
  OPT_LE_NS,
  OPT_LE_NAME,
  OPT_LE_ID,
  OPT_LEASE,
  OPT_RENEW,
  OPT_RETRY,
  OPT_NO_LE,
  OPT_WORKERS,
  OPT_LE,
  OPT_HEALTH,
};

static const struct option options[] = {
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"qps", required_argument, NULL, OPT_QPS},
    {"burst", required_argument, NULL, OPT_BURST},
    {"populator-image", required_argument, NULL, OPT_IMAGE},
    {"populator-command", required_argument, NULL, OPT_COMMAND},
    {"populator-uid", required_argument, NULL, OPT_UID},
    {"populator-arg", required_argument, NULL, OPT_ARG},
    {"restart-limit", required_argument, NULL, OPT_LIMIT},
    {"group-job", required_argument, NULL, OPT_GROUP_JOB},
    {"progress-interval", required_argument, NULL, OPT_PROGRESS},
    {"scrape-interval", required_argument, NULL, OPT_SCRAPE},
    {"metrics-via-proxy", no_argument, NULL, OPT_PROXY},
    {"leader-elect-namespace", required_argument, NULL, OPT_LE_NS},
    {"leader-election-namespace", required_argument, NULL, OPT_LE_NS},
    {"leader-elect", no_argument, NULL, OPT_LE},
    {"health-addr", required_argument, NULL, OPT_HEALTH},
    {"leader-elect-name", required_argument, NULL, OPT_LE_NAME},
    {"leader-elect-identity", required_argument, NULL, OPT_LE_ID},
    {"lease-duration", required_argument, NULL, OPT_LEASE},
    {"renew-deadline", required_argument, NULL, OPT_RENEW},
    {"retry-period", required_argument, NULL, OPT_RETRY},
    {"no-leader-elect", no_argument, NULL, OPT_NO_LE},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad(const char *flag, const char *value)
{
  fprintf(stderr, "hoist-controller: %s: \"%s\" is not valid\n", flag, value);
  return 2;
}

static bool number(const char *s, double min, double max, double *ret)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= min && v <= max))
    return false;
  *ret = v;
  return true;
}

int main(int argc, char **argv)
{
  const char *kubeconfig = NULL, *context = NULL, *le_ns = NULL,
             *le_name = "hoist-controller", *le_id = getenv("POD_NAME"),
             *health_addr = NULL;
  struct ctl_health *health = NULL;
  static sigset_t sigs;
  pthread_t sig_thread;
  struct ctl_options o = {
      .pod = {"quay.io/hoist/hoist-populator:latest",
              "/usr/bin/hoist-populator", 107, NULL},
  };
  struct kube_client_options co = {.qps = 20, .burst = 40};
  struct kube_leader_options lo = {0};
  _cleanup_free_ const char **extra = calloc((size_t)argc + 1, sizeof *extra);
  struct kube_config *cfg = NULL;
  struct kube_client *client = NULL;
  struct kube_counters kc;
  char identity[300];
  bool elect = true;
  size_t nextra = 0;
  int opt, r, status = 0;
  double v;

  if (!extra)
    return 1;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case OPT_KUBECONFIG:
      kubeconfig = optarg;
      break;
    case OPT_CONTEXT:
      context = optarg;
      break;
    case OPT_NAMESPACE:
      o.ns = optarg;
      break;
    case OPT_QPS:
      if (!number(optarg, -1, 1e6, &co.qps))
        return bad("--qps", optarg);
      break;
    case OPT_BURST:
      if (!number(optarg, 1, 1e6, &v))
        return bad("--burst", optarg);
      co.burst = (int)v;
      break;
    case OPT_IMAGE:
      o.pod.image = optarg;
      break;
    case OPT_COMMAND:
      o.pod.populator = optarg;
      break;
    case OPT_UID:
      if (!number(optarg, 0, 2147483647, &v))
        return bad("--populator-uid", optarg);
      o.pod.run_as_user = (long)v;
      break;
    case OPT_ARG:
      extra[nextra++] = optarg;
      break;
    case OPT_LIMIT:
      if (!number(optarg, 1, 100, &v))
        return bad("--restart-limit", optarg);
      o.restart_limit = (unsigned)v;
      break;
    case OPT_GROUP_JOB:
      o.group_job = optarg;
      break;
    case OPT_PROGRESS:
      if (!number(optarg, 0.1, 3600, &o.progress_interval))
        return bad("--progress-interval", optarg);
      break;
    case OPT_SCRAPE:
      if (!number(optarg, 0.1, 3600, &o.scrape_interval))
        return bad("--scrape-interval", optarg);
      break;
    case OPT_PROXY:
      o.use_pod_proxy = true;
      break;
    case OPT_LE_NS:
      le_ns = optarg;
      break;
    case OPT_LE_NAME:
      le_name = optarg;
      break;
    case OPT_LE_ID:
      le_id = optarg;
      break;
    case OPT_LEASE:
      if (!number(optarg, 1, 3600, &lo.lease_duration))
        return bad("--lease-duration", optarg);
      break;
    case OPT_RENEW:
      if (!number(optarg, 0.5, 3600, &lo.renew_deadline))
        return bad("--renew-deadline", optarg);
      break;
    case OPT_RETRY:
      if (!number(optarg, 0.1, 3600, &lo.retry_period))
        return bad("--retry-period", optarg);
      break;
    case OPT_NO_LE:
      elect = false;
      break;
    case OPT_LE:
      elect = true;
      break;
    case OPT_HEALTH:
      health_addr = optarg;
      break;
    case OPT_WORKERS:
      if (!number(optarg, 1, 64, &v))
        return bad("--workers", optarg);
      o.workers = (unsigned)v;
      break;
    case 'h':
      fputs(usage, stdout);
      return 0;
    default:
      fputs("Try 'hoist-controller --help'.\n", stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "hoist-controller: unexpected argument \"%s\"\n",
            argv[optind]);
    return 2;
  }
  o.pod.extra_args = nextra ? extra : NULL;
  co.user_agent = "hoist-controller";

  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  if ((r = kube_config_load(kubeconfig, context, &cfg)) < 0 ||
      (r = kube_client_new(cfg, &co, &client)) < 0 ||
      (r = ctl_new(client, &o, (struct ctl **)&running)) < 0 ||
      (health_addr && (r = ctl_health_start(health_addr, client, &health)) < 0))
    goto out;
  if (pthread_create(&sig_thread, NULL, signal_thread, &sigs) == 0)
    pthread_detach(sig_thread);
  if (elect) {
    char host[256] = "hoist-controller";

    gethostname(host, sizeof host - 1);
    snprintf(identity, sizeof identity, "%s_%d", host, (int)getpid());
    lo.ns = le_ns;
    lo.name = le_name;
    lo.identity = le_id && *le_id ? le_id : identity;
    lo.stopped = on_lost;
    if ((r = kube_leader_new(client, &lo, (struct kube_leader **)&leader)) <
            0 ||
        (r = kube_leader_start(leader)) < 0)
      goto out;
    ctl_log("waiting to lead (Lease %s, identity %s)", le_name, lo.identity);
    while (!kube_leader_wait(leader, 1)) {
      if (atomic_load(&running->stop))
        goto out;
    }
    ctl_log("leading");
  }
  r = ctl_run(running);
  if (r == 0 && leader && kube_leader_lost(leader))
    r = error_set(ENOLCK, "lost the lease: exiting so that the new leader "
                          "acts alone");
out:
  if (r < 0) {
    ctl_log("%s", error_message() ? error_message() : "failed");
    status = 1;
  }
  if (leader) {
    kube_leader_stop(leader);
    kube_leader_free(leader);
  }
  {
    struct ctl *c = running;

    running = NULL;
    ctl_free(c);
  }
  ctl_health_stop(health);
  if (client) {
    kube_client_counters(client, &kc);
    ctl_log("API requests: %llu reads (%llu get, %llu list, %llu watch), "
            "%llu writes (%llu create, %llu update, %llu patch, "
            "%llu delete)",
            (unsigned long long)kc.reads, (unsigned long long)kc.get,
            (unsigned long long)kc.list, (unsigned long long)kc.watch,
            (unsigned long long)kc.writes, (unsigned long long)kc.create,
            (unsigned long long)kc.update, (unsigned long long)kc.patch,
            (unsigned long long)kc.delete_);
  }
  kube_client_free(client);
  kube_config_free(cfg);
  return status;
}
