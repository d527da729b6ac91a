//! The trust boundary: who the caller is, what it may call, where it may read and
//! write, how often, and the audit record each call leaves.
//!
//! [`AuthLayer`] (in `layer.rs`) runs in front of every service on every transport,
//! before any handler: it takes the caller's identity (from its client certificate; in
//! plaintext mode from `x-nianbao-submitter`), looks it up in the access [`Policy`],
//! checks the method against its roles, its rate and the server's in-flight limit,
//! and hands the handlers a typed [`Caller`] with its read and write [`Scope`]s, which
//! they pass to the store so that nothing outside the scopes is read or written.
//! Health and reflection are open to every caller and not audited.

mod layer;
pub mod policy;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub use layer::{AuthLayer, Gate};
pub use policy::{Policy, PolicyError};

use super::status::{reason, ApiError};
use crate::names::Scope;
use crate::store::AuditEntry;

/// What kind of method a call is, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Health checks and reflection: open to everyone, not audited.
    Open,
    /// `ReportValidator`: stateless parsing and validation.
    Validate,
    /// Registry reads: Get, List, revisions, Export, Watch, Aggregate.
    Read,
    /// Registry writes: Submit, Withdraw.
    Write,
    /// Operations (`ReportAdmin`) and anything not listed here.
    Admin,
}

impl Access {
    /// The kind of the method at `path` (`/package.Service/Method`).
    pub fn of(path: &str) -> Access {
        const REGISTRY: &str = "/nianbao.v1.ReportRegistry/";
        if path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.") {
            Access::Open
        } else if path.starts_with("/nianbao.v1.ReportValidator/") {
            Access::Validate
        } else if let Some(method) = path.strip_prefix(REGISTRY) {
            match method {
                "SubmitReport" | "WithdrawReport" => Access::Write,
                "GetReport"
                | "ListReports"
                | "ListReportRevisions"
                | "ExportReports"
                | "WatchReports"
                | "AggregateReports" => Access::Read,
                _ => Access::Admin,
            }
        } else {
            Access::Admin
        }
    }
}

/// A role of the access policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `ReportValidator` only.
    Validator,
    /// Registry reads.
    Reader,
    /// Registry reads and writes.
    Submitter,
    /// Everything.
    Admin,
}

impl Role {
    /// The role named `s` in a policy file.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "validator" => Role::Validator,
            "reader" => Role::Reader,
            "submitter" => Role::Submitter,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

    fn allows(self, access: Access) -> bool {
        match self {
            Role::Validator => matches!(access, Access::Validate),
            Role::Reader => matches!(access, Access::Read),
            Role::Submitter => matches!(access, Access::Read | Access::Write),
            Role::Admin => true,
        }
    }
}

/// The roles of one caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    validator: bool,
    reader: bool,
    submitter: bool,
    admin: bool,
}

impl Roles {
    /// These roles and `role`.
    pub fn with(mut self, role: Role) -> Roles {
        match role {
            Role::Validator => self.validator = true,
            Role::Reader => self.reader = true,
            Role::Submitter => self.submitter = true,
            Role::Admin => self.admin = true,
        }
        self
    }

    /// Whether any of the roles allows a method of kind `access`.
    pub fn allow(&self, access: Access) -> bool {
        access == Access::Open
            || [
                (self.validator, Role::Validator),
                (self.reader, Role::Reader),
                (self.submitter, Role::Submitter),
                (self.admin, Role::Admin),
            ]
            .iter()
            .any(|&(has, role)| has && role.allows(access))
    }
}

/// The authenticated, authorised caller of one call, as the handlers receive it (in
/// the request's extensions).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who: the certificate's identity, or in plaintext mode the declared name.
    pub identity: Arc<str>,
    /// Its address, as the audit trail records it.
    pub peer: Option<SocketAddr>,
    /// Reports it may see (shared with the policy's grant: no copy per call).
    pub read: Arc<Scope>,
    /// Reports it may submit and withdraw.
    pub write: Arc<Scope>,
    /// The method called (`/nianbao.v1.ReportRegistry/SubmitReport`).
    pub method: Arc<str>,
    note: Arc<Mutex<Note>>,
}

