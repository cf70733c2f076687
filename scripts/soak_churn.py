#!/usr/bin/env python3
"""Churn for scripts/soak.sh: run inside the client (IPv6-only) namespace.

Each subscriber address (one per /56) runs in cycles: ACTIVE seconds of
traffic, then IDLE seconds of silence (longer than the box's longest
session timeout, so its sessions expire and its port blocks go back to the
pool), staggered so that some subscriber is always active. While active it
opens a new UDP flow every UDP_EVERY seconds (a fresh socket: a fresh source
port, to one of the echo server's ports in turn; every FRAG_EVERY-th
datagram is larger than the MTU, so it travels as fragments both ways),
fetches the HTTP server's page with curl every TCP_EVERY seconds and pings
the server every PING_EVERY seconds. Besides, one thread sends DNS64 AAAA
queries (dig) at a steady rate from the link address, over a set of names
with only A records, some that do not exist, and now and then a PTR query
for a synthesized address. Only the standard library and real clients
(curl, ping, dig).

Runs until SIGTERM or SIGINT, then prints one line of counts per kind of
traffic (ok / failed) and exits 0.
"""

import argparse
import ipaddress
import signal
import socket
import subprocess
import threading
import time

stop = threading.Event()
lock = threading.Lock()
counts = {}


def count(kind, ok):
    with lock:
        c = counts.setdefault(kind, [0, 0])
        c[0 if ok else 1] += 1


def sleep_until(t):
    """Sleep until monotonic time t; False if asked to stop meanwhile."""
    return not stop.wait(max(0.0, t - time.monotonic()))


def udp_flow(src, dst, port, size):
    payload = bytes((i * 7) & 0xFF for i in range(size))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(2.0)
        try:
            s.sendto(payload, (dst, port))
            data, _ = s.recvfrom(65535)
            return data == payload
        except OSError:
            return False


def run(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=10, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def subscriber(a, idx, n):
    period = a.active + a.idle
    start = time.monotonic() + idx * period / n
    if not sleep_until(start):
        return
    flow = 0
    while not stop.is_set():
        cycle_end = time.monotonic() + a.active
        next_tcp = next_ping = time.monotonic()
        while time.monotonic() < cycle_end and not stop.is_set():
            now = time.monotonic()
            frag = a.frag_every > 0 and flow % a.frag_every == a.frag_every - 1
            port = a.udp_port + flow % a.udp_ports
            kind = "udp_fragmented" if frag else "udp"
            count(kind, udp_flow(a.src[idx], a.dst, port, 3000 if frag else 64))
            flow += 1
            if now >= next_tcp:
                count("tcp", run(["curl", "-sS", "-o", "/dev/null", "--max-time", "5",
                                  "--interface", a.src[idx], "-g",
                                  f"http://[{a.dst}]/"]))
                next_tcp = now + a.tcp_every
            if now >= next_ping:
                count("ping", run(["ping", "-6", "-n", "-q", "-c", "1", "-W", "2",
                                   "-I", a.src[idx], a.dst]))
                next_ping = now + a.ping_every
            sleep_until(now + a.udp_every)
        if not sleep_until(cycle_end + a.idle):
            return


def dns(a):
    prefix = ipaddress.IPv6Network(a.prefix)
    i = 0
    t = time.monotonic()
    while sleep_until(t):
        t += 1.0 / a.dns_qps
        if i % 10 == 9:
            # A name that does not exist: NXDOMAIN passes through.
            name = f"missing{i % 50}.{a.zone}"
            ok = run(["dig", "+time=2", "+tries=1", "AAAA", name, f"@{a.dns}"])
            kind = "dns_nxdomain"
        elif i % 10 == 4:
            # PTR of a synthesized address (RFC 6147 5.3.1).
            addr = prefix[int(ipaddress.IPv4Address(a.server4))]
            ok = run(["dig", "+short", "+time=2", "+tries=1", "-x", str(addr), f"@{a.dns}"])
            kind = "dns_ptr"
        else:
            name = f"h{i % a.names}.{a.zone}"
            out = subprocess.run(["dig", "+short", "+time=2", "+tries=1", "AAAA", name,
                                  f"@{a.dns}"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, check=False).stdout
            ok = any(ipaddress.IPv6Address(w) in prefix for w in out.split()
                     if ":" in w)
            kind = "dns_aaaa"
        count(kind, ok)
        i += 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", nargs="+", required=True, help="subscriber addresses")
    p.add_argument("--dst", required=True, help="the server's address under the prefix")
    p.add_argument("--server4", required=True, help="the server's IPv4 address")
    p.add_argument("--prefix", required=True, help="the NAT64 prefix")
    p.add_argument("--dns", required=True, help="the box's DNS64 address")
    p.add_argument("--zone", required=True, help="zone with h0 .. h<names-1>")
    p.add_argument("--names", type=int, default=50)
    p.add_argument("--udp-port", type=int, default=7000)
    p.add_argument("--udp-ports", type=int, default=10)
    p.add_argument("--active", type=float, default=60.0)
    p.add_argument("--idle", type=float, default=45.0)
    p.add_argument("--udp-every", type=float, default=0.125)
    p.add_argument("--frag-every", type=int, default=20)
    p.add_argument("--tcp-every", type=float, default=3.0)
    p.add_argument("--ping-every", type=float, default=2.0)
    p.add_argument("--dns-qps", type=float, default=4.0)
    a = p.parse_args()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=subscriber, args=(a, i, len(a.src)))
               for i in range(len(a.src))]
    threads.append(threading.Thread(target=dns, args=(a,)))
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        stop.wait(0.5)
    for t in threads:
        t.join()
    with lock:
        print("churn: " + " ".join(f"{k}={v[0]}/{v[0] + v[1]}"
                                   for k, v in sorted(counts.items())), flush=True)


if __name__ == "__main__":
    main()
