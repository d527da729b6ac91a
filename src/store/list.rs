//! Listing: filters, index choice, stable order and page tokens.

use std::hash::Hasher;
use std::ops::{Bound, ControlFlow};

use fnv::FnvHasher;

use pbjson_types::Timestamp;

use crate::names::{AgencyId, ReportName, Scope};
use crate::pb::{ReportRevision, ReportSummary};

use super::keys::{self, Index, DIVISION_LEN};
use super::records::{decode, HeadRecord};
use super::{Store, StoreError};

/// Which reports [`Store::list`] returns. Every field set must match (and).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Report year.
    pub year: Option<i32>,
    /// 1 to 6 digits the division code starts with: `32` a province, `3206` a city,
    /// `320602` a county. Reports without a valid 6-digit code never match.
    pub division_prefix: Option<String>,
    pub agency: Option<AgencyId>,
    /// `FormatVersion` of the latest revision.
    pub format_version: Option<i32>,
    /// Whether the latest revision has ERROR findings.
    pub has_errors: Option<bool>,
    /// Also list withdrawn reports.
    pub include_withdrawn: bool,
    /// Only reports inside this scope (the caller's read scope); `None`: every report.
    pub within: Option<Scope>,
}

impl ListFilter {
    fn check(&self) -> Result<(), StoreError> {
        if let Some(p) = &self.division_prefix {
            if p.is_empty() || p.len() > DIVISION_LEN || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StoreError::InvalidArgument(format!(
                    "a division prefix is 1 to 6 digits, not {}",
                    crate::names::echo(p)
                )));
            }
        }
        Ok(())
    }

    /// Listing in division order (division code, then name) rather than name order.
    fn division_order(&self) -> bool {
        self.division_prefix.is_some()
    }

    /// 64-bit FNV-1a of the filter's canonical encoding; page tokens carry it.
    fn fingerprint(&self) -> u64 {
        let mut h = FnvHasher::default();
        match self.year {
            Some(y) => {
                h.write(&[1]);
                h.write(&y.to_be_bytes());
            }
            None => h.write(&[0]),
        }
        for text in [
            self.division_prefix.as_deref(),
            self.agency.as_ref().map(AgencyId::as_str),
        ] {
            match text {
                // At most 63 bytes (checked in `check`, and by `AgencyId`).
                Some(t) => {
                    h.write(&[1, t.len() as u8]);
                    h.write(t.as_bytes());
                }
                None => h.write(&[0]),
            }
        }
        match self.format_version {
            Some(v) => {
                h.write(&[1]);
                h.write(&v.to_be_bytes());
            }
            None => h.write(&[0]),
        }
        h.write(&[match self.has_errors {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        }]);
        h.write(&[u8::from(self.include_withdrawn)]);
        // Without a scope nothing is written, so that tokens from before scopes existed
        // keep their fingerprint.
        if let Some(scope) = &self.within {
            h.write(&[1, scope.prefixes().len().min(255) as u8]);
            for p in scope.prefixes() {
                // At most 6 digits (checked by `Scope::new`).
                h.write(&[p.len() as u8]);
                h.write(p.as_bytes());
            }
        }
        h.finish()
    }

    fn matches(&self, name: &ReportName, head: &HeadRecord) -> bool {
        self.year.is_none_or(|y| y == name.year)
            && self.agency.as_ref().is_none_or(|a| *a == name.agency)
            && self.division_prefix.as_deref().is_none_or(|p| {
                keys::division_bytes(head.division_code.as_deref())
                    .is_some_and(|d| d.starts_with(p.as_bytes()))
            })
            && self.format_version.is_none_or(|v| v == head.format_version)
            && self.has_errors.is_none_or(|e| e == head.has_errors)
            && (self.include_withdrawn || head.withdrawal().is_none())
            && self
                .within
                .as_ref()
                .is_none_or(|s| s.contains(head.division_code.as_deref()))
    }

    /// The position of a report in this filter's order.
    fn order_key(&self, name_key: &[u8], head: &HeadRecord) -> Vec<u8> {
        if self.division_order() {
            // Only reports with a valid code match a division filter.
            let div = keys::division_bytes(head.division_code.as_deref()).unwrap_or([b'0'; 6]);
            [&div[..], name_key].concat()
        } else {
            name_key.to_vec()
        }
    }

    /// Checks that `key` is a position of this filter's order.
    fn valid_order_key(&self, key: &[u8]) -> bool {
        if self.division_order() {
            key.len() > DIVISION_LEN
                && keys::division_bytes(std::str::from_utf8(&key[..DIVISION_LEN]).ok()).is_some()
                && keys::parse_name_key(&key[DIVISION_LEN..]).is_some()
        } else {
            keys::parse_name_key(key).is_some()
        }
    }
}

