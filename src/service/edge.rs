//! What happens to a request before and after the handlers: the deadline, and the
//! statuses the transport itself produces, rewritten into the contract's (a
//! canonical code, never INTERNAL for a caller's mistake, with `ErrorInfo`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::{Code, Status};

use super::status::{reason, ApiError};

/// Answers DEADLINE_EXCEEDED (with details) when a request's deadline passes: the
/// caller's `grpc-timeout`, or the server's default when the caller states none or
/// a longer one. (tonic's own timeout answers CANCELLED.) A stream's deadline
/// covers the time to its first response, not the stream's life.
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    pub default: Duration,
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            default: self.default,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    default: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for Deadline<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let limit = grpc_timeout(request.headers()).map_or(self.default, |t| t.min(self.default));
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(limit, response).await {
                Ok(r) => r,
                Err(_) => {
                    let status: Status = ApiError::DeadlineExceeded {
                        message: format!(
                            "the request's deadline ({} ms) passed before it was answered; a submit may or may not have been stored: retry with the same request_id",
                            limit.as_millis()
                        ),
                    }
                    .into();
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// The `grpc-timeout` header: up to 8 digits and a unit (H M S m u n).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Rewrites the statuses tonic answers before a handler runs, for a request too
/// large (OUT_OF_RANGE, or a decompression limit) or not a protobuf message
/// (INTERNAL), into the contract's: RESOURCE_EXHAUSTED / INVALID_ARGUMENT with
/// `ErrorInfo`. Statuses that already carry details are ours and left alone.
///
/// tonic gives these only as a code and a message (its codec and its decompression
/// make them; no typed error reaches a layer), so they are recognised by code and
/// wording. `tests/service.rs` (`the_transports_own_statuses_become_the_contracts`,
/// `oversize_requests_are_resource_exhausted`) drives each through the real
/// transport, so a tonic release that rewords one fails there, not in production.
pub fn caller_errors<B>(mut response: http::Response<B>, limit: usize) -> http::Response<B> {
    let headers = response.headers();
    if headers.contains_key("grpc-status-details-bin") {
        return response;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return response;
    };
    let message = status.message();
    let replacement: Status = match status.code() {
        Code::OutOfRange if message.contains("message length too large") => {
            too_large(limit, message)
        }
        Code::ResourceExhausted if message.contains("size limit") => too_large(limit, message),
        Code::Internal if message.contains("failed to decode Protobuf message") => ApiError::field(
            "request",
            format!("not a valid protobuf message of the method's request type: {message}"),
        )
        .into(),
        _ => return response,
    };
    let headers = response.headers_mut();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        headers.remove(name);
    }
    if replacement.add_header(headers).is_err() {
        tracing::warn!("could not rewrite a transport status");
    }
    response
}

fn too_large(limit: usize, detail: &str) -> Status {
    ApiError::ResourceExhausted {
        reason: reason::REQUEST_TOO_LARGE,
        message: format!(
            "the request is larger than the server's limit of {limit} bytes ({detail}); send a smaller report, or ask the operator to raise --max-request-bytes"
        ),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-timeout", v.parse().expect("a header value"));
        h
    }

    #[test]
    fn grpc_timeouts_are_read_by_unit() {
        assert_eq!(grpc_timeout(&headers("5S")), Some(Duration::from_secs(5)));
        assert_eq!(
            grpc_timeout(&headers("250m")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            grpc_timeout(&headers("2H")),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            grpc_timeout(&headers("99999999n")),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "123456789S", "5s", "-5S", "5 S"] {
            assert_eq!(grpc_timeout(&headers(bad)), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }

    #[test]
    fn transport_statuses_become_the_contracts() {
        let response = |s: Status| s.into_http::<tonic::body::Body>();
        let oversize = caller_errors(
            response(Status::out_of_range(
                "Error, decoded message length too large: found 9 bytes, the limit is: 4 bytes",
            )),
            4,
        );
        let s = Status::from_header_map(oversize.headers()).expect("a status");
        assert_eq!(s.code(), Code::ResourceExhausted);
        let garbage = caller_errors(
            response(Status::internal(
                "failed to decode Protobuf message: buffer underflow",
            )),
            4,
        );
        let s = Status::from_header_map(garbage.headers()).expect("a status");
        assert_eq!(s.code(), Code::InvalidArgument);
        // Anything else passes unchanged.
        let other = caller_errors(response(Status::internal("disk on fire")), 4);
        let s = Status::from_header_map(other.headers()).expect("a status");
        assert_eq!(s.code(), Code::Internal);
    }
}
