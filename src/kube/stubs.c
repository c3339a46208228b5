/* Placeholders for the parts not written yet: each fails with ENOSYS. */
#include <errno.h>
#include <stdlib.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/watch.h"
#include "util/error.h"

#define NOSYS(what) error_set(ENOSYS, "%s: not implemented yet", what)

int kube_config_parse(const char *buf, size_t len, const char *origin,
                      const char *base_dir, const char *context,
                      struct kube_config **ret)
{
  (void)buf, (void)len, (void)origin, (void)base_dir, (void)context, (void)ret;
  return NOSYS("kubeconfig");
}

int kube_config_load_file(const char *path, const char *context,
                          struct kube_config **ret)
{
  (void)path, (void)context, (void)ret;
  return NOSYS("kubeconfig");
}

int kube_config_in_cluster(const char *dir, struct kube_config **ret)
{
  (void)dir, (void)ret;
  return NOSYS("in-cluster config");
}

int kube_config_load(const char *path, const char *context,
                     struct kube_config **ret)
{
  (void)path, (void)context, (void)ret;
  return NOSYS("kubeconfig");
}

void kube_config_free(struct kube_config *cfg)
{
  (void)cfg;
}

int kube_read_token_file(const char *path, char **ret)
{
  (void)path, (void)ret;
  return NOSYS("token file");
}

int kube_client_new(const struct kube_config *cfg,
                    const struct kube_client_options *opts,
                    struct kube_client **ret)
{
  (void)cfg, (void)opts, (void)ret;
  return NOSYS("kube client");
}

void kube_client_free(struct kube_client *c)
{
  (void)c;
}

const char *kube_client_namespace(const struct kube_client *c)
{
  (void)c;
  return "default";
}

void kube_client_counters(struct kube_client *c, struct kube_counters *ret)
{
  (void)c;
  *ret = (struct kube_counters){0};
}

long kube_last_code(void)
{
  return 0;
}

const char *kube_last_reason(void)
{
  return "";
}

int kube_request(struct kube_client *c, const char *method, const char *path,
                 const char *query, json_t *body, const char *content_type,
                 json_t **ret_json)
{
  (void)c, (void)method, (void)path, (void)query, (void)body,
      (void)content_type, (void)ret_json;
  return NOSYS("kube client");
}

int kube_request_text(struct kube_client *c, const char *method,
                      const char *path, const char *query, size_t max,
                      char **ret_body, size_t *ret_len)
{
  (void)c, (void)method, (void)path, (void)query, (void)max, (void)ret_body,
      (void)ret_len;
  return NOSYS("kube client");
}

int kube_status_error(const char *method, const char *path, long status,
                      const json_t *reply)
{
  (void)method, (void)path, (void)status, (void)reply;
  return NOSYS("kube client");
}

int kube_get(struct kube_client *c, const struct kube_resource *res,
             const char *ns, const char *name, json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)name, (void)ret;
  return NOSYS("kube client");
}

int kube_list(struct kube_client *c, const struct kube_resource *res,
              const char *ns, const struct kube_list_options *opts,
              json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)opts, (void)ret;
  return NOSYS("kube client");
}

int kube_list_page(struct kube_client *c, const struct kube_resource *res,
                   const char *ns, const struct kube_list_options *opts,
                   const char *cont, json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)opts, (void)cont, (void)ret;
  return NOSYS("kube client");
}

int kube_create(struct kube_client *c, const struct kube_resource *res,
                const char *ns, json_t *obj, json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)obj, (void)ret;
  return NOSYS("kube client");
}

int kube_update(struct kube_client *c, const struct kube_resource *res,
                const char *ns, const char *sub, json_t *obj, json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)sub, (void)obj, (void)ret;
  return NOSYS("kube client");
}

int kube_patch(struct kube_client *c, const struct kube_resource *res,
               const char *ns, const char *name, const char *sub,
               enum kube_patch_type type, json_t *patch, json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)name, (void)sub, (void)type, (void)patch,
      (void)ret;
  return NOSYS("kube client");
}