/// A position in a listing: where the next page starts. Opaque; it travels as a
/// URL-safe token ([`ListCursor::to_token`]) and is only valid with the filter that
/// produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    fingerprint: u64,
    key: Vec<u8>,
}

const TOKEN_VERSION: u8 = 1;
/// Version, fingerprint, longest order key (6 + 63 + 1 + 4), checksum.
const MAX_TOKEN_BYTES: usize = 1 + 8 + 74 + 4;

impl ListCursor {
    /// The cursor as a URL-safe string (lower-case hex, with a version and checksum).
    pub fn to_token(&self) -> String {
        let mut b = Vec::with_capacity(13 + self.key.len());
        b.push(TOKEN_VERSION);
        b.extend_from_slice(&self.fingerprint.to_be_bytes());
        b.extend_from_slice(&self.key);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        hex::encode(b)
    }

    /// Parses a token made by [`ListCursor::to_token`]; anything else is
    /// [`StoreError::InvalidCursor`].
    pub fn from_token(token: &str) -> Result<ListCursor, StoreError> {
        let bad = |why: &str| StoreError::InvalidCursor(why.to_string());
        if !token.len().is_multiple_of(2)
            || token.len() > 2 * MAX_TOKEN_BYTES
            || token.len() < 2 * 14
        {
            return Err(bad("it has the wrong length"));
        }
        // Lower case only: one token per position.
        let lower_hex = token
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        let b = hex::decode(token)
            .ok()
            .filter(|_| lower_hex)
            .ok_or_else(|| bad("it is not lower-case hex"))?;
        let (body, crc) = b.split_at(b.len() - 4);
        if crc32fast::hash(body).to_be_bytes() != crc {
            return Err(bad("its checksum does not match (damaged or made up)"));
        }
        if body[0] != TOKEN_VERSION {
            return Err(bad("it is from an unknown token version"));
        }
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&body[1..9]);
        Ok(ListCursor {
            fingerprint: u64::from_be_bytes(fp),
            key: body[9..].to_vec(),
        })
    }
}

/// One report in a listing: its name and the attributes of its latest revision, read
/// without decoding the revision.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedReport {
    /// Agency id and year.
    pub name: ReportName,
    pub agency_name: String,
    pub division_code: Option<String>,
    pub format_version: i32,
    pub latest_revision: u32,
    pub revision_count: u32,
    /// The report's current state etag.
    pub etag: String,
    pub has_errors: bool,
    pub errors: u32,
    pub warnings: u32,
    pub withdrawn: bool,
    /// Submit time of the latest revision.
    pub submit_time: Option<Timestamp>,
    /// The latest revision's numeric cells, encoded (`format::projection`).
    pub projection: Vec<u8>,
}

impl ListedReport {
    fn new(name: ReportName, head: HeadRecord) -> ListedReport {
        let state = head.state.unwrap_or_default();
        ListedReport {
            name,
            agency_name: head.agency_name,
            division_code: head.division_code,
            format_version: head.format_version,
            latest_revision: state.latest_revision,
            revision_count: state.revision_count,
            etag: state.etag,
            has_errors: head.has_errors,
            errors: head.errors,
            warnings: head.warnings,
            withdrawn: state.withdrawal.is_some(),
            submit_time: head.submit_time,
            projection: head.projection,
        }
    }

