//! Writes a generated report out as a whole published report in one of the four
//! layouts the parser meets: pipe-cells, HTML, spaced and glued.
//!
//! One document model ([`Block`]s, tables as grids of [`Cell`]s with colspan and
//! rowspan, the way Word exports the official tables) is built from the report and
//! the format catalogue, then printed per layout. Every label comes from
//! `nianbao::format`; only the header words the catalogue does not hold (信息内容,
//! 申请人情况, 法人或其他组织, the 勾稽 note) are spelled here.

use nianbao::format::{
    self, CellKind, CellRef, CellValue, RowSpec, PROACTIVE_ROWS, REQUEST_COLUMNS, REQUEST_GROUPS,
    REQUEST_ROWS, REQUEST_TOTAL_COL, REVIEW_COLUMNS, REVIEW_GROUPS, SECTIONS,
};
use nianbao::pb::SectionId;

use super::gen::{Generated, Style};

/// The four layouts of the property tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One cell per line ending in " |", merged runs as lines of only `|`s
    /// (corpus 000).
    PipeCells,
    /// A Word-exported web page: `<table>` with rowspan/colspan, every cell in
    /// `<p class=MsoNormal><span>` (corpus 004_render.html).
    Html,
    /// Whitespace-separated cells, one table row per line (corpus 020).
    Spaced,
    /// The flattened crawl: a row's values glued with no separator, rows and
    /// paragraphs run together on one line (corpus 004).
    Glued,
}

impl Layout {
    pub fn extension(self) -> &'static str {
        match self {
            Layout::Html => "html",
            _ => "txt",
        }
    }
}

/// What a table cell holds (the glued layout separates them differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellRole {
    Header,
    Label,
    Value,
}

#[derive(Clone, Debug)]
pub struct Cell {
    pub text: String,
    pub colspan: usize,
    pub rowspan: usize,
    pub role: CellRole,
}

impl Cell {
    fn new(role: CellRole, text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            colspan: 1,
            rowspan: 1,
            role,
        }
    }
    fn span(mut self, colspan: usize, rowspan: usize) -> Cell {
        self.colspan = colspan;
        self.rowspan = rowspan;
        self
    }
}

/// A table as Word exports it: rows hold the cells that start in them.
#[derive(Clone, Debug)]
pub struct Table {
    pub width: usize,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Clone, Debug)]
pub enum Block {
    Title(String),
    Para(String),
    Heading(String),
    Table(Table),
}

// ------------------------------------------------------------------ text

/// Catalogue labels are NFKC-normalised ASCII punctuation; published reports mostly
/// use the full-width forms.
pub fn punct(style: &Style, s: &str) -> String {
    if !style.fullwidth {
        return s.to_string();
    }
    let mut open = true;
    s.chars()
        .map(|c| match c {
            '(' => '（',
            ')' => '）',
            ',' => '，',
            ':' => '：',
            '"' => {
                let q = if open { '“' } else { '”' };
                open = !open;
                q
            }
            c => c,
        })
        .collect()
}

/// A row label with its own numbering, as printed: 一、…, (一)…, 1.…
pub fn numbered_label(style: &Style, spec: &RowSpec) -> String {
    let n = spec.numbering;
    let text = if n.is_empty() {
        spec.label.to_string()
    } else if n.starts_with('(') {
        format!("{n}{}", spec.label)
    } else if n.bytes().all(|b| b.is_ascii_digit()) {
        format!("{n}.{}", spec.label)
    } else {
        format!("{n}、{}", spec.label)
    };
    punct(style, &text)
}

/// The text of a value cell as published.
pub fn cell_text(g: &Generated, cell: CellRef) -> String {
    match cell.get(&g.report) {
        None => String::new(),
        Some(CellValue::Int(v))
            if v > 0 && g.style.plus_sign && cell.kind() == CellKind::Signed =>
        {
            format!("+{v}")
        }
        Some(CellValue::Int(v)) => v.to_string(),
        Some(CellValue::Money(m)) => m.raw,
    }
}

