import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const lineDir = fileURLToPath(new URL('../delayline', import.meta.url))

// The delay line recomputes every frame's IPv4 and TCP/UDP checksums, with a big-integer
// shortcut for the ones' complement sum. Check it against the word-by-word RFC 1071 sum.
const script = `
import random, struct, sys
sys.path.insert(0, sys.argv[1])
from delayline import csum, fix_checksums

def reference(data):
    if len(data) % 2:
        data += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

assert csum(bytes([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])) == 0x220d  # RFC 1071 §3
rng = random.Random(7)
cases = [b'', b'\\0', b'\\0\\0', b'\\xff\\xff', b'\\xff' * 1500, b'\\0' * 1500, b'\\xff\\xfe\\x00\\x01']
cases += [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 1600))) for _ in range(400)]
for data in cases:
    assert csum(data) == reference(data), data.hex()

# A UDP frame with a wrong checksum comes out with one that verifies (sums to zero).
payload = bytes(range(200))
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + 8 + len(payload), 0, 0, 64, 17, 0xbeef,
                 bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
udp = struct.pack('!HHHH', 1000, 2000, 8 + len(payload), 0x1234)
fixed = fix_checksums(b'\\0' * 12 + b'\\x08\\x00' + ip + udp + payload)
assert reference(fixed[14:34]) == 0
pseudo = fixed[26:34] + struct.pack('!BBH', 0, 17, 8 + len(payload))
assert reference(pseudo + fixed[34:]) == 0
print('ok', len(cases))
`

it('computes the Internet checksum as RFC 1071 does, and fixes a frame so it verifies', () => {
  const out = execFileSync('python3', ['-c', script, lineDir], { encoding: 'utf8' })
  expect(out.trim()).toBe('ok 407')
})
