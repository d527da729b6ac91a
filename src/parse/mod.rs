//! The published-report parser: bytes as found -> [`pb::ParseResult`].
//!
//! Pipeline: [`decode`] (charset) -> [`html`] (markup to text lines, when HTML)
//! -> [`normalize`] (NFKC and punctuation, with a map back to source offsets)
//! -> the recogniser of the format's grammar (`lexicon`, `tables`, `meta`) -> cells,
//! split and solved with the format's arithmetic where glued or missing (`split`).

pub mod decode;
pub mod html;
mod lexicon;
pub mod meta;
pub mod normalize;
mod split;
mod tables;
mod tokens;

use crate::diagnostics::{self as dc, Diag};
use crate::format::{self, SECTIONS};
use crate::pb::{self, FormatVersion, InputLayout};
use lexicon::Key;

/// Options for one parse.
#[derive(Clone, Debug)]
pub struct ParseOptions {
    /// A charset named by the caller ("GBK", "UTF-8"...); detected when `None`.
    pub charset: Option<String>,
    /// A label for the input (file name), kept in the provenance.
    pub label: String,
    /// Where the input was published, when known.
    pub url: Option<String>,
    /// Inputs larger than this are refused with a diagnostic.
    pub max_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            charset: None,
            label: String::new(),
            url: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Default input size limit (16 MiB).
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;

/// `text[a..b]`, with both ends clamped to the text and moved back to char
/// boundaries: offsets computed from the input never panic a slice.
pub(crate) fn sub(text: &str, a: usize, b: usize) -> &str {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (a, b) = (floor(a), floor(b));
    text.get(a..b.max(a)).unwrap_or("")
}

/// Parses one published report. Never panics; problems become diagnostics.
pub fn parse(input: &[u8], opts: &ParseOptions) -> pb::ParseResult {
    let mut p = Parse::default();
    p.run(input, opts);
    p.finish()
}

#[derive(Default)]
struct Parse {
    report: pb::AnnualReport,
    diags: Vec<pb::Diagnostic>,
    locations: Vec<pb::CellLocation>,
}

/// Offsets through every stage back to the decoded text (for spans).
struct Maps<'a> {
    decoded: &'a str,
    extracted: Option<&'a html::Extracted>,
    normalized: &'a normalize::Normalized,
    line_starts: Vec<usize>,
    /// The last column computed: (byte offset, its line start, its column). Spans
    /// come mostly in text order, so columns are counted from here, not from the
    /// line start (flattened reports are one long line).
    last_col: std::cell::Cell<(usize, usize, usize)>,
}

impl<'a> Maps<'a> {
    fn new(
        decoded: &'a str,
        extracted: Option<&'a html::Extracted>,
        normalized: &'a normalize::Normalized,
    ) -> Self {
        Maps {
            decoded,
            extracted,
            normalized,
            line_starts: std::iter::once(0)
                .chain(decoded.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
            last_col: std::cell::Cell::new((0, 0, 1)),
        }
    }

    fn decoded_offset(&self, norm: usize) -> usize {
        let x = self.normalized.source_offset(norm);
        let d = match self.extracted {
            Some(e) => e.source_offset(x),
            None => x,
        };
        d.min(self.decoded.len())
    }

    fn span(&self, (a, b): (usize, usize)) -> pb::SourceSpan {
        let start = self.decoded_offset(a);
        let end = self.decoded_offset(b).max(start);
        let line = self.line_starts.partition_point(|&s| s <= start).max(1);
        let ls = self
            .line_starts
            .get(line - 1)
            .copied()
            .unwrap_or(0)
            .min(start);
        let (memo_off, memo_ls, memo_col) = self.last_col.get();
        let (from, base) = if memo_ls == ls && memo_off <= start {
            (memo_off, memo_col)
        } else {
            (ls, 1)
        };
        let column = base
            + self
                .decoded
                .get(from..start)
                .map_or(0, |s| s.chars().count());
        self.last_col.set((start, ls, column));
        pb::SourceSpan {
            line: line as u32,
            column: column as u32,
            byte_start: start as u64,
            byte_end: end as u64,
        }
    }
}

impl Parse {
    fn diag(&mut self, d: Diag) {
        self.diags.push(d.build());
    }

