/* Option tables: typed values into a plugin's conf struct, and the plugin docs printed from the
 * same table. The table is the single source of truth; nothing here reads a config file. */
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pool_item {
    struct pool_item *next;
    char s[];
};

struct nf_strpool {
    struct pool_item *head;
};

struct nf_strpool *nf_strpool_new(void)
{
    return calloc(1, sizeof(struct nf_strpool));
}

void nf_strpool_destroy(struct nf_strpool **pp)
{
    if (!pp || !*pp)
        return;
    for (struct pool_item *i = (*pp)->head, *next; i; i = next) {
        next = i->next;
        free(i);
    }
    free(*pp);
    *pp = NULL;
}

const char *nf_strpool_add(struct nf_strpool *pool, const char *s)
{
    size_t n = strlen(s);
    struct pool_item *i = malloc(sizeof(*i) + n + 1);
    if (!i)
        return NULL;
    memcpy(i->s, s, n + 1);
    i->next = pool->head;
    pool->head = i;
    return i->s;
}

const struct nf_option *nf_option_find(const struct nf_option *t, const char *name)
{
    for (; t && t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

size_t nf_option_count(const struct nf_option *t)
{
    size_t n = 0;
    for (; t && t->name; t++)
        n++;
    return n;
}

int nf_parse_size(const char *s, int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < 0)
        return -1;
    int shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return -1;
    }
    if (v > (INT64_MAX >> shift))
        return -1;
    *out = (int64_t)v << shift;
    return 0;
}

static int parse_int(const char *s, int64_t *out)
{
    errno = 0;
    char *end;
    /* base 10, or 0x for hexadecimal: a leading zero is not octal ("010" is ten) */
    bool hex = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ||
               ((s[0] == '-' || s[0] == '+') && s[1] == '0' && (s[2] == 'x' || s[2] == 'X'));
    long long v = strtoll(s, &end, hex ? 16 : 10);
    if (end == s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

static const char *type_word(enum nf_opt_type t)
{
    switch (t) {
    case NF_OPT_STRING: return "a string";
    case NF_OPT_PATH: return "a path (string)";
    case NF_OPT_INT: return "an integer";
    case NF_OPT_DOUBLE: return "a number";
    case NF_OPT_BOOL: return "true or false";
    case NF_OPT_SIZE: return "a size (integer bytes, or a string like \"8M\")";
    }
    return "?";
}

int nf_option_set(const struct nf_option *o, void *conf, enum nf_valkind kind, const char *text,
                  const char *base_dir, struct nf_strpool *pool, char *err, size_t errlen)
{
    char *slot = (char *)conf + o->offset;
    bool text_ok = kind == NF_VAL_TEXT;
    switch (o->type) {
    case NF_OPT_STRING:
    case NF_OPT_PATH: {
        if (!text_ok && kind != NF_VAL_STRING)
            goto wrong;
        const char *v;
        if (o->type == NF_OPT_PATH && text[0] != '/' && text[0] && base_dir) {
            size_t n = strlen(base_dir) + strlen(text) + 2;
            char *joined = malloc(n);
            if (!joined)
                goto nomem;
            snprintf(joined, n, "%s/%s", base_dir, text);
            v = nf_strpool_add(pool, joined);
            free(joined);
        } else {
            v = nf_strpool_add(pool, text);
        }
        if (!v)
            goto nomem;
        memcpy(slot, &v, sizeof(v));
        return 0;
    }
    case NF_OPT_INT: {
        int64_t v;
        if ((!text_ok && kind != NF_VAL_INT) || parse_int(text, &v) < 0)
            goto wrong;
        memcpy(slot, &v, sizeof(v));
        return 0;
    }
    case NF_OPT_SIZE: {
        int64_t v;
        if ((!text_ok && kind != NF_VAL_INT && kind != NF_VAL_STRING) ||
            nf_parse_size(text, &v) < 0)
            goto wrong;
        memcpy(slot, &v, sizeof(v));
        return 0;
    }
    case NF_OPT_DOUBLE: {
        if (!text_ok && kind != NF_VAL_INT && kind != NF_VAL_FLOAT)
            goto wrong;
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (end == text || *end || errno || isnan(v) || isinf(v))
            goto wrong;
        memcpy(slot, &v, sizeof(v));
        return 0;
    }
    case NF_OPT_BOOL: {
        bool v;
        if ((!text_ok && kind != NF_VAL_BOOL) || parse_bool(text, &v) < 0)
            goto wrong;
        memcpy(slot, &v, sizeof(v));
        return 0;
    }
    }
wrong:
    snprintf(err, errlen, "option '%s' expects %s, got %s%s%s", o->name, type_word(o->type),
             kind == NF_VAL_STRING || kind == NF_VAL_TEXT ? "\"" : "", text,
             kind == NF_VAL_STRING || kind == NF_VAL_TEXT ? "\"" : "");
    return -1;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int nf_options_defaults(const struct nf_option *t, void *conf, const char *base_dir,
                        struct nf_strpool *pool, char *err, size_t errlen)
{
    for (; t && t->name; t++) {
        if (!t->def)
            continue;
        char e[256];
        if (nf_option_set(t, conf, NF_VAL_TEXT, t->def, base_dir, pool, e, sizeof(e)) < 0) {
            snprintf(err, errlen, "bad default in the plugin's option table: %s", e);
            return -1;
        }
    }
    return 0;
}

void nf_options_names(const struct nf_option *t, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (; t && t->name && n < outlen; t++) {
        int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", t->name);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

void nf_options_print_doc(const struct nf_plugin *p, FILE *out)
{
    static const char *const kinds[] = {"?", "source", "filter", "sink"};
    fprintf(out, "%s (%s): %s\n", p->name, kinds[p->kind <= 3 ? p->kind : 0],
            p->description ? p->description : "");
    if (!p->options || !p->options->name) {
        fprintf(out, "  no options\n");
        return;
    }
    for (const struct nf_option *o = p->options; o->name; o++) {
        fprintf(out, "  %-18s %s; %s%s%s\n      %s\n", o->name, type_word(o->type),
                o->def ? "default \"" : "required", o->def ? o->def : "", o->def ? "\"" : "",
                o->description ? o->description : "");
    }
}
