//! The language server's stdio transport: framed JSON-RPC messages in and out, and a
//! reader that never gives up on the stream.
//!
//! A message is `Content-Length: N` (other headers are ignored), a blank line and N
//! bytes of JSON. What the reader does with what it cannot use:
//!
//! - a body that is not JSON: a JSON-RPC parse error (-32700, id null) is sent back;
//! - JSON that is not a request, notification or response: an invalid request
//!   (-32600), with the message's id when it has a usable one, else null;
//! - a header block without a usable `Content-Length` (missing, not a number,
//!   negative, over [`MAX_MESSAGE_BYTES`]) or bytes that are not a header: logged on
//!   stderr and skipped up to the next `Content-Length:`, which is where the reader
//!   picks up again (a body that should have followed is skipped with it).
//!
//! Memory is bounded: a body is allocated only after its length is checked, header
//! lines are read at most [`MAX_HEADER_LINE`] bytes at a time, and skipping streams.

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender};
use lsp_server::{Message, Notification, Request, RequestId, Response};
use serde_json::Value;
use std::io::{self, BufRead, Read, Write};

/// The largest message body read (64 MiB): a full-text change of the largest file the
/// compiler reads (8 MiB, [`crate::source::MAX_FILE_BYTES`]), with every character
/// escaped, fits with room to spare.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// The longest header line kept (longer ones are an error, skipped).
pub const MAX_HEADER_LINE: usize = 1024;
/// Most header lines in one message.
pub const MAX_HEADER_LINES: usize = 32;

/// What the reader found next.
#[derive(Debug)]
pub enum Incoming {
    /// a message for the server
    Message(Message),
    /// a JSON-RPC error response to send back at once (the server never sees it)
    Reply(String),
    /// input that was skipped, and why (for the log)
    Skipped(String),
    /// the end of the input
    End,
}

/// Reads framed messages from a byte stream.
pub struct Reader<R> {
    r: Pushback<R>,
    /// the next `Content-Length:` has been consumed (skipped bytes were reported first)
    at_value: bool,
}

const MARK: &[u8] = b"content-length:";

impl<R: BufRead> Reader<R> {
    pub fn new(r: R) -> Reader<R> {
        Reader { r: Pushback { front: Vec::new(), at: 0, inner: r }, at_value: false }
    }

    /// The next message or event. Input errors other than the end count as the end.
    pub fn read(&mut self) -> Incoming {
        match self.next_io() {
            Ok(x) => x,
            Err(_) => Incoming::End,
        }
    }

