#!/usr/bin/env python3
"""natlab delay line: a userspace L2 wire between two interfaces (no netem on this kernel).

Usage: delayline.py --a IF_A --b IF_B [--ab-ms 25] [--ba-ms 25] [--jitter-ms 0] [--loss 0]
                    [--tag RUNPREFIX] [--seed N]

Frames read on A are sent on B after ab-ms (+ uniform jitter, order kept), and B -> A after
ba-ms; each direction drops a frame with probability `loss` (0..1). IPv4 TCP/UDP checksums are
recomputed before sending (offloaded checksums are partial and would be dropped on re-injection);
turn off tx/tso/gso on the interfaces that transmit into the line so no GSO super-frame arrives.
Prints one JSON line when ready, and a stats line on SIGTERM/SIGINT/SIGUSR1 (stderr).
Needs CAP_NET_RAW. Python 3 standard library only.
"""
import argparse
import collections
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_AUXDATA = 8


def csum(data):
    """The Internet checksum (RFC 1071) of `data`.

    The ones' complement sum of the 16-bit words is the data, read as one big-endian integer,
    modulo 0xFFFF (2^16 is 1 modulo 0xFFFF), except that a non-zero sum folds to 0xFFFF, not 0.
    One big-integer remainder in C instead of a Python sum over ~750 words: about 4x faster per
    1,500-byte frame, and this loop runs for every frame of every throughput test.
    """
    if len(data) % 2:
        data += b'\0'
    n = int.from_bytes(data, 'big')
    s = n % 0xFFFF
    if s == 0 and n != 0:
        s = 0xFFFF
    return (~s) & 0xFFFF


def fix_checksums(frame):
    """Recomputes the IPv4 header and TCP/UDP checksums of an Ethernet frame (in place copy)."""
    if len(frame) < 34:
        return frame
    eth_type = struct.unpack_from('!H', frame, 12)[0]
    off = 14
    if eth_type == 0x8100 and len(frame) >= 38:  # one VLAN tag
        eth_type = struct.unpack_from('!H', frame, 16)[0]
        off = 18
    if eth_type != 0x0800:
        return frame
    b = bytearray(frame)
    ihl = (b[off] & 0x0F) * 4
    total = struct.unpack_from('!H', b, off + 2)[0]
    frag = struct.unpack_from('!H', b, off + 6)[0]
    proto = b[off + 9]
    if ihl < 20 or off + total > len(b):
        return frame
    b[off + 10:off + 12] = b'\0\0'
    b[off + 10:off + 12] = struct.pack('!H', csum(bytes(b[off:off + ihl])))
    if frag & 0x3FFF:  # fragments: leave L4 alone
        return bytes(b)
    l4 = off + ihl
    l4len = total - ihl
    pseudo = bytes(b[off + 12:off + 20]) + struct.pack('!BBH', 0, proto, l4len)
    if proto == 6 and l4len >= 20:
        b[l4 + 16:l4 + 18] = b'\0\0'
        b[l4 + 16:l4 + 18] = struct.pack('!H', csum(pseudo + bytes(b[l4:l4 + l4len])))
    elif proto == 17 and l4len >= 8:
        b[l4 + 6:l4 + 8] = b'\0\0'
        c = csum(pseudo + bytes(b[l4:l4 + l4len]))
        b[l4 + 6:l4 + 8] = struct.pack('!H', c or 0xFFFF)
    return bytes(b)


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((name, 0))
    s.setblocking(False)
    return s


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--a', required=True)
    p.add_argument('--b', required=True)
    p.add_argument('--ab-ms', type=float, default=0.0)
    p.add_argument('--ba-ms', type=float, default=0.0)
    p.add_argument('--jitter-ms', type=float, default=0.0)
    p.add_argument('--loss', type=float, default=0.0)
    p.add_argument('--tag', default='')
    p.add_argument('--seed', type=int, default=None)
    args = p.parse_args()
    rng = random.Random(args.seed)

    sa, sb = open_if(args.a), open_if(args.b)
    # direction: (source socket, dest socket, delay seconds, queue, stats)
    dirs = {
        sa.fileno(): [sa, sb, args.ab_ms / 1000.0, collections.deque(), 'ab'],
        sb.fileno(): [sb, sa, args.ba_ms / 1000.0, collections.deque(), 'ba'],
    }
    stats = {'ab': [0, 0, 0], 'ba': [0, 0, 0]}  # forwarded, dropped (loss), send errors
    last_due = {'ab': 0.0, 'ba': 0.0}
    jitter = args.jitter_ms / 1000.0

    ep = select.epoll()
    for fd in dirs:
        ep.register(fd, select.EPOLLIN)

    def report(*_):
        sys.stderr.write(json.dumps({'tag': args.tag, 'stats': stats}) + '\n')
        sys.stderr.flush()

    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, report)
    print(json.dumps({'ready': True, 'a': args.a, 'b': args.b, 'tag': args.tag}), flush=True)

    while running[0]:
        now = time.monotonic()
        timeout = 0.5
        for d in dirs.values():
            if d[3]:
                timeout = min(timeout, max(0.0, d[3][0][0] - now))
        try:
            events = ep.poll(timeout)
        except InterruptedError:
            continue
        for fd, _ in events:
            src, _dst, delay, q, name = dirs[fd]
            for _ in range(256):
                try:
                    frame, addr = src.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                if args.loss > 0 and rng.random() < args.loss:
                    stats[name][1] += 1
                    continue
                due = time.monotonic() + delay + (rng.uniform(0, jitter) if jitter else 0.0)
                due = max(due, last_due[name])  # jitter never reorders
                last_due[name] = due
                q.append((due, frame))
        now = time.monotonic()
        for d in dirs.values():
            _src, dst, _delay, q, name = d
            while q and q[0][0] <= now:
                _, frame = q.popleft()
                try:
                    dst.send(fix_checksums(frame))
                    stats[name][0] += 1
                except OSError:
                    stats[name][2] += 1
    report()


if __name__ == '__main__':
    main()
