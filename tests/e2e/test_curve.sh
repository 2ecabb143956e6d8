#!/usr/bin/env bash
# tcp links with CURVE: a pipeline whose inboxes and acknowledgements are on 127.0.0.1 stores
# everything through authenticated, encrypted links; a peer with a key nobody allowed, or with
# no key, can neither push records into an inbox nor acknowledge to a source, and is logged with
# its address; tcp without keys needs an explicit insecure = true, and check warns about it
# beyond loopback; bad key files stop start-up with the key's name.
. "$(dirname "$0")/lib.sh"
INJECT="$NF_BUILD_DIR/tests/tools/nf_inject"
mkdir -p "$T/in" "$T/keys"
cp "$NF_SOURCE_DIR"/conf/sample/*.txt "$T/in/"
"$NF" keygen "$T/keys/server" >/dev/null || fail "keygen server"
"$NF" keygen "$T/keys/host" >/dev/null || fail "keygen host"
assert_eq "$(stat -c %a "$T/keys/server.key")" 600 "keygen writes the secret key 0600"
"$NF" keygen "$T/keys/host" 2>"$T/kg.err" && fail "keygen overwrote a key pair"
assert_contains "$T/kg.err" "already exists" "keygen refuses to overwrite"
cp "$T/keys/host.pub" "$T/keys/allowed"
# three free ports in a row from the kernel's ephemeral range
port() { python3 -c 'import socket
for _ in range(50):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    ok = True
    for q in (p + 1, p + 2):
        t = socket.socket()
        try: t.bind(("127.0.0.1", q))
        except OSError: ok = False
        t.close()
    if ok and p < 65000: print(p); break'; }
P1=$(port); P2=$(port); P3=$(port)
cat >"$T/tcp.cfg" <<CFG
state_dir = "$T/var";
curve_server_key = "keys/server.key";
curve_server_public = "keys/server.pub";
curve_client_key = "keys/host.key";
curve_allow = "keys/allowed";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; ack_endpoint = "tcp://127.0.0.1:$P1"; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; endpoint = "tcp://127.0.0.1:$P2"; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50;
            endpoint = "tcp://127.0.0.1:$P3"; };
};
CFG
"$NF" check "$T/tcp.cfg" >"$T/check.out" 2>&1 || { cat "$T/check.out"; fail "check refused the CURVE config"; }
ok "check accepts the CURVE config"
"$NF" run "$T/tcp.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
wait_for 30 rows 5 || { cat "$T/log"; fail "the five articles were not stored over CURVE links"; }
ok "five articles stored through CURVE links on 127.0.0.1"
ss -ltn 2>/dev/null | grep -q "0.0.0.0:$P2 " && fail "the inbox listens on every interface"
ss -ltn 2>/dev/null | grep -q "127.0.0.1:$P2 " || fail "the inbox does not listen on 127.0.0.1:$P2"
ok "the inbox listens only on the address named"

REC='{"id": "0123456789abcdef0123456789abcdef", "source": {"uri": "test://forged", "kind": "test"}, "title": "FORGED TITLE", "text": "Forged text that must never be stored by the pipeline."}'
"$INJECT" -w 1500 -k "$T/keys/server.pub" "tcp://127.0.0.1:$P3" -j "$REC" 2>"$T/inj1.err" &&
    fail "a peer with a key nobody allowed delivered a record"
"$INJECT" -w 1500 "tcp://127.0.0.1:$P3" -j "$REC" 2>"$T/inj2.err" &&
    fail "a peer without CURVE delivered a record"
"$INJECT" -w 1500 -k "$T/keys/server.pub" "tcp://127.0.0.1:$P1" -x '92 01 01' 2>"$T/inj3.err" &&
    fail "a peer with a key nobody allowed delivered an acknowledgement"
# taking records from the workers' side of an inbox (PORT+1) while records flow
cp "$NF_SOURCE_DIR"/conf/sample/000_*.txt "$T/in/.p" && mv "$T/in/.p" "$T/in/pull.txt"
"$INJECT" -P -w 2000 -k "$T/keys/server.pub" "tcp://127.0.0.1:$((P2 + 1))" >"$T/pull.out" 2>&1 &&
    fail "a peer with a key nobody allowed took records from clean's inbox"
"$INJECT" -P -w 1000 "tcp://127.0.0.1:$((P2 + 1))" >"$T/pull2.out" 2>&1 &&
    fail "a peer without CURVE took records from clean's inbox"
wait_for 10 grep -q "refused a tcp peer at 127.0.0.1" "$T/log" || { cat "$T/log"; fail "the refused peer was not logged"; }
ok "foreign peers cannot push records, take them or acknowledge, and are logged with their address"
assert_contains "$T/log" "its key is not in curve_allow" "the log says why the peer was refused"
# an allowed client key gets through: the same tool with the host's key delivers
"$INJECT" -w 5000 -k "$T/keys/server.pub" -K "$T/keys/host.key" "tcp://127.0.0.1:$P3" \
    -j "${REC/FORGED TITLE/Allowed}" || fail "a peer with an allowed key could not deliver"
wait_for 20 rows 7 || fail "the allowed peer's record was not stored"
assert_eq "$(sql "$T/db" "select count(*) from articles where title = 'FORGED TITLE'")" 0 "no forged record was stored"
ok "an allowed key delivers"
kill -TERM "$SUP"
wait "$SUP"
assert_eq "$?" 0 "the supervisor exits 0"

# tcp without keys needs insecure = true; check warns beyond loopback
grep -v curve_ "$T/tcp.cfg" >"$T/plain.cfg"
"$NF" check "$T/plain.cfg" >"$T/plain.out" 2>&1 && fail "plain tcp without insecure was accepted"
assert_contains "$T/plain.out" "need CURVE keys" "plain tcp without keys is refused"
{ echo 'insecure = true;'; sed "s/127.0.0.1:$P2/192.0.2.7:$P2/" "$T/plain.cfg"; } >"$T/insecure.cfg"
"$NF" check "$T/insecure.cfg" >"$T/insecure.out" 2>&1 || { cat "$T/insecure.out"; fail "insecure config refused"; }
assert_contains "$T/insecure.out" "is plain tcp beyond loopback" "check warns about plain tcp beyond loopback"
grep -q "stage 'fetch'.*beyond loopback" "$T/insecure.out" && fail "check warned about a loopback endpoint"
# key files: a readable secret key, a wrong public key
chmod 644 "$T/keys/host.key"
"$NF" check "$T/tcp.cfg" >"$T/k1.out" 2>&1 && fail "a secret key readable by others was accepted"
assert_contains "$T/k1.out" "curve_client_key" "a readable secret key is refused, naming the key"
chmod 600 "$T/keys/host.key"
sed 's|keys/server.pub|keys/host.pub|' "$T/tcp.cfg" >"$T/k2.cfg"
"$NF" check "$T/k2.cfg" >"$T/k2.out" 2>&1 && fail "a public key of another pair was accepted"
assert_contains "$T/k2.out" "is not the public key of" "a mismatched server key pair is refused"
echo "all passed"
