#!/usr/bin/env python3
"""Writes conf/gazetteer.tsv, the entity list extract_meta reads, from the hand-kept
conf/gazetteer-curated.tsv and the country table of Debian's iso-codes package
(/usr/share/iso-codes/json/iso_3166-1.json: name, official_name, common_name).

The curated entries win: they come first, keep their type, canonical name and aliases as
written (exact-case ones such as =US and =UK included), and only gain the iso-codes names that
no other entry claims already. Countries and territories the curated file lacks follow, each
under its common name. ISO's inverted forms ("Korea, Republic of") are turned round
("Republic of Korea"); parenthesised parts become aliases ("Falkland Islands (Malvinas)"), or
are dropped when they only qualify ("(French part)"). Two- and three-letter codes are not
used: "IN", "IT" and "CAN" are words.

The output is committed, so a fresh clone runs without python3 or iso-codes. After editing
the curated file, or when iso-codes changes, run:
    python3 conf/make-gazetteer.py            # rewrites conf/gazetteer.tsv
    python3 conf/make-gazetteer.py --check    # exit 1 if conf/gazetteer.tsv is stale
"""
import argparse
import json
import os
import re
import subprocess
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ISO_JSON = "/usr/share/iso-codes/json/iso_3166-1.json"


def fold(name):
    """The key extract_meta matches on: case, accents and the separators inside a name
    (spaces, hyphens, apostrophes, full stops) do not count."""
    s = unicodedata.normalize("NFKD", name.casefold())
    s = "".join(c for c in s if not unicodedata.combining(c))
    return " ".join(w for w in re.split(r"[^\w]+", s) if w)


def iso_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "iso-codes"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def iso_forms(name):
    """Usable forms of one ISO name: (primary, [extra aliases]); primary None if unusable."""
    name = name.strip()
    if name.lower().startswith("the "):
        name = name[4:]
    extra = []
    m = re.search(r"\s*\(([^)]*)\)", name)
    if m:
        inner = m.group(1).strip()
        rest = (name[:m.start()] + name[m.end():]).strip()
        rest = re.sub(r"\s+", " ", rest)
        if not inner.endswith(" part"):
            if m.end() < len(name):  # "Cocos (Keeling) Islands"
                extra.append(re.sub(r"\s+", " ", name[:m.start()] + " " + inner + name[m.end():]))
            else:  # "Falkland Islands (Malvinas)", "Holy See (Vatican City State)"
                extra.append(inner)
        name = rest
    if "," in name:
        head, tail = [p.strip() for p in name.split(",", 1)]
        if re.search(r"\b(of|of the)$", tail):  # "Korea, Republic of"
            name = re.sub(r"^[Tt]he ", "", f"{tail} {head}")
        elif " " not in tail and "," not in tail:  # "Virgin Islands, British"
            name = f"{tail} {head}"
        else:  # "Saint Helena, Ascension and Tristan da Cunha": the first part alone
            extra.append(head)
            name = None
    return name, extra


def read_curated(path):
    """The curated file as lines; entries as [type, name, [aliases], line index]."""
    lines = open(path, encoding="utf-8").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    entries = []
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) not in (2, 3):
            sys.exit(f"{path}:{i + 1}: expected type<TAB>canonical name<TAB>aliases")
        aliases = [a.strip() for a in parts[2].split("|")] if len(parts) == 3 else []
        entries.append([parts[0].strip(), parts[1].strip(), [a for a in aliases if a], i])
    return lines, entries


def claimed_keys(entries):
    keys = {}
    for e in entries:
        for a in [e[1]] + e[2]:
            keys.setdefault(fold(a.lstrip("=")), e)
    return keys


def generate(curated_path, iso_path):
    lines, entries = read_curated(curated_path)
    keys = claimed_keys(entries)
    countries = json.load(open(iso_path, encoding="utf-8"))["3166-1"]
    added = []
    for c in countries:
        names, extra = [], []
        for field in ("common_name", "name", "official_name"):
            if field in c:
                primary, more = iso_forms(c[field])
                if primary:
                    names.append(primary)
                extra += more
        forms = []
        for n in names + extra:
            if n and fold(n) and n not in forms:
                forms.append(n)
        # the curated entry that already names this country, if any
        owner = next((keys[fold(n)] for n in forms
                      if fold(n) in keys and keys[fold(n)][0] == "place"), None)
        free = [n for n in forms if fold(n) not in keys]
        if owner is None:
            if not free:
                continue
            owner = ["place", free[0], [], None]
            free = free[1:]
            keys[fold(owner[1])] = owner
            entries.append(owner)
            added.append(owner)
        for n in free:
            if fold(n) not in keys:
                owner[2].append(n)
                keys[fold(n)] = owner

    out = []
    out.append("# GENERATED by conf/make-gazetteer.py from conf/gazetteer-curated.tsv and "
               f"iso-codes {iso_version()}:")
    out.append("# edit the curated file, then run `python3 conf/make-gazetteer.py`.")
    out.append("#")
    by_line = {e[3]: e for e in entries if e[3] is not None}
    for i, line in enumerate(lines):
        e = by_line.get(i)
        if e is None:
            out.append(line)
        else:
            out.append("\t".join([e[0], e[1], "|".join(e[2])]))
    out.append("")
    out.append("# ---- Countries and territories from iso-codes (ISO 3166-1) that the curated "
               "list lacks ----")
    for e in sorted(added, key=lambda e: fold(e[1])):
        out.append("\t".join([e[0], e[1], "|".join(e[2])]))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curated", default=os.path.join(HERE, "gazetteer-curated.tsv"))
    ap.add_argument("--iso", default=ISO_JSON)
    ap.add_argument("--out", default=os.path.join(HERE, "gazetteer.tsv"))
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the output file differs from what it would be")
    args = ap.parse_args()
    if not os.path.exists(args.iso):
        sys.exit(f"{args.iso} is missing: install Debian's iso-codes package")
    text = generate(args.curated, args.iso)
    if args.check:
        try:
            old = open(args.out, encoding="utf-8").read()
        except OSError:
            old = None
        made = re.search(r"iso-codes (\S+):", old or "")
        if made and made.group(1) != iso_version():
            # another release of iso-codes may name countries differently; the committed
            # file is still valid, it is only not comparable
            print(f"note: {args.out} was made with iso-codes {made.group(1)}, this machine has "
                  f"{iso_version()}: not compared", file=sys.stderr)
            return 0
        if old != text:
            print(f"{args.out} is stale: run python3 conf/make-gazetteer.py", file=sys.stderr)
            return 1
        return 0
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    n = sum(1 for l in text.split("\n") if l and not l.startswith("#"))
    print(f"{args.out}: {n} entities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
