/* Option tables: typed values into a plugin's conf struct, and the plugin docs printed from the
 * same table. The table is the single source of truth; nothing here reads a config file. */
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A bound as a number of the option's kind: INT and SIZE exactly, DOUBLE as a double, STRING and
 * PATH as a length. Returns 0, or -1 if the table's text does not parse. */
static int bound_parse(const struct nf_option *o, const char *text, int64_t *i, double *d)
{
    switch (o->type) {
    case NF_OPT_INT: return parse_int(text, i);
    case NF_OPT_SIZE: return nf_parse_size(text, i);
    case NF_OPT_STRING:
    case NF_OPT_PATH: return parse_int(text, i) < 0 || *i < 0 ? -1 : 0;
    case NF_OPT_DOUBLE: {
        char *end;
        errno = 0;
        *d = strtod(text, &end);
        return end == text || *end || errno || isnan(*d) || isinf(*d) ? -1 : 0;
    }
    case NF_OPT_BOOL: return -1;
    }
    return -1;
}

/* "between 1 and 64", "at least 1", "at most 0.9", with " bytes long" for strings. */
static void bounds_text(const struct nf_option *o, char *out, size_t outlen)
{
    bool len = o->type == NF_OPT_STRING || o->type == NF_OPT_PATH;
    if (len && o->min && strcmp(o->min, "1") == 0 && !o->max)
        snprintf(out, outlen, "not empty");
    else if (o->min && o->max)
        snprintf(out, outlen, "between %s and %s%s", o->min, o->max, len ? " bytes long" : "");
    else if (o->min)
        snprintf(out, outlen, "at least %s%s", o->min, len ? " bytes long" : "");
    else if (o->max)
        snprintf(out, outlen, "at most %s%s", o->max, len ? " bytes long" : "");
    else
        out[0] = '\0';
}

/* "strict, lenient or off" from "strict|lenient|off". */
static void choices_text(const char *choices, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *c = choices; *c && n + 1 < outlen;) {
        size_t w = strcspn(c, "|");
        const char *next = c + w + (c[w] == '|');
        const char *sep = n == 0 ? "" : *next ? ", " : " or ";
        int k = snprintf(out + n, outlen - n, "%s%.*s", sep, (int)w, c);
        if (k < 0)
            break;
        n += (size_t)k < outlen - n ? (size_t)k : outlen - n - 1;
        c = next;
    }
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    for (const char *c = choices;;) {
        size_t w = strcspn(c, "|");
        if (w == vl && strncmp(c, v, w) == 0)
            return true;
        if (!c[w])
            return false;
        c += w + 1;
    }
}

/* Checks a value just parsed against the row's bounds and choices. `num` and `dbl` hold it for
 * the numeric kinds, `str` for strings (the value as written, before a path is joined). */
