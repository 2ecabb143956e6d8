#!/usr/bin/env python3
"""Input for bench_recovery.sh: a large gzipped JSON-lines file made of a make_corpus.py corpus
repeated (each copy's ids made unique), and the fetch_jsonl ledger a run that had finished its
first lines would have left.

usage: recovery_input.py CORPUS.jsonl OUT.jsonl.gz MB
       recovery_input.py --ledger OUT.jsonl.gz PERCENT LEDGER

The first form writes about MB megabytes of gzip (level 6, as gzip writes by default) and prints
the number of lines. The second writes to LEDGER the record id of every line in the first
PERCENT per cent of OUT's lines, one a line, as fetch_jsonl's acknowledgements do: the id is
XXH3-128 of file://PATH#ID (libxxhash through ctypes, the library newsflow itself uses)."""
import ctypes, gzip, json, os, sys, zlib

def make(corpus, out, mb):
    lines = open(corpus, 'rb').read().splitlines()
    target = mb << 20
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    done = n = rep = 0
    with open(out + '.part', 'wb') as f:
        while done < target:
            for line in lines:
                # {"id": "0000000", ...} -> {"id": "r12-0000000", ...}
                line = line.replace(b'{"id": "', b'{"id": "r%d-' % rep, 1)
                chunk = z.compress(line + b'\n')
                f.write(chunk)
                done += len(chunk)
                n += 1
                if done >= target:
                    break
            rep += 1
        f.write(z.flush())
    os.rename(out + '.part', out)
    print(n)

class H128(ctypes.Structure):
    _fields_ = [('low64', ctypes.c_uint64), ('high64', ctypes.c_uint64)]

def ledger(path, percent, out):
    lib = ctypes.CDLL('libxxhash.so.0')
    lib.XXH3_128bits.restype = H128
    lib.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    path = os.path.realpath(path)
    with gzip.open(path, 'rb') as f:
        total = sum(1 for _ in f)
    stop = total * percent // 100
    prefix = ('file://%s#' % path).encode()
    with gzip.open(path, 'rb') as f, open(out, 'w') as o:
        for i, line in enumerate(f):
            if i >= stop:
                break
            uri = prefix + json.loads(line)['id'].encode()
            h = lib.XXH3_128bits(uri, len(uri))
            o.write('%016x%016x\n' % (h.high64, h.low64))
    print(stop, total)

if __name__ == '__main__':
    if sys.argv[1] == '--ledger':
        ledger(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        make(sys.argv[1], sys.argv[2], int(sys.argv[3]))
