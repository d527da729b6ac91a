//! The baseline: the echo service `nianbao.load.Echo/Echo` written by hand (one unary
//! method, one message with a `bytes` payload and a reply size, no layers), the
//! `echo-server` command that serves it with the nianbao server's transport settings,
//! and the client's call of it ([`echo_call`]).

use std::convert::Infallible;

use prost::bytes::Bytes;
use tonic::codegen::{http, BoxFuture, Context, Poll, Service, StdError};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::cli::EchoServerArgs;
use crate::net::{runtime, CONNECTION_WINDOW_BYTES, STREAM_WINDOW_BYTES};
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
    let rt = runtime(args.threads)?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the local address: {e}"))?;
        eprintln!("echo server on {local} ({ECHO_PATH})");
        let service = EchoService {
            filler: Bytes::from(vec![b'x'; ECHO_MAX_REPLY]),
        };
        // The transport settings the nianbao server asks for; none of its layers.
        // (`Server::tcp_nodelay` only applies to a listener tonic binds itself: with
        // an incoming stream the stream must set it.)
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .max_concurrent_streams(256)
            .initial_stream_window_size(STREAM_WINDOW_BYTES)
            .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| format!("the echo server failed: {e}"))
    })
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
}