static int check_rules(const struct nf_option *o, int64_t num, double dbl, const char *str,
                       char *err, size_t errlen)
{
    if (o->choices && o->type == NF_OPT_STRING && !choice_ok(o->choices, str)) {
        char list[512];
        choices_text(o->choices, list, sizeof(list));
        snprintf(err, errlen, "option '%s' must be one of %s, got \"%s\"", o->name, list, str);
        return -1;
    }
    if (!o->min && !o->max)
        return 0;
    if (o->type == NF_OPT_STRING || o->type == NF_OPT_PATH)
        num = (int64_t)strlen(str);
    const char *b[2] = {o->min, o->max};
    for (int k = 0; k < 2; k++) {
        int64_t bi = 0;
        double bd = 0;
        if (!b[k])
            continue;
        if (bound_parse(o, b[k], &bi, &bd) < 0) {
            snprintf(err, errlen, "option '%s': its %s \"%s\" in the plugin's option table is "
                                  "not %s", o->name, k ? "max" : "min", b[k],
                     o->type == NF_OPT_BOOL ? "allowed on true or false" : "a value of its type");
            return -1;
        }
        bool out = o->type == NF_OPT_DOUBLE ? (k ? dbl > bd : dbl < bd) : (k ? num > bi : num < bi);
        if (out) {
            char range[256];
            bounds_text(o, range, sizeof(range));
            if ((o->type == NF_OPT_STRING || o->type == NF_OPT_PATH) && num == 0 && !k)
                snprintf(err, errlen, "option '%s' must not be empty", o->name);
            else if (o->type == NF_OPT_STRING || o->type == NF_OPT_PATH)
                snprintf(err, errlen, "option '%s' must be %s, got \"%s\" (%" PRId64 " bytes)",
                         o->name, range, str, num);
            else
                snprintf(err, errlen, "option '%s' must be %s, got %s", o->name, range, str);
            return -1;
        }
    }
    return 0;
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
        if (check_rules(o, 0, 0, text, err, errlen) < 0)
            return -1;
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
        if (check_rules(o, v, 0, text, err, errlen) < 0)
            return -1;
        memcpy(slot, &v, sizeof(v));
        return 0;
    }
    case NF_OPT_SIZE: {
        int64_t v;
        if ((!text_ok && kind != NF_VAL_INT && kind != NF_VAL_STRING) ||
            nf_parse_size(text, &v) < 0)
            goto wrong;
        if (check_rules(o, v, 0, text, err, errlen) < 0)
            return -1;
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
        if (check_rules(o, 0, v, text, err, errlen) < 0)
            return -1;
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

int nf_options_table_check(const struct nf_option *t, char *err, size_t errlen)
{
    for (; t && t->name; t++) {
        const char *b[2] = {t->min, t->max};
        int64_t bi[2] = {0, 0};
        double bd[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            if (b[k] && bound_parse(t, b[k], &bi[k], &bd[k]) < 0) {
                snprintf(err, errlen, "option '%s': %s \"%s\" is not %s", t->name,
                         k ? "max" : "min", b[k],
                         t->type == NF_OPT_BOOL ? "allowed on a boolean"
                         : t->type == NF_OPT_STRING || t->type == NF_OPT_PATH
                             ? "a length in bytes"
                             : "a value of the option's type");
                return -1;
            }
        }
        if (t->min && t->max &&
            (t->type == NF_OPT_DOUBLE ? bd[0] > bd[1] : bi[0] > bi[1])) {
            snprintf(err, errlen, "option '%s': min %s is above max %s", t->name, t->min, t->max);
            return -1;
        }
        if (t->choices && (t->type != NF_OPT_STRING || !t->choices[0])) {
            snprintf(err, errlen, "option '%s': choices are for non-empty lists of string "
                                  "values", t->name);
            return -1;
        }
        unsigned rw = NF_OPT_READ_FILE | NF_OPT_READ_DIR | NF_OPT_WRITE_FILE | NF_OPT_WRITE_DIR;
        if (t->flags && (t->type != NF_OPT_PATH || (t->flags & ~(rw | NF_OPT_MKDIR)) ||
                         (__builtin_popcount(t->flags & rw) != 1 &&
                          (t->flags & rw) != (NF_OPT_READ_FILE | NF_OPT_READ_DIR)) ||
                         ((t->flags & NF_OPT_MKDIR) &&
                          !(t->flags & (NF_OPT_WRITE_FILE | NF_OPT_WRITE_DIR))))) {
            snprintf(err, errlen, "option '%s': flags 0x%x are not one kind of path (read or "
                                  "write, file or directory, or a file or directory read; MKDIR "
                                  "only with a write kind) on a path option", t->name, t->flags);
            return -1;
        }
    }
    return 0;
}

int nf_options_validate(const struct nf_plugin *p, const void *conf, const char **option_out,
                        char *err, size_t errlen)
{
    *option_out = NULL;
    if (!p->validate)
        return 0;
    const char *opt = NULL;
    err[0] = '\0';
    if (p->validate(conf, &opt, err, errlen) == NF_OK)
        return 0;
    if (!err[0])
        snprintf(err, errlen, "plugin %s refused its options without saying why", p->name);
    /* only a name of the table: the caller looks its file:line up by it */
    const struct nf_option *o = opt ? nf_option_find(p->options, opt) : NULL;
    *option_out = o ? o->name : NULL;
    return -1;
}

/* The nearest directory above `path` that exists (path itself excluded), into out. */
static void nearest_parent(const char *path, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", path);
    struct stat sb;
    for (;;) {
        char *slash = strrchr(out, '/');
        if (!slash) {
            snprintf(out, outlen, ".");
            return;
        }
        if (slash == out) {
            out[1] = '\0';
            return;
        }
        *slash = '\0';
        if (stat(out, &sb) == 0)
            return;
    }
}

/* A directory the plugin writes into (or creates files in). */
static int check_write_dir(const struct nf_option *o, const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "option '%s': %s is not a directory", o->name, dir);
            return -1;
        }
        if (access(dir, W_OK | X_OK) < 0) {
            snprintf(err, errlen, "option '%s': directory %s is not writable: %s", o->name, dir,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT || !(o->flags & NF_OPT_MKDIR)) {
        snprintf(err, errlen, "option '%s': directory %s: %s", o->name, dir,
                 errno == ENOENT ? "does not exist" : strerror(errno));
        return -1;
    }
    char parent[PATH_MAX];
    nearest_parent(dir, parent, sizeof(parent));
    if (stat(parent, &sb) < 0 || !S_ISDIR(sb.st_mode) || access(parent, W_OK | X_OK) < 0) {
        snprintf(err, errlen, "option '%s': directory %s cannot be made: %s %s", o->name, dir,
                 parent, stat(parent, &sb) == 0 && !S_ISDIR(sb.st_mode)
                             ? "is not a directory"
                             : "is not writable");
        return -1;
    }
    return 0;
}

