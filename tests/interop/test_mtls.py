"""The trust boundary seen from grpcio over mutual TLS (run by run.sh in its TLS pass
only, against servers started with --tls-cert/--tls-key/--client-ca/--policy; the
policy is written by run.sh): who may connect, who may call what, and who is recorded.
"""

import grpc
import pytest

from conftest import CHANNEL_OPTIONS, IDENTITY, TLS_DIR, expect_error, tls_credentials
from nianbao.v1 import report_pb2, service_pb2, service_pb2_grpc

assert TLS_DIR, "test_mtls.py runs in run.sh's TLS pass (NIANBAO_INTEROP_TLS_DIR)"


def stub(addr, client):
    ch = grpc.secure_channel(addr, tls_credentials(client), options=CHANNEL_OPTIONS)
    return ch, service_pb2_grpc.ReportRegistryStub(ch)


def report(division):
    return report_pb2.AnnualReport(
        title="2023年政府信息公开工作年度报告",
        year=2023,
        format_version=report_pb2.FORMAT_VERSION_V2021,
        agency=report_pb2.Agency(name="互操作测试办公室", division_code=division),
    )


def test_a_caller_without_a_certificate_cannot_call(addr):
    with grpc.secure_channel(addr, tls_credentials(None), options=CHANNEL_OPTIONS) as ch:
        registry = service_pb2_grpc.ReportRegistryStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            registry.ListReports(service_pb2.ListReportsRequest(), timeout=10)
        # The handshake is refused: no gRPC status from the server.
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value


def test_a_certified_caller_not_in_the_policy_is_denied(addr):
    ch, registry = stub(addr, "stranger")
    with ch:
        expect_error(
            lambda: registry.ListReports(service_pb2.ListReportsRequest(), timeout=10),
            grpc.StatusCode.PERMISSION_DENIED,
            "UNKNOWN_CALLER",
        )


def test_roles_and_scopes(addr, uid):
    ch, reader = stub(addr, "reader-js")
    with ch:
        expect_error(
            lambda: reader.SubmitReport(
                service_pb2.SubmitReportRequest(report=report("320602"), agency_id=uid),
                timeout=30,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "METHOD_NOT_ALLOWED",
        )
        # The suite's own identity (admin) submits one report inside Jiangsu (32) and one
        # in Beijing (11); the Jiangsu reader sees the first, and the second not at all.
        ach, admin = stub(addr, IDENTITY)
        with ach:
            js = admin.SubmitReport(
                service_pb2.SubmitReportRequest(report=report("320602"), agency_id=f"{uid}-js"),
                timeout=30,
            ).revision.name
            bj = admin.SubmitReport(
                service_pb2.SubmitReportRequest(report=report("110101"), agency_id=f"{uid}-bj"),
                timeout=30,
            ).revision.name
        got = reader.GetReport(service_pb2.GetReportRequest(name=js), timeout=30)
        assert got.revision.name == js
        expect_error(
            lambda: reader.GetReport(service_pb2.GetReportRequest(name=bj), timeout=30),
            grpc.StatusCode.NOT_FOUND,
            "REPORT_NOT_FOUND",
        )
        listed = reader.ListReports(
            service_pb2.ListReportsRequest(
                filter=service_pb2.ReportFilter(agency_id=f"{uid}-bj")
            ),
            timeout=30,
        )
        assert list(listed.reports) == []


def test_the_certificate_names_the_submitter_not_the_header(registry, uid):
    rev = registry.SubmitReport(
        service_pb2.SubmitReportRequest(report=report("320602"), agency_id=uid),
        metadata=(("x-nianbao-submitter", "someone-else"),),
        timeout=30,
    ).revision
    assert rev.submitter == IDENTITY
