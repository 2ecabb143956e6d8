#!/usr/bin/env bash
# The feed pipeline (conf/feeds.cfg) against a real HTTP server on 127.0.0.1: a feed of the five
# seed articles made into web pages, plus one page that answers 500 and a feed that answers
# 404. Five articles stored with the feed's titles and dates, the broken page dead-lettered with
# its URL and status, the broken feed logged; a second run asks for the feed conditionally and
# fetches no page again; a source stopped before anything was stored resends from its journal,
# fetching the pages again.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed"
# the requests go straight to the test server, whatever proxy the environment names
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
CFG="$NF_SOURCE_DIR/conf/feeds.cfg"
DB="$T/feeds.db"
WWW="$T/www"
mkdir -p "$WWW"

# The seed articles as small web pages: paragraphs in an <article>, no metadata of their own.
python3 - "$NF_SOURCE_DIR/conf/sample" "$WWW" <<'PY' || fail "cannot make the pages"
import html, os, sys
src, out = sys.argv[1], sys.argv[2]
for i, name in enumerate(sorted(os.listdir(src))):
    text = open(os.path.join(src, name), encoding="utf-8").read()
    paras = [p.strip() for p in text.split("\n\n") if p.strip()]
    body = "\n".join("<p>%s</p>" % html.escape(p) for p in paras)
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Seed %d</title></head>"
            "<body><article>\n%s\n</article></body></html>\n" % (i, body))
    with open(os.path.join(out, "seed%d.html" % i), "w", encoding="utf-8") as f:
        f.write(page)
PY

python3 "$NF_SOURCE_DIR/tests/fixtures/feeds/server.py" --root "$WWW" --port-file "$T/port" \
    --log "$T/requests.log" 2>"$T/server.err" &
PIDS+=($!)
wait_for 20 test -s "$T/port" || { cat "$T/server.err"; fail "the test server did not start"; }
PORT=$(cat "$T/port")
BASE="http://127.0.0.1:$PORT"

# Dates in three zones; what each must become in UTC is checked below.
dates=("Mon, 06 Nov 2023 09:15:00 GMT" "Sat, 16 Sep 2023 18:30:00 +0200"
       "Sat, 16 Sep 2023 08:00:00 EDT" "Fri, 22 Dec 2023 14:45:00 +0000"
       "2023-11-08T07:00:00+01:00")
{
    echo '<?xml version="1.0" encoding="utf-8"?>'
    echo '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
    echo '<title>Sahel Wire</title><link>'"$BASE"'/</link>'
    for i in 0 1 2 3 4; do
        if [ "$i" = 4 ]; then d="<dc:date>${dates[$i]}</dc:date>"; else d="<pubDate>${dates[$i]}</pubDate>"; fi
        echo "<item><title>Sahel pact, part $i</title><link>$BASE/seed$i.html</link>$d"
        echo "<dc:creator>Reporter $i</dc:creator><guid>seed-$i</guid></item>"
    done
    echo "<item><title>Broken page</title><link>$BASE/status/500/broken.html</link>"
    echo '<pubDate>Sat, 23 Dec 2023 10:00:00 GMT</pubDate></item>'
    echo '</channel></rss>'
} >"$WWW/feed.xml"
cat >"$T/feeds.txt" <<EOF
# the wire's feed, and one that has gone away
$BASE/feed.xml
$BASE/status/404/gone.xml   600
EOF

run_feeds() {
    NEWSFLOW_FEEDS="$T/feeds.txt" timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" \
        --set store.path="$DB" --set fetch.once=true --set fetch.host_delay_ms=0 \
        --set fetch.private_hosts=true >"$1" 2>&1
}
run_feeds "$T/log" || { cat "$T/log"; fail "newsflow run --once failed"; }
ok "newsflow run --once exited 0"
assert_contains "$T/log" "every source is exhausted and acknowledged" "the feed source finished"

assert_eq "$(sql "$DB" "select count(*) from articles")" 5 "five articles stored"
assert_eq "$(sql "$DB" "select count(*) from articles where source_kind = 'http' and text <> ''")" 5 \
    "each from its web page, with its text"
row() { sql "$DB" "select title || ' | ' || coalesce(published_at,'-') || ' | ' || coalesce(byline,'-') || ' | ' || coalesce(outlet,'-') from articles where source_uri = '$BASE/seed$1.html'"; }
assert_eq "$(row 0)" "Sahel pact, part 0 | 2023-11-06T09:15:00Z | Reporter 0 | Sahel Wire" "seed 0 as the feed says"
assert_eq "$(row 1)" "Sahel pact, part 1 | 2023-09-16T16:30:00Z | Reporter 1 | Sahel Wire" "seed 1, +0200 made UTC"
assert_eq "$(row 2)" "Sahel pact, part 2 | 2023-09-16T12:00:00Z | Reporter 2 | Sahel Wire" "seed 2, EDT made UTC"
assert_eq "$(row 3)" "Sahel pact, part 3 | 2023-12-22T14:45:00Z | Reporter 3 | Sahel Wire" "seed 3"
assert_eq "$(row 4)" "Sahel pact, part 4 | 2023-11-08T06:00:00Z | Reporter 4 | Sahel Wire" "seed 4, dc:date made UTC"
assert_eq "$(sql "$DB" "select count(*) from articles where source_uri = '$BASE/seed3.html' and text like '%BAMAKO, Mali%'")" 1 \
    "seed 3's text came through clean_html"
