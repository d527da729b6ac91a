//! Scopes: sets of administrative divisions, written as division-code prefixes.
//!
//! A division code (行政区划代码, GB/T 2260) has six digits: two for the province, two
//! for the city, two for the county. A prefix names every division under it: `32` is
//! Jiangsu province, `3206` the city of Nantong, `320602` one of its districts, and the
//! empty prefix the whole country. A report is inside a scope when its agency's division
//! code starts with one of the scope's prefixes; a report without a valid six-digit
//! code is inside the national scope only.

use std::fmt;

/// Longest prefix: a whole division code.
const DIVISION_LEN: usize = 6;

/// A prefix that is not 0 to 6 ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a division-code prefix is 0 to 6 digits (\"\" national, \"32\" a province, \"3206\" a city), not {}",
    super::echo(.0)
)]
pub struct ScopeError(pub String);

/// A set of divisions as division-code prefixes, kept minimal: no prefix lies under
/// another, and the national scope is the one empty prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Scope {
    prefixes: Vec<String>,
}

impl Scope {
    /// The whole country: every report, with a division code or without.
    pub fn national() -> Scope {
        Scope {
            prefixes: vec![String::new()],
        }
    }

    /// No division at all.
    pub fn none() -> Scope {
        Scope::default()
    }

    /// The divisions under any of `prefixes`.
    pub fn new<S: AsRef<str>>(prefixes: impl IntoIterator<Item = S>) -> Result<Scope, ScopeError> {
        let mut all = Vec::new();
        for p in prefixes {
            let p = p.as_ref().trim();
            if p.len() > DIVISION_LEN || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ScopeError(p.to_string()));
            }
            all.push(p.to_string());
        }
        Ok(Scope::minimal(all))
    }

    /// Sorted, without duplicates or prefixes lying under another one.
    fn minimal(mut all: Vec<String>) -> Scope {
        all.sort();
        all.dedup();
        let mut prefixes: Vec<String> = Vec::with_capacity(all.len());
        for p in all {
            // Sorted order puts a prefix right before everything under it.
            if prefixes.last().is_some_and(|q| p.starts_with(q.as_str())) {
                continue;
            }
            prefixes.push(p);
        }
        Scope { prefixes }
    }

    /// Both scopes' divisions.
    pub fn union(&self, other: &Scope) -> Scope {
        Scope::minimal(
            self.prefixes
                .iter()
                .chain(&other.prefixes)
                .cloned()
                .collect(),
        )
    }

    /// Whether this is the national scope.
    pub fn is_national(&self) -> bool {
        self.prefixes.first().is_some_and(String::is_empty)
    }

    /// Whether this scope holds no division.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// The prefixes, sorted (`[""]` for the national scope).
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// Whether a report whose agency has `division_code` lies inside this scope.
    pub fn contains(&self, division_code: Option<&str>) -> bool {
        if self.is_national() {
            return true;
        }
        let Some(code) = division_code
            .filter(|c| c.len() == DIVISION_LEN && c.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        self.prefixes.iter().any(|p| code.starts_with(p.as_str()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_national() {
            return f.write_str("national");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.prefixes.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_hold_the_divisions_under_them() {
        let jiangsu = Scope::new(["32"]).unwrap();
        assert!(jiangsu.contains(Some("320602")));
        assert!(!jiangsu.contains(Some("110101")));
        assert!(!jiangsu.contains(None), "no code: national only");
        assert!(!jiangsu.contains(Some("32")), "not a whole code");
        assert!(!jiangsu.contains(Some("32060x")));
        let nantong = Scope::new(["3206", "110101"]).unwrap();
        assert!(nantong.contains(Some("320602")));
        assert!(nantong.contains(Some("110101")));
        assert!(!nantong.contains(Some("320100")));
    }

    #[test]
    fn the_national_scope_holds_everything() {
        let national = Scope::new([""]).unwrap();
        assert!(national.is_national());
        assert!(national.contains(None));
        assert!(national.contains(Some("nonsense")));
        assert_eq!(national, Scope::national());
        assert_eq!(Scope::new(["32", "", "3206"]).unwrap(), Scope::national());
        assert!(!Scope::none().contains(None));
        assert!(!Scope::none().contains(Some("320602")));
    }

    #[test]
    fn scopes_are_kept_minimal() {
        let s = Scope::new(["3206", "32", "320602", "11"]).unwrap();
        assert_eq!(s.prefixes(), ["11", "32"]);
        let u = Scope::new(["3206"])
            .unwrap()
            .union(&Scope::new(["32"]).unwrap());
        assert_eq!(u.prefixes(), ["32"]);
        assert_eq!(s.to_string(), "11,32");
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["3a", "1234567", "-1"] {
            assert!(Scope::new([bad]).is_err(), "{bad}");
        }
    }
}
