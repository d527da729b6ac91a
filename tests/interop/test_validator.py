"""nianbao.v1.ReportValidator: ParseReport, ValidateReport, ListRules."""

import hashlib

import grpc

from conftest import corpus_bytes, expect_error, text
from nianbao.v1 import report_pb2, service_pb2, validation_pb2

CLEAN = "000_2b6e7661ff84f527.txt"


def test_parse_report_fields(validator):
    data = corpus_bytes(CLEAN)
    resp = validator.ParseReport(
        service_pb2.ParseReportRequest(
            text=service_pb2.PublishedText(content=data, label=CLEAN, url="https://example.invalid/000")
        ),
        timeout=30,
    )
    result = resp.result
    rep = result.report
    assert rep.agency.name == "南通市崇川区人民政府办公室"
    assert rep.year == 2023
    assert rep.format_version == report_pb2.FORMAT_VERSION_V2021
    assert "2023" in rep.title
    # Corpus README: 110 new + 12 carried over = 112 handled + 10 carried forward.
    req = rep.requests
    assert req.new_received.HasField("total") and req.new_received.total == 110
    assert req.carried_over.total == 12
    assert req.results_total.total == 112
    assert req.carried_forward.total == 10
    assert list(rep.sections_found)[:6] == [
        report_pb2.SECTION_ID_OVERVIEW,
        report_pb2.SECTION_ID_PROACTIVE,
        report_pb2.SECTION_ID_REQUESTS,
        report_pb2.SECTION_ID_REVIEW_LITIGATION,
        report_pb2.SECTION_ID_PROBLEMS,
        report_pb2.SECTION_ID_OTHER_MATTERS,
    ]
    src = rep.source
    assert src.sha256 == hashlib.sha256(data).hexdigest()
    assert src.encoding.upper().replace("-", "") == "UTF8"
    assert src.layout == report_pb2.INPUT_LAYOUT_PIPE_CELLS
    assert src.label == CLEAN
    assert src.url == "https://example.invalid/000"

    # Diagnostics with spans: the README's odd row （五）1 has six cells for seven columns.
    assert result.diagnostics, "000 has a short row: a diagnostic is expected"
    decoded = data.decode("utf-8")
    encoded = decoded.encode("utf-8")
    lines = decoded.split("\n")
    for d in result.diagnostics:
        assert d.code and d.code[0] in "PN", d
        assert d.severity != report_pb2.SEVERITY_UNSPECIFIED, d
        assert d.message and d.message_en, d
    short_row = [
        d for d in result.diagnostics
        if any(p.startswith("requests.not_processed_complaint.") for p in d.field_paths)
    ]
    assert short_row, [d.code for d in result.diagnostics]
    span = short_row[0].span
    assert span.line >= 1 and span.column >= 1
    assert span.byte_end > span.byte_start
    assert span.byte_end <= len(encoded)
    # The span's line/column and byte offset name the same place in the decoded text.
    line_start = sum(len(l.encode("utf-8")) + 1 for l in lines[: span.line - 1])
    col_bytes = len(lines[span.line - 1][: span.column - 1].encode("utf-8"))
    assert line_start + col_bytes == span.byte_start, (span, line_start, col_bytes)

    # Cell locations: sorted by field path, each inside the text.
    paths = [c.field_path for c in result.cell_locations]
    assert paths == sorted(paths)
    assert "requests.new_received.total" in paths
    for c in result.cell_locations:
        assert 0 <= c.span.byte_start < c.span.byte_end <= len(encoded), c
    loc = next(c for c in result.cell_locations if c.field_path == "requests.new_received.total")
    assert encoded[loc.span.byte_start : loc.span.byte_end].decode("utf-8").strip() == "110"


def test_parse_report_gbk_detected(validator):
    """009_gbk.txt is 009 in GB18030 with no charset hint: detected, same cells."""
    gbk = validator.ParseReport(
        service_pb2.ParseReportRequest(text=text("009_gbk.txt")), timeout=30
    ).result.report
    utf8 = validator.ParseReport(
        service_pb2.ParseReportRequest(text=text("009_pingtan_jingjifazhanju_2022.txt")), timeout=30
    ).result.report
    assert gbk.source.encoding.upper() in ("GB18030", "GBK"), gbk.source.encoding
    assert gbk.agency.name == utf8.agency.name
    assert gbk.year == utf8.year == 2022
    assert gbk.requests == utf8.requests


