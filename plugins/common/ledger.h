/* A source's ledger of finished items in the state directory: one append-only file per worker,
 * STATE/<name>-<worker>.ledger, one line an item. Every worker reads all workers' files at
 * start, since with another number of workers the items one finished may now be another's.
 * What a line says is the plugin's business; this is only the file handling. */
#ifndef NF_LEDGER_H
#define NF_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsflow/plugin.h"

struct nfu_ledger {
    const char *name; /* the plugin's name, borrowed for the ledger's life */
    int worker;
    int fd; /* this worker's file, open for appending; -1 while not open */
    char held[128]; /* a line waiting for nfu_ledger_settle */
    size_t n_held;
};

/* Given each line of the ledgers as read (with its newline, if it has one), borrowed until the
 * call returns; `mine`: the line is in this worker's file. Returns 0, or -1 to stop reading
 * (out of memory). */
typedef int (*nfu_ledger_line_fn)(void *arg, const char *line, bool mine);

/* Whether a rewrite keeps a line (as read, with its newline) of this worker's file. */
typedef bool (*nfu_ledger_keep_fn)(void *arg, const char *line);

/* Names the ledger of worker `worker` of plugin `name`; nothing is opened yet. */
void nfu_ledger_init(struct nfu_ledger *l, const char *name, int worker);

/* Gives every line of every worker's file to `fn`; a file that cannot be opened is passed
 * over, none at all is an empty ledger. 0, or -1 with "out of memory reading the ledgers"
 * given to nf_ctx_error when `fn` stopped. */
int nfu_ledger_read(struct nfu_ledger *l, struct nf_ctx *ctx, nfu_ledger_line_fn fn, void *arg);

/* Replaces this worker's file (through a synced temporary file and a rename) by its lines
 * that `keep` keeps. Call before nfu_ledger_open. On failure the file stays as it was and a
 * warning is logged. */
void nfu_ledger_rewrite(struct nfu_ledger *l, struct nf_ctx *ctx, nfu_ledger_keep_fn keep,
                        void *arg);

/* Opens this worker's file for appending, creating it. 0, or -1 with the reason given to
 * nf_ctx_error. */
int nfu_ledger_open(struct nfu_ledger *l, struct nf_ctx *ctx);

/* Appends `n` bytes (whole lines) when the file is open. No fsync: a lost line only means an
 * item is read once more after a crash. A failure is logged as a warning, not returned. */
void nfu_ledger_append(struct nfu_ledger *l, struct nf_ctx *ctx, const char *line, size_t n);

/* Closes this worker's file, if open, after appending a held line. */
void nfu_ledger_close(struct nfu_ledger *l);

/* Inputs a source refused (its next() gave NF_ERR, so the host dead-lettered them): a line
 * "!ID A B", where A and B stamp the input as it was (fetch_dir: size and modification time;
 * fetch_jsonl: the line's length and hash), so that a restart passes it over until it changes
 * instead of dead-lettering it again. "!ID" is no id to a reader that does not know the form.
 *
 * The line is held, not written: the host dead-letters the refused record after next()
 * returns, and only then calls the source again, so nfu_ledger_settle at the top of the next
 * call (and nfu_ledger_close) writes it once the dead letter exists. A crash in between leaves
 * the input to be read, and refused, again: never remembered without its dead letter. */
void nfu_ledger_hold_refused(struct nfu_ledger *l, const char *id, uint64_t a, uint64_t b);

/* Appends the held line, if any (see nfu_ledger_append). */
void nfu_ledger_settle(struct nfu_ledger *l, struct nf_ctx *ctx);

/* Reads a refused line: true with the id (32 hex digits and a NUL) and the stamp. */
bool nfu_ledger_parse_refused(const char *line, char id_out[33], uint64_t *a_out,
                              uint64_t *b_out);

/* The key a source keeps an item under: the first 64 bits of its record id (the first 16 hex
 * digits), never 0. */
uint64_t nfu_ledger_key(const char *id);

/* The items a source knows of, by key: a hash table of entries of `size` bytes, each beginning
 * with its uint64_t key (0 marks an empty slot). Entries are never removed, and move when the
 * table grows: a pointer to one holds until the next put. {.size = S} is an empty table. */
struct nfu_ledger_table {
    void *slots;
    size_t size, n, cap;
};

/* The entry of `key`, or NULL. */
void *nfu_ledger_table_get(const struct nfu_ledger_table *t, uint64_t key);

/* The entry of `key`, added with all but its key zeroed when new (then *added_out, if not NULL,
 * is true). NULL on allocation failure. */
void *nfu_ledger_table_put(struct nfu_ledger_table *t, uint64_t key, bool *added_out);

/* Frees the entries; the table is empty again. */
void nfu_ledger_table_free(struct nfu_ledger_table *t);

#endif
