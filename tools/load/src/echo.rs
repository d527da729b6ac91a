//! The baseline: the echo service `nianbao.load.Echo/Echo` written by hand (one unary
//! method, one message with a `bytes` payload and a reply size, no layers), the
//! `echo-server` command that serves it with the nianbao server's transport settings,
//! in plaintext or over (mutual) TLS (`--tls-cert`, `--tls-key`, `--client-ca`: tonic's
//! server TLS, rustls with ring, as the nianbao server's acceptor), and the client's
//! call of it ([`echo_call`]).

use std::convert::Infallible;

use prost::bytes::Bytes;
use tonic::codegen::{http, BoxFuture, Context, Poll, Service, StdError};
use tonic::transport::{Certificate, Channel, Identity, ServerTlsConfig};
use tonic::{Request, Response, Status};

use crate::cli::EchoServerArgs;
use crate::net::{read, runtime, CONNECTION_WINDOW_BYTES, STREAM_WINDOW_BYTES};
use crate::Fallible;

/// The echo service's only message: a payload, and how many bytes to answer with.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoMessage {
    #[prost(bytes = "bytes", tag = "1")]
    pub payload: Bytes,
    /// 0: answer with the request's payload.
    #[prost(uint32, tag = "2")]
    pub reply_bytes: u32,
}

const ECHO_PATH: &str = "/nianbao.load.Echo/Echo";
/// Largest reply the echo server makes (a slice of one shared buffer: no work).
pub const ECHO_MAX_REPLY: usize = 4 * 1024 * 1024;

/// `nianbao.load.Echo`, written by hand: one unary method, no layers.
#[derive(Clone)]
struct EchoService {
    filler: Bytes,
}

impl tonic::server::NamedService for EchoService {
    const NAME: &'static str = "nianbao.load.Echo";
}

/// The method: the request's payload back, or `reply_bytes` of the shared filler.
struct EchoUnary(Bytes);

impl tonic::server::UnaryService<EchoMessage> for EchoUnary {
    type Response = EchoMessage;
    type Future = std::future::Ready<Result<Response<EchoMessage>, Status>>;

    fn call(&mut self, request: Request<EchoMessage>) -> Self::Future {
        let m = request.into_inner();
        let payload = match m.reply_bytes as usize {
            0 => m.payload,
            n => self.0.slice(..n.min(self.0.len())),
        };
        std::future::ready(Ok(Response::new(EchoMessage {
            payload,
            reply_bytes: 0,
        })))
    }
}

impl<B> Service<http::Request<B>> for EchoService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != ECHO_PATH {
            return Box::pin(async {
                Ok(Status::unimplemented("only nianbao.load.Echo/Echo").into_http())
            });
        }
        let method = EchoUnary(self.filler.clone());
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<EchoMessage, EchoMessage>::default();
            let mut grpc = tonic::server::Grpc::new(codec);
            Ok(grpc.unary(method, req).await)
        })
    }
}

/// `echo-server`: serves [`EchoService`] until interrupted.
pub fn echo_server(args: EchoServerArgs) -> Fallible<()> {
    let tls = server_tls(&args)?;
    let rt = runtime(args.threads)?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the local address: {e}"))?;
        let over = match (&tls, &args.client_ca) {
            (None, _) => "plaintext",
            (Some(_), None) => "TLS",
            (Some(_), Some(_)) => "mutual TLS",
        };
        eprintln!("echo server on {local} ({ECHO_PATH}, {over})");
        serve(listener, tls, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })
}

/// The TLS of `--tls-cert`, `--tls-key` and `--client-ca`: `None` (plaintext) without
/// a certificate.
fn server_tls(args: &EchoServerArgs) -> Fallible<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
    if let Some(ca) = &args.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(Some(config))
}

/// Serves [`EchoService`] on `listener` (over TLS with `tls`) until `shutdown`.
async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<ServerTlsConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Fallible<()> {
    let service = EchoService {
        filler: Bytes::from(vec![b'x'; ECHO_MAX_REPLY]),
    };
    // The transport settings the nianbao server asks for; none of its layers.
    // (`Server::tcp_nodelay` only applies to a listener tonic binds itself: with
    // an incoming stream the stream must set it.)
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(config) = tls {
        builder = builder
            .tls_config(config)
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
    }
    builder
        .max_concurrent_streams(256)
        .initial_stream_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| format!("the echo server failed: {e}"))
}