    fn next_io(&mut self) -> io::Result<Incoming> {
        // 1. up to and past `Content-Length:`, counting what was not whitespace
        if !std::mem::take(&mut self.at_value) {
            let (found, junk) = self.skip_to_mark()?;
            if !found {
                return Ok(if junk > 0 {
                    Incoming::Skipped(format!("{junk} bytes before the end that were not a message"))
                } else {
                    Incoming::End
                });
            }
            if junk > 0 {
                self.at_value = true;
                return Ok(Incoming::Skipped(format!("{junk} bytes that were not a message")));
            }
        }
        // 2. its value, then the other header lines up to the blank line
        let Some(value) = self.line()? else { return Ok(Incoming::End) };
        // a header cut short by the next one: read on from that one
        if self.resume_in(&value) {
            return Ok(Incoming::Skipped("a Content-Length cut short by another".into()));
        }
        let length = parse_length(&value);
        let mut lines = 0;
        loop {
            let Some(line) = self.line()? else { return Ok(Incoming::End) };
            if self.resume_in(&line) {
                return Ok(Incoming::Skipped("a header block with two Content-Length headers".into()));
            }
            if matches!(&line, Line::Text(t) if t.is_empty()) {
                break;
            }
            lines += 1;
            if lines > MAX_HEADER_LINES {
                return Ok(Incoming::Skipped(format!("a header block of more than {MAX_HEADER_LINES} lines")));
            }
        }
        let n = match length {
            Ok(n) => n,
            Err(why) => return Ok(Incoming::Skipped(format!("{why}; skipped to the next Content-Length"))),
        };
        // 3. the body, allocated once its length is known to be within the limit
        let mut body = vec![0; n];
        let mut got = 0;
        while got < n {
            match self.r.read(&mut body[got..]) {
                Ok(0) => {
                    // the input ends inside the body: read on from a message inside it
                    return Ok(match resume_at(&body[..got]) {
                        Some(k) => {
                            self.r.unread(&body[k..got]);
                            Incoming::Skipped("a message cut short by the next one".into())
                        }
                        None => Incoming::End,
                    });
                }
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let out = classify(&body);
        // a body that is not JSON may have swallowed the start of the next message (a
        // Content-Length too large): read on from a `Content-Length:` inside it, or
        // from the start of one cut off at its end
        if matches!(out, Incoming::Reply(_)) && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
            if let Some(k) = resume_at(&body) {
                self.r.unread(&body[k..]);
            }
        }
        Ok(out)
    }

    /// When a header line holds a `Content-Length:`, puts it back (from there) to be
    /// read next.
    fn resume_in(&mut self, line: &Line) -> bool {
        let Line::Text(t) = line else { return false };
        let Some(k) = t.as_bytes().windows(MARK.len()).position(|w| w.eq_ignore_ascii_case(MARK)) else { return false };
        self.r.unread(format!("{}\r\n", &t[k..]).as_bytes());
        true
    }

    /// Consumes input up to and including the next `Content-Length:` (any case).
    /// Returns whether it was found and how many bytes other than whitespace went by
    /// that were not on header lines (`Name: value`, which are skipped silently).
    fn skip_to_mark(&mut self) -> io::Result<(bool, usize)> {
        #[derive(PartialEq)]
        enum Seen {
            Name,
            Header,
            Junk,
        }
        let mut matched = 0;
        let mut junk = 0;
        // this line so far: its bytes other than whitespace, and what it looks like
        let (mut solid, mut seen) = (0usize, Seen::Name);
        loop {
            let buf = fill(&mut self.r)?;
            if buf.is_empty() {
                return Ok((false, junk + if seen == Seen::Header { 0 } else { solid }));
            }
            let mut used = 0;
            let mut found = false;
            for &b in buf {
                used += 1;
                if b == b'\n' {
                    if seen != Seen::Header {
                        junk += solid;
                    }
                    (solid, seen, matched) = (0, Seen::Name, 0);
                    continue;
                }
                solid += usize::from(!b.is_ascii_whitespace());
                seen = match seen {
                    Seen::Name if b.is_ascii_alphanumeric() || b == b'-' => Seen::Name,
                    Seen::Name if b == b':' && solid > 1 => Seen::Header,
                    Seen::Header => Seen::Header,
                    _ => Seen::Junk,
                };
                // `c` occurs only at the start of the mark, so a failed match restarts here
                let c = b.to_ascii_lowercase();
                matched = if c == MARK[matched] { matched + 1 } else { usize::from(c == MARK[0]) };
                if matched == MARK.len() {
                    // what came before the mark on its line
                    junk += solid - MARK.len();
                    found = true;
                    break;
                }
            }
            self.r.consume(used);
            if found {
                return Ok((true, junk));
            }
        }
    }

    /// One header line without its line end; a line longer than [`MAX_HEADER_LINE`]
    /// is consumed and returned as [`Line::TooLong`]. `None` at the end of input.
    fn line(&mut self) -> io::Result<Option<Line>> {
        let mut out = Vec::new();
        let mut long = false;
        loop {
            let buf = fill(&mut self.r)?;
            if buf.is_empty() {
                return Ok(None);
            }
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !long {
                let room = MAX_HEADER_LINE + 2 - out.len();
                out.extend_from_slice(&buf[..take.min(room)]);
                long = take > room;
            }
            self.r.consume(take);
            if end {
                break;
            }
        }
        if long {
            return Ok(Some(Line::TooLong));
        }
        while out.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            out.pop();
        }
        Ok(Some(Line::Text(String::from_utf8_lossy(&out).into_owned())))
    }
}

/// Where to read on from in a body that is not JSON: a `Content-Length:` (any case)
/// in it, else the start of a part of one that ends the body. (Each resumption
/// consumes a mark, so the reader always moves on.)
fn resume_at(body: &[u8]) -> Option<usize> {
    if let Some(k) = body.windows(MARK.len()).position(|w| w.eq_ignore_ascii_case(MARK)) {
        return Some(k);
    }
    (1..MARK.len().min(body.len() + 1)).rev().find(|&n| body[body.len() - n..].eq_ignore_ascii_case(&MARK[..n])).map(|n| body.len() - n)
}

/// A reader with bytes put back in front of it.
struct Pushback<R> {
    front: Vec<u8>,
    at: usize,
    inner: R,
}