assert_eq "$(sql "$DB" "select count(*) from articles where url like '$BASE/seed_.html'")" 5 "url is the page's"

# The page that answered 500: dead-lettered by the source with its URL and the status.
"$NF" dlq list "$CFG" --set state_dir="$T/var" >"$T/dlq" 2>&1 || { cat "$T/dlq"; fail "dlq list failed"; }
assert_contains "$T/dlq" "GET $BASE/status/500/broken.html: HTTP 500" "the 500 page is a dead letter naming URL and status"
assert_eq "$(grep -c "HTTP 500" "$T/dlq")" 1 "one dead letter"
# The feed that answered 404: logged with its URL and status; the pipeline went on.
assert_contains "$T/log" "feed $BASE/status/404/gone.xml: GET $BASE/status/404/gone.xml: HTTP 404" \
    "the broken feed is logged"
for i in 0 1 2 3 4; do
    assert_eq "$(grep -c "^GET /seed$i.html 200" "$T/requests.log")" 1 "seed $i fetched once"
done

# Second run: the feed is asked with its ETag (304), no page is fetched again, nothing new.
cp "$T/requests.log" "$T/requests.1"
run_feeds "$T/log2" || { cat "$T/log2"; fail "second run failed"; }
ok "second run exited 0"
assert_eq "$(sql "$DB" "select count(*) from articles")" 5 "still five articles"
assert_eq "$(grep -c "^GET /feed.xml 304" "$T/requests.log")" 1 "the feed answered 304 to the second run"
assert_eq "$(grep -c "^GET /seed" "$T/requests.log")" 5 "no page fetched again"
assert_eq "$(grep -c "^GET /status/500/broken.html" "$T/requests.log")" 1 "the broken page not asked again"
"$NF" dlq list "$CFG" --set state_dir="$T/var" >"$T/dlq2" 2>&1 || fail "dlq list failed"
assert_eq "$(grep -c "HTTP 500" "$T/dlq2")" 1 "no new dead letter"
# A source stopped before anything was stored: its journal keeps the records without their
# pages, and the next run fetches each page again (refetch) to resend it, then stores all five.
S3=(--set state_dir="$T/var3" --set store.path="$T/feeds3.db" --set fetch.once=true
    --set fetch.host_delay_ms=0 --set fetch.private_hosts=true --set grace_ms=200)
before=$(grep -c "^GET /seed" "$T/requests.log")
NEWSFLOW_FEEDS="$T/feeds.txt" "$NF" stage "$CFG" fetch "${S3[@]}" >"$T/log3" 2>&1 &
STAGE=$!
PIDS+=($STAGE)
# html takes what fetch sends (a source sends only to a consumer's worker that is there) and
# holds it, as nothing runs after it
"$NF" stage "$CFG" html "${S3[@]}" >"$T/log3h" 2>&1 &
HTML=$!
PIDS+=($HTML)
seen_all() { [ "$(grep -c "^GET /seed" "$T/requests.log")" -ge $((before + 5)) ]; }
wait_for 60 seen_all || { cat "$T/log3"; fail "the lone fetch stage did not fetch the pages"; }
wait_for 30 grep -q "input exhausted" "$T/log3" || { cat "$T/log3"; fail "the lone fetch stage did not finish its input"; }
kill -TERM "$STAGE" "$HTML"
wait "$STAGE"
wait "$HTML" || true
assert_contains "$T/log3" "records unacknowledged; they are in the journal" "unacknowledged records journaled"
journal=$(stat -c %s "$T/var3/fetch/journal-0.log")
pages=$(cat "$WWW"/seed*.html | wc -c)
[ "$journal" -lt "$pages" ] || fail "the journal ($journal bytes) holds the pages ($pages bytes)"
ok "the journal holds the records without their pages ($journal bytes for $pages bytes of pages)"
NEWSFLOW_FEEDS="$T/feeds.txt" timeout 120 "$NF" run "$CFG" --once "${S3[@]}" >"$T/log4" 2>&1 \
    || { cat "$T/log4"; fail "the run after the stop failed"; }
assert_contains "$T/log4" "recovered 5 unacknowledged records from the journal" "the journal was recovered"
assert_eq "$(sql "$T/feeds3.db" "select count(*) from articles where text <> ''")" 5 "five articles stored after the restart"
for i in 0 1 2 3 4; do
    assert_eq "$(grep -c "^GET /seed$i.html 200" "$T/requests.log")" 3 "seed $i fetched once more, to be resent (not twice)"
done
echo "all passed"
