//! Document symbols (the file's items) and formatting (`hplanc fmt`'s formatter).

use super::*;

/// One edit replacing the whole document with `hplanc fmt`'s output (none if unchanged).
pub fn formatting(text: &str) -> Vec<lt::TextEdit> {
    let formatted = crate::syntax::fmt::format(text);
    if formatted == text {
        return Vec::new();
    }
    vec![lt::TextEdit { range: range(text, 0..text.len()), new_text: formatted }]
}

fn symbol_kind(k: ItemKind) -> lt::SymbolKind {
    match k {
        ItemKind::Chip => lt::SymbolKind::CLASS,
        ItemKind::Link => lt::SymbolKind::INTERFACE,
        ItemKind::Model => lt::SymbolKind::STRUCT,
        ItemKind::Cluster => lt::SymbolKind::NAMESPACE,
        ItemKind::Workload => lt::SymbolKind::EVENT,
        ItemKind::Plan => lt::SymbolKind::FUNCTION,
        ItemKind::Compare => lt::SymbolKind::OPERATOR,
        ItemKind::Dimension | ItemKind::Prefix | ItemKind::Unit => lt::SymbolKind::CONSTANT,
    }
}

/// The file's items (from the parser's partial AST, so a broken file still has them).
#[allow(deprecated)] // DocumentSymbol::deprecated is required by the type
pub fn symbols(text: &str) -> Vec<lt::DocumentSymbol> {
    parse(text)
        .items
        .iter()
        .map(|it| lt::DocumentSymbol {
            name: it.name.name.clone(),
            detail: Some(it.kind.keyword().to_string()),
            kind: symbol_kind(it.kind),
            tags: None,
            deprecated: None,
            range: range(text, it.span.range()),
            selection_range: range(text, it.name.span.range()),
            children: None,
        })
        .collect()
}
