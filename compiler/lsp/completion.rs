//! Completion, on the text alone (a broken file works), with the last check's pools.

use super::*;

/// The schema of the innermost block of `path` (item keyword, then sub-block keywords).
fn spec_of(path: &[String]) -> Option<&'static BlockSpec> {
    let kind = ItemKind::ALL.into_iter().find(|k| Some(k.keyword()) == path.first().map(String::as_str))?;
    let mut spec = schema::for_item(kind);
    for kw in &path[1..] {
        spec = spec.blocks.iter().find(|b| b.keyword == kw)?.spec;
    }
    Some(spec)
}

pub(super) fn item(label: impl Into<String>, kind: lt::CompletionItemKind, detail: Option<String>) -> lt::CompletionItem {
    lt::CompletionItem { label: label.into(), kind: Some(kind), detail, ..Default::default() }
}

/// Names of items of `kind` the file can name: its own, and the stdlib's (with the
/// module to import them from).
fn names_of_kind(file: &crate::syntax::ast::File, kind: ItemKind) -> Vec<lt::CompletionItem> {
    let mut out: Vec<lt::CompletionItem> = file
        .items
        .iter()
        .filter(|i| i.kind == kind)
        .map(|i| item(i.name.name.clone(), lt::CompletionItemKind::REFERENCE, Some(kind.keyword().into())))
        .collect();
    for (p, _, file) in syntax::stdlib() {
        let module = p.split('/').next().unwrap_or("");
        for it in file.items.iter().filter(|i| i.kind == kind) {
            if !out.iter().any(|c| c.label == it.name.name) {
                out.push(item(
                    it.name.name.clone(),
                    lt::CompletionItemKind::REFERENCE,
                    Some(format!("{} (use std::{module})", kind.keyword())),
                ));
            }
        }
    }
    out
}

/// Completion in a `use` line: after `std::` the modules, after `std::<module>::` (or
/// inside its `{ ... }`) the module's items.
fn use_completion(path: &str) -> Vec<lt::CompletionItem> {
    let Some(after) = path.strip_prefix("std::") else {
        return vec![item("std", lt::CompletionItemKind::MODULE, None)];
    };
    match after.split_once("::") {
        None => crate::resolve::stdlib::module_names().into_iter().map(|m| item(m, lt::CompletionItemKind::MODULE, None)).collect(),
        Some((module, _)) => {
            let prefix = format!("{module}/");
            syntax::stdlib()
                .iter()
                .filter(|(p, _, _)| p.starts_with(&prefix))
                .flat_map(|(_, _, f)| f.items.iter())
                .map(|it| item(it.name.name.clone(), lt::CompletionItemKind::REFERENCE, Some(it.kind.keyword().into())))
                .collect()
        }
    }
}

/// Completion at `pos`, on the text alone (a broken file works):
/// - after `place`: the stages; after `place <stage> on`: the plan's pools, `auto`, `any`;
/// - after `minimize` / `maximize`: the objectives; at a line start in `slo`: its metrics;
/// - after `<attribute> =`: what the attribute takes (its unit's spellings after a
///   number, its choices, precisions, `true`/`false`, items of the kind it names);
/// - after `pool x =`: chips; after `over`: links; after `chip x =` (and the other item
///   kinds): bases of that kind; in a `use` line: std modules and their items;
/// - otherwise inside a block its attributes and sub-blocks (schema table), at the top
///   level the item kinds and `use`, and the file's item names.
pub fn completion(text: &str, pos: lt::Position) -> Vec<lt::CompletionItem> {
    completion_in(text, pos, None)
}

/// The pools a plan may name: those of its cluster as the last check resolved it
/// (`extends` included), or, when that check did not get as far, the `pool` statements
/// of the cluster it names in this file.
fn plan_pools(plan: &Item, comp: Option<&Compilation>, file: &crate::syntax::ast::File) -> Vec<String> {
    let resolved = comp.and_then(|c| c.program.plans.iter().find(|p| p.name == plan.name.name && p.span.file == c.root));
    if let Some(p) = resolved {
        return p.cluster.pools.iter().map(|x| x.name.clone()).collect();
    }
    let cluster = plan.body.entries.iter().find_map(|e| match e {
        Entry::Attr(a) if a.name.name == "cluster" => match &a.value {
            crate::syntax::ast::Value::Ref(p, _) => Some(p.last().name.clone()),
            _ => None,
        },
        _ => None,
    });
    file.items
        .iter()
        .filter(|i| i.kind == ItemKind::Cluster && Some(&i.name.name) == cluster.as_ref())
        .flat_map(|c| c.body.entries.iter())
        .filter_map(|e| match e {
            Entry::Pool(p) => Some(p.name.name.clone()),
            _ => None,
        })
        .collect()
}

