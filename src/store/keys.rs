//! Key encodings of every tree (the layouts are documented in the module docs of
//! [`crate::store`]). Integers are big-endian so that byte order is numeric order; signed
//! integers have their sign bit flipped so that negative values sort first.

use crate::names::{AgencyId, ReportName};

use super::records::HeadRecord;

/// Separates the agency id from the year in a name key. Agency ids are ASCII letters,
/// digits and `-`, never 0, so the name key of `a` sorts before that of `a-b` exactly as
/// `(agency, year)` tuples do.
pub(crate) const NAME_SEPARATOR: u8 = 0;

/// Length of a division code in index keys.
pub(crate) const DIVISION_LEN: usize = 6;

/// `i32` as 4 order-preserving bytes.
pub(crate) fn i32_bytes(v: i32) -> [u8; 4] {
    ((v as u32) ^ 0x8000_0000).to_be_bytes()
}

/// The inverse of [`i32_bytes`].
pub(crate) fn i32_from(b: [u8; 4]) -> i32 {
    (u32::from_be_bytes(b) ^ 0x8000_0000) as i32
}

/// `agency ‖ 0x00 ‖ i32_bytes(year)`.
pub(crate) fn name_key(name: &ReportName) -> Vec<u8> {
    let agency = name.agency.as_str().as_bytes();
    let mut k = Vec::with_capacity(agency.len() + 5);
    k.extend_from_slice(agency);
    k.push(NAME_SEPARATOR);
    k.extend_from_slice(&i32_bytes(name.year));
    k
}

/// The prefix shared by the name keys of every report of one agency.
pub(crate) fn agency_prefix(agency: &AgencyId) -> Vec<u8> {
    let mut k = agency.as_str().as_bytes().to_vec();
    k.push(NAME_SEPARATOR);
    k
}

/// Decodes a whole name key; `None` unless it is exactly one valid name.
pub(crate) fn parse_name_key(k: &[u8]) -> Option<ReportName> {
    let sep = k.iter().position(|&b| b == NAME_SEPARATOR)?;
    let (agency, rest) = (&k[..sep], &k[sep + 1..]);
    let year: [u8; 4] = rest.try_into().ok()?;
    let agency = AgencyId::parse_stored(std::str::from_utf8(agency).ok()?).ok()?;
    ReportName::new(agency, i32_from(year)).ok()
}

/// `name_key ‖ u32 BE revision` (trees `revisions` and `withdrawals`).
pub(crate) fn revision_key(name_key: &[u8], revision: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(name_key.len() + 4);
    k.extend_from_slice(name_key);
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

/// Splits a revision key into its name key and revision; `None` when malformed.
pub(crate) fn parse_revision_key(k: &[u8]) -> Option<(ReportName, &[u8], u32)> {
    if k.len() < 4 {
        return None;
    }
    let (nk, rev) = k.split_at(k.len() - 4);
    let name = parse_name_key(nk)?;
    let rev = u32::from_be_bytes(rev.try_into().ok()?);
    Some((name, nk, rev))
}

/// `u64 BE` sequence number (tree `changes`).
pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// `u64 BE micros since the epoch ‖ request id` (tree `idem_expiry`).
pub(crate) fn expiry_key(created_micros: u64, request_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + request_id.len());
    k.extend_from_slice(&created_micros.to_be_bytes());
    k.extend_from_slice(request_id.as_bytes());
    k
}

/// Splits an expiry key; `None` when malformed.
pub(crate) fn parse_expiry_key(k: &[u8]) -> Option<(u64, &str)> {
    if k.len() < 9 {
        return None;
    }
    let (t, id) = k.split_at(8);
    Some((
        u64::from_be_bytes(t.try_into().ok()?),
        std::str::from_utf8(id).ok()?,
    ))
}

/// The division code as index bytes: only a code of exactly six ASCII digits is indexed.
pub(crate) fn division_bytes(code: Option<&str>) -> Option<[u8; DIVISION_LEN]> {
    let code = code?;
    let b: [u8; DIVISION_LEN] = code.as_bytes().try_into().ok()?;
    b.iter().all(u8::is_ascii_digit).then_some(b)
}

/// The secondary indexes. Each entry's value is empty; its key ends with the name key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Index {
    /// `ix_year`: `i32_bytes(year) ‖ name_key`.
    Year,
    /// `ix_division`: `division(6 ASCII digits) ‖ name_key`.
    Division,
    /// `ix_year_division`: `i32_bytes(year) ‖ division ‖ name_key`.
    YearDivision,
    /// `ix_format`: `i32_bytes(format_version) ‖ name_key`.
    Format,
    /// `ix_errors`: `0x00 | 0x01 (has errors) ‖ name_key`.
    Errors,
}

impl Index {
    pub(crate) const ALL: [Index; 5] = [
        Index::Year,
        Index::Division,
        Index::YearDivision,
        Index::Format,
        Index::Errors,
    ];

    pub(crate) fn tree_name(self) -> &'static str {
        match self {
            Index::Year => "ix_year",
            Index::Division => "ix_division",
            Index::YearDivision => "ix_year_division",
            Index::Format => "ix_format",
            Index::Errors => "ix_errors",
        }
    }
}

