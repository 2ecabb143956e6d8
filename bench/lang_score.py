#!/usr/bin/env python3
"""Language identification scores for bench/bench_lang.sh (standard library only).

  lang_score.py split FRONT.jsonl TEXTS.jsonl GOLD.tsv
      From a store_jsonl export of web pages (their `lang` is the page's own declaration, read by
      clean_html), writes the main texts alone as {id, text} lines and the declared languages
      as id<TAB>lang lines. Pages without a declared language or without text are left out.
  lang_score.py score GOLD RESULT.jsonl LABEL
      Compares the `lang` of every record in RESULT.jsonl with GOLD: a GOLD.tsv as above, or a
      two-letter code that every record should have ("en"). Prints one line per language:
      records, right, wrong, unknown (no lang), and the commonest wrong answers.

Records are matched by source.uri: the part after '#' if there is one, else the file name
without .gz.
"""
import collections
import json
import os
import sys


def name_of(rec):
    uri = rec.get("source", {}).get("uri", "")
    if "#" in uri:
        return uri.rsplit("#", 1)[1]
    base = os.path.basename(uri)
    return base[:-3] if base.endswith(".gz") else base


def split(front, texts, gold):
    kept = skipped = 0
    with open(front, encoding="utf-8") as f, open(texts, "w", encoding="utf-8") as t, \
            open(gold, "w", encoding="utf-8") as g:
        for line in f:
            rec = json.loads(line)
            lang, text = rec.get("lang"), rec.get("text")
            if not lang or not text:
                skipped += 1
                continue
            name = name_of(rec)
            t.write(json.dumps({"id": name, "text": text}, ensure_ascii=False) + "\n")
            g.write(f"{name}\t{lang}\n")
            kept += 1
    print(f"  {kept} pages with a declared language and text ({skipped} without, left out)")


def score(gold_arg, result, label):
    gold = None
    if len(gold_arg) != 2:
        with open(gold_arg, encoding="utf-8") as g:
            gold = dict(line.rstrip("\n").split("\t") for line in g if "\t" in line)
    rows = collections.defaultdict(lambda: [0, 0, 0, collections.Counter()])
    with open(result, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            want = gold_arg if gold is None else gold.get(name_of(rec))
            if want is None:
                continue
            got = rec.get("lang")
            r = rows[want]
            r[0] += 1
            if got == want:
                r[1] += 1
            elif got:
                r[2] += 1
                r[3][got] += 1
            else:
                r[3]["none"] += 1
    n = sum(r[0] for r in rows.values())
    right = sum(r[1] for r in rows.values())
    wrong = sum(r[2] for r in rows.values())
    if n == 0:
        print(f"  {label}: no record matched the gold")
        return
    print(f"  {label}: {n} records, {right} right ({100 * right / n:.1f}%), {wrong} wrong "
          f"({100 * wrong / n:.1f}%), {n - right - wrong} unknown ({100 * (n - right - wrong) / n:.1f}%)")
    print(f"    {'lang':<5} {'records':>7} {'right':>6} {'wrong':>6} {'unknown':>7}  commonest mistakes")
    for lang, r in sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0])):
        common = " ".join(f"{k}:{v}" for k, v in r[3].most_common(4))
        print(f"    {lang:<5} {r[0]:>7} {r[1]:>6} {r[2]:>6} {r[0] - r[1] - r[2]:>7}  {common}")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "split":
        split(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "score":
        score(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
