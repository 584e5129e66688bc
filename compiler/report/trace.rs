//! `trace.json`: a plan's timelines in the Chrome trace event format (opens in
//! Perfetto and chrome://tracing). One process per timeline (the decode step, the
//! prefill), one thread per pool and per link direction (a link's overlapping
//! transfers get one thread per lane). Times in microseconds, rounded to the
//! nanosecond so the bytes do not depend on float noise; one event per line.

use super::PlanReport;
use crate::schedule::Timeline;
use serde_json::{json, Value};

/// Microseconds, rounded to the nanosecond.
fn us(seconds: f64) -> f64 {
    (seconds * 1e9).round() / 1e3
}

fn events(pid: u64, t: &Timeline, out: &mut Vec<Value>) {
    out.push(json!({ "ph": "M", "pid": pid, "name": "process_name", "args": { "name": t.title } }));
    out.push(json!({ "ph": "M", "pid": pid, "name": "process_sort_index", "args": { "sort_index": pid } }));
    // thread ids: per track, one per lane, in track order
    let mut first_tid = Vec::new();
    let mut tid = 1u64;
    for tr in &t.tracks {
        first_tid.push(tid);
        for lane in 0..tr.lanes {
            let name = if lane == 0 { tr.name.clone() } else { format!("{} (lane {})", tr.name, lane + 1) };
            out.push(json!({ "ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": { "name": name } }));
            out.push(json!({ "ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index", "args": { "sort_index": tid } }));
            tid += 1;
        }
    }
    for o in &t.ops {
        let (start, end) = (us(o.start), us(o.end()));
        let mut args = serde_json::Map::new();
        if let Some(l) = o.layer {
            args.insert("layer".into(), json!(l));
        }
        if let Some(m) = o.microbatch {
            args.insert("microbatch".into(), json!(m));
        }
        args.insert("critical_path".into(), json!(o.critical));
        out.push(json!({
            "ph": "X",
            "pid": pid,
            "tid": first_tid[o.track] + o.lane as u64,
            "name": o.name,
            "cat": o.kind.name(),
            "ts": start,
            "dur": ((end - start) * 1e3).round() / 1e3,
            "args": args,
        }));
    }
    let label = if pid == 1 { "TPOT" } else { "TTFT" };
    out.push(json!({ "ph": "i", "pid": pid, "tid": 1, "s": "p", "name": label, "ts": us(t.reported), "args": { "note": t.note } }));
}

/// The trace of a solved plan (None when it has no placement).
pub fn render(r: &PlanReport) -> Option<String> {
    let s = r.timelines.as_ref()?;
    let mut ev = Vec::new();
    events(1, &s.decode, &mut ev);
    events(2, &s.prefill, &mut ev);
    if let Some(served) = &r.served {
        // the simulation at the served rate: requests waiting and running, KV use
        ev.push(json!({ "ph": "M", "pid": 3, "name": "process_name", "args": { "name": format!("simulation at {:.4} req/s", served.rate_requests_per_s) } }));
        for x in &served.samples {
            ev.push(json!({ "ph": "C", "pid": 3, "name": "requests", "ts": us(x.time), "args": { "waiting": x.waiting, "running": x.running } }));
            ev.push(json!({ "ph": "C", "pid": 3, "name": "KV cache (tokens)", "ts": us(x.time), "args": { "reserved": x.kv_tokens } }));
        }
    }
    let meta = json!({ "hplanc": env!("CARGO_PKG_VERSION"), "plan": r.name, "time_unit": "microseconds" });
    let mut o = String::from("{\n\"displayTimeUnit\": \"ns\",\n\"otherData\": ");
    o.push_str(&meta.to_string());
    o.push_str(",\n\"traceEvents\": [\n");
    let lines: Vec<String> = ev.iter().map(|e| e.to_string()).collect();
    o.push_str(&lines.join(",\n"));
    o.push_str("\n]}\n");
    Some(o)
}

#[cfg(test)]
mod tests {
    #[test]
    fn microseconds_round_to_the_nanosecond() {
        assert_eq!(super::us(1.234_567_89e-3), 1234.568);
        assert_eq!(super::us(0.1 + 0.2), 300_000.0);
        assert_eq!(super::us(3e-9), 0.003);
    }
}
