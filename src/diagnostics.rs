//! Parse diagnostics: the catalogue of codes and a small builder.
//!
//! Every diagnostic the parser emits has a stable code listed in [`CATALOGUE`];
//! `docs/diagnostics.md` is checked against it by a test.

use crate::pb::{self, Severity};

/// One entry of the diagnostic catalogue.
#[derive(Clone, Copy, Debug)]
pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    pub title: &'static str,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $sev:ident, $title:literal;)*) => {
        $(pub const $name: Code = Code { code: $code, severity: Severity::$sev, title: $title };)*
        /// Every parse diagnostic code, in code order.
        pub const CATALOGUE: &[Code] = &[$($name),*];
    };
}

codes! {
    EMPTY_INPUT = "P001", Error, "The input is empty";
    BINARY_INPUT = "P002", Error, "The input is not text";
    INPUT_TOO_LARGE = "P003", Error, "The input exceeds the size limit";
    ENCODING = "P004", Info, "The input was decoded from a legacy encoding";
    DECODE_ERRORS = "P005", Warning, "Some bytes could not be decoded and were replaced";
    UNKNOWN_CHARSET = "P006", Error, "The named charset is not known";
    NOT_A_REPORT = "P010", Error, "The input does not look like an annual report";
    VERSION_MIXED = "P011", Warning, "Tables follow different format versions";
    VERSION_UNKNOWN = "P012", Error, "The format version could not be determined";
    LEGACY_FORMAT = "P013", Info, "A pre-2019 report: its free-form tables are not read";
    SECTION_MISSING = "P020", Warning, "A section heading was not found";
    TABLE_MISSING = "P030", Error, "A table was not found";
    ROW_MISSING = "P031", Error, "A table row was not found";
    CELLS_MISSING = "P032", Error, "A row has fewer cells than the format requires";
    CELLS_RECOVERED = "P033", Info, "Missing cells were recovered from the arithmetic";
    SPLIT_UNIQUE = "P034", Info, "Glued cells were split; one reading fits";
    SPLIT_AMBIGUOUS = "P035", Error, "Glued cells have several readings; left absent";
    SPLIT_IMPOSSIBLE = "P036", Error, "No reading of the row's cells fits";
    EXTRA_CELLS = "P037", Warning, "A row has more values than the format has cells";
    BAD_VALUE = "P038", Error, "A cell's value cannot be read as a number";
    ROW_BY_POSITION = "P039", Info, "An unlabelled row was assigned by its position";
    METADATA_MISSING = "P040", Warning, "Report metadata (year, agency, title) was not found";
    BUDGET_EXCEEDED = "P050", Error, "The parser's work limit was reached";
}

/// Builder for a [`pb::Diagnostic`].
#[derive(Debug)]
pub struct Diag(pb::Diagnostic);

impl Diag {
    pub fn new(code: Code, zh: impl Into<String>, en: impl Into<String>) -> Diag {
        Diag(pb::Diagnostic {
            code: code.code.to_string(),
            severity: code.severity as i32,
            message: zh.into(),
            message_en: en.into(),
            field_paths: Vec::new(),
            span: None,
            candidates: Vec::new(),
        })
    }

    pub fn path(mut self, p: impl Into<String>) -> Diag {
        self.0.field_paths.push(p.into());
        self
    }

    pub fn paths(mut self, ps: impl IntoIterator<Item = String>) -> Diag {
        self.0.field_paths.extend(ps);
        self
    }

    pub fn span(mut self, s: Option<pb::SourceSpan>) -> Diag {
        self.0.span = s;
        self
    }

    pub fn candidate(mut self, cells: Vec<(String, String)>) -> Diag {
        self.0.candidates.push(pb::Candidate {
            cells: cells
                .into_iter()
                .map(|(field_path, value)| pb::CellValue { field_path, value })
                .collect(),
        });
        self
    }

    pub fn build(self) -> pb::Diagnostic {
        self.0
    }
}

/// Whether any diagnostic is an error.
pub fn has_errors(diags: &[pb::Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error as i32)
}
