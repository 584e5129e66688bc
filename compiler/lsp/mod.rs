//! `hplanc lsp`: a language server on stdio (lsp-server), a thin front end over the same
//! library entry point as the CLI ([`crate::compile_with`]). Byte spans become UTF-16
//! positions here, at the edge ([`position`], [`offset`]).
//!
//! On every change a document is checked at once and its diagnostics published (and
//! those of the open documents and workspace files that import it); then it is handed
//! to a solver thread ([`solver`]), and when the solve is done the build's diagnostics
//! follow and the inlay hints are refreshed: typing never waits for a solve.
//!
//! This file holds the server's state, its message loop and the workspace; each
//! feature has a file of its own:
//!
//! - [`hover`]: a chip's specs, a model's parameters, weight bytes and KV bytes per
//!   token, a quantity in other units, a plan's solved placement and metrics, and the
//!   declaration the name resolved to;
//! - [`names`]: go to definition, find references and rename, from the compiler's own
//!   name index ([`crate::ir::NameIndex`]: items, `extends`, imports and pools, into
//!   imported files and the stdlib, served as read-only files by [`stdlib_docs`]); the
//!   server looks no name up itself;
//! - [`completion`]: item kinds, attributes and sub-blocks from the schema table, units
//!   of the attribute's dimension, choices, item names of the kind an attribute takes,
//!   stages, pools, objectives, SLO metrics; on the text alone, so it works while the
//!   file is broken;
//! - [`symbols`] (document symbols, formatting), [`tokens`] (semantic tokens from the
//!   logos lexer), [`hints`] (inlay hints), [`actions`] (the edits diagnostics carry,
//!   as quick fixes), [`position`] (UTF-16 positions).

mod actions;
mod completion;
mod hints;
mod hover;
mod names;
mod position;
mod solver;
mod stdlib_docs;
mod symbols;
pub mod syntax;
mod tokens;
pub mod transport;

use actions::code_actions;
pub use completion::completion;
use completion::completion_in;
use hover::{model_figures, units_of};
use position::range;
pub use position::{offset, position};
pub use symbols::{formatting, symbols};
pub use tokens::semantic_tokens;

use crate::resolve::schema::{self, AttrKind, BlockSpec};
use crate::resolve::stdlib::STDLIB_FILES;
use crate::source::Origin;
use crate::syntax::ast::{Entry, Item, ItemKind};
use crate::units::Dim;
use crate::Compilation;
use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types as lt;
use solver::Solution;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syntax::{enclosing, item_around, number_at, parse, word_at};

/// How the server runs.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// where the stdlib's read-only documents are written (default: the user's cache
    /// folder, [`stdlib_docs::default_dir`])
    pub stdlib_dir: Option<PathBuf>,
    /// when set, each solve waits for a message on this channel before it starts (a
    /// test holds the solver with it to see what the server answers meanwhile)
    pub solve_gate: Option<crossbeam_channel::Receiver<()>>,
}

/// Serves on stdin/stdout until `exit`; the process exit code: 0 after `shutdown`, 1
/// otherwise (the LSP specification's rule), also when the input ends first.
pub fn run_stdio() -> u8 {
    let (conn, io) = transport::stdio();
    let code = match serve(&conn) {
        Ok(ended) => ended.code(),
        Err(e) => {
            eprintln!("hplanc lsp: {e}");
            1
        }
    };
    drop(conn);
    io.join();
    code
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `exit` (or the end of the input) after `shutdown`
    Exit,
    /// `exit` without `shutdown`
    ExitWithoutShutdown,
    /// the client went away (its input ended) without `exit`
    Disconnected,
}

impl Ended {
    /// The process exit code the LSP specification asks for.
    pub fn code(self) -> u8 {
        match self {
            Ended::Exit => 0,
            Ended::ExitWithoutShutdown | Ended::Disconnected => 1,
        }
    }
}

