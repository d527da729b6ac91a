//! The national report format, in one place: sections, tables, rows, columns, labels
//! and the tables' arithmetic relations, for both format versions.
//!
//! The parser's recogniser and solver and the validator's rules all read this module;
//! nothing else in nianbao spells a label or a relation. Ids are those of
//! `format.md`, and they are also the proto field names, so a [`CellRef::path`] is the
//! proto field path of the cell.

mod cells;
pub mod credit_code;
pub mod phrasing;
pub mod projection;
mod relations;

pub use cells::{all_cells, request_cell, request_row, CellRef, CellValue};
pub use relations::{relations, relations_containing, Relation, RelationKind};

use crate::pb::{FormatVersion, SectionId};

/// Which versions a row or column belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    Both,
    V2021Only,
    V2019Only,
}

impl Versions {
    pub fn includes(self, v: FormatVersion) -> bool {
        match self {
            Versions::Both => matches!(v, FormatVersion::V2019 | FormatVersion::V2021),
            Versions::V2021Only => v == FormatVersion::V2021,
            Versions::V2019Only => v == FormatVersion::V2019,
        }
    }
}

/// The kind of value a cell holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// A whole number ≥ 0.
    Count,
    /// A signed whole number (V2019 本年增/减).
    Signed,
    /// A money amount (fixed point), written in the given default unit.
    Money(crate::pb::MoneyUnit),
}

/// One column of a table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub id: &'static str,
    pub label: &'static str,
    pub kind: CellKind,
}

/// One data row of table 三 or table 二.
#[derive(Clone, Copy, Debug)]
pub struct RowSpec {
    /// Stable id (= proto field name).
    pub id: &'static str,
    /// Official label, without its numbering.
    pub label: &'static str,
    /// The label's own numbering as printed before it ("一", "(二)", "3"), normalised;
    /// empty when it has none. Needed to tell a label's number from the digits of
    /// the previous row when cells are glued (`…0000037` + `2.没有现成信息…`).
    pub numbering: &'static str,
    /// Distinctive substrings (NFKC-normalised, no whitespace) that identify the
    /// label even when it is truncated, mistyped or broken across lines. The first
    /// is the most specific.
    pub keys: &'static [&'static str],
    pub versions: Versions,
}

// ------------------------------------------------------------------ sections

/// A section heading of the national format.
#[derive(Clone, Copy, Debug)]
pub struct SectionSpec {
    pub id: SectionId,
    /// The report field holding the section (the proto field name).
    pub field: &'static str,
    /// Official heading without its numbering.
    pub heading: &'static str,
    /// The Chinese numeral the format gives it.
    pub numeral: &'static str,
    /// Substrings that identify the heading (after a numeral like "三、").
    pub keys: &'static [&'static str],
}

pub const SECTIONS: [SectionSpec; 6] = [
    SectionSpec {
        id: SectionId::Overview,
        field: "overview",
        heading: "总体情况",
        numeral: "一",
        keys: &["总体情况", "概述"],
    },
    SectionSpec {
        id: SectionId::Proactive,
        field: "proactive",
        heading: "主动公开政府信息情况",
        numeral: "二",
        keys: &["主动公开政府信息情况", "主动公开政府信息"],
    },
    SectionSpec {
        id: SectionId::Requests,
        field: "requests",
        heading: "收到和处理政府信息公开申请情况",
        numeral: "三",
        keys: &["收到和处理政府信息公开申请", "收到和处理政府信息公开"],
    },
    SectionSpec {
        id: SectionId::ReviewLitigation,
        field: "review_litigation",
        heading: "政府信息公开行政复议、行政诉讼情况",
        numeral: "四",
        keys: &[
            "行政复议、行政诉讼",
            "行政复议和提起行政诉讼",
            "行政复议和行政诉讼",
            "行政复议与行政诉讼",
            "行政法复议",
            "行政复议,行政诉讼",
            "行政复议、提起行政诉讼",
        ],
    },
    SectionSpec {
        id: SectionId::Problems,
        field: "problems",
        heading: "存在的主要问题及改进情况",
        numeral: "五",
        keys: &["存在的主要问题", "主要问题及改进"],
    },
    SectionSpec {
        id: SectionId::OtherMatters,
        field: "other_matters",
        heading: "其他需要报告的事项",
        numeral: "六",
        keys: &["其他需要报告的事项", "其他需要报告事项"],
    },
];

// ------------------------------------------------------------------ table 三

use crate::pb::MoneyUnit;

const fn count(id: &'static str, label: &'static str) -> Column {
    Column {
        id,
        label,
        kind: CellKind::Count,
    }
}

