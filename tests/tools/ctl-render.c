/* Test tool: prints what hoist-controller would create for a user's PVC
 * and its populator CR (JSON files), without a cluster:
 *   ctl-render PVC.json CR.json [ATTEMPT [RUN_AS_USER]]
 * → {"labels":…, "target":{…}, "prime":…, "pod":…} or an error line. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "controller/labels.h"
#include "controller/podspec.h"
#include "controller/prime.h"
#include "util/error.h"

int main(int argc, char **argv)
{
  json_t *pvc, *cr, *labels = NULL, *prime = NULL, *pod = NULL, *out;
  struct ctl_target t;
  struct ctl_pod_options o = {"hoist-populator:latest",
                              "/usr/bin/hoist-populator", 107, NULL};
  unsigned attempt = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
  int kind;

  if (argc < 3) {
    fprintf(stderr, "usage: ctl-render PVC.json CR.json [ATTEMPT [UID]]\n");
    return 2;
  }
  if (argc > 4)
    o.run_as_user = atol(argv[4]);
  pvc = json_load_file(argv[1], 0, NULL);
  cr = json_load_file(argv[2], 0, NULL);
  if (!pvc || !cr) {
    fprintf(stderr, "cannot read the JSON files\n");
    return 2;
  }
  kind = ctl_kind_of_pvc(pvc);
  if (kind < 0) {
    fprintf(stderr, "ctl-render: not a hoist populator PVC\n");
    json_decref(pvc);
    json_decref(cr);
    return 1;
  }
  labels = ctl_labels(pvc, cr);
  if (ctl_target_parse(pvc, &t) < 0 ||
      !(prime = ctl_prime_build(pvc, labels)) ||
      !(pod = ctl_pod_build(pvc, cr, kind, labels, attempt, &o))) {
    fprintf(stderr, "ctl-render: %s\n", error_message());
    error_clear();
    json_decref(labels);
    json_decref(prime);
    json_decref(pvc);
    json_decref(cr);
    return 1;
  }
  out = json_pack("{s:o, s:{s:I, s:I, s:b}, s:o, s:o}", "labels", labels,
                  "target", "request", (json_int_t)t.request, "usable",
                  (json_int_t)t.usable, "block", t.block, "prime", prime, "pod",
                  pod);
  json_dumpf(out, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
  putchar('\n');
  json_decref(out);
  json_decref(pvc);
  json_decref(cr);
  return 0;
}
