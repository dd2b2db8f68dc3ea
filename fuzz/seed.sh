#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from testdata: the binary vectors for framing and message, the
# admin captures (each prefixed by one command-selector byte) for admin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$here/corpus/framing" "$here/corpus/message" "$here/corpus/admin" "$here/corpus/server" \
  "$here/corpus/label_expr"
python3 - "$root" "$here/corpus" <<'PY'
import pathlib, re, sys
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def parse(text):
    data, i = b'', 0
    esc = {'0': b'\0', 'n': b'\n', 'r': b'\r', 't': b'\t', '\\': b'\\', '"': b'"'}
    while i < len(text):
        c = text[i]
        if c in ' \t\n|':
            i += 1
        elif c == '"':
            j, s = i + 1, b''
            while text[j] != '"':
                if text[j] == '\\':
                    if text[j + 1] == 'x':
                        s += bytes([int(text[j + 2:j + 4], 16)]); j += 4
                    else:
                        s += esc[text[j + 1]]; j += 2
                else:
                    s += text[j].encode(); j += 1
            j += 1
            m = re.match(r'x(\d+)', text[j:])
            n = int(m.group(1)) if m else 1
            j += m.end() if m else 0
            data += s * n; i = j
        else:
            data += bytes([int(text[i:i + 2], 16)]); i += 2
    return data
for f in sorted((root / 'testdata/vectors').glob('*.hex')):
    lines = [l for l in f.read_text().splitlines()
             if l and not l.startswith('#') and not re.match(r'^(as|expect|reencode): ', l)]
    data = parse('\n'.join(lines))
    (out / 'message' / f.stem).write_bytes(data)
    (out / 'framing' / f.stem).write_bytes(bytes([7]) + data)
def server_ops(conn, data):
    # the server target's op "connection k receives L bytes", in chunks of at most 255
    out = b''
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += bytes([conn, len(chunk)]) + chunk
    return out
vectors = {}
for f in sorted((root / 'testdata/vectors').glob('*.hex')):
    lines = [l for l in f.read_text().splitlines()
             if l and not l.startswith('#') and not re.match(r'^(as|expect|reencode): ', l)]
    vectors[f.stem] = parse('\n'.join(lines))
# A worker registers and sleeps on connection 0; each request vector arrives on connection 1;
# the clock moves; the worker grabs.
def req(fields, ty):
    body = b'\0'.join(fields)
    return b'\0REQ' + ty.to_bytes(4, 'big') + len(body).to_bytes(4, 'big') + body
for name, data in vectors.items():
    if not data.startswith(b'\0REQ'):
        continue
    worker = req([b'f'], 1) + req([], 4)
    ops = server_ops(0, worker) + server_ops(1, data) + bytes([4, 20]) + server_ops(0, req([], 30))
    # The first byte picks the store: off, and on with its writes finishing (6 0) at the end.
    (out / 'server' / name).write_bytes(bytes([0]) + ops)
    (out / 'server' / f'{name}-stored').write_bytes(bytes([1]) + ops + bytes([6, 0]) + server_ops(0, req([], 30)))
for i, f in enumerate(sorted((root / 'testdata/admin').glob('*.reply'))):
    (out / 'admin' / f.stem).write_bytes(bytes([i]) + f.read_bytes())
# label_expr: one atom-picking byte, then an expression (the plugin's and ci-plugin.md's shapes).
for i, e in enumerate([
    'trusty', 'precise && devstack', '!bare || (xenial && "gpu node")', 'a -> b <-> !c',
    'a && b || c && !d', '((a))', '"quoted \\" atom" || x', 'x86_64 && ubuntu-16.04',
]):
    (out / 'label_expr' / f'seed{i}').write_bytes(bytes([i * 37 % 256]) + e.encode())
PY
