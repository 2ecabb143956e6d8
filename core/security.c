/* Security of tcp links (security.h). */
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "newsflow/log.h"

#define KEY_Z85 40 /* a 32-byte key in Z85 */

static struct {
    bool on;
    char server_secret[KEY_Z85 + 1], server_public[KEY_Z85 + 1];
    char client_secret[KEY_Z85 + 1], client_public[KEY_Z85 + 1];
    uint8_t (*allow)[32]; /* binary client public keys */
    size_t n_allow;
    char allow_path[PATH_MAX];
} sec;

static pthread_t zap_thread;
static bool zap_running;
static int64_t zap_refused; /* written by the ZAP thread, read atomically */

static bool is_z85_key(const char *s, size_t n)
{
    uint8_t bin[32];
    char tmp[KEY_Z85 + 1];
    if (n != KEY_Z85)
        return false;
    memcpy(tmp, s, KEY_Z85);
    tmp[KEY_Z85] = '\0';
    return zmq_z85_decode(bin, tmp) != NULL;
}

/* Reads the Z85 keys of a file, one a line (a line starting with '#' is a comment). A secret key file must not be
 * readable by anyone but its owner. Returns the number read, or -1 with the reason. */
static int read_keys(const char *key, const char *path, bool secret, char (*out)[KEY_Z85 + 1],
                     int max, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (secret && (st.st_mode & 077)) {
        snprintf(err, errlen, "%s %s: a secret key must be private to its owner (mode %04o); "
                              "chmod 600 it", key, path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
        return -1;
    }
    char line[512];
    int n = 0, lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = line, *e;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#') /* a comment line: '#' is also a Z85 digit, so only at the start */
            continue;
        for (e = p + strlen(p); e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
                                           e[-1] == '\t');)
            *--e = '\0';
        if (!*p)
            continue;
        if (!is_z85_key(p, (size_t)(e - p))) {
            snprintf(err, errlen, "%s %s:%d: not a CURVE key (40 characters of Z85, as "
                                  "`newsflow keygen` writes)", key, path, lineno);
            fclose(f);
            return -1;
        }
        if (n == max) {
            snprintf(err, errlen, "%s %s: more than %d keys", key, path, max);
            fclose(f);
            return -1;
        }
        memcpy(out[n++], p, KEY_Z85 + 1);
    }
    fclose(f);
    if (n == 0) {
        snprintf(err, errlen, "%s %s: no key in it", key, path);
        return -1;
    }
    return n;
}

static int one_key(const char *key, const char *path, bool secret, char out[KEY_Z85 + 1],
                   char *err, size_t errlen)
{
    char k[1][KEY_Z85 + 1];
    if (read_keys(key, path, secret, k, 1, err, errlen) < 0)
        return -1;
    memcpy(out, k[0], KEY_Z85 + 1);
    return 0;
}

int nf_security_setup(const struct nf_config *cfg, char *err, size_t errlen)
{
    free(sec.allow);
    memset(&sec, 0, sizeof(sec));
    if (!cfg->uses_tcp || !cfg->curve_server_key)
        return 0; /* ipc only, or plain tcp by `insecure = true` */
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this ZeroMQ library has no CURVE support");
        return -1;
    }
    if (one_key("curve_server_key", cfg->curve_server_key, true, sec.server_secret, err,
                errlen) < 0 ||
        one_key("curve_server_public", cfg->curve_server_public, false, sec.server_public, err,
                errlen) < 0 ||
        one_key("curve_client_key", cfg->curve_client_key, true, sec.client_secret, err,
                errlen) < 0)
        return -1;
    char derived[KEY_Z85 + 1];
    if (zmq_curve_public(derived, sec.server_secret) != 0 ||
        strcmp(derived, sec.server_public) != 0) {
        snprintf(err, errlen, "curve_server_public %s is not the public key of "
                              "curve_server_key %s", cfg->curve_server_public,
                 cfg->curve_server_key);
        return -1;
    }
    if (zmq_curve_public(sec.client_public, sec.client_secret) != 0) {
        snprintf(err, errlen, "curve_client_key %s: not a usable key", cfg->curve_client_key);
        return -1;
    }
    enum { MAX_ALLOW = 4096 };
    char (*keys)[KEY_Z85 + 1] = malloc(sizeof(*keys) * MAX_ALLOW);
    int n = keys ? read_keys("curve_allow", cfg->curve_allow, false, keys, MAX_ALLOW, err,
                             errlen)
                 : -1;
    sec.allow = n > 0 ? malloc(sizeof(*sec.allow) * (size_t)n) : NULL;
    for (int i = 0; sec.allow && i < n; i++)
        zmq_z85_decode(sec.allow[i], keys[i]);
    free(keys);
    if (n <= 0 || !sec.allow) {
        if (n > 0)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    sec.n_allow = (size_t)n;
    snprintf(sec.allow_path, sizeof(sec.allow_path), "%s", cfg->curve_allow);
    sec.on = true;
    return 0;
}

bool nf_security_on(void)
{
    return sec.on;
}

