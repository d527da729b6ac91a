//! The text writer: builds the extracted text from the walker's calls — text runs with
//! whitespace collapsed (U+00A0 and U+3000 count as spaces; a source line break between
//! two wide CJK characters vanishes), paragraphs and other blocks as lines, table rows as
//! `| a | b |` pipe lines with each cell on one line and blank cells kept (`|  |`), a
//! blank line after each table — and records the anchors the locator found.

/// Characters dropped from text (zero-width and soft hyphen).
#[inline]
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Wide East Asian characters between which a source line break vanishes (CSS Text 3,
/// segment break transformation; Hangul excluded).
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Builds the output text: whitespace collapsing, lines, table rows, anchors.
pub(super) struct Writer {
    out: String,
    anchors: Vec<(usize, usize)>,
    /// The current line has characters.
    line_dirty: bool,
    /// No content yet since the start of the line or cell.
    at_start: bool,
    /// Whitespace is pending before the next character.
    pending: bool,
    /// The pending whitespace contains a source line break…
    pending_break: bool,
    /// …and other than collapsible ASCII spaces (so it cannot vanish between CJK).
    pending_hard: bool,
    last_char: char,
    in_row: bool,
    in_cell: bool,
    row_cells: usize,
    pre_depth: usize,
}

impl Writer {
    pub(super) fn new(capacity: usize) -> Self {
        Writer {
            out: String::with_capacity(capacity),
            anchors: Vec::new(),
            line_dirty: false,
            at_start: true,
            pending: false,
            pending_break: false,
            pending_hard: false,
            last_char: ' ',
            in_row: false,
            in_cell: false,
            row_cells: 0,
            pre_depth: 0,
        }
    }

    fn anchor(&mut self, src: usize) {
        let ext = self.out.len();
        match self.anchors.last_mut() {
            Some(last) if last.0 == ext => last.1 = last.1.max(src),
            Some(last) if last.1 > src => {}
            _ => self.anchors.push((ext, src)),
        }
    }

    fn clear_pending(&mut self) {
        self.pending = false;
        self.pending_break = false;
        self.pending_hard = false;
    }

    #[inline]
    pub(super) fn space(&mut self, hard: bool, segment_break: bool) {
        if self.at_start {
            return;
        }
        self.pending = true;
        self.pending_hard |= hard;
        self.pending_break |= segment_break;
    }

    /// Appends a text node; `anchor` is (byte offset in `text`, document offset).
    #[inline]
    pub(super) fn text(&mut self, text: &str, anchor: Option<(usize, usize)>) {
        for (i, c) in text.char_indices() {
            match c {
                ' ' | '\t' | '\r' | '\x0c' => self.space(false, false),
                '\n' if self.pre_depth > 0 => self.block(),
                '\n' => self.space(false, true),
                c if c.is_whitespace() => self.space(true, false),
                c if c.is_control() || is_invisible(c) => {}
                c => {
                    if self.pending {
                        let vanish = self.pending_break
                            && !self.pending_hard
                            && is_wide(self.last_char)
                            && is_wide(c);
                        if !vanish {
                            self.out.push(' ');
                        }
                    }
                    self.clear_pending();
                    if let Some((at, src)) = anchor {
                        if at == i {
                            self.anchor(src);
                        }
                    }
                    self.out.push(c);
                    self.last_char = c;
                    self.at_start = false;
                    self.line_dirty = true;
                }
            }
        }
    }

    /// A block boundary: a new line, or a space inside a table cell.
    #[inline]
    pub(super) fn block(&mut self) {
        if self.in_cell {
            self.space(true, false);
            return;
        }
        if self.line_dirty {
            self.out.push('\n');
            self.line_dirty = false;
        }
        self.at_start = true;
        self.clear_pending();
    }

    #[inline]
    pub(super) fn table_end(&mut self) {
        self.block();
        if !self.in_cell && !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    #[inline]
    pub(super) fn row_open(&mut self) {
        self.block();
        self.in_row = true;
        self.row_cells = 0;
    }

    #[inline]
    pub(super) fn row_close(&mut self) {
        if self.row_cells > 0 {
            self.out.push('|');
            self.line_dirty = true;
        }
        self.in_row = false;
        self.block();
    }

    #[inline]
    pub(super) fn cell_open(&mut self, src: Option<usize>) {
        self.out.push_str("| ");
        self.line_dirty = true;
        self.in_cell = true;
        self.row_cells += 1;
        self.at_start = true;
        self.clear_pending();
        if let Some(src) = src {
            self.anchor(src);
        }
    }

    #[inline]
    pub(super) fn cell_close(&mut self) {
        self.clear_pending();
        self.out.push(' ');
        self.in_cell = false;
        self.at_start = true;
    }

    /// Inside a table row.
    #[inline]
    pub(super) fn in_row(&self) -> bool {
        self.in_row
    }

    /// Inside a table cell.
    #[inline]
    pub(super) fn in_cell(&self) -> bool {
        self.in_cell
    }

    /// A preformatted element starts: a block whose line breaks are kept.
    #[inline]
    pub(super) fn pre_open(&mut self) {
        self.block();
        self.pre_depth += 1;
    }

    /// A preformatted element ends.
    #[inline]
    pub(super) fn pre_close(&mut self) {
        self.pre_depth = self.pre_depth.saturating_sub(1);
        self.block();
    }

    /// The text, without trailing blank lines, and its anchors.
    pub(super) fn finish(mut self) -> (String, Vec<(usize, usize)>) {
        self.block();
        let mut out = self.out;
        while out.ends_with("\n\n") {
            out.pop();
        }
        (out, self.anchors)
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::html::extract;
    use crate::parse::html::testing::{assert_anchors_sane, assert_line, corpus, lines};

    #[test]
    fn word_export_004_rows_are_pipe_lines() {
        let src = corpus("004_render.html");
        let ex = extract(&src);
        // 表三 (rowspan/colspan not expanded, each cell once, in source order).
        assert_line(
            &ex,
            "| 一、本年新收政府信息公开申请数量 | 71 | 3 | 0 | 0 | 0 | 0 | 74 |",
        );
        assert_line(
            &ex,
            "| 二、上年结转政府信息公开申请数量 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |",
        );
        assert_line(
            &ex,
            "| 三、本年度办理结果 | （一）予以公开 | 21 | 0 | 0 | 0 | 0 | 0 | 21 |",
        );
        assert_line(
            &ex,
            "| （四）无法提供 | 1.本机关不掌握相关政府信息 | 37 | 0 | 0 | 0 | 0 | 0 | 37 |",
        );
        assert_line(&ex, "| 3.其他 | 0 | 2 | 0 | 0 | 0 | 0 | 2 |");
        assert_line(&ex, "| （七）总计 | 72 | 3 | 0 | 0 | 0 | 0 | 75 |");
        assert_line(&ex, "| 自然人 | 法人或其他组织 | 总计 |");
        // 表二.
        assert_line(&ex, "| 行政规范性文件 | 88 | 55 | 698 |");
        assert_line(&ex, "| 行政许可 | 10690 |");
        assert_line(&ex, "| 行政事业性收费 | 9116.36 |");
        // 表四: one row of fifteen cells.
        assert_line(
            &ex,
            "| 0 | 1 | 1 | 0 | 2 | 1 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 |",
        );
        // Headings and prose are their own lines; spans do not break them.
        assert_line(&ex, "二、主动公开政府信息情况");
        assert_line(&ex, "六、其他需要报告的事项");
        assert_line(&ex, "2022年，无收取信息处理费情况。");
        // Site chrome is kept (entities decoded), as is the title.
        let ls = lines(&ex.text);
        assert_eq!(ls[0], "平潭综合实验区2022年度政府信息公开工作年度报告");
        assert_line(&ex, "首页 > 政务公开 > 政府信息公开年报");
        assert_line(&ex, "发布时间：2023-02-20 15:07");
        assert_eq!(ls.last(), Some(&"主办单位 版权所有"));
        // A blank line follows each table, and no other blank lines appear.
        let before_heading = ls
            .iter()
            .position(|l| *l == "三、收到和处理政府信息公开申请情况")
            .unwrap();
        assert_eq!(ls[before_heading - 1], "");
        assert!(ls[before_heading - 2].starts_with("| 行政事业性收费"));
        assert_eq!(ls.iter().filter(|l| l.is_empty()).count(), 3);
        // No markup or entities leak through.
        assert!(
            !ex.text.contains("<span") && !ex.text.contains("&nbsp;") && !ex.text.contains("&gt;")
        );
        assert_anchors_sane(&ex, &src);
    }

    #[test]
    fn word_export_020_rows_are_pipe_lines() {
        let src = corpus("020_render.html");
        let ex = extract(&src);
        assert_line(
            &ex,
            "| 信息内容 | 本年新制作数量 | 本年新公开数量 | 对外公开总数量 |",
        );
        assert_line(&ex, "| 规范性文件 | 6 | 6 | 6 |");
        assert_line(&ex, "| 行政许可 | 17 | 0 | 2 |");
        assert_line(&ex, "| 行政处罚 | 12 | 0 | 0 |");
        assert_line(
            &ex,
            "| 一、本年新收政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |",
        );
        assert_line(&ex, "| （六）其他处理 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |");
        assert_line(&ex, "首页 > 政务公开 > 政府信息公开年报");
        assert!(ex.text.contains("当前位置： 首页政务公开政府信息公开"));
        assert_anchors_sane(&ex, &src);
    }

    #[test]
    fn inline_elements_do_not_break_words() {
        let ex = extract(
            "<p class=MsoNormal><span>一、本年</span><span lang=EN-US>新收</span><b><span>政府信息</span></b>公开申请</p>",
        );
        assert_eq!(ex.text, "一、本年新收政府信息公开申请\n");
        // A source line break between CJK characters vanishes; between others it is a space.
        let ex = extract(
            "<p><span>一、本年\n  新收</span>\n<span>数量</span></p><p>total\nrows 3\n件</p>",
        );
        assert_eq!(ex.text, "一、本年新收数量\ntotal rows 3 件\n");
        // But a real space or non-breaking space stays.
        let ex = extract("<p>一、本年 新收&nbsp;数量</p>");
        assert_eq!(ex.text, "一、本年 新收 数量\n");
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed() {
        let ex = extract("<div>&nbsp; a \t\u{3000} b&nbsp;</div><p>\u{3000}\u{3000}第二行\u{200B}</p>x<br>y<br><br>  <br>z");
        assert_eq!(ex.text, "a b\n第二行\nx\ny\nz\n");
        assert_eq!(extract("").text, "");
        assert_eq!(extract("   \n\t ").text, "");
        assert_eq!(
            extract("plain text, no markup").text,
            "plain text, no markup\n"
        );
    }

    #[test]
    fn table_cells_are_one_line_and_blanks_are_kept() {
        let src = "<table><tr><th>项目</th><th colspan=2>数量</th></tr>\
            <tr><td rowspan=2><p>（二）部分</p><p>公开</p></td><td>本年<br>新收</td><td>&nbsp;</td></tr>\
            <tr><td></td><td> 0 </td></tr><tr></tr></table>after";
        let ex = extract(src);
        assert_eq!(
            ex.text,
            "| 项目 | 数量 |\n| （二）部分 公开 | 本年 新收 |  |\n|  | 0 |\n\nafter\n"
        );
        assert_anchors_sane(&ex, src);
        // Implied rows and cells (no <tr>, no </td>) still come out as rows.
        let ex = extract("<table><td>a<td>b</table><table><tr><td>c</table>");
        assert_eq!(ex.text, "| a | b |\n\n| c |\n");
    }
}
