//! PLACEHOLDER (replaced by the audit branch).
use std::time::SystemTime;
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub time: SystemTime,
    pub identity: String,
    pub peer: String,
    pub method: String,
    pub resources: Vec<String>,
    pub request_id: String,
    pub code: i32,
    pub reason: String,
}
