#!/usr/bin/env bash
# Several hosts, one config: three hosts in network namespaces made here (veth pairs on a bridge
# of this test's own, addresses 10.77.0.0/24 that exist only inside this test). Host A runs
# fetch, sign, dedup and store and serves their inboxes; hosts B and C both run clean and
# extract workers, B serving those two inboxes. Every link is tcp with CURVE. Mid-run host C is
# cut off (link down) and comes back; every article is stored exactly once and nothing is
# dead-lettered; a fourth namespace without an allowed key is refused; a capture on the bridge
# shows no article text. Skips, saying why, where namespaces cannot be made.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "no ip command (iproute2)"
N=${NF_HOSTS_ARTICLES:-20000}
tag=$$
BR="nfbr$tag"
SW="nfs$tag" # the switch: a namespace holding only the bridge, away from the host's firewall
NS=(nfa$tag nfb$tag nfc$tag nfd$tag)
net_cleanup() {
    for ns in "${NS[@]}" "$SW"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    cleanup
}
trap net_cleanup EXIT
ip netns add "$SW" 2>/dev/null || skip "cannot make network namespaces here"
ip netns exec "$SW" ip link add "$BR" type bridge || skip "cannot make a bridge here"
ip netns exec "$SW" ip link set "$BR" up
for i in 0 1 2 3; do
    ns=${NS[$i]}
    ip netns add "$ns"
    ip link add "nfv$i$tag" type veth peer name "nfp$i$tag"
    ip link set "nfv$i$tag" netns "$ns"
    ip link set "nfp$i$tag" netns "$SW"
    ip netns exec "$SW" ip link set "nfp$i$tag" master "$BR" up
    ip netns exec "$ns" ip addr add "10.77.0.$((i + 1))/24" dev "nfv$i$tag"
    ip netns exec "$ns" ip link set "nfv$i$tag" up
    ip netns exec "$ns" ip link set lo up
done
# reachable: a connection to a closed port is refused (not timed out)
reach='import socket, sys
s = socket.socket(); s.settimeout(3)
try: s.connect((sys.argv[1], 9))
except ConnectionRefusedError: sys.exit(0)
except OSError: sys.exit(1)
sys.exit(0)'
ip netns exec "${NS[1]}" python3 -c "$reach" 10.77.0.1 || skip "the namespaces cannot reach each other"
ok "four hosts in network namespaces on a bridge"

# Keys: one for the listening sockets, one client key per host; D has none that is allowed.
mkdir -p "$T/keys" "$T/in"
"$NF" keygen "$T/keys/server" >/dev/null
for h in a b c; do "$NF" keygen "$T/keys/$h" >/dev/null; done
cat "$T/keys/a.pub" "$T/keys/b.pub" "$T/keys/c.pub" >"$T/keys/allowed"

python3 - "$T/in" "$N" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = ("council harbour minister river festival market railway election school museum "
         "farmers budget storm bridge orchestra hospital court league airport library "
         "factory island mayor union village treaty drought vaccine satellite archive").split()
for i in range(n):
    k = rng.sample(words, 6)
    title = f"{k[0].title()} {k[1]} report number {i}"
    body = " ".join(f"The {rng.choice(words)} of district {rng.randint(1, 900)} said the "
                    f"{rng.choice(words)} would {rng.choice(['open', 'close', 'grow', 'wait'])} "
                    f"on day {rng.randint(1, 28)}." for _ in range(rng.randint(6, 14)))
    with open(os.path.join(out, f"a{i:05d}.txt"), "w") as f:
        f.write(f"{title}\n\n{body} Marker phrase zebra{i}quokka closes article {i}.\n")
PY
cat >"$T/hosts.cfg" <<CFG
curve_server_key = "keys/server.key";
curve_server_public = "keys/server.pub";
curve_client_key = "keys/a.key";
curve_allow = "keys/allowed";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; ack_endpoint = "tcp://10.77.0.1:5600";
            ack_timeout_ms = 4000; window = 2000; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; endpoint = "tcp://10.77.0.2:5610"; };
  extract = { plugin = "extract_meta"; inputs = ["clean"]; endpoint = "tcp://10.77.0.2:5620";
              gazetteer = "$NF_SOURCE_DIR/conf/gazetteer.tsv"; };
  sign = { plugin = "minhash"; inputs = ["extract"]; endpoint = "tcp://10.77.0.1:5630"; };
  dedup = { plugin = "dedup"; inputs = ["sign"]; endpoint = "tcp://10.77.0.1:5640";
            in_read_order = true; };
  store = { plugin = "store_sqlite"; inputs = ["dedup"]; path = "$T/a.db";
            endpoint = "tcp://10.77.0.1:5650"; };
};
CFG
host() { # host NS NAME ARGS...: a supervisor in a namespace, its state and key its own
    local ns=$1 name=$2; shift 2
    ip netns exec "$ns" "$NF" run "$T/hosts.cfg" --set "state_dir=$T/$name" \
        --set "curve_client_key=$T/keys/$name.key" "$@" >"$T/$name.log" 2>&1 &
    PIDS+=($!)
}
host "${NS[1]}" b --stages clean,extract
B=${PIDS[-1]}
host "${NS[2]}" c --stages clean,extract
C=${PIDS[-1]}
if command -v tcpdump >/dev/null; then
    timeout 120 ip netns exec "$SW" tcpdump -i "$BR" -s 0 -w "$T/wire.pcap" -c 4000 tcp \
        >/dev/null 2>&1 &
    DUMP=$!
