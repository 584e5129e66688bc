//! The language server: each feature over the protocol in process (an in-memory
//! connection to the real server loop), and one end-to-end session with the real
//! `hplanc lsp` over stdio, with a timeout.

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

const URI: &str = "file:///work/plan.hplan";

/// A plan with one mistake (a bandwidth written as a size) and a misspelled name.
const TEXT: &str = "use std::chips::b200\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\n\
chip mine = b200 {\n  memory hbm {\n    bandwidth = 80 GB\n  }\n}\n\n\
workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\n\
cluster c {\n  pool gpu = b200 x 8 over nvlink5\n}\n\n\
plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n}\n";

/// Where the servers of these tests write the stdlib's read-only documents.
fn std_dir() -> PathBuf {
    std::env::temp_dir().join("hplanc-lsp-tests")
}

/// A client talking to the real server loop on a thread. Messages that arrive while it
/// waits for something else are kept for later.
struct Client {
    conn: Connection,
    server: Option<std::thread::JoinHandle<Result<hplanc::lsp::Ended, String>>>,
    next: i32,
    kept: RefCell<Vec<Message>>,
}

impl Client {
    fn start() -> Client {
        Client::with(json!({ "capabilities": {} }))
    }

    fn with(init: Value) -> Client {
        Client::with_options(init, hplanc::lsp::Options { stdlib_dir: Some(std_dir()), ..Default::default() })
    }

    fn with_options(init: Value, opts: hplanc::lsp::Options) -> Client {
        let (server, conn) = Connection::memory();
        let handle = std::thread::spawn(move || hplanc::lsp::serve_with(&server, &opts));
        let mut c = Client { conn, server: Some(handle), next: 1, kept: RefCell::new(vec![]) };
        let caps = c.request("initialize", init);
        assert!(caps["capabilities"]["hoverProvider"].as_bool().unwrap(), "{caps}");
        c.notify("initialized", json!({}));
        c
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn.sender.send(Message::Notification(Notification::new(method.into(), params))).unwrap();
    }

    /// The first message (kept or new) that `pick` accepts; the others are kept.
    fn wait<T>(&self, what: &str, mut pick: impl FnMut(&Message) -> Option<T>) -> T {
        let mut kept = self.kept.borrow_mut();
        if let Some(i) = kept.iter().position(|m| pick(m).is_some()) {
            return pick(&kept.remove(i)).unwrap();
        }
        loop {
            let m = self.conn.receiver.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what} within 30 s"));
            match pick(&m) {
                Some(t) => return t,
                None => kept.push(m),
            }
        }
    }

    /// Sends a request and waits for its response: the result, or the error.
    fn ask(&mut self, method: &str, params: Value) -> Result<Value, lsp_server::ResponseError> {
        let id = RequestId::from(self.next);
        self.next += 1;
        self.conn.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).unwrap();
        self.wait(method, |m| match m {
            Message::Response(Response { id: rid, response_result }) if *rid == id => Some(response_result.clone()),
            _ => None,
        })
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.ask(method, params).unwrap_or_else(|e| panic!("{method}: {} {}", e.code, e.message))
    }

    /// The next publishDiagnostics for `uri` (at `version`, if given).
    fn diagnostics_for(&self, uri: &str, version: Option<i64>) -> Value {
        self.wait("diagnostics", |m| match m {
            Message::Notification(n)
                if n.method == "textDocument/publishDiagnostics"
                    && n.params["uri"] == uri
                    && version.is_none_or(|v| n.params["version"] == v) =>
            {
                Some(n.params.clone())
            }
            _ => None,
        })
    }

    /// Publishes for `uri` until one whose codes are `want` (earlier ones may be of
    /// an older state: the check before the solve, or a dependency's old text).
    fn diagnostics_until(&self, uri: &str, want: &[&str]) -> Value {
        loop {
            let d = self.diagnostics_for(uri, None);
            if codes(&d) == want {
                return d;
            }
        }
    }

    /// Waits for the server's `workspace/inlayHint/refresh` and answers it.
    fn refreshed(&self) {
        let id = self.wait("the inlay hint refresh", |m| match m {
            Message::Request(r) if r.method == "workspace/inlayHint/refresh" => Some(r.id.clone()),
            _ => None,
        });
        self.conn.sender.send(Message::Response(Response::new_ok(id, Value::Null))).unwrap();
    }

    fn open_at(&self, uri: &str, text: &str) {
        self.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "hplan", "version": 1, "text": text } }));
    }

    fn open(&self, text: &str) -> Value {
        self.open_at(URI, text);
        self.diagnostics_for(URI, Some(1))
    }

    fn change(&self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        assert_eq!(self.server.take().unwrap().join().unwrap().unwrap(), hplanc::lsp::Ended::Exit);
    }

    /// The error a request gets (it must get one).
    fn refused(&mut self, method: &str, params: Value) -> (i32, String) {
        let e = self.ask(method, params).expect_err(method);
        (e.code, e.message)
    }
}

fn at_in(uri: &str, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } })
}

fn at(line: u32, character: u32) -> Value {
    at_in(URI, line, character)
}

fn codes(d: &Value) -> Vec<String> {
    d["diagnostics"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap_or("").to_string()).collect()
}

