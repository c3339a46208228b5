/* The checkpoint parser: whatever it accepts describes a sane set of
 * units, and formats back to text that parses to the same checkpoint. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy/checkpoint.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size);

/* The input as it is, and as the first line with a correct digest (so
 * that the fuzzer reaches the JSON checks past the digest). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  unsigned char md[32];
  unsigned int mdlen = 0, i;
  char *text;

  check(data, size);
  if (memchr(data, '\n', size))
    return 0;
  text = malloc(size + 8 + 64 + 2);
  if (!text)
    return 0;
  memcpy(text, data, size);
  memcpy(text + size, "\nsha256 ", 8);
  EVP_Digest(data, size, md, &mdlen, EVP_sha256(), NULL);
  for (i = 0; i < 32; i++)
    snprintf(text + size + 8 + 2 * i, 3, "%02x", md[i]);
  text[size + 8 + 64] = '\n';
  check((const uint8_t *)text, size + 8 + 64 + 1);
  free(text);
  return 0;
}

static void check(const uint8_t *data, size_t size)
{
  static const struct checkpoint_identity id = {
      .source_id = "ovirt-disk:disk-1",
      .source_size = 24 << 20,
      .target_kind = "file",
      .target_size = 24 << 20,
      .target_ino = 12,
  };
  struct checkpoint *cp = NULL, *again = NULL;
  char *text = NULL, *text2 = NULL;
  size_t len = 0, len2 = 0;
  uint64_t i, done = 0;

  if (checkpoint_parse((const char *)data, size, "fuzz", &id, 0, &cp) == 0)
    checkpoint_free(cp);
  error_clear();
  cp = NULL;
  if (checkpoint_parse((const char *)data, size, "fuzz", NULL, 0, &cp) < 0) {
    error_clear();
    return;
  }
  for (i = 0; i < checkpoint_units(cp); i++)
    done += checkpoint_was_done(cp, i);
  if (done != checkpoint_done_units(cp) || checkpoint_was_done(cp, i) ||
      checkpoint_unit_size(cp) == 0)
    abort();
  if (checkpoint_format(cp, &text, &len) == 0) {
    if (checkpoint_parse(text, len, "fuzz", NULL, 0, &again) < 0)
      abort();
    if (checkpoint_format(again, &text2, &len2) < 0 || len != len2 ||
        memcmp(text, text2, len) != 0)
      abort();
  }
  error_clear();
  free(text);
  free(text2);
  checkpoint_free(again);
  checkpoint_free(cp);
}
