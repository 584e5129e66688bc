//! `hplanc lsp`: a language server on stdio (lsp-server), a thin front end over the same
//! library entry point as the CLI ([`crate::compile`]). Byte spans become UTF-16
//! positions here, at the edge ([`position`], [`offset`]).
//!
//! Features: diagnostics on open and change, formatting (the `hplanc fmt` formatter),
//! document symbols, hover (the declaration of a chip, link, model, cluster, workload or
//! plan, from the file or the stdlib; on a plan's model its parameters, weight bytes and
//! KV bytes per token), go to definition within the file, completion of item kinds,
//! attribute names (from the schema table, by the enclosing block, on text alone so it
//! works while the file is broken) and the file's item names, inlay hints (a model's
//! figures after each plan's `model = ...`), and quick fixes for "did you mean".

use crate::resolve::schema::{self, BlockSpec};
use crate::source::FileId;
use crate::syntax::ast::{Item, ItemKind};
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types as lt;
use std::collections::BTreeMap;

/// Serves on stdin/stdout until `shutdown` and `exit`; the process exit code.
pub fn run_stdio() -> u8 {
    let (conn, io) = Connection::stdio();
    let code = match serve(&conn) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hplanc lsp: {e}");
            1
        }
    };
    drop(conn);
    let _ = io.join();
    code
}

/// The server's capabilities.
pub fn capabilities() -> lt::ServerCapabilities {
    lt::ServerCapabilities {
        text_document_sync: Some(lt::TextDocumentSyncCapability::Kind(lt::TextDocumentSyncKind::FULL)),
        hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lt::OneOf::Left(true)),
        document_symbol_provider: Some(lt::OneOf::Left(true)),
        document_formatting_provider: Some(lt::OneOf::Left(true)),
        completion_provider: Some(lt::CompletionOptions { trigger_characters: Some(vec![":".into()]), ..Default::default() }),
        code_action_provider: Some(lt::CodeActionProviderCapability::Simple(true)),
        inlay_hint_provider: Some(lt::OneOf::Left(true)),
        ..Default::default()
    }
}

