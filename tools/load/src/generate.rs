//! Generated reports: the corpus report every one is a variation of ([`template`]),
//! generated report `i` ([`generated`]) with its agency id, division, name, year and
//! title, and the `submit` scenario's SubmitReport requests pieced together from the
//! template encoded once ([`SubmitBodies`]).

use std::path::Path;

use prost::bytes::{BufMut, Bytes, BytesMut};
use prost::encoding::{self, WireType};

use nianbao::parse::{parse, ParseOptions};
use nianbao::pb::SubmitReportRequest;
use nianbao::pb::{submit_report_request, Agency, AnnualReport, Date, FormatVersion};

use crate::Fallible;

/// Real county-level division codes (行政区划代码) of ten provinces; generated
/// agency `n` is in `DIVISIONS[n % 20]`.
pub const DIVISIONS: [(&str, &str); 20] = [
    ("110101", "北京市东城区"),
    ("110105", "北京市朝阳区"),
    ("310101", "上海市黄浦区"),
    ("310115", "上海市浦东新区"),
    ("320106", "南京市鼓楼区"),
    ("320602", "南通市崇川区"),
    ("320508", "苏州市姑苏区"),
    ("321322", "沭阳县"),
    ("330106", "杭州市西湖区"),
    ("330212", "宁波市鄞州区"),
    ("350102", "福州市鼓楼区"),
    ("350128", "平潭县"),
    ("350203", "厦门市思明区"),
    ("370102", "济南市历下区"),
    ("370202", "青岛市市南区"),
    ("420106", "武汉市武昌区"),
    ("440106", "广州市天河区"),
    ("440305", "深圳市南山区"),
    ("510104", "成都市锦江区"),
    ("610113", "西安市雁塔区"),
];

/// `submit`: years per generated agency, and the first of them.
pub const SUBMIT_YEARS: u64 = 5;
pub const SUBMIT_FIRST_YEAR: i32 = 2021;

/// The corpus report, parsed once: every generated report is a variation of it.
pub fn template(path: &Path) -> Fallible<AnnualReport> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&bytes, &ParseOptions::default())
        .report
        .ok_or_else(|| format!("{} does not parse into a report", path.display()))
}

/// Whether `prefix` can start the generated agency ids `{prefix}-{n:05}`.
pub fn check_prefix(prefix: &str) -> Fallible<()> {
    if nianbao::names::AgencyId::parse(&format!("{prefix}-00000")).is_err() {
        return Err(format!(
            "`{prefix}` cannot start an agency id (a-z, 0-9 and -)"
        ));
    }
    Ok(())
}

/// Generated report `i`: agency `{prefix}-{i / years:05}`, year `first_year + i % years`,
/// division code, agency name, title and publication date to match.
pub fn generated(
    t: &AnnualReport,
    prefix: &str,
    i: u64,
    years: u64,
    first_year: i32,
) -> (String, AnnualReport) {
    let (agency_id, head) = generated_head(t.agency.as_ref(), prefix, i, years, first_year);
    let report = AnnualReport {
        agency: head.agency,
        year: head.year,
        format_version: head.format_version,
        title: head.title,
        publication_date: head.publication_date,
        ..t.clone()
    };
    (agency_id, report)
}

/// What makes generated report `i` itself: its agency id, and a report holding only
/// the fields `generated` sets (agency, year, format version, title, publication
/// date). `agency` is the template's agency, which the generated one is made from.
fn generated_head(
    agency: Option<&Agency>,
    prefix: &str,
    i: u64,
    years: u64,
    first_year: i32,
) -> (String, AnnualReport) {
    let years = years.max(1);
    let agency_no = i / years;
    let year = first_year + (i % years) as i32;
    let (code, place) = DIVISIONS[(agency_no % DIVISIONS.len() as u64) as usize];
    let agency_id = format!("{prefix}-{agency_no:05}");
    let name = format!("{place}第{agency_no}号行政机关");
    let title = format!("{name}{year}年政府信息公开工作年度报告");
    let mut agency = agency.cloned().unwrap_or_default();
    agency.name = name;
    agency.unified_social_credit_code = None;
    agency.division_code = Some(code.to_string());
    let head = AnnualReport {
        agency: Some(agency),
        year,
        format_version: FormatVersion::V2021 as i32,
        title,
        publication_date: Some(Date {
            year: year + 1,
            month: 1,
            day: 20,
        }),
        ..Default::default()
    };
    (agency_id, head)
}

/// SubmitReport requests put together from pieces: the template report without the
/// fields `generated_head` sets, encoded once, then per submission those fields and
/// the agency id. Protobuf fields may come in any order, and the two parts of the
/// report set disjoint fields, so their concatenation is the encoding of the whole
/// report ([`SubmitBodies::verify`] checks it against the typed request).
pub struct SubmitBodies {
    /// The template's agency, the generated ones are made from.
    agency: Option<Agency>,
    /// The template report without agency, year, format version, title and date.
    rest: Bytes,
    prefix: String,
}

impl SubmitBodies {
    pub fn new(t: &AnnualReport, prefix: String) -> SubmitBodies {
        let rest = AnnualReport {
            agency: None,
            year: 0,
            format_version: FormatVersion::Unspecified as i32,
            title: String::new(),
            publication_date: None,
            ..t.clone()
        };
        SubmitBodies {
            agency: t.agency.clone(),
            rest: Bytes::from(prost::Message::encode_to_vec(&rest)),
            prefix,
        }
    }

