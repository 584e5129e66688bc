//! The language server's input: arbitrary bytes through the stdio transport's reader
//! (framing, headers, resynchronisation), and every message it yields through the real
//! server loop on an in-memory connection, after a valid `initialize` and before
//! `shutdown` and `exit`. The server must answer every request and end cleanly; any
//! panic, hang or lost request is a bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run lsp`.
#![no_main]

use hplanc::lsp::transport::{Incoming, Reader};
use libfuzzer_sys::fuzz_target;
use lsp_server::{Connection, Message, Notification, Request, RequestId};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let mut messages = Vec::new();
    for _ in 0..64 {
        match reader.read() {
            Incoming::Message(m) => messages.push(m),
            Incoming::End => break,
            Incoming::Reply(text) => {
                let _: serde_json::Value = serde_json::from_str(&text).expect("an error reply is JSON");
            }
            Incoming::Skipped(_) => {}
        }
    }
    let (server, client) = Connection::memory();
    let opts = hplanc::lsp::Options { stdlib_dir: Some(std::env::temp_dir().join("hplanc-fuzz-std")), ..Default::default() };
    let handle = std::thread::spawn(move || hplanc::lsp::serve_with(&server, &opts));
    let send = |m: Message| client.sender.send(m).expect("the server is listening");
    send(Message::Request(Request::new(RequestId::from(i32::MAX), "initialize".into(), serde_json::json!({ "capabilities": {} }))));
    let mut asked = vec![RequestId::from(i32::MAX)];
    for m in messages {
        match &m {
            // the session's own end comes last
            Message::Notification(n) if n.method == "exit" => continue,
            Message::Request(r) if r.method == "shutdown" || r.method == "initialize" => continue,
            Message::Request(r) => asked.push(r.id.clone()),
            _ => {}
        }
        send(m);
    }
    send(Message::Request(Request::new(RequestId::from(i32::MIN), "shutdown".into(), serde_json::Value::Null)));
    asked.push(RequestId::from(i32::MIN));
    // every request is answered (ids may repeat: count them)
    while !asked.is_empty() {
        match client.receiver.recv_timeout(Duration::from_secs(60)).expect("the server answers") {
            Message::Response(r) => {
                if let Some(i) = asked.iter().position(|id| *id == r.id) {
                    asked.remove(i);
                }
            }
            Message::Request(r) => {
                let _ = client.sender.send(Message::Response(lsp_server::Response::new_ok(r.id, serde_json::Value::Null)));
            }
            Message::Notification(_) => {}
        }
    }
    send(Message::Notification(Notification::new("exit".into(), serde_json::Value::Null)));
    let ended = handle.join().expect("the server does not panic").expect("the session ends cleanly");
    assert_eq!(ended, hplanc::lsp::Ended::Exit);
});
