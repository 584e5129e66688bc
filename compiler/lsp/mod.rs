//! `hplanc lsp`: a language server on stdio (lsp-server), a thin front end over the same
//! library entry point as the CLI ([`crate::compile_with`]). Byte spans become UTF-16
//! positions here, at the edge ([`position`], [`offset`]).
//!
//! On every change a document is checked at once and its diagnostics published (and
//! those of the open documents and workspace files that import it); then it is handed
//! to a solver thread ([`solver`]), and when the solve is done the build's diagnostics
//! follow and the inlay hints are refreshed: typing never waits for a solve.
//!
//! Features: diagnostics; hover (a chip's specs, a model's parameters, weight bytes and
//! KV bytes per token, a quantity in other units, a plan's solved placement and
//! metrics, a pool's statement, an item's declaration); go to definition (items, and
//! pools named in `place` and `link`) and find references, into imported files and the
//! stdlib (served as read-only files, [`stdlib_docs`]);
//! completion (item kinds, attributes and sub-blocks from the schema table, units of
//! the attribute's dimension, choices, item names of the kind an attribute takes,
//! stages, pools, objectives, SLO metrics; on the text alone, so it works while the
//! file is broken); document symbols; formatting (`hplanc fmt`'s formatter); semantic
//! tokens from the logos lexer; inlay hints (a model's figures after its declaration
//! and a plan's `model = ...`, the solved pool and time after each `place`); quick
//! fixes for "did you mean".

mod solver;
mod stdlib_docs;
pub mod syntax;
pub mod transport;

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
use syntax::{enclosing, item_around, name_uses, number_at, parse, word_at};

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
            "textDocument/completion" => {
                json(at(&params::<lt::CompletionParams>(req)?.text_document_position).map(|(c, pos)| completion(c.text, pos)))
            }
            "textDocument/semanticTokens/full" => {
                json(doc(&params::<lt::SemanticTokensParams>(req)?.text_document.uri).map(|c| c.semantic_tokens()))
            }
            _ => return Err(Refused::Unsupported),
        })
    }

    /// Every place the item under the cursor is named: in the open documents, the
    /// workspace files that import others, the file that declares it and, for a stdlib
    /// item, the stdlib's files. A file that declares an item of the same name itself
    /// (other than the declaring file) is left out: there the name means its own item.
    fn references(&self, c: &Ctx, pos: lt::Position, include_declaration: bool) -> Vec<lt::Location> {
        let Some((word, _)) = word_at(c.text, offset(c.text, pos)) else { return vec![] };
        let Some(decl) = c.declaration(&word) else { return vec![] };
        let Some(home_uri) = c.uri_of_home(&decl.home) else { return vec![] };
        // (uri, text) of every file to search, each once
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for (u, d) in &self.docs {
            files.insert(u.clone(), d.text.clone());
        }
        let open: BTreeSet<&PathBuf> = self.docs.values().filter_map(|d| d.path.as_ref()).collect();
        for imp in self.importers.iter().filter(|i| !open.contains(&i.path)) {
            let p = &imp.path;
            let u = uri_of(p);
            if let std::collections::btree_map::Entry::Vacant(e) = files.entry(u) {
                if let Ok(t) = crate::source::read_source(p) {
                    e.insert(t);
                }
            }
        }
        files.entry(home_uri.clone()).or_insert_with(|| decl.text.clone());
        if matches!(decl.home, Home::Std(_)) {
            if let Some(root) = &self.std_root {
                for (p, t) in STDLIB_FILES {
                    files.entry(uri_of(&root.join(p))).or_insert_with(|| t.to_string());
                }
            }
        }
        let mut out = Vec::new();
        for (u, t) in &files {
            let f = parse(t);
            if *u != home_uri && f.items.iter().any(|i| i.name.name == word) {
                continue;
            }
            let Ok(luri) = u.parse::<lt::Uri>() else { continue };
            for n in name_uses(&f, &word) {
                if n.declaration && !include_declaration {
                    continue;
                }
                out.push(lt::Location { uri: luri.clone(), range: range(t, n.span.range()) });
            }
        }
        out
    }
}

