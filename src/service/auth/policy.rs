//! The access policy file (`serve --policy FILE`): who may call what, inside which
//! divisions, how often.
//!
//! ```toml
//! [defaults]
//! # Requests per second and burst of each caller, unless its entry says otherwise.
//! rate_per_second = 100
//! burst = 200
//!
//! [[caller]]
//! identity = "spiffe://gov.example/platform/jiangsu"
//! roles = ["submitter"]          # validator | reader | submitter | admin
//! read_scopes = ["32"]           # division-code prefixes; "" is national
//! write_scopes = ["3206"]
//! rate_per_second = 50           # optional
//! burst = 100                    # optional
//! ```
//!
//! A caller reads inside its read scopes and its write scopes together, and writes
//! inside its write scopes only. Unknown keys are errors (a misspelt `write_scope`
//! must not silently grant nothing, or everything).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use super::{Access, Role, Roles};
use crate::names::Scope;

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the access policy {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the access policy {} is not valid: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    caller: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    rate_per_second: Option<f64>,
    burst: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    identity: String,
    roles: Vec<String>,
    #[serde(default)]
    read_scopes: Vec<String>,
    #[serde(default)]
    write_scopes: Vec<String>,
    rate_per_second: Option<f64>,
    burst: Option<u32>,
}

/// What the policy grants one identity.
#[derive(Debug)]
pub struct Grant {
    pub roles: Roles,
    /// Where it reads: its read scopes and its write scopes.
    pub read: Arc<Scope>,
    /// Where it writes.
    pub write: Arc<Scope>,
    /// Its rate limit; `None`: unlimited.
    pub limiter: Option<DefaultDirectRateLimiter>,
}

impl Grant {
    /// Whether the grant's roles allow a method of this kind.
    pub fn allows(&self, access: Access) -> bool {
        self.roles.allow(access)
    }
}

/// A loaded access policy: identity → grant.
#[derive(Debug, Default)]
pub struct Policy {
    grants: HashMap<String, Arc<Grant>>,
}

impl Policy {
    /// Reads and checks the policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse(&text).map_err(|detail| PolicyError::Invalid {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// Parses a policy; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut grants = HashMap::new();
        for (i, e) in file.caller.into_iter().enumerate() {
            let at = format!("caller #{} ({:?})", i + 1, e.identity);
            let identity = e.identity.trim().to_string();
            if identity.is_empty() {
                return Err(format!("{at}: `identity` is empty"));
            }
            if e.roles.is_empty() {
                return Err(format!(
                    "{at}: `roles` is empty (validator, reader, submitter or admin)"
                ));
            }
            let mut roles = Roles::default();
            for r in &e.roles {
                let role = Role::parse(r).ok_or_else(|| {
                    format!("{at}: unknown role {r:?} (validator, reader, submitter or admin)")
                })?;
                roles = roles.with(role);
            }
            let scope = |field: &str, v: &[String]| {
                Scope::new(v).map_err(|e| format!("{at}: `{field}`: {e}"))
            };
            let write = scope("write_scopes", &e.write_scopes)?;
            let read = scope("read_scopes", &e.read_scopes)?.union(&write);
            // A caller's own rate comes with its own burst (default: the rate).
            let (rate, burst) = match e.rate_per_second {
                Some(rate) => (Some(rate), e.burst),
                None => (
                    file.defaults.rate_per_second,
                    e.burst.or(file.defaults.burst),
                ),
            };
            let limiter = quota(rate, burst)
                .map_err(|d| format!("{at}: {d}"))?
                .map(RateLimiter::direct);
            let grant = Grant {
                roles,
                read: Arc::new(read),
                write: Arc::new(write),
                limiter,
            };
            if grants.insert(identity, Arc::new(grant)).is_some() {
                return Err(format!("{at}: this identity is listed twice"));
            }
        }
        Ok(Policy { grants })
    }

    /// The grant of `identity`, if the policy knows it.
    pub fn grant(&self, identity: &str) -> Option<&Arc<Grant>> {
        self.grants.get(identity)
    }

    /// How many identities the policy lists.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether the policy lists nobody.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