/// The request/notification loop over a connection (stdio, or in memory in tests).
pub fn serve(conn: &Connection) -> Result<(), String> {
    let caps = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    conn.initialize(caps).map_err(|e| e.to_string())?;
    let mut docs: BTreeMap<String, String> = BTreeMap::new();
    for msg in &conn.receiver {
        match msg {
            Message::Request(req) => {
                if conn.handle_shutdown(&req).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                let resp = respond(&docs, req);
                conn.sender.send(Message::Response(resp)).map_err(|e| e.to_string())?;
            }
            Message::Notification(n) => {
                if let Some(uri) = update(&mut docs, n) {
                    let note = diagnostics_notification(&uri, docs.get(&uri).map(String::as_str).unwrap_or(""));
                    conn.sender.send(Message::Notification(note)).map_err(|e| e.to_string())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// Applies an open/change/close notification; the document whose diagnostics changed.
fn update(docs: &mut BTreeMap<String, String>, n: Notification) -> Option<String> {
    match n.method.as_str() {
        "textDocument/didOpen" => {
            let p: lt::DidOpenTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let uri = p.text_document.uri.as_str().to_string();
            docs.insert(uri.clone(), p.text_document.text);
            Some(uri)
        }
        "textDocument/didChange" => {
            let p: lt::DidChangeTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let uri = p.text_document.uri.as_str().to_string();
            // full sync: the last change is the whole text
            let text = p.content_changes.into_iter().last()?.text;
            docs.insert(uri.clone(), text);
            Some(uri)
        }
        "textDocument/didClose" => {
            let p: lt::DidCloseTextDocumentParams = serde_json::from_value(n.params).ok()?;
            docs.remove(p.text_document.uri.as_str());
            None
        }
        _ => None,
    }
}

/// The file path of a `file://` URI (percent-escapes of the common characters undone).
fn path_of(uri: &str) -> Option<std::path::PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let mut out = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&rest[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok().map(std::path::PathBuf::from)
}

/// The UTF-16 position of byte `at` in `text`.
pub fn position(text: &str, at: usize) -> lt::Position {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[..line_start].matches('\n').count() as u32;
    let character = text[line_start..at].encode_utf16().count() as u32;
    lt::Position { line, character }
}

/// The byte offset of a UTF-16 position in `text` (clamped to the line and the text).
pub fn offset(text: &str, p: lt::Position) -> usize {
    let mut start = 0usize;
    for _ in 0..p.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[start..].find('\n').map(|i| start + i).unwrap_or(text.len());
    let mut units = 0u32;
    for (i, c) in text[start..line_end].char_indices() {
        if units >= p.character {
            return start + i;
        }
        units += c.len_utf16() as u32;
    }
    line_end
}

fn range(text: &str, r: std::ops::Range<usize>) -> lt::Range {
    lt::Range { start: position(text, r.start), end: position(text, r.end) }
}

/// `textDocument/publishDiagnostics` for one document: its own diagnostics (those of
/// files it imports that point into them are shown at their import by the compiler).
pub fn diagnostics_notification(uri: &str, text: &str) -> Notification {
    let comp = checked(uri, text);
    let mut out = Vec::new();
    let lsp_uri: Option<lt::Uri> = uri.parse().ok();
    for d in comp.diagnostics.iter() {
        if d.primary.span.file != comp.root {
            continue;
        }
        let related: Vec<lt::DiagnosticRelatedInformation> = d
            .labels
            .iter()
            .filter(|l| l.span.file == comp.root)
            .filter_map(|l| {
                Some(lt::DiagnosticRelatedInformation {
                    location: lt::Location { uri: lsp_uri.clone()?, range: range(text, l.span.range()) },
                    message: l.message.clone(),
                })
            })
            .collect();
        let mut message = d.message.clone();
        for n in &d.notes {
            message.push_str(&format!("\nnote: {n}"));
        }
        if !d.help.is_empty() {
            message.push_str(&format!("\nhelp: {}", d.help));
        }
        out.push(lt::Diagnostic {
            range: range(text, d.primary.span.range()),
            severity: Some(if d.is_error() { lt::DiagnosticSeverity::ERROR } else { lt::DiagnosticSeverity::WARNING }),
            code: Some(lt::NumberOrString::String(d.code.to_string())),
            source: Some("hplanc".into()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            ..Default::default()
        });
    }
    let params = serde_json::json!({ "uri": uri, "diagnostics": out });
    Notification::new("textDocument/publishDiagnostics".into(), params)
}

fn respond(docs: &BTreeMap<String, String>, req: Request) -> Response {
    let id = req.id.clone();
    let result = match req.method.as_str() {
        "textDocument/formatting" => text_of::<lt::DocumentFormattingParams>(docs, &req, |p| p.text_document.uri.as_str().to_string())
            .map(|(_, text)| serde_json::to_value(formatting(&text)).unwrap_or_default()),
        "textDocument/documentSymbol" => text_of::<lt::DocumentSymbolParams>(docs, &req, |p| p.text_document.uri.as_str().to_string())
            .map(|(_, text)| serde_json::to_value(symbols(&text)).unwrap_or_default()),
        "textDocument/hover" => {
            text_of::<lt::HoverParams>(docs, &req, |p| p.text_document_position_params.text_document.uri.as_str().to_string())
                .map(|(p, text)| serde_json::to_value(hover(&text, p.text_document_position_params.position)).unwrap_or_default())
        }
        "textDocument/definition" => {
            text_of::<lt::GotoDefinitionParams>(docs, &req, |p| p.text_document_position_params.text_document.uri.as_str().to_string()).map(
                |(p, text)| {
                    let uri = p.text_document_position_params.text_document.uri.clone();
                    let loc = definition(&text, p.text_document_position_params.position).map(|r| lt::Location { uri, range: r });
                    serde_json::to_value(loc).unwrap_or_default()
                },
            )
        }
        "textDocument/inlayHint" => text_of::<lt::InlayHintParams>(docs, &req, |p| p.text_document.uri.as_str().to_string())
            .map(|(p, text)| serde_json::to_value(inlay_hints(p.text_document.uri.as_str(), &text)).unwrap_or_default()),
        "textDocument/codeAction" => text_of::<lt::CodeActionParams>(docs, &req, |p| p.text_document.uri.as_str().to_string())
            .map(|(p, text)| serde_json::to_value(code_actions(&p.text_document.uri, &text, p.range)).unwrap_or_default()),
        "textDocument/completion" => {
            text_of::<lt::CompletionParams>(docs, &req, |p| p.text_document_position.text_document.uri.as_str().to_string())
                .map(|(p, text)| serde_json::to_value(completion(&text, p.text_document_position.position)).unwrap_or_default())
        }
        _ => return Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, format!("unsupported: {}", req.method)),
    };
    match result {
        Some(v) => Response::new_ok(id, v),
        None => Response::new_ok(id, serde_json::Value::Null),
    }
}

/// A request's parameters and the text of the document it names (if open).
fn text_of<P: serde::de::DeserializeOwned>(
    docs: &BTreeMap<String, String>,
    req: &Request,
    uri: impl Fn(&P) -> String,
) -> Option<(P, String)> {
    let p: P = serde_json::from_value(req.params.clone()).ok()?;
    let text = docs.get(&uri(&p))?.clone();
    Some((p, text))
}

/// One edit replacing the whole document with `hplanc fmt`'s output (none if unchanged).
pub fn formatting(text: &str) -> Vec<lt::TextEdit> {
    let formatted = crate::syntax::fmt::format(text);
    if formatted == text {
        return Vec::new();
    }
    vec![lt::TextEdit { range: range(text, 0..text.len()), new_text: formatted }]
}

fn parse(text: &str) -> crate::syntax::ast::File {
    let mut sink = crate::diagnostics::Diagnostics::new();
    crate::syntax::lower::parse_file(FileId(0), text, &mut sink)
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

/// The identifier (letters, digits, `_`) around byte `at`, and its byte range.
fn word_at(text: &str, at: usize) -> Option<(String, std::ops::Range<usize>)> {
    let is = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let at = at.min(text.len());
    let start = text[..at].char_indices().rev().take_while(|(_, c)| is(*c)).last().map(|(i, _)| i).unwrap_or(at);
    let end = text[at..].char_indices().find(|(_, c)| !is(*c)).map(|(i, _)| at + i).unwrap_or(text.len());
    (start < end).then(|| (text[start..end].to_string(), start..end))
}

/// An item named `name` in `text`, or in the stdlib: (its source text, the item).
fn find_item(text: &str, name: &str) -> Option<(String, Item)> {
    if let Some(it) = parse(text).items.into_iter().find(|i| i.name.name == name) {
        return Some((text.to_string(), it));
    }
    for (_, src) in crate::resolve::stdlib::STDLIB_FILES {
        if let Some(it) = parse(src).items.into_iter().find(|i| i.name.name == name) {
            return Some((src.to_string(), it));
        }
    }
    None
}

/// A model's derived figures, as a plan uses it (its precisions and overrides applied).
fn model_figures(m: &crate::ir::Model) -> String {
    use crate::units::format::fmt_bytes;
    format!(
        "{:.2} B params ({:.2} B active), {} of {} weights, KV cache {}/token ({})",
        m.params() as f64 / 1e9,
        m.active_params() as f64 / 1e9,
        fmt_bytes(m.weight_bytes()),
        m.weights.name(),
        fmt_bytes(m.kv_bytes_per_token()),
        m.kv.name()
    )
}

/// The plans of `text` as the compiler resolves them (check only; no solve).
fn checked(uri: &str, text: &str) -> crate::Compilation {
    let path = path_of(uri);
    crate::compile(uri, text, path.as_deref(), crate::Mode::Check)
}

/// Inlay hints: a model's parameters, weight bytes and KV bytes per token after each
/// plan's `model = ...`.
pub fn inlay_hints(uri: &str, text: &str) -> Vec<lt::InlayHint> {
    let comp = checked(uri, text);
    comp.program
        .plans
        .iter()
        .filter(|p| p.model_span.file == comp.root)
        .map(|p| lt::InlayHint {
            position: position(text, p.model_span.range().end),
            label: lt::InlayHintLabel::String(format!("  {}", model_figures(&p.model))),
            kind: None,
            text_edits: None,
            tooltip: None,
            padding_left: Some(true),
            padding_right: None,
            data: None,
        })
        .collect()
}

/// Quick fixes: every diagnostic in `range` that suggests a name ("did you mean `x`?")
/// offers to write it.
// lsp-types' `WorkspaceEdit::changes` is a map keyed by `Uri`, whose lazily parsed parts
// clippy counts as interior mutability; hashing does not touch them.
#[allow(clippy::mutable_key_type)]
pub fn code_actions(uri: &lt::Uri, text: &str, range_: lt::Range) -> Vec<lt::CodeActionOrCommand> {
    let comp = checked(uri.as_str(), text);
    let (lo, hi) = (offset(text, range_.start), offset(text, range_.end));
    let mut out = Vec::new();
    for d in comp.diagnostics.iter().filter(|d| d.primary.span.file == comp.root) {
        let r = d.primary.span.range();
        if r.end < lo || r.start > hi {
            continue;
        }
        let Some(name) = crate::diagnostics::catalog::suggested_name(d) else { continue };
        let edit = lt::TextEdit { range: range(text, r), new_text: name.to_string() };
        let mut changes = std::collections::HashMap::new();
        changes.insert(uri.clone(), vec![edit]);
        out.push(lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
            title: format!("write `{name}`"),
            kind: Some(lt::CodeActionKind::QUICKFIX),
            is_preferred: Some(true),
            edit: Some(lt::WorkspaceEdit { changes: Some(changes), ..Default::default() }),
            ..Default::default()
        }));
    }
    out
}

/// Hover: the declaration of the item under the cursor (its first 30 lines); on a
/// plan's `model = ...`, the model's derived figures as the plan uses it first.
pub fn hover(text: &str, pos: lt::Position) -> Option<lt::Hover> {
    let at = offset(text, pos);
    let comp = checked("hover.hplan", text);
    let figures = comp
        .program
        .plans
        .iter()
        .find(|p| p.model_span.file == comp.root && p.model_span.range().contains(&at))
        .map(|p| format!("**{}** in plan `{}`: {}\n\n", p.model.name, p.name, model_figures(&p.model)));
    let (word, span) = word_at(text, at)?;
    let (src, item) = find_item(text, &word)?;
    let decl: Vec<&str> = src[item.span.range()].lines().take(30).collect();
    let value = format!("{}```hplan\n{}\n```", figures.unwrap_or_default(), decl.join("\n"));
    Some(lt::Hover {
        contents: lt::HoverContents::Markup(lt::MarkupContent { kind: lt::MarkupKind::Markdown, value }),
        range: Some(range(text, span)),
    })
}

/// Go to definition: the item of that name declared in this file.
pub fn definition(text: &str, pos: lt::Position) -> Option<lt::Range> {
    let (word, _) = word_at(text, offset(text, pos))?;
    let it = parse(text).items.into_iter().find(|i| i.name.name == word)?;
    Some(range(text, it.name.span.range()))
}

/// The blocks enclosing byte `at`, outermost first, by keyword (`plan`, `memory`, ...),
/// read from the text alone (brace matching skips comments and strings), so it works on
/// a file that does not parse.
fn enclosing(text: &str, at: usize) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut line_start = 0;
    while i < at.min(bytes.len()) {
        match bytes[i] {
            b'\n' => line_start = i + 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < at.min(bytes.len()) && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                let head = text[line_start..i].split_whitespace().next().unwrap_or("").to_string();
                // items do not nest: an item keyword starts afresh (an unclosed block
                // above, as while typing, does not swallow the rest of the file)
                if ItemKind::ALL.iter().any(|k| k.keyword() == head) {
                    stack.clear();
                }
                stack.push(head);
            }
            b'}' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack
}

/// The schema of the innermost block of `path` (item keyword, then sub-block keywords).
fn spec_of(path: &[String]) -> Option<&'static BlockSpec> {
    let kind = ItemKind::ALL.into_iter().find(|k| Some(k.keyword()) == path.first().map(String::as_str))?;
    let mut spec = schema::for_item(kind);
    for kw in &path[1..] {
        spec = spec.blocks.iter().find(|b| b.keyword == kw)?.spec;
    }
    Some(spec)
}

/// Completion at `pos`: inside a block its attributes and sub-blocks (schema table),
/// at the top level the item kinds and `use`; always the file's item names.
pub fn completion(text: &str, pos: lt::Position) -> Vec<lt::CompletionItem> {
    let at = offset(text, pos);
    let path = enclosing(text, at);
    let mut out = Vec::new();
    if path.is_empty() {
        for k in ItemKind::ALL.iter().filter(|k| !k.is_registry()) {
            out.push(lt::CompletionItem { label: k.keyword().into(), kind: Some(lt::CompletionItemKind::KEYWORD), ..Default::default() });
        }
        out.push(lt::CompletionItem { label: "use".into(), kind: Some(lt::CompletionItemKind::KEYWORD), ..Default::default() });
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
            out.push(lt::CompletionItem { label: b.keyword.into(), kind: Some(lt::CompletionItemKind::MODULE), ..Default::default() });
        }
    }
    for it in parse(text).items {
        out.push(lt::CompletionItem {
            label: it.name.name.clone(),
            kind: Some(lt::CompletionItemKind::REFERENCE),
            detail: Some(it.kind.keyword().into()),
            ..Default::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_positions_round_trip() {
        // `µ` is 2 bytes and 1 UTF-16 unit; `𝒳` is 4 bytes and 2 units
        let text = "a = 5 µs\nb𝒳c = 1\n";
        let at = text.find('c').unwrap();
        let p = position(text, at);
        assert_eq!(p, lt::Position { line: 1, character: 3 });
        assert_eq!(offset(text, p), at);
        assert_eq!(position(text, text.find('s').unwrap()), lt::Position { line: 0, character: 7 });
        // past the end of a line clamps to it; past the last line to the end
        assert_eq!(offset(text, lt::Position { line: 0, character: 99 }), text.find('\n').unwrap());
        assert_eq!(offset(text, lt::Position { line: 9, character: 0 }), text.len());
    }

    #[test]
    fn file_uris_become_paths() {
        assert_eq!(path_of("file:///tmp/my%20plan.hplan"), Some(std::path::PathBuf::from("/tmp/my plan.hplan")));
        assert_eq!(path_of("untitled:1"), None);
    }

    #[test]
    fn completion_follows_the_enclosing_block_in_a_broken_file() {
        let text = "chip c {\n  memory hbm {\n    \n  }\n  compute { fp8 = \n}\nplan p {\n  slo {\n";
        let labels = |line: u32, character: u32| -> Vec<String> {
            completion(text, lt::Position { line, character }).into_iter().map(|c| c.label).collect()
        };
        let mem = labels(2, 4);
        assert!(mem.contains(&"capacity".to_string()) && mem.contains(&"holds".to_string()), "{mem:?}");
        let plan = labels(6, 8);
        assert!(plan.contains(&"time_limit".to_string()) && plan.contains(&"sweep".to_string()), "{plan:?}");
        let top = completion("use std::chips::b200\n", lt::Position { line: 1, character: 0 });
        assert!(top.iter().any(|c| c.label == "compare") && !top.iter().any(|c| c.label == "unit"));
    }

    #[test]
    fn inlay_hints_and_quick_fixes() {
        let text = "use std::models::llama3_1_70b\nuse std::chips::h100_sxm\nworkload w {\n  input = 1k tok\n  output = 1k tok\n  concurrency = 1\n}\n\
                    cluster c {\n  pool g = h100_sxm x 8\n}\nplan p {\n  model = llama3_1_70b { weights = fp8 }\n  cluster = c\n  workload = w\n}\n\
                    plan q {\n  model = llama3_1_70b\n  cluster = cc\n  workload = w\n}\n";
        let hints = inlay_hints("file:///x.hplan", text);
        assert_eq!(hints.len(), 1);
        let lt::InlayHintLabel::String(label) = &hints[0].label else { panic!() };
        assert!(label.contains("70.55 B params") && label.contains("70.6 GB of fp8 weights") && label.contains("328 kB/token"), "{label}");
        assert_eq!(hints[0].position.line, 11);
        // plan q's `cluster = cc`: E0101 suggests `c`; the quick fix writes it over `cc`
        // (plan q does not resolve, so only plan p has a hint)
        let uri: lt::Uri = "file:///x.hplan".parse().unwrap();
        let all = lt::Range { start: lt::Position { line: 0, character: 0 }, end: lt::Position { line: 99, character: 0 } };
        let actions = code_actions(&uri, text, all);
        let lt::CodeActionOrCommand::CodeAction(a) = &actions[0] else { panic!() };
        assert_eq!(a.title, "write `c`");
        let edit = &a.edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri][0];
        assert_eq!((edit.range.start, edit.new_text.as_str()), (lt::Position { line: 17, character: 12 }, "c"));
        // hover on the model line leads with the figures
        let h = hover(text, lt::Position { line: 11, character: 12 }).unwrap();
        let lt::HoverContents::Markup(m) = h.contents else { panic!() };
        assert!(m.value.starts_with("**llama3_1_70b** in plan `p`: 70.55 B params"), "{}", m.value);
    }

    #[test]
    fn hover_shows_a_declaration_from_the_file_or_the_stdlib() {
        let text = "use std::chips::b200\ncluster c {\n  pool g = b200 x 8\n}\n";
        let h = hover(text, lt::Position { line: 2, character: 12 }).expect("b200 is a stdlib chip");
        let lt::HoverContents::Markup(m) = h.contents else { panic!() };
        assert!(m.value.contains("chip b200") && m.value.contains("bandwidth = 7.7 TB/s"), "{}", m.value);
        let d = definition(text, lt::Position { line: 2, character: 12 });
        assert!(d.is_none(), "b200 is not declared in the file");
        let d = definition("cluster c {\n}\nplan p {\n  cluster = c\n}\n", lt::Position { line: 3, character: 12 }).unwrap();
        assert_eq!(d.start, lt::Position { line: 0, character: 8 });
    }
}