    /// The steps from bytes to the text the recogniser reads: provenance, size, charset,
    /// HTML extraction, normalisation; each may end the parse with a diagnostic.
    fn run(&mut self, input: &[u8], opts: &ParseOptions) {
        self.record_source(input, opts);
        if !self.accept_input(input, opts.max_bytes) {
            return;
        }
        let Some(decoded) = self.decode_input(input, opts.charset.as_deref()) else {
            return;
        };
        let text = decoded.text.as_str();
        let is_html = html::looks_like_html(text);
        let extracted = is_html.then(|| html::extract(text));
        let body = extracted.as_ref().map_or(text, |e| e.text.as_str());
        let normalized = normalize::normalize(body);
        let maps = Maps::new(text, extracted.as_ref(), &normalized);
        self.recognise(&normalized.text, &maps, is_html);
    }

    /// The input's provenance: checksum, label and URL.
    fn record_source(&mut self, input: &[u8], opts: &ParseOptions) {
        let source = self.report.source.get_or_insert_with(Default::default);
        source.sha256 = sha256_hex(input);
        source.label = opts.label.clone();
        source.url = opts.url.clone().unwrap_or_default();
    }

    /// Whether the input is neither over `max_bytes` nor blank (else a diagnostic).
    fn accept_input(&mut self, input: &[u8], max_bytes: usize) -> bool {
        if input.len() > max_bytes {
            self.diag(Diag::new(
                dc::INPUT_TOO_LARGE,
                format!("输入为{}字节，超过上限{}字节", input.len(), max_bytes),
                format!(
                    "the input is {} bytes, over the limit of {} bytes",
                    input.len(),
                    max_bytes
                ),
            ));
            return false;
        }
        if input.iter().all(u8::is_ascii_whitespace) {
            self.diag(Diag::new(dc::EMPTY_INPUT, "输入为空", "the input is empty"));
            return false;
        }
        true
    }

    /// The input as text, with its encoding recorded and diagnosed; `None` (and a
    /// diagnostic) when it cannot be read.
    fn decode_input(&mut self, input: &[u8], charset: Option<&str>) -> Option<decode::Decoded> {
        let decoded = match decode::decode(input, charset) {
            Ok(d) => d,
            Err(e) => {
                let code = match e {
                    decode::DecodeError::Binary => dc::BINARY_INPUT,
                    decode::DecodeError::UnknownCharset(_) => dc::UNKNOWN_CHARSET,
                };
                self.diag(Diag::new(
                    code,
                    format!("无法读取输入：{e}"),
                    format!("the input cannot be read: {e}"),
                ));
                return None;
            }
        };
        if let Some(source) = self.report.source.as_mut() {
            source.encoding = decoded.encoding.to_string();
        }
        if decoded.encoding != "UTF-8" {
            self.diag(Diag::new(
                dc::ENCODING,
                format!("输入按 {} 编码读取", decoded.encoding),
                format!("the input was decoded as {}", decoded.encoding),
            ));
        }
        if decoded.had_errors {
            self.diag(Diag::new(
                dc::DECODE_ERRORS,
                "部分字节无法解码，已替换为�",
                "some bytes could not be decoded and were replaced with U+FFFD",
            ));
        }
        Some(decoded)
    }

    /// Reads the report out of the normalised text: metadata, then the sections, then
    /// (for a report in a national format) the format versions and the three tables, and
    /// last the input's layout. Stops early, with a diagnostic, when the text is not a
    /// report or predates the national format.
    fn recognise(&mut self, text: &str, maps: &Maps<'_>, is_html: bool) {
        let compact = lexicon::Compact::new(text);
        let hits = compact.hits(text);
        let year = self.read_metadata(text, &compact);

        let heads = meta::headings(&compact, text, &hits);
        let sections = Sections {
            text,
            heads: &heads,
        };
        self.report.sections_found = sections.ids();
        if !looks_like_a_report(&heads, &hits) {
            self.reject_not_a_report();
            return;
        }
        self.read_prose(&sections);
        if is_legacy_year(year) {
            self.mark_legacy_format();
            return;
        }
        self.check_headings(&sections);

        let regions = TableRegions::find(&sections, &hits);
        let versions = Versions::detect(text, &compact, &hits, &regions, year);
        self.record_versions(&versions);
        let out = self.read_tables(text, &hits, &regions, &versions);
        let glued = out.glued;
        self.record_findings(out, maps);
        self.record_layout(input_layout(text, is_html, glued));
    }

