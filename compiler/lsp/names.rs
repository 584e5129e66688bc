//! Names: go to definition, find references and rename, answered from the resolver's
//! name index ([`crate::ir::NameIndex`]). The server looks no name up itself: what a
//! name refers to is what the compiler resolved it to (imports, `extends`, pools and
//! the stdlib included).

use super::position::range_in;
use super::{offset, uri_of, Ctx, Refused, Server, STDLIB_FILES};
use crate::ir::NameRef;
use crate::source::{FileId, Origin, Span};
use crate::Compilation;
use lsp_types as lt;
use std::collections::BTreeSet;
use std::path::Path;

/// A declaration's identity across compilations (each numbers its files its own way):
/// the URI of its file and its byte range there.
type Key = (String, u32, u32);

/// The URI of file `fid` of `comp`, whose root is the document `root_uri`.
fn file_uri(comp: &Compilation, fid: FileId, root_uri: &str, std_root: Option<&Path>) -> Option<String> {
    if fid == comp.root {
        return Some(root_uri.to_string());
    }
    match &comp.sources.get(fid).origin {
        Origin::Disk(p) => Some(uri_of(p)),
        Origin::Std(p) => std_root.map(|r| uri_of(&r.join(p))),
        Origin::Memory(_) => None,
    }
}

fn location(comp: &Compilation, span: Span, root_uri: &str, std_root: Option<&Path>) -> Option<lt::Location> {
    let uri = file_uri(comp, span.file, root_uri, std_root)?.parse().ok()?;
    let f = comp.sources.get(span.file);
    Some(lt::Location { uri, range: range_in(f.lines(), &f.text, span.range()) })
}

fn key(comp: &Compilation, decl: Span, root_uri: &str, std_root: Option<&Path>) -> Option<Key> {
    Some((file_uri(comp, decl.file, root_uri, std_root)?, decl.start, decl.end))
}

/// Whether `name` can name an item or a pool: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Ctx<'_> {
    /// The resolved name under the cursor, in this document.
    pub(super) fn name_at(&self, pos: lt::Position) -> Option<&NameRef> {
        self.comp.program.names.at(self.comp.root, offset(self.text, pos))
    }

    /// Go to definition: the declaration the name under the cursor resolved to, in this
    /// file, an imported one or the stdlib's read-only copy.
    pub(super) fn definition(&self, pos: lt::Position) -> Option<lt::Location> {
        let n = self.name_at(pos)?;
        location(self.comp, n.decl, self.uri, self.std_root)
    }

    /// The text of the declaration the name under the cursor resolved to (the whole
    /// item or `pool` statement), and whether it is a pool.
    pub(super) fn declaration_text(&self, pos: lt::Position) -> Option<(String, bool)> {
        let n = self.name_at(pos)?;
        let d = self.comp.program.names.declaration(n.decl)?;
        let text = self.comp.sources.get(d.item.file).text.get(d.item.range())?.to_string();
        Some((text, d.kind == crate::ir::NameKind::Pool))
    }
}

impl Server<'_> {
    /// Every place that names the declaration the name under the cursor resolved to, as
    /// each file's own check resolves it: the open documents, the workspace files that
    /// import others, the declaring file, and for a stdlib item the stdlib's files.
    pub(super) fn references(&self, c: &Ctx, pos: lt::Position, include_declaration: bool) -> Vec<lt::Location> {
        let std_root = self.std_root.as_deref();
        let Some(n) = c.name_at(pos) else { return vec![] };
        let Some(target) = key(c.comp, n.decl, c.uri, std_root) else { return vec![] };
        let mut out: Vec<lt::Location> = Vec::new();
        let mut seen: BTreeSet<(String, u32, u32, u32, u32)> = BTreeSet::new();
        let mut collect = |comp: &Compilation, root_uri: &str| {
            for r in comp.program.names.iter() {
                if (!include_declaration && r.at == r.decl) || key(comp, r.decl, root_uri, std_root).as_ref() != Some(&target) {
                    continue;
                }
                if let Some(l) = location(comp, r.at, root_uri, std_root) {
                    let k =
                        (l.uri.as_str().to_string(), l.range.start.line, l.range.start.character, l.range.end.line, l.range.end.character);
                    if seen.insert(k) {
                        out.push(l);
                    }
                }
            }
        };
        // the open documents, as checked
        for (uri, d) in &self.docs {
            collect(&d.check, uri);
        }
        // files on disk that are not open: the importers, and the declaring file
        let open: BTreeSet<&Path> = self.docs.values().filter_map(|d| d.path.as_deref()).collect();
        let mut on_disk: BTreeSet<std::path::PathBuf> = self.importers.iter().map(|imp| imp.path.clone()).collect();
        if let Some(home) = super::path_of(&target.0) {
            if !self.is_std(Some(&home)) {
                on_disk.insert(home);
            }
        }
        for p in on_disk.iter().filter(|p| !open.contains(p.as_path())) {
            if let Ok(text) = crate::source::read_source(p) {
                let uri = uri_of(p);
                collect(&self.check(&uri, &text, Some(p)), &uri);
            }
        }
        // a stdlib item: the stdlib's own files name it too
        if let (Some(root), Some(home)) = (std_root, super::path_of(&target.0)) {
            if home.starts_with(root) {
                for (p, text) in STDLIB_FILES {
                    let path = root.join(p);
                    let uri = uri_of(&path);
                    if !self.docs.contains_key(&uri) {
                        collect(&crate::compile_with(&uri, text, Some(&path), crate::Mode::Check, &Default::default()), &uri);
                    }
                }
            }
        }
        out
    }

    /// Rename: the declaration and every reference to it, in every file that names it;
    /// refused for the stdlib's items (read-only) and for a new name that is not a name.
    // lsp-types' `WorkspaceEdit::changes` is a map keyed by `Uri`, whose lazily parsed
    // parts clippy counts as interior mutability; hashing does not touch them.
    #[allow(clippy::mutable_key_type)]
    pub(super) fn rename(&self, c: &Ctx, pos: lt::Position, new_name: &str) -> Result<Option<lt::WorkspaceEdit>, Refused> {
        let Some(n) = c.name_at(pos) else { return Ok(None) };
        if !is_name(new_name) {
            return Err(Refused::Failed(format!("`{new_name}` is not a name: letters, digits and `_`, not starting with a digit")));
        }
        let in_std = match &c.comp.sources.get(n.decl.file).origin {
            Origin::Std(_) => true,
            Origin::Disk(p) => self.is_std(Some(p)),
            Origin::Memory(_) => false,
        };
        if in_std {
            return Err(Refused::Failed("the standard library is read-only: declare an item of your own that extends it".into()));
        }
        let mut changes: std::collections::HashMap<lt::Uri, Vec<lt::TextEdit>> = std::collections::HashMap::new();
        for l in self.references(c, pos, true) {
            changes.entry(l.uri).or_default().push(lt::TextEdit { range: l.range, new_text: new_name.to_string() });
        }
        Ok(Some(lt::WorkspaceEdit { changes: Some(changes), ..Default::default() }))
    }
}
