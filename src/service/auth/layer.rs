//! [`AuthLayer`]: the tower layer in front of every service that authenticates,
//! authorises, rate-limits and audits each call before any handler runs.
//!
//! In plaintext mode a caller names itself in `x-nianbao-submitter`: at most
//! [`MAX_DECLARED_IDENTITY`] bytes of printable ASCII (space to `~`; spaces at either
//! end are dropped). Any other value is refused (INVALID_ARGUMENT, the header named as
//! the field) and audited like every refusal here, never replaced by the peer's
//! address. An identity appears in a message only through [`echo`] (a certificate's
//! identity can be long).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::SystemTime;

use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tonic::Status;
use tonic_types::StatusExt;

use super::{Access, Caller, Policy, PolicyError};
use crate::names::{echo, Scope};
use crate::service::audit::AuditLog;
use crate::service::registry::SUBMITTER_HEADER;
use crate::service::status::{reason, ApiError, OVERLOADED_RETRY};
use crate::service::transport::PeerInfo;
use crate::store::AuditEntry;

/// Longest declared identity (`x-nianbao-submitter`), in bytes.
const MAX_DECLARED_IDENTITY: usize = 256;

/// What every call goes through: the policy in force, the transport's kind and the
/// in-flight limit. Shared by the layer's copies; [`Gate::reload`] swaps the policy.
pub struct Gate {
    policy_path: Option<PathBuf>,
    /// `None`: no policy given, every caller may do everything (plaintext on loopback,
    /// the zero-configuration default).
    policy: RwLock<Option<Arc<Policy>>>,
    /// Identities come from client certificates; `x-nianbao-submitter` is ignored.
    tls: bool,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    audit: AuditLog,
}

impl Gate {
    /// A gate with the policy at `policy_path` (none: open), for a TLS or plaintext
    /// transport, admitting at most `max_in_flight` calls at once.
    pub fn new(
        policy_path: Option<PathBuf>,
        tls: bool,
        max_in_flight: usize,
        audit: AuditLog,
    ) -> Result<Gate, PolicyError> {
        let policy = match &policy_path {
            Some(path) => Some(Arc::new(Policy::load(path)?)),
            None => None,
        };
        let max_in_flight = max_in_flight.max(1);
        Ok(Gate {
            policy_path,
            policy: RwLock::new(policy),
            tls,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            audit,
        })
    }

