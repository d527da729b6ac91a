"""nianbao.v1.ReportRegistry: submit, get, list, revisions, withdraw, aggregate, export.

Each test owns its reports: it submits them under its own agency id (`uid`) or under
a division-code prefix no other report uses, so the tests do not depend on each other.
"""

import hashlib
import random
import re

import grpc
import pytest

from conftest import corpus_bytes, expect_error, recorded_submitter, text
from nianbao.v1 import report_pb2, service_pb2, validation_pb2

SUBMITTER = "interop-tests"
MD = (("x-nianbao-submitter", SUBMITTER),)
NAME_RE = re.compile(r"^agencies/([a-z0-9-]{1,63}|[0-9A-Z]{18})/reports/(\d{4})$")
NA = validation_pb2.RULE_OUTCOME_NOT_APPLICABLE


def submit(registry, metadata=MD, timeout=60, **kw):
    return registry.SubmitReport(service_pb2.SubmitReportRequest(**kw), metadata=metadata, timeout=timeout)


def get(registry, name, revision=0):
    return registry.GetReport(service_pb2.GetReportRequest(name=name, revision=revision), timeout=30)


def entity(validator, filename, division_code=None):
    rep = validator.ParseReport(
        service_pb2.ParseReportRequest(text=text(filename)), timeout=30
    ).result.report
    if division_code is not None:
        rep.agency.division_code = division_code
    return rep


def list_all(registry, page_size=1000, **filter_kw):
    """Every report matching the filter, following next_page_token."""
    out, token, pages = [], "", 0
    while True:
        resp = registry.ListReports(
            service_pb2.ListReportsRequest(
                filter=service_pb2.ReportFilter(**filter_kw), page_size=page_size, page_token=token
            ),
            timeout=30,
        )
        pages += 1
        assert len(resp.reports) <= page_size
        out.extend(resp.reports)
        token = resp.next_page_token
        if not token:
            return out
        assert pages < 10_000, "pagination does not end"


def names(items):
    return [i.name for i in items]


def unused_prefix(registry, first_two):
    """A 4-digit division prefix no stored report has, so a test owns it."""
    for _ in range(50):
        p = f"{first_two}{random.randint(0, 99):02d}"
        if not list_all(registry, division_prefix=p, include_withdrawn=True):
            return p
    pytest.fail(f"no unused division prefix under {first_two}")


# ------------------------------------------------------------------ submit and get


def test_submit_texts_then_get(registry, validator, uid):
    files = ["002_pingtan_2020.txt", "003_pingtan_2021.txt", "004_pingtan_2022.txt"]
    stored = {}
    for f in files:
        data = corpus_bytes(f)
        resp = submit(registry, text=service_pb2.PublishedText(content=data, label=f), agency_id=uid)
        rev = resp.revision
        year = int(f.split("_")[2][:4])
        assert rev.name == f"agencies/{uid}/reports/{year}"
        assert rev.agency_id == uid and rev.year == year
        assert rev.revision == 1
        assert rev.etag.startswith('"') and rev.etag.endswith('"') and len(rev.etag) > 2, rev.etag
        assert rev.submitter == recorded_submitter(SUBMITTER)
        assert rev.input_sha256 == hashlib.sha256(data).hexdigest()
        assert rev.report.source.sha256 == rev.input_sha256
        assert rev.report.source.label == f
        assert rev.submit_time.seconds > 1_600_000_000
        assert rev.request_id == ""
        assert rev.validation.rule_set_version
        assert rev.has_errors == (rev.validation.errors > 0)
        assert rev.report.year == year
        assert not resp.replayed
        assert resp.state.name == rev.name
        assert resp.state.latest_revision == 1 and resp.state.revision_count == 1
        assert resp.state.etag
        assert not resp.state.HasField("withdrawal")
        stored[year] = rev

    # 002 fails sum check (c) (corpus README): stored anyway, with its findings.
    assert stored[2020].has_errors and stored[2020].validation.errors > 0

    for year, rev in stored.items():
        got = get(registry, rev.name)
        assert got.revision == rev, f"GetReport returns what SubmitReport stored ({rev.name})"
        assert got.state.latest_revision == 1

    # Cross-year rules run on submit against the stored previous year: the 2022
    # findings are those of ValidateReport with the stored 2021 report as `previous`.
    expected = validator.ValidateReport(
        service_pb2.ValidateReportRequest(
            text=text("004_pingtan_2022.txt"), previous=stored[2021].report
        ),
        timeout=30,
    ).result
    cat = validator.ListRules(service_pb2.ListRulesRequest(), timeout=10)
    cross = {r.code for r in cat.rules if r.category == "cross_year"}
    on_submit = {r.code: r.outcome for r in stored[2022].validation.rules if r.code in cross}
    with_prev = {r.code: r.outcome for r in expected.rules if r.code in cross}
    assert on_submit == with_prev
    assert on_submit["X1"] != NA, on_submit


