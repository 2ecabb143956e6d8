/* Plugin option tables: filling a plugin's conf struct from typed values, and documenting it.
 * Knows nothing of libconfig: config.c hands values over with the kind they were written as. */
#ifndef NF_OPTIONS_H
#define NF_OPTIONS_H

#include <stdio.h>

#include "newsflow/plugin.h"

/* Strings handed to plugins through conf structs; freed together. */
struct nf_strpool;
struct nf_strpool *nf_strpool_new(void);
void nf_strpool_destroy(struct nf_strpool **pool);
/* A copy of `s` owned by the pool; NULL on allocation failure. */
const char *nf_strpool_add(struct nf_strpool *pool, const char *s);

/* How a value was written. TEXT is untyped (a default in a table, a --set override) and is
 * parsed according to the option's type; the others come from a typed config file. */
enum nf_valkind { NF_VAL_TEXT, NF_VAL_STRING, NF_VAL_INT, NF_VAL_FLOAT, NF_VAL_BOOL };

const struct nf_option *nf_option_find(const struct nf_option *table, const char *name);
size_t nf_option_count(const struct nf_option *table);

/* Stores one value into conf. `text` is the value as written (for INT/FLOAT/BOOL kinds, its
 * printed form). Relative NF_OPT_PATH values are joined to base_dir (may be NULL). The row's
 * bounds and choices are enforced here, so that every way a value arrives (config, --set, the
 * table's default) obeys them. Returns 0, or -1 with the reason in err ("option 'n' expects an
 * integer, got \"abc\"", "option 'window' must be at least 1, got 0"). */
int nf_option_set(const struct nf_option *opt, void *conf, enum nf_valkind kind,
                  const char *text, const char *base_dir, struct nf_strpool *pool, char *err,
                  size_t errlen);

/* Fills every option of the table from its default. An option without a default is left
 * zeroed: the caller reports it as missing unless the config set it. */
int nf_options_defaults(const struct nf_option *table, void *conf, const char *base_dir,
                        struct nf_strpool *pool, char *err, size_t errlen);

/* The table's own rules are sound: bounds parse as the option's type (a length for strings),
 * min <= max, choices only on strings, path flags one kind on a path option. What the loader
 * checks before it accepts a plugin. Returns 0 or -1 with the row and reason in err. */
int nf_options_table_check(const struct nf_option *table, char *err, size_t errlen);

/* Calls the plugin's validate callback (if it has one) on a filled conf. Returns 0, or -1 with
 * the reason in err and *option_out the option it concerns (a name from the table, or NULL). */
int nf_options_validate(const struct nf_plugin *p, const void *conf, const char **option_out,
                        char *err, size_t errlen);

/* What `check` verifies of a path option declared with NF_OPT_READ_* / NF_OPT_WRITE_* flags:
 * an input exists, is of its kind and readable; an output's directory exists and is writable
 * (or, with NF_OPT_MKDIR, can be made). An empty value or an option without flags passes.
 * Returns 0 or -1 with "option 'path': directory /x does not exist" in err. */
int nf_option_check_path(const struct nf_option *opt, const void *conf, char *err,
                         size_t errlen);

/* "a, b, c": the option names, for "allowed keys are ..." messages. */
void nf_options_names(const struct nf_option *table, char *out, size_t outlen);

/* Prints a plugin's documentation from its descriptor and option table. */
void nf_options_print_doc(const struct nf_plugin *plugin, FILE *out);

/* Parses "123", "64K", "8M", "1G" (powers of 1024). Returns 0 or -1. */
int nf_parse_size(const char *s, int64_t *out);

#endif