fi
sleep 0.5
host "${NS[0]}" a --once --stages fetch,sign,dedup,store
A=${PIDS[-1]}
rows() { [ "$(sql "$T/a.db" "select count(*) from articles" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_for 120 rows $((N / 4)) || { tail -20 "$T/a.log" "$T/b.log"; fail "a quarter of the articles was not stored"; }
# a worker dies on host B: its supervisor tells the source on host A, which resends what the
# worker may have held a second after its send, instead of after ack_timeout_ms
bclean=$(pgrep -f "stage $T/hosts.cfg clean --worker 0 .*state_dir=$T/b( |$)") || fail "no clean worker on host B"
kill -KILL "$bclean"
ip netns exec "${NS[2]}" ip link set "nfv2$tag" down
ok "host C cut off after $(sql "$T/a.db" "select count(*) from articles") articles"
# a host without an allowed key tries the dedup inbox meanwhile
ip netns exec "${NS[3]}" "$NF_BUILD_DIR/tests/tools/nf_inject" -w 2000 -k "$T/keys/server.pub" \
    tcp://10.77.0.1:5640 -j '{"id": "0123456789abcdef0123456789abcdef", "text": "forged"}' \
    2>/dev/null && fail "a host without an allowed key delivered a record"
sleep 4
ip netns exec "${NS[2]}" ip link set "nfv2$tag" up
ok "host C back"
wait "$A" || { tail -30 "$T/a.log"; fail "host A's run failed"; }
ok "host A's run ended: every record stored and acknowledged"
assert_eq "$(sql "$T/a.db" "select count(*) from articles")" "$N" "every article stored"
assert_eq "$(sql "$T/a.db" "select count(distinct source_uri) from articles")" "$N" "each exactly once"
for h in a b c; do
    d=$(sql "$T/$h/deadletter.db" "select count(*) from dead_letters" 2>/dev/null || echo 0)
    assert_eq "$d" 0 "nothing dead-lettered on host $h"
done
grep -qE "fetch\[0\]: counts: .*deaths_heard=[1-9]" "$T/a.log" ||
    { grep "counts" "$T/a.log"; fail "the source on host A did not hear of the death on host B"; }
ok "the source on host A heard of the worker that died on host B"
assert_contains "$T/a.log" "dedup[0]: records go to the plugin in read order" \
    "dedup, on the source's host, takes its records in read order"
grep -q "no read-order page" "$T/a.log" && fail "dedup could not read the source's read-order page"
grep -q "refused a tcp peer at 10.77.0.4" "$T/a.log" || { grep -i refused "$T/a.log"; fail "the keyless host was not refused and logged"; }
ok "the host without a key was refused, logged with its address"
kill -TERM "$B" "$C"
wait "$B" "$C"
for h in b c; do
    for st in clean extract; do
        grep -qE "$st\[0\]: counts: in=[1-9]" "$T/$h.log" ||
            { grep counts "$T/$h.log"; fail "host $h's $st worker handled no record"; }
    done
done
ok "hosts B and C both handled records in their clean and extract workers"
if [ -n "${DUMP:-}" ]; then
    kill -INT "$DUMP" 2>/dev/null
    wait "$DUMP" 2>/dev/null
    [ -s "$T/wire.pcap" ] || fail "the capture is empty"
    if grep -aqE "zebra[0-9]+quokka|Marker phrase" "$T/wire.pcap"; then
        fail "article text crossed the wire in the clear"
    fi
    ok "a capture on the bridge ($(stat -c %s "$T/wire.pcap") bytes) shows no article text"
else
    echo "SKIP part: no tcpdump to capture the wire"
fi
echo "all passed"