    /// Submission `i`: the name its report will have, and the encoded request.
    pub fn request(&self, i: u64) -> Fallible<(String, Bytes)> {
        let (agency_id, head) = generated_head(
            self.agency.as_ref(),
            &self.prefix,
            i,
            SUBMIT_YEARS,
            SUBMIT_FIRST_YEAR,
        );
        let report_len = self.rest.len() + prost::Message::encoded_len(&head);
        let mut buf = BytesMut::with_capacity(report_len + agency_id.len() + 24);
        encoding::encode_key(1, WireType::LengthDelimited, &mut buf);
        encoding::encode_varint(report_len as u64, &mut buf);
        buf.put_slice(&self.rest);
        prost::Message::encode(&head, &mut buf)
            .map_err(|e| format!("cannot encode submission {i}: {e}"))?;
        encoding::string::encode(3, &agency_id, &mut buf);
        let name = format!("agencies/{agency_id}/reports/{}", head.year);
        Ok((name, buf.freeze()))
    }

    /// Checks that the pieces make the request the typed message of generated report 7
    /// of `t` would be (its name included), before a run relies on them.
    pub fn verify(&self, t: &AnnualReport) -> Fallible<()> {
        let (name, bytes) = self.request(7)?;
        let (agency, report) = generated(t, &self.prefix, 7, SUBMIT_YEARS, SUBMIT_FIRST_YEAR);
        let typed = SubmitReportRequest {
            input: Some(submit_report_request::Input::Report(report)),
            agency_id: agency.clone(),
            ..Default::default()
        };
        let decoded = <SubmitReportRequest as prost::Message>::decode(bytes)
            .map_err(|e| format!("a pre-encoded SubmitReport request does not decode: {e}"))?;
        if decoded != typed || name != format!("agencies/{agency}/reports/2023") {
            return Err("a pre-encoded SubmitReport request differs from the typed one".into());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The corpus report the tool sends by default.
    pub(crate) fn corpus_report() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/000_2b6e7661ff84f527.txt")
    }

    #[test]
    fn report_i_is_agency_i_over_years_in_year_i_mod_years() {
        let t = template(&corpus_report()).unwrap();
        let (agency, r) = generated(&t, "a", 7, 5, 2021);
        assert_eq!(agency, "a-00001");
        assert_eq!(r.year, 2023);
        let a = r.agency.as_ref().unwrap();
        assert_eq!(a.division_code.as_deref(), Some("110105"));
        assert_eq!(a.name, "北京市朝阳区第1号行政机关");
        assert_eq!(a.unified_social_credit_code, None);
        assert_eq!(
            r.title,
            "北京市朝阳区第1号行政机关2023年政府信息公开工作年度报告"
        );
        assert_eq!(
            r.publication_date,
            Some(Date {
                year: 2024,
                month: 1,
                day: 20
            })
        );
        // Everything else is the template's.
        assert_eq!(r.preamble, t.preamble);
        assert_eq!(r.requests, t.requests);
        assert!(r.requests.is_some());
    }

    #[test]
    fn agencies_cycle_through_the_divisions() {
        let t = AnnualReport::default();
        let (agency, r) = generated(&t, "p", 5 * 23, 5, 2021);
        assert_eq!(agency, "p-00023");
        assert_eq!(r.year, 2021);
        let code = r.agency.unwrap().division_code.unwrap();
        assert_eq!(code, DIVISIONS[3].0);
    }

    #[test]
    fn zero_years_count_as_one() {
        let t = AnnualReport::default();
        let (agency, r) = generated(&t, "a", 3, 0, 2021);
        assert_eq!((agency.as_str(), r.year), ("a-00003", 2021));
    }

    #[test]
    fn pieced_requests_are_the_typed_requests() {
        let t = template(&corpus_report()).unwrap();
        let bodies = SubmitBodies::new(&t, "s1".into());
        bodies.verify(&t).unwrap();
        for i in [0, 1, 4, 5, 99_999] {
            let (name, bytes) = bodies.request(i).unwrap();
            let (agency, report) = generated(&t, "s1", i, SUBMIT_YEARS, SUBMIT_FIRST_YEAR);
            let typed = SubmitReportRequest {
                input: Some(submit_report_request::Input::Report(report)),
                agency_id: agency.clone(),
                ..Default::default()
            };
            // The same message (its fields in another order than prost writes them).
            let decoded = <SubmitReportRequest as prost::Message>::decode(bytes).unwrap();
            assert!(
                decoded == typed,
                "submission {i} differs from the typed request"
            );
            assert_eq!(name, format!("agencies/{agency}/reports/{}", 2021 + i % 5));
        }
    }

    #[test]
    fn verify_finds_pieces_of_another_report() {
        let t = template(&corpus_report()).unwrap();
        let bodies = SubmitBodies::new(&t, "s1".into());
        let mut other = t.clone();
        other.preamble.push('。');
        assert!(bodies.verify(&other).is_err());
    }

    #[test]
    fn agency_prefixes_are_checked() {
        assert!(check_prefix("a").is_ok());
        assert!(check_prefix("s1764000000").is_ok());
        let err = check_prefix("Ab!").unwrap_err();
        assert_eq!(err, "`Ab!` cannot start an agency id (a-z, 0-9 and -)");
    }

    #[test]
    fn an_unreadable_template_is_an_error() {
        let err = template(Path::new("/nonexistent/report.txt")).unwrap_err();
        assert!(
            err.starts_with("cannot read /nonexistent/report.txt"),
            "{err}"
        );
    }
}
