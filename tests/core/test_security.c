/* Tests of tcp security (core/security.c): key files as `newsflow keygen` writes them (Z85 keys
 * may contain '#'), the checks on them, and real CURVE sockets on 127.0.0.1 behind the ZAP
 * handler: an allowed client delivers, a client with another key delivers nothing and is
 * counted. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "config.h"
#include "security.h"
#include "transport.h"

#define assert_has(hay, needle)                                                                \
    do {                                                                                       \
        if (!strstr((hay), (needle)))                                                          \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (hay));                            \
    } while (0)

struct fx {
    char dir[PATH_MAX];
    char server_key[PATH_MAX + 16], server_pub[PATH_MAX + 16], client_key[PATH_MAX + 16],
        allow[PATH_MAX + 16];
    struct nf_config cfg;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/nf-security-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char err[512], prefix[PATH_MAX + 16];
    snprintf(prefix, sizeof(prefix), "%s/server", f->dir);
    if (nf_keygen(prefix, err, sizeof(err)) < 0)
        return -1;
    snprintf(prefix, sizeof(prefix), "%s/host", f->dir);
    if (nf_keygen(prefix, err, sizeof(err)) < 0)
        return -1;
    snprintf(f->server_key, sizeof(f->server_key), "%s/server.key", f->dir);
    snprintf(f->server_pub, sizeof(f->server_pub), "%s/server.pub", f->dir);
    snprintf(f->client_key, sizeof(f->client_key), "%s/host.key", f->dir);
    snprintf(f->allow, sizeof(f->allow), "%s/allowed", f->dir);
    /* the allow-list: a comment, a blank line, the host's public key */
    char pub[64] = "";
    snprintf(prefix, sizeof(prefix), "%s/host.pub", f->dir);
    FILE *p = fopen(prefix, "r");
    if (!p || !fgets(pub, sizeof(pub), p))
        return -1;
    fclose(p);
    char list[256];
    snprintf(list, sizeof(list), "# clients allowed\n\n  %s", pub);
    write_file(f->allow, list, 0644);
    f->cfg = (struct nf_config){.uses_tcp = true, .curve_server_key = f->server_key,
                                .curve_server_public = f->server_pub,
                                .curve_client_key = f->client_key, .curve_allow = f->allow};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    struct nf_config none = {0};
    char err[64];
    nf_security_setup(&none, err, sizeof(err));
    free(f);
    return 0;
}

static void test_keygen_files(void **state)
{
    struct fx *f = *state;
    struct stat st;
    assert_int_equal(stat(f->server_key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char err[512], prefix[PATH_MAX + 16];
    snprintf(prefix, sizeof(prefix), "%s/server", f->dir);
    assert_int_equal(nf_keygen(prefix, err, sizeof(err)), -1);
    assert_has(err, "already exists");
    char err2[512];
    assert_int_equal(nf_security_setup(&f->cfg, err2, sizeof(err2)), 0);
    assert_true(nf_security_on());
}

static void test_keys_with_hash(void **state)
{
    /* '#' is a Z85 digit: a key that holds one is a key, not a comment */
    struct fx *f = *state;
    char pub[41], sec[41];
    do
        assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    while (!strchr(sec, '#') && !strchr(pub, '#'));
    char line[64];
    snprintf(line, sizeof(line), "%s\n", sec);
    write_file(f->client_key, line, 0600);
    snprintf(line, sizeof(line), "%s\n", pub);
    write_file(f->allow, line, 0644);
    char err[512];
    if (nf_security_setup(&f->cfg, err, sizeof(err)) != 0)
        fail_msg("a key with '#' was refused: %s", err);
}

static void test_bad_key_files(void **state)
{
    struct fx *f = *state;
    char err[1024];
    chmod(f->client_key, 0640);
    assert_int_equal(nf_security_setup(&f->cfg, err, sizeof(err)), -1);
    assert_has(err, "curve_client_key");
    assert_has(err, "private to its owner");
    chmod(f->client_key, 0600);
    struct nf_config c = f->cfg;
    c.curve_server_public = f->allow; /* another pair's public key */
    assert_int_equal(nf_security_setup(&c, err, sizeof(err)), -1);
    assert_has(err, "is not the public key of");
    write_file(f->allow, "# nothing but a comment\n", 0644);
    assert_int_equal(nf_security_setup(&f->cfg, err, sizeof(err)), -1);
    assert_has(err, "curve_allow");
    assert_has(err, "no key");
    write_file(f->allow, "not-a-key\n", 0644);
    assert_int_equal(nf_security_setup(&f->cfg, err, sizeof(err)), -1);
    assert_has(err, ":1: not a CURVE key");
    c = f->cfg;
    c.curve_client_key = "/nonexistent/host.key";
    assert_int_equal(nf_security_setup(&c, err, sizeof(err)), -1);
    assert_has(err, "curve_client_key /nonexistent/host.key");
}

static void test_zap_admits_only_allowed_keys(void **state)
{
    struct fx *f = *state;
    char err[512];
    assert_int_equal(nf_security_setup(&f->cfg, err, sizeof(err)), 0);
    void *server_ctx = zmq_ctx_new();
    assert_int_equal(nf_zap_start(server_ctx, err, sizeof(err)), 0);
    /* a port the kernel picks, read back from the bound socket */
    void *pull = nf_socket_open(server_ctx, ZMQ_PULL, "tcp://127.0.0.1:*", true, 10, err,
                                sizeof(err));
    if (!pull)
        fail_msg("%s", err);
    char ep[128];
    size_t eplen = sizeof(ep);
    assert_int_equal(zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    int t = 3000;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &t, sizeof(t));

    /* a client whose key nobody allowed: its message never arrives */
    void *cctx = zmq_ctx_new();
    void *intruder = zmq_socket(cctx, ZMQ_PUSH);
    char spub[41], ipub[41], isec[41];
    FILE *p = fopen(f->server_pub, "r");
    assert_non_null(p);
    assert_non_null(fgets(spub, sizeof(spub), p));
    fclose(p);
    assert_int_equal(zmq_curve_keypair(ipub, isec), 0);
    zmq_setsockopt(intruder, ZMQ_CURVE_SERVERKEY, spub, 41);
    zmq_setsockopt(intruder, ZMQ_CURVE_PUBLICKEY, ipub, 41);
    zmq_setsockopt(intruder, ZMQ_CURVE_SECRETKEY, isec, 41);
    int linger = 0;
    zmq_setsockopt(intruder, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(zmq_connect(intruder, ep), 0);
    zmq_send(intruder, "forged", 6, ZMQ_DONTWAIT);
    char buf[64];
    int64_t before = nf_zap_refused();
    assert_int_equal(zmq_recv(pull, buf, sizeof(buf), 0), -1);
    assert_true(nf_zap_refused() > before);
    zmq_close(intruder);

    /* the pipeline's own client (nf_socket_open with the host's key) delivers */
    void *push = nf_socket_open(cctx, ZMQ_PUSH, ep, false, 10, err, sizeof(err));
    assert_non_null(push);
    assert_int_equal(zmq_send(push, "record", 6, 0), 6);
    int n = zmq_recv(pull, buf, sizeof(buf), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "record", 6);
    nf_socket_close(&push);
    zmq_ctx_term(cctx);
    nf_socket_close(&pull);
    zmq_ctx_term(server_ctx);
    nf_zap_join();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keygen_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_with_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zap_admits_only_allowed_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