def test_submit_text_without_agency_derives_a_stable_id(registry):
    """No agency_id and no credit code in the text: the id is derived from the agency
    name, so every submission of the same agency lands on the same report."""
    a = submit(registry, text=text("002_pingtan_2020.txt")).revision
    b = submit(registry, text=text("004_pingtan_2022.txt")).revision
    m_a, m_b = NAME_RE.match(a.name), NAME_RE.match(b.name)
    assert m_a and m_b, (a.name, b.name)
    assert a.agency_id == b.agency_id == m_a.group(1) == m_b.group(1)
    assert (a.year, b.year) == (2020, 2022)
    again = submit(registry, text=text("004_pingtan_2022.txt", url="https://example.invalid/004")).revision
    assert again.name == b.name
    assert again.revision == b.revision + 1


def test_submit_entity(registry, validator, uid):
    rep = entity(validator, "000_2b6e7661ff84f527.txt", division_code="320602")
    resp = submit(registry, report=rep, agency_id=uid)
    rev = resp.revision
    assert rev.name == f"agencies/{uid}/reports/2023"
    assert rev.revision == 1
    assert rev.report.agency.division_code == "320602"
    assert rev.report.requests == rep.requests
    assert rev.report.proactive == rep.proactive
    assert rev.input_sha256 == hashlib.sha256(rep.SerializeToString()).hexdigest()
    assert rev.validation.errors == 0 and not rev.has_errors
    assert get(registry, rev.name).revision == rev


def test_submit_without_input_is_invalid_argument(registry, uid):
    rich = expect_error(
        lambda: submit(registry, agency_id=uid), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"
    )
    assert "input" in rich.violated_fields