/// The server's capabilities.
pub fn capabilities() -> lt::ServerCapabilities {
    let legend = lt::SemanticTokensLegend {
        token_types: syntax::TOKEN_TYPES.iter().map(|t| lt::SemanticTokenType::new(t)).collect(),
        token_modifiers: syntax::TOKEN_MODIFIERS.iter().map(|t| lt::SemanticTokenModifier::new(t)).collect(),
    };
    lt::ServerCapabilities {
        text_document_sync: Some(lt::TextDocumentSyncCapability::Kind(lt::TextDocumentSyncKind::FULL)),
        hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lt::OneOf::Left(true)),
        references_provider: Some(lt::OneOf::Left(true)),
        rename_provider: Some(lt::OneOf::Left(true)),
        document_symbol_provider: Some(lt::OneOf::Left(true)),
        document_formatting_provider: Some(lt::OneOf::Left(true)),
        completion_provider: Some(lt::CompletionOptions { trigger_characters: Some(vec![":".into(), ".".into()]), ..Default::default() }),
        code_action_provider: Some(lt::CodeActionProviderCapability::Simple(true)),
        inlay_hint_provider: Some(lt::OneOf::Left(true)),
        semantic_tokens_provider: Some(lt::SemanticTokensServerCapabilities::SemanticTokensOptions(lt::SemanticTokensOptions {
            legend,
            full: Some(lt::SemanticTokensFullOptions::Bool(true)),
            range: None,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The request/notification loop over a connection (stdio, or in memory in tests),
/// with the default [`Options`].
pub fn serve(conn: &Connection) -> Result<Ended, String> {
    serve_with(conn, &Options::default())
}

/// [`serve`] with options.
pub fn serve_with(conn: &Connection, opts: &Options) -> Result<Ended, String> {
    let caps = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    let init = match initialize(conn, caps)? {
        Ok(init) => init,
        Err(ended) => return Ok(ended),
    };
    let dir = opts.stdlib_dir.clone().unwrap_or_else(stdlib_docs::default_dir);
    let mut server = Server {
        conn,
        docs: BTreeMap::new(),
        solutions: BTreeMap::new(),
        serials: BTreeMap::new(),
        worker: solver::Worker::start(opts.solve_gate.clone()),
        std_root: stdlib_docs::materialize(&dir),
        workspace: workspace_folders(&init),
        importers: Vec::new(),
        refresh_hints: init.pointer("/capabilities/workspace/inlayHint/refreshSupport").and_then(|v| v.as_bool()).unwrap_or(false),
        next_request: 0,
        next_serial: 0,
        shut_down: false,
    };
    server.scan_workspace();
    server.run()
}

/// The handshake: answers `initialize` with the capabilities and returns its params.
/// Before it, requests get ServerNotInitialized and notifications are dropped (`exit`
/// ends the session). `initialized` is not waited for: the main loop takes it as any
/// other notification, so a client that sends a request first is still served.
fn initialize(conn: &Connection, caps: serde_json::Value) -> Result<Result<serde_json::Value, Ended>, String> {
    let send = |m: Message| conn.sender.send(m).map_err(|e| e.to_string());
    loop {
        let Ok(msg) = conn.receiver.recv() else { return Ok(Err(Ended::Disconnected)) };
        match msg {
            Message::Request(req) if req.method == "initialize" => {
                send(Message::Response(Response::new_ok(req.id, serde_json::json!({ "capabilities": caps }))))?;
                return Ok(Ok(req.params));
            }
            Message::Request(req) => send(Message::Response(Response::new_err(
                req.id,
                lsp_server::ErrorCode::ServerNotInitialized as i32,
                format!("`{}` before `initialize`", req.method),
            )))?,
            Message::Notification(n) if n.method == "exit" => return Ok(Err(Ended::ExitWithoutShutdown)),
            Message::Notification(_) | Message::Response(_) => {}
        }
    }
}

/// The workspace's folders from `initialize` (`workspaceFolders`, else `rootUri`).
fn workspace_folders(init: &serde_json::Value) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = init["workspaceFolders"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["uri"].as_str().and_then(path_of)).collect())
        .unwrap_or_default();
    if out.is_empty() {
        out.extend(init["rootUri"].as_str().and_then(path_of));
    }
    out
}

/// An open document and its latest check.
struct Doc {
    text: String,
    version: i32,
    /// its canonical path, for documents on disk
    path: Option<PathBuf>,
    check: Compilation,
}

struct Server<'c> {
    conn: &'c Connection,
    docs: BTreeMap<String, Doc>,
    /// per document, the solve of its current text (and imports), once done
    solutions: BTreeMap<String, Solution>,
    /// per document, the serial of its newest solve job (a result of an older one is
    /// stale: its text or the texts it imports have changed since)
    serials: BTreeMap<String, u64>,
    worker: solver::Worker,
    /// the folder of the stdlib's read-only documents
    std_root: Option<PathBuf>,
    workspace: Vec<PathBuf>,
    /// workspace files that import other files (`use "..."`), by canonical path
    importers: Vec<Importer>,
    /// the client re-asks for inlay hints when told (`workspace/inlayHint/refresh`)
    refresh_hints: bool,
    next_request: u32,
    next_serial: u64,
    /// `shutdown` was answered: requests now get InvalidRequest, only `exit` counts
    shut_down: bool,
}

/// Most workspace files looked at for importers, and how deep.
const MAX_WORKSPACE_FILES: usize = 500;
const MAX_WORKSPACE_DEPTH: usize = 8;

impl Server<'_> {
    fn run(&mut self) -> Result<Ended, String> {
        let done = self.worker.done.clone();
        loop {
            crossbeam_channel::select! {
                recv(self.conn.receiver) -> msg => match msg {
                    Err(_) => return Ok(if self.shut_down { Ended::Exit } else { Ended::Disconnected }),
                    Ok(Message::Request(req)) => {
                        let resp = if self.shut_down {
                            Response::new_err(req.id, lsp_server::ErrorCode::InvalidRequest as i32, "the server is shut down".into())
                        } else if req.method == "shutdown" {
                            self.shut_down = true;
                            Response::new_ok(req.id, serde_json::Value::Null)
                        } else {
                            self.respond(req)
                        };
                        self.send(Message::Response(resp))?;
                    }
                    Ok(Message::Notification(n)) if n.method == "exit" => {
                        return Ok(if self.shut_down { Ended::Exit } else { Ended::ExitWithoutShutdown });
                    }
                    Ok(Message::Notification(_)) if self.shut_down => {}
                    Ok(Message::Notification(n)) => self.notified(n)?,
                    Ok(Message::Response(_)) => {}
                },
                recv(done) -> sol => {
                    if let Ok(sol) = sol {
                        self.solved(sol)?;
                    }
                }
            }
        }
    }

    fn send(&self, m: Message) -> Result<(), String> {
        self.conn.sender.send(m).map_err(|e| e.to_string())
    }

    /// Workspace files that import others and the files each loads, found once at
    /// start and on every save (so a change re-checks only the files that load it).
    fn scan_workspace(&mut self) {
        let mut found = Vec::new();
        let mut stack: Vec<(PathBuf, usize)> = self.workspace.iter().map(|p| (p.clone(), 0)).collect();
        let mut seen = 0;
        while let Some((dir, depth)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for p in entries {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if p.is_dir() {
                    if depth < MAX_WORKSPACE_DEPTH && !name.starts_with('.') && !matches!(name, "target" | "node_modules") {
                        stack.push((p, depth + 1));
                    }
                } else if name.ends_with(".hplan") && seen < MAX_WORKSPACE_FILES {
                    seen += 1;
                    let (Ok(text), Ok(path)) = (crate::source::read_source(&p), p.canonicalize()) else {
                        continue;
                    };
                    if text.contains("use \"") {
                        let uri = uri_of(&path);
                        let deps = disk_files(&self.check(&uri, &text, Some(&path)));
                        found.push(Importer { path, deps });
                    }
                }
            }
        }
        self.importers = found;
    }

    fn is_std(&self, path: Option<&Path>) -> bool {
        matches!((path, &self.std_root), (Some(p), Some(r)) if p.starts_with(r))
    }

    /// Open documents' texts by path, standing in for the disk when imports are read.
    fn overlay(&self) -> BTreeMap<PathBuf, String> {
        self.docs.values().filter_map(|d| Some((d.path.clone()?, d.text.clone()))).collect()
    }

    fn check(&self, uri: &str, text: &str, path: Option<&Path>) -> Compilation {
        let overlay = self.overlay();
        let opts = crate::BuildOptions { overlay: Some(&overlay), ..Default::default() };
        crate::compile_with(uri, text, path, crate::Mode::Check, &opts)
    }

    fn publish(&self, uri: &str, version: Option<i32>, diagnostics: Vec<lt::Diagnostic>) -> Result<(), String> {
        let mut params = serde_json::json!({ "uri": uri, "diagnostics": diagnostics });
        if let Some(v) = version {
            params["version"] = v.into();
        }
        self.send(Message::Notification(Notification::new("textDocument/publishDiagnostics".into(), params)))
    }

    fn notified(&mut self, n: Notification) -> Result<(), String> {
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(p) = serde_json::from_value::<lt::DidOpenTextDocumentParams>(n.params) else { return Ok(()) };
                let uri = p.text_document.uri.as_str().to_string();
                self.set_text(&uri, p.text_document.text, p.text_document.version)
            }
            "textDocument/didChange" => {
                let Ok(p) = serde_json::from_value::<lt::DidChangeTextDocumentParams>(n.params) else { return Ok(()) };
                let uri = p.text_document.uri.as_str().to_string();
                // full sync: the last change is the whole text
                let Some(change) = p.content_changes.into_iter().last() else { return Ok(()) };
                self.set_text(&uri, change.text, p.text_document.version)
            }
            "textDocument/didClose" => {
                let Ok(p) = serde_json::from_value::<lt::DidCloseTextDocumentParams>(n.params) else { return Ok(()) };
                let uri = p.text_document.uri.as_str();
                let closed = self.docs.remove(uri);
                self.solutions.remove(uri);
                self.serials.remove(uri);
                self.publish(uri, None, vec![])?;
                // files that import it read it from disk again (unsaved edits are gone)
                match closed.and_then(|d| d.path) {
                    Some(path) => self.recheck_importers(uri, &path),
                    None => Ok(()),
                }
            }
            "textDocument/didSave" => {
                self.scan_workspace();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A document's new text: check and publish it, then every open document and
    /// workspace file that imports it; queue the solves.
    fn set_text(&mut self, uri: &str, text: String, version: i32) -> Result<(), String> {
        let path = path_of(uri).map(|p| p.canonicalize().unwrap_or(p));
        let check = self.check(uri, &text, path.as_deref());
        let std = self.is_std(path.as_deref());
        self.docs.insert(uri.to_string(), Doc { text, version, path: path.clone(), check });
        if std {
            // the stdlib's own files: read-only, known clean, nothing to solve
            return Ok(());
        }
        self.refresh(uri)?;
        match path {
            Some(path) => self.recheck_importers(uri, &path),
            None => Ok(()),
        }
    }

    /// Re-checks (and publishes) the open documents and the workspace files that load
    /// the file at `path` (whose text, `uri`'s, changed or was closed unsaved).
    fn recheck_importers(&mut self, uri: &str, path: &Path) -> Result<(), String> {
        let path = path.to_path_buf();
        // open documents that import this one
        let dependents: Vec<String> = self
            .docs
            .iter()
            .filter(|(u, d)| u.as_str() != uri && d.check.sources.find(&Origin::Disk(path.clone())).is_some())
            .map(|(u, _)| u.clone())
            .collect();
        for u in dependents {
            let d = &self.docs[&u];
            let check = self.check(&u, &d.text, d.path.as_deref());
            if let Some(d) = self.docs.get_mut(&u) {
                d.check = check;
            }
            self.refresh(&u)?;
        }
        // workspace files that import it and are not open
        let open: BTreeSet<PathBuf> = self.docs.values().filter_map(|d| d.path.clone()).collect();
        for i in 0..self.importers.len() {
            let imp = &self.importers[i];
            if open.contains(&imp.path) || !imp.deps.contains(&path) {
                continue;
            }
            let file = imp.path.clone();
            let Ok(text) = crate::source::read_source(&file) else { continue };
            let furi = uri_of(&file);
            let comp = self.check(&furi, &text, Some(&file));
            self.publish(&furi, None, lsp_diagnostics(&comp, &furi, &text))?;
            self.importers[i].deps = disk_files(&comp);
        }
        Ok(())
    }

    /// Publishes an open document's check and queues its solve.
    fn refresh(&mut self, uri: &str) -> Result<(), String> {
        self.next_serial += 1;
        let serial = self.next_serial;
        self.serials.insert(uri.to_string(), serial);
        self.solutions.remove(uri);
        let d = &self.docs[uri];
        self.publish(uri, Some(d.version), lsp_diagnostics(&d.check, uri, &d.text))?;
        let job = solver::Job { uri: uri.to_string(), serial, text: d.text.clone(), path: d.path.clone(), overlay: self.overlay() };
        self.worker.submit(job);
        Ok(())
    }

    /// A solve came back: if the document still has that text, its build's diagnostics
    /// replace the check's, and the client is asked to refresh its inlay hints.
    fn solved(&mut self, sol: Solution) -> Result<(), String> {
        let Some(d) = self.docs.get(&sol.uri) else { return Ok(()) };
        if self.serials.get(&sol.uri) != Some(&sol.serial) {
            return Ok(());
        }
        self.publish(&sol.uri, Some(d.version), sol.diagnostics.clone())?;
        self.solutions.insert(sol.uri.clone(), sol);
        if self.refresh_hints {
            self.next_request += 1;
            let id = RequestId::from(format!("hplanc-{}", self.next_request));
            self.send(Message::Request(Request::new(id, "workspace/inlayHint/refresh".into(), serde_json::Value::Null)))?;
        }
        Ok(())
    }

    fn respond(&self, req: Request) -> Response {
        let id = req.id.clone();
        match self.answer(&req) {
            Ok(v) => Response::new_ok(id, v),
            Err(Refused::Unsupported) => {
                Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, format!("unsupported: {}", req.method))
            }
            Err(Refused::InvalidParams(e)) => {
                Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, format!("invalid params for {}: {e}", req.method))
            }
            Err(Refused::Failed(e)) => Response::new_err(id, lsp_server::ErrorCode::RequestFailed as i32, e),
        }
    }

    /// The document a request names, as a feature context.
    fn ctx(&self, uri: &str) -> Option<Ctx<'_>> {
        let (uri, d) = self.docs.get_key_value(uri)?;
        // a stored solve is always of the current text and imports: every change drops it
        let solution = self.solutions.get(uri);
        Some(Ctx { uri, text: &d.text, comp: &d.check, solution, std_root: self.std_root.as_deref() })
    }

    /// A request's answer: `null` for a document that is not open or a position with
    /// nothing to say; params that do not fit the method are refused.
    fn answer(&self, req: &Request) -> Result<serde_json::Value, Refused> {
        fn json<T: serde::Serialize>(v: Option<T>) -> serde_json::Value {
            v.and_then(|v| serde_json::to_value(v).ok()).unwrap_or(serde_json::Value::Null)
        }
        let doc = |uri: &lt::Uri| self.ctx(uri.as_str());
        let at = |p: &lt::TextDocumentPositionParams| self.ctx(p.text_document.uri.as_str()).map(|c| (c, p.position));
        Ok(match req.method.as_str() {
            "textDocument/formatting" => {
                json(doc(&params::<lt::DocumentFormattingParams>(req)?.text_document.uri).map(|c| formatting(c.text)))
            }
            "textDocument/documentSymbol" => {
                json(doc(&params::<lt::DocumentSymbolParams>(req)?.text_document.uri).map(|c| symbols(c.text)))
            }
            "textDocument/hover" => {
                json(at(&params::<lt::HoverParams>(req)?.text_document_position_params).and_then(|(c, pos)| c.hover(pos)))
            }
            "textDocument/definition" => {
                json(at(&params::<lt::GotoDefinitionParams>(req)?.text_document_position_params).and_then(|(c, pos)| c.definition(pos)))
            }
            "textDocument/references" => {
                let p = params::<lt::ReferenceParams>(req)?;
                json(at(&p.text_document_position).map(|(c, pos)| self.references(&c, pos, p.context.include_declaration)))
            }
            "textDocument/inlayHint" => json(doc(&params::<lt::InlayHintParams>(req)?.text_document.uri).map(|c| c.inlay_hints())),
            "textDocument/codeAction" => {
                let p = params::<lt::CodeActionParams>(req)?;
                json(doc(&p.text_document.uri).map(|c| code_actions(&p.text_document.uri, c.text, c.comp, p.range)))
            }
            "textDocument/completion" => json(
                at(&params::<lt::CompletionParams>(req)?.text_document_position).map(|(c, pos)| completion_in(c.text, pos, Some(c.comp))),
            ),
            "textDocument/semanticTokens/full" => {
                json(doc(&params::<lt::SemanticTokensParams>(req)?.text_document.uri).map(|c| c.semantic_tokens()))
            }
            "textDocument/rename" => {
                let p = params::<lt::RenameParams>(req)?;
                match at(&p.text_document_position) {
                    Some((c, pos)) => json(self.rename(&c, pos, &p.new_name)?),
                    None => serde_json::Value::Null,
                }
            }
            _ => return Err(Refused::Unsupported),
        })
    }
}

