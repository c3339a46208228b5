/* Where a Kubernetes API server is and how to authenticate to it.
 *
 * A config comes from a kubeconfig file (the current context or a named
 * one) or, inside a pod, from the service account that Kubernetes mounts
 * (KUBERNETES_SERVICE_HOST/PORT and
 * /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}).
 * kube_config_load() picks the way as client-go does: an explicit file,
 * else $KUBECONFIG, else in-cluster, else ~/.kube/config.
 *
 * A token read from a file (in-cluster, or a kubeconfig's tokenFile) is
 * read again when the file changes, so a rotated token is picked up (the
 * client checks the file's mtime at most every few seconds). Errors name
 * the file and the field that is wrong; no message ever shows a token or
 * a key.
 */
#ifndef HOIST_KUBE_CONFIG_H
#define HOIST_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Where the service account's files are in a pod. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
  char *server;     /* "https://host:port", no trailing slash */
  char *context;    /* name of the context used; NULL in-cluster */
  char *namespace;  /* the context's (or the pod's) namespace, or NULL */
  bool insecure;    /* insecure-skip-tls-verify: true */
  char *ca_file;    /* certificate-authority (a PEM file), or NULL */
  char *ca_data;    /* certificate-authority-data, decoded PEM, or NULL */
  char *token;      /* a bearer token, or NULL */
  char *token_file; /* a file holding the token, read again on change */
  char *cert_file;  /* client-certificate (PEM file), or NULL */
  char *cert_data;  /* client-certificate-data, decoded PEM, or NULL */
  char *key_file;   /* client-key (PEM file), or NULL */
  char *key_data;   /* client-key-data, decoded PEM, or NULL */
  char *origin;     /* where it came from, for messages: a file or
                       "in-cluster service account" */
};

/* Parses the kubeconfig text buf (YAML or JSON), naming `origin` in
 * messages; uses context `context` or, when NULL, current-context.
 * Relative file names in it are resolved against `base_dir` (NULL: the
 * current directory). */
int kube_config_parse(const char *buf, size_t len, const char *origin,
                      const char *base_dir, const char *context,
                      struct kube_config **ret);

/* Reads and parses the kubeconfig file `path`. */
int kube_config_load_file(const char *path, const char *context,
                          struct kube_config **ret);

/* The in-cluster config from the environment and the service account
 * files under dir (NULL: KUBE_SA_DIR). -ENOENT when not in a pod. */
int kube_config_in_cluster(const char *dir, struct kube_config **ret);

/* path if set, else $KUBECONFIG (its first file), else in-cluster when
 * KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. */
int kube_config_load(const char *path, const char *context,
                     struct kube_config **ret);

void kube_config_free(struct kube_config *cfg);

/* Reads a token file: its content without surrounding white space.
 * Caller frees. Errors name the file, never the content. */
int kube_read_token_file(const char *path, char **ret);

#endif
