//! Resource names of the registry: `agencies/{agency}/reports/{year}`.
//!
//! `{agency}` is the agency's 18-character unified social credit code (统一社会信用代码,
//! GB 32100-2015, check character verified) where known, otherwise an id the submitting
//! system chooses: 1 to 63 characters of `a-z`, `0-9` and `-` that neither start nor end
//! with `-` (`chongchuan-gov`; `-`, `-x` and `x-` are refused). When neither is given (text submitted as
//! found, with no code stated in it), the id is derived from the agency's name:
//! `name-` followed by the first 16 lower-case hex digits of the SHA-256 of the name after
//! NFKC normalisation with every whitespace character removed. The same agency name,
//! however it was spaced or which width its characters had, always gives the same id.
//!
//! `{year}` is written as four ASCII digits without sign, space or leading zero
//! (`2023`; `02023`, `+2023` and `2023 ` are refused), within [`YEARS`].
//!
//! `text.rs`: a caller's text in errors ([`echo`], bounded) and in free-text fields
//! ([`check_free_text`]); every error here echoes a caller's value through it.

mod scope;
mod text;

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::format::credit_code;
use crate::pb::AnnualReport;

pub use scope::{Scope, ScopeError};
pub use text::{check_free_text, echo, is_bidi_control, Echo, ForbiddenChar, ECHO_CHARS};

/// Earliest and latest report years a name may carry (the regulation dates from 2008;
/// the upper bound only rejects obvious typos).
pub const YEARS: std::ops::RangeInclusive<i32> = 2007..=2200;

/// Why a name or an agency id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "{} is not a report name: expected agencies/{{agency}}/reports/{{year}}",
        echo(.0)
    )]
    Shape(String),
    #[error(
        "{} is not an agency id: expected an 18-character unified social credit code \
         with a valid check character, or 1-63 characters of a-z, 0-9 and - that neither \
         start nor end with -",
        echo(.0)
    )]
    AgencyId(String),
    /// The year of a name is not written as four digits (`02023`, `+2023`).
    #[error(
        "{} is not a year as a name writes it: four digits without sign, space or leading \
         zero, as in agencies/{{agency}}/reports/2023",
        echo(.0)
    )]
    YearText(String),
    #[error("year {0} is outside {min}..={max}", min = YEARS.start(), max = YEARS.end())]
    Year(i64),
    #[error("the report names no agency: give an agency id, a unified social credit code, or the agency's name")]
    NoAgency,
}

/// A validated agency id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgencyId(String);

