#!/usr/bin/env python3
"""Counts, in a make_corpus.py corpus, the copies that no dedup marking exact repeats can
score as found.

usage: dups_twins.py CORPUS_DIR

The generator draws its originals from BBC and Reuters-21578, which repeat some articles word
for word (same headline, same text); generators that keep those repeats, or that reuse their
originals when the corpus is larger than the pool, leave such twins in the corpus (the current
make_corpus.py drops them, and this then prints 0). When a copy's original is an exact repeat
of an earlier article, a dedup
that points every copy at the earliest original (as it must for the repeat itself) follows the
chain to the earlier twin, while the gold names the later one: score_dups.py counts a miss
whatever the dedup does. This prints how many such copies there are and the share of copies
that is left to find. It reads only the corpus, not any pipeline's output."""
import json
import os
import sys


def articles(d):
    if os.path.exists(f'{d}/articles.jsonl'):
        with open(f'{d}/articles.jsonl', encoding='utf-8') as f:
            for line in f:
                r = json.loads(line)
                yield r['id'], (r['title'], r['text'])
    else:
        for n in sorted(os.listdir(f'{d}/articles')):
            with open(f'{d}/articles/{n}', encoding='utf-8') as f:
                yield n, f.read()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    first = {}      # content -> key of its first occurrence
    twin_of = {}    # key -> key of the earlier identical article
    for key, content in articles(d):
        if content in first:
            twin_of[key] = first[content]
        else:
            first[content] = key
    with open(f'{d}/gold_dups.jsonl', encoding='utf-8') as f:
        gold = [json.loads(line) for line in f if line.strip()]
    lost = sum(1 for g in gold if g['original'] in twin_of)
    n = len(gold)
    share = 1 - lost / n if n else 1.0
    print(f'copies {n}  of an original that repeats an earlier article word for word: {lost}')
    print(f'share of copies a dedup marking exact repeats can score as found: at most {share:.4f}')


if __name__ == '__main__':
    main()