int kube_delete(struct kube_client *c, const struct kube_resource *res,
                const char *ns, const char *name,
                const struct kube_delete_options *opts, json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)name, (void)opts, (void)ret;
  return NOSYS("kube client");
}

int kube_update_retry(struct kube_client *c, const struct kube_resource *res,
                      const char *ns, const char *name, const char *sub,
                      kube_mutate_fn mutate, void *opaque, json_t **ret)
{
  (void)c, (void)res, (void)ns, (void)name, (void)sub, (void)mutate,
      (void)opaque, (void)ret;
  return NOSYS("kube client");
}

const char *kube_event_type_name(enum kube_event_type t)
{
  (void)t;
  return "?";
}

int kube_event_parser_new(size_t max, struct kube_event_parser **ret)
{
  (void)max, (void)ret;
  return NOSYS("watch");
}

void kube_event_parser_free(struct kube_event_parser *p)
{
  (void)p;
}

int kube_event_parser_feed(struct kube_event_parser *p, const char *buf,
                           size_t len, kube_event_fn fn, void *opaque)
{
  (void)p, (void)buf, (void)len, (void)fn, (void)opaque;
  return NOSYS("watch");
}

int kube_event_parser_finish(struct kube_event_parser *p)
{
  (void)p;
  return NOSYS("watch");
}

int kube_watch(struct kube_client *c, const struct kube_resource *res,
               const char *ns, const struct kube_watch_options *opts,
               kube_event_fn fn, void *opaque)
{
  (void)c, (void)res, (void)ns, (void)opts, (void)fn, (void)opaque;
  return NOSYS("watch");
}

int kube_informer_new(struct kube_client *c,
                      const struct kube_informer_options *opts,
                      const struct kube_informer_handlers *handlers,
                      struct kube_informer **ret)
{
  (void)c, (void)opts, (void)handlers, (void)ret;
  return NOSYS("informer");
}

int kube_informer_start(struct kube_informer *inf)
{
  (void)inf;
  return NOSYS("informer");
}

bool kube_informer_has_synced(struct kube_informer *inf)
{
  (void)inf;
  return false;
}

bool kube_informer_wait_synced(struct kube_informer *inf, double timeout)
{
  (void)inf, (void)timeout;
  return false;
}

json_t *kube_informer_get(struct kube_informer *inf, const char *key)
{
  (void)inf, (void)key;
  return NULL;
}

size_t kube_informer_foreach(struct kube_informer *inf,
                             void (*fn)(json_t *obj, void *opaque),
                             void *opaque)
{
  (void)inf, (void)fn, (void)opaque;
  return 0;
}

size_t kube_informer_size(struct kube_informer *inf)
{
  (void)inf;
  return 0;
}

void kube_informer_stats(struct kube_informer *inf,
                         struct kube_informer_stats *ret)
{
  (void)inf;
  *ret = (struct kube_informer_stats){0};
}

void kube_informer_stop(struct kube_informer *inf)
{
  (void)inf;
}

void kube_informer_free(struct kube_informer *inf)
{
  (void)inf;
}

int kube_leader_new(struct kube_client *c,
                    const struct kube_leader_options *opts,
                    struct kube_leader **ret)
{
  (void)c, (void)opts, (void)ret;
  return NOSYS("leader election");
}

int kube_leader_start(struct kube_leader *le)
{
  (void)le;
  return NOSYS("leader election");
}

bool kube_leader_is_leader(struct kube_leader *le)
{
  (void)le;
  return false;
}

bool kube_leader_lost(struct kube_leader *le)
{
  (void)le;
  return false;
}

bool kube_leader_wait(struct kube_leader *le, double timeout)
{
  (void)le, (void)timeout;
  return false;
}

void kube_leader_stop(struct kube_leader *le)
{
  (void)le;
}

void kube_leader_free(struct kube_leader *le)
{
  (void)le;
}
