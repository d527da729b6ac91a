//! `nianbao rules`: prints the rule catalogue (`nianbao::validate::catalogue()`) as
//! a readable list (`--format text`), as the proto3 canonical JSON of each
//! `nianbao.v1.Rule` in one array (`--format json`), or as Markdown (`--format
//! markdown`, from `rules_md.rs`, which also generates `docs/rules.md`).

use std::io::{self, BufWriter, IsTerminal, Write};

use clap::{Args, ValueEnum};

use nianbao::validate::{catalogue, RULE_SET_VERSION};

use super::rules_md;
use super::snippet::severity_label;
use super::term::{pad_right, Paint, Style};
use super::{ColorChoice, Status};

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// What to print.
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    format: RulesFormat,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RulesFormat {
    /// One entry per rule, grouped by category.
    Text,
    /// A JSON array of `nianbao.v1.Rule` (proto3 canonical JSON), in catalogue order.
    Json,
    /// Markdown: a table of the rules, then each rule in full.
    Markdown,
}

/// Runs `nianbao rules`.
pub fn run(args: RulesArgs, color: ColorChoice) -> Status {
    let stdout = io::stdout();
    let style = Style::new(color.enabled(stdout.is_terminal()));
    let mut out = BufWriter::new(stdout.lock());
    let written = match args.format {
        RulesFormat::Text => write_text(&mut out, &style),
        RulesFormat::Json => {
            let rules: Vec<_> = catalogue().iter().map(|r| r.to_proto()).collect();
            serde_json::to_writer_pretty(&mut out, &rules)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        }
        RulesFormat::Markdown => out.write_all(rules_md::markdown(None).as_bytes()),
    }
    .and_then(|()| out.flush());
    super::written(written, Status::Clean)
}

/// ```text
/// rule set 2026.11.1: 8 rules
///
/// arithmetic
///   A1  error    V2019, V2021  Table 三 balance per column
///                              表三各列：第一项加第二项之和等于第三项加第四项之和
/// ```
fn write_text(out: &mut dyn Write, style: &Style) -> io::Result<()> {
    let rules = catalogue();
    writeln!(
        out,
        "rule set {RULE_SET_VERSION}: {} rule{}",
        rules.len(),
        if rules.len() == 1 { "" } else { "s" }
    )?;
    let versions = rules_md::versions;
    let code_w = rules.iter().map(|r| r.code.len()).max().unwrap_or(0);
    let ver_w = rules.iter().map(|r| versions(r).len()).max().unwrap_or(0);
    let mut category = None;
    for r in rules {
        if category != Some(r.category) {
            category = Some(r.category);
            writeln!(out)?;
            writeln!(out, "{}", style.paint(Paint::Bold, r.category.as_str()))?;
        }
        let (sev, paint) = severity_label(r.severity as i32);
        writeln!(
            out,
            "  {}  {}  {}  {}",
            style.paint(Paint::Bold, &pad_right(r.code, code_w)),
            style.paint(paint, &pad_right(sev, 7)),
            pad_right(&versions(r), ver_w),
            r.title_en
        )?;
        // Under the English title: the columns before it are ASCII.
        let indent = 2 + code_w + 2 + 7 + 2 + ver_w + 2;
        writeln!(out, "{}{}", " ".repeat(indent), r.title)?;
    }
    Ok(())
}