    /// Title, agency, year, publication date and URL; the year found (diagnosed when it
    /// or the title is missing).
    fn read_metadata(&mut self, text: &str, compact: &lexicon::Compact) -> Option<i32> {
        let title = meta::title(compact);
        let year = title
            .as_ref()
            .and_then(|t| t.year)
            .or_else(|| meta::period_year(text));
        if let Some(t) = &title {
            self.report.title = t.title.clone();
            self.report.agency = Some(agency(t, text));
        }
        self.report.year = year.unwrap_or(0);
        self.report.publication_date = meta::publication_date(text);
        if let (Some(src), Some(url)) = (self.report.source.as_mut(), meta::url(text)) {
            if src.url.is_empty() {
                src.url = url;
            }
        }
        if title.is_none() || year.is_none() {
            self.diag(
                Diag::new(
                    dc::METADATA_MISSING,
                    "未找到报告标题或年度（“XXXX年……政府信息公开工作年度报告”）",
                    "the report title or year (\"XXXX年……政府信息公开工作年度报告\") was not found",
                )
                .path("title"),
            );
        }
        year
    }

    fn reject_not_a_report(&mut self) {
        self.diag(Diag::new(
            dc::NOT_A_REPORT,
            "输入中没有年度报告的章节标题或表格标签，看起来不是政府信息公开工作年度报告",
            "no section headings or table labels of the annual report format were found; this does not look like a 政府信息公开工作年度报告",
        ));
    }

    /// The preamble and the prose sections (一 overview, 五 problems, 六 other matters,
    /// and the fee statement within 六).
    fn read_prose(&mut self, sections: &Sections<'_>) {
        self.report.preamble = sections.preamble();
        self.report.overview = sections.section_text(0);
        self.report.problems = sections.section_text(4);
        self.report.other_matters = sections.section_text(5);
        if let Some(om) = &self.report.other_matters {
            self.report.fee_statement = fee_statement(&om.text);
        }
    }

    fn mark_legacy_format(&mut self) {
        self.report.format_version = FormatVersion::Legacy as i32;
        self.diag(Diag::new(
            dc::LEGACY_FORMAT,
            "2019年以前的报告格式（无国家统一表格），表格未读取",
            "a report in the pre-2019 format (no national tables); its tables are not read",
        ));
    }

    /// A diagnostic for each section whose heading was not found.
    fn check_headings(&mut self, sections: &Sections<'_>) {
        for (i, s) in SECTIONS.iter().enumerate() {
            if sections.head(i).is_none() {
                self.diag(
                    Diag::new(
                        dc::SECTION_MISSING,
                        format!("未找到第{}部分“{}”的标题", s.numeral, s.heading),
                        format!(
                            "the heading of section {} ({}) was not found",
                            s.numeral, s.heading
                        ),
                    )
                    .path(s.field),
                );
            }
        }
    }

    /// The report's and the tables' format versions; a diagnostic when tables 二 and 三
    /// follow different ones.
    fn record_versions(&mut self, v: &Versions) {
        self.report.format_version = v.report as i32;
        self.report.table_versions = Some(pb::TableVersions {
            proactive: v.proactive as i32,
            requests: v.requests as i32,
        });
        if v.proactive != v.requests {
            self.diag(Diag::new(
                dc::VERSION_MIXED,
                format!(
                    "表二按{}格式，表三按{}格式",
                    version_name(v.proactive),
                    version_name(v.requests)
                ),
                format!(
                    "table 二 follows the {} format while table 三 follows {}",
                    version_name(v.proactive),
                    version_name(v.requests)
                ),
            ));
        }
    }

    /// Tables 二, 三 and 四, each read in its region with its version (a missing one is
    /// diagnosed); the cells go into the report, their locations and diagnostics into
    /// the result.
    fn read_tables(
        &mut self,
        text: &str,
        hits: &[lexicon::Hit],
        regions: &TableRegions,
        versions: &Versions,
    ) -> tables::Out {
        let mut out = tables::Out::default();
        let report = &mut self.report;
        match regions.proactive {
            Some(r) => {
                let prose = sub(text, 0, r.0);
                tables::read_proactive(text, hits, r, versions.proactive, prose, report, &mut out)
            }
            None => out_missing(&mut out, "表二", "table 二", "proactive"),
        }
        match regions.requests {
            Some(r) => tables::read_requests(text, hits, r, versions.requests, report, &mut out),
            None => out_missing(&mut out, "表三", "table 三", "requests"),
        }
        match regions.review {
            Some(r) => tables::read_review(text, hits, r, report, &mut out),
            None => out_missing(&mut out, "表四", "table 四", "review_litigation"),
        }
        out
    }