/// [`completion`] with the document's last check, when there is one (pool names as
/// resolved).
pub(super) fn completion_in(text: &str, pos: lt::Position, comp: Option<&Compilation>) -> Vec<lt::CompletionItem> {
    let at = offset(text, pos);
    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = &text[line_start..at];
    let words: Vec<&str> = line.split_whitespace().collect();
    let typing = !line.ends_with(char::is_whitespace);
    // the words before the one being typed
    let before: &[&str] = if typing && !words.is_empty() { &words[..words.len() - 1] } else { &words };
    let path = enclosing(text, at);
    let file = parse(text);
    let kw = lt::CompletionItemKind::KEYWORD;
    match before {
        ["place"] => {
            return crate::ir::Stage::ALL
                .iter()
                .map(|s| item(s.name(), lt::CompletionItemKind::ENUM_MEMBER, Some("stage".into())))
                .collect()
        }
        ["place", _, "on", ..] => {
            let mut out: Vec<lt::CompletionItem> = match item_around(&file, at) {
                Some(plan) if plan.kind == ItemKind::Plan => plan_pools(plan, comp, &file)
                    .into_iter()
                    .map(|p| item(p, lt::CompletionItemKind::VARIABLE, Some("pool".into())))
                    .collect(),
                _ => vec![],
            };
            if before.len() == 3 {
                out.push(item("auto", kw, Some("the solver decides".into())));
                out.push(item("any", kw, Some("one of a list of pools: any [a, b]".into())));
            }
            return out;
        }
        ["minimize" | "maximize"] => {
            return crate::ir::Objective::ALL
                .iter()
                .map(|o| item(o.name(), lt::CompletionItemKind::ENUM_MEMBER, Some("objective".into())))
                .collect()
        }
        ["pool", _, "="] => return names_of_kind(&file, ItemKind::Chip),
        [.., "over"] => return names_of_kind(&file, ItemKind::Link),
        // `chip mine = ...`: a base of the same kind
        [kw, _, "="] if path.is_empty() => {
            if let Some(kind) = ItemKind::from_keyword(kw).filter(|k| !k.is_registry()) {
                return names_of_kind(&file, kind);
            }
        }
        _ => {}
    }
    if let Some(rest) = line.trim_start().strip_prefix("use ") {
        return use_completion(rest);
    }
    if path.last().map(String::as_str) == Some("slo") && before.is_empty() {
        return [crate::ir::SloMetric::Ttft, crate::ir::SloMetric::Tpot, crate::ir::SloMetric::TokensPerSUser]
            .iter()
            .map(|m| item(m.name(), lt::CompletionItemKind::ENUM_MEMBER, Some("SLO metric".into())))
            .collect();
    }
    // `<attribute> = ...`: what the attribute takes
    if let (Some(spec), Some(eq)) = (spec_of(&path), line.find('=')) {
        let name = line[..eq].trim();
        if let Some(a) = spec.attrs.iter().find(|a| a.name == name) {
            let value: Vec<&str> = line[eq + 1..].split_whitespace().collect();
            let after_number = match (typing, value.as_slice()) {
                (true, [.., n, _]) | (false, [.., n]) => n.chars().next().is_some_and(|c| c.is_ascii_digit()),
                _ => false,
            };
            let units = |d: Dim| -> Vec<lt::CompletionItem> {
                units_of(d).into_iter().map(|(u, _)| item(u, lt::CompletionItemKind::UNIT, Some(d.describe()))).collect()
            };
            return match a.kind {
                AttrKind::Quantity(d) | AttrKind::QuantityOrRange(d) if after_number => units(d),
                AttrKind::Tokens if after_number => units(Dim::TOKENS),
                AttrKind::Choice(words) => words.iter().map(|w| item(*w, lt::CompletionItemKind::ENUM_MEMBER, None)).collect(),
                AttrKind::Precision => {
                    crate::ir::Precision::ALL.iter().map(|p| item(p.name(), lt::CompletionItemKind::ENUM_MEMBER, None)).collect()
                }
                AttrKind::Bool => ["true", "false"].iter().map(|w| item(*w, kw, None)).collect(),
                AttrKind::Contents => ["weights", "kv"].iter().map(|w| item(*w, lt::CompletionItemKind::ENUM_MEMBER, None)).collect(),
                AttrKind::Ref(k) | AttrKind::List(k) => match ItemKind::from_keyword(k) {
                    Some(kind) => names_of_kind(&file, kind),
                    None => vec![],
                },
                _ => vec![],
            };
        }
    }
    let mut out = Vec::new();
    if path.is_empty() {
        for k in ItemKind::ALL.iter().filter(|k| !k.is_registry()) {
            out.push(item(k.keyword(), kw, None));
        }
        out.push(item("use", kw, None));
    } else if let Some(spec) = spec_of(&path) {
        for a in spec.attrs {
            out.push(lt::CompletionItem {
                label: a.name.into(),
                kind: Some(lt::CompletionItemKind::PROPERTY),
                detail: Some(a.kind.describe()),
                documentation: Some(lt::Documentation::String(format!("{} (e.g. `{}`)", a.doc, a.example))),
                insert_text: Some(format!("{} = ", a.name)),
                ..Default::default()
            });
        }
        for b in spec.blocks {
            out.push(item(b.keyword, lt::CompletionItemKind::MODULE, None));
        }
    }
    for it in file.items {
        out.push(item(it.name.name.clone(), lt::CompletionItemKind::REFERENCE, Some(it.kind.keyword().into())));
    }
    out
}
