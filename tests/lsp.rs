//! The language server: each feature over the protocol in process (an in-memory
//! connection to the real server loop), and one end-to-end session with the real
//! `hplanc lsp` over stdio, with a timeout.

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use serde_json::{json, Value};
use std::time::Duration;

const URI: &str = "file:///work/plan.hplan";

/// A plan with one mistake (a bandwidth written as a size) and a misspelled name.
const TEXT: &str = "use std::chips::b200\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\n\
chip mine = b200 {\n  memory hbm {\n    bandwidth = 80 GB\n  }\n}\n\n\
workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\n\
cluster c {\n  pool gpu = b200 x 8 over nvlink5\n}\n\n\
plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n}\n";

/// A client talking to the real server loop on a thread.
struct Client {
    conn: Connection,
    server: Option<std::thread::JoinHandle<Result<(), String>>>,
    next: i32,
}

impl Client {
    fn start() -> Client {
        let (server, conn) = Connection::memory();
        let handle = std::thread::spawn(move || hplanc::lsp::serve(&server));
        let mut c = Client { conn, server: Some(handle), next: 1 };
        let caps = c.request("initialize", json!({ "capabilities": {} }));
        assert!(caps["capabilities"]["hoverProvider"].as_bool().unwrap(), "{caps}");
        c.notify("initialized", json!({}));
        c
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn.sender.send(Message::Notification(Notification::new(method.into(), params))).unwrap();
    }

    fn recv(&self) -> Message {
        self.conn.receiver.recv_timeout(Duration::from_secs(30)).expect("the server answers within 30 s")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.conn.sender.send(Message::Request(Request::new(RequestId::from(id), method.into(), params))).unwrap();
        loop {
            if let Message::Response(Response { id: rid, response_result }) = self.recv() {
                assert_eq!(rid, RequestId::from(id));
                return response_result.unwrap_or_else(|e| panic!("{method}: {} {}", e.code, e.message));
            }
        }
    }

    /// The next publishDiagnostics notification.
    fn diagnostics(&self) -> Value {
        loop {
            if let Message::Notification(n) = self.recv() {
                if n.method == "textDocument/publishDiagnostics" {
                    return n.params;
                }
            }
        }
    }

    fn open(&self, text: &str) -> Value {
        self.notify("textDocument/didOpen", json!({ "textDocument": { "uri": URI, "languageId": "hplan", "version": 1, "text": text } }));
        self.diagnostics()
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.server.take().unwrap().join().unwrap().unwrap();
    }
}

fn at(line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": URI }, "position": { "line": line, "character": character } })
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
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [{ "text": fixed }] }));
    let d = c.diagnostics();
    assert_eq!(d["diagnostics"], json!([]), "{d}");
    c.stop();
}

#[test]
fn hover_definition_symbols_formatting_completion() {
    let mut c = Client::start();
    c.open(TEXT);
    // hover on `b200` in the pool line: the stdlib chip's declaration
    let h = c.request("textDocument/hover", at(17, 14));
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.contains("chip b200") && v.contains("fp8  = 4500 TFLOP/s"), "{v}");
    // definition of `c` in `cluster = c`
    let d = c.request("textDocument/definition", at(22, 12));
    assert_eq!(d["range"]["start"], json!({ "line": 16, "character": 8 }), "{d}");
    // symbols: the file's five items in order
    let s = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": URI } }));
    let names: Vec<&str> = s.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mine", "w", "c", "p"]);
    // formatting: one whole-document edit to what `hplanc fmt` writes
    let messy = "workload  w {\ninput=1k tok\n}\n";
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": 3 }, "contentChanges": [{ "text": messy }] }));
    c.diagnostics();
    let f =
        c.request("textDocument/formatting", json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }));
    assert_eq!(f[0]["newText"], hplanc::syntax::fmt::format(messy));
    // completion inside the workload block: its attributes, from the schema
    let comp = c.request("textDocument/completion", at(1, 0));
    let labels: Vec<&str> = comp.as_array().unwrap().iter().map(|x| x["label"].as_str().unwrap()).collect();
    for a in ["input", "output", "concurrency"] {
        assert!(labels.contains(&a), "{labels:?}");
    }
    c.stop();
}

/// The real binary over stdio: initialize, open a file, get its diagnostics and a hover,
/// shut down and exit 0, all within a timeout.
#[test]
fn end_to_end_over_stdio() {
    use std::io::{BufReader, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hplanc"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hplanc lsp starts");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        while let Ok(Some(m)) = Message::read(&mut r) {
            if tx.send(m).is_err() {
                break;
            }
        }
    });
    let mut send = |m: Message| m.write(&mut stdin).unwrap();
    let next = || rx.recv_timeout(Duration::from_secs(30)).expect("hplanc lsp answers within 30 s");
    send(Message::Request(Request::new(RequestId::from(1), "initialize".into(), json!({ "capabilities": {} }))));
    assert!(matches!(next(), Message::Response(r) if r.id == RequestId::from(1)));
    send(Message::Notification(Notification::new("initialized".into(), json!({}))));
    let open = json!({ "textDocument": { "uri": URI, "languageId": "hplan", "version": 1, "text": TEXT } });
    send(Message::Notification(Notification::new("textDocument/didOpen".into(), open)));
    let Message::Notification(n) = next() else { panic!("expected diagnostics") };
    assert_eq!(n.method, "textDocument/publishDiagnostics");
    assert!(n.params["diagnostics"].as_array().unwrap().iter().any(|d| d["code"] == "E0202"));
    send(Message::Request(Request::new(RequestId::from(2), "textDocument/hover".into(), at(17, 14))));
    let Message::Response(h) = next() else { panic!("expected the hover") };
    assert!(h.response_result.unwrap()["contents"]["value"].as_str().unwrap().contains("chip b200"));
    send(Message::Request(Request::new(RequestId::from(3), "shutdown".into(), Value::Null)));
    assert!(matches!(next(), Message::Response(r) if r.id == RequestId::from(3)));
    send(Message::Notification(Notification::new("exit".into(), Value::Null)));
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    std::io::stdout().flush().unwrap();
}

#[test]
fn inlay_hints_and_quick_fixes_over_the_protocol() {
    let mut c = Client::start();
    c.open(TEXT);
    let all = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 40, "character": 0 } });
    let hints = c.request("textDocument/inlayHint", json!({ "textDocument": { "uri": URI }, "range": all }));
    let h = &hints.as_array().unwrap()[0];
    assert_eq!(h["position"]["line"], 21, "after `model = llama3_1_8b`: {h}");
    assert!(h["label"].as_str().unwrap().contains("8.03 B params"), "{h}");
    // a misspelled workload name gets a quick fix
    let typo = TEXT.replace("  workload = w\n", "  workload = ww\n");
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [{ "text": typo }] }));
    let d = c.diagnostics();
    assert!(d["diagnostics"].as_array().unwrap().iter().any(|x| x["code"] == "E0101"), "{d}");
    let actions =
        c.request("textDocument/codeAction", json!({ "textDocument": { "uri": URI }, "range": all, "context": { "diagnostics": [] } }));
    let a = actions.as_array().unwrap().iter().find(|a| a["title"] == "write `w`").expect("the did-you-mean fix");
    assert_eq!(a["edit"]["changes"][URI][0]["newText"], "w");
    c.stop();
}
