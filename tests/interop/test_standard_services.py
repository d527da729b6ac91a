"""grpc.health.v1 and server reflection (v1 and v1alpha), as stock tools use them."""

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

SERVICES = ["nianbao.v1.ReportRegistry", "nianbao.v1.ReportValidator"]


@pytest.mark.parametrize("service", ["", *SERVICES])
def test_health_serving(channel, service):
    health = health_pb2_grpc.HealthStub(channel)
    resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_health_unknown_service_is_not_found(channel):
    health = health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.RpcError) as e:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_streams_serving(channel):
    health = health_pb2_grpc.HealthStub(channel)
    call = health.Watch(
        health_pb2.HealthCheckRequest(service="nianbao.v1.ReportRegistry"), timeout=10
    )
    first = next(call)
    call.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING


def _reflect(channel, method_path, request):
    """One ServerReflectionInfo exchange. v1 and v1alpha have the same messages, only
    the service name differs, so the v1alpha message classes serve for both."""
    call = channel.stream_stream(
        method_path,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    responses = list(call(iter([request]), timeout=10))
    assert len(responses) == 1
    return responses[0]


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_lists_services(channel, version):
    resp = _reflect(
        channel,
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        reflection_pb2.ServerReflectionRequest(list_services=""),
    )
    assert resp.WhichOneof("message_response") == "list_services_response", resp
    names = {s.name for s in resp.list_services_response.service}
    for s in SERVICES + ["grpc.health.v1.Health"]:
        assert s in names, f"{s} not listed by reflection {version}: {sorted(names)}"


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_file_containing_symbol(channel, version):
    resp = _reflect(
        channel,
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="nianbao.v1.ReportRegistry"),
    )
    assert resp.WhichOneof("message_response") == "file_descriptor_response", resp
    assert resp.file_descriptor_response.file_descriptor_proto


def test_reflection_resolves_the_whole_schema(channel):
    """What grpcurl does: build a descriptor pool from reflection alone, dependencies
    (google/protobuf/timestamp.proto) included, and find every method's types."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    registry = pool.FindServiceByName("nianbao.v1.ReportRegistry")
    methods = {m.name: m for m in registry.methods}
    assert set(methods) >= {
        "SubmitReport",
        "GetReport",
        "ListReports",
        "ListReportRevisions",
        "WithdrawReport",
        "AggregateReports",
        "ExportReports",
        "WatchReports",
    }
    assert methods["WatchReports"].server_streaming
    assert methods["ExportReports"].server_streaming
    assert not methods["GetReport"].server_streaming
    validator = pool.FindServiceByName("nianbao.v1.ReportValidator")
    assert {m.name for m in validator.methods} >= {"ParseReport", "ValidateReport", "ListRules"}
    revision = pool.FindMessageTypeByName("nianbao.v1.ReportRevision")
    assert revision.fields_by_name["submit_time"].message_type.full_name == (
        "google.protobuf.Timestamp"
    )


def test_rpc_naming(channel):
    """Every RPC is <Rpc>Request -> <Rpc>Response (buf's STANDARD naming, checked
    here over reflection, as a caller sees it)."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    seen = 0
    for service in SERVICES:
        for m in pool.FindServiceByName(service).methods:
            seen += 1
            assert not m.client_streaming, m.full_name
            assert m.input_type.full_name == f"nianbao.v1.{m.name}Request", m.full_name
            assert m.output_type.full_name == f"nianbao.v1.{m.name}Response", m.full_name
    assert seen >= 11