impl AgencyId {
    /// Accepts a unified social credit code or a chosen id (`[a-z0-9-]{1,63}`, neither
    /// starting nor ending with `-`).
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if (is_chosen_id(s) && !s.starts_with('-') && !s.ends_with('-'))
            || (s.len() == 18 && credit_code::is_valid(s))
        {
            Ok(Self(s.to_string()))
        } else {
            Err(NameError::AgencyId(s.to_string()))
        }
    }

    /// Accepts what [`AgencyId::parse`] accepted before chosen ids had to start and end
    /// with a letter or digit: any `[a-z0-9-]{1,63}`. Only for ids already in a store
    /// (its keys), which stay readable; a caller's id goes through `parse`.
    pub fn parse_stored(s: &str) -> Result<Self, NameError> {
        if is_chosen_id(s) || (s.len() == 18 && credit_code::is_valid(s)) {
            Ok(Self(s.to_string()))
        } else {
            Err(NameError::AgencyId(s.to_string()))
        }
    }

    /// The id derived from an agency's published name (see the module docs).
    pub fn from_agency_name(name: &str) -> Result<Self, NameError> {
        let normalised: String = name.nfkc().filter(|c| !c.is_whitespace()).collect();
        if normalised.is_empty() {
            return Err(NameError::NoAgency);
        }
        let digest = Sha256::digest(normalised.as_bytes());
        Ok(Self(format!("name-{}", hex::encode(&digest[..8]))))
    }

    /// The id a report is stored under: `explicit` when given, else the credit code the
    /// report states, else the id derived from its agency name.
    pub fn resolve(explicit: Option<AgencyId>, report: &AnnualReport) -> Result<Self, NameError> {
        if let Some(id) = explicit {
            return Ok(id);
        }
        let agency = report.agency.as_ref();
        if let Some(code) = agency.and_then(|a| a.unified_social_credit_code.as_deref()) {
            if let Ok(id) = Self::parse(code) {
                return Ok(id);
            }
        }
        Self::from_agency_name(agency.map(|a| a.name.as_str()).unwrap_or(""))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for AgencyId {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::parse(s)
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_chosen_id(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `agencies/{agency}/reports/{year}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportName {
    pub agency: AgencyId,
    pub year: i32,
}

impl ReportName {
    pub fn new(agency: AgencyId, year: i32) -> Result<Self, NameError> {
        if !YEARS.contains(&year) {
            return Err(NameError::Year(year.into()));
        }
        Ok(Self { agency, year })
    }
}

impl fmt::Display for ReportName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agencies/{}/reports/{}", self.agency, self.year)
    }
}

impl FromStr for ReportName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = || NameError::Shape(s.to_string());
        let mut parts = s.split('/');
        let (Some("agencies"), Some(agency), Some("reports"), Some(year), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(shape());
        };
        let agency = AgencyId::parse(agency)?;
        Self::new(agency, parse_year(year)?)
    }
}

/// The year of a name: four ASCII digits, the first not `0`.
fn parse_year(year: &str) -> Result<i32, NameError> {
    let text = || NameError::YearText(year.to_string());
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) || year.starts_with('0') {
        return Err(text());
    }
    year.parse().map_err(|_| text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::Agency;

    #[test]
    fn names_round_trip_and_refuse_malformed_ones() {
        let n: ReportName = "agencies/chongchuan-gov/reports/2023".parse().unwrap();
        assert_eq!(n.agency.as_str(), "chongchuan-gov");
        assert_eq!(n.year, 2023);
        assert_eq!(n.to_string(), "agencies/chongchuan-gov/reports/2023");
        let code: ReportName = "agencies/11100000000013127D/reports/2022".parse().unwrap();
        assert_eq!(code.agency.as_str(), "11100000000013127D");
        for bad in [
            "",
            "agencies//reports/2023",
            "agencies/x/reports/",
            "agencies/x/reports/2023/",
            "agencies/X/reports/2023",
            "agencies/x/report/2023",
            "agencies/x/reports/+2023",
            "agencies/x/reports/02023",
            "agencies/-/reports/2023",
            "agencies/x/reports/1999",
            "agencies/11100000000013127A/reports/2022",
            &format!("agencies/{}/reports/2023", "a".repeat(64)),
        ] {
            assert!(bad.parse::<ReportName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn years_in_names_are_four_plain_digits() {
        for bad in [
            "02021",
            "+2021",
            "2021 ",
            " 2021",
            "-2021",
            "２０２１",
            "202",
            "20210",
            "0999",
        ] {
            let name = format!("agencies/x/reports/{bad}");
            assert_eq!(
                name.parse::<ReportName>(),
                Err(NameError::YearText(bad.to_string())),
                "{name:?}"
            );
        }
        assert_eq!(
            "agencies/x/reports/2300".parse::<ReportName>(),
            Err(NameError::Year(2300))
        );
        assert_eq!(
            "agencies/x/reports/2021"
                .parse::<ReportName>()
                .map(|n| n.year),
            Ok(2021)
        );
    }

    #[test]
    fn chosen_ids_neither_start_nor_end_with_a_hyphen() {
        for bad in ["-", "--", "-x", "x-", "-x-", "", "X", "a_b", "a.b"] {
            assert_eq!(
                AgencyId::parse(bad),
                Err(NameError::AgencyId(bad.to_string())),
                "{bad:?}"
            );
            assert!(format!("agencies/{bad}/reports/2021")
                .parse::<ReportName>()
                .is_err());
        }
        for good in ["x", "a-b", "a--b", "0", "chongchuan-gov", &"a".repeat(63)] {
            assert!(AgencyId::parse(good).is_ok(), "{good:?}");
        }
        // Ids stored before the rule stay readable from the store's keys.
        assert!(AgencyId::parse_stored("-x").is_ok());
        assert!(AgencyId::parse_stored("X").is_err());
    }

    #[test]
    fn errors_echo_a_bounded_prefix_of_the_callers_value() {
        let long = "a".repeat(10_000);
        for e in [
            format!("agencies/{long}/reports/2021")
                .parse::<ReportName>()
                .expect_err("long agency"),
            long.parse::<ReportName>().expect_err("long name"),
            format!("agencies/x/reports/{long}")
                .parse::<ReportName>()
                .expect_err("long year"),
            AgencyId::parse(&long).expect_err("long id"),
        ] {
            let shown = e.to_string();
            assert!(shown.len() < 400, "{} bytes: {shown}", shown.len());
            assert!(shown.contains(" characters)"), "{shown}");
        }
        let e = AgencyId::parse("a\u{202e}b").expect_err("bidi");
        assert!(e.to_string().starts_with(r#""a\u{202e}b" is not"#), "{e}");
    }

    #[test]
    fn derived_ids_ignore_spacing_and_width() {
        let a = AgencyId::from_agency_name("南通市崇川区人民政府办公室").unwrap();
        let b = AgencyId::from_agency_name(" 南通市 崇川区人民政府办公室\u{3000}").unwrap();
        assert_eq!(a, b);
        assert!(a.as_str().starts_with("name-") && a.as_str().len() == 21);
        assert!(AgencyId::parse(a.as_str()).is_ok());
        assert_ne!(
            a,
            AgencyId::from_agency_name("南通市人民政府办公室").unwrap()
        );
        assert_eq!(AgencyId::from_agency_name(" \t"), Err(NameError::NoAgency));
    }

    #[test]
    fn resolve_prefers_explicit_then_code_then_name() {
        let mut report = AnnualReport {
            agency: Some(Agency {
                name: "平潭综合实验区管理委员会".into(),
                unified_social_credit_code: Some("11100000000013127D".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let explicit = AgencyId::parse("pingtan").unwrap();
        assert_eq!(
            AgencyId::resolve(Some(explicit), &report).unwrap().as_str(),
            "pingtan"
        );
        assert!("Bad Id".parse::<AgencyId>().is_err());
        assert_eq!(
            AgencyId::resolve(None, &report).unwrap().as_str(),
            "11100000000013127D"
        );
        if let Some(a) = report.agency.as_mut() {
            a.unified_social_credit_code = None;
        }
        assert!(AgencyId::resolve(None, &report)
            .unwrap()
            .as_str()
            .starts_with("name-"));
        assert_eq!(
            AgencyId::resolve(None, &AnnualReport::default()),
            Err(NameError::NoAgency)
        );
    }
}
