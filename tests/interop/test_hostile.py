"""A hostile client: oversized and malformed strings in every string field of every
request, seen from stock grpcio (which refuses trailers over 16 KiB with
RESOURCE_EXHAUSTED "metadata size exceeds hard limit").

Each must come back INVALID_ARGUMENT with its ErrorInfo and a BadRequest naming the
field, its grpc-message and details a few KiB at most whatever the input's size; and
the strict inputs (negative page sizes, years not written as four digits, chosen ids
starting or ending with `-`, control and bidi characters in free text, a malformed
`x-nianbao-submitter`) are refused the same way.
"""

import grpc
import pytest

from conftest import TLS_DIR, corpus_bytes, expect_error
from nianbao.v1 import service_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
CORPUS_FILE = "003_pingtan_2021.txt"
NAME = "agencies/hostile-client/reports/2021"
SIZES = [10_000, 1 << 20]


def long_text(size):
    """`size` characters mixing ASCII, a control character and CJK."""
    unit = "a\x1b崇"
    return (unit * (size // len(unit) + 1))[:size]


def published(**kw):
    return service_pb2.PublishedText(content=corpus_bytes(CORPUS_FILE), **kw)


def trailer_bytes(err):
    """Bytes of the status as sent: grpc-message percent-encoded (at most 3 bytes a
    byte), grpc-status-details-bin in base64."""
    details = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin", b"")
    return 3 * len((err.details() or "").encode()) + (len(details) + 2) // 3 * 4


def expect_bounded_invalid(call, field):
    """`call` fails with INVALID_ARGUMENT, an ErrorInfo and a BadRequest naming
    `field`, in trailers of a few KiB."""
    sizes = []

    def measured():
        try:
            return call()
        except grpc.RpcError as err:
            sizes.append(trailer_bytes(err))
            raise

    rich = expect_error(measured, INVALID, "INVALID_ARGUMENT")
    assert field in rich.violated_fields, (field, rich)
    assert sizes and sizes[0] < 4096, f"{field}: {sizes} bytes of trailers"
    return rich


def registry_calls(registry, validator, long):
    """(field, call) for every string field of every request, `long` in it."""

    def withdraw(**kw):
        fields = dict(name=NAME, reason="a reason")
        fields.update(kw)
        return lambda: registry.WithdrawReport(
            service_pb2.WithdrawReportRequest(**fields), timeout=60
        )

    def submit(**kw):
        fields = dict(text=published(), agency_id="hostile-client")
        fields.update(kw)
        return lambda: registry.SubmitReport(service_pb2.SubmitReportRequest(**fields), timeout=60)

    def parse(t):
        return lambda: validator.ParseReport(service_pb2.ParseReportRequest(text=t), timeout=60)

    def validate(t):
        return lambda: validator.ValidateReport(service_pb2.ValidateReportRequest(text=t), timeout=60)

    def with_filter(method, request, **kw):
        return lambda: method(request(filter=service_pb2.ReportFilter(**kw)), timeout=60)

    def export(**kw):
        def call():
            stream = registry.ExportReports(
                service_pb2.ExportReportsRequest(filter=service_pb2.ReportFilter(**kw)), timeout=60
            )
            return list(stream)

        return call

    calls = [
        ("name", lambda: registry.GetReport(service_pb2.GetReportRequest(name=long), timeout=60)),
        (
            "name",
            lambda: registry.ListReportRevisions(
                service_pb2.ListReportRevisionsRequest(name=long), timeout=60
            ),
        ),
        ("name", withdraw(name=long)),
        ("reason", withdraw(reason=long)),
        ("etag", withdraw(etag=long)),
        ("request_id", withdraw(request_id=long)),
        ("agency_id", submit(agency_id=long)),
        ("request_id", submit(request_id=long)),
        ("etag", submit(etag=long)),
        ("page_token", lambda: registry.ListReports(service_pb2.ListReportsRequest(page_token=long), timeout=60)),
    ]
    for field in ("charset", "url", "label"):
        t = published(**{field: long})
        calls += [
            (f"text.{field}", submit(text=t)),
            (f"text.{field}", parse(t)),
            (f"text.{field}", validate(t)),
        ]
    for field in ("agency_id", "division_prefix"):
        kw = {field: long}
        calls += [
            (f"filter.{field}", with_filter(registry.ListReports, service_pb2.ListReportsRequest, **kw)),
            (
                f"filter.{field}",
                with_filter(registry.AggregateReports, service_pb2.AggregateReportsRequest, **kw),
            ),
            (f"filter.{field}", export(**kw)),
        ]
    return calls


@pytest.mark.parametrize("size", SIZES)
def test_long_strings_in_every_field_are_invalid_argument_with_small_trailers(
    registry, validator, size
):
    long = long_text(size)
    calls = registry_calls(registry, validator, long)
    assert len(calls) == 25
    for field, call in calls:
        expect_bounded_invalid(call, field)


def test_negative_page_sizes_are_invalid_argument(registry):
    for page_size in (-1, -(2**31)):
        expect_bounded_invalid(
            lambda: registry.ListReports(service_pb2.ListReportsRequest(page_size=page_size), timeout=30),
            "page_size",
        )


@pytest.mark.parametrize(
    "name",
    [
        "agencies/x/reports/02021",
        "agencies/x/reports/+2021",
        "agencies/x/reports/2021 ",
        "agencies/-/reports/2021",
        "agencies/-x/reports/2021",
        "agencies/x-/reports/2021",
    ],
)
def test_names_are_canonical(registry, name):
    expect_bounded_invalid(
        lambda: registry.GetReport(service_pb2.GetReportRequest(name=name), timeout=30), "name"
    )


@pytest.mark.parametrize("agency_id", ["-", "-x", "x-"])
def test_chosen_ids_neither_start_nor_end_with_a_hyphen(registry, agency_id):
    expect_bounded_invalid(
        lambda: registry.SubmitReport(
            service_pb2.SubmitReportRequest(text=published(), agency_id=agency_id), timeout=60
        ),
        "agency_id",
    )


def test_control_and_bidi_characters_in_free_text_are_refused(registry, uid):
    stored = registry.SubmitReport(
        service_pb2.SubmitReportRequest(text=published(), agency_id=uid), timeout=60
    )
    name = stored.revision.name
    for reason in ("wrong\x00year", "\x1b[2Jgone", "see \u202etxt.exe", "a\u2066b", "x\x85"):
        expect_bounded_invalid(
            lambda: registry.WithdrawReport(
                service_pb2.WithdrawReportRequest(name=name, reason=reason), timeout=30
            ),
            "reason",
        )
    for field, value in (("charset", "GBK\x00"), ("url", "https://x/\u202e"), ("label", "a\x07b")):
        expect_bounded_invalid(
            lambda: registry.SubmitReport(
                service_pb2.SubmitReportRequest(text=published(**{field: value}), agency_id=uid),
                timeout=60,
            ),
            f"text.{field}",
        )
    # Line feeds and tabs are allowed in a reason.
    registry.WithdrawReport(
        service_pb2.WithdrawReportRequest(name=name, reason="submitted twice:\n\tsee b"), timeout=30
    )


@pytest.mark.parametrize("size", [257, 10_000])
def test_an_overlong_declared_identity_is_refused_in_plaintext(registry, size):
    """In plaintext the header names the caller and a malformed one is refused; over
    mutual TLS the certificate names the caller and the header is not read at all."""
    metadata = (("x-nianbao-submitter", "x" * size),)
    call = lambda: registry.ListReports(service_pb2.ListReportsRequest(), metadata=metadata, timeout=30)
    if TLS_DIR:
        call()
    else:
        expect_bounded_invalid(call, "x-nianbao-submitter")
    registry.ListReports(
        service_pb2.ListReportsRequest(), metadata=(("x-nianbao-submitter", "x" * 256),), timeout=30
    )