fn pick<'a>(options: &[&'a str], n: u8) -> &'a str {
    options[usize::from(n) % options.len()]
}

/// Prose for a section. It names no label of the format (a test checks this), so
/// it cannot be mistaken for a table row.
pub fn prose(g: &Generated, id: SectionId) -> Vec<String> {
    let a = &g.agency;
    let p = &g.style.prose;
    let lines: Vec<String> = match id {
        SectionId::Overview => vec![
            pick(
                &[
                    "本年度，{a}认真贯彻落实《中华人民共和国政府信息公开条例》，坚持以公开为常态、不公开为例外，持续深化政务公开工作。",
                    "本年度，{a}紧紧围绕中心工作，依法有序推进政务公开，不断提升工作透明度。",
                ],
                p[0],
            )
            .replace("{a}", a),
            pick(
                &[
                    "主动公开方面，及时发布政策文件、规划计划和政务动态，拓宽发布渠道。",
                    "主动公开方面，聚焦重点领域信息发布，做好政策解读和回应关切。",
                ],
                p[0] / 2,
            )
            .to_string(),
            "依申请公开方面，规范受理、办理、答复等环节，确保答复依法、及时、规范。".to_string(),
            "政府信息管理方面，健全信息发布审核机制，落实保密审查制度，做好动态更新。".to_string(),
            "平台建设方面，优化门户网站专栏设置，加强政务新媒体管理。".to_string(),
            "监督保障方面，将政务公开纳入绩效考核，强化培训和督查，落实社会评议和责任追究制度。".to_string(),
        ],
        SectionId::Proactive => vec![pick(
            &[
                "本机关通过门户网站、政务新媒体等渠道及时发布政务信息，有关数据如下。",
                "本年度主动发布信息情况统计如下。",
            ],
            p[1],
        )
        .to_string()],
        SectionId::Requests => vec![pick(
            &[
                "本机关严格按照法定时限办理各类申请，有关数据如下。",
                "本年度申请办理情况统计如下。",
            ],
            p[2],
        )
        .to_string()],
        SectionId::ReviewLitigation => vec![pick(&["本年度有关案件办理情况如下。", "有关案件情况统计如下。"], p[3]).to_string()],
        SectionId::Problems => vec![
            "主要问题：政策解读形式还不够丰富，信息发布的及时性有待提高。".to_string(),
            pick(
                &[
                    "改进措施：丰富解读形式，加强信息发布审核，提升工作质效。",
                    "下一步，将加强业务培训，完善工作机制，推动政务公开工作提质增效。",
                ],
                p[4],
            )
            .to_string(),
        ],
        SectionId::OtherMatters => vec![match g.version {
            nianbao::pb::FormatVersion::V2021 => {
                pick(&["本年度未收取信息处理费。", "本年度未收取信息处理费，无需要说明的情况。"], p[5]).to_string()
            }
            _ => "本年度无需要说明的情况。".to_string(),
        }],
        SectionId::Unspecified => Vec::new(),
    };
    lines
}

/// The preamble: legal basis, statistical period, contact.
pub fn preamble(g: &Generated) -> String {
    let (a, y) = (&g.agency, g.report.year);
    format!(
        "根据《中华人民共和国政府信息公开条例》（以下简称《条例》）规定，现公布{a}{y}年政府信息公开工作年度报告。\
         本报告中所列数据的统计期限自{y}年1月1日起至{y}年12月31日止。本报告电子版可在{a}门户网站下载。\
         如对本报告有疑问，请与{a}办公室联系。"
    )
}

// ------------------------------------------------------------------ tables

