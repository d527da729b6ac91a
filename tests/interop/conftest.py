"""Fixtures of the interop suite: stubs generated from proto/ at test time, channels to
the running servers, the corpus, and helpers to decode google.rpc rich error details.

The servers are started by run.sh, which exports:
  NIANBAO_INTEROP_ADDR        host:port of a server with the default limits
  NIANBAO_INTEROP_SMALL_ADDR  host:port of a server started with a tiny --max-request-bytes
  NIANBAO_INTEROP_SMALL_LIMIT that limit, in bytes
  NIANBAO_INTEROP_SLOW_ADDR   host:port of a server started with --request-timeout-secs 1
  NIANBAO_INTEROP_GEN         where to generate the stubs (default: a temp dir)
  NIANBAO_INTEROP_CORPUS      the corpus (default: tests/corpus in the repository)

and, for the pass over mutual TLS (every server then requires a client certificate):
  NIANBAO_INTEROP_TLS_DIR     a directory made by `nianbao pki init`: ca.pem and
                              clients/<id>.pem|.key
  NIANBAO_INTEROP_IDENTITY    the client id whose certificate the suite presents (the
                              identity the server records as submitter)
"""

from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import uuid

import grpc
import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROTO_DIR = REPO / "proto"
CORPUS = pathlib.Path(os.environ.get("NIANBAO_INTEROP_CORPUS", REPO / "tests" / "corpus"))

# The client accepts responses as large as the server may send (--max-response-bytes).
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", -1),
]


