//! PLACEHOLDER (replaced by the audit branch).
use crate::store::AuditEntry;
#[derive(Clone, Debug, Default)]
pub struct AuditLog;
impl AuditLog {
    pub fn record(&self, entry: AuditEntry) {
        tracing::info!(target: "audit", ?entry, "audit");
    }
}
