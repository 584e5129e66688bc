//! The pest parser generated from `grammar/hplan.pest`.

use super::ast::ItemKind;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "grammar/hplan.pest"]
pub struct HplanParser;

/// "an item (`chip`, ... or `compare`)": the item keywords a user may write, from
/// [`ItemKind::ALL`] (the one list).
fn item_kinds() -> &'static str {
    static PHRASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PHRASE.get_or_init(|| {
        let words: Vec<String> = ItemKind::ALL.iter().filter(|k| !k.is_registry()).map(|k| format!("`{}`", k.keyword())).collect();
        let (last, rest) = words.split_last().expect("item kinds exist");
        format!("an item ({} or {last})", rest.join(", "))
    })
}

/// Words users know for the grammar's rules, for "expected ..." messages.
pub fn describe_rule(rule: Rule) -> &'static str {
    match rule {
        Rule::IDENT | Rule::path => "a name",
        Rule::METRIC => "a metric (`ttft`, `ttft.p99`)",
        Rule::ITEM_KIND => item_kinds(),
        Rule::use_decl | Rule::KW_USE => "`use`",
        Rule::body => "`{`",
        Rule::extends => "`=` and the item to extend",
        Rule::value => "a value",
        Rule::quantity | Rule::NUMBER => "a number",
        Rule::UNIT | Rule::UNIT_ATOM => "a unit",
        Rule::COUNT => "a whole number",
        Rule::string | Rule::STRING_INNER => "a string",
        Rule::reference => "a name",
        Rule::RANGE_OP => "`..=`",
        Rule::list => "a list",
        Rule::CMP => "a comparison (`<=`, `>=`)",
        Rule::STAGE => "a stage name (`prefill`, `decode.attn`, `decode.ffn`)",
        Rule::TIMES => "`x` and a chip count",
        Rule::KW_ON => "`on`",
        Rule::KW_ANY | Rule::place_any => "`any [pool, ...]`",
        Rule::KW_OVER => "`over`",
        Rule::KW_PLACE => "`place`",
        Rule::KW_POOL => "`pool`",
        Rule::KW_LINK => "`link`",
        Rule::KW_MINIMIZE | Rule::KW_MAXIMIZE => "`minimize` or `maximize`",
        Rule::attr => "an attribute (`name = value`)",
        Rule::sub_block => "a block",
        Rule::constraint => "a constraint",
        Rule::use_path | Rule::use_group | Rule::use_glob => "an import path",
        Rule::BOOLEAN => "`true` or `false`",
        Rule::EOI => "the end of the file",
        _ => "valid syntax",
    }
}
