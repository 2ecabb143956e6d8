/* msgpack values as JSON (jansson), for the sinks that write records out as JSON: store_jsonl
 * for whole records, store_sqlite for the unknown keys it keeps as JSON text. Every result is a
 * new reference the caller owns; NULL means out of memory. Not a general converter: msgpack
 * values that JSON cannot hold are mapped one fixed way, as said below. */
#ifndef NF_MSGPACK_JSON_H
#define NF_MSGPACK_JSON_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

/* A JSON string of n bytes; bytes that are not valid UTF-8 become U+FFFD each. */
json_t *mpjson_string(const char *s, size_t n);

/* Standard base64 (RFC 4648, padded) of n bytes, as a JSON string. */
json_t *mpjson_base64(const void *p, size_t n);

/* Sets obj[key] where key is n bytes (repaired like mpjson_string). Steals `val` even on
 * failure. Returns 0 or -1. */
int mpjson_set(json_t *obj, const char *key, size_t n, json_t *val);

/* One msgpack object as JSON: maps (non-string keys become their JSON text), arrays, strings,
 * integers (above INT64_MAX as reals), floats (NaN and infinities as null), booleans, nil; bin
 * as base64 text; ext as {"ext": type, "base64": data}. Deeper than 64 levels gives null. */
json_t *mpjson_from_object(const msgpack_object *o);

/* One encoded msgpack object. `zone` is scratch memory the caller clears when it likes.
 * NULL if it does not unpack or on allocation failure. */
json_t *mpjson_from_bytes(const void *buf, size_t n, msgpack_zone *zone);

#endif