/// Table 二: one sub-table per 第二十条 caption, a 信息内容 header row, then the rows.
pub fn table_two(g: &Generated) -> Table {
    let s = &g.style;
    let v = g.version;
    let rows = format::proactive_rows(v);
    let slots = rows
        .iter()
        .map(|&r| PROACTIVE_ROWS[r].columns(v).len())
        .max()
        .unwrap_or(1);
    let width = 1 + slots;
    // Spread n cells over the slots: the last one takes what is left (as Word does).
    let spread = |cells: Vec<Cell>| -> Vec<Cell> {
        let n = cells.len();
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c.span(slots - (n - 1), 1)
                } else {
                    c
                }
            })
            .collect()
    };
    let mut out = Vec::new();
    let mut caption = "";
    for &r in rows {
        let spec = &PROACTIVE_ROWS[r];
        let cols = spec.columns(v);
        if spec.caption != caption {
            caption = spec.caption;
            out.push(vec![
                Cell::new(CellRole::Header, punct(s, caption)).span(width, 1)
            ]);
            let mut header = vec![Cell::new(CellRole::Header, "信息内容")];
            header.extend(spread(
                cols.iter()
                    .map(|c| Cell::new(CellRole::Header, punct(s, c.label)))
                    .collect(),
            ));
            out.push(header);
        }
        let mut row = vec![Cell::new(CellRole::Label, punct(s, spec.label))];
        row.extend(spread(
            cols.iter()
                .map(|c| {
                    Cell::new(
                        CellRole::Value,
                        cell_text(
                            g,
                            CellRef::Proactive {
                                row: r as u8,
                                col: c.id,
                            },
                        ),
                    )
                })
                .collect(),
        ));
        out.push(row);
    }
    Table { width, rows: out }
}

/// Table 三 with its three header rows and the merged group labels of
/// `format::REQUEST_GROUPS` (三、本年度办理结果, （三）…（六）) spanning their rows.
pub fn table_three(g: &Generated) -> Table {
    let s = &g.style;
    let v = g.version;
    let width = 3 + REQUEST_COLUMNS.len();
    let mut out = vec![
        vec![
            Cell::new(
                CellRole::Header,
                punct(
                    s,
                    "(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)",
                ),
            )
            .span(3, 3),
            Cell::new(CellRole::Header, "申请人情况").span(REQUEST_COLUMNS.len(), 1),
        ],
        vec![
            Cell::new(CellRole::Header, REQUEST_COLUMNS[0].label).span(1, 2),
            Cell::new(CellRole::Header, "法人或其他组织").span(REQUEST_TOTAL_COL - 1, 1),
            Cell::new(CellRole::Header, REQUEST_COLUMNS[REQUEST_TOTAL_COL].label).span(1, 2),
        ],
        REQUEST_COLUMNS[1..REQUEST_TOTAL_COL]
            .iter()
            .map(|c| Cell::new(CellRole::Header, c.label))
            .collect(),
    ];
    let rows = format::requests_rows(v);
    let leaves = format::result_leaf_rows(v);
    let results_total = rows[rows.len() - 2];
    let numbered = |r: usize| {
        let n = REQUEST_ROWS[r].numbering;
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    };
    // The group label (if any) whose merged cell starts at a row.
    let group_at = |r: usize| {
        REQUEST_GROUPS
            .iter()
            .find(|(_, first)| REQUEST_ROWS[r].id == *first)
            .map(|(label, _)| *label)
    };
    for (i, &r) in rows.iter().enumerate() {
        let spec = &REQUEST_ROWS[r];
        let mut row = Vec::new();
        if let Some(group) = group_at(r) {
            // 三、本年度办理结果 spans every result row and （七）总计; （三）…（六）
            // span their numbered rows up to the next group.
            let span = if leaves.first() == Some(&r) {
                leaves.len() + 1
            } else {
                1 + rows[i + 1..]
                    .iter()
                    .take_while(|&&x| numbered(x) && group_at(x).is_none())
                    .count()
            };
            row.push(Cell::new(CellRole::Label, punct(s, group)).span(1, span));
        }
        let label = Cell::new(CellRole::Label, numbered_label(s, spec));
        if numbered(r) {
            row.push(label);
        } else if leaves.contains(&r) || r == results_total {
            row.push(label.span(2, 1));
        } else {
            row.push(label.span(3, 1));
        }
        for c in 0..REQUEST_COLUMNS.len() {
            row.push(Cell::new(
                CellRole::Value,
                cell_text(g, CellRef::request(r, c)),
            ));
        }
        out.push(row);
    }
    Table { width, rows: out }
}