/// Table 三 columns, in printed order. The first six are `COLS6` (the applicants).
pub const REQUEST_COLUMNS: [Column; 7] = [
    count("natural_person", "自然人"),
    count("commercial_enterprise", "商业企业"),
    count("research_institution", "科研机构"),
    count("public_welfare_org", "社会公益组织"),
    count("legal_service_org", "法律服务机构"),
    count("other_org", "其他"),
    count("total", "总计"),
];

/// Index of the 总计 column in [`REQUEST_COLUMNS`].
pub const REQUEST_TOTAL_COL: usize = 6;

const fn row(
    id: &'static str,
    label: &'static str,
    numbering: &'static str,
    keys: &'static [&'static str],
    versions: Versions,
) -> RowSpec {
    RowSpec {
        id,
        label,
        numbering,
        keys,
        versions,
    }
}

/// Every data row of table 三 in proto field order (index = proto field number − 1).
/// The printed order of a version is [`requests_rows`].
pub const REQUEST_ROWS: [RowSpec; 26] = [
    row(
        "new_received",
        "本年新收政府信息公开申请数量",
        "一",
        &["本年新收政府信息公开申请", "本年新收"],
        Versions::Both,
    ),
    row(
        "carried_over",
        "上年结转政府信息公开申请数量",
        "二",
        &["上年结转政府信息公开申请", "上年结转"],
        Versions::Both,
    ),
    row("granted", "予以公开", "(一)", &["予以公开"], Versions::Both),
    row(
        "partially_granted",
        "部分公开(区分处理的,只计这一情形,不计其他情形)",
        "(二)",
        &["部分公开"],
        Versions::Both,
    ),
    row(
        "denied_state_secret",
        "属于国家秘密",
        "1",
        &["国家秘密"],
        Versions::Both,
    ),
    row(
        "denied_prohibited_by_law",
        "其他法律行政法规禁止公开",
        "2",
        &["法律行政法规禁止公开", "行政法规禁止", "禁止公开"],
        Versions::Both,
    ),
    row(
        "denied_security_stability",
        "危及\"三安全一稳定\"",
        "3",
        &["三安全一稳定", "三安全"],
        Versions::Both,
    ),
    row(
        "denied_third_party_rights",
        "保护第三方合法权益",
        "4",
        &["第三方合法权益", "保护第三方"],
        Versions::Both,
    ),
    row(
        "denied_internal_affairs",
        "属于三类内部事务信息",
        "5",
        &["三类内部事务", "内部事务"],
        Versions::Both,
    ),
    row(
        "denied_process_info",
        "属于四类过程性信息",
        "6",
        &["四类过程性", "过程性信息"],
        Versions::Both,
    ),
    row(
        "denied_enforcement_file",
        "属于行政执法案卷",
        "7",
        &["行政执法案卷", "执法案卷"],
        Versions::Both,
    ),
    row(
        "denied_admin_inquiry",
        "属于行政查询事项",
        "8",
        &["行政查询事项", "行政查询"],
        Versions::Both,
    ),
    row(
        "unable_not_held",
        "本机关不掌握相关政府信息",
        "1",
        &["不掌握相关政府信息", "不掌握"],
        Versions::Both,
    ),
    row(
        "unable_needs_creation",
        "没有现成信息需要另行制作",
        "2",
        &["没有现成信息", "另行制作"],
        Versions::Both,
    ),
    row(
        "unable_unclear_after_correction",
        "补正后申请内容仍不明确",
        "3",
        &["补正后申请内容", "仍不明确"],
        Versions::Both,
    ),
    row(
        "not_processed_complaint",
        "信访举报投诉类申请",
        "1",
        &["信访举报投诉", "信访举报"],
        Versions::Both,
    ),
    row(
        "not_processed_duplicate",
        "重复申请",
        "2",
        &["2.重复申请", "重复申请"],
        Versions::Both,
    ),
    row(
        "not_processed_publication",
        "要求提供公开出版物",
        "3",
        &["公开出版物"],
        Versions::Both,
    ),
    row(
        "not_processed_excessive",
        "无正当理由大量反复申请",
        "4",
        &["大量反复申请", "大量反复"],
        Versions::Both,
    ),
    row(
        "not_processed_confirm_reissue",
        "要求行政机关确认或重新出具已获取信息",
        "5",
        &["确认或重新出具", "重新出具"],
        Versions::Both,
    ),
    row(
        "other_no_correction",
        "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "1",
        &["逾期不补正"],
        Versions::V2021Only,
    ),
    row(
        "other_fee_unpaid",
        "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        "2",
        &["收费通知要求缴纳", "收费通知", "缴纳费用"],
        Versions::V2021Only,
    ),
    row("other_misc", "其他", "3", &["3.其他"], Versions::V2021Only),
    row(
        "results_total",
        "总计",
        "(七)",
        &["(七)总计", "七)总计"],
        Versions::Both,
    ),
    row(
        "carried_forward",
        "结转下年度继续办理",
        "四",
        &["结转下年度继续办理", "结转下年度", "结转下一年度"],
        Versions::Both,
    ),
    row(
        "other_handling",
        "其他处理",
        "(六)",
        &["(六)其他处理", "(六)其他"],
        Versions::V2019Only,
    ),
];

