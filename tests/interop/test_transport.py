"""The transport contract: request-size limit, gzip, deadlines, no UNKNOWN/INTERNAL for a
caller's mistake."""

import gzip
import random

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import CHANNEL_OPTIONS, corpus_bytes, expect_error, open_channel, text
from nianbao.v1 import report_pb2, service_pb2, service_pb2_grpc

CLEAN = "000_2b6e7661ff84f527.txt"
DEFAULT_LIMIT = 4 * 1024 * 1024


def padded_report(size):
    """A published report of at least `size` bytes: the clean report, then filler
    prose (valid UTF-8) as a long 其他需要报告的事项."""
    base = corpus_bytes(CLEAN)
    filler = "本机关持续做好政府信息公开工作。".encode("utf-8")
    n = max(0, (size - len(base)) // len(filler) + 1)
    return base + b"\n" + filler * n


def assert_healthy(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for svc in ("", "nianbao.v1.ReportRegistry", "nianbao.v1.ReportValidator"):
        assert health.Check(health_pb2.HealthCheckRequest(service=svc), timeout=10).status == (
            health_pb2.HealthCheckResponse.SERVING
        )


# ------------------------------------------------------------------ request size


def test_oversize_request_small_server(small_channel, small_limit):
    validator = service_pb2_grpc.ReportValidatorStub(small_channel)
    registry = service_pb2_grpc.ReportRegistryStub(small_channel)
    big = padded_report(small_limit + 1024)
    for call in (
        lambda: validator.ParseReport(
            service_pb2.ParseReportRequest(text=service_pb2.PublishedText(content=big)), timeout=30
        ),
        lambda: validator.ValidateReport(
            service_pb2.ValidateReportRequest(text=service_pb2.PublishedText(content=big)), timeout=30
        ),
        lambda: registry.SubmitReport(
            service_pb2.SubmitReportRequest(text=service_pb2.PublishedText(content=big), agency_id="it-oversize"),
            timeout=30,
        ),
    ):
        rich = expect_error(call, grpc.StatusCode.RESOURCE_EXHAUSTED, "REQUEST_TOO_LARGE")
        assert rich.message
    # Nothing was stored, and the server still answers normal requests.
    expect_error(
        lambda: registry.GetReport(service_pb2.GetReportRequest(name="agencies/it-oversize/reports/2023"), timeout=10),
        grpc.StatusCode.NOT_FOUND,
        "REPORT_NOT_FOUND",
    )
    assert_healthy(small_channel)
    ok = validator.ParseReport(service_pb2.ParseReportRequest(text=text(CLEAN)), timeout=30)
    assert ok.result.report.year == 2023


def test_request_just_under_the_limit_is_accepted(small_channel, small_limit):
    validator = service_pb2_grpc.ReportValidatorStub(small_channel)
    # Message overhead (tags, lengths) is a few bytes: stay 64 bytes under.
    content = padded_report(small_limit - 4096)[: small_limit - 64]
    content = content.decode("utf-8", errors="ignore").encode("utf-8")
    req = service_pb2.ParseReportRequest(text=service_pb2.PublishedText(content=content))
    assert req.ByteSize() <= small_limit
    resp = validator.ParseReport(req, timeout=60)
    assert resp.result.report.year == 2023


def test_oversize_request_default_limit(validator, channel):
    """The default server: 4 MiB (spec/api.md) answered with RESOURCE_EXHAUSTED."""
    big = padded_report(DEFAULT_LIMIT + 1024)
    expect_error(
        lambda: validator.ParseReport(
            service_pb2.ParseReportRequest(text=service_pb2.PublishedText(content=big)), timeout=60
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "REQUEST_TOO_LARGE",
    )
    assert_healthy(channel)


def test_oversize_request_gzip_compressed(small_channel, small_limit):
    """The limit is on the message, not on the compressed bytes on the wire."""
    validator = service_pb2_grpc.ReportValidatorStub(small_channel)
    big = padded_report(small_limit * 4)
    assert len(gzip.compress(big)) < small_limit, "the filler compresses well"
    expect_error(
        lambda: validator.ParseReport(
            service_pb2.ParseReportRequest(text=service_pb2.PublishedText(content=big)),
            timeout=30,
            compression=grpc.Compression.Gzip,
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "REQUEST_TOO_LARGE",
    )
    assert_healthy(small_channel)


# ------------------------------------------------------------------ compression


def test_gzip_per_call(validator, registry, uid):
    req = service_pb2.ParseReportRequest(text=text(CLEAN))
    plain = validator.ParseReport(req, timeout=30)
    zipped = validator.ParseReport(req, timeout=30, compression=grpc.Compression.Gzip)
    assert zipped == plain
    sub = registry.SubmitReport(
        service_pb2.SubmitReportRequest(text=text(CLEAN), agency_id=uid),
        timeout=60,
        compression=grpc.Compression.Gzip,
    )
    assert sub.revision.input_sha256 == plain.result.report.source.sha256
    got = registry.GetReport(
        service_pb2.GetReportRequest(name=sub.revision.name), timeout=10, compression=grpc.Compression.Gzip
    )
    assert got.revision == sub.revision


def test_gzip_channel(addr, uid):
    """A channel that compresses every call, streams included, and asks for gzip back."""
    with open_channel(addr, compression=grpc.Compression.Gzip) as ch:
        validator = service_pb2_grpc.ReportValidatorStub(ch)
        registry = service_pb2_grpc.ReportRegistryStub(ch)
        v = validator.ValidateReport(
            service_pb2.ValidateReportRequest(text=text("002_pingtan_2020.txt")), timeout=30
        )
        assert v.result.errors > 0
        sub = registry.SubmitReport(
            service_pb2.SubmitReportRequest(text=text("003_pingtan_2021.txt"), agency_id=uid), timeout=60
        )
        exported = [m.revision for m in registry.ExportReports(
            service_pb2.ExportReportsRequest(filter=service_pb2.ReportFilter(agency_id=uid)), timeout=60
        )]
        assert exported == [sub.revision]
        rules = validator.ListRules(service_pb2.ListRulesRequest(), timeout=10)
        assert rules.rules


# ------------------------------------------------------------------ deadlines


def test_client_deadline_exceeded_then_healthy(channel, validator):
    """timeout=0.001 on a 3 MiB request: DEADLINE_EXCEEDED, whichever side notices first
    (gRPC: a call past its deadline ends DEADLINE_EXCEEDED), and the server is fine."""
    big = padded_report(3 * 1024 * 1024)
    req = service_pb2.ParseReportRequest(text=service_pb2.PublishedText(content=big))
    codes = []
    for _ in range(5):
        try:
            validator.ParseReport(req, timeout=0.001)
            codes.append("OK")
        except grpc.RpcError as err:
            codes.append(f"{err.code().name}: {err.details()}")
    assert all(c.startswith("DEADLINE_EXCEEDED") for c in codes), codes
    assert_healthy(channel)
    ok = validator.ParseReport(service_pb2.ParseReportRequest(text=text(CLEAN)), timeout=30)
    assert ok.result.report.year == 2023


def test_deadlines_that_expire_mid_request_are_deadline_exceeded(channel, validator):
    """Deadlines around the time the server takes: each call either completes or ends
    DEADLINE_EXCEEDED — never CANCELLED — and the server stays healthy."""
    big = padded_report(3 * 1024 * 1024)
    req = service_pb2.ParseReportRequest(text=service_pb2.PublishedText(content=big))
    outcomes = []
    for timeout in (0.01, 0.02, 0.03, 0.04, 0.05, 0.06) * 4:
        try:
            validator.ParseReport(req, timeout=timeout)
            outcomes.append((timeout, "OK"))
        except grpc.RpcError as err:
            outcomes.append((timeout, err.code().name, err.details()))
    bad = [o for o in outcomes if o[1] not in ("OK", "DEADLINE_EXCEEDED")]
    assert not bad, f"{len(bad)} of {len(outcomes)} calls: {bad[:5]}"
    assert_healthy(channel)


@pytest.mark.parametrize("client_timeout", [None, 20.0])
def test_server_request_timeout_is_deadline_exceeded(slow_addr, client_timeout):
    """The server's own deadline (--request-timeout-secs 1 here) expires while a slow
    caller is still uploading: the caller hears DEADLINE_EXCEEDED with ErrorInfo reason
    DEADLINE_EXCEEDED (status.rs) after about a second, not after its own 20 s."""
    import time

    from conftest import SlowProxy

    proxy = SlowProxy(slow_addr, rate=256 * 1024)  # 1 MiB takes about 4 s
    try:
        with open_channel(proxy.addr) as ch:
            grpc.channel_ready_future(ch).result(timeout=10)
            validator = service_pb2_grpc.ReportValidatorStub(ch)
            req = service_pb2.ParseReportRequest(
                text=service_pb2.PublishedText(content=padded_report(1024 * 1024))
            )
            started = time.monotonic()
            rich = expect_error(
                lambda: validator.ParseReport(req, timeout=client_timeout),
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "DEADLINE_EXCEEDED",
            )
            elapsed = time.monotonic() - started
            assert elapsed < 3.5, f"the 1 s server deadline took {elapsed:.1f} s: {rich!r}"
    finally:
        proxy.close()
    with open_channel(slow_addr) as ch:
        assert_healthy(ch)


def test_deadline_on_streams(registry, channel):
    call = registry.WatchReports(service_pb2.WatchReportsRequest(after_sequence=10**12), timeout=0.5)
    with pytest.raises(grpc.RpcError) as e:
        list(call)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert_healthy(channel)


# ------------------------------------------------------------------ caller mistakes


def test_garbage_input_is_never_unknown_or_internal(validator, registry):
    rnd = random.Random(20240601)
    samples = [
        bytes(rnd.getrandbits(8) for _ in range(4096)),
        b"\xff\xfe\x00\x00" * 100,
        "年度报告".encode("utf-8") * 3,
        b"<html><table><tr><td>1</td></tr></table></html>",
    ]
    for data in samples:
        t = service_pb2.PublishedText(content=data)
        for call in (
            lambda: validator.ParseReport(service_pb2.ParseReportRequest(text=t), timeout=30),
            lambda: validator.ValidateReport(service_pb2.ValidateReportRequest(text=t), timeout=30),
            lambda: registry.SubmitReport(service_pb2.SubmitReportRequest(text=t), timeout=30),
        ):
            try:
                call()
            except grpc.RpcError as err:
                assert err.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (
                    err.code(), err.details()
                )
                # Still a documented error with its details.
                expect_error(call, err.code())


@pytest.mark.parametrize("year", [0, -5, 99999])
def test_submit_entity_with_a_bad_year(registry, uid, year):
    rep = report_pb2.AnnualReport(
        agency=report_pb2.Agency(name="测试机关"), year=year,
        format_version=report_pb2.FORMAT_VERSION_V2021,
    )
    rich = expect_error(
        lambda: registry.SubmitReport(service_pb2.SubmitReportRequest(report=rep, agency_id=uid), timeout=30),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert "report.year" in rich.violated_fields, rich


def test_unknown_method_is_unimplemented(channel):
    call = channel.unary_unary(
        "/nianbao.v1.ReportRegistry/NoSuchMethod",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_malformed_protobuf_is_not_unknown(channel):
    """Bytes that are not a valid GetReportRequest: a caller's mistake."""
    call = channel.unary_unary(
        "/nianbao.v1.ReportRegistry/GetReport",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    # Field 1 with a length far past the end: a field violation with its reason, as for
    # every method (GetReport has a codec of its own: src/service/stored.rs).
    rich = expect_error(
        lambda: call(b"\x0a\xff\xff\xff\xff\x0f", timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert rich.bad_request is not None, rich
