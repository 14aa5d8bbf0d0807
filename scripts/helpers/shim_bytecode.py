"""Builds runners/python_shim.bytecode: the Python shim compiled by each given
interpreter, so the runner's embedded shim is loaded, not compiled, on every run
(compiling its 1,200 lines is about 10 ms of a run; loading them about 1 ms).

    python3 scripts/helpers/shim_bytecode.py SHIM OUT PYTHON...

OUT is three parts (src/runner/python.rs reads them, its launcher the last two):
    task-runner python shim bytecode <FNV-1a 64 of SHIM, 16 hex digits>\\n
    <magic hex>:<offset>:<length> ...\\n       one entry per bytecode magic number
    the marshalled code objects, each at <offset> bytes after the index line.
Each code object is compiled with the file name /task-runner/python_shim.py, the
`__file__` the launcher gives it. Run by scripts/shim-bytecode.sh.
"""
import subprocess
import sys

FILENAME = '/task-runner/python_shim.py'

# Run by each interpreter (2.7 and 3.6+): prints its magic number in hex on
# one line, then the marshalled code on stdout.
COMPILE = r'''
import marshal, sys
src = open(sys.argv[1], 'rb').read()
code = compile(src, sys.argv[2], 'exec', 0, True)
try:
    magic = sys.modules['_frozen_importlib_external'].MAGIC_NUMBER
except KeyError:
    import imp
    magic = imp.get_magic()
out = getattr(sys.stdout, 'buffer', sys.stdout)
out.write(''.join('%02x' % b for b in bytearray(magic)).encode('ascii') + b'\n')
out.write(marshal.dumps(code))
'''


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in bytearray(data):
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    shim, out_path, pythons = argv[1], argv[2], argv[3:]
    source = open(shim, 'rb').read()
    blobs = {}
    for python in pythons:
        out = subprocess.run([python, '-c', COMPILE, shim, FILENAME], check=True,
                             stdout=subprocess.PIPE).stdout
        magic, blob = out.split(b'\n', 1)
        version = subprocess.run([python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                                 check=True, stdout=subprocess.PIPE).stdout.decode().strip()
        if magic in blobs and blobs[magic][0] != version:
            raise SystemExit('%s and %s share magic %s' % (blobs[magic][0], version, magic))
        blobs[magic] = (version, blob)
        print('%s: Python %s, magic %s, %d bytes' % (python, version, magic.decode(), len(blob)))
    index, body = [], b''
    for magic in sorted(blobs):
        blob = blobs[magic][1]
        index.append(b'%s:%d:%d' % (magic, len(body), len(blob)))
        body += blob
    with open(out_path, 'wb') as f:
        f.write(b'task-runner python shim bytecode %016x\n' % fnv1a(source))
        f.write(b' '.join(index) + b'\n')
        f.write(body)
    print('wrote %s: %d versions, %d bytes' % (out_path, len(blobs), len(body)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