/// Every index entry the head of `name` has (reports without a valid division code
/// have no `ix_division` / `ix_year_division` entries).
pub(crate) fn index_keys(name_key: &[u8], year: i32, head: &HeadRecord) -> Vec<(Index, Vec<u8>)> {
    let cat = |parts: &[&[u8]]| parts.concat();
    let year_b = i32_bytes(year);
    let mut out = vec![
        (Index::Year, cat(&[&year_b, name_key])),
        (
            Index::Format,
            cat(&[&i32_bytes(head.format_version), name_key]),
        ),
        (
            Index::Errors,
            cat(&[&[u8::from(head.has_errors)], name_key]),
        ),
    ];
    if let Some(div) = division_bytes(head.division_code.as_deref()) {
        out.push((Index::Division, cat(&[&div, name_key])));
        out.push((Index::YearDivision, cat(&[&year_b, &div, name_key])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ReportName {
        s.parse().unwrap()
    }

    #[test]
    fn i32_bytes_preserve_order_and_round_trip() {
        let values = [i32::MIN, -2024, -1, 0, 1, 2007, 2023, 2200, i32::MAX];
        for w in values.windows(2) {
            assert!(i32_bytes(w[0]) < i32_bytes(w[1]), "{} vs {}", w[0], w[1]);
        }
        for v in values {
            assert_eq!(i32_from(i32_bytes(v)), v);
        }
    }

    #[test]
    fn name_keys_sort_like_agency_then_year_and_round_trip() {
        let names = [
            name("agencies/a/reports/2023"),
            name("agencies/a/reports/2100"),
            name("agencies/a-b/reports/2008"),
            name("agencies/ab/reports/2007"),
            name("agencies/b/reports/2020"),
        ];
        for w in names.windows(2) {
            assert!(w[0] < w[1], "test data not sorted");
            assert!(name_key(&w[0]) < name_key(&w[1]), "{} vs {}", w[0], w[1]);
        }
        for n in &names {
            assert_eq!(parse_name_key(&name_key(n)).as_ref(), Some(n));
            assert!(name_key(n).starts_with(&agency_prefix(&n.agency)));
        }
        // `a` does not prefix-match `a-b`'s keys.
        assert!(!name_key(&names[2]).starts_with(&agency_prefix(&names[0].agency)));
    }

    #[test]
    fn malformed_name_keys_are_refused() {
        let good = name_key(&name("agencies/x/reports/2023"));
        assert!(parse_name_key(&good).is_some());
        assert!(parse_name_key(&good[..good.len() - 1]).is_none());
        assert!(parse_name_key(&[good.as_slice(), &[0]].concat()).is_none());
        assert!(parse_name_key(b"X\0\x80\0\x07\xe7").is_none(), "bad agency");
        assert!(parse_name_key(b"x\0\x80\0\0\x01").is_none(), "year 1");
        assert!(parse_name_key(b"").is_none());
        assert!(
            parse_name_key(b"\0\x80\0\x07\xe7").is_none(),
            "empty agency"
        );
    }

    #[test]
    fn revision_keys_order_numerically_and_round_trip() {
        let nk = name_key(&name("agencies/x/reports/2023"));
        assert!(revision_key(&nk, 2) < revision_key(&nk, 10));
        assert!(revision_key(&nk, 255) < revision_key(&nk, 256));
        let k = revision_key(&nk, 300);
        let (n, nk2, rev) = parse_revision_key(&k).unwrap();
        assert_eq!(n.to_string(), "agencies/x/reports/2023");
        assert_eq!((nk2, rev), (nk.as_slice(), 300));
        assert!(parse_revision_key(&k[..3]).is_none());
        // All of one report's revisions follow its name key before any other report.
        let other = name_key(&name("agencies/x/reports/2024"));
        assert!(revision_key(&nk, u32::MAX) < other);
    }

    #[test]
    fn sequence_and_expiry_keys_order_numerically() {
        assert!(seq_key(255) < seq_key(256));
        assert!(expiry_key(255, "z") < expiry_key(256, "a"));
        assert_eq!(
            parse_expiry_key(&expiry_key(42, "req-1")),
            Some((42, "req-1"))
        );
        assert_eq!(parse_expiry_key(&expiry_key(42, "")), None);
    }

    #[test]
    fn only_six_digit_division_codes_are_indexed() {
        assert_eq!(division_bytes(Some("320602")), Some(*b"320602"));
        for bad in [
            None,
            Some(""),
            Some("32060"),
            Some("3206021"),
            Some("32a602"),
        ] {
            assert_eq!(division_bytes(bad), None, "{bad:?}");
        }
        let nk = name_key(&name("agencies/x/reports/2023"));
        let mut head = HeadRecord {
            division_code: Some("320602".into()),
            format_version: 3,
            has_errors: true,
            ..Default::default()
        };
        let keys = index_keys(&nk, 2023, &head);
        assert_eq!(keys.len(), 5);
        let yd = keys
            .iter()
            .find(|(i, _)| *i == Index::YearDivision)
            .unwrap();
        assert_eq!(yd.1, [&i32_bytes(2023)[..], b"320602", &nk].concat());
        let e = keys.iter().find(|(i, _)| *i == Index::Errors).unwrap();
        assert_eq!(e.1, [&[1u8][..], &nk].concat());
        head.division_code = Some("32".into());
        assert_eq!(index_keys(&nk, 2023, &head).len(), 3);
    }
}