impl<R> Pushback<R> {
    /// Puts `bytes` back in front of what is still to be read.
    fn unread(&mut self, bytes: &[u8]) {
        let mut front = bytes.to_vec();
        front.extend_from_slice(&self.front[self.at..]);
        self.front = front;
        self.at = 0;
    }
}

impl<R: Read> Read for Pushback<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at < self.front.len() {
            let n = out.len().min(self.front.len() - self.at);
            out[..n].copy_from_slice(&self.front[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(out)
    }
}

impl<R: BufRead> BufRead for Pushback<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.front.len() {
            return Ok(&self.front[self.at..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.at < self.front.len() {
            self.at = (self.at + n).min(self.front.len());
            if self.at == self.front.len() {
                self.front.clear();
                self.at = 0;
            }
        } else {
            self.inner.consume(n);
        }
    }
}

/// `fill_buf`, tried again when a signal interrupts it.
fn fill<R: BufRead>(r: &mut R) -> io::Result<&[u8]> {
    loop {
        match r.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            _ => break,
        }
    }
    r.fill_buf()
}

enum Line {
    Text(String),
    TooLong,
}

/// A `Content-Length` value: a whole number of bytes within the limit.
fn parse_length(value: &Line) -> Result<usize, String> {
    let Line::Text(v) = value else { return Err("a Content-Length line too long to be a number".into()) };
    let v = v.trim();
    if v.is_empty() {
        return Err("a Content-Length without a value".into());
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("a Content-Length that is not a whole number of bytes ({v:?})"));
    }
    match v.parse::<usize>() {
        Ok(n) if n <= MAX_MESSAGE_BYTES => Ok(n),
        _ => Err(format!("a message of {v} bytes, over the limit of {MAX_MESSAGE_BYTES}")),
    }
}

/// A body's message, or the error to send back for it.
fn classify(body: &[u8]) -> Incoming {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Incoming::Reply(error_reply(&Value::Null, -32700, &format!("parse error: {e}"))),
    };
    let invalid = |id: &Value, why: &str| Incoming::Reply(error_reply(id, -32600, &format!("invalid request: {why}")));
    let Some(obj) = v.as_object() else { return invalid(&Value::Null, "a message is a JSON object") };
    // an id a reply can carry: a number or a string (anything else is answered with null)
    let id = obj.get("id");
    let reply_id = match id {
        Some(i @ (Value::Number(_) | Value::String(_))) => i.clone(),
        _ => Value::Null,
    };
    let request_id = match id {
        Some(Value::String(s)) => Some(RequestId::from(s.clone())),
        Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()).map(RequestId::from),
        _ => None,
    };
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    if !matches!(params, Value::Null | Value::Object(_) | Value::Array(_)) {
        return invalid(&reply_id, "`params` must be an object or an array");
    }
    match obj.get("method") {
        Some(Value::String(method)) => match id {
            None => Incoming::Message(Message::Notification(Notification { method: method.clone(), params })),
            Some(_) => match request_id {
                Some(id) => Incoming::Message(Message::Request(Request { id, method: method.clone(), params })),
                None => invalid(&reply_id, "`id` must be a string or a 32-bit integer"),
            },
        },
        Some(_) => invalid(&reply_id, "`method` must be a string"),
        None if obj.contains_key("result") || obj.contains_key("error") => match serde_json::from_value::<Response>(v.clone()) {
            Ok(r) => Incoming::Message(Message::Response(r)),
            // a reply to the server that it cannot read: nothing to answer
            Err(e) => Incoming::Skipped(format!("a response that is not JSON-RPC: {e}")),
        },
        None => invalid(&reply_id, "no `method`, `result` or `error`"),
    }
}

/// A JSON-RPC error response as text.
pub fn error_reply(id: &Value, code: i32, message: &str) -> String {
    serde_json::json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }).to_string()
}

fn write_frame(w: &mut impl Write, text: &str) -> io::Result<()> {
    write!(w, "Content-Length: {}\r\n\r\n", text.len())?;
    w.write_all(text.as_bytes())?;
    w.flush()
}

/// The threads behind a stdio connection.
pub struct Io {
    writer: std::thread::JoinHandle<()>,
}

impl Io {
    /// Waits until everything the server sent is written (the reader is left to end
    /// with the process: it may be blocked on input that never comes).
    pub fn join(self) {
        let _ = self.writer.join();
    }
}