def _generate_stubs() -> pathlib.Path:
    """Generates the Python stubs from proto/ with grpc_tools.protoc, into a temp dir."""
    out = os.environ.get("NIANBAO_INTEROP_GEN")
    if out:
        gen = pathlib.Path(out)
        if gen.exists():
            shutil.rmtree(gen)
        gen.mkdir(parents=True)
    else:
        gen = pathlib.Path(tempfile.mkdtemp(prefix="nianbao-interop-gen-"))
        atexit.register(shutil.rmtree, gen, ignore_errors=True)
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    assert protos, f"no .proto files under {PROTO_DIR}"
    # `python -m grpc_tools.protoc` adds grpc_tools' bundled include path (well-known
    # types such as google/protobuf/timestamp.proto) itself.
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={gen}",
        f"--pyi_out={gen}",
        f"--grpc_python_out={gen}",
        *protos,
    ]
    done = subprocess.run(cmd, cwd=PROTO_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return gen


GEN_DIR = _generate_stubs()
sys.path.insert(0, str(GEN_DIR))

# Imported only after generation: these modules exist only in GEN_DIR.
from nianbao.v1 import service_pb2, service_pb2_grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402


def _addr(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.exit(f"{var} is not set: run tests/interop/run.sh, which starts the servers", 2)
    return value


@pytest.fixture(scope="session")
def addr() -> str:
    return _addr("NIANBAO_INTEROP_ADDR")


TLS_DIR = os.environ.get("NIANBAO_INTEROP_TLS_DIR")
IDENTITY = os.environ.get("NIANBAO_INTEROP_IDENTITY", "interop")


def tls_credentials(client: str | None = IDENTITY) -> grpc.ChannelCredentials:
    """The suite's CA and, unless `client` is None, that client's certificate."""
    assert TLS_DIR, "NIANBAO_INTEROP_TLS_DIR is not set: run tests/interop/run.sh"
    tls = pathlib.Path(TLS_DIR)
    root = (tls / "ca.pem").read_bytes()
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=(tls / "clients" / f"{client}.key").read_bytes(),
        certificate_chain=(tls / "clients" / f"{client}.pem").read_bytes(),
    )


def open_channel(target: str, options=None, **kw) -> grpc.Channel:
    """A channel to a server of the suite: over mutual TLS in the TLS pass, else
    plaintext."""
    options = CHANNEL_OPTIONS if options is None else options
    if TLS_DIR:
        return grpc.secure_channel(target, tls_credentials(), options=options, **kw)
    return grpc.insecure_channel(target, options=options, **kw)


def recorded_submitter(declared: str) -> str:
    """Who the server records as submitter: the certificate's identity over mutual TLS
    (`x-nianbao-submitter` is then ignored), else the declared name."""
    return IDENTITY if TLS_DIR else declared


def _channel(target: str, **kw) -> grpc.Channel:
    ch = open_channel(target, **kw)
    grpc.channel_ready_future(ch).result(timeout=30)
    return ch


@pytest.fixture(scope="session")
def channel(addr):
    ch = _channel(addr)
    yield ch
    ch.close()


@pytest.fixture(scope="session")
def small_channel():
    ch = _channel(_addr("NIANBAO_INTEROP_SMALL_ADDR"))
    yield ch
    ch.close()


@pytest.fixture(scope="session")
def small_limit() -> int:
    return int(_addr("NIANBAO_INTEROP_SMALL_LIMIT"))


@pytest.fixture(scope="session")
def validator(channel):
    return service_pb2_grpc.ReportValidatorStub(channel)


@pytest.fixture(scope="session")
def registry(channel):
    return service_pb2_grpc.ReportRegistryStub(channel)


@pytest.fixture
def uid(request) -> str:
    """A fresh agency id (`[a-z0-9-]{1,63}`) so that each test owns its reports."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())
    stem = stem.replace("test-", "").strip("-")[:40].strip("-")
    return f"it-{stem}-{uuid.uuid4().hex[:8]}"


def corpus_bytes(name: str) -> bytes:
    path = CORPUS / name
    assert path.is_file(), f"corpus file {path} is missing"
    return path.read_bytes()


def text(name: str, **kw):
    return service_pb2.PublishedText(content=corpus_bytes(name), label=name, **kw)


# ------------------------------------------------------------------ rich error details

class Rich:
    """The google.rpc.Status of a failed call, its details unpacked by type."""

    def __init__(self, err: grpc.RpcError):
        self.code = err.code()
        self.message = err.details()
        # from_call raises ValueError when grpc-status-details-bin disagrees with the
        # call's own code or message: that would be a server bug too.
        self.status = rpc_status.from_call(err)
        self.error_info = None
        self.bad_request = None
        self.precondition_failure = None
        self.resource_info = None
        self.types = []
        if self.status is not None:
            assert self.status.code == self.code.value[0], (self.status.code, self.code)
            for any_ in self.status.details:
                self.types.append(any_.type_url.rsplit("/", 1)[-1])
                for attr, cls in (
                    ("error_info", error_details_pb2.ErrorInfo),
                    ("bad_request", error_details_pb2.BadRequest),
                    ("precondition_failure", error_details_pb2.PreconditionFailure),
                    ("resource_info", error_details_pb2.ResourceInfo),
                ):
                    if any_.Is(cls.DESCRIPTOR):
                        msg = cls()
                        any_.Unpack(msg)
                        setattr(self, attr, msg)

    @property
    def reason(self):
        return self.error_info.reason if self.error_info else None

    @property
    def violated_fields(self):
        if not self.bad_request:
            return []
        return [v.field for v in self.bad_request.field_violations]

    def __repr__(self):
        return f"<{self.code.name} {self.message!r} details={self.types} reason={self.reason}>"


def expect_error(fn, code: grpc.StatusCode, reason: str | None = None) -> Rich:
    """Calls fn, which must fail with `code`; returns its decoded details.

    Every nianbao error carries an ErrorInfo in the domain nianbao.v1 (service.proto
    header, status.rs): asserted here for every expected failure.
    """
    try:
        got = fn()
    except grpc.RpcError as err:
        rich = Rich(err)
    else:
        raise AssertionError(f"expected {code.name}, the call succeeded: {str(got)[:500]}")
    assert rich.code == code, f"expected {code.name}, got {rich!r}"
    assert rich.status is not None, f"{rich!r}: no grpc-status-details-bin (google.rpc.Status)"
    assert rich.error_info is not None, f"{rich!r}: no google.rpc.ErrorInfo detail"
    assert rich.error_info.domain == "nianbao.v1", rich.error_info
    if reason is not None:
        assert rich.reason == reason, f"expected ErrorInfo reason {reason}, got {rich!r}"
    return rich


# ------------------------------------------------------------------ a slow link


class SlowProxy:
    """A loopback TCP proxy that forwards client->server bytes at `rate` bytes/s (the
    other way at full speed): a caller on a slow link, whose request body takes longer
    to arrive than the server's own request timeout. Bounded: every connection ends
    when either side closes, and close() stops it all."""

    def __init__(self, target: str, rate: int):
        import socket
        import threading

        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._rate = rate
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.addr = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self):
        import socket
        import threading

        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            server = socket.create_connection(self._target)
            for src, dst, rate in ((client, server, self._rate), (server, client, None)):
                t = threading.Thread(target=self._pump, args=(src, dst, rate), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src, dst, rate):
        import time

        chunk = 4096
        src.settimeout(0.2)
        try:
            while not self._closed.is_set():
                try:
                    data = src.recv(chunk)
                except TimeoutError:
                    continue
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self._closed.set()
        self._listener.close()
        for t in self._threads:
            t.join(timeout=2)


@pytest.fixture(scope="session")
def slow_addr() -> str:
    """A server started with --request-timeout-secs 1."""
    return _addr("NIANBAO_INTEROP_SLOW_ADDR")
