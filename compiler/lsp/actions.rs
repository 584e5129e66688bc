//! Code actions: the edits diagnostics carry, as quick fixes.

use super::*;

/// Quick fixes: every diagnostic in `range_` that carries an edit (a did-you-mean's
/// name, [`crate::diagnostics::Fix`]) offers to make it.
// lsp-types' `WorkspaceEdit::changes` is a map keyed by `Uri`, whose lazily parsed parts
// clippy counts as interior mutability; hashing does not touch them.
#[allow(clippy::mutable_key_type)]
pub(super) fn code_actions(uri: &lt::Uri, text: &str, comp: &Compilation, range_: lt::Range) -> Vec<lt::CodeActionOrCommand> {
    let lines = crate::source::LineIndex::new(text);
    let (lo, hi) = (position::offset_in(&lines, text, range_.start), position::offset_in(&lines, text, range_.end));
    let mut out = Vec::new();
    for d in comp.diagnostics.iter().filter(|d| d.primary.span.file == comp.root) {
        let r = d.primary.span.range();
        if r.end < lo || r.start > hi {
            continue;
        }
        // the diagnostic's own edit, where this text still reads what it replaces
        let Some(fix) = d.fix.as_ref().filter(|f| f.span.file == comp.root && f.applies_to(text)) else { continue };
        let edit = lt::TextEdit { range: position::range_in(&lines, text, fix.span.range()), new_text: fix.replacement.clone() };
        let mut changes = std::collections::HashMap::new();
        changes.insert(uri.clone(), vec![edit]);
        out.push(lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
            title: fix.title(),
            kind: Some(lt::CodeActionKind::QUICKFIX),
            is_preferred: Some(true),
            edit: Some(lt::WorkspaceEdit { changes: Some(changes), ..Default::default() }),
            ..Default::default()
        }));
    }
    out
}
