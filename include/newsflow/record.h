/* The newsflow record: one article as it travels between stages, encoded as a msgpack map.
 * Decoding is lazy and zero-copy: the record borrows the received bytes, indexes the top-level
 * keys, and materialises a field only when a stage asks for it. Unknown keys are kept as raw
 * bytes and re-emitted untouched. The schema is documented in docs/record.md. */
#ifndef NEWSFLOW_RECORD_H
#define NEWSFLOW_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NF_RECORD_VERSION 1
/* Largest encoded record a stage accepts by default (bytes). */
#define NF_RECORD_MAX_BYTES (64u << 20)
/* Deepest nesting of maps and arrays accepted inside a record. */
#define NF_RECORD_MAX_DEPTH 32 /* levels, the record map included */

/* The schema's fields, in the order they are encoded. Append only. */
enum nf_field {
    NF_F_V,            /* int: schema version */
    NF_F_ID,           /* str: 32 hex digits, stable 128-bit id */
    NF_F_SOURCE,       /* map {uri: str, kind: str} */
    NF_F_FETCHED_AT,   /* str: ISO 8601 UTC */
    NF_F_CONTENT_TYPE, /* str: media type, e.g. "text/plain" */
    NF_F_RAW,          /* bin: bytes as fetched */
    NF_F_TEXT,         /* str: clean body, UTF-8, NFC */
    NF_F_TITLE,        /* str */
    NF_F_BYLINE,       /* str */
    NF_F_OUTLET,       /* str */
    NF_F_PUBLISHED_AT, /* str: ISO 8601 date or date-time */
    NF_F_DATELINE,     /* map {place: str} */
    NF_F_LANG,         /* str: ISO 639-1 code */
    NF_F_ENTITIES,     /* array of {type, name, mentions} */
    NF_F_MINHASH,      /* bin */
    NF_F_DUP_OF,       /* str: id of the original when this record is a copy */
    NF_F_STORY_ID,     /* str */
    NF_F_URL,          /* str: canonical URL */
    NF_F_TRACE,        /* array of {stage, w, t}: stage hops, t in ms since the epoch */
    NF_F_ATTEMPT,      /* int: delivery attempt, 1 on first send */
    NF_F_ACK_TO,       /* str: endpoint of the source worker that awaits the acknowledgement */
    NF_F_SEQ,          /* int: the source worker's sequence number for this record */
    NF_F_READ_ORDER,   /* int: when the source first sent it (see below), kept through resends */
    NF_F_READ_PREV,    /* int: the read_order its source worker gave just before this one's */
    NF_F_COUNT
};

/* read_order = microseconds since NF_READ_ORDER_EPOCH (2020-01-01T00:00:00Z) of the record's
 * first send, strictly increasing within a source worker, shifted left by
 * NF_READ_ORDER_WORKER_BITS with the source worker's number in the low bits: which of two
 * records a source read first, the same however late or often either arrives. read_prev, set
 * with it, is the read_order the same worker gave just before (absent for the first one of a
 * process): no record of that worker has a read order between the two. */
#define NF_READ_ORDER_EPOCH INT64_C(1577836800)
#define NF_READ_ORDER_WORKER_BITS 10

enum nf_entity_type { NF_ENT_PERSON, NF_ENT_ORG, NF_ENT_PLACE, NF_ENT_OTHER };

struct nf_entity {
    enum nf_entity_type type;
    const char *name; /* canonical name, NUL-terminated */
    int64_t mentions;
};

struct nf_record;

/* A new, empty record. Caller owns it; NULL on allocation failure. */
struct nf_record *nf_record_new(void);
void nf_record_destroy(struct nf_record **rec);

/* Forgets every field but keeps the memory, so one record serves a whole stream. */
void nf_record_reset(struct nf_record *rec);

/* Indexes an encoded record. The record borrows `buf` until the next decode or reset: the caller
 * keeps it alive and unchanged. Returns 0, or -1 with a message for nf_record_error(): not a map,
 * truncated, too large, too deep, a known field of the wrong type, an unsupported version. */
int nf_record_decode(struct nf_record *rec, const void *buf, size_t len);

/* Decodes the first record of a stream of concatenated records (a batch as it travels between
 * stages) and sets *used to its length. Same borrowing and errors as nf_record_decode; after an
 * error the rest of the stream cannot be framed. */
int nf_record_decode_next(struct nf_record *rec, const void *buf, size_t len, size_t *used);

/* Limits applied by nf_record_decode (defaults NF_RECORD_MAX_BYTES, NF_RECORD_MAX_DEPTH). */
void nf_record_set_limits(struct nf_record *rec, size_t max_bytes, int max_depth);

/* The reason of the last failed call, valid until the next call on this record. */
const char *nf_record_error(const struct nf_record *rec);

/* A growable byte buffer the encoder appends to; reuse it across records. */
struct nf_buf {
    uint8_t *data;
    size_t len, cap;
};
void nf_buf_free(struct nf_buf *buf);
int nf_buf_append(struct nf_buf *buf, const void *p, size_t n);

/* Appends the encoded record to `out` (out->len is not reset). Unchanged fields and unknown keys
 * are copied as the bytes they arrived as. Returns 0 or -1 (allocation failure). */
int nf_record_encode(struct nf_record *rec, struct nf_buf *out);

bool nf_record_has(const struct nf_record *rec, enum nf_field f);
void nf_record_unset(struct nf_record *rec, enum nf_field f);

