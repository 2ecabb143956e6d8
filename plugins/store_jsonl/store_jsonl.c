/* store_jsonl: a sink that writes each record as one line of JSON (JSON Lines), for export and
 * for the scoring tools. The schema's keys come first in schema order, then the record's unknown
 * keys; the transport's own fields (attempt, seq, ack_to, read_order, read_prev) and minhash
 * are left out.
 * Corrections of earlier verdicts a record carries (amend.h) follow its line as a line of their
 * own, {"amend": {...}}, which a reader applies to the lines before it. It does not rotate,
 * compress or deduplicate: a replayed record is written again. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../dedup/amend.h"
#include "msgpack_json.h"
#include "newsflow/plugin.h"
#include "plugin_util.h"

struct store_jsonl_conf {
    const char *path;
    bool include_raw;
    bool append;
};

static const struct nf_option store_jsonl_options[] = {
    {"path", NF_OPT_PATH, NULL, offsetof(struct store_jsonl_conf, path),
     "File to write, one JSON object a line; its directory is made when missing.", .min = "1",
     .flags = NF_OPT_WRITE_FILE | NF_OPT_MKDIR},
    {"include_raw", NF_OPT_BOOL, "false", offsetof(struct store_jsonl_conf, include_raw),
     "Also write the bytes as fetched, as base64 in \"raw\"."},
    {"append", NF_OPT_BOOL, "true", offsetof(struct store_jsonl_conf, append),
     "Append to an existing file; false empties it at start-up."},
    {.name = NULL},
};

struct store_jsonl {
    const struct store_jsonl_conf *conf;
    FILE *f;
    char *line; /* the dumped JSON of one record, reused */
    size_t cap;
    msgpack_zone zone;  /* scratch for unpacking trace and unknown keys */
    struct nf_buf enc;  /* the record encoded, when its trace changed since it arrived */
    char *where;        /* "stage store, option path (conf/x.cfg:12)" */
};

/* A failed write, open or sync of the file, with a full disk said plainly. */
static void store_jsonl_error(struct store_jsonl *s, struct nf_ctx *ctx, const char *what,
                              int err)
{
    nf_ctx_error(ctx, "cannot %s %s (%s): %s", what, s->conf->path, s->where,
                 err == ENOSPC ? "the disk is full" : strerror(err));
}

/* String fields written as they are, in schema order (around the nested ones). */
static const enum nf_field store_jsonl_head[] = {NF_F_FETCHED_AT, NF_F_CONTENT_TYPE, NF_F_TEXT,
                                                 NF_F_TITLE,      NF_F_BYLINE,       NF_F_OUTLET,
                                                 NF_F_PUBLISHED_AT};
static const enum nf_field store_jsonl_tail[] = {NF_F_DUP_OF, NF_F_STORY_ID, NF_F_URL};

static int store_jsonl_str(json_t *o, struct nf_record *rec, enum nf_field f)
{
    size_t n;
    const char *s = nf_record_str(rec, f, &n);
    if (!s)
        return 0;
    return json_object_set_new_nocheck(o, nf_field_name(f), mpjson_string(s, n));
}

/* The trace as JSON. Decoded from the bytes it arrived as; if a hop was added here since, the
 * record is encoded once more to get the whole list. */
static json_t *store_jsonl_trace(struct store_jsonl *s, struct nf_record *rec)
{
    size_t n;
    const void *raw = nf_record_raw_value(rec, NF_F_TRACE, &n);
    if (raw)
        return mpjson_from_bytes(raw, n, &s->zone);
    s->enc.len = 0;
    if (nf_record_encode(rec, &s->enc) < 0)
        return NULL;
    msgpack_object o;
    size_t off = 0;
    if (msgpack_unpack((const char *)s->enc.data, s->enc.len, &off, &s->zone, &o) !=
            MSGPACK_UNPACK_SUCCESS ||
        o.type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 5 &&
            memcmp(k->via.str.ptr, "trace", 5) == 0)
            return mpjson_from_object(&o.via.map.ptr[i].val);
    }
    return json_array();
}

