/* An oVirt provider file: where the engine is and how to log in.
 *
 * Either YAML, a mapping of scalars:
 *
 *   url: https://engine.example.com
 *   user: admin@internal
 *   passwordFile: engine.password     # or password: …
 *   cacert: engine-ca.pem
 *   insecureSkipVerify: false
 *
 * or the same as key=value lines ("# " starts a comment). A file whose
 * first line that is not blank or a comment holds '=' before any ':' is
 * key=value. Keys are those of Forklift's oVirt provider and secret
 * (url, user, password, cacert, insecureSkipVerify) plus passwordFile;
 * caFile is another name for cacert. Unknown keys are refused, naming the
 * line, so a typo never goes unnoticed. Relative paths (passwordFile,
 * cacert) are relative to the provider file's folder.
 *
 * Provider files are untrusted input: at most OVIRT_PROVIDER_MAX bytes,
 * and every error is one line naming the file and line; a password never
 * appears in an error.
 */
#ifndef HOIST_SOURCES_OVIRT_PROVIDER_H
#define HOIST_SOURCES_OVIRT_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#define OVIRT_PROVIDER_MAX (64 * 1024)
#define OVIRT_PASSWORD_MAX 4096

struct ovirt_provider {
  char *url, *user, *password, *password_file, *cacert;
  bool insecure, insecure_set;
};

/* Parses a provider from memory; `file` names it in messages and
 * anchors relative paths (NULL: the current folder). */
int ovirt_provider_parse(const char *data, size_t len, const char *file,
                         struct ovirt_provider *out);
/* Reads and parses a provider file. */
int ovirt_provider_load(const char *path, struct ovirt_provider *out);
/* Frees (and wipes the password); leaves it empty. */
void ovirt_provider_clear(struct ovirt_provider *p);

/* The password in a file: its first line, without the line end; an
 * empty password or an unreadable file is an error naming the file. */
int ovirt_read_password_file(const char *path, char **ret);

#endif
