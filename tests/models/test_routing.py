"""The router on its own: affinity, spill, the circuit breaker, retries elsewhere, server lists."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from surestep.errors import SurestepError
from surestep.models.routing import (
    AllServersOutError,
    BreakerPolicy,
    Router,
    ServerSpec,
    read_servers_file,
    servers_from_options,
)

URLS = ("http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1", "http://10.0.0.3:8000/v1")
POLICY = BreakerPolicy(failures=3, cooldown=1.0, max_cooldown=4.0)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _router(limit: int = 4, clock: Clock | None = None, urls: tuple[str, ...] = URLS) -> Router:
    return Router([ServerSpec(u, limit) for u in urls], POLICY, clock or Clock())


def _key_preferring(router: Router, server: int) -> str:
    return next(f"p{i}" for i in range(1000) if router.ranking(f"p{i}")[0] == server)


def _fail(router: Router, server: int, times: int) -> None:
    key = _key_preferring(router, server)
    for _ in range(times):
        lease = router.try_acquire(key)
        assert lease is not None and lease.server == server
        router.release(lease, alive=False)


def test_a_key_always_goes_to_the_same_server_and_keys_spread_over_all():
    router = _router(limit=1000)
    first = {}
    for i in range(300):
        lease = router.try_acquire(f"problem-{i}")
        assert lease is not None
        first[f"problem-{i}"] = lease.server
        router.release(lease, alive=True, draws=1)
    for key, server in first.items():
        lease = router.try_acquire(key)
        assert lease is not None and lease.server == server
        router.release(lease, alive=True)
    assert all(60 <= count <= 140 for count in Counter(first.values()).values())
    assert sum(s.draws for s in router.stats()) == 300


def test_a_full_server_spills_to_the_least_loaded_one():
    router = _router(limit=2)
    key = _key_preferring(router, 0)
    held = [router.try_acquire(key) for _ in range(2)]
    assert [lease.server for lease in held if lease] == [0, 0]
    other = router.ranking(key)[1]
    busy = router.try_acquire(_key_preferring(router, other))  # the second choice now has 1 of 2
    assert busy is not None and busy.server == other
    spilled = router.try_acquire(key)
    assert spilled is not None and spilled.server not in (0, other)  # the least loaded: 0 of 2
    router.release(held[0], alive=True)
    again = router.try_acquire(key)
    assert again is not None and again.server == 0  # room at home again


def test_a_request_waits_while_every_server_is_full_and_takes_the_first_slot_freed():
    async def go() -> list[int]:
        router = _router(limit=1)
        held = [await router.acquire(f"k{i}") for i in range(3)]
        assert sorted(lease.server for lease in held) == [0, 1, 2]
        assert router.try_acquire("k-late") is None
        waiting = asyncio.ensure_future(router.acquire("k-late"))
        await asyncio.sleep(0)
        assert not waiting.done()
        router.release(held[1], alive=True)
        lease = await asyncio.wait_for(waiting, 60)
        return [lease.server, held[1].server]

    got, freed = asyncio.run(go())
    assert got == freed


def test_repeated_failures_take_a_server_out_and_a_probe_brings_it_back():
    clock = Clock()
    router = _router(clock=clock)
    key = _key_preferring(router, 1)
    _fail(router, 1, 2)
    assert router.stats()[1].state == "up"  # two failures are under the threshold
    _fail(router, 1, 1)
    assert router.stats()[1].state == "out"
    elsewhere = router.try_acquire(key)
    assert elsewhere is not None and elsewhere.server == router.ranking(key)[1]  # its second choice
    router.release(elsewhere, alive=True)

    clock.now += 1.0  # the cooldown is over: the next request, whatever its key, is the probe
    probe = router.try_acquire(_key_preferring(router, 0))
    assert probe is not None and probe.server == 1 and probe.probe
    assert router.stats()[1].state == "probing"
    meanwhile = router.try_acquire(key)
    assert meanwhile is not None and meanwhile.server != 1  # one probe at a time
    router.release(meanwhile, alive=True)
    router.release(probe, alive=False)  # still down: out for twice as long
    assert router.stats()[1].state == "out"
    clock.now += 1.5
    assert router.try_acquire(key).server != 1  # type: ignore[union-attr]
    clock.now += 0.5
    probe = router.try_acquire(key)
    assert probe is not None and probe.server == 1 and probe.probe
    router.release(probe, alive=True)
    assert router.stats()[1].state == "up"
    back = router.try_acquire(key)
    assert back is not None and back.server == 1 and not back.probe


def test_the_cooldown_doubles_up_to_its_cap():
    clock = Clock()
    router = _router(clock=clock)
    _fail(router, 2, 3)
    waits = []
    for _ in range(4):
        with_room = router.try_acquire(_key_preferring(router, 0))
        router.release(with_room, alive=True)  # type: ignore[arg-type]
        start = clock.now
        while not (lease := router.try_acquire(_key_preferring(router, 0))).probe:  # type: ignore[union-attr]
            router.release(lease, alive=True)  # type: ignore[arg-type]
            clock.now += 0.25
        waits.append(clock.now - start)
        router.release(lease, alive=False)
    assert waits == [1.0, 2.0, 4.0, 4.0]


def test_a_retry_avoids_the_server_that_failed_it_unless_it_is_the_only_one():
    router = _router()
    key = _key_preferring(router, 0)
    first = router.try_acquire(key)
    router.release(first, alive=False)  # type: ignore[arg-type]
    retry = router.try_acquire(key, avoid=0)
    assert retry is not None and retry.server != 0
    alone = Router([ServerSpec(URLS[0], 4)])
    lease = alone.try_acquire("k")
    alone.release(lease, alive=False)  # type: ignore[arg-type]
    again = alone.try_acquire("k", avoid=0)
    assert again is not None and again.server == 0


def test_with_every_server_out_the_caller_learns_when_the_first_comes_back():
    clock = Clock()
    router = _router(clock=clock)
    for server in range(3):
        _fail(router, server, 3)
        clock.now += 0.25
    with pytest.raises(AllServersOutError) as error:
        router.try_acquire("k")
    assert error.value.wait == pytest.approx(0.25)  # server 0 went out 0.75 s ago for 1 s
    assert "out of rotation" in str(error.value)


def test_one_server_is_never_taken_out():
    router = Router([ServerSpec(URLS[0], 2)], POLICY)
    for _ in range(20):
        lease = router.try_acquire("k")
        assert lease is not None and not lease.probe
        router.release(lease, alive=False)
    assert router.stats()[0].state == "up" and router.stats()[0].failures == 20


def test_a_late_failure_of_a_request_sent_before_the_server_went_out_does_not_extend_its_time_out():
    clock = Clock()
    router = _router(clock=clock)
    key = _key_preferring(router, 0)
    late = router.try_acquire(key)
    _fail(router, 0, 3)
    clock.now += 0.9
    router.release(late, alive=False)  # type: ignore[arg-type]
    clock.now += 0.1
    probe = router.try_acquire(key)
    assert probe is not None and probe.server == 0 and probe.probe


def test_labels_never_show_user_info():
    assert ServerSpec("http://user:secret@gpu-3:8000/v1", 1).label == "gpu-3:8000"
    assert ServerSpec("https://api.example.org/proxy/v1", 1).label == "api.example.org/proxy/v1"
    assert ServerSpec("http://[::1]:9000/v1", 1).label == "[::1]:9000"


def test_a_servers_file_gives_urls_and_limits_and_its_errors_name_the_line(tmp_path):
    path = tmp_path / "servers.txt"
    path.write_text("# gpu nodes\nhttp://a:8000/v1 16\n\nhttp://b:8000/v1   # default limit\n")
    assert read_servers_file(path, 32) == [
        ServerSpec("http://a:8000/v1", 16),
        ServerSpec("http://b:8000/v1", 32),
    ]
    path.write_text("http://a:8000/v1\nhttp://b:8000/v1 many\n")
    with pytest.raises(SurestepError, match=r"servers.txt:2: concurrency 'many'"):
        read_servers_file(path, 32)
    path.write_text("http://a:8000/v1\nb:8000\n")
    with pytest.raises(SurestepError, match=r"servers.txt:2: 'b:8000' is not an http"):
        read_servers_file(path, 32)
    path.write_text("http://a:8000/v1 0\n")
    with pytest.raises(SurestepError, match=r"servers.txt:1: concurrency must be >= 1"):
        read_servers_file(path, 32)
    path.write_text("# nothing\n")
    with pytest.raises(SurestepError, match="no server URL"):
        read_servers_file(path, 32)


def test_options_combine_urls_and_file_and_refuse_a_server_given_twice(tmp_path):
    path = tmp_path / "servers.txt"
    path.write_text("http://b:8000/v1 8\n")
    servers = servers_from_options(["http://a:8000/v1/"], path, 4, "http://default/v1")
    assert servers == [ServerSpec("http://a:8000/v1", 4), ServerSpec("http://b:8000/v1", 8)]
    assert servers_from_options([], None, 4, "http://default/v1") == [ServerSpec("http://default/v1", 4)]
    with pytest.raises(SurestepError, match="given twice"):
        servers_from_options(["http://b:8000/v1"], path, 4, "http://default/v1")
