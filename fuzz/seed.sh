#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from testdata: the binary vectors for framing and message, the
# admin captures (each prefixed by one command-selector byte) for admin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$here/corpus/framing" "$here/corpus/message" "$here/corpus/admin"
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
for i, f in enumerate(sorted((root / 'testdata/admin').glob('*.reply'))):
    (out / 'admin' / f.stem).write_bytes(bytes([i]) + f.read_bytes())
PY