/// One call of the echo method on `channel` (the `echo` scenario).
pub async fn echo_call(
    channel: Channel,
    message: EchoMessage,
) -> Result<Response<EchoMessage>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<EchoMessage, EchoMessage>::default();
    grpc.unary(
        Request::new(message),
        http::uri::PathAndQuery::from_static(ECHO_PATH),
        codec,
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic::server::UnaryService;

    use super::*;

    fn echo(filler: &'static [u8], payload: &'static [u8], reply_bytes: u32) -> Bytes {
        let mut method = EchoUnary(Bytes::from_static(filler));
        let request = Request::new(EchoMessage {
            payload: Bytes::from_static(payload),
            reply_bytes,
        });
        let response = method.call(request).into_inner().unwrap().into_inner();
        assert_eq!(response.reply_bytes, 0);
        response.payload
    }

    #[test]
    fn the_payload_comes_back_without_a_reply_size() {
        assert_eq!(echo(b"xxxx", b"hello", 0), Bytes::from_static(b"hello"));
    }

    #[test]
    fn a_reply_size_answers_with_that_much_filler() {
        assert_eq!(echo(b"xxxxxxxx", b"hello", 3), Bytes::from_static(b"xxx"));
    }

    #[test]
    fn replies_stop_at_the_filler() {
        assert_eq!(echo(b"xxxx", b"", 1_000), Bytes::from_static(b"xxxx"));
    }

    #[tokio::test]
    async fn other_methods_are_unimplemented() {
        let mut service = EchoService {
            filler: Bytes::new(),
        };
        let request = http::Request::builder()
            .uri("/nianbao.v1.ReportRegistry/GetReport")
            .body(tonic::body::Body::empty())
            .unwrap();
        let response = service.call(request).await.unwrap();
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files
    /// in `dir`: (ca, server cert, server key, client cert, client key).
    fn certificates(dir: &std::path::Path) -> [std::path::PathBuf; 5] {
        use rcgen::{
            BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
            SanType,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |server: bool| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.extended_key_usages = vec![if server {
                ExtendedKeyUsagePurpose::ServerAuth
            } else {
                ExtendedKeyUsagePurpose::ClientAuth
            }];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(true);
        let (client_cert, client_key) = leaf(false);
        let files = [
            ("ca.pem", ca_pem),
            ("server.pem", server_cert),
            ("server.key", server_key),
            ("client.pem", client_cert),
            ("client.key", client_key),
        ];
        files.map(|(name, pem)| {
            let path = dir.join(name);
            std::fs::write(&path, pem).unwrap();
            path
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_echo_over_mutual_tls_answers_a_tls_client_only_with_a_certificate() {
        use crate::cli::ClientTlsArgs;
        use crate::net::{client_tls, connect};

        let dir =
            std::env::temp_dir().join(format!("nianbao-load-echo-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let [ca, server_cert, server_key, client_cert, client_key] = certificates(&dir);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tls = server_tls(&EchoServerArgs {
            addr,
            threads: None,
            tls_cert: Some(server_cert),
            tls_key: Some(server_key),
            client_ca: Some(ca.clone()),
        })
        .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, tls, async {
            let _ = stopped.await;
        }));

        let call = |args: ClientTlsArgs| async move {
            let config = client_tls(&args).unwrap();
            let channel = connect(&addr.to_string(), Duration::from_secs(30), config.as_ref())
                .await
                .map_err(Status::unavailable)?;
            let message = EchoMessage {
                payload: Bytes::new(),
                reply_bytes: 100,
            };
            echo_call(channel, message).await
        };
        let guard = Duration::from_secs(120);
        let mutual = ClientTlsArgs {
            tls_ca: Some(ca.clone()),
            tls_cert: Some(client_cert),
            tls_key: Some(client_key),
            tls_domain: None,
        };
        let answer = tokio::time::timeout(guard, call(mutual)).await.unwrap();
        assert_eq!(answer.unwrap().into_inner().payload.len(), 100);
        // Without a client certificate the handshake, or the call, is refused.
        let server_only = ClientTlsArgs {
            tls_ca: Some(ca),
            ..ClientTlsArgs::default()
        };
        let refused = tokio::time::timeout(guard, call(server_only))
            .await
            .unwrap();
        assert!(refused.is_err());
        // A plaintext client is not answered either.
        let plain = tokio::time::timeout(guard, call(ClientTlsArgs::default()))
            .await
            .unwrap();
        assert!(plain.is_err());

        let _ = stop.send(());
        tokio::time::timeout(guard, server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