#[test]
fn diagnostics_on_open_and_change() {
    let c = Client::start();
    let d = c.open(TEXT);
    assert_eq!(d["uri"], URI);
    let diags = d["diagnostics"].as_array().unwrap();
    let e = diags.iter().find(|x| x["code"] == "E0202").expect("the bandwidth error");
    // line 7 (0-based 6), `80 GB` starts at character 16
    assert_eq!(e["range"]["start"], json!({ "line": 6, "character": 16 }));
    assert_eq!(e["severity"], 1);
    assert!(e["message"].as_str().unwrap().contains("help:"), "{e}");
    // fixed: no diagnostics
    let fixed = TEXT.replace("80 GB\n", "80 GB/s\n");
    c.change(URI, 2, &fixed);
    let d = c.diagnostics_for(URI, Some(2));
    assert_eq!(d["diagnostics"], json!([]), "{d}");
    c.stop();
}

/// Diagnostics first, the solve after: the check's diagnostics come at once; the
/// solver's (an SLO no placement meets) follow for the same version, and only then.
#[test]
fn solver_diagnostics_follow_the_check() {
    let c = Client::start();
    let slow = TEXT.replace("80 GB\n", "80 GB/s\n").replace("  workload = w\n}", "  workload = w\n  slo {\n    tpot <= 1 us\n  }\n}");
    let first = c.open(&slow);
    assert_eq!(codes(&first), Vec::<String>::new(), "the check finds nothing: {first}");
    let second = c.diagnostics_for(URI, Some(1));
    assert_eq!(codes(&second), ["E0406"], "{second}");
    c.stop();
}

/// Requests are answered while a solve runs: with the solver held (the server's
/// `solve_gate`, so nothing depends on how long a solve takes), a file's hover says
/// "solving…", completion answers, and only the check's diagnostics have come; once the
/// solve is let go, the solver's diagnostics follow and the hover shows the optimum.
#[test]
fn requests_are_answered_while_solving() {
    let (release, gate) = crossbeam_channel::unbounded();
    let opts = hplanc::lsp::Options { stdlib_dir: Some(std_dir()), solve_gate: Some(gate) };
    let mut c = Client::with_options(json!({ "capabilities": {} }), opts);
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/s13_auto_everything.hplan")).unwrap();
    let line = text.lines().position(|l| l.starts_with("plan chat_auto")).unwrap() as u32;
    c.open_at(URI, &text);
    let hover = c.request("textDocument/hover", at(line, 6));
    let v = hover["contents"]["value"].as_str().unwrap();
    assert!(v.starts_with("**plan `chat_auto`**: solving…"), "{v}");
    let comp = c.request("textDocument/completion", at(line + 1, 0));
    assert!(comp.as_array().unwrap().iter().any(|x| x["label"] == "objective" || x["label"] == "slo"), "{comp}");
    // only the check's publish so far (kept while waiting)
    let received: Vec<bool> =
        c.kept.borrow().iter().map(|m| matches!(m, Message::Notification(n) if n.method == "textDocument/publishDiagnostics")).collect();
    assert_eq!(received, [true], "the check's diagnostics came first, the solver's not yet");
    release.send(()).unwrap();
    c.diagnostics_for(URI, Some(1));
    c.diagnostics_for(URI, Some(1));
    let hover = c.request("textDocument/hover", at(line, 6));
    assert!(hover["contents"]["value"].as_str().unwrap().starts_with("# plan chat_auto: optimal"), "{hover}");
    drop(release);
    c.stop();
}

