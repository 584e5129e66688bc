//! Solving off the request thread: the server checks a document at once (diagnostics
//! first) and hands it to this worker, which builds it (every plan solved at its
//! optimum; `sweep` blocks left to `hplanc build`) and sends back the facts the hover
//! and the inlay hints show, and the build's diagnostics (infeasibility included).
//!
//! Jobs for the same document coalesce: only its newest text is built, so typing never
//! queues up stale solves. A solve already running is not interrupted; its result is
//! dropped if the text changed meanwhile.

use crate::report::{self, PlanReport};
use crate::units::format::fmt_time;
use crossbeam_channel::{Receiver, Sender};
use lsp_types as lt;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

/// A document to build.
pub struct Job {
    pub uri: String,
    /// the server's number for this job; only the newest job's result is used
    pub serial: u64,
    pub text: String,
    pub path: Option<PathBuf>,
    /// open documents' texts by canonical path (unsaved imports)
    pub overlay: BTreeMap<PathBuf, String>,
}

/// What one build of a document found.
#[derive(Clone, Debug)]
pub struct Solution {
    pub uri: String,
    /// the job's serial: the server keeps the result only of a document's newest job
    pub serial: u64,
    /// the build's diagnostics for the document (the check's and the solver's)
    pub diagnostics: Vec<lt::Diagnostic>,
    pub plans: Vec<PlanFacts>,
}

/// One plan's solved placement, as the editor shows it.
#[derive(Clone, Debug)]
pub struct PlanFacts {
    pub name: String,
    /// markdown: status, placement table, headline metrics, bottleneck
    pub hover: String,
    /// per `place` statement of the document: (byte offset of its end, hint text)
    pub places: Vec<(usize, String)>,
}

/// The worker thread and its two channels.
pub struct Worker {
    jobs: Option<Sender<Job>>,
    pub done: Receiver<Solution>,
}

impl Worker {
    /// `gate`: each job waits for a message on it before it is built ([`super::Options`]).
    pub fn start(gate: Option<Receiver<()>>) -> Worker {
        let (jobs, inbox) = crossbeam_channel::unbounded::<Job>();
        let (outbox, done) = crossbeam_channel::unbounded();
        let started = std::thread::Builder::new().name("hplanc-solve".into()).spawn(move || run(inbox, outbox, gate));
        // without a thread (the system refused one) nothing is solved: the queue is
        // dropped, the check's diagnostics still come, and hovers say "solving…"
        Worker { jobs: started.is_ok().then_some(jobs), done }
    }

    pub fn submit(&self, job: Job) {
        if let Some(tx) = &self.jobs {
            let _ = tx.send(job);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // closing the queue ends the thread after its current job; the server does not
        // wait for it (a solve may run to its time limit), process exit ends it
        self.jobs.take();
    }
}

fn run(inbox: Receiver<Job>, outbox: Sender<Solution>, gate: Option<Receiver<()>>) {
    let mut queue: VecDeque<Job> = VecDeque::new();
    loop {
        if queue.is_empty() {
            match inbox.recv() {
                Ok(j) => queue.push_back(j),
                Err(_) => return,
            }
        }
        // coalesce: a newer text of a document replaces the queued one
        while let Ok(j) = inbox.try_recv() {
            queue.retain(|q| q.uri != j.uri);
            queue.push_back(j);
        }
        let Some(job) = queue.pop_front() else { continue };
        if gate.as_ref().is_some_and(|g| g.recv().is_err()) {
            return;
        }
        if outbox.send(build(job)).is_err() {
            return;
        }
    }
}

/// Builds one document (solves without sweeps) into what the editor shows.
pub fn build(job: Job) -> Solution {
    let opts = crate::BuildOptions { jobs: 1, skip_sweeps: true, overlay: Some(&job.overlay), ..Default::default() };
    let comp = crate::compile_with(&job.uri, &job.text, job.path.as_deref(), crate::Mode::Build, &opts);
    let diagnostics = super::lsp_diagnostics(&comp, &job.uri, &job.text);
    let plans = comp
        .program
        .plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            let r = comp.plan_report(i);
            let places = plan
                .placements
                .iter()
                .filter_map(|pl| {
                    let span = pl.span.filter(|s| s.file == comp.root)?;
                    Some((span.end as usize, place_hint(&r, pl.stage.name())?))
                })
                .collect();
            // the report's own summary (headline, placement, metrics, bottleneck) as Markdown
            let hover = report::markdown::render_blocks(report::human::summary(&r));
            PlanFacts { name: plan.name.clone(), hover, places }
        })
        .collect();
    Solution { uri: job.uri, serial: job.serial, diagnostics, plans }
}

/// The hint after `place <stage> on ...`: where the solver put the stage and its time.
fn place_hint(r: &PlanReport, stage: &str) -> Option<String> {
    let rows: Vec<_> = r.placement.iter().filter(|p| p.stage == stage).collect();
    if rows.is_empty() {
        return None;
    }
    let pools: Vec<String> = rows
        .iter()
        .map(|p| {
            let mut s = match p.shares_chips_with {
                Some(o) => format!("{} ({o}'s chips", p.pool),
                None => format!("{} ({} × {}", p.pool, p.chips, p.chip),
            };
            for (name, v) in [("tp", p.tp), ("dp", p.dp), ("cp", p.cp.unwrap_or(1)), ("ep", p.ep), ("pp", p.pp), ("replicas", p.replicas)] {
                if v > 1 {
                    s.push_str(&format!(", {name} {v}"));
                }
            }
            if let Some([a, b]) = p.layers {
                s.push_str(&format!(", layers {a}..{b}"));
            }
            s.push(')');
            s
        })
        .collect();
    let time = r.breakdown.as_ref().and_then(|b| match stage {
        "prefill" => Some(format!("{} per prefill", fmt_time(b.prefill_s))),
        "decode.attn" => Some(format!("{} attention per step", fmt_time(b.decode_step_s.attn))),
        "decode.ffn" => Some(format!("{} FFN per step", fmt_time(b.decode_step_s.ffn))),
        "draft" => Some(format!("{} drafting per token", fmt_time(b.decode_step_s.draft))),
        "decode.layers" => r.metrics.as_ref().map(|m| format!("{} per step", fmt_time(m.tpot_s))),
        _ => None,
    });
    Some(match time {
        Some(t) => format!("→ {} · {t}", pools.join(", ")),
        None => format!("→ {}", pools.join(", ")),
    })
}