/// A connection over stdin and stdout with this transport.
pub fn stdio() -> (lsp_server::Connection, Io) {
    let (to_server, from_client) = bounded::<Message>(0);
    let (to_client, from_server) = bounded::<Message>(0);
    let (reply_tx, reply_rx) = unbounded::<String>();
    std::thread::Builder::new()
        .name("hplanc-lsp-reader".into())
        .spawn(move || read_loop(io::stdin().lock(), to_server, reply_tx))
        .expect("a thread for the reader");
    let writer = std::thread::Builder::new()
        .name("hplanc-lsp-writer".into())
        .spawn(move || write_loop(io::stdout().lock(), from_server, reply_rx))
        .expect("a thread for the writer");
    (lsp_server::Connection { sender: to_client, receiver: from_client }, Io { writer })
}

/// Reads until the end of input or `exit`, forwarding messages to the server and
/// error replies to the writer.
pub fn read_loop(r: impl BufRead, to_server: Sender<Message>, replies: Sender<String>) {
    let mut reader = Reader::new(r);
    loop {
        match reader.read() {
            Incoming::Message(m) => {
                let exit = matches!(&m, Message::Notification(n) if n.method == "exit");
                if to_server.send(m).is_err() || exit {
                    return;
                }
            }
            Incoming::Reply(text) => {
                eprintln!("hplanc lsp: answered a malformed message: {text}");
                if replies.send(text).is_err() {
                    return;
                }
            }
            Incoming::Skipped(why) => eprintln!("hplanc lsp: skipped {why}"),
            Incoming::End => return,
        }
    }
}