/// Table 四: 行政复议 | 行政诉讼 over the three groups of five columns, one value row.
pub fn table_four(g: &Generated) -> Table {
    let n = REVIEW_COLUMNS.len();
    let width = n * REVIEW_GROUPS.len();
    // "行政诉讼·未经复议直接起诉" -> ("行政诉讼", "未经复议直接起诉")
    let split = |label: &'static str| label.split_once('·').unwrap_or(("", label));
    let (litigation, direct) = split(REVIEW_GROUPS[1].1);
    let (_, after_review) = split(REVIEW_GROUPS[2].1);
    let col = |c: &format::Column| Cell::new(CellRole::Header, c.label);
    let mut second: Vec<Cell> = REVIEW_COLUMNS.iter().map(|c| col(c).span(1, 2)).collect();
    second.push(Cell::new(CellRole::Header, direct).span(n, 1));
    second.push(Cell::new(CellRole::Header, after_review).span(n, 1));
    let third: Vec<Cell> = REVIEW_COLUMNS
        .iter()
        .chain(REVIEW_COLUMNS.iter())
        .map(col)
        .collect();
    let values: Vec<Cell> = (0..REVIEW_GROUPS.len())
        .flat_map(|gi| (0..n).map(move |c| (gi, c)))
        .map(|(gi, c)| Cell::new(CellRole::Value, cell_text(g, CellRef::review(gi, c))))
        .collect();
    Table {
        width,
        rows: vec![
            vec![
                Cell::new(CellRole::Header, REVIEW_GROUPS[0].1).span(n, 1),
                Cell::new(CellRole::Header, litigation).span(width - n, 1),
            ],
            second,
            third,
            values,
        ],
    }
}

/// The whole report as blocks: title, preamble, six sections (tables under 二/三/四),
/// signature.
pub fn document(g: &Generated) -> Vec<Block> {
    let mut out = vec![
        Block::Title(g.report.title.clone()),
        Block::Para(preamble(g)),
    ];
    for sec in &SECTIONS {
        out.push(Block::Heading(punct(
            &g.style,
            &format!("{}、{}", sec.numeral, sec.heading),
        )));
        out.extend(prose(g, sec.id).into_iter().map(Block::Para));
        match sec.id {
            SectionId::Proactive => out.push(Block::Table(table_two(g))),
            SectionId::Requests => out.push(Block::Table(table_three(g))),
            SectionId::ReviewLitigation => out.push(Block::Table(table_four(g))),
            _ => {}
        }
    }
    out.push(Block::Para(g.agency.clone()));
    out.push(Block::Para(format!("{}年1月20日", g.report.year + 1)));
    out
}

// ------------------------------------------------------------------ layouts

/// Renders a generated report in a layout.
pub fn render(g: &Generated, layout: Layout) -> String {
    let doc = document(g);
    match layout {
        Layout::PipeCells => pipe_cells(&doc),
        Layout::Html => html(g, &doc),
        Layout::Spaced => spaced(&doc),
        Layout::Glued => glued(g, &doc),
    }
}