/// The group labels of table 三 as printed (merged cells spanning sub-rows; they
/// carry no numbers), each with the id of the first row it heads.
pub const REQUEST_GROUPS: [(&str, &str); 5] = [
    ("三、本年度办理结果", "granted"),
    ("(三)不予公开", "denied_state_secret"),
    ("(四)无法提供", "unable_not_held"),
    ("(五)不予处理", "not_processed_complaint"),
    ("(六)其他处理", "other_no_correction"),
];

/// Keys that find table-三 group labels in text, with the typos seen in published
/// reports (不子公开).
pub const REQUEST_GROUP_KEYS: [&str; 6] = [
    "本年度办理结果",
    "(三)不予公开",
    "(三)不子公开",
    "(四)无法提供",
    "(五)不予处理",
    "(六)其他处理",
];

/// Proto field index (0-based) of a table-三 row id.
pub fn request_row_index(id: &str) -> Option<usize> {
    REQUEST_ROWS.iter().position(|r| r.id == id)
}

/// Table 三 rows of one version, in printed order, as indexes into [`REQUEST_ROWS`].
pub fn requests_rows(version: FormatVersion) -> &'static [usize] {
    // V2021: 25 rows; V2019: 23 rows with （六）其他处理 as one row.
    const V2021: [usize; 25] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    ];
    const V2019: [usize; 23] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 25, 23, 24,
    ];
    match version {
        FormatVersion::V2019 => &V2019,
        _ => &V2021,
    }
}

/// The rows that `results_total` sums (A3), as indexes into [`REQUEST_ROWS`].
pub fn result_leaf_rows(version: FormatVersion) -> &'static [usize] {
    let rows = requests_rows(version);
    // Everything between carried_over and results_total.
    &rows[2..rows.len() - 2]
}

// ------------------------------------------------------------------ table 四

/// Table 四 groups, in printed order.
pub const REVIEW_GROUPS: [(&str, &str); 3] = [
    ("review", "行政复议"),
    ("litigation_direct", "行政诉讼·未经复议直接起诉"),
    ("litigation_after_review", "行政诉讼·复议后起诉"),
];

/// Table 四 columns of each group, in printed order; the last is the group total.
pub const REVIEW_COLUMNS: [Column; 5] = [
    count("upheld", "结果维持"),
    count("corrected", "结果纠正"),
    count("other_outcome", "其他结果"),
    count("pending", "尚未审结"),
    count("total", "总计"),
];

/// Header words of table 四 (they precede its one data row).
pub const REVIEW_HEADER_KEYS: [&str; 8] = [
    "结果维持",
    "结果纠正",
    "其他结果",
    "尚未审结",
    "未经复议直接起诉",
    "复议后起诉",
    "维持",
    "审结",
];

// ------------------------------------------------------------------ table 二

/// One row of table 二 with its columns in each version.
#[derive(Clone, Copy, Debug)]
pub struct ProactiveRowSpec {
    pub id: &'static str,
    pub label: &'static str,
    /// Sub-table caption, e.g. "第二十条第(一)项".
    pub caption: &'static str,
    pub keys: &'static [&'static str],
    pub v2021: &'static [Column],
    pub v2019: &'static [Column],
}

impl ProactiveRowSpec {
    pub fn columns(&self, version: FormatVersion) -> &'static [Column] {
        match version {
            FormatVersion::V2019 => self.v2019,
            _ => self.v2021,
        }
    }
}

const DOC_V2021: [Column; 3] = [
    count("issued", "本年制发件数"),
    count("repealed", "本年废止件数"),
    count("in_force", "现行有效件数"),
];
const DOC_V2019: [Column; 3] = [
    count("newly_made", "本年新制作数量"),
    count("newly_published", "本年新公开数量"),
    count("total_published", "对外公开总数量"),
];
const DECISIONS_V2021: [Column; 1] = [count("decisions", "本年处理决定数量")];
const ITEMS_V2019: [Column; 3] = [
    count("prev_year_items", "上一年项目数量"),
    Column {
        id: "change_this_year",
        label: "本年增/减",
        kind: CellKind::Signed,
    },
    count("decisions", "处理决定数量"),
];
const FEES_V2021: [Column; 1] = [Column {
    id: "amount",
    label: "本年收费金额(单位:万元)",
    kind: CellKind::Money(MoneyUnit::WanYuan),
}];
const FEES_V2019: [Column; 2] = [
    count("prev_year_items", "上一年项目数量"),
    Column {
        id: "change_this_year",
        label: "本年增/减",
        kind: CellKind::Signed,
    },
];
const PROCUREMENT_V2019: [Column; 2] = [
    count("procurement_projects", "采购项目数量"),
    Column {
        id: "procurement_amount",
        label: "采购总金额",
        kind: CellKind::Money(MoneyUnit::Unspecified),
    },
];

