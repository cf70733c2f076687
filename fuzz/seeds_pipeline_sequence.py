#!/usr/bin/env python3
"""Writes the seed corpus of the `pipeline_sequence` fuzz target
(fuzz/corpus/pipeline_sequence/seed-*), in the input format
src/fuzzing/pipeline.rs decodes: five configuration bytes, the start
time, then operations. Run from the repository root."""
import os

OUT = "fuzz/corpus/pipeline_sequence"

# Configuration bytes (see `configure`): a = prefix index | flags,
# b = subscriber length | block size | max blocks, c = pool | ports |
# sessions | rate, d and e = timeouts and fragment limits.
def cfg(prefix=5, adf=False, workers2=False, sub=3, block=0, maxb=0,
        pool=2, ports=0, sessions=1, rate=2, restrict=False, d=0, e=0x45):
    a = prefix | (0x10 if adf else 0) | (0x40 if workers2 else 0)
    b = sub | (block << 3) | (maxb << 5)
    c = pool | (ports << 2) | (sessions << 3) | (rate << 5) | (0x80 if restrict else 0)
    return bytes([a, b, c, d, e, 0])

ADV = lambda ms: bytes([0, ms])
BIG = lambda units: bytes([1, units >> 8, units & 0xFF])  # units of 8 ms
TICK = bytes([2])
# build6: host, remote, proto (0 UDP, 1 TCP, 2 echo), sport, dport, flags, len
def out6(host=0, remote=0, proto=0, sport=0, dport=3, flags=0, ln=4):
    return bytes([3, host, remote, proto, sport, dport, flags, ln])
# build4: pick (odd: a BIB entry), any port, remote, sport, flags, len
def in4(pick=1, port=0, remote=0, sport=3, flags=0, ln=4):
    return bytes([5, pick, port >> 8, port & 0xFF, remote, sport, flags, ln])
def frag(six, how, ident, ln, sport=0, dport=3, tail=b"\x00\x00"):
    return bytes([9, 0 if six else 1, how, ident >> 8, ident & 0xFF, ln, sport, dport]) + tail
def burst(six, builds):
    return bytes([10, 0 if six else 1, len(builds) - 1]) + b"".join(b[1:] for b in builds)
def err6(host=0, remote=0, proto=0, keep=20, kind=0):
    return bytes([11, 0, host, remote, proto, 3, 0, 0, 4, keep, kind, 0, 0])
def err4(pick=1, remote=0, rport=3, keep=28, kind=0, frm=2):
    return bytes([11, 1, pick, 0, 0, remote, rport, keep, kind, 0, 0, frm])

SYN, FIN, RST, ACK = 1, 2, 4, 8
seeds = {
    "udp-flow": cfg() + out6() + ADV(10) + in4() + BIG(1000) + TICK,
    "tcp-handshake": cfg() + out6(proto=1, dport=4, flags=SYN) + in4(flags=SYN | ACK)
    + out6(proto=1, dport=4, flags=ACK) + out6(proto=1, dport=4, flags=FIN | ACK)
    + in4(flags=FIN | ACK) + out6(proto=1, dport=4, flags=ACK) + BIG(600) + TICK,
    "tcp-rst-adf": cfg(adf=True, prefix=2) + out6(proto=1, flags=SYN) + in4(remote=1, flags=SYN)
    + in4(flags=RST) + BIG(300) + TICK,
    "echo": cfg(prefix=4) + out6(proto=2, ln=10) + in4(flags=0) + ADV(200) + TICK,
    "held-syn": cfg(prefix=0) + in4(pick=2, port=1500, flags=SYN) + BIG(1000) + TICK,
    "fragments": cfg(sessions=3, e=0x46) + frag(True, 1 | (2 << 2), 7, 40)
    + out6() + frag(False, 1, 9, 60, tail=b"\x01\x00\x00\x00") + BIG(400) + TICK,
    "exhaustion": cfg(pool=0, sessions=0, block=3, maxb=0, rate=0)
    + burst(True, [out6(host=h, sport=s) for h in range(6) for s in range(3)])
    + burst(False, [in4(pick=2 * k + 1) for k in range(4)]) + BIG(2000) + TICK,
    "errors": cfg(workers2=True, sub=1) + out6(proto=0) + err4(kind=0) + err4(kind=2)
    + out6(proto=1, flags=SYN) + in4(flags=SYN | ACK) + err6(kind=1) + err6(kind=4),
    "hairpin-ttl": cfg(restrict=True) + out6() + out6(host=3, remote=0x80) + out6(host=5) + out6(flags=0x80)
    + in4(flags=0x80) + out6(ln=250) + in4(ln=250, flags=0) + TICK,
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(data)