/// Why a request gets an error instead of an answer.
enum Refused {
    /// a method the server does not implement (MethodNotFound)
    Unsupported,
    /// params that are not what the method takes (InvalidParams), and why
    InvalidParams(String),
    /// a request the server understood but cannot carry out (RequestFailed), and why
    Failed(String),
}

/// A request's params as the method's type.
fn params<P: serde::de::DeserializeOwned>(req: &Request) -> Result<P, Refused> {
    serde_json::from_value(req.params.clone()).map_err(|e| Refused::InvalidParams(e.to_string()))
}

/// A workspace file that imports others.
struct Importer {
    path: PathBuf,
    /// the files on disk its last check read (itself included)
    deps: BTreeSet<PathBuf>,
}

/// The files on disk a compilation read.
fn disk_files(comp: &Compilation) -> BTreeSet<PathBuf> {
    comp.sources
        .iter()
        .filter_map(|(_, f)| match &f.origin {
            Origin::Disk(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// The file path of a `file://` URI (percent-escapes undone).
fn path_of(uri: &str) -> Option<PathBuf> {
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
    String::from_utf8(out).ok().map(PathBuf::from)
}

/// The `file://` URI of an absolute path (bytes other than unreserved ones and `/`
/// percent-escaped).
fn uri_of(path: &Path) -> String {
    let mut s = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// A compilation's diagnostics in the root file as LSP diagnostics (those of files it
/// imports are shown at their import by the compiler).
pub(crate) fn lsp_diagnostics(comp: &Compilation, uri: &str, text: &str) -> Vec<lt::Diagnostic> {
    let lsp_uri: Option<lt::Uri> = uri.parse().ok();
    // one line index for every span (the text is the root file's)
    let lines = crate::source::LineIndex::new(text);
    let range = |r: std::ops::Range<usize>| position::range_in(&lines, text, r);
    let mut out = Vec::new();
    for d in comp.diagnostics.iter().filter(|d| d.primary.span.file == comp.root) {
        let related: Vec<lt::DiagnosticRelatedInformation> = d
            .labels
            .iter()
            .filter(|l| l.span.file == comp.root)
            .filter_map(|l| {
                Some(lt::DiagnosticRelatedInformation {
                    location: lt::Location { uri: lsp_uri.clone()?, range: range(l.span.range()) },
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
            range: range(d.primary.span.range()),
            severity: Some(if d.is_error() { lt::DiagnosticSeverity::ERROR } else { lt::DiagnosticSeverity::WARNING }),
            code: Some(lt::NumberOrString::String(d.code.to_string())),
            source: Some("hplanc".into()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            ..Default::default()
        });
    }
    out
}

/// `textDocument/publishDiagnostics` for one document checked on its own (no other
/// open documents; what the server sends first after a change).
pub fn diagnostics_notification(uri: &str, text: &str) -> Notification {
    let path = path_of(uri);
    let comp = crate::compile(uri, text, path.as_deref(), crate::Mode::Check);
    let params = serde_json::json!({ "uri": uri, "diagnostics": lsp_diagnostics(&comp, uri, text) });
    Notification::new("textDocument/publishDiagnostics".into(), params)
}

/// One document and what is known about it, for the features.
struct Ctx<'a> {
    uri: &'a str,
    text: &'a str,
    comp: &'a Compilation,
    /// the solve of this text, once done
    solution: Option<&'a Solution>,
    std_root: Option<&'a Path>,
}

#[cfg(test)]
mod tests {
    use super::hover::quantity_hover;
    use super::tokens::Walk;
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
    fn file_uris_and_paths_round_trip() {
        assert_eq!(path_of("file:///tmp/my%20plan.hplan"), Some(PathBuf::from("/tmp/my plan.hplan")));
        assert_eq!(path_of("untitled:1"), None);
        assert_eq!(uri_of(Path::new("/tmp/my plan µ.hplan")), "file:///tmp/my%20plan%20%C2%B5.hplan");
        assert_eq!(path_of(&uri_of(Path::new("/tmp/my plan µ.hplan"))), Some(PathBuf::from("/tmp/my plan µ.hplan")));
    }

    fn labels(text: &str, line: u32, character: u32) -> Vec<String> {
        completion(text, lt::Position { line, character }).into_iter().map(|c| c.label).collect()
    }

    #[test]
    fn completion_follows_the_enclosing_block_in_a_broken_file() {
        let text = "chip c {\n  memory hbm {\n    \n  }\n  compute { fp8 = \n}\nplan p {\n  slo {\n";
        let mem = labels(text, 2, 4);
        assert!(mem.contains(&"capacity".to_string()) && mem.contains(&"holds".to_string()), "{mem:?}");
        let plan = labels(text, 6, 8);
        assert!(plan.contains(&"time_limit".to_string()) && plan.contains(&"sweep".to_string()), "{plan:?}");
        assert!(labels("use std::", 0, 9).contains(&"clusters".to_string()));
        let chips = labels("use std::chips::{b200, ", 0, 23);
        assert!(chips.contains(&"gb300".to_string()) && !chips.contains(&"nvlink5".to_string()), "{chips:?}");
        let bases = labels("chip mine = ", 0, 12);
        assert!(bases.contains(&"h100_sxm".to_string()) && !bases.contains(&"llama3_1_70b".to_string()), "{bases:?}");
        let top = completion("use std::chips::b200\n", lt::Position { line: 1, character: 0 });
        assert!(top.iter().any(|c| c.label == "compare") && !top.iter().any(|c| c.label == "unit"));
        assert_eq!(labels(text, 8, 0), ["ttft", "tpot", "tokens_per_s_per_user"]);
    }

    #[test]
    fn completion_of_values_units_stages_pools_and_objectives() {
        let text = "chip c {\n  memory hbm {\n    bandwidth = 8 \n    holds = [\n  }\n}\n\
                    cluster k {\n  pool gpu = b200 x 8\n  pool lpu = lp30 x 64\n}\ncluster k2 {\n  pool z = \n}\n\
                    plan p {\n  cluster = k\n  place \n  place decode.ffn on \n  minimize \n  model = \n}\n";
        let bw = labels(text, 2, 18);
        assert!(bw.contains(&"TB/s".to_string()) && bw.contains(&"GiB/s".to_string()) && !bw.contains(&"GB".to_string()), "{bw:?}");
        assert!(labels(text, 3, 13).contains(&"weights".to_string()));
        assert!(labels(text, 11, 11).contains(&"b200".to_string()));
        assert_eq!(labels(text, 15, 8), ["prefill", "decode.attn", "decode.ffn", "draft", "decode.layers"]);
        assert_eq!(labels(text, 16, 22), ["gpu", "lpu", "auto", "any"]);
        assert!(labels(text, 17, 11).contains(&"cost_per_mtok".to_string()));
        let models = labels(text, 18, 10);
        assert!(models.contains(&"llama3_1_70b".to_string()) && !models.contains(&"b200".to_string()), "{models:?}");
    }

    #[test]
    fn quantities_hover_in_other_units() {
        let n = |t: &str| {
            parse(&format!("chip c {{ x = {t} }}")).items[0].body.entries.iter().find_map(|e| match e {
                Entry::Attr(a) => match &a.value {
                    crate::syntax::ast::Value::Number(n) => Some(n.clone()),
                    _ => None,
                },
                _ => None,
            })
        };
        let h = quantity_hover(&n("80 GB").unwrap()).unwrap();
        assert!(h.starts_with("**80 GB**: a size") && h.contains("= 80,000,000,000 B") && h.contains("= 74.51 GiB"), "{h}");
        let h = quantity_hover(&n("3.35 TB/s").unwrap()).unwrap();
        assert!(h.contains("= 3,350 GB/s") || h.contains("= 3.35 TB/s"), "{h}");
        assert!(h.contains("3.047 TiB/s"), "{h}");
        let h = quantity_hover(&n("2 $/h").unwrap()).unwrap();
        assert!(h.contains("= 2 $/h"), "{h}");
    }

    /// Typing an example from its first byte: every feature answers on every prefix (at
    /// positions spread over it, multi-byte characters included) without panicking.
    #[test]
    fn every_feature_survives_every_prefix_while_typing() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        for name in ["rubin_lpx_afd.hplan", "s09_lpx_draft_rubin_verify.hplan", "s12_deepseek_experts_on_sram.hplan"] {
            let full = std::fs::read_to_string(format!("{dir}/{name}")).expect("the example exists");
            let full = full.replacen("//", "// µ𝒳 ", 1);
            let cuts: Vec<usize> = (0..=30).map(|i| full.len() * i / 30).filter(|&c| full.is_char_boundary(c)).collect();
            for cut in cuts {
                let text = &full[..cut];
                let uri = "file:///nowhere/typing.hplan";
                let comp = crate::compile(uri, text, None, crate::Mode::Check);
                let c = Ctx { uri, text, comp: &comp, solution: None, std_root: None };
                for k in 0..=6 {
                    let pos = position(text, text.len() * k / 6);
                    let _ = (c.hover(pos), c.definition(pos), completion(text, pos));
                }
                let _ = (c.inlay_hints(), c.semantic_tokens(), symbols(text), formatting(text));
            }
        }
    }

    #[test]
    fn semantic_tokens_are_relative_and_split_block_comments() {
        let t = semantic_tokens("/* a\nbc */ chip µ\n", &BTreeMap::new());
        let rows: Vec<(u32, u32, u32)> = t.data.iter().map(|d| (d.delta_line, d.delta_start, d.length)).collect();
        // "/* a" (line 0), "bc */" (line 1), "chip" at column 6, "µ" at 11 (one UTF-16 unit)
        assert_eq!(rows, [(0, 0, 4), (1, 0, 5), (0, 6, 4), (0, 5, 1)]);
    }

    /// The walk's positions equal [`position`]'s (from the top each time) at every byte
    /// boundary, forward and after going back.
    #[test]
    fn the_walk_finds_the_positions_position_finds() {
        let text = "ab µ\r\n𝄞x\n\n  y = 1 µs // é\nz";
        let mut w = Walk { text, byte: 0, line: 0, col: 0 };
        let bounds: Vec<usize> = (0..=text.len()).filter(|&b| text.is_char_boundary(b)).collect();
        for &b in bounds.iter().chain(bounds.iter().rev().step_by(3)) {
            assert_eq!(w.to(b), position(text, b), "at byte {b}");
        }
    }
}
