"""A small authoritative DNS server for tests and benchmarks, on loopback, over UDP and TCP.

It serves one zone (dnspython's zone parser reads it, dnspython's message API answers),
with the answers a resolver meets in the wild: records, NODATA, NXDOMAIN, wildcards, and
names it never answers (to make a resolver time out). A second socket never answers at
all: a nameserver that is down.
"""
from __future__ import annotations

import socket
import struct
import threading
from collections import Counter

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

ZONE = """
$ORIGIN test.
$TTL 300
@          IN SOA   ns.test. hostmaster.test. 1 3600 600 86400 60
@          IN NS    ns.test.
ns         IN A     127.0.0.1
mx         IN MX    10 mail.mx.test.
mail.mx    IN A     127.0.0.1
canary     IN MX    10 mail.mx.test.
a-only     IN A     192.0.2.10
aaaa-only  IN AAAA  2001:db8::10
nullmx     IN MX    0 .
txt-only   IN TXT   "a name with no mail records"
*.bulk     IN MX    10 mail.mx.test.
""" + "".join(f"big        IN MX    {i} a-rather-long-mail-exchanger-name-number-{i}.mx.test.\n" for i in range(40))

#: Queries for these names (and below) are read and dropped: the resolver times out.
SILENT = ("slow.test.",)


class DnsServer:
    def __init__(self, zone_text: str = ZONE, origin: str = "test.", silent=SILENT):
        self.zone = dns.zone.from_text(zone_text, origin=origin, relativize=False)
        self.origin = dns.name.from_text(origin)
        self.silent = [dns.name.from_text(s) for s in silent]
        self.queries: Counter = Counter()
        self._tcp = 0
        self._lock = threading.Lock()
        self.udp, self.tcp = self._bind_pair()
        self.port = self.udp.getsockname()[1]
        self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.blackhole.bind(("127.0.0.1", 0))
        self.blackhole_port = self.blackhole.getsockname()[1]
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]

    @staticmethod
    def _bind_pair() -> tuple[socket.socket, socket.socket]:
        """A UDP and a TCP socket on the same free port."""
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            return udp, tcp
        raise RuntimeError("no free port for the test DNS server")

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def dead_nameserver(self) -> str:
        return f"127.0.0.1:{self.blackhole_port}"

    def start(self) -> "DnsServer":
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        for s in (self.udp, self.tcp, self.blackhole):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self.threads:
            t.join(timeout=5)

    def add(self, name: str, rdtype: str, text: str, ttl: int = 300) -> None:
        """Add a record (relative to the zone's origin) while the server runs."""
        import dns.rdata

        with self._lock, self.zone.writer() as txn:
            txn.add(dns.name.from_text(name, self.origin), ttl,
                    dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), text))

    def remove(self, name: str) -> None:
        with self._lock, self.zone.writer() as txn:
            txn.delete(dns.name.from_text(name, self.origin))

    def tcp_queries(self) -> int:
        with self._lock:
            return self._tcp

    def count(self, name: str) -> int:
        with self._lock:
            return sum(n for (qname, _), n in self.queries.items() if qname == name.rstrip(".") + ".")

    # -- answering ----------------------------------------------------------------------------
    def answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        q = query.question[0]
        with self._lock:
            self.queries[q.name.to_text(), dns.rdatatype.to_text(q.rdtype)] += 1
        if any(q.name.is_subdomain(s) for s in self.silent):
            return None
        response = dns.message.make_response(query)
        if not q.name.is_subdomain(self.origin):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        response.flags |= dns.flags.AA
        with self._lock:
            node = self.zone.get_node(q.name) or self._wildcard(q.name)
            rdataset = node.get_rdataset(dns.rdataclass.IN, q.rdtype) if node is not None else None
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            self._soa(response)
            return response.to_wire()
        if rdataset is None:
            self._soa(response)                   # NODATA
        else:
            rrset = dns.rrset.RRset(q.name, dns.rdataclass.IN, q.rdtype)
            rrset.update(rdataset)
            response.answer.append(rrset)
        return response.to_wire()

    def _wildcard(self, name: dns.name.Name):
        parent = name.parent()
        while parent != self.origin and len(parent) > len(self.origin):
            node = self.zone.get_node(dns.name.from_text("*", parent))
            if node is not None:
                return node
            parent = parent.parent()
        return None

    def _soa(self, response: dns.message.Message) -> None:
        soa = self.zone.find_rdataset(self.origin, dns.rdatatype.SOA)
        rrset = dns.rrset.RRset(self.origin, dns.rdataclass.IN, dns.rdatatype.SOA)
        rrset.update(soa)
        response.authority.append(rrset)

    # -- transports -----------------------------------------------------------------------------
    def _serve_udp(self) -> None:
        while True:
            try:
                wire, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            reply = self.answer(wire)
            if reply is not None:
                reply = self._fit_udp(wire, reply)
                try:
                    self.udp.sendto(reply, peer)
                except OSError:
                    return

    @staticmethod
    def _fit_udp(query_wire: bytes, reply: bytes) -> bytes:
        """Over UDP an answer larger than the client accepts (512 bytes, or its EDNS payload)
        goes out truncated, with the TC flag: the client must ask again over TCP."""
        query = dns.message.from_wire(query_wire)
        limit = max(512, query.payload) if query.edns >= 0 else 512
        if len(reply) <= limit:
            return reply
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.TC | dns.flags.AA
        return truncated.to_wire()

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_client, args=(conn,), daemon=True).start()

    def _tcp_client(self, conn: socket.socket) -> None:
        with conn:
            while True:
                head = _read(conn, 2)
                if head is None:
                    return
                wire = _read(conn, struct.unpack("!H", head)[0])
                if wire is None:
                    return
                with self._lock:
                    self._tcp += 1
                reply = self.answer(wire)
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)


def _read(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = conn.recv(n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data