#[test]
fn hover_definition_symbols_formatting_completion() {
    let mut c = Client::start();
    c.open(TEXT);
    // hover on `b200` in the pool line: the chip's specs and its stdlib declaration
    let h = c.request("textDocument/hover", at(17, 14));
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.starts_with("**chip `b200`**") && v.contains("fp8 4.50 PFLOP/s"), "{v}");
    assert!(v.contains("chip b200") && v.contains("fp8  = 4500 TFLOP/s"), "{v}");
    // its own power and its power as deployed (the DGX B200's 14.3 kW over 8 GPUs)
    assert!(v.contains("power: 1,000 W") && v.contains("power as deployed: 1,788 W"), "{v}");
    // hover on the model's name in its import: parameters, weight bytes, KV bytes/token
    let h = c.request("textDocument/hover", at(2, 20));
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.starts_with("**model `llama3_1_8b`**: 8.03 B params") && v.contains("KV cache 131 kB/token"), "{v}");
    // hover on a quantity: other units
    let h = c.request("textDocument/hover", at(6, 17));
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.starts_with("**80 GB**: a size") && v.contains("74.51 GiB"), "{v}");
    // definition of `c` in `cluster = c`
    let d = c.request("textDocument/definition", at(22, 12));
    assert_eq!(d["uri"], URI);
    assert_eq!(d["range"]["start"], json!({ "line": 16, "character": 8 }), "{d}");
    // symbols: the file's items in order
    let s = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": URI } }));
    let names: Vec<&str> = s.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mine", "w", "c", "p"]);
    // completion inside the workload block: its attributes, from the schema
    let comp = c.request("textDocument/completion", at(11, 0));
    let labels: Vec<&str> = comp.as_array().unwrap().iter().map(|x| x["label"].as_str().unwrap()).collect();
    for a in ["input", "output", "concurrency"] {
        assert!(labels.contains(&a), "{labels:?}");
    }
    // ... the stdlib module's items in a `use` line
    let comp = c.request("textDocument/completion", at(0, 16));
    let labels: Vec<&str> = comp.as_array().unwrap().iter().map(|x| x["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"b200") && labels.contains(&"lp30") && !labels.contains(&"nvlink5"), "{labels:?}");
    // ... and units after a number, by the attribute's dimension
    let comp = c.request("textDocument/completion", at(6, 19));
    let labels: Vec<&str> = comp.as_array().unwrap().iter().map(|x| x["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"TB/s") && !labels.contains(&"tok"), "{labels:?}");
    // formatting: one whole-document edit to what `hplanc fmt` writes
    let messy = "workload  w {\ninput=1k tok\n}\n";
    c.change(URI, 3, messy);
    c.diagnostics_for(URI, Some(3));
    let f =
        c.request("textDocument/formatting", json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }));
    assert_eq!(f[0]["newText"], hplanc::syntax::fmt::format(messy));
    c.stop();
}

#[test]
fn semantic_tokens_over_the_protocol() {
    let mut c = Client::start();
    c.open(TEXT);
    let t = c.request("textDocument/semanticTokens/full", json!({ "textDocument": { "uri": URI } }));
    let data: Vec<u64> = t["data"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    assert_eq!(data.len() % 5, 0);
    // decode to (line, column, length, type, modifiers)
    let (mut line, mut col) = (0, 0);
    let mut toks = Vec::new();
    for d in data.chunks(5) {
        if d[0] > 0 {
            col = 0;
        }
        line += d[0];
        col += d[1];
        toks.push((line, col, d[2], hplanc::lsp::syntax::TOKEN_TYPES[d[3] as usize], d[4]));
    }
    // `use` keyword; `b200`: a chip from the stdlib (defaultLibrary)
    assert_eq!(toks[0], (0, 0, 3, "keyword", 0));
    assert!(toks.contains(&(0, 16, 4, "class", 2)), "{toks:?}");
    // `mine` declared (modifier bit 0), `80` a number, `GB` a unit
    assert!(toks.contains(&(4, 5, 4, "class", 1)), "{toks:?}");
    assert!(toks.contains(&(6, 16, 2, "number", 0)) && toks.contains(&(6, 19, 2, "type", 0)), "{toks:?}");
    c.stop();
}

/// Solved hints after the check: once the plan is solved the server asks the client
/// to refresh its inlay hints, which then show where each `place` went and its time,
/// and the plan's hover shows the placement and metrics.
#[test]
fn solved_hints_and_plan_hover() {
    let init = json!({ "capabilities": { "workspace": { "inlayHint": { "refreshSupport": true } } } });
    let mut c = Client::with(init);
    let text = TEXT
        .replace("80 GB\n", "80 GB/s\n")
        .replace("  workload = w\n}", "  workload = w\n  place prefill on gpu\n  place decode.attn on auto\n}");
    c.open(&text);
    c.refreshed();
    let all = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 40, "character": 0 } });
    let hints = c.request("textDocument/inlayHint", json!({ "textDocument": { "uri": URI }, "range": all }));
    let labels: Vec<(u64, String)> = hints
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["position"]["line"].as_u64().unwrap(), h["label"].as_str().unwrap().to_string()))
        .collect();
    // the model's figures after `model = ...`, then the two `place` lines
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(labels[0].0 == 21 && labels[0].1.contains("8.03 B params"), "{labels:?}");
    assert!(labels[1].0 == 24 && labels[1].1.starts_with("  → gpu (") && labels[1].1.contains("per prefill"), "{labels:?}");
    assert!(labels[2].0 == 25 && labels[2].1.contains("attention per step"), "{labels:?}");
    // a pool's name in a `place`: its definition and hover are the cluster's statement
    let d = c.request("textDocument/definition", at(24, 19));
    assert_eq!((d["uri"].as_str(), &d["range"]["start"]), (Some(URI), &json!({ "line": 17, "character": 7 })), "{d}");
    let h = c.request("textDocument/hover", at(24, 19));
    assert!(h["contents"]["value"].as_str().unwrap().contains("pool gpu = b200 x 8 over nvlink5"), "{h}");
    // completion of stages after `place`, pools after `on`, objectives after `minimize`
    let labels = |v: Value| -> Vec<String> { v.as_array().unwrap().iter().map(|x| x["label"].as_str().unwrap().to_string()).collect() };
    assert!(labels(c.request("textDocument/completion", at(25, 8))).contains(&"decode.ffn".to_string()));
    assert_eq!(labels(c.request("textDocument/completion", at(25, 23))), ["gpu", "auto", "any"]);
    let h = c.request("textDocument/hover", at(20, 5));
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.starts_with("# plan p: optimal") && v.contains("| decode.attn | gpu |") && v.contains("TPOT "), "{v}");
    c.stop();
}

#[test]
fn inlay_hints_and_quick_fixes_over_the_protocol() {
    let mut c = Client::start();
    c.open(&TEXT.replace("chip mine = b200 {", "model m = llama3_1_8b { weights = fp8 }\nchip mine = b200 {"));
    let all = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 40, "character": 0 } });
    let hints = c.request("textDocument/inlayHint", json!({ "textDocument": { "uri": URI }, "range": all }));
    let h = hints.as_array().unwrap();
    // the model declared in the file, then the plan's
    assert_eq!(h[0]["position"], json!({ "line": 4, "character": 7 }), "{h:?}");
    // 6.98 B GEMM parameters at 1 B, 1.05 B of embeddings and norms at BF16's 2 B
    assert!(h[0]["label"].as_str().unwrap().contains("9.08 GB of fp8 weights (bf16 embeddings, norms and routers)"), "{h:?}");
    assert_eq!(h[1]["position"]["line"], 22, "after `model = llama3_1_8b`: {h:?}");
    assert!(h[1]["label"].as_str().unwrap().contains("8.03 B params"), "{h:?}");
    // a misspelled workload name gets a quick fix
    let typo = TEXT.replace("  workload = w\n", "  workload = ww\n");
    c.change(URI, 2, &typo);
    let d = c.diagnostics_for(URI, Some(2));
    assert!(codes(&d).contains(&"E0101".to_string()), "{d}");
    let actions =
        c.request("textDocument/codeAction", json!({ "textDocument": { "uri": URI }, "range": all, "context": { "diagnostics": [] } }));
    let a = actions.as_array().unwrap().iter().find(|a| a["title"] == "write `w`").expect("the did-you-mean fix");
    assert_eq!(a["edit"]["changes"][URI][0]["newText"], "w");
    c.stop();
}

