#!/usr/bin/env python3
"""Makes a harder copy of a make_corpus.py corpus (--format jsonl): every known copy is made again
from its original with an edit heavier than the generator's own, so that make eval can tell how
dedup fares beyond the edits it was built for.

usage: more_edits.py IN_DIR OUT_DIR KIND [--seed S]

KIND is one of
  lead     the head cut off: the last 60-90% of the words kept (a lead dropped, a kicker kept)
  words    6-10% of the words replaced by other words of the text (the generator: 2-5%)
  shuffle  the paragraphs after the first put in another order
  cut50    the tail cut off at 50-60% of the words (the generator: 60-90%)
  two      two of the generator's kinds of edit, one after the other (wrap, cut, words,
           format, headline)
Originals, ids and order stay as they were; OUT_DIR gets articles.jsonl and gold_dups.jsonl in
the generator's format, so score_dups.py reads it as it reads IN_DIR."""
import argparse
import json
import os
import random
import re

TOP = ['Advertisement', 'Sign up for our newsletter', 'Listen to this story']
END = ['Share this story', 'All rights reserved.', 'More on this story']


def cut_tail(rng, words, lo, hi):
    return words[:max(30, int(len(words) * rng.uniform(lo, hi)))]


def base_edit(rng, kind, title, body):
    """One of the generator's kinds of edit, written anew here."""
    words = body.split(' ')
    if kind == 'wrap':
        return title, f'{rng.choice(TOP)}\n\n{body}\n\n{rng.choice(END)}'
    if kind == 'cut':
        return title, ' '.join(cut_tail(rng, words, 0.6, 0.9))
    if kind == 'words':
        return title, ' '.join(replace_words(rng, words, 2, 5))
    if kind == 'format':
        body = re.sub(r'\s*\n\s*', '\n\n', body).replace('"', '\u201c').replace("'", '\u2019')
        return title, re.sub(r' {2,}', ' ', body)
    return rng.choice(['UPDATE: ', 'BREAKING: ', '']) + title.title(), body


def replace_words(rng, words, lo_pct, hi_pct):
    words = list(words)
    n = max(1, len(words) * rng.randint(lo_pct, hi_pct) // 100)
    for i in rng.sample(range(len(words)), min(n, len(words))):
        words[i] = rng.choice(words)
    return words


def edit(rng, kind, title, body):
    words = body.split(' ')
    if kind == 'lead':
        keep = max(30, int(len(words) * rng.uniform(0.6, 0.9)))
        return title, ' '.join(words[len(words) - keep:])
    if kind == 'words':
        return title, ' '.join(replace_words(rng, words, 6, 10))
    if kind == 'shuffle':
        paras = [p for p in re.split(r'\n\s*\n|\n {2,}', body) if p.strip()]
        head, rest = paras[:1], paras[1:]
        rng.shuffle(rest)
        return title, '\n\n'.join(head + rest)
    if kind == 'cut50':
        return title, ' '.join(cut_tail(rng, words, 0.5, 0.6))
    if kind == 'two':
        for k in rng.sample(['wrap', 'cut', 'words', 'format', 'headline'], 2):
            title, body = base_edit(rng, k, title, body)
        return title, body
    raise SystemExit(f'unknown kind {kind!r}')


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('indir')
    ap.add_argument('outdir')
    ap.add_argument('kind', choices=['lead', 'words', 'shuffle', 'cut50', 'two'])
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(f'{a.indir}/gold_dups.jsonl', encoding='utf-8') as f:
        gold = {g['key']: g for g in map(json.loads, f)}
    with open(f'{a.indir}/articles.jsonl', encoding='utf-8') as f:
        arts = [json.loads(line) for line in f]
    by_id = {r['id']: r for r in arts}
    os.makedirs(a.outdir, exist_ok=True)
    with open(f'{a.outdir}/articles.jsonl', 'w', encoding='utf-8') as out:
        for r in arts:
            g = gold.get(r['id'])
            if g:
                o = by_id[g['original']]
                r = dict(r)
                r['title'], r['text'] = edit(rng, a.kind, o['title'], o['text'])
            out.write(json.dumps(r, ensure_ascii=False) + '\n')
    with open(f'{a.outdir}/gold_dups.jsonl', 'w', encoding='utf-8') as out:
        for g in gold.values():
            out.write(json.dumps({'key': g['key'], 'original': g['original'], 'edit': a.kind}) + '\n')
    print(f'{len(arts)} articles, {len(gold)} copies made again with {a.kind!r}, in {a.outdir}')


if __name__ == '__main__':
    main()