/// A rate (requests per second, fractions allowed: 0.5 is one every two seconds) and
/// a burst as a quota; no rate: unlimited. The burst defaults to the rate, rounded up.
fn quota(rate: Option<f64>, burst: Option<u32>) -> Result<Option<Quota>, String> {
    let Some(rate) = rate else {
        return match burst {
            Some(_) => Err("`burst` without `rate_per_second`".into()),
            None => Ok(None),
        };
    };
    // One request a day at the least, a million a second at the most.
    if !(rate.is_finite() && (1.0 / 86_400.0..=1e6).contains(&rate)) {
        return Err(format!(
            "`rate_per_second` is between 0.0000116 (one a day) and 1000000, not {rate} (leave it out for no limit)"
        ));
    }
    let burst = match burst {
        // In range: at most 1e6.
        None => NonZeroU32::new(rate.ceil() as u32).unwrap_or(NonZeroU32::MIN),
        Some(b) => NonZeroU32::new(b).ok_or("`burst` is at least 1")?,
    };
    let period = Duration::from_secs_f64(1.0 / rate);
    let quota = Quota::with_period(period).ok_or("the rate is too high")?;
    Ok(Some(quota.allow_burst(burst)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[defaults]
rate_per_second = 100
burst = 200

[[caller]]
identity = "spiffe://gov.example/platform/jiangsu"
roles = ["submitter"]
read_scopes = ["32"]
write_scopes = ["3206"]

[[caller]]
identity = "checker"
roles = ["validator", "reader"]
read_scopes = [""]

[[caller]]
identity = "ops"
roles = ["admin"]
write_scopes = [""]
rate_per_second = 5
"#;

    #[test]
    fn a_policy_grants_roles_and_scopes() {
        let p = Policy::parse(SAMPLE).unwrap();
        assert_eq!(p.len(), 3);
        let slow = Policy::parse(
            "[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]\nrate_per_second = 0.001\nburst = 2",
        )
        .unwrap();
        let slow = slow.grant("a").unwrap().limiter.as_ref().unwrap();
        assert_eq!((0..5).filter(|_| slow.check().is_ok()).count(), 2);
        let js = p.grant("spiffe://gov.example/platform/jiangsu").unwrap();
        assert!(js.allows(Access::Read) && js.allows(Access::Write));
        assert!(!js.allows(Access::Validate) && !js.allows(Access::Admin));
        assert!(js.read.contains(Some("320100")), "read scopes");
        assert!(js.write.contains(Some("320602")));
        assert!(!js.write.contains(Some("320100")), "writes only in 3206");
        let checker = p.grant("checker").unwrap();
        assert!(checker.allows(Access::Validate) && checker.allows(Access::Read));
        assert!(!checker.allows(Access::Write));
        assert!(checker.read.is_national() && checker.write.is_empty());
        let ops = p.grant("ops").unwrap();
        assert!(ops.read.is_national(), "write scopes are read scopes too");
        for a in [Access::Validate, Access::Read, Access::Write, Access::Admin] {
            assert!(ops.allows(a));
        }
        assert!(p.grant("nobody").is_none());
    }

    #[test]
    fn a_caller_over_its_rate_is_limited() {
        let p = Policy::parse(SAMPLE).unwrap();
        let ops = p.grant("ops").unwrap().limiter.as_ref().unwrap();
        let passed = (0..20).filter(|_| ops.check().is_ok()).count();
        assert_eq!(passed, 5, "burst defaults to the rate");
        let js = p.grant("spiffe://gov.example/platform/jiangsu").unwrap();
        let passed = (0..300)
            .filter(|_| js.limiter.as_ref().unwrap().check().is_ok())
            .count();
        assert_eq!(passed, 200, "the default burst");
    }

    #[test]
    fn mistakes_are_named() {
        for (text, says) in [
            ("[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]\nwrite_scope = [\"32\"]", "write_scope"),
            ("[[caller]]\nidentity = \"a\"\nroles = [\"owner\"]", "unknown role \"owner\""),
            ("[[caller]]\nidentity = \"a\"\nroles = []", "`roles` is empty"),
            ("[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]\nread_scopes = [\"3x\"]", "read_scopes"),
            ("[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]\n[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]", "listed twice"),
            ("[[caller]]\nidentity = \" \"\nroles = [\"reader\"]", "`identity` is empty"),
            ("[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]\nrate_per_second = 0", "between"),
            ("[[caller]]\nidentity = \"a\"\nroles = [\"reader\"]\nburst = 3", "without `rate_per_second`"),
            ("[[caller]\n", "line 1"),
        ] {
            let e = Policy::parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
