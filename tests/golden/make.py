#!/usr/bin/python3
"""Generate the net_pcap golden files for tests/golden.rs.

Run from anywhere with the system Python (it has python3-scapy):

    /usr/bin/python3 tests/golden/make.py [OUTDIR]

It writes, next to itself (or into OUTDIR; tests/golden.rs regenerates
the files there to check that the committed ones are current):

  in_inside.pcap     frames the inside port receives (IPv6 side)
  in_outside.pcap    frames the outside port receives (IPv4 side)
  out_inside.pcap    frames the inside port must send
  out_outside.pcap   frames the outside port must send
  manifest.toml      one entry per expected frame (name, order group, masked
                     fields) and the counters the run must end with

The expected frames are computed here, field by field, from RFC 7915 (the
header translation), RFC 6146 (the NAT64 state), RFC 7422 (the deterministic
port mapping), RFC 4861 (neighbour advertisements), RFC 826 (ARP), RFC 792 /
RFC 4443 (echo and errors); scapy only serialises them and computes the
checksums. Nothing here runs nat64-dpdk or imports its code.

Setting (tests/golden/golden.toml, one worker):

  subscriber H6 2001:db8:aa:100::10 --- inside gw 2001:db8:1::2 (02:00:00:00:01:02)
      --- [net_pcap0 02:70:63:61:70:00, 2001:db8:1::1/64] nat64-dpdk
      [net_pcap1 02:70:63:61:70:01, 198.51.100.254/24] --- outside gw 198.51.100.1
      (02:00:00:00:02:01) --- server 192.0.2.33

net_pcap gives its ports the MAC 02:70:63:61:70:<n>, n counting the
net_pcap devices of the process in probe order (DPDK 22.11
drivers/net/pcap/pcap_ethdev.c, pmd_init_internals); the test checks the
binary logs these MACs.

Ordering: net_pcap reads a file as fast as it is polled and ignores the
timestamps. The worker polls one burst (workers.burst = 32) of the inside
port, then one of the outside port, per loop iteration
(docs/architecture.md, "One pass of a worker's loop"). Each input file
holds fewer than 32 frames, so the first iteration runs every 6to4 packet
-- creating the sessions -- before any 4to6 packet is read. `assert` below keeps the files that small.
"""

import os
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach,
                       ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA,
                       ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IPv6, Raw, wrpcap)

HERE = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
BURST = 32

# --- The setting -----------------------------------------------------------
IN_MAC = "02:70:63:61:70:00"    # net_pcap0 (inside port)
OUT_MAC = "02:70:63:61:70:01"   # net_pcap1 (outside port)
GW6_MAC = "02:00:00:00:01:02"   # inside.gateway_mac
GW4_MAC = "02:00:00:00:02:01"   # outside.gateway_mac
GW6 = "2001:db8:1::2"           # inside.gateway
BOX6 = "2001:db8:1::1"          # inside.address
GW4 = "198.51.100.1"            # outside.gateway
BOX4 = "198.51.100.254"         # outside.address
H6 = "2001:db8:aa:100::10"      # a subscriber behind the inside gateway
STRANGER6 = "2001:db8:bb::10"   # outside pool4.deterministic_inside
SERVER4 = "192.0.2.33"          # off-link on the outside: via the gateway

PREFIX = bytes.fromhex("20010db8006400000000000000000000")[:12]  # 2001:db8:64::/96


def embed(v4):
    """RFC 6052 section 2.2, /96: the IPv4 address is the last 32 bits."""
    import ipaddress
    return str(ipaddress.IPv6Address(PREFIX + ipaddress.IPv4Address(v4).packed))


SERVER6 = embed(SERVER4)        # 2001:db8:64::c000:221