fn pipe_cells(doc: &[Block]) -> String {
    let mut lines = Vec::new();
    for b in doc {
        match b {
            Block::Title(t) | Block::Para(t) | Block::Heading(t) => lines.push(t.clone()),
            Block::Table(t) => {
                for (i, row) in t.rows.iter().enumerate() {
                    for c in row {
                        lines.push(format!("{} |", c.text));
                    }
                    // The exporter closes every row but the table's last with a run of
                    // one `|` per grid position the row's own cells do not start.
                    if i + 1 < t.rows.len() && t.width > row.len() {
                        lines.push("|".repeat(t.width - row.len()));
                    }
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

fn spaced(doc: &[Block]) -> String {
    let mut lines = Vec::new();
    for b in doc {
        match b {
            Block::Title(t) | Block::Para(t) | Block::Heading(t) => lines.push(t.clone()),
            Block::Table(t) => {
                for row in &t.rows {
                    lines.push(
                        row.iter()
                            .map(|c| c.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    );
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

fn glued(g: &Generated, doc: &[Block]) -> String {
    let (label_gap, header_gap) = (
        if g.style.label_gap { " " } else { "" },
        if g.style.header_gap { " " } else { "" },
    );
    let mut title = String::new();
    let mut body: Vec<String> = Vec::new();
    for b in doc {
        match b {
            Block::Title(t) => title = t.clone(),
            Block::Para(t) | Block::Heading(t) => body.push(t.clone()),
            Block::Table(t) => {
                let mut text = String::new();
                let mut prev: Option<CellRole> = None;
                for c in t.rows.iter().flatten() {
                    let sep = match (prev, c.role) {
                        (None, _) => "",
                        (Some(CellRole::Header), CellRole::Header | CellRole::Label) => header_gap,
                        (Some(CellRole::Header | CellRole::Label), CellRole::Value) => label_gap,
                        _ => "",
                    };
                    text.push_str(sep);
                    text.push_str(&c.text);
                    prev = Some(c.role);
                }
                body.push(text);
            }
        }
    }
    format!("{title}\n{}\n", body.join(" "))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(g: &Generated, doc: &[Block]) -> String {
    let title = escape(&g.report.title);
    let mut out = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\n\
         <div class=\"header\"><a href=\"/\">首页</a> &gt; <a href=\"/zwgk/\">政务公开</a> &gt; 政府信息公开年报</div>\n"
    );
    for b in doc {
        match b {
            Block::Title(t) => {
                out.push_str(&format!("<h1 class=\"article-title\">{}</h1>\n", escape(t)));
                out.push_str(&format!(
                    "<div class=\"info\">发布时间：{}-01-20 09:30</div>\n<div class=\"TRS_Editor\"><div class=WordSection1>\n",
                    g.report.year + 1
                ));
            }
            Block::Para(t) => out.push_str(&format!(
                "<p class=MsoNormal style=\"text-indent:32.0pt;line-height:28.0pt\"><span style=\"font-size:16.0pt;font-family:仿宋_GB2312\">{}</span></p>\n",
                escape(t)
            )),
            Block::Heading(t) => out.push_str(&format!(
                "<p class=MsoNormal style=\"text-indent:32.0pt\"><b><span style=\"font-size:16.0pt;font-family:黑体\">{}</span></b></p>\n",
                escape(t)
            )),
            Block::Table(t) => {
                out.push_str(
                    "<table class=MsoNormalTable border=1 cellspacing=0 cellpadding=0 style=\"border-collapse:collapse;border:none\">\n<tbody>\n",
                );
                for row in &t.rows {
                    out.push_str("<tr>");
                    for c in row {
                        out.push_str("<td");
                        if c.colspan > 1 {
                            out.push_str(&format!(" colspan={}", c.colspan));
                        }
                        if c.rowspan > 1 {
                            out.push_str(&format!(" rowspan={}", c.rowspan));
                        }
                        out.push_str(&format!(
                            " valign=center style=\"border:solid windowtext 1.0pt;padding:0cm 5.4pt 0cm 5.4pt\">\
                             <p class=MsoNormal align=center style=\"text-align:center\"><span style=\"font-size:10.5pt;font-family:宋体;mso-bidi-font-family:宋体\">{}</span></p></td>",
                            escape(&c.text)
                        ));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody></table>\n");
            }
        }
    }
    out.push_str("</div></div><div class=\"footer\">主办单位 版权所有</div></body></html>\n");
    out
}
