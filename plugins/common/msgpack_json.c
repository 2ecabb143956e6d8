/* msgpack values as JSON: see msgpack_json.h. JSON is built with jansson and never written by
 * hand; the only encoding done here is base64 and the repair of bad UTF-8. */
#include "msgpack_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "plugin_util.h"

#define MPJSON_MAX_DEPTH 64

/* Whether s[0, n) is valid UTF-8: ASCII eight bytes at a time, other characters by
 * utf8proc_iterate, whose rules are jansson's (no overlong forms, surrogates, or code points
 * past U+10FFFF). jansson's own check (json_stringn) reads every character through a call, and
 * so did its dump after it: two thirds of a JSON Lines store's time was jansson's. */
static bool mpjson_valid_utf8(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, p + i, 8), (w & 0x8080808080808080u) == 0)) {
            i += 8;
            continue;
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k < 1)
            return false;
        i += (size_t)k;
    }
    return true;
}

json_t *mpjson_string(const char *s, size_t n)
{
    /* msgpack gives an empty string no pointer; jansson wants one */
    if (mpjson_valid_utf8(s, n))
        return json_stringn_nocheck(n ? s : "", n);
    /* Invalid UTF-8 (which jansson refuses): keep what is readable. Each bad byte becomes
     * U+FFFD, three bytes, so the copy is at most three times as long. */
    if (n > SIZE_MAX / 3)
        return NULL;
    uint8_t *out = malloc(3 * n);
    if (!out)
        return NULL;
    size_t o = 0;
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            o += (size_t)utf8proc_encode_char(0xFFFD, out + o);
            i++;
        } else {
            memcpy(out + o, p + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        }
    }
    json_t *j = json_stringn_nocheck((const char *)out, o);
    free(out);
    return j;
}

/* The base64 digit of a 6-bit value, computed rather than looked up. */
static char mpjson_b64_digit(unsigned v)
{
    return v < 26 ? (char)('A' + v) : v < 52 ? (char)('a' + v - 26)
                                     : v < 62 ? (char)('0' + v - 52) : v == 62 ? '+' : '/';
}

json_t *mpjson_base64(const void *vp, size_t n)
{
    const uint8_t *p = vp;
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return NULL;
    size_t len = (n + 2) / 3 * 4;
    char *out = malloc(len ? len : 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = mpjson_b64_digit(v >> 18 & 63);
        out[o++] = mpjson_b64_digit(v >> 12 & 63);
        out[o++] = mpjson_b64_digit(v >> 6 & 63);
        out[o++] = mpjson_b64_digit(v & 63);
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = mpjson_b64_digit(v >> 18 & 63);
        out[o++] = mpjson_b64_digit(v >> 12 & 63);
        out[o++] = i + 1 < n ? mpjson_b64_digit(v >> 6 & 63) : '=';
        out[o++] = '=';
    }
    json_t *j = json_stringn_nocheck(out, o);
    free(out);
    return j;
}

static json_t *mpjson_convert(const msgpack_object *o, int depth);

int mpjson_set(json_t *obj, const char *key, size_t n, json_t *val)
{
    if (!val)
        return -1;
    if (mpjson_valid_utf8(key, n)) /* as nearly every key is: no repaired copy */
        return json_object_setn_new_nocheck(obj, n ? key : "", n, val);
    json_t *k = mpjson_string(key, n);
    if (!k) {
        json_decref(val);
        return -1;
    }
    int rc = json_object_setn_new_nocheck(obj, json_string_value(k), json_string_length(k), val);
    json_decref(k);
    return rc;
}

static json_t *mpjson_map(const msgpack_object *o, int depth)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        json_t *val = mpjson_convert(&o->via.map.ptr[i].val, depth + 1);
        if (!val)
            goto fail;
        int rc;
        if (k->type == MSGPACK_OBJECT_STR) {
            rc = mpjson_set(obj, k->via.str.ptr, k->via.str.size, val);
        } else {
            /* JSON keys are strings: use the key's own JSON text ("5", "true", "[1,2]"). */
            json_t *kj = mpjson_convert(k, depth + 1);
            char *text = kj ? json_dumps(kj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            json_decref(kj);
            rc = text ? json_object_set_new(obj, text, val) : (json_decref(val), -1);
            free(text);
        }
        if (rc < 0)
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

static json_t *mpjson_convert(const msgpack_object *o, int depth)
{
    if (depth > MPJSON_MAX_DEPTH)
        return json_null();
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return json_real((double)o->via.u64);
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR: return mpjson_string(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return mpjson_base64(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT:
        return json_pack("{s:i, s:o}", "ext", (json_int_t)o->via.ext.type, "base64",
                         mpjson_base64(o->via.ext.ptr, o->via.ext.size));
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < o->via.array.size; i++) {
            if (json_array_append_new(a, mpjson_convert(&o->via.array.ptr[i], depth + 1)) < 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: return mpjson_map(o, depth);
    }
    return json_null();
}

json_t *mpjson_from_object(const msgpack_object *o)
{
    return mpjson_convert(o, 0);
}

json_t *mpjson_from_bytes(const void *buf, size_t n, msgpack_zone *zone)
{
    msgpack_object o;
    size_t off = 0;
    if (msgpack_unpack(buf, n, &off, zone, &o) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    return mpjson_convert(&o, 0);
}

int mpjson_add_extra(json_t *obj, struct nf_record *rec, msgpack_zone *zone)
{
    size_t n = nf_record_extra_count(rec);
    for (size_t i = 0; i < n; i++) {
        const char *key;
        size_t klen, vlen;
        const void *val;
        if (nf_record_extra(rec, i, &key, &klen, &val, &vlen) == 0 &&
            mpjson_set(obj, key, klen, mpjson_from_bytes(val, vlen, zone)) < 0)
            return -1;
    }
    return 0;
}

size_t mpjson_dump(const json_t *v, char **buf, size_t *cap, size_t at, size_t spare)
{
    size_t room = *cap > at + spare ? *cap - at - spare : 0;
    size_t n = json_dumpb(v, room ? *buf + at : NULL, room, JSON_COMPACT);
    if (n == 0 || n <= room)
        return n;
    /* Too small: dumped again once the buffer holds it, rather than dumped to a scratch copy. */
    if (nfu_grow(buf, cap, at + n + spare, 1) < 0)
        return n;
    return json_dumpb(v, *buf + at, n, JSON_COMPACT);
}

int mpjson_dump_extra(struct nf_record *rec, msgpack_zone *zone, char **buf, size_t *cap,
                      size_t at, size_t *len_out)
{
    *len_out = 0;
    if (nf_record_extra_count(rec) == 0)
        return 0;
    json_t *o = json_object();
    int bad = !o || mpjson_add_extra(o, rec, zone) < 0;
    size_t n = bad ? 0 : mpjson_dump(o, buf, cap, at, 0);
    json_decref(o);
    if (n == 0 || at + n > *cap)
        return -1;
    *len_out = n;
    return 0;
}