/// A workspace of three files: `chips.hplan` declares a chip, `plan.hplan` and
/// `other.hplan` import it.
fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hplanc-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    std::fs::write(dir.join("chips.hplan"), CHIPS).unwrap();
    std::fs::write(dir.join("plan.hplan"), PLAN).unwrap();
    std::fs::write(dir.join("other.hplan"), PLAN.replace("plan p {", "plan q {")).unwrap();
    dir
}

const CHIPS: &str = "use std::chips::b200\n\nchip mine = b200 {\n  price = 3 $/h\n}\n";
const PLAN: &str = "use \"chips.hplan\"\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\n\
workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\n\
cluster c {\n  pool gpu = mine x 8 over nvlink5\n}\n\n\
plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n}\n";

/// [`workspace`] served with its folder as the root and `plan.hplan` open (and clean):
/// the folder, the client and the plan's URI.
fn workspace_with_plan_open(name: &str) -> (PathBuf, Client, String) {
    let dir = workspace(name);
    let c = Client::with(json!({ "capabilities": {}, "rootUri": file_uri(&dir) }));
    let plan = file_uri(&dir.join("plan.hplan"));
    c.open_at(&plan, PLAN);
    assert_eq!(codes(&c.diagnostics_for(&plan, Some(1))), Vec::<String>::new());
    (dir, c, plan)
}

fn file_uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

#[test]
fn definition_and_references_across_imports_and_into_the_stdlib() {
    let (dir, mut c, plan) = workspace_with_plan_open("refs");
    // `mine` (pool line) is declared in chips.hplan
    let d = c.request("textDocument/definition", at_in(&plan, 11, 14));
    assert_eq!(d["uri"], file_uri(&dir.join("chips.hplan")), "{d}");
    assert_eq!(d["range"]["start"], json!({ "line": 2, "character": 5 }));
    // `nvlink5` is the stdlib's, served as a read-only file
    let d = c.request("textDocument/definition", at_in(&plan, 11, 28));
    let uri = d["uri"].as_str().unwrap();
    let path = PathBuf::from(uri.strip_prefix("file://").unwrap());
    assert!(path.starts_with(std_dir().canonicalize().unwrap()) && path.ends_with("links/nvlink.hplan"), "{d}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
    let line = d["range"]["start"]["line"].as_u64().unwrap() as usize;
    assert!(text.lines().nth(line).unwrap().starts_with("link nvlink5"), "{d}");
    // a pool of a stdlib cluster: its statement in the stdlib's read-only copy
    let std_plan = "file:///work/std_plan.hplan";
    let text = "use std::clusters::vr_nvl72_lpx\nplan s {\n  cluster = vr_nvl72_lpx\n  place decode.ffn on lpu\n}\n";
    c.open_at(std_plan, text);
    let d = c.request("textDocument/definition", at_in(std_plan, 3, 22));
    assert!(d["uri"].as_str().unwrap().ends_with("/std/clusters/reference.hplan"), "{d}");
    assert_eq!(d["range"]["start"], json!({ "line": 28, "character": 7 }), "{d}");
    // references to `mine`: its declaration, and the pools of both importers (the
    // other one is not open: it is found in the workspace)
    let params =
        json!({ "textDocument": { "uri": plan }, "position": { "line": 11, "character": 14 }, "context": { "includeDeclaration": true } });
    let refs = c.request("textDocument/references", params);
    let mut found: Vec<(String, u64)> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["uri"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), r["range"]["start"]["line"].as_u64().unwrap()))
        .collect();
    found.sort();
    assert_eq!(found, [("chips.hplan".to_string(), 2), ("other.hplan".to_string(), 11), ("plan.hplan".to_string(), 11)]);
    // references to a stdlib link reach the stdlib's own uses of it too
    let params =
        json!({ "textDocument": { "uri": plan }, "position": { "line": 11, "character": 28 }, "context": { "includeDeclaration": false } });
    let refs = c.request("textDocument/references", params);
    let uris: Vec<&str> = refs.as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert!(uris.contains(&plan.as_str()) && uris.iter().any(|u| u.ends_with("clusters/reference.hplan")), "{uris:?}");
    c.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The edits of a rename, as (file name, line, character, new text), sorted.
