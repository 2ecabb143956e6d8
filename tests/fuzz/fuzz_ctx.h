/* Shared by the fuzzers that compile a filter plugin in: the context calls every filter makes,
 * answered here (the host is not linked in; a fuzzer adds those its plugin needs beyond these),
 * CHECK (fuzz_check.h), and the plugin's default options.
 * Include once, in the fuzzer, after defining FUZZ_NAME. */
#ifndef NF_FUZZ_CTX_H
#define NF_FUZZ_CTX_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "newsflow/plugin.h"
#include "options.h"

#include "fuzz_check.h"

struct nf_ctx {
    char error[512];
};

void nf_ctx_error(struct nf_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof(ctx->error), fmt, ap);
    va_end(ap);
}

void nf_log(struct nf_ctx *ctx, enum nf_log_level level, const char *fmt, ...)
{
    (void)ctx, (void)level, (void)fmt;
}

void nf_ctx_count(struct nf_ctx *ctx, const char *name, int64_t delta)
{
    (void)ctx, (void)name, (void)delta;
}

/* The plugin's options at their defaults, in a block that lives as long as the process. */
static const void *fuzz_conf_defaults(const struct nf_plugin *p)
{
    static _Alignas(16) unsigned char conf[4096];
    static struct nf_strpool *pool;
    char err[256];
    pool = nf_strpool_new();
    CHECK(p->conf_size <= sizeof(conf), "conf too big");
    CHECK(pool && nf_options_defaults(p->options, conf, "/", pool, err, sizeof(err)) == 0,
          "defaults: %s", err);
    return conf;
}

#endif