/* String fields. The result is NUL-terminated and stays valid until the field is set again or the
 * record is reset; NULL when absent (or nil). `len_out` may be NULL. */
const char *nf_record_str(struct nf_record *rec, enum nf_field f, size_t *len_out);
/* Copies `n` bytes of `s` (need not be NUL-terminated). Returns 0 or -1. */
int nf_record_set_str(struct nf_record *rec, enum nf_field f, const char *s, size_t n);
int nf_record_set_cstr(struct nf_record *rec, enum nf_field f, const char *s);
/* printf into a string field. */
int nf_record_set_strf(struct nf_record *rec, enum nf_field f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Binary fields (raw, minhash). Same lifetime rules as strings; not NUL-terminated. */
const void *nf_record_bytes(struct nf_record *rec, enum nf_field f, size_t *len_out);
int nf_record_set_bytes(struct nf_record *rec, enum nf_field f, const void *p, size_t n);
/* Makes the field point at caller memory without copying; the caller keeps it alive until the
 * record is encoded or reset. For large payloads (raw) on the hot path. */
int nf_record_set_bytes_ref(struct nf_record *rec, enum nf_field f, const void *p, size_t n);

/* Integer fields (v, attempt, seq). Returns 0, or -1 when absent. */
int nf_record_int(struct nf_record *rec, enum nf_field f, int64_t *out);
int nf_record_set_int(struct nf_record *rec, enum nf_field f, int64_t v);

/* source {uri, kind}. Outputs may be NULL; absent parts come back NULL. Returns 0 or -1 if absent. */
int nf_record_source(struct nf_record *rec, const char **uri_out, const char **kind_out);
int nf_record_set_source(struct nf_record *rec, const char *uri, const char *kind);

/* dateline {place}. */
const char *nf_record_dateline_place(struct nf_record *rec);
int nf_record_set_dateline(struct nf_record *rec, const char *place);

/* Entities. Index access is stable until the list is changed. */
size_t nf_record_entity_count(struct nf_record *rec);
const struct nf_entity *nf_record_entity(struct nf_record *rec, size_t i);
void nf_record_entities_clear(struct nf_record *rec);
/* Adds one entity (copies the name). Returns 0 or -1. */
int nf_record_add_entity(struct nf_record *rec, enum nf_entity_type type, const char *name,
                         int64_t mentions);
const char *nf_entity_type_name(enum nf_entity_type type);
/* The type named `s` ("person", "org", "place", "other"); -1 when unknown. */
int nf_entity_type_parse(const char *s);

/* Trace: appends one hop {stage, w, t}. Earlier hops are kept as they arrived. */
int nf_record_trace_append(struct nf_record *rec, const char *stage, int worker, int64_t t_ms);
/* Number of hops, without decoding them. */
size_t nf_record_trace_len(struct nf_record *rec);

/* The name of a field as it is encoded ("published_at"), and back (-1 when not in the schema). */
const char *nf_field_name(enum nf_field f);
int nf_field_lookup(const char *key, size_t len);

/* Keys the schema does not know, kept as they arrived. `val` is one encoded msgpack object. */
size_t nf_record_extra_count(const struct nf_record *rec);
int nf_record_extra(const struct nf_record *rec, size_t i, const char **key, size_t *klen,
                    const void **val, size_t *vlen);

/* What a field or key holds, for stages that handle fields they do not know in advance (a
 * field named in an option, a key another stage added). Append only. */
enum nf_field_type {
    NF_TYPE_ABSENT, /* not in the record (a schema field sent as nil is absent too) */
    NF_TYPE_NIL,
    NF_TYPE_BOOL,
    NF_TYPE_INT,
    NF_TYPE_FLOAT,
    NF_TYPE_STR,
    NF_TYPE_BIN,
    NF_TYPE_EXT,
    NF_TYPE_ARRAY,
    NF_TYPE_MAP,
};

/* The type of a schema field, as its accessors read it: a field the record has is always of
 * its schema type (decoding refuses any other; raw and minhash sent as msgpack str are bin),
 * so STR means nf_record_str() returns it, BIN nf_record_bytes(), INT nf_record_int(). */
enum nf_field_type nf_record_field_type(const struct nf_record *rec, enum nf_field f);
/* The msgpack type of the value of the i-th key the schema does not know (nf_record_extra);
 * ABSENT when i is out of range. */
enum nf_field_type nf_record_extra_type(const struct nf_record *rec, size_t i);
/* The type of the value under `key` (`len` bytes), a schema field or an unknown key. */
enum nf_field_type nf_record_key_type(const struct nf_record *rec, const char *key, size_t len);
/* "absent", "nil", "bool", "int", "float", "str", "bin", "ext", "array", "map". */
const char *nf_field_type_name(enum nf_field_type t);

/* The encoded bytes of a field that is still as it arrived (not set since decode): for stages
 * that want to forward or inspect a value without decoding it. NULL when absent or changed. */
const void *nf_record_raw_value(const struct nf_record *rec, enum nf_field f, size_t *len_out);

/* The stable 128-bit id of `n` bytes (a source URI, a feed GUID) as 32 lowercase hex digits
 * and a NUL into out. Equal inputs give equal ids on every host and version. */
void nf_id_make(const void *p, size_t n, char out[33]);

/* Scratch memory that lives until the record is reset: for plugins that build strings for it. */
void *nf_record_scratch(struct nf_record *rec, size_t n);

#endif