def test_parse_report_without_content_is_invalid_argument(validator):
    rich = expect_error(
        lambda: validator.ParseReport(
            service_pb2.ParseReportRequest(text=service_pb2.PublishedText()), timeout=10
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert "text.content" in rich.violated_fields


def test_parse_report_unknown_charset_is_invalid_argument(validator):
    rich = expect_error(
        lambda: validator.ParseReport(
            service_pb2.ParseReportRequest(text=text(CLEAN, charset="no-such-charset")), timeout=10
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert "text.charset" in rich.violated_fields


def _check_result_consistency(result, catalogue_size):
    sev = [f.severity for f in result.findings]
    assert result.errors == sev.count(report_pb2.SEVERITY_ERROR)
    assert result.warnings == sev.count(report_pb2.SEVERITY_WARNING)
    assert result.infos == sev.count(report_pb2.SEVERITY_INFO)
    outcomes = [r.outcome for r in result.rules]
    assert result.rules_passed == outcomes.count(validation_pb2.RULE_OUTCOME_PASSED)
    assert result.rules_failed == outcomes.count(validation_pb2.RULE_OUTCOME_FAILED)
    assert result.rules_incomplete == outcomes.count(validation_pb2.RULE_OUTCOME_INCOMPLETE)
    assert result.rules_not_applicable == outcomes.count(validation_pb2.RULE_OUTCOME_NOT_APPLICABLE)
    # "Per rule of the catalogue, what happened": one RuleResult per catalogue rule.
    assert len(result.rules) == catalogue_size
    assert result.rule_set_version
    for f in result.findings:
        assert f.code, f
        assert f.severity != report_pb2.SEVERITY_UNSPECIFIED, f
        assert f.message and f.message_en, f
        assert f.fingerprint, f


def _catalogue(validator):
    return validator.ListRules(service_pb2.ListRulesRequest(), timeout=10)


def test_validate_text_with_errors_is_ok(validator):
    """002 fails sum check (c): status OK, the findings are the answer."""
    resp = validator.ValidateReport(
        service_pb2.ValidateReportRequest(text=text("002_pingtan_2020.txt")), timeout=30
    )
    result = resp.result
    cat = _catalogue(validator)
    _check_result_consistency(result, len(cat.rules))
    assert result.rule_set_version == cat.rule_set_version
    assert result.errors > 0 and result.rules_failed > 0
    errors = [f for f in result.findings if f.severity == report_pb2.SEVERITY_ERROR]
    for f in errors:
        assert f.field_paths, f
        for p in f.field_paths:
            assert p.split(".")[0] in ("requests", "proactive", "review_litigation", "agency",
                                       "overview", "problems", "other_matters", "year",
                                       "publication_date", "sections_found", "title",
                                       "preamble", "fee_statement", "format_version"), p
    # Rule findings from text carry source locations of their cells.
    rule_codes = {r.code for r in cat.rules}
    located = [f for f in errors if f.code in rule_codes and f.locations]
    assert located, "findings of a text input should carry cell locations"
    # At least one arithmetic finding states expected against actual.
    assert any(f.comparisons for f in errors), errors
    assert resp.report.year == 2020 and resp.report.format_version == report_pb2.FORMAT_VERSION_V2019


def test_validate_clean_text(validator):
    resp = validator.ValidateReport(
        service_pb2.ValidateReportRequest(text=text(CLEAN)), timeout=30
    )
    result = resp.result
    _check_result_consistency(result, len(_catalogue(validator).rules))
    assert result.errors == 0, [f.code for f in result.findings]
    assert result.rules_passed > 0
    assert resp.report.year == 2023


def test_validate_entity(validator):
    """An AnnualReport entity, as a records platform holds it, with an error planted."""
    entity = validator.ParseReport(
        service_pb2.ParseReportRequest(text=text(CLEAN)), timeout=30
    ).result.report
    ok = validator.ValidateReport(service_pb2.ValidateReportRequest(report=entity), timeout=30)
    cat = _catalogue(validator)
    _check_result_consistency(ok.result, len(cat.rules))
    assert ok.result.errors == 0
    assert ok.report == entity or ok.report.requests == entity.requests

    entity.requests.new_received.total = 999  # breaks the balance and the column sum
    bad = validator.ValidateReport(service_pb2.ValidateReportRequest(report=entity), timeout=30)
    _check_result_consistency(bad.result, len(cat.rules))
    assert bad.result.errors > 0
    involved = [
        f for f in bad.result.findings
        if f.severity == report_pb2.SEVERITY_ERROR and "requests.new_received.total" in f.field_paths
    ]
    assert involved, [(f.code, list(f.field_paths)) for f in bad.result.findings]
    assert all(f.code in {r.code for r in cat.rules} for f in involved)


def test_validate_previous_year_runs_cross_year_rules(validator):
    cat = _catalogue(validator)
    cross = {r.code for r in cat.rules if r.category == "cross_year"}
    assert cross, "the catalogue has cross_year rules"
    prev = validator.ParseReport(
        service_pb2.ParseReportRequest(text=text("003_pingtan_2021.txt")), timeout=30
    ).result.report
    cur = service_pb2.ValidateReportRequest(text=text("004_pingtan_2022.txt"))
    alone = validator.ValidateReport(cur, timeout=30).result
    with_prev = validator.ValidateReport(
        service_pb2.ValidateReportRequest(text=text("004_pingtan_2022.txt"), previous=prev),
        timeout=30,
    ).result
    na = validation_pb2.RULE_OUTCOME_NOT_APPLICABLE
    alone_cross = {r.code: r.outcome for r in alone.rules if r.code in cross}
    prev_cross = {r.code: r.outcome for r in with_prev.rules if r.code in cross}
    # X6 and X7 read the report alone; the others need the previous year: without it
    # they do not apply, with it they run.
    need_prev = {c for c, o in alone_cross.items() if o == na}
    assert "X1" in need_prev, alone_cross
    assert {c for c in need_prev if prev_cross[c] != na}, (alone_cross, prev_cross)


def test_validate_without_input_is_invalid_argument(validator):
    rich = expect_error(
        lambda: validator.ValidateReport(service_pb2.ValidateReportRequest(), timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert "input" in rich.violated_fields


def test_list_rules(validator):
    cat = _catalogue(validator)
    assert cat.rule_set_version
    codes = [r.code for r in cat.rules]
    assert len(codes) == len(set(codes)), "rule codes are unique"
    assert "A1" in codes
    for r in cat.rules:
        assert r.code and r.title and r.title_en and r.description, r
        assert r.severity != report_pb2.SEVERITY_UNSPECIFIED, r
        assert r.basis != validation_pb2.RULE_BASIS_UNSPECIFIED, r
        assert r.category in {"arithmetic", "cross_year", "structure", "deadline", "narrative"}, r
        # rule basis HEURISTIC: "can legitimately fail: never an ERROR".
        if r.basis == validation_pb2.RULE_BASIS_HEURISTIC:
            assert r.severity != report_pb2.SEVERITY_ERROR, r

    v2019 = validator.ListRules(
        service_pb2.ListRulesRequest(format_version=report_pb2.FORMAT_VERSION_V2019), timeout=10
    )
    assert 0 < len(v2019.rules) <= len(cat.rules)
    for r in v2019.rules:
        assert not r.versions or report_pb2.FORMAT_VERSION_V2019 in r.versions, r
    # Every rule that names V2019 (or no version) is in the V2019 list.
    expected = {r.code for r in cat.rules if not r.versions or report_pb2.FORMAT_VERSION_V2019 in r.versions}
    assert {r.code for r in v2019.rules} == expected


def test_list_rules_unknown_version_is_invalid_argument(validator):
    rich = expect_error(
        lambda: validator.ListRules(service_pb2.ListRulesRequest(format_version=77), timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert "format_version" in rich.violated_fields