    /// Reads the policy file again and puts it in force; on error the old one stays.
    /// Returns how many identities the new policy lists (`None` without a policy).
    pub fn reload(&self) -> Result<Option<usize>, PolicyError> {
        let Some(path) = &self.policy_path else {
            return Ok(None);
        };
        let policy = Policy::load(path)?;
        let n = policy.len();
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(policy));
        Ok(Some(n))
    }

    /// Whether a policy is in force.
    pub fn has_policy(&self) -> bool {
        self.policy_now().is_some()
    }

    fn policy_now(&self) -> Option<Arc<Policy>> {
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The caller's identity: its certificate's (TLS), else its declared name (none
    /// when the header is absent or blank; refused when malformed, see the module docs).
    fn identity(
        &self,
        request: &http::Request<Body>,
        peer: Option<&PeerInfo>,
    ) -> Result<Option<String>, ApiError> {
        if self.tls {
            return Ok(peer.and_then(|p| p.identity.clone()));
        }
        let Some(value) = request.headers().get(SUBMITTER_HEADER) else {
            return Ok(None);
        };
        declared_identity(value.as_bytes())
    }

    /// Lets the call in, with its caller and its in-flight permit, or says why not.
    fn admit(
        &self,
        access: Access,
        identity: Option<&str>,
        peer: Option<SocketAddr>,
        method: &Arc<str>,
    ) -> Result<(Caller, OwnedSemaphorePermit), ApiError> {
        let caller = match self.policy_now() {
            None => {
                let identity = match (identity, peer) {
                    (Some(i), _) => i.to_string(),
                    (None, Some(addr)) => format!("peer:{}", addr.ip()),
                    (None, None) => "anonymous".to_string(),
                };
                Caller::new(
                    identity.into(),
                    peer,
                    national(),
                    national(),
                    method.clone(),
                )
            }
            Some(policy) => {
                let Some(identity) = identity else {
                    return Err(ApiError::Unauthenticated {
                        reason: reason::IDENTITY_REQUIRED,
                        message: if self.tls {
                            "this server requires a client certificate that names the caller".into()
                        } else {
                            format!("this server requires the caller to name itself in `{SUBMITTER_HEADER}`")
                        },
                    });
                };
                let Some(grant) = policy.grant(identity) else {
                    return Err(ApiError::PermissionDenied {
                        reason: reason::UNKNOWN_CALLER,
                        message: format!(
                            "{} is not in the access policy; ask the registry's operators to add it",
                            echo(identity)
                        ),
                    });
                };
                if !grant.allows(access) {
                    return Err(ApiError::PermissionDenied {
                        reason: reason::METHOD_NOT_ALLOWED,
                        message: format!(
                            "{} may not call {method}: none of its roles allows it",
                            echo(identity)
                        ),
                    });
                }
                if let Some(limiter) = &grant.limiter {
                    if let Err(not_until) = limiter.check() {
                        let wait = not_until.wait_time_from(governor::clock::Clock::now(
                            &governor::clock::DefaultClock::default(),
                        ));
                        return Err(ApiError::RetryLater {
                            reason: reason::RATE_LIMITED,
                            message: format!(
                                "{} is over its request rate; retry in {} ms",
                                echo(identity),
                                wait.as_millis().max(1)
                            ),
                            retry_after: wait,
                        });
                    }
                }
                Caller::new(
                    identity.into(),
                    peer,
                    grant.read.clone(),
                    grant.write.clone(),
                    method.clone(),
                )
            }
        };
        let permit =
            self.in_flight
                .clone()
                .try_acquire_owned()
                .map_err(|_| ApiError::RetryLater {
                    reason: reason::OVERLOADED,
                    message: format!(
                        "the server is serving {} calls, its limit; retry shortly",
                        self.max_in_flight
                    ),
                    retry_after: OVERLOADED_RETRY,
                })?;
        Ok((caller, permit))
    }
}

/// The identity declared in `x-nianbao-submitter` (the header's bytes): `None` when
/// blank, refused when longer than [`MAX_DECLARED_IDENTITY`] or not printable ASCII.
fn declared_identity(value: &[u8]) -> Result<Option<String>, ApiError> {
    let refuse = |why: String| {
        Err(ApiError::field(
            SUBMITTER_HEADER,
            format!("{why}; name the caller in at most {MAX_DECLARED_IDENTITY} printable ASCII characters (space to ~)"),
        ))
    };
    if value.len() > MAX_DECLARED_IDENTITY {
        return refuse(format!("the header has {} bytes", value.len()));
    }
    if let Some(i) = value.iter().position(|b| !(0x20..0x7f).contains(b)) {
        let shown = String::from_utf8_lossy(value);
        return refuse(format!(
            "byte {} of {} is 0x{:02x}, not printable ASCII",
            i + 1,
            echo(&shown),
            value[i]
        ));
    }
    // Printable ASCII is UTF-8.
    let text = String::from_utf8_lossy(value);
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// The national scope, shared by every call of the open mode.
fn national() -> Arc<Scope> {
    static NATIONAL: std::sync::OnceLock<Arc<Scope>> = std::sync::OnceLock::new();
    NATIONAL.get_or_init(|| Arc::new(Scope::national())).clone()
}

/// The layer: wraps every service of the server in [`Auth`].
#[derive(Clone)]
pub struct AuthLayer {
    gate: Arc<Gate>,
}

impl AuthLayer {
    pub fn new(gate: Arc<Gate>) -> AuthLayer {
        AuthLayer { gate }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            gate: Arc::clone(&self.gate),
        }
    }
}

/// [`AuthLayer`]'s service.
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    gate: Arc<Gate>,
}

type BoxFuture<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Auth<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<http::Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The service that was polled ready serves this call (tower's clone-swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let access = Access::of(request.uri().path());
        if access == Access::Open {
            return Box::pin(inner.call(request));
        }
        let method: Arc<str> = request.uri().path().into();
        let peer_info = request.extensions().get::<PeerInfo>().cloned();
        let peer = peer_info.as_ref().and_then(|p| p.remote);
        let time = SystemTime::now();
        let request_id = request_id_of(&request);
        let (identity, admitted) = match self.gate.identity(&request, peer_info.as_ref()) {
            Ok(identity) => {
                let admitted = self.gate.admit(access, identity.as_deref(), peer, &method);
                (identity, admitted)
            }
            Err(refused) => (None, Err(refused)),
        };
        match admitted {
            Err(refused) => {
                let status = Status::from(refused);
                let entry = AuditEntry {
                    time,
                    identity: identity.unwrap_or_default(),
                    peer: peer.map(|p| p.to_string()).unwrap_or_default(),
                    method: method.to_string(),
                    resources: Vec::new(),
                    request_id,
                    code: status.code() as i32,
                    reason: reason_of(&status),
                };
                let audit = self.gate.audit.clone();
                Box::pin(async move {
                    audit.record(entry).await;
                    Ok(status.into_http())
                })
            }
            Ok((caller, permit)) => {
                let pending = Pending {
                    caller: caller.clone(),
                    time,
                    gate: Arc::clone(&self.gate),
                };
                request.extensions_mut().insert(caller);
                let call = inner.call(request);
                Box::pin(async move {
                    let response = call.await?;
                    drop(permit);
                    Ok(audited(response, pending))
                })
            }
        }
    }
}