/// What a handler tells the audit trail about its call.
#[derive(Debug, Default)]
pub(crate) struct Note {
    /// Resource names the call touched.
    pub resources: Vec<String>,
    pub request_id: String,
    /// The call's record was committed with its write: the layer adds none.
    pub committed: bool,
}

impl Caller {
    pub(crate) fn new(
        identity: Arc<str>,
        peer: Option<SocketAddr>,
        read: Arc<Scope>,
        write: Arc<Scope>,
        method: Arc<str>,
    ) -> Caller {
        Caller {
            identity,
            peer,
            read,
            write,
            method,
            note: Arc::default(),
        }
    }

    /// The caller of `request`, put there by [`AuthLayer`]. A server built without
    /// the layer has no callers: every call is refused.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, ApiError> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated {
                reason: reason::IDENTITY_REQUIRED,
                message:
                    "no authenticated caller: this server was built without its authorisation layer"
                        .into(),
            })
    }

    /// Names a resource the call touches (for the audit record).
    pub fn touches(&self, resource: impl Into<String>) {
        self.with_note(|n| n.resources.push(resource.into()));
    }

    /// Records the call's request id (for the audit record).
    pub fn request_id(&self, id: &str) {
        self.with_note(|n| n.request_id = id.to_string());
    }

    /// The audit record of this call, to be committed with its write (outcome OK).
    pub fn write_record(&self) -> AuditEntry {
        let note = self.note.lock().unwrap_or_else(|e| e.into_inner());
        AuditEntry {
            time: SystemTime::now(),
            identity: self.identity.to_string(),
            peer: self.peer.map(|p| p.to_string()).unwrap_or_default(),
            method: self.method.to_string(),
            resources: note.resources.clone(),
            request_id: note.request_id.clone(),
            code: 0,
            reason: String::new(),
        }
    }

    /// The write's record was committed with it: the layer must not add another.
    pub fn committed(&self) {
        self.with_note(|n| n.committed = true);
    }

    fn with_note(&self, f: impl FnOnce(&mut Note)) {
        f(&mut self.note.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub(crate) fn note(&self) -> &Arc<Mutex<Note>> {
        &self.note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_classified_by_path() {
        for (path, access) in [
            ("/grpc.health.v1.Health/Check", Access::Open),
            (
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                Access::Open,
            ),
            (
                "/nianbao.v1.ReportValidator/ValidateReport",
                Access::Validate,
            ),
            ("/nianbao.v1.ReportRegistry/GetReport", Access::Read),
            ("/nianbao.v1.ReportRegistry/WatchReports", Access::Read),
            ("/nianbao.v1.ReportRegistry/SubmitReport", Access::Write),
            ("/nianbao.v1.ReportRegistry/WithdrawReport", Access::Write),
            ("/nianbao.v1.ReportRegistry/Unheard", Access::Admin),
            ("/nianbao.v1.ReportAdmin/ExportAuditRecords", Access::Admin),
            ("/other.Service/Method", Access::Admin),
        ] {
            assert_eq!(Access::of(path), access, "{path}");
        }
    }

    #[test]
    fn roles_nest_as_documented() {
        let only = |r| Roles::default().with(r);
        let table = [
            (Role::Validator, [true, false, false, false]),
            (Role::Reader, [false, true, false, false]),
            (Role::Submitter, [false, true, true, false]),
            (Role::Admin, [true, true, true, true]),
        ];
        for (role, allowed) in table {
            let got = [Access::Validate, Access::Read, Access::Write, Access::Admin]
                .map(|a| only(role).allow(a));
            assert_eq!(got, allowed, "{role:?}");
            assert!(only(role).allow(Access::Open));
        }
        assert!(!Roles::default().allow(Access::Read));
        let both = only(Role::Validator).with(Role::Reader);
        assert!(both.allow(Access::Validate) && both.allow(Access::Read));
    }
}