int nf_security_apply(void *s, const char *endpoint, bool bind)
{
    if (!sec.on || strncmp(endpoint, "tcp://", 6) != 0)
        return 0;
    if (bind) {
        int one = 1;
        const char *domain = "newsflow";
        return zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) ||
                       zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
                       zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec.server_secret, KEY_Z85 + 1)
                   ? -1
                   : 0;
    }
    return zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, sec.server_public, KEY_Z85 + 1) ||
                   zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, sec.client_public, KEY_Z85 + 1) ||
                   zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec.client_secret, KEY_Z85 + 1)
               ? -1
               : 0;
}

/* ---- the ZAP handler (RFC 27) --------------------------------------------------------------- */

static bool allowed(const uint8_t *key)
{
    for (size_t i = 0; i < sec.n_allow; i++)
        if (memcmp(sec.allow[i], key, 32) == 0)
            return true;
    return false;
}

static void *zap_main(void *arg)
{
    void *rep = arg;
    for (;;) {
        /* version, request id, domain, address, identity, mechanism, credentials... */
        zmq_msg_t part[8];
        int n = 0;
        bool more = true, broken = false;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, rep, 0) < 0) {
                zmq_msg_close(&m);
                for (int i = 0; i < n; i++)
                    zmq_msg_close(&part[i]);
                if (errno == EINTR)
                    goto next;
                zmq_close(rep); /* ETERM: the context is ending */
                return NULL;
            }
            more = zmq_msg_more(&m);
            if (n < 8)
                part[n++] = m;
            else {
                zmq_msg_close(&m);
                broken = true;
            }
        }
        if (n < 6)
            broken = true;
        {
            char address[64] = "?";
            bool ok = false;
            const char *why = "malformed ZAP request";
            if (!broken) {
                size_t al = zmq_msg_size(&part[3]);
                snprintf(address, sizeof(address), "%.*s", (int)(al < 63 ? al : 63),
                         (const char *)zmq_msg_data(&part[3]));
                bool curve = zmq_msg_size(&part[5]) == 5 &&
                             memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0;
                if (!curve)
                    why = "not a CURVE peer";
                else if (n < 7 || zmq_msg_size(&part[6]) != 32)
                    why = "no client key";
                else if (!(ok = allowed(zmq_msg_data(&part[6]))))
                    why = "its key is not in curve_allow";
            }
            if (!ok) {
                __atomic_add_fetch(&zap_refused, 1, __ATOMIC_RELAXED);
                char key[KEY_Z85 + 1] = "";
                if (!broken && n >= 7 && zmq_msg_size(&part[6]) == 32)
                    zmq_z85_encode(key, zmq_msg_data(&part[6]), 32);
                nf_logf(NF_LOG_WARN, "refused a tcp peer at %s%s%s: %s (%s); %lld refused so far",
                        address, key[0] ? " with key " : "", key, why, sec.allow_path,
                        (long long)__atomic_load_n(&zap_refused, __ATOMIC_RELAXED));
            }
            const char *status = ok ? "200" : "400";
            const char *text = ok ? "OK" : why;
            zmq_send(rep, "1.0", 3, ZMQ_SNDMORE);
            if (n >= 2)
                zmq_send(rep, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
            else
                zmq_send(rep, "", 0, ZMQ_SNDMORE);
            zmq_send(rep, status, 3, ZMQ_SNDMORE);
            zmq_send(rep, text, strlen(text), ZMQ_SNDMORE);
            zmq_send(rep, "", 0, ZMQ_SNDMORE); /* user id */
            zmq_send(rep, "", 0, 0);           /* metadata */
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&part[i]);
    next:;
    }
}

int nf_zap_start(void *zctx, char *err, size_t errlen)
{
    if (!sec.on || zap_running)
        return 0;
    void *rep = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (!rep || zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(rep, "inproc://zeromq.zap.01") != 0) {
        snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(errno));
        if (rep)
            zmq_close(rep);
        return -1;
    }
    int rc = pthread_create(&zap_thread, NULL, zap_main, rep);
    if (rc != 0) {
        snprintf(err, errlen, "ZAP handler thread: %s", strerror(rc));
        zmq_close(rep);
        return -1;
    }
    zap_running = true;
    return 0;
}

void nf_zap_join(void)
{
    if (zap_running)
        pthread_join(zap_thread, NULL);
    zap_running = false;
}

int64_t nf_zap_refused(void)
{
    return __atomic_load_n(&zap_refused, __ATOMIC_RELAXED);
}

int nf_keygen(const char *prefix, char *err, size_t errlen)
{
    char pub[KEY_Z85 + 1], secret[KEY_Z85 + 1];
    if (!zmq_has("curve") || zmq_curve_keypair(pub, secret) != 0) {
        snprintf(err, errlen, "cannot make a CURVE key pair: %s", zmq_strerror(errno));
        return -1;
    }
    char path[PATH_MAX];
    const char *ext[2] = {".key", ".pub"};
    const char *val[2] = {secret, pub};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s%s", prefix, ext[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, i == 0 ? 0600 : 0644);
        if (fd < 0) {
            snprintf(err, errlen, "%s: %s", path,
                     errno == EEXIST ? "already exists (not overwritten)" : strerror(errno));
            return -1;
        }
        if (i == 1)
            fchmod(fd, 0644); /* a public key may be read by anyone */
        char line[KEY_Z85 + 2];
        int len = snprintf(line, sizeof(line), "%s\n", val[i]);
        if (write(fd, line, (size_t)len) != len || close(fd) != 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}