/* {"type", "name", "mentions"}: built directly rather than by json_pack, which parses its
 * format for every entity of every record. */
static json_t *store_jsonl_entity(const struct nf_entity *e)
{
    json_t *o = json_object();
    if (o && json_object_set_new_nocheck(o, "type",
                                         json_string_nocheck(nf_entity_type_name(e->type))) == 0 &&
        json_object_set_new_nocheck(o, "name", mpjson_string(e->name, strlen(e->name))) == 0 &&
        json_object_set_new_nocheck(o, "mentions", json_integer((json_int_t)e->mentions)) == 0)
        return o;
    json_decref(o);
    return NULL;
}

static json_t *store_jsonl_build(struct store_jsonl *s, struct nf_record *rec)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    int64_t v;
    if (nf_record_int(rec, NF_F_V, &v) == 0)
        bad |= json_object_set_new(o, "v", json_integer(v));
    bad |= store_jsonl_str(o, rec, NF_F_ID);
    const char *uri, *kind;
    if (nf_record_source(rec, &uri, &kind) == 0) {
        json_t *src = json_object();
        if (src && uri)
            bad |= json_object_set_new(src, "uri", mpjson_string(uri, strlen(uri)));
        if (src && kind)
            bad |= json_object_set_new(src, "kind", mpjson_string(kind, strlen(kind)));
        bad |= json_object_set_new(o, "source", src);
    }
    for (size_t i = 0; i < sizeof(store_jsonl_head) / sizeof(*store_jsonl_head); i++)
        bad |= store_jsonl_str(o, rec, store_jsonl_head[i]);
    if (nf_record_has(rec, NF_F_DATELINE)) {
        const char *place = nf_record_dateline_place(rec);
        json_t *dl = json_object();
        if (dl && place)
            bad |= json_object_set_new(dl, "place", mpjson_string(place, strlen(place)));
        bad |= json_object_set_new(o, "dateline", dl);
    }
    bad |= store_jsonl_str(o, rec, NF_F_LANG);
    if (nf_record_has(rec, NF_F_ENTITIES)) {
        json_t *ents = json_array();
        size_t n = nf_record_entity_count(rec);
        for (size_t i = 0; ents && i < n; i++) {
            const struct nf_entity *e = nf_record_entity(rec, i);
            bad |= json_array_append_new(ents, store_jsonl_entity(e));
        }
        bad |= json_object_set_new(o, "entities", ents);
    }
    for (size_t i = 0; i < sizeof(store_jsonl_tail) / sizeof(*store_jsonl_tail); i++)
        bad |= store_jsonl_str(o, rec, store_jsonl_tail[i]);
    if (nf_record_has(rec, NF_F_TRACE))
        bad |= json_object_set_new(o, "trace", store_jsonl_trace(s, rec));
    if (s->conf->include_raw) {
        size_t n;
        const void *raw = nf_record_bytes(rec, NF_F_RAW, &n);
        if (raw)
            bad |= json_object_set_new(o, "raw", mpjson_base64(raw, n));
    }
    bad |= mpjson_add_extra(o, rec, &s->zone);
    msgpack_zone_clear(&s->zone);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Writes one JSON value as a line. */
static int store_jsonl_line(struct store_jsonl *s, struct nf_ctx *ctx, json_t *o)
{
    size_t n = mpjson_dump(o, &s->line, &s->cap, 0, 1); /* room for the newline */
    if (n == 0) {
        nf_ctx_error(ctx, "cannot serialise the record as JSON");
        return NF_ERR;
    }
    if (n + 1 > s->cap) {
        nf_ctx_error(ctx, "out of memory for a JSON line of %zu bytes", n + 1);
        return NF_ERR;
    }
    s->line[n++] = '\n';
    if (fwrite(s->line, 1, n, s->f) != n) {
        store_jsonl_error(s, ctx, "write", errno);
        clearerr(s->f);
        return NF_ERR;
    }
    return NF_OK;
}

