//! The tree walk: visits html5ever's tree in document order and tells the writer what
//! each node is — text, a block (`p`, `div`, `h1`…, `br`), a table, a row, a cell, a
//! preformatted element, or nothing (`<script>`, `<style>`, comments…; inline elements
//! such as `span` add no break) — asking the locator where each text run and cell sits
//! in the markup. A row that contains a nested table is layout, not data: its cells are
//! laid out as blocks and the inner rows become rows of their own.

use std::collections::HashSet;

use scraper::{Html, Node};

use super::locate::{first_word, Locator};
use super::write::Writer;

/// The text of a parsed page (`doc` is the markup it was parsed from, where the anchors
/// point) and its anchors.
pub(super) fn walk(html: &Html, doc: &str) -> (String, Vec<(usize, usize)>) {
    let mut walker = Walker::new(doc);
    walker.walk(html);
    walker.writer.finish()
}

/// What entering an element did, undone on leaving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Nothing,
    Block,
    Table,
    Row,
    Cell,
    Pre,
}

/// Elements whose contents produce nothing.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "noembed", "noframes",
];
/// Elements that start and end lines.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "optgroup",
    "option",
    "p",
    "section",
    "select",
    "summary",
    "tbody",
    "tfoot",
    "thead",
    "title",
    "ul",
];
/// Elements whose line breaks are kept.
const PRE: &[&str] = &["pre", "listing", "xmp", "textarea", "plaintext"];

struct Walker<'a> {
    writer: Writer,
    locator: Locator<'a>,
}

impl<'a> Walker<'a> {
    fn new(doc: &'a str) -> Self {
        Walker {
            writer: Writer::new(doc.len() / 2),
            locator: Locator::new(doc),
        }
    }

    fn walk(&mut self, html: &Html) {
        // Rows that contain a nested table are layout: mark them (each node visited once).
        let mut layout_rows = HashSet::new();
        let mut visited = HashSet::new();
        for node in html.tree.nodes() {
            if node
                .value()
                .as_element()
                .is_some_and(|e| e.name() == "table")
            {
                for ancestor in node.ancestors() {
                    if !visited.insert(ancestor.id()) {
                        break;
                    }
                    if ancestor
                        .value()
                        .as_element()
                        .is_some_and(|e| e.name() == "tr")
                    {
                        layout_rows.insert(ancestor.id());
                    }
                }
            }
        }

        // Iterative depth-first traversal (no recursion: the tree may be deep).
        let root = html.tree.root();
        let mut actions: Vec<Action> = Vec::new();
        let mut node = root;
        'walk: loop {
            let (action, descend) = match node.value() {
                Node::Text(text) => {
                    self.text(text);
                    (Action::Nothing, false)
                }
                Node::Element(el) => {
                    let is_layout_row = el.name() == "tr" && layout_rows.contains(&node.id());
                    self.enter(el.name(), is_layout_row)
                }
                Node::Document | Node::Fragment => (Action::Nothing, true),
                _ => (Action::Nothing, false),
            };
            actions.push(action);
            if descend {
                if let Some(child) = node.first_child() {
                    node = child;
                    continue;
                }
            }
            loop {
                if let Some(action) = actions.pop() {
                    self.leave(action);
                }
                if node.id() == root.id() {
                    break 'walk;
                }
                if let Some(sibling) = node.next_sibling() {
                    node = sibling;
                    continue 'walk;
                }
                match node.parent() {
                    Some(parent) => node = parent,
                    None => break 'walk,
                }
            }
        }
    }

    fn text(&mut self, text: &str) {
        let anchor = first_word(text).map(|(at, word)| {
            let src = self.locator.find_text(word).unwrap_or(self.locator.last());
            (at, src)
        });
        self.writer.text(text, anchor);
    }

    /// Enters an element: what to undo on leaving, and whether to visit its children.
    fn enter(&mut self, name: &str, is_layout_row: bool) -> (Action, bool) {
        let w = &mut self.writer;
        if SKIPPED.contains(&name) {
            return (Action::Nothing, false);
        }
        match name {
            "br" => {
                if w.in_cell() {
                    w.space(true, false);
                } else {
                    w.block();
                }
                (Action::Nothing, false)
            }
            "tr" if !w.in_row() && !w.in_cell() && !is_layout_row => {
                w.row_open();
                (Action::Row, true)
            }
            "td" | "th" if w.in_row() && !w.in_cell() => {
                let src = self.locator.find_cell().unwrap_or(self.locator.last());
                self.writer.cell_open(Some(src));
                (Action::Cell, true)
            }
            "table" => {
                w.block();
                (Action::Table, true)
            }
            "tr" | "td" | "th" => {
                w.block();
                (Action::Block, true)
            }
            _ if PRE.contains(&name) => {
                w.pre_open();
                (Action::Pre, true)
            }
            _ if BLOCKS.contains(&name) => {
                w.block();
                (Action::Block, true)
            }
            _ => (Action::Nothing, true),
        }
    }

    fn leave(&mut self, action: Action) {
        let w = &mut self.writer;
        match action {
            Action::Nothing => {}
            Action::Block => w.block(),
            Action::Table => w.table_end(),
            Action::Row => w.row_close(),
            Action::Cell => w.cell_close(),
            Action::Pre => w.pre_close(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::html::extract;
    use crate::parse::html::testing::assert_anchors_sane;

    #[test]
    fn scripts_styles_and_comments_produce_nothing() {
        let src = r#"<html><head><title>年报</title><style>p { color: red }</style>
            <script>var x = "<p>不要</p>"; if (a < b) {}</script></head>
            <body><div class="nav">首页 &gt; 政务公开</div><noscript>请启用脚本</noscript>
            <!--[if !supportMisalignedColumns]--><p>正文</p><!--[endif]-->
            <![if !supportLists]><span>1.</span><![endif]><!-- 注释 --><p>结束</p>
            <template><p>模板</p></template><script src="x.js"></script></body></html>"#;
        let ex = extract(src);
        assert_eq!(ex.text, "年报\n首页 > 政务公开\n正文\n1.\n结束\n");
        assert_anchors_sane(&ex, src);
        let pos = ex.text.find("结束").unwrap();
        assert!(src[ex.source_offset(pos)..].starts_with("结束"));
    }

    #[test]
    fn nested_tables_give_inner_rows_their_own_lines() {
        let src = "<table><tr><td>导航</td><td><p>标题</p>\
            <table><tr><td>规章</td><td>5</td></tr><tr><td>文件</td><td>7</td></tr></table>\
            <p>正文</p></td></tr><tr><td>页脚</td><td>1</td></tr></table>";
        let ex = extract(src);
        assert_eq!(
            ex.text,
            "导航\n标题\n| 规章 | 5 |\n| 文件 | 7 |\n\n正文\n| 页脚 | 1 |\n"
        );
        assert_anchors_sane(&ex, src);
    }
}