    /// The tables' diagnostics and cell locations, with their spans in the decoded text.
    fn record_findings(&mut self, out: tables::Out, maps: &Maps<'_>) {
        for (d, span) in out.diags.into_iter().zip(out.diag_spans) {
            self.diags.push(d.span(span.map(|s| maps.span(s))).build());
        }
        self.locations = out
            .cells
            .iter()
            .map(|(c, s)| pb::CellLocation {
                field_path: c.path(),
                span: Some(maps.span(*s)),
            })
            .collect();
    }

    fn record_layout(&mut self, layout: InputLayout) {
        if let Some(s) = self.report.source.as_mut() {
            s.layout = layout as i32;
        }
    }

    fn finish(mut self) -> pb::ParseResult {
        // Sorted by path, so a consumer looks a cell up by binary search.
        self.locations
            .sort_unstable_by(|a, b| a.field_path.cmp(&b.field_path));
        pb::ParseResult {
            report: Some(self.report),
            diagnostics: self.diags,
            cell_locations: self.locations,
        }
    }
}

/// The agency named in the title, with its kind and level (from the name) and the credit
/// code stated in the text.
fn agency(title: &meta::Title, text: &str) -> pb::Agency {
    let (kind, level) = meta::classify(&title.agency);
    pb::Agency {
        name: title.agency.clone(),
        unified_social_credit_code: meta::credit_code(text),
        division_code: None,
        kind: kind as i32,
        level: level as i32,
    }
}

/// Whether the text has the report format's section headings or table labels: at least
/// three headings or five table labels.
fn looks_like_a_report(heads: &[meta::Heading], hits: &[lexicon::Hit]) -> bool {
    let table_hits = hits
        .iter()
        .filter(|h| !matches!(h.key, Key::Section(_)))
        .count();
    table_hits >= 5 || heads.len() >= 3
}

/// No national format existed before the 2019 report year.
fn is_legacy_year(year: Option<i32>) -> bool {
    year.is_some_and(|y| y <= 2018)
}

/// The sentence of section 六 about fees (信息处理费), or empty.
fn fee_statement(other_matters: &str) -> String {
    other_matters
        .split(['。', '\n'])
        .find(|s| s.contains("信息处理费") || s.contains("收费") || s.contains("收取"))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The section headings found, over the normalised text they divide.
struct Sections<'a> {
    text: &'a str,
    heads: &'a [meta::Heading],
}

impl Sections<'_> {
    /// The ids of the sections found, in order.
    fn ids(&self) -> Vec<i32> {
        self.heads
            .iter()
            .map(|h| meta::section_id(h.section) as i32)
            .collect()
    }

    /// The heading of section `s` ([`SECTIONS`] index), when found.
    fn head(&self, s: usize) -> Option<&meta::Heading> {
        self.heads.iter().find(|h| h.section == s)
    }

    /// Where the first heading after section `s` starts (or the end of the text).
    fn next_start(&self, s: usize) -> usize {
        self.heads
            .iter()
            .find(|h| h.section > s)
            .map_or(self.text.len(), |h| h.start)
    }

