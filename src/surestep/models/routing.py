"""Which server answers a request, when one run talks to several OpenAI-compatible servers.

One job: a ``Router`` hands out a server for each request and learns from how it went.

- **Affinity.** Every request of one prompt prefers the same server (rendezvous hashing of
  the prompt's key over the server URLs), so the draws of a problem share that server's
  prefix cache. Taking a server out moves only its own prompts; the others stay put.
- **Spill.** When the preferred server already has its concurrency limit in flight, the
  request goes to the least-loaded server (in flight / limit) that has room; when every
  server is full it waits for a slot. A limit is per server.
- **Circuit breaker.** After ``failures`` consecutive failures (dropped connections,
  timeouts, 5xx, malformed replies) a server is taken out for ``cooldown`` seconds, then
  given one probe request: success puts it back, failure takes it out again for twice as
  long (at most ``max_cooldown``). With one server there is nowhere else to go, so the
  breaker is off and the caller's retries with backoff are all there is.
- **Retry elsewhere.** A retry names the server that just failed it (``avoid``) and goes to
  another one while another one is in rotation.

The router is single-threaded: it lives on one asyncio event loop and every decision is
made without awaiting, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from surestep.errors import SurestepError


@dataclass(frozen=True)
class ServerSpec:
    """One server: its base URL (``http://host:8000/v1``) and how many requests it may hold at once."""

    url: str
    concurrency: int

    @property
    def label(self) -> str:
        """``host:port`` (plus the path when it is not ``/v1``), never the URL's user info."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        path = parts.path.rstrip("/")
        return netloc if path in ("", "/v1") else netloc + path


def server_spec(url: str, concurrency: int, where: str) -> ServerSpec:
    """A checked ``ServerSpec``; errors name ``where`` (an option or ``file:line``)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SurestepError(f"{where}: {url!r} is not an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise SurestepError(f"{where}: {url!r} has a bad port") from None
    if concurrency < 1:
        raise SurestepError(f"{where}: concurrency must be >= 1, got {concurrency}")
    return ServerSpec(url.strip().rstrip("/"), concurrency)


def read_servers_file(path: Path, concurrency: int) -> list[ServerSpec]:
    """Servers from a file: one ``URL [CONCURRENCY]`` per line; blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SurestepError(f"--base-urls-file {path}: {exc.strerror or exc}") from None
    servers = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        where = f"{path}:{number}"
        if len(fields) > 2:
            raise SurestepError(f"{where}: expected 'URL [CONCURRENCY]', got {line!r}")
        limit = concurrency
        if len(fields) == 2:
            try:
                limit = int(fields[1])
            except ValueError:
                raise SurestepError(f"{where}: concurrency {fields[1]!r} is not a whole number") from None
        servers.append(server_spec(fields[0], limit, where))
    if not servers:
        raise SurestepError(f"--base-urls-file {path}: no server URL in the file")
    return servers


def check_distinct(servers: Sequence[ServerSpec]) -> None:
    """Refuse the same URL twice (it would double that server's limit behind one breaker's back)."""
    seen: set[str] = set()
    for spec in servers:
        if spec.url in seen:
            raise SurestepError(f"server {spec.url} is given twice (--base-url / --base-urls-file)")
        seen.add(spec.url)


@dataclass(frozen=True)
class BreakerPolicy:
    """When a failing server is taken out of rotation, and for how long."""

    failures: int = 3
    cooldown: float = 1.0
    max_cooldown: float = 30.0


@dataclass(frozen=True)
class Lease:
    """A slot on one server, held for one request; ``probe``: the request that tests a server taken out."""

    server: int
    probe: bool = False


@dataclass(frozen=True)
class ServerStats:
    """One server as the router sees it: for progress displays, benchmarks and tests."""

    label: str
    url: str
    state: str  # "up"; "out" of rotation; "probing": out, with a probe request in flight
    in_flight: int
    draws: int
    requests: int
    failures: int


class AllServersOutError(Exception):
    """Every server is out of rotation; the earliest comes back for a probe in ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(
            f"every server is out of rotation after repeated failures (next probe in {wait:.1f} s)"
        )
        self.wait = wait


class _Server:
    """The router's mutable view of one server (private to one Router)."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.in_flight = 0
        self.draws = 0
        self.requests = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.out_until: float | None = None  # None: in rotation
        self.cooldown = 0.0
        self.probing = False

    def state(self) -> str:
        if self.out_until is None:
            return "up"
        return "probing" if self.probing else "out"

    def probe_ready(self, now: float) -> bool:
        return self.out_until is not None and self.out_until <= now and not self.probing

    def has_room(self) -> bool:
        return self.in_flight < self.spec.concurrency

    @property
    def load(self) -> float:
        return self.in_flight / self.spec.concurrency


class Router:
    """Hands out servers for requests: affinity by key, spill when full, breaker on failures."""

    def __init__(
        self,
        servers: Sequence[ServerSpec],
        breaker: BreakerPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not servers:
            raise ValueError("a router needs at least one server")
        self._servers = [_Server(spec) for spec in servers]
        self._breaker = (breaker or BreakerPolicy()) if len(servers) > 1 else None
        self._clock = clock
        self._changed = asyncio.Event()

    @property
    def specs(self) -> tuple[ServerSpec, ...]:
        return tuple(s.spec for s in self._servers)

    @property
    def capacity(self) -> int:
        """Requests all servers may hold at once."""
        return sum(s.spec.concurrency for s in self._servers)

    def ranking(self, key: str) -> list[int]:
        """Servers in this key's order of preference (rendezvous hashing: stable as servers come and go)."""

        def score(index: int) -> bytes:
            text = f"{key}\x1f{self._servers[index].spec.url}".encode()
            return hashlib.blake2b(text, digest_size=8).digest()

        return sorted(range(len(self._servers)), key=score, reverse=True)

    def try_acquire(self, key: str, avoid: int | None = None) -> Lease | None:
        """A lease now, or None when the request must wait for a slot; raises AllServersOutError."""
        now = self._clock()
        ranked = self.ranking(key)
        servers = self._servers
        for index in ranked:  # a server whose time out is over gets the next request as its probe
            if index != avoid and servers[index].probe_ready(now):
                return self._lease(index, probe=True)
        up = [i for i in ranked if servers[i].out_until is None]
        choices = [i for i in up if i != avoid] or up
        if choices:
            preferred = choices[0]
            if servers[preferred].has_room():
                return self._lease(preferred)
            roomy = [i for i in choices if servers[i].has_room()]
            if roomy:  # spill: least loaded first, ties in order of preference
                return self._lease(min(roomy, key=lambda i: servers[i].load))
            return None
        if avoid is not None and servers[avoid].probe_ready(now):
            return self._lease(avoid, probe=True)  # nowhere else to go
        if any(s.probing for s in servers):
            return None  # a probe is in flight: its answer decides
        raise AllServersOutError(max(0.0, min(s.out_until or now for s in servers) - now))

    async def acquire(self, key: str, avoid: int | None = None) -> Lease:
        """A lease, waiting while every usable server is full; raises AllServersOutError."""
        while True:
            lease = self.try_acquire(key, avoid)
            if lease is not None:
                return lease
            changed = self._changed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), self._next_reopen())

    def release(self, lease: Lease, *, alive: bool, draws: int = 0) -> None:
        """Return a lease. ``alive``: the server answered (even with an error that is not its fault,
        such as 429 or 400); False for a dropped connection, timeout, 5xx or malformed reply."""
        server = self._servers[lease.server]
        server.in_flight -= 1
        server.requests += 1
        if lease.probe:
            server.probing = False
        if alive:
            server.draws += draws
            server.consecutive_failures = 0
            server.out_until, server.cooldown = None, 0.0
        else:
            server.failures += 1
            server.consecutive_failures += 1
            self._maybe_take_out(server, lease.probe)
        self._notify()

    def stats(self) -> tuple[ServerStats, ...]:
        return tuple(
            ServerStats(s.spec.label, s.spec.url, s.state(), s.in_flight, s.draws, s.requests, s.failures)
            for s in self._servers
        )

    def _lease(self, index: int, *, probe: bool = False) -> Lease:
        server = self._servers[index]
        server.in_flight += 1
        if probe:
            server.probing = True
        return Lease(index, probe)

    def _maybe_take_out(self, server: _Server, probe: bool) -> None:
        policy = self._breaker
        if policy is None:
            return
        if probe:  # the probe failed: out again, for twice as long
            server.cooldown = min(policy.max_cooldown, max(policy.cooldown, server.cooldown * 2))
        elif server.out_until is None and server.consecutive_failures >= policy.failures:
            server.cooldown = policy.cooldown
        else:
            return  # still under the threshold, or a late failure of a request sent before it went out
        server.out_until = self._clock() + server.cooldown

    def _next_reopen(self) -> float | None:
        """Seconds until the next server out of rotation may be probed (None: none is out)."""
        now = self._clock()
        times = [s.out_until for s in self._servers if s.out_until is not None and s.out_until > now]
        return max(0.0, min(times) - now) if times else None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def servers_from_options(
    urls: Sequence[str], file: Path | None, concurrency: int, default: str
) -> list[ServerSpec]:
    """The servers of ``--base-url`` (repeatable) and ``--base-urls-file``, or ``default`` when neither
    is given; each holds ``concurrency`` requests at once unless its line in the file says otherwise."""
    servers = [server_spec(url, concurrency, "--base-url") for url in urls]
    if file is not None:
        servers += read_servers_file(file, concurrency)
    if not servers:
        servers = [server_spec(default, concurrency, "--base-url")]
    check_distinct(servers)
    return servers
