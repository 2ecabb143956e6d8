/* msgpack values as JSON (jansson), for the sinks that write records out as JSON: store_jsonl
 * for whole records, store_sqlite and store_pg for the unknown keys they keep as JSON text. Every
 * result is a new reference the caller owns; NULL means out of memory. Not a general converter:
 * msgpack values that JSON cannot hold are mapped one fixed way, as said below. */
#ifndef NF_MSGPACK_JSON_H
#define NF_MSGPACK_JSON_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

#include "newsflow/record.h"

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

/* Sets obj[key] for each of the record's unknown keys, its value converted like
 * mpjson_from_object. `zone` as for mpjson_from_bytes. Returns 0, or -1 on allocation failure or
 * a value that does not unpack (obj then holds the keys before it). */
int mpjson_add_extra(json_t *obj, struct nf_record *rec, msgpack_zone *zone);

/* Dumps v (JSON_COMPACT) at *buf + at, first growing *buf (capacity *cap, doubling) so that
 * `spare` bytes are left after it. Returns the JSON's length, 0 when it cannot be dumped; when
 * at + length + spare is then more than *cap, growing failed (*buf unchanged, still owned by
 * the caller). */
size_t mpjson_dump(const json_t *v, char **buf, size_t *cap, size_t at, size_t spare);

/* The record's unknown keys as one JSON object, dumped with mpjson_dump at *buf + at; its
 * length in *len_out, 0 when the record has none. `zone` as for mpjson_from_bytes. Returns 0,
 * or -1 on allocation failure or a value that does not unpack. */
int mpjson_dump_extra(struct nf_record *rec, msgpack_zone *zone, char **buf, size_t *cap,
                      size_t at, size_t *len_out);

#endif