fn edits(e: &Value) -> Vec<(String, u64, u64, String)> {
    let mut out = Vec::new();
    for (uri, list) in e["changes"].as_object().expect("changes by file") {
        for t in list.as_array().unwrap() {
            out.push((
                uri.rsplit('/').next().unwrap().to_string(),
                t["range"]["start"]["line"].as_u64().unwrap(),
                t["range"]["start"]["character"].as_u64().unwrap(),
                t["newText"].as_str().unwrap().to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// Rename works on the compiler's resolution: across an import (the declaring file and
/// both importers, one not open), not into a stdlib item of the same name that a local
/// one shadows, for pools, and never for the stdlib's own items.
#[test]
fn rename_follows_the_compilers_resolution() {
    let (dir, mut c, plan) = workspace_with_plan_open("rename");
    let rename = |c: &mut Client, uri: &str, line: u32, character: u32, name: &str| {
        c.request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character }, "newName": name }),
        )
    };
    // `mine`, declared in chips.hplan, named by the pools of plan.hplan and other.hplan
    let e = rename(&mut c, &plan, 11, 14, "ours");
    let n = |f: &str, l: u64, ch: u64| (f.to_string(), l, ch, "ours".to_string());
    assert_eq!(edits(&e), [n("chips.hplan", 2, 5), n("other.hplan", 11, 13), n("plan.hplan", 11, 13)]);
    // a pool: its statement and the plan's `place` (the cluster's pool, not a word)
    let text = "use std::links::nvlink5\nuse std::models::llama3_1_8b\n\n\
        chip b200 = std::chips::b200 {\n  price = 3 $/h\n}\n\n\
        workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\n\
        cluster c {\n  pool gpu = b200 x 8 over nvlink5\n}\n\n\
        plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place decode.attn on gpu\n}\n";
    let shadow = file_uri(&dir.join("shadow.hplan"));
    c.open_at(&shadow, text);
    assert_eq!(codes(&c.diagnostics_for(&shadow, Some(1))), Vec::<String>::new());
    let e = rename(&mut c, &shadow, 21, 23, "hbm");
    let n = |l: u64, ch: u64| ("shadow.hplan".to_string(), l, ch, "hbm".to_string());
    assert_eq!(edits(&e), [n(14, 7), n(21, 23)]);
    // the local `b200` shadows the stdlib's: renaming it leaves `std::chips::b200` be
    let e = rename(&mut c, &shadow, 14, 14, "b200_priced");
    let n = |l: u64, ch: u64| ("shadow.hplan".to_string(), l, ch, "b200_priced".to_string());
    assert_eq!(edits(&e), [n(3, 5), n(14, 13)]);
    // the stdlib is read-only; a new name must be a name
    let (code, message) = c.refused(
        "textDocument/rename",
        json!({ "textDocument": { "uri": plan }, "position": { "line": 11, "character": 28 }, "newName": "fast" }),
    );
    assert_eq!(code, -32803, "{message}");
    assert!(message.contains("read-only"), "{message}");
    let (code, message) = c.refused(
        "textDocument/rename",
        json!({ "textDocument": { "uri": plan }, "position": { "line": 11, "character": 14 }, "newName": "9lives" }),
    );
    assert_eq!(code, -32803);
    assert!(message.contains("not a name"), "{message}");
    // nothing named under the cursor: nothing to rename
    assert_eq!(rename(&mut c, &plan, 5, 3, "x"), Value::Null);
    c.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Editing an imported file re-checks the files that import it: the open one (which
/// reads the unsaved text) and the one in the workspace that is not open.
#[test]
fn importers_get_diagnostics_when_an_import_changes() {
    let dir = workspace("importers");
    let init = json!({ "capabilities": {}, "workspaceFolders": [{ "uri": file_uri(&dir), "name": "w" }] });
    let c = Client::with(init);
    let (chips, plan, other) = (file_uri(&dir.join("chips.hplan")), file_uri(&dir.join("plan.hplan")), file_uri(&dir.join("other.hplan")));
    c.open_at(&plan, PLAN);
    assert_eq!(codes(&c.diagnostics_for(&plan, Some(1))), Vec::<String>::new());
    c.open_at(&chips, CHIPS);
    c.diagnostics_for(&chips, Some(1));
    // rename the chip (unsaved): both importers now name an unknown chip
    c.change(&chips, 2, &CHIPS.replace("chip mine", "chip yours"));
    assert_eq!(codes(&c.diagnostics_for(&chips, Some(2))), Vec::<String>::new());
    c.diagnostics_until(&plan, &["E0101"]);
    c.diagnostics_until(&other, &["E0101"]);
    // and back: clean again
    c.change(&chips, 3, CHIPS);
    c.diagnostics_until(&plan, &[]);
    c.diagnostics_until(&other, &[]);
    // renamed again, then closed unsaved: the importers read the disk's text again
    c.change(&chips, 4, &CHIPS.replace("chip mine", "chip yours"));
    c.diagnostics_until(&plan, &["E0101"]);
    c.notify("textDocument/didClose", json!({ "textDocument": { "uri": chips } }));
    c.diagnostics_until(&plan, &[]);
    c.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The real binary over stdio: initialize, open a file, get its diagnostics and a hover,
/// shut down and exit 0, all within a timeout.
#[test]
fn end_to_end_over_stdio() {
    let mut s = Raw::start(false);
    s.initialize();
    let open = json!({ "textDocument": { "uri": URI, "languageId": "hplan", "version": 1, "text": TEXT } });
    s.notify("textDocument/didOpen", open);
    let n = s.next();
    assert_eq!(n["method"], "textDocument/publishDiagnostics", "{n}");
    assert!(n["params"]["diagnostics"].as_array().unwrap().iter().any(|d| d["code"] == "E0202"));
    s.request(2, "textDocument/hover", at(17, 14));
    let h = s.response();
    assert_eq!(h["id"], 2);
    assert!(h["result"]["contents"]["value"].as_str().unwrap().contains("chip b200"), "{h}");
    s.request(3, "shutdown", Value::Null);
    assert_eq!(s.response()["id"], 3);
    s.notify("exit", Value::Null);
    let (code, log) = s.wait();
    assert_eq!(code, Some(0), "{log}");
}

/// Issue 15, item 1: a workspace holding a FIFO and a symlink to /dev/zero named
/// `*.hplan` (beside real files) is scanned without blocking or reading without end:
/// the server answers, and the real importers still get diagnostics.
#[cfg(unix)]
#[test]
fn workspace_scan_skips_files_that_never_end() {
    let dir = workspace("never-ending");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.hplan")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(dir.join("fifo.hplan")).status().expect("mkfifo runs").success());
    let init = json!({ "capabilities": {}, "workspaceFolders": [{ "uri": file_uri(&dir), "name": "w" }] });
    let c = Client::with(init);
    let (chips, other) = (file_uri(&dir.join("chips.hplan")), file_uri(&dir.join("other.hplan")));
    c.open_at(&chips, CHIPS);
    c.diagnostics_for(&chips, Some(1));
    // an importer found by the scan, not open, gets the unsaved rename's diagnostics
    c.change(&chips, 2, &CHIPS.replace("chip mine", "chip yours"));
    c.diagnostics_until(&other, &["E0101"]);
    c.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15, item 5: params that do not fit the method get InvalidParams (not `null`),
/// an unknown method MethodNotFound, and after `shutdown` a request gets
/// InvalidRequest; the server keeps serving in between and ends on `exit`.
#[test]
fn protocol_errors_are_answered_by_the_rules() {
    let mut c = Client::start();
    c.open(TEXT);
    assert_eq!(c.refused("textDocument/hover", json!({ "textDocument": 3 })).0, -32602);
    assert_eq!(c.refused("textDocument/references", json!([1, 2])).0, -32602);
    assert_eq!(c.refused("textDocument/teleport", json!({})).0, -32601);
    // a document that is not open is not an error: nothing to say
    assert_eq!(c.request("textDocument/hover", at_in("file:///nowhere.hplan", 0, 0)), Value::Null);
    let h = c.request("textDocument/hover", at(17, 14));
    assert!(h["contents"]["value"].as_str().unwrap().contains("chip b200"), "{h}");
    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    let (code, message) = c.refused("textDocument/hover", at(17, 14));
    assert_eq!((code, message.as_str()), (-32600, "the server is shut down"));
    c.notify("textDocument/didChange", json!({}));
    c.notify("exit", Value::Null);
    assert_eq!(c.server.take().unwrap().join().unwrap().unwrap(), hplanc::lsp::Ended::Exit);
}

/// `exit` without `shutdown` ends the session with exit code 1 (the LSP specification);
/// a request before `initialize` gets ServerNotInitialized.
#[test]
fn exit_without_shutdown_is_an_error_exit() {
    let (server, conn) = Connection::memory();
    let opts = hplanc::lsp::Options { stdlib_dir: Some(std_dir()), ..Default::default() };
    let handle = std::thread::spawn(move || hplanc::lsp::serve_with(&server, &opts));
    conn.sender.send(Message::Request(Request::new(RequestId::from(1), "textDocument/hover".into(), at(0, 0)))).unwrap();
    let Message::Response(r) = conn.receiver.recv_timeout(Duration::from_secs(30)).unwrap() else { panic!("a response") };
    assert_eq!(r.response_result.unwrap_err().code, -32002);
    conn.sender.send(Message::Request(Request::new(RequestId::from(2), "initialize".into(), json!({ "capabilities": {} })))).unwrap();
    let Message::Response(r) = conn.receiver.recv_timeout(Duration::from_secs(30)).unwrap() else { panic!("a response") };
    assert!(r.response_result.is_ok());
    // a request before `initialized` is served all the same
    conn.sender.send(Message::Request(Request::new(RequestId::from(3), "textDocument/hover".into(), at(0, 0)))).unwrap();
    let Message::Response(r) = conn.receiver.recv_timeout(Duration::from_secs(30)).unwrap() else { panic!("a response") };
    assert_eq!(r.response_result.unwrap(), Value::Null);
    conn.sender.send(Message::Notification(Notification::new("exit".into(), Value::Null))).unwrap();
    let ended = handle.join().unwrap().unwrap();
    assert_eq!((ended, ended.code()), (hplanc::lsp::Ended::ExitWithoutShutdown, 1));
}

/// The real `hplanc lsp` over stdio, its frames read as plain JSON (an error reply to
/// a message without an id has `id: null`); with `limited`, under 1 GiB of address
/// space.
struct Raw {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    rx: std::sync::mpsc::Receiver<Value>,
}

impl Raw {
    fn start(limited: bool) -> Raw {
        use std::io::{BufRead, BufReader, Read};
        use std::process::{Command, Stdio};
        let mut cmd = if limited {
            let mut c = Command::new("sh");
            c.arg("-c").arg("ulimit -v 1048576 && exec \"$0\" lsp").arg(env!("CARGO_BIN_EXE_hplanc"));
            c
        } else {
            let mut c = Command::new(env!("CARGO_BIN_EXE_hplanc"));
            c.arg("lsp");
            c
        };
        let mut child = cmd
            .env("XDG_CACHE_HOME", std_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hplanc lsp starts");
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel::<Value>();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; len.expect("the server frames its messages")];
                r.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).expect("the server writes JSON")).is_err() {
                    return;
                }
            }
        });
        Raw { child, stdin, rx }
    }

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn send(&mut self, bytes: &str) {
        use std::io::Write;
        self.stdin.as_mut().expect("stdin is open").write_all(bytes.as_bytes()).unwrap();
    }

    fn request(&mut self, id: i32, method: &str, params: Value) {
        self.send(&Raw::frame(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()));
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&Raw::frame(&json!({ "jsonrpc": "2.0", "method": method, "params": params }).to_string()));
    }

    /// The next message from the server.
    fn next(&self) -> Value {
        self.rx.recv_timeout(Duration::from_secs(30)).expect("hplanc lsp answers within 30 s")
    }

    /// The next message with an id (a response), past notifications.
    fn response(&self) -> Value {
        loop {
            let m = self.next();
            if m.get("id").is_some() && m.get("method").is_none() {
                return m;
            }
        }
    }

    fn initialize(&mut self) {
        self.request(1, "initialize", json!({ "capabilities": {} }));
        assert_eq!(self.response()["id"], 1);
        self.notify("initialized", json!({}));
    }

    /// Closes stdin and waits for the exit code and the log.
    fn wait(mut self) -> (Option<i32>, String) {
        use std::io::Read;
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        let mut log = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
        (status.code(), log)
    }
}