/// Why a request gets an error instead of an answer.
enum Refused {
    /// a method the server does not implement (MethodNotFound)
    Unsupported,
    /// params that are not what the method takes (InvalidParams), and why
    InvalidParams(String),
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

/// A compilation's diagnostics in the root file as LSP diagnostics (those of files it
/// imports are shown at their import by the compiler).
pub(crate) fn lsp_diagnostics(comp: &Compilation, uri: &str, text: &str) -> Vec<lt::Diagnostic> {
    let lsp_uri: Option<lt::Uri> = uri.parse().ok();
    let mut out = Vec::new();
    for d in comp.diagnostics.iter().filter(|d| d.primary.span.file == comp.root) {
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

/// Where an item is declared.
#[derive(Clone, Debug, PartialEq)]
enum Home {
    /// the document itself
    This,
    /// an imported file on disk
    Disk(PathBuf),
    /// a stdlib file (`chips/nvidia.hplan`)
    Std(&'static str),
}

/// An item's declaration: where, the text of its file, the item.
struct Declaration {
    home: Home,
    text: String,
    item: Item,
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

/// A model's derived figures, as declared or as a plan uses it.
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

/// A chip's specs as the compiler reads them.
fn chip_specs(c: &crate::ir::Chip) -> String {
    use crate::units::format::{fmt_bytes, fmt_num, fmt_si};
    let peaks: Vec<String> = c.compute.iter().rev().map(|(p, v)| format!("{} {}", p.name(), fmt_si(*v, "FLOP/s"))).collect();
    let tiers: Vec<String> = c
        .memory
        .iter()
        .map(|t| {
            let holds: Vec<&str> = t.holds.iter().map(|h| if *h == crate::ir::Contents::Weights { "weights" } else { "kv" }).collect();
            let holds = if holds.is_empty() { String::new() } else { format!(", holds {}", holds.join(" and ")) };
            format!("{} {} at {}/s{holds}", t.name, fmt_bytes(t.capacity), fmt_bytes(t.bandwidth))
        })
        .collect();
    let mut s = format!("dense peaks: {}  \nmemory: {}", peaks.join(", "), tiers.join("; "));
    if let Some(w) = c.power {
        s.push_str(&format!("  \npower: {} W", fmt_num(w)));
    }
    if let Some(p) = c.price {
        s.push_str(&format!("  \nprice: ${:.2}/h", p * 3600.0));
    }
    s.push_str(&format!("  \nefficiency: compute {:.0}%, memory {:.0}%", c.compute_efficiency * 100.0, c.memory_efficiency * 100.0));
    s
}

/// Four significant digits, trailing zeros trimmed.
fn sig(x: f64) -> String {
    let decimals = if x.abs() >= 100.0 {
        1
    } else if x.abs() >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A quantity in the units of its dimension that put it between 1 and 1000 (decimal
/// and binary sizes both), and in SI base units.
fn quantity_hover(n: &crate::syntax::ast::Number) -> Option<String> {
    let q = crate::units::eval(n).ok()?;
    let written = n.unit.as_ref().map(|u| format!("{} {}", sig(n.value), u.name)).unwrap_or_else(|| sig(n.value));
    if q.dim == Dim::NONE {
        return Some(format!("**{written}**: a plain number"));
    }
    let mut alts: Vec<(f64, String)> = units_of(q.dim)
        .into_iter()
        .filter_map(|(u, scale)| {
            let v = q.value / scale;
            (v.abs() >= 1.0 && v.abs() < 1000.0).then(|| (scale, format!("{} {u}", sig(v))))
        })
        .collect();
    alts.sort_by(|a, b| a.0.total_cmp(&b.0));
    alts.dedup_by(|a, b| a.1 == b.1);
    let mut s = format!("**{written}**: {}\n\n= {} {} (SI base units)", q.dim.describe(), crate::units::format::fmt_num(q.value), q.dim);
    for (_, a) in alts.iter().take(8) {
        s.push_str(&format!("  \n= {a}"));
    }
    Some(s)
}

/// Unit spellings of dimension `dim` (the registry's units, and those over `s` or `h`)
/// with their scales to SI base units.
fn units_of(dim: Dim) -> Vec<(String, f64)> {
    let atoms = crate::units::known_units();
    let mut out: Vec<(String, f64)> = Vec::new();
    for a in &atoms {
        for u in [a.clone(), format!("{a}/s"), format!("{a}/h")] {
            if let Ok((scale, d)) = crate::units::parse_unit(&u) {
                if d == dim && !out.iter().any(|(x, _)| *x == u) {
                    out.push((u, scale));
                }
            }
        }
    }
    out
}

impl Ctx<'_> {
    /// The files on disk this document's check loaded (its imports), parsed.
    fn imports(&self) -> Vec<(Home, &str, crate::syntax::ast::File)> {
        self.comp
            .sources
            .iter()
            .filter(|(fid, _)| *fid != self.comp.root)
            .filter_map(|(_, f)| match &f.origin {
                Origin::Disk(p) => Some((Home::Disk(p.clone()), f.text.as_str(), parse(&f.text))),
                _ => None,
            })
            .collect()
    }

    /// The declaration of the item named `name`: in this file, a file it loaded, or
    /// the stdlib.
    fn declaration(&self, name: &str) -> Option<Declaration> {
        if let Some(item) = parse(self.text).items.into_iter().find(|i| i.name.name == name) {
            return Some(Declaration { home: Home::This, text: self.text.to_string(), item });
        }
        // files it loaded from disk, then the stdlib (parsed once)
        for (home, text, file) in self.imports() {
            if let Some(item) = file.items.into_iter().find(|i| i.name.name == name) {
                return Some(Declaration { home, text: text.to_string(), item });
            }
        }
        for (p, src, file) in syntax::stdlib() {
            if let Some(item) = file.items.iter().find(|i| i.name.name == name) {
                return Some(Declaration { home: Home::Std(p), text: src.to_string(), item: item.clone() });
            }
        }
        None
    }

    fn uri_of_home(&self, home: &Home) -> Option<String> {
        match home {
            Home::This => Some(self.uri.to_string()),
            Home::Disk(p) => Some(uri_of(p)),
            Home::Std(p) => self.std_root.map(|r| uri_of(&r.join(p))),
        }
    }

    /// Go to definition: the item's declaration, in this file, an imported one or the
    /// stdlib's read-only copy; for a pool's name (in a plan's `place` or a cluster's
    /// `link`), its `pool` statement.
    fn definition(&self, pos: lt::Position) -> Option<lt::Location> {
        let at = offset(self.text, pos);
        let (word, _) = word_at(self.text, at)?;
        if let Some(d) = self.declaration(&word) {
            let uri = self.uri_of_home(&d.home)?.parse().ok()?;
            return Some(lt::Location { uri, range: range(&d.text, d.item.name.span.range()) });
        }
        self.with_pool(at, &word, |(home, text, _), p| {
            let uri = self.uri_of_home(home)?.parse().ok()?;
            Some(lt::Location { uri, range: range(text, p.name.span.range()) })
        })
    }

    /// Calls `f` with the `pool` statement named `word` of the cluster the item around
    /// byte `at` is or names (looked up in this file, the files it loaded, the stdlib).
    fn with_pool<T>(&self, at: usize, word: &str, f: impl FnOnce(&Source, &crate::syntax::ast::PoolStmt) -> Option<T>) -> Option<T> {
        let file = parse(self.text);
        let it = item_around(&file, at)?;
        let loaded = self.imports();
        let files: Vec<Source> = std::iter::once((Home::This, self.text, &file))
            .chain(loaded.iter().map(|(h, t, f)| (h.clone(), *t, f)))
            .chain(std_sources())
            .collect();
        let pools = pools_of(it, &files);
        let (src, p) = pools.iter().find(|(_, p)| p.name.name == word)?;
        f(src, p)
    }

    /// Hover: a quantity in other units; a plan's solved placement and metrics; a
    /// model's figures; a chip's specs; and the declaration of the item named.
    fn hover(&self, pos: lt::Position) -> Option<lt::Hover> {
        let at = offset(self.text, pos);
        let file = parse(self.text);
        if let Some(n) = number_at(&file, at) {
            let value = quantity_hover(&n)?;
            return Some(markdown(value, Some(range(self.text, n.span.range()))));
        }
        let (word, span) = word_at(self.text, at)?;
        let mut head = String::new();
        let comp = self.comp;
        // on a plan's `model = ...`: the figures as the plan uses it
        if let Some(p) = comp.program.plans.iter().find(|p| p.model_span.file == comp.root && p.model_span.range().contains(&at)) {
            head.push_str(&format!("**{}** in plan `{}`: {}\n\n", p.model.name, p.name, model_figures(&p.model)));
        } else if let Some(m) = comp.program.models.iter().find(|m| m.name == word) {
            head.push_str(&format!("**model `{}`**: {}\n\n", m.name, model_figures(m)));
        }
        if let Some(c) = comp.program.chips.iter().find(|c| c.name == word) {
            head.push_str(&format!("**chip `{}`**  \n{}\n\n", c.name, chip_specs(c)));
        }
        let is_plan = file.items.iter().any(|i| i.kind == ItemKind::Plan && i.name.name == word);
        if is_plan {
            match self.solution.and_then(|s| s.plans.iter().find(|p| p.name == word)) {
                Some(f) => head.push_str(&format!("{}\n", f.hover)),
                None if comp.program.plans.iter().any(|p| p.name == word) => {
                    head.push_str(&format!("**plan `{word}`**: solving… (hover again for the placement)\n\n"))
                }
                None => head.push_str(&format!("**plan `{word}`**: not solved (see its diagnostics)\n\n")),
            }
        }
        let decl = self.declaration(&word);
        if decl.is_none() {
            // a pool's name: its statement
            let pool = self.with_pool(at, &word, |(_, text, _), p| {
                Some(format!("**pool `{}`**\n```hplan\n{}\n```", p.name.name, &text[p.span.range()]))
            });
            head.push_str(&pool.unwrap_or_default());
        }
        if head.is_empty() && decl.is_none() {
            return None;
        }
        let mut value = head;
        if let Some(d) = decl {
            let lines: Vec<&str> = d.text[d.item.span.range()].lines().take(30).collect();
            value.push_str(&format!("```hplan\n{}\n```", lines.join("\n")));
        }
        Some(markdown(value, Some(range(self.text, span))))
    }

    /// Inlay hints: a model's figures after its declaration and after each plan's
    /// `model = ...`; once solved, the pool and time after each `place`.
    fn inlay_hints(&self) -> Vec<lt::InlayHint> {
        let comp = self.comp;
        let mut out: Vec<(usize, String)> = Vec::new();
        for it in parse(self.text).items.iter().filter(|i| i.kind == ItemKind::Model) {
            if let Some(m) = comp.program.models.iter().find(|m| m.name == it.name.name && m.span.file == comp.root) {
                out.push((it.name.span.end as usize, model_figures(m)));
            }
        }
        for p in comp.program.plans.iter().filter(|p| p.model_span.file == comp.root) {
            out.push((p.model_span.end as usize, model_figures(&p.model)));
        }
        if let Some(s) = self.solution {
            for f in &s.plans {
                out.extend(f.places.iter().cloned());
            }
        }
        out.sort_by_key(|(at, _)| *at);
        out.into_iter()
            .map(|(at, label)| lt::InlayHint {
                position: position(self.text, at),
                label: lt::InlayHintLabel::String(format!("  {label}")),
                kind: None,
                text_edits: None,
                tooltip: None,
                padding_left: Some(true),
                padding_right: None,
                data: None,
            })
            .collect()
    }

    /// Semantic tokens from the logos lexer, by context (see [`syntax::classify`]).
    fn semantic_tokens(&self) -> lt::SemanticTokens {
        let mut known: BTreeMap<String, (ItemKind, bool)> = BTreeMap::new();
        for (_, f) in self.comp.sources.iter().filter(|(fid, _)| *fid != self.comp.root) {
            match &f.origin {
                Origin::Std(p) => {
                    for (_, _, file) in syntax::stdlib().iter().filter(|(sp, _, _)| sp == p) {
                        known.extend(file.items.iter().map(|it| (it.name.name.clone(), (it.kind, true))));
                    }
                }
                _ => known.extend(parse(&f.text).items.into_iter().map(|it| (it.name.name, (it.kind, false)))),
            }
        }
        for it in parse(self.text).items {
            known.insert(it.name.name, (it.kind, false));
        }
        semantic_tokens(self.text, &known)
    }
}

fn markdown(value: String, range: Option<lt::Range>) -> lt::Hover {
    lt::Hover { contents: lt::HoverContents::Markup(lt::MarkupContent { kind: lt::MarkupKind::Markdown, value }), range }
}

/// Encodes classified tokens as LSP semantic tokens (relative lines and UTF-16
/// columns; a token over several lines, a block comment, is split per line).
pub fn semantic_tokens(text: &str, known: &BTreeMap<String, (ItemKind, bool)>) -> lt::SemanticTokens {
    let mut data = Vec::new();
    let (mut last_line, mut last_col) = (0u32, 0u32);
    // tokens come in order, so positions are found by walking on from the previous one:
    // linear in the text, however many tokens share a line
    let mut walk = Walk { text, byte: 0, line: 0, col: 0 };
    let mut at = |b: usize| walk.to(b);
    for c in syntax::classify(text, known) {
        let mut start = c.start;
        for piece in text[c.start..c.end].split_inclusive('\n') {
            let body = piece.trim_end_matches(['\n', '\r']);
            let p = at(start);
            let len = body.encode_utf16().count() as u32;
            if len > 0 {
                let delta_line = p.line - last_line;
                let delta_start = if delta_line == 0 { p.character - last_col } else { p.character };
                data.push(lt::SemanticToken {
                    delta_line,
                    delta_start,
                    length: len,
                    token_type: c.kind,
                    token_modifiers_bitset: c.modifiers,
                });
                (last_line, last_col) = (p.line, p.character);
            }
            start += piece.len();
        }
    }
    lt::SemanticTokens { result_id: None, data }
}

/// A position in `text` moved forward byte by byte (UTF-16 columns, as LSP counts).
struct Walk<'a> {
    text: &'a str,
    byte: usize,
    line: u32,
    col: u32,
}

impl Walk<'_> {
    /// The position of byte `b`; a `b` behind the walk starts again from the top.
    fn to(&mut self, b: usize) -> lt::Position {
        if b < self.byte {
            (self.byte, self.line, self.col) = (0, 0, 0);
        }
        for ch in self.text[self.byte..b].chars() {
            if ch == '\n' {
                (self.line, self.col) = (self.line + 1, 0);
            } else {
                self.col += ch.len_utf16() as u32;
            }
        }
        self.byte = b;
        lt::Position { line: self.line, character: self.col }
    }
}

/// Quick fixes: every diagnostic in `range` that suggests a name ("did you mean `x`?")
/// offers to write it.
// lsp-types' `WorkspaceEdit::changes` is a map keyed by `Uri`, whose lazily parsed parts
// clippy counts as interior mutability; hashing does not touch them.
#[allow(clippy::mutable_key_type)]
fn code_actions(uri: &lt::Uri, text: &str, comp: &Compilation, range_: lt::Range) -> Vec<lt::CodeActionOrCommand> {
    let (lo, hi) = (offset(text, range_.start), offset(text, range_.end));
    let mut out = Vec::new();
    for d in comp.diagnostics.iter().filter(|d| d.primary.span.file == comp.root) {
        let r = d.primary.span.range();
        if r.end < lo || r.start > hi {
            continue;
        }
        // the diagnostic's own edit, where this text still reads what it replaces
        let Some(fix) = d.fix.as_ref().filter(|f| f.span.file == comp.root && f.applies_to(text)) else { continue };
        let edit = lt::TextEdit { range: range(text, fix.span.range()), new_text: fix.replacement.clone() };
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

/// The schema of the innermost block of `path` (item keyword, then sub-block keywords).
fn spec_of(path: &[String]) -> Option<&'static BlockSpec> {
    let kind = ItemKind::ALL.into_iter().find(|k| Some(k.keyword()) == path.first().map(String::as_str))?;
    let mut spec = schema::for_item(kind);
    for kw in &path[1..] {
        spec = spec.blocks.iter().find(|b| b.keyword == kw)?.spec;
    }
    Some(spec)
}

fn item(label: impl Into<String>, kind: lt::CompletionItemKind, detail: Option<String>) -> lt::CompletionItem {
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

/// A file to look names up in: where it is, its text, its AST.
type Source<'a> = (Home, &'a str, &'a crate::syntax::ast::File);

/// The stdlib's files as lookup sources.
fn std_sources<'a>() -> impl Iterator<Item = Source<'a>> {
    syntax::stdlib().iter().map(|(p, t, f)| -> Source<'a> { (Home::Std(p), t, f) })
}

/// The pool statements of the cluster `it` is, or that a plan names (`cluster = c`),
/// following `extends` bases; clusters are looked up in `files` in order. Each pool
/// once (a derived cluster's own statement first).
fn pools_of<'a>(it: &Item, files: &[Source<'a>]) -> Vec<(Source<'a>, &'a crate::syntax::ast::PoolStmt)> {
    let mut next = match it.kind {
        ItemKind::Cluster => Some(it.name.name.clone()),
        ItemKind::Plan => it.body.entries.iter().find_map(|e| match e {
            Entry::Attr(a) if a.name.name == "cluster" => match &a.value {
                crate::syntax::ast::Value::Ref(p, _) => Some(p.last().name.clone()),
                _ => None,
            },
            _ => None,
        }),
        _ => None,
    };
    let mut out: Vec<(Source<'a>, &'a crate::syntax::ast::PoolStmt)> = Vec::new();
    for _ in 0..8 {
        let Some(name) = next.take() else { break };
        let found =
            files.iter().find_map(|src| src.2.items.iter().find(|i| i.kind == ItemKind::Cluster && i.name.name == name).map(|c| (src, c)));
        let Some((src, c)) = found else { break };
        for e in &c.body.entries {
            if let Entry::Pool(p) = e {
                if !out.iter().any(|(_, q)| q.name.name == p.name.name) {
                    out.push((src.clone(), p));
                }
            }
        }
        next = c.base.as_ref().map(|b| b.last().name.clone());
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
                Some(plan) if plan.kind == ItemKind::Plan => {
                    let files: Vec<Source> = std::iter::once((Home::This, text, &file)).chain(std_sources()).collect();
                    pools_of(plan, &files)
                        .into_iter()
                        .map(|(_, p)| item(p.name.name.clone(), lt::CompletionItemKind::VARIABLE, Some("pool".into())))
                        .collect()
                }
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
