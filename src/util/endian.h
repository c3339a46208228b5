/* Unaligned little/big-endian loads from on-disk structures. */
#ifndef HOIST_UTIL_ENDIAN_H
#define HOIST_UTIL_ENDIAN_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t load_le16(const void *p)
{
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return le16toh(v);
}

static inline uint32_t load_le32(const void *p)
{
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return le32toh(v);
}

static inline uint64_t load_le64(const void *p)
{
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return le64toh(v);
}

static inline uint16_t load_be16(const void *p)
{
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return be16toh(v);
}

static inline uint32_t load_be32(const void *p)
{
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return be32toh(v);
}

static inline uint64_t load_be64(const void *p)
{
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return be64toh(v);
}

#endif