/// Issue 15, item 5, over the real binary's stdio: malformed bodies get a JSON-RPC
/// error (parse error or invalid request), bad headers (missing, non-numeric,
/// negative, huge, short `Content-Length`) are skipped to the next message, and the
/// server then answers a hover as before; `exit` without `shutdown` exits 1.
#[test]
fn malformed_messages_over_stdio_are_survived() {
    let mut s = Raw::start(false);
    s.initialize();
    let open = json!({ "textDocument": { "uri": URI, "languageId": "hplan", "version": 1, "text": TEXT } });
    s.notify("textDocument/didOpen", open);

    s.send("Content-Length: 9\r\n\r\n{not json");
    s.send(&Raw::frame("[1, 2]"));
    s.send(&Raw::frame(r#"{"jsonrpc":"2.0","id":5}"#));
    s.send("Content-Length: abc\r\n\r\n{}");
    s.send("Content-Length: -4\r\n\r\n{}");
    s.send("Content-Length: 99999999999\r\n\r\n{}");
    s.send("Content-Type: application/json\r\n\r\n{}");
    let hover6 = json!({ "jsonrpc": "2.0", "id": 6, "method": "textDocument/hover", "params": at(17, 14) }).to_string();
    s.send(&format!("Content-Length: 10\r\n\r\n{hover6}"));
    s.request(2, "textDocument/hover", at(17, 14));
    // JSON-RPC lets responses come in any order: the reader's error replies keep theirs
    // (one thread sends them), the server's hover may come before or between them
    let responses: Vec<Value> = (0..5).map(|_| s.response()).collect();
    let (hovers, errors): (Vec<&Value>, Vec<&Value>) = responses.iter().partition(|r| r["id"] == 2);
    let codes: Vec<(Value, Value)> = errors.iter().map(|r| (r["id"].clone(), r["error"]["code"].clone())).collect();
    assert_eq!(
        codes,
        [(Value::Null, json!(-32700)), (Value::Null, json!(-32600)), (json!(5), json!(-32600)), (Value::Null, json!(-32700))]
    );
    assert_eq!(hovers.len(), 1, "{responses:?}");
    let h = hovers[0];
    assert!(h["result"]["contents"]["value"].as_str().unwrap().contains("chip b200"), "{h}");
    s.notify("exit", Value::Null);
    let (code, log) = s.wait();
    assert_eq!(code, Some(1), "exit without shutdown");
    assert!(log.contains("over the limit") && log.contains("not a whole number"), "{log}");
}

/// Issue 15, "done when": the language server ends every input of the hostile corpus
/// (magnitudes and counts out of range, 10,000-item `extends` chains, 8,000
/// diagnostics on one line) within 10 s each, under 1 GiB of address space: each
/// file opened gets its check's and its build's diagnostics (with the expected one),
/// and hover, inlay hints, semantic tokens, symbols and formatting answer; nothing the
/// server sends holds a non-finite number, and it shuts down cleanly.
#[cfg(unix)]
#[test]
fn the_hostile_corpus_is_served_within_bounds() {
    use std::time::Instant;
    let dir = workspace("hostile");
    let mut s = Raw::start(true);
    s.initialize();
    let mut id = 10;
    let mut seen: Vec<Value> = Vec::new();
    for case in crate::cli::hostile_corpus().into_iter().chain(crate::cli::quadratic_corpus()) {
        let path = dir.join(case.name);
        std::fs::write(&path, &case.text).unwrap();
        let uri = file_uri(&path);
        let started = Instant::now();
        s.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "hplan", "version": 1, "text": case.text } }));
        // the check's diagnostics, then the build's
        let mut published = Vec::new();
        while published.len() < 2 {
            let m = s.next();
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri.as_str() {
                published.push(m["params"]["diagnostics"].as_array().unwrap().clone());
            }
            seen.push(m);
        }
        for diagnostics in &published {
            let errors: Vec<&str> = diagnostics.iter().filter(|d| d["severity"] == 1).map(|d| d["message"].as_str().unwrap()).collect();
            match case.exit {
                0 => assert!(errors.is_empty(), "{}: {errors:?}", case.name),
                _ => assert!(errors.iter().any(|e| e.contains(case.needle)), "{}: {errors:?}", case.name),
            }
        }
        let doc = json!({ "uri": uri });
        let last = case.text.lines().count();
        let plan_line = case.text.lines().position(|l| l.starts_with("plan ")).unwrap_or(0);
        let requests = [
            ("textDocument/hover", json!({ "textDocument": doc, "position": { "line": plan_line, "character": 6 } })),
            (
                "textDocument/inlayHint",
                json!({ "textDocument": doc, "range": { "start": { "line": 0, "character": 0 }, "end": { "line": last, "character": 0 } } }),
            ),
            ("textDocument/semanticTokens/full", json!({ "textDocument": doc })),
            ("textDocument/documentSymbol", json!({ "textDocument": doc })),
            ("textDocument/formatting", json!({ "textDocument": doc, "options": { "tabSize": 2, "insertSpaces": true } })),
        ];
        for (method, params) in requests {
            id += 1;
            s.request(id, method, params);
            let r = s.response();
            assert_eq!(r["id"], id, "{}: {method}", case.name);
            assert!(r.get("error").is_none(), "{}: {method}: {r}", case.name);
            seen.push(r);
        }
        s.notify("textDocument/didClose", json!({ "textDocument": doc }));
        let took = started.elapsed();
        assert!(took.as_secs_f64() < 10.0, "{}: {took:?}", case.name);
    }
    id += 1;
    s.request(id, "shutdown", Value::Null);
    assert_eq!(s.response()["id"], id);
    s.notify("exit", Value::Null);
    let (code, log) = s.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    for m in seen {
        let t = m.to_string();
        let bad = t.split(|c: char| !c.is_ascii_alphanumeric()).find(|w| *w == "inf" || *w == "NaN");
        assert!(bad.is_none(), "a non-finite number: {}", &t[..t.len().min(2000)]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cursor markers of a fixture file: (line, character, request) for each comment
/// line `//  ^ request`, pointing into the nearest line above that is not a marker.
fn markers(text: &str) -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    let mut target: Option<u32> = None;
    for (i, line) in text.lines().enumerate() {
        let marker = line.trim_start().strip_prefix("//").filter(|rest| rest.trim_start().starts_with('^'));
        match (marker, target) {
            (Some(_), Some(t)) => {
                let col = line.find('^').unwrap();
                let request = line[col + 1..].trim().to_string();
                // columns count UTF-16 units of the target line; markers are ASCII up to `^`
                out.push((t, col as u32, request));
            }
            (Some(_), None) => panic!("a marker on the first line points at nothing"),
            (None, _) => target = Some(i as u32),
        }
    }
    out
}

/// `uri` written relative to the fixture folder, or to the stdlib's read-only copy.
fn short(uri: &str, dir: &Path) -> String {
    let path = PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri));
    if let Ok(p) = path.strip_prefix(dir) {
        return p.to_string_lossy().into_owned();
    }
    let std = std_dir().canonicalize().unwrap();
    match path.strip_prefix(&std) {
        // the copy sits under a version folder: `<std>/links/nvlink.hplan`
        Ok(p) => format!("<std>/{}", p.components().skip_while(|c| c.as_os_str() != "std").skip(1).collect::<PathBuf>().display()),
        Err(_) => uri.to_string(),
    }
}

