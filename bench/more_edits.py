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
  numbers  every number of the headline and text written as another outlet's style writes it:
           thousands separators dropped, or made dots, spaces (plain, no-break or thin) or
           apostrophes, decimal points made commas, separators added to long plain numbers
  marker   a wire version marker on the headline ("UPDATE 2-", "CORRECTED-", "REFILE-",
           "RPT-", or " (2)" at its end), half of them with a version note atop the text
           ("(Adds comment from the ministry)", "(Corrects figure in paragraph 3)")
  typo     a typo inside one to three numbers: a separator moved by a digit ("3,892,000" as
           "38,92,000"), dropped, doubled or made another, a decimal point lost
  retitle  the headline rewritten by a republisher (the text as it was): a third of its words
           swapped for words of the text's first sentence, the rest in another order, its
           figures kept
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


# A number as written: grouped by commas (with decimals), a decimal, or a long plain number.
NUMBER = re.compile(r'(?<![\w.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d{5,})(?![\w]|[.,]\d)')
# Outlets' ways of writing 1234567.89: thousands separator, decimal mark.
STYLES = [('', '.'), ('.', ','), (' ', ','), ('\u00a0', ','), ('\u202f', ','), ('\u2009', '.'),
          ("'", '.'), (',', '.')]
VERSIONS = ['UPDATE {n}-', 'CORRECTED-', 'REFILE-', 'RPT-', 'CORRECTED-UPDATE {n}-',
            'REFILE-UPDATE {n}-', 'UPDATE {n}:', 'WRAPUP {n}-']
NOTES = ['(Adds comment from the ministry)', '(Corrects figure in paragraph {n})',
         '(Updates with closing prices)', '(Adds byline, background)',
         '(Recasts, adds detail in paragraphs {n}-{m})', '(Repeats story first sent on Friday)']


def restyle(m, sep, dec):
    """One number written with thousands separator `sep` and decimal mark `dec`."""
    whole, _, frac = m.group(0).replace(',', '').partition('.')
    if sep and (len(whole) > 4 or len(whole) == 4 and ',' in m.group(0)):
        head = len(whole) % 3 or 3
        whole = whole[:head] + ''.join(sep + whole[i:i + 3] for i in range(head, len(whole), 3))
    return whole + (dec + frac if frac else '')


def number_typo(rng, s):
    """One typo inside a written number."""
    marks = [i for i, c in enumerate(s) if c in ',.']
    if not marks:
        i = rng.randrange(1, len(s))
        return s[:i] + ',' + s[i:]
    i = rng.choice(marks)
    how = rng.choice(['move', 'drop', 'double', 'other'])
    if how == 'move':
        j = i + rng.choice([-1, 1]) if 1 < i < len(s) - 2 else i + 1 if i == 1 else i - 1
        t = s[:i] + s[i + 1:]
        j = max(1, min(len(t) - 1, j))
        return t[:j] + s[i] + t[j:]
    if how == 'drop':
        return s[:i] + s[i + 1:]
    if how == 'double':
        return s[:i] + s[i] + s[i:]
    return s[:i] + (',' if s[i] == '.' else '.') + s[i + 1:]


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
    if kind == 'numbers':
        sep, dec = rng.choice(STYLES)
        return (NUMBER.sub(lambda m: restyle(m, sep, dec), title),
                NUMBER.sub(lambda m: restyle(m, sep, dec), body))
    if kind == 'marker':
        n = rng.randint(1, 5)
        if rng.random() < 0.2:
            title = f'{title} ({n})'
        else:
            title = rng.choice(VERSIONS).format(n=n) + title
        if rng.random() < 0.5:
            p = rng.randint(2, 9)
            body = rng.choice(NOTES).format(n=p, m=p + 1) + '\n\n' + body
        return title, body
    if kind == 'typo':
        spans = [m.span() for m in NUMBER.finditer(body)]
        for a, b in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 3))), reverse=True):
            body = body[:a] + number_typo(rng, body[a:b]) + body[b:]
        return title, body
    if kind == 'retitle':
        head = title.split()
        lead = [w for w in re.split(r'(?<=[.!?])\s', body, maxsplit=1)[0].split()
                if not re.search(r'\d', w)]
        for i in rng.sample(range(len(head)), len(head) // 3):
            if lead and not re.search(r'\d', head[i]):
                head[i] = rng.choice(lead)
        rng.shuffle(head)
        return ' '.join(head), body
    raise SystemExit(f'unknown kind {kind!r}')


KINDS = ['lead', 'words', 'shuffle', 'cut50', 'two', 'numbers', 'marker', 'typo', 'retitle']


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('indir')
    ap.add_argument('outdir')
    ap.add_argument('kind', choices=KINDS)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(f'{a.indir}/gold_dups.jsonl', encoding='utf-8') as f:
        gold = {g['key']: g for g in map(json.loads, f)}
    with open(f'{a.indir}/articles.jsonl', encoding='utf-8') as f:
        arts = [json.loads(line) for line in f]
    by_id = {r['id']: r for r in arts}
    os.makedirs(a.outdir, exist_ok=True)
    changed = 0
    with open(f'{a.outdir}/articles.jsonl', 'w', encoding='utf-8') as out:
        for r in arts:
            g = gold.get(r['id'])
            if g:
                o = by_id[g['original']]
                r = dict(r)
                r['title'], r['text'] = edit(rng, a.kind, o['title'], o['text'])
                changed += (r['title'], r['text']) != (o['title'], o['text'])
            out.write(json.dumps(r, ensure_ascii=False) + '\n')
    with open(f'{a.outdir}/gold_dups.jsonl', 'w', encoding='utf-8') as out:
        for g in gold.values():
            out.write(json.dumps({'key': g['key'], 'original': g['original'], 'edit': a.kind}) + '\n')
    print(f'{len(arts)} articles, {len(gold)} copies made again with {a.kind!r} ({changed} differ '
          f'from their original), in {a.outdir}')


if __name__ == '__main__':
    main()