static int store_jsonl_check_amend(void *arg, enum nf_amend_kind kind, const char *key,
                                   const char *val)
{
    (void)arg, (void)kind, (void)key, (void)val;
    return 0;
}

static int store_jsonl_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct store_jsonl *s = state;
    const char *why;
    if (nf_amend_each(rec, store_jsonl_check_amend, NULL, &why) < 0) {
        nf_ctx_error(ctx, "%s", why);
        return NF_ERR;
    }
    json_t *o = store_jsonl_build(s, rec);
    if (!o) {
        nf_ctx_error(ctx, "cannot convert the record to JSON (out of memory or a malformed "
                          "nested value)");
        return NF_ERR;
    }
    /* the corrections on a line of their own, after the record's */
    json_t *amend = json_object_get(o, NF_AMEND_KEY), *fix = NULL;
    if (amend) {
        fix = json_object();
        if (!fix || json_object_set(fix, NF_AMEND_KEY, amend) < 0 ||
            json_object_del(o, NF_AMEND_KEY) < 0) {
            json_decref(fix);
            json_decref(o);
            nf_ctx_error(ctx, "out of memory");
            return NF_ERR;
        }
    }
    int rc = store_jsonl_line(s, ctx, o);
    json_decref(o);
    if (rc == NF_OK && fix)
        rc = store_jsonl_line(s, ctx, fix);
    json_decref(fix);
    return rc;
}

static int store_jsonl_flush(void *state, struct nf_ctx *ctx)
{
    struct store_jsonl *s = state;
    if (fflush(s->f) != 0 || fdatasync(fileno(s->f)) != 0) {
        store_jsonl_error(s, ctx, "flush", errno);
        clearerr(s->f);
        return NF_ERR;
    }
    return NF_OK;
}

static void store_jsonl_destroy(void *state)
{
    struct store_jsonl *s = state;
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    free(s->line);
    free(s->where);
    msgpack_zone_destroy(&s->zone);
    nf_buf_free(&s->enc);
    free(s);
}

static int store_jsonl_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    /* path is never empty: the option table says so */
    const struct store_jsonl_conf *conf = vconf;
    struct store_jsonl *s = calloc(1, sizeof(*s));
    if (!s || !msgpack_zone_init(&s->zone, 8192)) {
        free(s);
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    s->where = strdup(nf_ctx_option_where(ctx, "path"));
    if (!s->where) {
        nf_ctx_error(ctx, "out of memory");
        store_jsonl_destroy(s);
        return NF_ERR;
    }
    char made[PATH_MAX];
    if (nfu_mkdir_parents(conf->path, made) < 0) {
        nf_ctx_error(ctx, "cannot make the directory %s of %s (%s): %s", made, conf->path,
                     s->where, errno == ENOSPC ? "the disk is full" : strerror(errno));
        store_jsonl_destroy(s);
        return NF_ERR;
    }
    s->f = fopen(conf->path, conf->append ? "ae" : "we");
    if (!s->f) {
        store_jsonl_error(s, ctx, "open", errno);
        store_jsonl_destroy(s);
        return NF_ERR;
    }
    /* A larger buffer: most lines are a few KB and are then written in large chunks. */
    setvbuf(s->f, NULL, _IOFBF, 256u << 10);
    *state_out = s;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "store_jsonl",
    .description = "Writes records as JSON Lines, one object a line; a record delivered again (after a "
                   "crash) is written again: the last line of an id is the one that counts",
    .kind = NF_PLUGIN_SINK,
    .options = store_jsonl_options,
    .conf_size = sizeof(struct store_jsonl_conf),
    .init = store_jsonl_init,
    .process = store_jsonl_process,
    .flush = store_jsonl_flush,
    .destroy = store_jsonl_destroy,
};