fn place(l: &Value, dir: &Path) -> String {
    let s = &l["range"]["start"];
    format!("{}:{}:{}", short(l["uri"].as_str().unwrap(), dir), s["line"].as_u64().unwrap() + 1, s["character"].as_u64().unwrap() + 1)
}

/// Every fixture of tests/lsp_fixtures (a workspace whose files carry cursor markers):
/// each request's answer, over JSON-RPC, against its snapshot.
#[test]
fn fixtures_answer_as_recorded() {
    let root = crate::root().join("tests/lsp_fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 2);
    for dir in dirs {
        let dir = dir.canonicalize().unwrap();
        let mut c = Client::with(json!({ "capabilities": {}, "rootUri": file_uri(&dir) }));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut out = String::new();
        for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "hplan")) {
            let text = std::fs::read_to_string(file).unwrap();
            let marks = markers(&text);
            if marks.is_empty() {
                continue;
            }
            let uri = file_uri(file);
            c.open_at(&uri, &text);
            let name = short(&uri, &dir);
            assert_eq!(codes(&c.diagnostics_for(&uri, Some(1))), Vec::<String>::new(), "{name} must check clean");
            for (line, character, request) in marks {
                let word = text.lines().nth(line as usize).unwrap()[character as usize..]
                    .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .next()
                    .unwrap()
                    .to_string();
                out.push_str(&format!("{name}:{}:{} `{word}` {request}\n", line + 1, character + 1));
                let pos = json!({ "line": line, "character": character });
                let doc = json!({ "uri": uri });
                let answer = match request.split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["definition"] => {
                        let d = c.request("textDocument/definition", json!({ "textDocument": doc, "position": pos }));
                        if d.is_null() {
                            "nothing".to_string()
                        } else {
                            place(&d, &dir)
                        }
                    }
                    ["hover"] => {
                        let h = c.request("textDocument/hover", json!({ "textDocument": doc, "position": pos }));
                        h["contents"]["value"].as_str().map_or("nothing".into(), |v| v.lines().next().unwrap_or("").trim_end().to_string())
                    }
                    ["references"] => {
                        let params = json!({ "textDocument": doc, "position": pos, "context": { "includeDeclaration": true } });
                        let mut all: Vec<String> =
                            c.request("textDocument/references", params).as_array().unwrap().iter().map(|l| place(l, &dir)).collect();
                        all.sort();
                        all.join(", ")
                    }
                    ["rename", new] => {
                        match c.ask("textDocument/rename", json!({ "textDocument": doc, "position": pos, "newName": new })) {
                            Ok(e) if e.is_null() => "nothing".to_string(),
                            Ok(e) => {
                                let mut all = Vec::new();
                                for (u, list) in e["changes"].as_object().unwrap() {
                                    for t in list.as_array().unwrap() {
                                        all.push(place(&json!({ "uri": u, "range": t["range"] }), &dir));
                                    }
                                }
                                all.sort();
                                format!("{} -> {new}", all.join(", "))
                            }
                            Err(e) => format!("refused ({}): {}", e.code, e.message),
                        }
                    }
                    other => panic!("{name}: unknown request {other:?}"),
                };
                out.push_str(&format!("  {answer}\n"));
            }
        }
        c.stop();
        let fixture = dir.file_name().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(format!("fixture@{fixture}"), out);
    }
}