    /// The listed report as the API and the command line show it
    /// (`nianbao.v1.ReportSummary`).
    pub fn into_summary(self) -> ReportSummary {
        ReportSummary {
            name: self.name.to_string(),
            agency_id: self.name.agency.to_string(),
            agency_name: self.agency_name,
            year: self.name.year,
            division_code: self.division_code.unwrap_or_default(),
            format_version: self.format_version,
            latest_revision: self.latest_revision,
            etag: self.etag,
            has_errors: self.has_errors,
            errors: self.errors,
            warnings: self.warnings,
            withdrawn: self.withdrawn,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub items: Vec<ListedReport>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<ListCursor>,
}

/// How a listing finds its candidates.
enum Plan<'a> {
    /// `heads` under `agency ‖ 0x00`, sorted into the filter's order.
    Agency(&'a AgencyId),
    /// An index: entries under `fixed ‖ range`, order key = key after `fixed`.
    Index {
        ix: Index,
        fixed: Vec<u8>,
        range: Vec<u8>,
    },
    /// Every head, in name order.
    Heads,
}

impl Store {
    /// One page of at most `limit` reports matching `filter`, after `after` (a cursor
    /// from the previous page of the same filter). Order: by name (agency id, then
    /// year); with a division prefix, by division code, then name. `next` is `None` on the
    /// last page (the store looks one match ahead).
    ///
    /// The most selective index for the filter is scanned (agency > year + division >
    /// division > year > format version > has errors), the rest is checked on each
    /// report's head. Pages are not a snapshot: a report changed between pages may move.
    pub fn list(
        &self,
        filter: &ListFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        if limit == 0 {
            return Err(StoreError::InvalidArgument(
                "a page holds at least one report (limit 0)".into(),
            ));
        }
        let after = self.check_cursor(filter, after)?;
        let mut items = Vec::new();
        let mut last_key = Vec::new();
        let mut more = false;
        self.scan(filter, after, |key, listed| {
            if items.len() == limit {
                more = true;
                return ControlFlow::Break(());
            }
            items.push(listed);
            last_key = key.to_vec();
            ControlFlow::Continue(())
        })?;
        let next = more.then(|| ListCursor {
            fingerprint: filter.fingerprint(),
            key: last_key,
        });
        Ok(ListPage { items, next })
    }

    /// Calls `f` with the latest revision of every report matching `filter`, in listing
    /// order, until it breaks; returns how many it was called with. For export and
    /// aggregation.
    pub fn for_each_latest(
        &self,
        filter: &ListFilter,
        mut f: impl FnMut(ReportRevision) -> ControlFlow<()>,
    ) -> Result<u64, StoreError> {
        self.check_cursor(filter, None)?;
        let mut calls = 0u64;
        let mut err = None;
        self.scan(filter, None, |_, listed| {
            match self.get(&listed.name, Some(listed.latest_revision)) {
                Ok((rev, _)) => {
                    calls += 1;
                    f(rev)
                }
                Err(e) => {
                    err = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        match err {
            Some(e) => Err(e),
            None => Ok(calls),
        }
    }

    /// Calls `f` with every report matching `filter`, in listing order, without
    /// decoding revisions (aggregation reads [`ListedReport::projection`]). Returns
    /// how many reports `f` saw.
    pub fn for_each_listed(
        &self,
        filter: &ListFilter,
        mut f: impl FnMut(&ListedReport) -> ControlFlow<()>,
    ) -> Result<u64, StoreError> {
        self.check_cursor(filter, None)?;
        let mut calls = 0u64;
        self.scan(filter, None, |_, listed| {
            calls += 1;
            f(&listed)
        })?;
        Ok(calls)
    }

    fn check_cursor<'c>(
        &self,
        filter: &ListFilter,
        after: Option<&'c ListCursor>,
    ) -> Result<Option<&'c [u8]>, StoreError> {
        filter.check()?;
        let Some(c) = after else { return Ok(None) };
        if c.fingerprint != filter.fingerprint() {
            return Err(StoreError::InvalidCursor(
                "the token was issued for a different filter".into(),
            ));
        }
        if !filter.valid_order_key(&c.key) {
            return Err(StoreError::InvalidCursor(
                "it holds no position of this listing".into(),
            ));
        }
        Ok(Some(&c.key))
    }

    fn plan<'f>(&self, filter: &'f ListFilter) -> Plan<'f> {
        let div = filter.division_prefix.as_deref().map(str::as_bytes);
        if let Some(a) = &filter.agency {
            return Plan::Agency(a);
        }
        match (filter.year, div) {
            (Some(y), Some(p)) => {
                let fixed = keys::i32_bytes(y).to_vec();
                let range = [&fixed[..], p].concat();
                return Plan::Index {
                    ix: Index::YearDivision,
                    fixed,
                    range,
                };
            }
            (None, Some(p)) => {
                return Plan::Index {
                    ix: Index::Division,
                    fixed: Vec::new(),
                    range: p.to_vec(),
                }
            }
            (Some(y), None) => {
                let fixed = keys::i32_bytes(y).to_vec();
                return Plan::Index {
                    ix: Index::Year,
                    range: fixed.clone(),
                    fixed,
                };
            }
            (None, None) => {}
        }
        if let Some(v) = filter.format_version {
            let fixed = keys::i32_bytes(v).to_vec();
            return Plan::Index {
                ix: Index::Format,
                range: fixed.clone(),
                fixed,
            };
        }
        // Reports without errors are most of them: reading every head is cheaper than
        // following the index to them.
        if filter.has_errors == Some(true) {
            return Plan::Index {
                ix: Index::Errors,
                fixed: vec![1],
                range: vec![1],
            };
        }
        Plan::Heads
    }

    /// Visits the reports matching `filter` after order key `after`, in order, with
    /// their order keys.
    fn scan(
        &self,
        filter: &ListFilter,
        after: Option<&[u8]>,
        mut f: impl FnMut(&[u8], ListedReport) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let trees = &self.inner.trees;
        let sled_err = |e| StoreError::sled("listing reports", e);
        match self.plan(filter) {
            Plan::Agency(agency) => {
                let mut found = Vec::new();
                for kv in trees.heads.scan_prefix(keys::agency_prefix(agency)) {
                    let (k, v) = kv.map_err(sled_err)?;
                    let name = keys::parse_name_key(&k).ok_or_else(|| {
                        StoreError::corrupt(format!("a malformed key {k:?} in tree heads"))
                    })?;
                    let head: HeadRecord = decode(&v, "report head")?;
                    if filter.matches(&name, &head) {
                        found.push((filter.order_key(&k, &head), name, head));
                    }
                }
                found.sort_by(|a, b| a.0.cmp(&b.0));
                for (key, name, head) in found {
                    if after.is_some_and(|a| key.as_slice() <= a) {
                        continue;
                    }
                    if f(&key, ListedReport::new(name, head)).is_break() {
                        break;
                    }
                }
            }
            Plan::Heads => {
                let iter = match after {
                    Some(a) => trees
                        .heads
                        .range::<&[u8], _>((Bound::Excluded(a), Bound::Unbounded)),
                    None => trees.heads.iter(),
                };
                for kv in iter {
                    let (k, v) = kv.map_err(sled_err)?;
                    let name = keys::parse_name_key(&k).ok_or_else(|| {
                        StoreError::corrupt(format!("a malformed key {k:?} in tree heads"))
                    })?;
                    let head: HeadRecord = decode(&v, "report head")?;
                    if filter.matches(&name, &head)
                        && f(&k, ListedReport::new(name, head)).is_break()
                    {
                        break;
                    }
                }
            }
            Plan::Index { ix, fixed, range } => {
                let tree = trees.index(ix);
                let start = match after {
                    Some(a) => Bound::Excluded([&fixed[..], a].concat()),
                    None => Bound::Included(range.clone()),
                };
                for kv in tree.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
                    let (k, _) = kv.map_err(sled_err)?;
                    if !k.starts_with(&range) {
                        break;
                    }
                    let key = &k[fixed.len()..];
                    let nk = if matches!(ix, Index::Division | Index::YearDivision) {
                        key.get(DIVISION_LEN..).unwrap_or_default()
                    } else {
                        key
                    };
                    let Some(name) = keys::parse_name_key(nk) else {
                        tracing::warn!(tree = ix.tree_name(), key = ?k, "malformed index entry skipped; run fsck");
                        continue;
                    };
                    let Some(head) = trees.heads.get(nk).map_err(sled_err)? else {
                        tracing::warn!(tree = ix.tree_name(), %name, "index entry without a head skipped; run fsck");
                        continue;
                    };
                    let head: HeadRecord = decode(&head, "report head")?;
                    // The head is checked against the whole filter: it may have changed
                    // since the index entry was read.
                    if filter.matches(&name, &head)
                        && filter.order_key(nk, &head) == key
                        && f(key, ListedReport::new(name, head)).is_break()
                    {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Page tokens handed out before keep working: the filter's fingerprint and the
    /// token's encoding are fixed.
    #[test]
    fn tokens_keep_their_encoding() {
        let filter = ListFilter {
            year: Some(2023),
            division_prefix: Some("3206".into()),
            agency: AgencyId::parse("pingtan").ok(),
            format_version: Some(2),
            has_errors: Some(true),
            include_withdrawn: true,
            within: None,
        };
        let cursor = ListCursor {
            fingerprint: filter.fingerprint(),
            key: b"320602pingtan\x00\x00\x07\xe7".to_vec(),
        };
        assert_eq!(
            format!("{:016x}", ListFilter::default().fingerprint()),
            "d7e4fcfa299d713d"
        );
        assert_eq!(
            cursor.to_token(),
            "0144af8a9ee44bd2c933323036303270696e6774616e000007e7e61ea4c1"
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let c = ListCursor {
            fingerprint: 0x0123_4567_89ab_cdef,
            key: keys::name_key(&"agencies/x/reports/2023".parse().unwrap()),
        };
        let t = c.to_token();
        assert!(
            t.bytes().all(|b| b.is_ascii_alphanumeric()),
            "URL-safe: {t}"
        );
        assert_eq!(ListCursor::from_token(&t).unwrap(), c);
        // Any single changed character is caught by the checksum or the hex check.
        for i in 0..t.len() {
            let mut s = t.clone().into_bytes();
            s[i] = if s[i] == b'0' { b'1' } else { b'0' };
            let s = String::from_utf8(s).unwrap();
            assert!(
                matches!(
                    ListCursor::from_token(&s),
                    Err(StoreError::InvalidCursor(_))
                ),
                "accepted a token changed at {i}"
            );
        }
        for bad in [
            "",
            "zz",
            "abc",
            &"00".repeat(200),
            "%%%%%%%%%%%%%%%%%%%%%%%%%%%%",
        ] {
            assert!(matches!(
                ListCursor::from_token(bad),
                Err(StoreError::InvalidCursor(_))
            ));
        }
        assert!(ListCursor::from_token(&t.to_uppercase()).is_err());
    }

    #[test]
    fn fingerprints_tell_filters_apart() {
        let base = ListFilter::default();
        let variants = [
            ListFilter {
                year: Some(2023),
                ..base.clone()
            },
            ListFilter {
                division_prefix: Some("32".into()),
                ..base.clone()
            },
            ListFilter {
                division_prefix: Some("320".into()),
                ..base.clone()
            },
            ListFilter {
                agency: Some(AgencyId::parse("x").unwrap()),
                ..base.clone()
            },
            ListFilter {
                format_version: Some(3),
                ..base.clone()
            },
            ListFilter {
                has_errors: Some(false),
                ..base.clone()
            },
            ListFilter {
                has_errors: Some(true),
                ..base.clone()
            },
            ListFilter {
                include_withdrawn: true,
                ..base.clone()
            },
        ];
        let mut seen = vec![base.fingerprint()];
        for v in &variants {
            let fp = v.fingerprint();
            assert!(!seen.contains(&fp), "{v:?} collides");
            seen.push(fp);
        }
    }

    #[test]
    fn division_prefixes_are_checked() {
        for bad in ["", "3a", "3206021", "三二"] {
            let f = ListFilter {
                division_prefix: Some(bad.into()),
                ..Default::default()
            };
            assert!(
                matches!(f.check(), Err(StoreError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
        let f = ListFilter {
            division_prefix: Some("32".into()),
            ..Default::default()
        };
        assert!(f.check().is_ok());
        let nk = keys::name_key(&"agencies/x/reports/2023".parse().unwrap());
        assert!(!f.valid_order_key(&nk));
        assert!(f.valid_order_key(&[&b"320602"[..], &nk].concat()));
        assert!(ListFilter::default().valid_order_key(&nk));
    }
}