/// A request id stated in metadata (`x-request-id`), for the audit record of a call
/// refused before its message was read.
fn request_id_of(request: &http::Request<Body>) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect())
        .unwrap_or_default()
}

fn reason_of(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The audit record of an admitted call, written when its outcome is known.
struct Pending {
    caller: Caller,
    time: SystemTime,
    gate: Arc<Gate>,
}

impl Pending {
    fn finish(self, status: Option<Status>) {
        let note = self.caller.note().lock().unwrap_or_else(|e| e.into_inner());
        let code = status.as_ref().map_or(0, |s| s.code() as i32);
        if note.committed && code == 0 {
            return;
        }
        let entry = AuditEntry {
            time: self.time,
            identity: self.caller.identity.to_string(),
            peer: self.caller.peer.map(|p| p.to_string()).unwrap_or_default(),
            method: self.caller.method.to_string(),
            resources: note.resources.clone(),
            request_id: note.request_id.clone(),
            code,
            reason: status.as_ref().map(reason_of).unwrap_or_default(),
        };
        drop(note);
        self.gate.audit.record_soon(entry);
    }
}

/// The response, its outcome recorded: at once when the status is in the headers (an
/// error), else when the body's trailers arrive, or when the body is dropped
/// unfinished (CANCELLED).
fn audited(response: http::Response<Body>, pending: Pending) -> http::Response<Body> {
    if let Some(status) = Status::from_header_map(response.headers()) {
        pending.finish((status.code() != tonic::Code::Ok).then_some(status));
        return response;
    }
    response.map(|body| {
        Body::new(Audited {
            body,
            pending: Some(pending),
        })
    })
}

struct Audited {
    body: Body,
    pending: Option<Pending>,
}

impl HttpBody for Audited {
    type Data = prost::bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let status =
                        Status::from_header_map(trailers).filter(|s| s.code() != tonic::Code::Ok);
                    if let Some(p) = self.pending.take() {
                        p.finish(status);
                    }
                }
            }
            Poll::Ready(Some(Err(status))) => {
                if let Some(p) = self.pending.take() {
                    p.finish(Some(status.clone()));
                }
            }
            Poll::Ready(None) => {
                if let Some(p) = self.pending.take() {
                    p.finish(None);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Audited {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            p.finish(Some(Status::cancelled(
                "the caller went away before the call ended",
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(policy: Option<&str>, tls: bool, max_in_flight: usize) -> (Gate, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = policy.map(|text| {
            let path = dir.path().join("policy.toml");
            std::fs::write(&path, text).expect("the policy file");
            path
        });
        let gate = Gate::new(path, tls, max_in_flight, AuditLog::start(None)).expect("a gate");
        (gate, dir)
    }

    fn method() -> Arc<str> {
        "/nianbao.v1.ReportRegistry/ListReports".into()
    }

    fn with_header(name: &str) -> http::Request<Body> {
        http::Request::builder()
            .header(SUBMITTER_HEADER, name)
            .body(Body::empty())
            .expect("a request")
    }

    #[tokio::test]
    async fn calls_past_the_in_flight_limit_are_shed_at_once() {
        let (gate, _dir) = gate(None, false, 2);
        let first = gate
            .admit(Access::Read, Some("a"), None, &method())
            .expect("one");
        let second = gate
            .admit(Access::Read, Some("b"), None, &method())
            .expect("two");
        let refused = gate
            .admit(Access::Read, Some("c"), None, &method())
            .expect_err("a third is shed");
        assert_eq!(refused.reason(), reason::OVERLOADED);
        assert!(matches!(refused, ApiError::RetryLater { .. }));
        drop(first);
        let third = gate.admit(Access::Read, Some("c"), None, &method());
        assert!(third.is_ok(), "a finished call frees its place");
        drop((second, third));
    }

    #[tokio::test]
    async fn the_header_names_the_caller_only_in_plaintext() {
        let request = with_header("platform-a");
        let peer = PeerInfo {
            remote: None,
            identity: Some("cert-identity".into()),
        };
        let (plain, _d1) = gate(None, false, 8);
        let identity = |g: &Gate, r: &http::Request<Body>, p: Option<&PeerInfo>| {
            g.identity(r, p).expect("a well-formed identity")
        };
        assert_eq!(
            identity(&plain, &request, None).as_deref(),
            Some("platform-a")
        );
        let (tls, _d2) = gate(None, true, 8);
        assert_eq!(
            identity(&tls, &request, Some(&peer)).as_deref(),
            Some("cert-identity")
        );
        assert_eq!(
            identity(&tls, &request, None),
            None,
            "no certificate, no identity"
        );
        // With TLS the header is not read at all, malformed or not.
        let long = with_header(&"x".repeat(MAX_DECLARED_IDENTITY + 1));
        assert_eq!(
            identity(&tls, &long, Some(&peer)).as_deref(),
            Some("cert-identity")
        );
        let bare = http::Request::builder()
            .body(Body::empty())
            .expect("a request");
        assert_eq!(identity(&plain, &bare, None), None);
        assert_eq!(identity(&plain, &with_header("  "), None), None);
        assert_eq!(
            identity(&plain, &with_header(" platform b "), None).as_deref(),
            Some("platform b")
        );
    }

    #[test]
    fn a_malformed_declared_identity_is_refused_naming_the_header() {
        let just_right = "x".repeat(MAX_DECLARED_IDENTITY);
        assert_eq!(
            declared_identity(just_right.as_bytes()).expect("256 bytes"),
            Some(just_right)
        );
        let long = "x".repeat(10_000);
        let bad: [&[u8]; 6] = [
            long.as_bytes(),
            &long.as_bytes()[..MAX_DECLARED_IDENTITY + 1],
            b"a\tb",
            b"a\x1b[31mb",
            b"a\x7f",
            "平台".as_bytes(),
        ];
        for value in bad {
            let refused = declared_identity(value).expect_err("malformed");
            let ApiError::InvalidArgument(v) = &refused else {
                panic!("{refused:?}");
            };
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].0, SUBMITTER_HEADER);
            assert!(v[0].1.len() < 300, "{}", v[0].1);
        }
        let bytes = b"caller\xff\xfe";
        assert!(declared_identity(bytes).is_err(), "not UTF-8");
    }

    #[tokio::test]
    async fn a_malformed_header_is_refused_and_audited_in_the_layer() {
        use tower::{Layer, Service, ServiceExt};
        let (gate, _dir) = gate(None, false, 8);
        let inner = tower::service_fn(|_: http::Request<Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
        });
        let gate = Arc::new(gate);
        let mut auth = AuthLayer::new(Arc::clone(&gate)).layer(inner);
        let request = http::Request::builder()
            .uri("/nianbao.v1.ReportRegistry/ListReports")
            .header(SUBMITTER_HEADER, "x".repeat(MAX_DECLARED_IDENTITY + 1))
            .body(Body::empty())
            .expect("a request");
        let response = auth
            .ready()
            .await
            .expect("ready")
            .call(request)
            .await
            .expect("a response");
        let status = Status::from_header_map(response.headers()).expect("a status");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some(reason::INVALID_ARGUMENT)
        );
        assert_eq!(
            details
                .bad_request()
                .map(|b| b.field_violations[0].field.as_str()),
            Some(SUBMITTER_HEADER)
        );
        assert_eq!(gate.audit.stats().unstored, 1, "the refusal is audited");
    }

    #[tokio::test]
    async fn the_policy_decides_and_a_reload_swaps_it() {
        let text = "[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]\nread_scopes = [\"32\"]\n";
        let (gate, dir) = gate(Some(text), true, 8);
        let no_identity = gate
            .admit(Access::Read, None, None, &method())
            .expect_err("none");
        assert_eq!(no_identity.reason(), reason::IDENTITY_REQUIRED);
        let unknown = gate
            .admit(Access::Read, Some("b"), None, &method())
            .expect_err("b");
        assert_eq!(unknown.reason(), reason::UNKNOWN_CALLER);
        let write = gate
            .admit(Access::Write, Some("a"), None, &method())
            .expect_err("w");
        assert_eq!(write.reason(), reason::METHOD_NOT_ALLOWED);
        let (caller, _permit) = gate
            .admit(Access::Read, Some("a"), None, &method())
            .expect("a");
        assert!(caller.read.contains(Some("320602")) && !caller.read.contains(Some("110101")));

        // A bad file keeps the old policy; a good one replaces it.
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, "[[caller]\n").expect("write");
        assert!(gate.reload().is_err());
        assert!(gate.admit(Access::Read, Some("a"), None, &method()).is_ok());
        std::fs::write(&path, text.replace("\"a\"", "\"b\"")).expect("write");
        assert_eq!(gate.reload().expect("reloaded"), Some(1));
        assert!(gate.admit(Access::Read, Some("b"), None, &method()).is_ok());
        let gone = gate
            .admit(Access::Read, Some("a"), None, &method())
            .expect_err("a");
        assert_eq!(gone.reason(), reason::UNKNOWN_CALLER);
    }
}
