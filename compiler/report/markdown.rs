//! `report.md`: the terminal summary's content ([`super::human::document`]) as
//! Markdown, for pasting into a design document. Deterministic: no timings.

use super::human::{document, Block};
use super::PlanReport;
use std::fmt::Write;

/// A table cell: pipes would end the cell, newlines the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(o: &mut String, rows: &[Vec<String>], right: &[bool], header: bool) {
    let line = |r: &[String]| format!("| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    let empty: Vec<String>;
    let (header, body) = if header {
        let Some(split) = rows.split_first() else { return };
        split
    } else {
        // Markdown tables need a header row: an empty one
        empty = vec![String::new(); rows.iter().map(Vec::len).max().unwrap_or(0)];
        (&empty, rows)
    };
    let _ = writeln!(o, "{}", line(header));
    let rule: Vec<&str> = (0..header.len()).map(|c| if right.get(c).copied().unwrap_or(false) { "---:" } else { "---" }).collect();
    let _ = writeln!(o, "| {} |", rule.join(" | "));
    for r in body {
        let _ = writeln!(o, "{}", line(r));
    }
}

/// One plan's report as Markdown.
pub fn render(r: &PlanReport) -> String {
    render_blocks(document(r))
}

/// Summary blocks (a plan's, a comparison's) as Markdown.
pub fn render_blocks(blocks: Vec<Block>) -> String {
    let mut o = String::new();
    let mut in_list = false;
    for b in blocks {
        // a list (fields, lines) ends before anything else
        let list_item = matches!(b, Block::Field(..) | Block::Line(_));
        if in_list && !list_item {
            o.push('\n');
        }
        in_list = list_item;
        match b {
            Block::Title(t) => {
                let _ = writeln!(o, "# {t}\n");
            }
            Block::Field(label, text) => {
                let _ = writeln!(o, "- **{label}**: {text}");
            }
            Block::Table { caption, rows, right, header } => {
                if let Some(c) = caption {
                    let _ = writeln!(o, "**{c}**\n");
                }
                table(&mut o, &rows, &right, header);
                o.push('\n');
            }
            Block::Line(l) => {
                let _ = writeln!(o, "- {l}");
            }
            Block::Pre(lines) => {
                o.push_str("```text\n");
                for l in lines {
                    let _ = writeln!(o, "{}", l.trim_end());
                }
                o.push_str("```\n\n");
            }
            Block::Gap => {}
        }
    }
    if in_list {
        o.push('\n');
    }
    // one trailing newline
    while o.ends_with("\n\n") {
        o.pop();
    }
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(super::cell("a|b\nc"), "a\\|b c");
        let mut o = String::new();
        super::table(&mut o, &[vec!["x".into(), "n".into()], vec!["a".into(), "1".into()]], &[false, true], true);
        assert_eq!(o, "| x | n |\n| --- | ---: |\n| a | 1 |\n");
        let mut o = String::new();
        super::table(&mut o, &[vec!["a".into(), "1".into()]], &[false, true], false);
        assert_eq!(o, "|  |  |\n| --- | ---: |\n| a | 1 |\n");
    }
}