def rfc7422_range(k):
    """RFC 7422 as golden.toml configures it: block 512, 2 blocks per
    subscriber, 126 blocks per address -> 63 slots per address."""
    size = 2 * 512
    slots = (65535 - 1024 + 1) // 512 // 2
    addr = "203.0.113.%d" % (8 + k // slots)
    first = 1024 + (k % slots) * size
    return addr, first, first + size - 1


# H6's /56 is subscriber k = 1 of 2001:db8:aa::/52 (bits 52..55 = 0x1).
T4, T_FIRST, T_LAST = rfc7422_range(1)
assert (T4, T_FIRST, T_LAST) == ("203.0.113.8", 2048, 3071)
# Source ports (and the echo identifier) inside the subscriber's range:
# RFC 6146 section 3.5.1.1 / RFC 4787 keep the port when it is free, so the
# mapping is the identity on the port.
UDP_PORT, TCP_PORT, ECHO_ID = 2100, 2200, 2300
for p in (UDP_PORT, TCP_PORT, ECHO_ID):
    assert T_FIRST <= p <= T_LAST
POOL_OTHER = "203.0.113.9"      # a pool address no BIB entry uses

inside_in, outside_in = [], []
expect = {"inside": [], "outside": []}


def out(port, name, group, frame, mask=()):
    expect[port].append((name, group, frame, list(mask)))


# Groups whose frames the stateful pipeline (nat64::Worker) makes; the
# others come from the dataplane's own responders (ARP, ND, echo).
ENGINE = {"6to4", "4to6", "refused"}


def eth_in(payload, dst=IN_MAC, src=GW6_MAC):
    return Ether(dst=dst, src=src) / payload


def eth_out(payload, dst=GW4_MAC, src=OUT_MAC):
    return Ether(dst=dst, src=src) / payload


def l3(frame):
    """The L3 bytes of a built frame."""
    return bytes(frame)[14:]


def v6_to_v4(ip6, proto, l4_bytes):
    """RFC 7915 section 5.1 for a packet without extension headers:
    TOS = Traffic Class, Total Length = payload + 20, Identification = the
    translator's choice (masked), DF = 0 when the result is at most 1260
    bytes, TTL = Hop Limit - 1 (the translator forwards), Protocol = Next
    Header (58 -> 1), addresses from the NAT64 (section 3.6 of RFC 6146)."""
    total = 20 + len(l4_bytes)
    return IP(version=4, ihl=5, tos=ip6.tc, len=total, id=0,
              flags="DF" if total > 1260 else 0, frag=0, ttl=ip6.hlim - 1,
              proto=proto)


def v4_to_v6(ip4, nh, src, dst):
    """RFC 7915 section 4.1: Traffic Class = TOS, Flow Label 0, Payload
    Length = Total Length - 20, Next Header = Protocol (1 -> 58), Hop
    Limit = TTL - 1; no Fragment header for an unfragmented packet."""
    return IPv6(version=6, tc=ip4.tos, fl=0, nh=nh, hlim=ip4.ttl - 1,
                src=src, dst=dst)


# IPv4 Identification is the translator's own (RFC 7915 section 5.1: "set
# according to a Fragment Identification algorithm"; RFC 6864 section 4.1
# for atomic datagrams): masked, after its header checksum is verified.
ID = "ipv4.id"
# The TTL / Hop Limit of an echo reply the box originates is its own choice
# (RFC 792, RFC 4443 section 4.2 say nothing): masked.
TTL, HLIM = "ipv4.ttl", "ipv6.hlim"

# =========================================================================
# Phase 1: the inside port receives (6to4 and the box's own IPv6 traffic).
# =========================================================================

# 6to4 UDP. Traffic class 0x28 is copied to TOS (copy_traffic_class).
i = IPv6(src=H6, dst=SERVER6, hlim=64, tc=0x28, fl=0x12345) / \
    UDP(sport=UDP_PORT, dport=7000) / Raw(b"golden udp 6to4")
inside_in.append(eth_in(i))
udp6 = IPv6(l3(eth_in(i)))
o = v6_to_v4(udp6, 17, bytes(udp6[UDP]))
o.src, o.dst = T4, SERVER4
e1_ip = o / UDP(sport=UDP_PORT, dport=7000) / Raw(b"golden udp 6to4")   # checksum: IPv4 pseudo-header
out("outside", "6to4 udp", "6to4", eth_out(e1_ip), [ID])

# 6to4 TCP SYN (options travel unchanged).
syn_opts = [("MSS", 1440), ("SAckOK", b""), ("WScale", 7)]
i = IPv6(src=H6, dst=SERVER6, hlim=64) / \
    TCP(sport=TCP_PORT, dport=80, seq=1000, flags="S", window=64800,
        options=syn_opts)
inside_in.append(eth_in(i))
x = IPv6(l3(eth_in(i)))
o = v6_to_v4(x, 6, bytes(x[TCP]))
o.src, o.dst = T4, SERVER4
out("outside", "6to4 tcp syn", "6to4",
    eth_out(o / TCP(sport=TCP_PORT, dport=80, seq=1000, flags="S",
                    window=64800, options=syn_opts)), [ID])

# 6to4 TCP data (the session exists: V6 INIT translates it, RFC 6146
# section 3.5.2.2).
req = b"GET / HTTP/1.0\r\n\r\n"
i = IPv6(src=H6, dst=SERVER6, hlim=64) / \
    TCP(sport=TCP_PORT, dport=80, seq=1001, ack=5001, flags="PA",
        window=507) / Raw(req)
inside_in.append(eth_in(i))
x = IPv6(l3(eth_in(i)))
o = v6_to_v4(x, 6, bytes(x[TCP]))
o.src, o.dst = T4, SERVER4
out("outside", "6to4 tcp data", "6to4",
    eth_out(o / TCP(sport=TCP_PORT, dport=80, seq=1001, ack=5001,
                    flags="PA", window=507) / Raw(req)), [ID])

# 6to4 ICMP echo: type 128 -> 8, identifier mapped (RFC 6146 3.5.3; kept,
# it is inside the subscriber's range), checksum without pseudo-header.
i = IPv6(src=H6, dst=SERVER6, hlim=64) / \
    ICMPv6EchoRequest(id=ECHO_ID, seq=1, data=b"golden ping")
inside_in.append(eth_in(i))
x = IPv6(l3(eth_in(i)))
o = v6_to_v4(x, 1, bytes(x[ICMPv6EchoRequest]))
o.src, o.dst = T4, SERVER4
out("outside", "6to4 icmp echo", "6to4",
    eth_out(o / ICMP(type=8, code=0, id=ECHO_ID, seq=1) / Raw(b"golden ping")),
    [ID])

# Refused: a subscriber outside pool4.deterministic_inside has no port range
# (RFC 7422), so no mapping can be made: dropped (pool_exhausted) and
# answered with ICMPv6 destination unreachable, code 3 address unreachable
# (RFC 6146 section 3.5.1.1, RFC 6888 REQ-11) from the box's inside
# address, hop limit 64, quoting the whole packet (RFC 4443 section 2.4 (c)).
i = IPv6(src=STRANGER6, dst=SERVER6, hlim=64) / UDP(sport=4000, dport=7000) / \
    Raw(b"no range for me")
inside_in.append(eth_in(i))
quote = l3(eth_in(i))
out("inside", "refused: subscriber without a port range", "refused",
    Ether(dst=GW6_MAC, src=IN_MAC) /
    IPv6(src=BOX6, dst=STRANGER6, hlim=64, tc=0, fl=0) /
    ICMPv6DestUnreach(code=3) / Raw(quote))

# Neighbour solicitation for the inside address, from the gateway, to the
# solicited-node group, with its link-layer address (RFC 4861 7.2.3-7.2.4):
# a solicited NA from the target address to the solicitor, hop limit 255,
# Router (the box forwards), Solicited and Override set, target link-layer
# address option.
i = Ether(dst="33:33:ff:00:00:01", src=GW6_MAC) / \
    IPv6(src=GW6, dst="ff02::1:ff00:1", hlim=255) / \
    ICMPv6ND_NS(tgt=BOX6) / ICMPv6NDOptSrcLLAddr(lladdr=GW6_MAC)
inside_in.append(i)
out("inside", "nd: NS for the inside address answered", "reply6",
    Ether(dst=GW6_MAC, src=IN_MAC) /
    IPv6(src=BOX6, dst=GW6, hlim=255, tc=0, fl=0) /
    ICMPv6ND_NA(R=1, S=1, O=1, tgt=BOX6) / ICMPv6NDOptDstLLAddr(lladdr=IN_MAC))

# Echo request to the box's inside address: echo reply (RFC 4443 4.2),
# identifier, sequence and data returned, back to the sender's router.
i = IPv6(src=H6, dst=BOX6, hlim=63, tc=0, fl=0) / \
    ICMPv6EchoRequest(id=7, seq=3, data=b"are you there, box?")
inside_in.append(eth_in(i))
out("inside", "echo6 to the box answered", "reply6",
    Ether(dst=GW6_MAC, src=IN_MAC) /
    IPv6(src=BOX6, dst=H6, hlim=64, tc=0, fl=0) /
    ICMPv6EchoReply(id=7, seq=3, data=b"are you there, box?"), [HLIM])

# =========================================================================
# Phase 2: the outside port receives (4to6 and the box's own IPv4 traffic).
# =========================================================================


def eth4(payload, dst=OUT_MAC):
    return Ether(dst=dst, src=GW4_MAC) / payload


def v6_out(frame_l3):
    return Ether(dst=GW6_MAC, src=IN_MAC) / frame_l3


# 4to6 UDP reply of the UDP session: DF set (no Fragment header either way,
# RFC 7915 section 4.1), TOS 0x28 -> Traffic Class.
i = IP(src=SERVER4, dst=T4, ttl=60, tos=0x28, id=0x1234, flags="DF") / \
    UDP(sport=7000, dport=UDP_PORT) / Raw(b"golden udp 4to6")
outside_in.append(eth4(i))
x = IP(l3(eth4(i)))
out("inside", "4to6 udp reply", "4to6",
    v6_out(v4_to_v6(x, 17, SERVER6, H6) / UDP(sport=7000, dport=UDP_PORT) /
           Raw(b"golden udp 4to6")))

# 4to6 TCP SYN-ACK of the TCP session (V6 INIT -> ESTABLISHED).
sa_opts = [("MSS", 1460), ("SAckOK", b""), ("WScale", 9)]
i = IP(src=SERVER4, dst=T4, ttl=60, id=0x2345, flags="DF") / \
    TCP(sport=80, dport=TCP_PORT, seq=5000, ack=1001, flags="SA",
        window=65160, options=sa_opts)
outside_in.append(eth4(i))
x = IP(l3(eth4(i)))
out("inside", "4to6 tcp syn-ack", "4to6",
    v6_out(v4_to_v6(x, 6, SERVER6, H6) /
           TCP(sport=80, dport=TCP_PORT, seq=5000, ack=1001, flags="SA",
               window=65160, options=sa_opts)))

# 4to6 echo reply of the ICMP session: type 0 -> 129, identifier back,
# checksum now over the IPv6 pseudo-header. DF clear, still no Fragment
# header.
i = IP(src=SERVER4, dst=T4, ttl=60, id=0x3456) / \
    ICMP(type=0, code=0, id=ECHO_ID, seq=1) / Raw(b"golden ping")
outside_in.append(eth4(i))
x = IP(l3(eth4(i)))
out("inside", "4to6 icmp echo reply", "4to6",
    v6_out(v4_to_v6(x, 58, SERVER6, H6) /
           ICMPv6EchoReply(id=ECHO_ID, seq=1, data=b"golden ping")))

# ICMPv4 port unreachable from the server quoting the UDP packet as it
# arrived there (TTL one lower, some identification):
# RFC 7915 section 4.2: type 3 code 3 -> type 1 code 4; section 4.3: the
# quoted IPv4 header becomes an IPv6 header (addresses mapped back by the
# session: H6 -> SERVER6, RFC 6146 section 3.6), its TTL kept as the Hop
# Limit (not decremented), TOS kept as Traffic Class, and the quoted UDP
# checksum now over the IPv6 pseudo-header; the outer ICMPv6 checksum
# covers it all.
udp_payload = b"golden udp 6to4"
quoted4 = IP(src=T4, dst=SERVER4, ttl=62, tos=0x28, id=0x4242) / \
    UDP(sport=UDP_PORT, dport=7000) / Raw(udp_payload)
i = IP(src=SERVER4, dst=T4, ttl=64, id=0x5678) / \
    ICMP(type=3, code=3) / Raw(bytes(quoted4))
outside_in.append(eth4(i))
x = IP(l3(eth4(i)))
inner6 = IPv6(version=6, tc=0x28, fl=0, nh=17, hlim=62, src=H6, dst=SERVER6) / \
    UDP(sport=UDP_PORT, dport=7000) / Raw(udp_payload)
out("inside", "4to6 icmp port unreachable quoting the udp packet", "4to6",
    v6_out(v4_to_v6(x, 58, SERVER6, H6) / ICMPv6DestUnreach(code=4) /
           Raw(bytes(inner6))))

# Unsolicited UDP to a pool address: no BIB entry (RFC 6146 section 3.5.1)
# -> dropped (no_bib) and answered with ICMP port unreachable (code 3, what
# a host answers for a closed UDP port, RFC 1122 3.2.2.1) from that pool
# address, quoting the packet as received (RFC 1812 4.3.2.3, at most 576
# bytes); TOS 0, DF, TTL 64 (the box's documented choices).
i = IP(src=SERVER4, dst=T4, ttl=60, id=0x6789) / UDP(sport=5000, dport=3000) / \
    Raw(b"anybody home?")
outside_in.append(eth4(i))
quote = l3(eth4(i))
out("outside", "unsolicited udp: port unreachable", "refused",
    eth_out(IP(src=T4, dst=SERVER4, ttl=64, tos=0, id=0, flags="DF") /
            ICMP(type=3, code=3) / Raw(quote)), [ID])

# Unsolicited ICMP echo reply to a pool address: no BIB entry for the
# identifier (RFC 6146 section 3.5.3) -> silently dropped (no_bib).
i = IP(src=SERVER4, dst=T4, ttl=60, id=0x789a) / ICMP(type=0, id=2999, seq=1) / \
    Raw(b"stray")
outside_in.append(eth4(i))

# The same with an identifier below pool4.port_range (1024-65535): no pool
# transport address at all -> silently dropped (not_pool).
i = IP(src=SERVER4, dst=T4, ttl=60, id=0x789b) / ICMP(type=0, id=999, seq=1) / \
    Raw(b"stray")
outside_in.append(eth4(i))

# ARP request for a pool address (RFC 826): answered, sender = the port's
# MAC and the pool address, target = the requester.
i = Ether(dst="ff:ff:ff:ff:ff:ff", src=GW4_MAC) / \
    ARP(op=1, hwsrc=GW4_MAC, psrc=GW4, hwdst="00:00:00:00:00:00", pdst=T4)
outside_in.append(i)
out("outside", "arp for a pool address answered", "reply4",
    Ether(dst=GW4_MAC, src=OUT_MAC) /
    ARP(op=2, hwsrc=OUT_MAC, psrc=T4, hwdst=GW4_MAC, pdst=GW4))

# Echo request to the outside address: echo reply (RFC 792).
i = IP(src=SERVER4, dst=BOX4, ttl=60, id=0x0101) / \
    ICMP(type=8, id=11, seq=1) / Raw(b"hello outside")
outside_in.append(eth4(i))
out("outside", "echo4 to the outside address answered", "reply4",
    eth_out(IP(src=BOX4, dst=SERVER4, ttl=64, id=0) /
            ICMP(type=0, id=11, seq=1) / Raw(b"hello outside")), [ID, TTL])

# Echo request to a pool address no BIB entry claims: the box answers.
i = IP(src=SERVER4, dst=POOL_OTHER, ttl=60, id=0x0202) / \
    ICMP(type=8, id=12, seq=1) / Raw(b"hello pool")
outside_in.append(eth4(i))
out("outside", "echo4 to a pool address answered", "reply4",
    eth_out(IP(src=POOL_OTHER, dst=SERVER4, ttl=64, id=0) /
            ICMP(type=0, id=12, seq=1) / Raw(b"hello pool")), [ID, TTL])

# =========================================================================
# Counters the run must end with (nat64-dpdk --counters, as the binary
# names them). Every nat64_drops_total series not listed must be 0.
# =========================================================================
counters = {
    'nat64_packets_total{port="inside",dir="rx"}': len(inside_in),
    'nat64_packets_total{port="outside",dir="rx"}': len(outside_in),
    'nat64_translated_total{dir="6to4"}': 4,
    'nat64_translated_total{dir="4to6"}': 4,
    'nat64_drops_total{layer="nat64",reason="pool_exhausted"}': 1,
    'nat64_drops_total{layer="nat64",reason="no_bib"}': 2,
    'nat64_drops_total{layer="nat64",reason="not_pool"}': 1,
    'nat64_local_replies_total{kind="arp"}': 1,
    'nat64_local_replies_total{kind="nd"}': 1,
    'nat64_local_replies_total{kind="echo4"}': 2,
    'nat64_local_replies_total{kind="echo6"}': 1,
    # The two ICMP errors (refused subscriber, unsolicited UDP).
    'nat64_replies_total': 2,
    # The echo request to a pool address no BIB entry claims.
    'nat64_local_total': 1,
    # UDP, TCP and ICMP sessions of H6; nothing else made state.
    'nat64_sessions': 3,
    'nat64_bib_entries': 3,
    'nat64_sessions_created_total': 3,
    'nat64_bib_created_total': 3,
    # One worker: nothing handed over; nothing of ours is the kernel's.
    'nat64_handoff_total{dir="out"}': 0,
    'nat64_handoff_total{dir="in"}': 0,
    'nat64_handoff_drops_total': 0,
    'nat64_exception_total{port="inside",dir="to_kernel"}': 0,
    'nat64_exception_total{port="outside",dir="to_kernel"}': 0,
}

# =========================================================================
# Write everything.
# =========================================================================
assert len(inside_in) < BURST and len(outside_in) < BURST, "see Ordering"
for port in expect:
    for (name, _, f, _) in expect[port]:
        # Every expected frame is unicast: the test ignores group-addressed
        # frames, which only the kernel side of an exception TAP sends.
        assert int(f[Ether].dst.split(":")[0], 16) & 1 == 0, name


def write(name, frames):
    for n, f in enumerate(frames):
        f.time = 1700000000 + n  # fixed: regenerated files are identical
    wrpcap(os.path.join(HERE, name), frames, linktype=1)


write("in_inside.pcap", inside_in)
write("in_outside.pcap", outside_in)
write("out_inside.pcap", [f for (_, _, f, _) in expect["inside"]])
write("out_outside.pcap", [f for (_, _, f, _) in expect["outside"]])


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


lines = [
    "# Generated by tests/golden/make.py; do not edit.",
    "# One [[inside]] / [[outside]] entry per frame of out_<port>.pcap, in",
    "# file order. Frames of one `group` must leave in this order; frames of",
    "# different groups may interleave (replies and translations travel in",
    "# different tx bursts). `engine`: made by the stateful pipeline (the",
    "# others by the dataplane's ARP/ND/echo responders). `mask`: fields",
    "# compared only after the actual",
    "# frame's checksums are verified (see make.py for why each is masked).",
    "",
]
for port in ("inside", "outside"):
    for (name, group, f, mask) in expect[port]:
        lines += ["[[%s]]" % port, "name = %s" % toml_str(name),
                  "group = %s" % toml_str(group),
                  "engine = %s" % ("true" if group in ENGINE else "false"),
                  "mask = [%s]" % ", ".join(toml_str(m) for m in mask), ""]
lines.append("[counters]")
for k, v in counters.items():
    lines.append("%s = %d" % (toml_str(k), v))
with open(os.path.join(HERE, "manifest.toml"), "w") as fh:
    fh.write("\n".join(lines) + "\n")

print("in: %d inside, %d outside; expected out: %d inside, %d outside" % (
    len(inside_in), len(outside_in), len(expect["inside"]),
    len(expect["outside"])))