/// Table 二 rows in printed order (and proto field order).
pub const PROACTIVE_ROWS: [ProactiveRowSpec; 8] = [
    ProactiveRowSpec {
        id: "regulations",
        label: "规章",
        caption: "第二十条第(一)项",
        keys: &["规章"],
        v2021: &DOC_V2021,
        v2019: &DOC_V2019,
    },
    ProactiveRowSpec {
        id: "normative_documents",
        label: "行政规范性文件",
        caption: "第二十条第(一)项",
        keys: &["行政规范性文件", "规范性文件"],
        v2021: &DOC_V2021,
        v2019: &DOC_V2019,
    },
    ProactiveRowSpec {
        id: "administrative_licensing",
        label: "行政许可",
        caption: "第二十条第(五)项",
        keys: &["行政许可"],
        v2021: &DECISIONS_V2021,
        v2019: &ITEMS_V2019,
    },
    ProactiveRowSpec {
        id: "other_external_services",
        label: "其他对外管理服务事项",
        caption: "第二十条第(五)项",
        keys: &["其他对外管理服务事项", "对外管理服务"],
        v2021: &[],
        v2019: &ITEMS_V2019,
    },
    ProactiveRowSpec {
        id: "administrative_penalty",
        label: "行政处罚",
        caption: "第二十条第(六)项",
        keys: &["行政处罚"],
        v2021: &DECISIONS_V2021,
        v2019: &ITEMS_V2019,
    },
    ProactiveRowSpec {
        id: "administrative_coercion",
        label: "行政强制",
        caption: "第二十条第(六)项",
        keys: &["行政强制"],
        v2021: &DECISIONS_V2021,
        v2019: &ITEMS_V2019,
    },
    ProactiveRowSpec {
        id: "administrative_fees",
        label: "行政事业性收费",
        caption: "第二十条第(八)项",
        keys: &["行政事业性收费"],
        v2021: &FEES_V2021,
        v2019: &FEES_V2019,
    },
    ProactiveRowSpec {
        id: "centralized_procurement",
        label: "政府集中采购",
        caption: "第二十条第(九)项",
        keys: &["政府集中采购"],
        v2021: &[],
        v2019: &PROCUREMENT_V2019,
    },
];

/// Table 二 rows present in a version, as indexes into [`PROACTIVE_ROWS`].
pub fn proactive_rows(version: FormatVersion) -> &'static [usize] {
    match version {
        FormatVersion::V2019 => &[0, 1, 2, 3, 4, 5, 6, 7],
        _ => &[0, 1, 2, 4, 5, 6],
    }
}

// ------------------------------------------------------------------ versions

/// Labels that only the V2021 format prints (§2 of the format specification),
/// with a typo seen in published reports (先行有效件数).
pub const V2021_MARKERS: [&str; 6] = [
    "本年制发件数",
    "先行有效件数",
    "本年处理决定数量",
    "本年收费金额",
    "逾期不补正",
    "收费通知",
];

/// Labels that only the V2019 format prints.
pub const V2019_MARKERS: [&str; 7] = [
    "本年新制作数量",
    "对外公开总数量",
    "上一年项目数量",
    "本年增/减",
    "第二十条第(九)项",
    "政府集中采购",
    "本年新公开数量",
];

/// The version the national format prescribes for a report year.
pub fn expected_version(year: i32) -> FormatVersion {
    match year {
        ..=2018 => FormatVersion::Legacy,
        2019 | 2020 => FormatVersion::V2019,
        _ => FormatVersion::V2021,
    }
}

/// The title suffix every report carries.
pub const TITLE_SUFFIX: &str = "政府信息公开工作年度报告";

/// The amount in fen (0.01 yuan) of a plain decimal written in `unit`: 1 万元 is
/// 10⁶ fen, 1 元 is 100 fen. `None` when the unit is unknown, the text is not a
/// plain decimal, it is finer than a fen, or it overflows.
pub fn fen(decimal: &str, unit: MoneyUnit) -> Option<i64> {
    let scale: usize = match unit {
        MoneyUnit::WanYuan => 6,
        MoneyUnit::Yuan => 2,
        MoneyUnit::Unspecified => return None,
    };
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > scale {
        return None;
    }
    let int: i64 = int.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<scale$}").parse().ok()?
    };
    int.checked_mul(10i64.pow(scale as u32))?.checked_add(frac)
}