/// Writes the server's messages and the reader's error replies until the server is
/// done (its sender dropped).
pub fn write_loop(mut w: impl Write, from_server: Receiver<Message>, replies: Receiver<String>) {
    let mut replies_open = true;
    loop {
        let wrote = if replies_open {
            select! {
                recv(from_server) -> m => match m {
                    Ok(m) => m.write(&mut w),
                    Err(_) => break,
                },
                recv(replies) -> t => match t {
                    Ok(t) => write_frame(&mut w, &t),
                    Err(_) => {
                        replies_open = false;
                        Ok(())
                    }
                },
            }
        } else {
            match from_server.recv() {
                Ok(m) => m.write(&mut w),
                Err(_) => break,
            }
        };
        if wrote.is_err() {
            return;
        }
    }
    // replies still queued go out before the end
    while let Ok(t) = replies.try_recv() {
        let _ = write_frame(&mut w, &t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// Everything the reader yields from `input`, as short labels.
    fn read_all(input: &str) -> Vec<String> {
        let mut r = Reader::new(input.as_bytes());
        let mut out = Vec::new();
        loop {
            match r.read() {
                Incoming::Message(Message::Request(q)) => out.push(format!("request {} {}", q.id, q.method)),
                Incoming::Message(Message::Notification(n)) => out.push(format!("notification {}", n.method)),
                Incoming::Message(Message::Response(r)) => out.push(format!("response {}", r.id)),
                Incoming::Reply(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    out.push(format!("reply {} {}", v["id"], v["error"]["code"]));
                }
                Incoming::Skipped(_) => out.push("skipped".into()),
                Incoming::End => return out,
            }
        }
    }

    const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;

    #[test]
    fn well_formed_messages_of_each_kind() {
        let input = frame(PING)
            + &frame(r#"{"jsonrpc":"2.0","method":"note","params":{}}"#)
            + &frame(r#"{"jsonrpc":"2.0","id":"a","result":null}"#)
            + "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
            + &frame(r#"{"jsonrpc":"2.0","id":8,"method":"b"}"#);
        assert_eq!(read_all(&input), ["request 7 ping", "notification note", "response \"a\"", "request 8 b"]);
    }

    #[test]
    fn bad_bodies_are_answered_and_the_stream_goes_on() {
        let input = frame("{not json")
            + &frame("[1,2]")
            + &frame(r#"{"jsonrpc":"2.0","id":3}"#)
            + &frame(r#"{"jsonrpc":"2.0","id":4,"method":5}"#)
            + &frame(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"m"}"#)
            + &frame(r#"{"jsonrpc":"2.0","id":5,"method":"m","params":3}"#)
            + &frame("\u{ff}")
            + &frame(PING);
        assert_eq!(
            read_all(&input),
            [
                "reply null -32700",
                "reply null -32600",
                "reply 3 -32600",
                "reply 4 -32600",
                "reply null -32600",
                "reply 5 -32600",
                "reply null -32700",
                "request 7 ping"
            ]
        );
    }

    #[test]
    fn bad_headers_are_skipped_to_the_next_message() {
        for bad in [
            format!("Content-Type: x\r\n\r\n{PING}"),
            format!("Content-Length: abc\r\n\r\n{PING}"),
            format!("Content-Length: -5\r\n\r\n{PING}"),
            format!("Content-Length: 99999999999\r\n\r\n{PING}"),
            format!("Content-Length: 184467440737095516160\r\n\r\n{PING}"),
            format!("Content-Length: {}\r\n\r\n{PING}", "9".repeat(5000)),
            "garbage without a header\r\n\r\n".to_string(),
        ] {
            let got = read_all(&(bad.clone() + &frame(PING)));
            assert_eq!(got.last().map(String::as_str), Some("request 7 ping"), "{bad:?}: {got:?}");
            // the bad header, then the body it announced
            assert!((2..=3).contains(&got.len()) && got[..got.len() - 1].iter().all(|g| g == "skipped"), "{bad:?}: {got:?}");
        }
    }

    #[test]
    fn a_short_length_is_a_parse_error_and_the_rest_is_skipped() {
        let input = format!("Content-Length: 10\r\n\r\n{PING}") + &frame(PING);
        assert_eq!(read_all(&input), ["reply null -32700", "skipped", "request 7 ping"]);
    }

    #[test]
    fn a_body_cut_short_by_the_end_is_the_end() {
        assert_eq!(read_all("Content-Length: 100\r\n\r\n{\"id\":"), Vec::<String>::new());
        assert_eq!(read_all(""), Vec::<String>::new());
        assert_eq!(read_all("Content-Length: 5"), Vec::<String>::new());
    }

    #[test]
    fn the_writer_sends_replies_and_messages_then_stops() {
        let (tx, rx) = bounded::<Message>(1);
        let (rtx, rrx) = unbounded::<String>();
        rtx.send(error_reply(&Value::Null, -32700, "x")).unwrap();
        let out = std::thread::spawn(move || {
            let mut buf = Vec::new();
            write_loop(&mut buf, rx, rrx);
            buf
        });
        tx.send(Message::Notification(Notification::new("n".into(), Value::Null))).unwrap();
        drop(tx);
        let text = String::from_utf8(out.join().unwrap()).unwrap();
        let mut r = Reader::new(text.as_bytes());
        let mut kinds = Vec::new();
        loop {
            match r.read() {
                Incoming::End => break,
                Incoming::Message(Message::Notification(n)) => kinds.push(n.method),
                // the writer's error reply reads back as an error response without a usable id
                Incoming::Skipped(_) => kinds.push("reply".into()),
                other => panic!("{other:?}"),
            }
        }
        kinds.sort();
        assert_eq!(kinds, ["n", "reply"]);
        drop(rtx);
    }

    /// Mutated streams (bytes flipped, dropped, repeated, cut) never panic the reader,
    /// which always reaches the end, and an intact message after the damage is read.
    #[test]
    fn mutated_streams_are_read_to_the_end() {
        let good = frame(PING) + &frame(r#"{"jsonrpc":"2.0","method":"note","params":{"a":[1,2,{"b":"Content-Length: 3"}]}}"#);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for _ in 0..3000 {
            let mut bytes = (good.clone() + &good).into_bytes();
            for _ in 0..1 + rand(4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rand(bytes.len());
                match rand(4) {
                    0 => bytes[at] = rand(256) as u8,
                    1 => drop(bytes.remove(at)),
                    2 => {
                        let chunk: Vec<u8> = bytes[at..(at + rand(20)).min(bytes.len())].to_vec();
                        bytes.splice(at..at, chunk);
                    }
                    _ => bytes.truncate(at),
                }
            }
            bytes.extend_from_slice(frame(PING).as_bytes());
            let mut r = Reader::new(&bytes[..]);
            let mut last = None;
            for step in 0.. {
                assert!(step < 1000, "the reader makes progress");
                match r.read() {
                    Incoming::End => break,
                    Incoming::Message(Message::Request(q)) => last = Some(q.method),
                    _ => last = None,
                }
            }
            assert_eq!(last.as_deref(), Some("ping"), "{:?}", String::from_utf8_lossy(&bytes));
        }
    }
}