def test_submit_bad_agency_id_is_invalid_argument(registry):
    rich = expect_error(
        lambda: submit(registry, text=text("000_2b6e7661ff84f527.txt"), agency_id="Not An Id!"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert rich.violated_fields == ["agency_id"]


def test_reject_on_error(registry, uid):
    rich = expect_error(
        lambda: submit(registry, text=text("002_pingtan_2020.txt"), agency_id=uid, reject_on_error=True),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REJECTED_ON_ERROR",
    )
    assert rich.precondition_failure is not None and rich.precondition_failure.violations
    # Nothing stored.
    expect_error(
        lambda: get(registry, f"agencies/{uid}/reports/2020"),
        grpc.StatusCode.NOT_FOUND,
        "REPORT_NOT_FOUND",
    )
    # A clean report is stored even with reject_on_error.
    ok = submit(registry, text=text("000_2b6e7661ff84f527.txt"), agency_id=uid, reject_on_error=True)
    assert ok.revision.revision == 1


def test_revisions_get_by_revision_and_list_newest_first(registry, validator, uid):
    rep = entity(validator, "000_2b6e7661ff84f527.txt")
    revs = []
    for total in (110, 111, 112):
        rep.requests.new_received.total = total
        revs.append(submit(registry, report=rep, agency_id=uid).revision)
    name = f"agencies/{uid}/reports/2023"
    assert [r.revision for r in revs] == [1, 2, 3]
    assert len({r.etag for r in revs}) == 3, "each revision has its own etag"

    latest = get(registry, name)
    assert latest.revision == revs[2]
    assert latest.state.latest_revision == 3 and latest.state.revision_count == 3
    for r in revs:
        got = get(registry, name, r.revision)
        assert got.revision == r
        assert got.revision.report.requests.new_received.total == 110 + r.revision - 1
        assert got.state.latest_revision == 3

    history = registry.ListReportRevisions(service_pb2.ListReportRevisionsRequest(name=name), timeout=30)
    assert [r.revision for r in history.revisions] == [3, 2, 1]
    assert list(history.revisions) == list(reversed(revs))
    assert history.state.latest_revision == 3 and history.state.revision_count == 3

    rich = expect_error(lambda: get(registry, name, 4), grpc.StatusCode.NOT_FOUND, "REVISION_NOT_FOUND")
    assert rich.resource_info is not None


# ------------------------------------------------------------------ errors with details


def test_missing_report_is_not_found_with_details(registry, uid):
    name = f"agencies/{uid}/reports/2023"
    rich = expect_error(lambda: get(registry, name), grpc.StatusCode.NOT_FOUND, "REPORT_NOT_FOUND")
    assert rich.resource_info is not None, rich
    assert name in rich.resource_info.resource_name
    expect_error(
        lambda: registry.ListReportRevisions(service_pb2.ListReportRevisionsRequest(name=name), timeout=10),
        grpc.StatusCode.NOT_FOUND,
        "REPORT_NOT_FOUND",
    )
    expect_error(
        lambda: registry.WithdrawReport(
            service_pb2.WithdrawReportRequest(name=name, reason="test"), timeout=10
        ),
        grpc.StatusCode.NOT_FOUND,
        "REPORT_NOT_FOUND",
    )


@pytest.mark.parametrize(
    "bad_name",
    [
        "",
        "bad name",
        "agencies/UPPER/reports/2023",
        "agencies/x/reports/notayear",
        "reports/2023",
        "agencies/x/reports/2023/extra",
    ],
)
def test_invalid_name_is_invalid_argument(registry, bad_name):
    for call in (
        lambda: get(registry, bad_name),
        lambda: registry.ListReportRevisions(service_pb2.ListReportRevisionsRequest(name=bad_name), timeout=10),
        lambda: registry.WithdrawReport(
            service_pb2.WithdrawReportRequest(name=bad_name, reason="test"), timeout=10
        ),
    ):
        rich = expect_error(call, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        assert rich.bad_request is not None, rich
        assert "name" in rich.violated_fields, rich.violated_fields


def test_etag_conflict_is_failed_precondition(registry, validator, uid):
    rep = entity(validator, "000_2b6e7661ff84f527.txt")
    first = submit(registry, report=rep, agency_id=uid)
    name = first.revision.name
    rep.requests.new_received.total = 111
    second = submit(registry, report=rep, agency_id=uid, etag=first.state.etag)
    assert second.revision.revision == 2

    rep.requests.new_received.total = 112
    stale = first.state.etag
    rich = expect_error(
        lambda: submit(registry, report=rep, agency_id=uid, etag=stale),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ETAG_MISMATCH",
    )
    assert rich.precondition_failure is not None, rich
    v = rich.precondition_failure.violations
    assert len(v) >= 1 and v[0].type and v[0].subject == name, v
    # Nothing stored.
    state = get(registry, name).state
    assert state.latest_revision == 2 and state.revision_count == 2

    # A stale etag on withdraw is refused the same way.
    rich = expect_error(
        lambda: registry.WithdrawReport(
            service_pb2.WithdrawReportRequest(name=name, reason="stale", etag=stale), timeout=10
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ETAG_MISMATCH",
    )
    assert rich.precondition_failure is not None
    assert not get(registry, name).state.HasField("withdrawal")


def test_etag_on_a_report_that_does_not_exist(registry, validator, uid):
    """A report that does not exist yet has no etag: naming one fails, nothing is stored."""
    rep = entity(validator, "000_2b6e7661ff84f527.txt")
    rich = expect_error(
        lambda: submit(registry, report=rep, agency_id=uid, etag='"1-0000000000000000"'),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ETAG_MISMATCH",
    )
    assert rich.precondition_failure is not None
    expect_error(
        lambda: get(registry, f"agencies/{uid}/reports/2023"), grpc.StatusCode.NOT_FOUND, "REPORT_NOT_FOUND"
    )


def test_idempotent_retry_and_request_id_reuse(registry, validator, uid):
    rep = entity(validator, "000_2b6e7661ff84f527.txt")
    rid = f"req-{uid}"
    first = submit(registry, report=rep, agency_id=uid, request_id=rid)
    assert not first.replayed
    assert first.revision.request_id == rid
    retry = submit(registry, report=rep, agency_id=uid, request_id=rid)
    assert retry.replayed
    assert retry.revision.revision == first.revision.revision == 1
    assert retry.revision.etag == first.revision.etag
    assert retry.revision.name == first.revision.name
    assert get(registry, first.revision.name).state.revision_count == 1

    other = entity(validator, "000_2b6e7661ff84f527.txt")
    other.requests.new_received.total = 999
    rich = expect_error(
        lambda: submit(registry, report=other, agency_id=uid, request_id=rid),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_REUSED",
    )
    assert rich.message
    assert get(registry, first.revision.name).state.revision_count == 1

    # Text input: the same bytes with the same key replay too.
    rid2 = f"req2-{uid}"
    t1 = submit(registry, text=text("004_pingtan_2022.txt"), agency_id=uid, request_id=rid2)
    t2 = submit(registry, text=text("004_pingtan_2022.txt"), agency_id=uid, request_id=rid2)
    assert (t2.replayed, t2.revision.revision, t2.revision.name) == (True, t1.revision.revision, t1.revision.name)


@pytest.mark.parametrize("bad", ["x" * 129, "caf\u00e9", "tab\there"])
def test_bad_request_id_is_invalid_argument(registry, uid, bad):
    rich = expect_error(
        lambda: submit(registry, text=text("000_2b6e7661ff84f527.txt"), agency_id=uid, request_id=bad),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert "request_id" in rich.violated_fields


# ------------------------------------------------------------------ withdraw


def test_withdraw(registry, validator, uid):
    rep = entity(validator, "000_2b6e7661ff84f527.txt")
    first = submit(registry, report=rep, agency_id=uid)
    name = first.revision.name

    for reason in ("", "   "):
        rich = expect_error(
            lambda: registry.WithdrawReport(
                service_pb2.WithdrawReportRequest(name=name, reason=reason), metadata=MD, timeout=10
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
        )
        assert rich.bad_request is not None, rich
        assert rich.violated_fields == ["reason"], rich.violated_fields
    rich = expect_error(
        lambda: registry.WithdrawReport(
            service_pb2.WithdrawReportRequest(name=name, reason="x" * 2001), timeout=10
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert rich.violated_fields == ["reason"]
    assert not get(registry, name).state.HasField("withdrawal")
    assert name in names(list_all(registry, agency_id=uid))

    reason = "重复报送，以新版本为准 (interop)"
    resp = registry.WithdrawReport(
        service_pb2.WithdrawReportRequest(name=name, reason=reason), metadata=MD, timeout=10
    )
    w = resp.state.withdrawal
    assert resp.state.HasField("withdrawal")
    assert w.reason == reason and w.revision == 1 and w.withdrawn_by == recorded_submitter(SUBMITTER)
    assert w.withdraw_time.seconds > 1_600_000_000
    assert resp.state.etag != first.state.etag, "the state etag changes on withdrawal"

    got = get(registry, name)
    assert got.state.withdrawal == w
    assert got.revision == first.revision, "history stays"
    assert [r.revision for r in registry.ListReportRevisions(
        service_pb2.ListReportRevisionsRequest(name=name), timeout=10).revisions] == [1]

    assert name not in names(list_all(registry, agency_id=uid))
    listed = list_all(registry, agency_id=uid, include_withdrawn=True)
    assert names(listed) == [name]
    assert listed[0].withdrawn

    expect_error(
        lambda: registry.WithdrawReport(
            service_pb2.WithdrawReportRequest(name=name, reason="again"), timeout=10
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ALREADY_WITHDRAWN",
    )

    # A later submission clears the withdrawal.
    again = submit(registry, report=rep, agency_id=uid)
    assert again.revision.revision == 2
    assert not again.state.HasField("withdrawal")
    assert names(list_all(registry, agency_id=uid)) == [name]


# ------------------------------------------------------------------ list


@pytest.fixture
def listed_set(registry, validator, uid):
    """Four reports of two agencies under a division prefix only this test uses."""
    prefix = unused_prefix(registry, "99")
    a, b = f"{uid}-a", f"{uid}-b"
    plan = [
        (a, "002_pingtan_2020.txt", prefix + "01"),
        (a, "003_pingtan_2021.txt", prefix + "01"),
        (a, "004_pingtan_2022.txt", prefix + "02"),
        (b, "013_pingtan_shichangjianduguanliju_2021.txt", prefix + "02"),
    ]
    out = {}
    for agency, f, code in plan:
        resp = submit(registry, report=entity(validator, f, code), agency_id=agency)
        out[resp.revision.name] = resp
    return prefix, a, b, out


def test_list_reports_filters(registry, listed_set):
    prefix, a, b, subs = listed_set
    rev = {n: s.revision for n, s in subs.items()}

    def expect(filter_kw, pred):
        got = list_all(registry, **filter_kw)
        want = sorted(n for n, r in rev.items() if pred(r))
        mine = sorted(n for n in names(got) if n in rev)
        assert mine == want, (filter_kw, mine, want)
        return got

    everything = expect({"division_prefix": prefix[:2]}, lambda r: True)
    assert all(s.division_code.startswith(prefix[:2]) for s in everything)
    expect({"division_prefix": prefix}, lambda r: True)
    got = expect({"division_prefix": prefix + "01"}, lambda r: r.report.agency.division_code == prefix + "01")
    assert all(s.division_code.startswith(prefix + "01") for s in got)
    got = expect({"agency_id": a}, lambda r: r.agency_id == a)
    assert len(got) == 3 and all(s.agency_id == a for s in got)
    got = expect({"agency_id": b}, lambda r: r.agency_id == b)
    assert len(got) == 1
    got = expect({"year": 2021, "division_prefix": prefix}, lambda r: r.year == 2021)
    assert len(got) == 2 and all(s.year == 2021 for s in got)
    got = expect({"year": 2021, "agency_id": a}, lambda r: r.year == 2021 and r.agency_id == a)
    assert len(got) == 1
    for fv in (report_pb2.FORMAT_VERSION_V2019, report_pb2.FORMAT_VERSION_V2021):
        got = expect(
            {"format_version": fv, "division_prefix": prefix},
            lambda r, fv=fv: r.report.format_version == fv,
        )
        assert all(s.format_version == fv for s in got)
    for flag in (True, False):
        got = expect({"has_errors": flag, "division_prefix": prefix}, lambda r, flag=flag: r.has_errors == flag)
        assert all(s.has_errors == flag for s in got)
    assert any(r.has_errors for r in rev.values()) and not all(r.has_errors for r in rev.values()), (
        "the set should mix reports with and without errors"
    )

    # The summary fields say what the stored revision says.
    for s in list_all(registry, division_prefix=prefix):
        r = rev[s.name]
        state = subs[s.name].state
        assert (s.agency_id, s.year, s.division_code) == (r.agency_id, r.year, r.report.agency.division_code)
        assert s.agency_name == r.report.agency.name
        assert s.format_version == r.report.format_version
        assert s.latest_revision == r.revision == 1
        assert s.etag == state.etag
        assert s.has_errors == r.has_errors
        assert (s.errors, s.warnings) == (r.validation.errors, r.validation.warnings)
        assert not s.withdrawn


@pytest.mark.parametrize(
    "filter_kw, field",
    [
        ({"division_prefix": "3a"}, "filter.division_prefix"),
        ({"division_prefix": "1234567"}, "filter.division_prefix"),
        ({"year": -1}, "filter.year"),
        ({"agency_id": "Bad Agency"}, "filter.agency_id"),
        ({"format_version": 42}, "filter.format_version"),
    ],
)
def test_list_reports_bad_filter_is_invalid_argument(registry, filter_kw, field):
    rich = expect_error(
        lambda: registry.ListReports(
            service_pb2.ListReportsRequest(filter=service_pb2.ReportFilter(**filter_kw)), timeout=10
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert field in rich.violated_fields, rich.violated_fields


def test_list_reports_pagination(registry, validator, uid):
    rep = entity(validator, "000_2b6e7661ff84f527.txt")
    for year in range(2015, 2022):
        rep.year = year
        submit(registry, report=rep, agency_id=uid)
    one_page = list_all(registry, page_size=1000, agency_id=uid)
    assert len(one_page) == 7

    for size in (1, 2, 3):
        paged = list_all(registry, page_size=size, agency_id=uid)
        assert names(paged) == names(one_page), f"page_size {size}"
        assert len(set(names(paged))) == len(paged), "no duplicates"

    # The same over the whole registry (every other test's reports too).
    full = list_all(registry, page_size=1000, include_withdrawn=True)
    paged = list_all(registry, page_size=3, include_withdrawn=True)
    assert names(paged) == names(full)
    assert len(set(names(paged))) == len(paged)
    assert names(list_all(registry, page_size=1000, include_withdrawn=True)) == names(full), "stable order"

    # Page size: the first page of size 2 has 2 and a token; default and oversize work.
    first = registry.ListReports(
        service_pb2.ListReportsRequest(filter=service_pb2.ReportFilter(agency_id=uid), page_size=2), timeout=10
    )
    assert len(first.reports) == 2 and first.next_page_token
    assert len(registry.ListReports(
        service_pb2.ListReportsRequest(filter=service_pb2.ReportFilter(agency_id=uid)), timeout=10
    ).reports) == 7
    assert len(registry.ListReports(
        service_pb2.ListReportsRequest(filter=service_pb2.ReportFilter(agency_id=uid), page_size=100_000),
        timeout=10,
    ).reports) == 7


@pytest.mark.parametrize("token", ["garbage", "!!!not-base64!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x" * 5000])
def test_list_reports_garbage_page_token(registry, token):
    rich = expect_error(
        lambda: registry.ListReports(service_pb2.ListReportsRequest(page_token=token), timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert rich.violated_fields == ["page_token"], rich


# ------------------------------------------------------------------ aggregate


def cell_value(report, path):
    """The value of one table cell of a report, None when blank (absent)."""
    msg = report
    parts = path.split(".")
    for p in parts[:-1]:
        if p not in msg.DESCRIPTOR.fields_by_name:
            raise AssertionError(f"{path}: no field {p} in {msg.DESCRIPTOR.full_name}")
        if not msg.HasField(p):
            return None
        msg = getattr(msg, p)
    last = parts[-1]
    fd = msg.DESCRIPTOR.fields_by_name.get(last)
    assert fd is not None, f"{path}: no field {last} in {msg.DESCRIPTOR.full_name}"
    if not msg.HasField(last):
        return None
    value = getattr(msg, last)
    if fd.message_type is not None:
        assert fd.message_type.full_name == "nianbao.v1.MoneyAmount", path
        return value.fen if value.HasField("fen") else None
    return value


def present_cells(report):
    """Field paths of every present numeric cell of tables 二, 三 and 四."""
    out = {}

    def walk(msg, prefix):
        for fd, val in msg.ListFields():
            path = f"{prefix}.{fd.name}"
            if fd.message_type is None:
                out[path] = val
            elif fd.message_type.full_name == "nianbao.v1.MoneyAmount":
                if val.HasField("fen"):
                    out[path] = val.fen
            else:
                walk(val, path)

    for table in ("proactive", "requests", "review_litigation"):
        if report.HasField(table):
            walk(getattr(report, table), table)
    return out


def check_group(group, reports):
    """The group's sums are the sums of the reports' cells, computed here."""
    assert group.reports == len(reports), (group.key, group.reports, len(reports))
    assert group.reports_with_errors == sum(1 for r in reports if r.has_errors)
    cells = {c.field_path: c for c in group.cells}
    assert len(cells) == len(group.cells), "one CellTotal per field path"
    for path, c in cells.items():
        values = [cell_value(r.report, path) for r in reports]
        present = [v for v in values if v is not None]
        assert c.reports == len(present), (group.key, path, c.reports, values)
        assert c.sum == sum(present), (group.key, path, c.sum, values)
        assert c.money == path.endswith((".amount", "procurement_amount")), (path, c.money)
    # Every present cell of every report is summed somewhere.
    seen = set()
    for r in reports:
        seen |= set(present_cells(r.report))
    missing = seen - set(cells)
    assert not missing, f"cells present in the reports but not aggregated: {sorted(missing)[:10]}"
    return cells


@pytest.fixture
def aggregate_set(registry, validator, uid):
    """Two agencies x two years (four reports) under a prefix only this test uses."""
    prefix = unused_prefix(registry, "98")
    a, b = f"{uid}-a", f"{uid}-b"
    plan = [
        (a, "003_pingtan_2021.txt", prefix + "01"),
        (a, "004_pingtan_2022.txt", prefix + "01"),
        (b, "013_pingtan_shichangjianduguanliju_2021.txt", prefix + "02"),
        (b, "011_pingtan_ziranziyuanshengtaihuanjingju_2022.txt", prefix + "02"),
    ]
    names_ = []
    for agency, f, code in plan:
        names_.append(submit(registry, report=entity(validator, f, code), agency_id=agency).revision.name)
    return prefix, names_


def aggregate(registry, prefix, group_by=0, length=0, **kw):
    return registry.AggregateReports(
        service_pb2.AggregateReportsRequest(
            filter=service_pb2.ReportFilter(division_prefix=prefix, **kw),
            group_by=group_by,
            division_prefix_length=length,
        ),
        timeout=60,
    )


def test_aggregate_reports(registry, aggregate_set):
    prefix, names_ = aggregate_set
    stored = [get(registry, n).revision for n in names_]

    by_year = aggregate(registry, prefix, service_pb2.GROUP_BY_YEAR)
    assert by_year.reports == 4
    assert sorted(g.key for g in by_year.groups) == ["2021", "2022"]
    for g in by_year.groups:
        cells = check_group(g, [r for r in stored if str(r.year) == g.key])
        assert g.reports == 2
        # Spelled out for two cells the brief names, against GetReport.
        for path in ("requests.new_received.total", "requests.results_total.total"):
            mine = sum(
                cell_value(r.report, path) or 0 for r in stored if str(r.year) == g.key
            )
            assert cells[path].sum == mine, (g.key, path)
    assert sum(g.reports for g in by_year.groups) == by_year.reports

    whole = aggregate(registry, prefix)
    assert whole.reports == 4 and len(whole.groups) == 1
    assert whole.groups[0].key == ""
    cells = check_group(whole.groups[0], stored)
    assert cells["requests.new_received.total"].sum == sum(
        r.report.requests.new_received.total for r in stored
    )

    by_div = aggregate(registry, prefix, service_pb2.GROUP_BY_DIVISION_PREFIX, 6)
    assert sorted(g.key for g in by_div.groups) == [prefix + "01", prefix + "02"]
    for g in by_div.groups:
        check_group(g, [r for r in stored if r.report.agency.division_code == g.key])
    by_div4 = aggregate(registry, prefix, service_pb2.GROUP_BY_DIVISION_PREFIX, 4)
    assert [g.key for g in by_div4.groups] == [prefix]

    by_level = aggregate(registry, prefix, service_pb2.GROUP_BY_AGENCY_LEVEL)
    assert by_level.reports == 4
    for g in by_level.groups:
        members = [
            r for r in stored
            if (report_pb2.AdministrativeLevel.Name(r.report.agency.level)
                if r.report.agency.level else "unknown") == g.key
        ]
        check_group(g, members)

    by_year_a = aggregate(registry, prefix, service_pb2.GROUP_BY_YEAR, agency_id=names_[0].split("/")[1])
    assert by_year_a.reports == 2

    # A withdrawn report leaves the aggregate unless include_withdrawn.
    registry.WithdrawReport(
        service_pb2.WithdrawReportRequest(name=names_[0], reason="aggregate test"), timeout=10
    )
    after = aggregate(registry, prefix)
    assert after.reports == 3
    check_group(after.groups[0], stored[1:])
    assert aggregate(registry, prefix, include_withdrawn=True).reports == 4


@pytest.mark.parametrize(
    "group_by, length, field",
    [
        # service.proto names 2, 4 and 6; the server also takes 1-6 (a lenient reading,
        # not asserted either way). 0 and 7 fit no division code.
        (service_pb2.GROUP_BY_DIVISION_PREFIX, 0, "division_prefix_length"),
        (service_pb2.GROUP_BY_DIVISION_PREFIX, 7, "division_prefix_length"),
        (99, 0, "group_by"),
    ],
)
def test_aggregate_bad_grouping_is_invalid_argument(registry, group_by, length, field):
    rich = expect_error(
        lambda: registry.AggregateReports(
            service_pb2.AggregateReportsRequest(group_by=group_by, division_prefix_length=length),
            timeout=10,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert field in rich.violated_fields


# ------------------------------------------------------------------ export


def export(registry, **filter_kw):
    return [m.revision for m in registry.ExportReports(
        service_pb2.ExportReportsRequest(filter=service_pb2.ReportFilter(**filter_kw)), timeout=120
    )]


def test_export_reports(registry, listed_set):
    prefix, a, b, subs = listed_set
    got = export(registry, division_prefix=prefix)
    assert sorted(r.name for r in got) == sorted(subs)
    assert len({r.name for r in got}) == len(got), "each report once"
    for r in got:
        assert r == subs[r.name].revision, "the export carries the stored revision"

    assert sorted(r.name for r in export(registry, agency_id=a)) == sorted(n for n in subs if f"/{a}/" in n)
    assert [r.name for r in export(registry, agency_id=b, year=2020)] == []

    # A second revision: the export carries the latest one only.
    name = next(n for n in subs if n.endswith("/2022"))
    newer = submit(registry, report=subs[name].revision.report, agency_id=a).revision
    latest = [r for r in export(registry, division_prefix=prefix) if r.name == name]
    assert latest == [newer]

    # Withdrawn: left out unless include_withdrawn.
    registry.WithdrawReport(service_pb2.WithdrawReportRequest(name=name, reason="export test"), timeout=10)
    assert name not in [r.name for r in export(registry, division_prefix=prefix)]
    assert name in [r.name for r in export(registry, division_prefix=prefix, include_withdrawn=True)]


def test_export_everything_matches_the_listing(registry):
    for include_withdrawn in (False, True):
        listed = names(list_all(registry, include_withdrawn=include_withdrawn))
        exported = [r.name for r in export(registry, include_withdrawn=include_withdrawn)]
        assert sorted(exported) == sorted(listed)
        assert len(set(exported)) == len(exported)


def test_export_bad_filter_is_invalid_argument(registry):
    def call():
        return export(registry, division_prefix="abc")

    rich = expect_error(call, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert "filter.division_prefix" in rich.violated_fields