int nf_option_check_path(const struct nf_option *o, const void *conf, char *err, size_t errlen)
{
    if (o->type != NF_OPT_PATH || !o->flags)
        return 0;
    const char *path;
    memcpy(&path, (const char *)conf + o->offset, sizeof(path));
    if (!path || !path[0])
        return 0;
    struct stat sb;
    if (o->flags & (NF_OPT_READ_FILE | NF_OPT_READ_DIR)) {
        bool either = (o->flags & NF_OPT_READ_FILE) && (o->flags & NF_OPT_READ_DIR);
        bool dir = o->flags & NF_OPT_READ_DIR;
        if (stat(path, &sb) < 0) {
            snprintf(err, errlen, "option '%s': %s %s: %s", o->name,
                     either ? "file or directory" : dir ? "directory" : "file", path,
                     errno == ENOENT ? "does not exist" : strerror(errno));
            return -1;
        }
        if (either)
            dir = S_ISDIR(sb.st_mode);
        else if (dir != !!S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "option '%s': %s is %s", o->name, path,
                     dir ? "not a directory" : "a directory, not a file");
            return -1;
        }
        if (access(path, dir ? R_OK | X_OK : R_OK) < 0) {
            snprintf(err, errlen, "option '%s': %s %s is not readable: %s", o->name,
                     dir ? "directory" : "file", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (o->flags & NF_OPT_WRITE_DIR)
        return check_write_dir(o, path, err, errlen);
    /* a file to write: itself if it is there, and the directory it is (or will be) made in */
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "option '%s': %s is a directory, not a file", o->name, path);
            return -1;
        }
        if (access(path, W_OK) < 0) {
            snprintf(err, errlen, "option '%s': file %s is not writable: %s", o->name, path,
                     strerror(errno));
            return -1;
        }
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return check_write_dir(o, dir, err, errlen);
}

/* The stage host defines the real one (stage, option and file:line); this one serves a program
 * that links the options without the stage host (a fuzzer, a bench), so that a plugin can
 * always call it. It names the option alone: such a program has no stage. */
__attribute__((weak)) const char *nf_ctx_option_where(struct nf_ctx *ctx, const char *option)
{
    (void)ctx;
    static _Thread_local char buf[160];
    snprintf(buf, sizeof(buf), "option %s", option);
    return buf;
}

static const char *path_word(unsigned flags)
{
    if ((flags & NF_OPT_READ_FILE) && (flags & NF_OPT_READ_DIR))
        return "a file or directory it reads";
    if (flags & NF_OPT_READ_FILE)
        return "a file it reads";
    if (flags & NF_OPT_READ_DIR)
        return "a directory it reads";
    if (flags & NF_OPT_WRITE_FILE)
        return flags & NF_OPT_MKDIR ? "a file it writes (its directory is made)"
                                    : "a file it writes, in a directory that exists";
    if (flags & NF_OPT_WRITE_DIR)
        return flags & NF_OPT_MKDIR ? "a directory it writes (made if missing)"
                                    : "a directory it writes, which must exist";
    return NULL;
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
        char rules[640] = "";
        size_t n = 0;
        if (o->min || o->max) {
            char b[256];
            bounds_text(o, b, sizeof(b));
            n += (size_t)snprintf(rules + n, sizeof(rules) - n, "; %s", b);
        }
        if (o->choices && n < sizeof(rules)) {
            char c[512];
            choices_text(o->choices, c, sizeof(c));
            n += (size_t)snprintf(rules + n, sizeof(rules) - n, "; one of %s", c);
        }
        if (path_word(o->flags) && n < sizeof(rules))
            snprintf(rules + n, sizeof(rules) - n, "; %s", path_word(o->flags));
        fprintf(out, "  %-18s %s; %s%s%s%s\n      %s\n", o->name, type_word(o->type),
                o->def ? "default \"" : "required", o->def ? o->def : "", o->def ? "\"" : "",
                rules, o->description ? o->description : "");
    }
    if (p->validate)
        fprintf(out, "  (the plugin also checks how its options go together)\n");
}