    /// The text before the first heading.
    fn preamble(&self) -> String {
        self.text
            .get(..self.heads.first().map_or(0, |h| h.start))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// The heading and body of section `s`, when its heading was found.
    fn section_text(&self, s: usize) -> Option<pb::SectionText> {
        let h = self.head(s)?;
        let end = self.next_start(s);
        Some(pb::SectionText {
            heading: self
                .text
                .get(h.start..h.end)
                .unwrap_or("")
                .trim()
                .to_string(),
            text: self
                .text
                .get(h.end..end.max(h.end))
                .unwrap_or("")
                .trim()
                .to_string(),
        })
    }
}

/// Where tables 二, 三 and 四 lie in the normalised text, when found.
struct TableRegions {
    proactive: Option<(usize, usize)>,
    requests: Option<(usize, usize)>,
    review: Option<(usize, usize)>,
}

impl TableRegions {
    /// Each table starts after its section's heading (or, without one, at its first
    /// label) and runs to the start of the next table (table 四 to the next section).
    fn find(sections: &Sections<'_>, hits: &[lexicon::Hit]) -> TableRegions {
        let text = sections.text;
        let first_key =
            |pred: &dyn Fn(&Key) -> bool| hits.iter().find(|h| pred(&h.key)).map(|h| h.start);
        let start = |section: usize, label: &dyn Fn(&Key) -> bool| {
            sections
                .head(section)
                .map(|h| h.end)
                .or_else(|| first_key(label))
        };
        let t2_start = start(1, &|k| {
            matches!(k, Key::ProactiveHeader | Key::ProactiveRow(_))
        });
        let t3_start = start(2, &|k| matches!(k, Key::RequestRow(_)));
        let t4_start = start(3, &|k| matches!(k, Key::ReviewHeader));
        let after = |s: Option<usize>| s.unwrap_or(text.len());
        let t4_end = sections.next_start(3);
        TableRegions {
            proactive: t2_start.map(|a| (a, after(t3_start).max(a))),
            requests: t3_start.map(|a| (a, after(t4_start).max(a))),
            review: t4_start.map(|a| (a, t4_end.max(a))),
        }
    }
}

/// The format versions: the report's, and those tables 二 and 三 are read with.
struct Versions {
    report: FormatVersion,
    proactive: FormatVersion,
    requests: FormatVersion,
}

impl Versions {
    /// From the tables' own shapes first, then the version markers anywhere in the text,
    /// then the version expected for the year (2021 when unknown).
    fn detect(
        text: &str,
        compact: &lexicon::Compact,
        hits: &[lexicon::Hit],
        regions: &TableRegions,
        year: Option<i32>,
    ) -> Versions {
        let has = |m: &[&str]| m.iter().any(|k| compact.text.contains(k));
        let mut v2021 = has(&format::V2021_MARKERS);
        let v2019 = has(&format::V2019_MARKERS);
        let t2_version = regions
            .proactive
            .map(|(a, b)| proactive_version(sub(text, a, b)));
        let t3_version = regions
            .requests
            .and_then(|r| tables::requests_version(text, hits, r));
        if t3_version == Some(FormatVersion::V2021) {
            v2021 = true;
        }
        let report = match (t2_version, t3_version) {
            (Some(v @ (FormatVersion::V2019 | FormatVersion::V2021)), _) => v,
            (_, Some(v)) => v,
            _ if v2019 && !v2021 => FormatVersion::V2019,
            _ if v2021 => FormatVersion::V2021,
            _ => year.map_or(FormatVersion::V2021, format::expected_version),
        };
        let proactive = match t2_version {
            Some(v @ (FormatVersion::V2019 | FormatVersion::V2021)) => v,
            _ => report,
        };
        Versions {
            report,
            proactive,
            requests: t3_version.unwrap_or(report),
        }
    }
}

/// The version table 二's region shows by its markers: 2021 when it has a 2021 marker,
/// 2019 when it has only 2019 markers, else unspecified.
fn proactive_version(region: &str) -> FormatVersion {
    let region = lexicon::Compact::new(region);
    let r19 = format::V2019_MARKERS
        .iter()
        .any(|k| region.text.contains(k));
    let r21 = format::V2021_MARKERS
        .iter()
        .any(|k| region.text.contains(k));
    match (r21, r19) {
        (_, true) if !r21 => FormatVersion::V2019,
        (true, _) => FormatVersion::V2021,
        _ => FormatVersion::Unspecified,
    }
}

/// How the input laid its tables out: HTML, markdown pipes (at least five `| … |`
/// rows), pipe-terminated cells (at least twenty `… |` lines), glued digits, or spaced.
fn input_layout(text: &str, is_html: bool, glued: bool) -> InputLayout {
    if is_html {
        InputLayout::Html
    } else if text
        .lines()
        .filter(|l| {
            let t = l.trim();
            t.starts_with('|') && t.ends_with('|') && t.contains(|c: char| c != '|' && c != ' ')
        })
        .count()
        >= 5
    {
        InputLayout::Markdown
    } else if text
        .lines()
        .filter(|l| {
            let t = l.trim();
            t.ends_with('|') && !t.starts_with('|')
        })
        .count()
        >= 20
    {
        InputLayout::PipeCells
    } else if glued {
        InputLayout::Glued
    } else {
        InputLayout::Spaced
    }
}

fn out_missing(out: &mut tables::Out, zh: &str, en: &str, path: &str) {
    let d = Diag::new(
        dc::TABLE_MISSING,
        format!("未找到{zh}"),
        format!("{en} was not found"),
    )
    .path(path);
    out.diags.push(d);
    out.diag_spans.push(None);
}

fn version_name(v: FormatVersion) -> &'static str {
    match v {
        FormatVersion::V2019 => "2019",
        FormatVersion::V2021 => "2021",
        FormatVersion::Legacy => "2019年以前",
        FormatVersion::Unspecified => "未知",
    }
}

/// The lower-case hex of the SHA-256 of `bytes` (64 characters).
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_64_lower_case_digits() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
