"""WatchReports: the change log from the beginning, resumed, and live."""

import queue
import re
import threading

import grpc
import pytest

from conftest import text
from nianbao.v1 import registry_pb2, service_pb2

MD = (("x-nianbao-submitter", "interop-watch"),)
SUBMITTED = registry_pb2.CHANGE_KIND_SUBMITTED
WITHDRAWN = registry_pb2.CHANGE_KIND_WITHDRAWN
NAME_RE = re.compile(r"^agencies/([a-z0-9-]{1,63}|[0-9A-Z]{18})/reports/(\d{4})$")


def watch_until(registry, after, pred, timeout=30):
    """Events after `after` until one satisfies pred (inclusive); the stream is then
    cancelled. Fails with what was seen when the deadline comes first."""
    call = registry.WatchReports(service_pb2.WatchReportsRequest(after_sequence=after), timeout=timeout)
    events = []
    try:
        for ev in (m.event for m in call):
            events.append(ev)
            if pred(ev):
                return events
    except grpc.RpcError as e:
        pytest.fail(
            f"WatchReports(after={after}) ended with {e.code().name} before the awaited event; "
            f"saw {len(events)} events, last {events[-1] if events else None}"
        )
    finally:
        call.cancel()
    pytest.fail(f"WatchReports(after={after}) ended without the awaited event ({len(events)} events)")


def assert_contiguous(events, first):
    seqs = [e.sequence for e in events]
    assert seqs == list(range(first, first + len(seqs))), f"sequences not contiguous from {first}: {seqs[:20]}"


@pytest.fixture
def history(registry, uid):
    """submit, submit, withdraw, submit: four events on one report."""
    t = text("000_2b6e7661ff84f527.txt")
    r1 = registry.SubmitReport(service_pb2.SubmitReportRequest(text=t, agency_id=uid), metadata=MD, timeout=60)
    name = r1.revision.name
    r2 = registry.SubmitReport(
        service_pb2.SubmitReportRequest(text=text("000_2b6e7661ff84f527.txt", url="https://example.invalid/2"), agency_id=uid),
        metadata=MD, timeout=60,
    )
    w = registry.WithdrawReport(
        service_pb2.WithdrawReportRequest(name=name, reason="watch test"), metadata=MD, timeout=10
    )
    r3 = registry.SubmitReport(service_pb2.SubmitReportRequest(text=t, agency_id=uid), metadata=MD, timeout=60)
    return uid, name, r1, r2, w, r3


def _mine(events, name):
    return [e for e in events if e.name == name]


def test_watch_from_zero(registry, history):
    uid, name, r1, r2, w, r3 = history
    events = watch_until(registry, 0, lambda e: e.name == name and e.revision == 3)
    assert events[0].sequence == 1, "sequence numbers start at 1"
    assert_contiguous(events, 1)
    for e in events:
        assert e.kind in (SUBMITTED, WITHDRAWN), e
        assert NAME_RE.match(e.name), e
        assert e.time.seconds > 1_600_000_000, e
        assert e.revision >= 1
        assert e.etag
        y = int(NAME_RE.match(e.name).group(2))
        assert e.year == y and e.agency_id == NAME_RE.match(e.name).group(1), e
        if e.kind == SUBMITTED:
            assert e.reason == "", e

    mine = _mine(events, name)
    assert [(e.kind, e.revision) for e in mine] == [
        (SUBMITTED, 1), (SUBMITTED, 2), (WITHDRAWN, 2), (SUBMITTED, 3)
    ]
    assert mine[0].etag == r1.revision.etag
    assert mine[1].etag == r2.revision.etag
    assert mine[3].etag == r3.revision.etag
    assert mine[2].reason == "watch test"
    assert mine[2].etag == w.state.etag
    assert all(e.agency_id == uid and e.year == 2023 for e in mine)

    # Every stored revision was announced once; nothing else was (replays are not events).
    total_revisions = 0
    token = ""
    while True:
        page = registry.ListReports(
            service_pb2.ListReportsRequest(
                filter=service_pb2.ReportFilter(include_withdrawn=True), page_size=1000, page_token=token
            ),
            timeout=30,
        )
        total_revisions += sum(s.latest_revision for s in page.reports)
        token = page.next_page_token
        if not token:
            break
    submitted = [(e.name, e.revision) for e in events if e.kind == SUBMITTED]
    assert len(set(submitted)) == len(submitted), "a revision announced twice"
    assert len(submitted) == total_revisions


def test_watch_resume_from_a_sequence(registry, history):
    uid, name, *_ = history
    full = watch_until(registry, 0, lambda e: e.name == name and e.revision == 3)
    mine = _mine(full, name)
    after = mine[1].sequence  # the second submission
    resumed = watch_until(registry, after, lambda e: e.name == name and e.revision == 3)
    assert resumed[0].sequence == after + 1
    assert all(e.sequence > after for e in resumed)
    assert_contiguous(resumed, after + 1)
    assert resumed == [e for e in full if e.sequence > after], "resumed events are the log's"
    assert [(e.kind, e.revision) for e in _mine(resumed, name)] == [(WITHDRAWN, 2), (SUBMITTED, 3)]

    # Resuming after the last event: nothing until something happens.
    last = full[-1].sequence
    call = registry.WatchReports(service_pb2.WatchReportsRequest(after_sequence=last), timeout=1.5)
    got = []
    with pytest.raises(grpc.RpcError) as e:
        for ev in (m.event for m in call):
            got.append(ev)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert got == [], f"events after the last one: {got}"


def test_watch_live_submit_arrives(registry, uid):
    t = text("004_pingtan_2022.txt")
    first = registry.SubmitReport(service_pb2.SubmitReportRequest(text=t, agency_id=uid), metadata=MD, timeout=60)
    name = first.revision.name
    seen = watch_until(registry, 0, lambda e: e.name == name)
    start = seen[-1].sequence

    results = {i: queue.Queue() for i in range(2)}
    calls = {}

    def follow(i):
        call = calls[i]
        try:
            for ev in (m.event for m in call):
                results[i].put(ev)
        except grpc.RpcError as e:
            results[i].put(e)

    threads = []
    for i in range(2):  # two watchers at once: both hear the event
        calls[i] = registry.WatchReports(service_pb2.WatchReportsRequest(after_sequence=start), timeout=30)
        # Headers arrive when the server has opened the stream: the watch is live.
        calls[i].initial_metadata()
        th = threading.Thread(target=follow, args=(i,), daemon=True)
        th.start()
        threads.append(th)
    try:
        for i in range(2):
            with pytest.raises(queue.Empty):
                got = results[i].get(timeout=0.3)
                pytest.fail(f"an event before the submit: {got}")
        second = registry.SubmitReport(
            service_pb2.SubmitReportRequest(text=t, agency_id=uid), metadata=MD, timeout=60
        )
        for i in range(2):
            ev = results[i].get(timeout=10)
            assert not isinstance(ev, Exception), f"watcher {i} failed: {ev}"
            assert ev.sequence == start + 1
            assert (ev.kind, ev.name, ev.revision, ev.etag) == (
                SUBMITTED, name, 2, second.revision.etag
            )
    finally:
        for c in calls.values():
            c.cancel()
        for th in threads:
            th.join(timeout=5)
