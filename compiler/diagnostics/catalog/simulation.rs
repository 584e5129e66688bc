//! Why a simulation cannot run (E0412, and `hplanc simulate`'s errors): the simulate
//! phase names the problem, this file words it.

/// What stops a simulation.
#[derive(Clone, Debug, PartialEq)]
pub enum SimProblem {
    /// a trace of more requests than a simulation runs
    TraceTooLong {
        requests: usize,
        max: u64,
    },
    RequestCount {
        requests: u64,
        max: u64,
    },
    FixedLength {
        tokens: u64,
        max: u64,
    },
    UniformLength {
        low: u64,
        high: u64,
        max: u64,
    },
    LogNormalLength {
        mean: f64,
        sigma: f64,
        max: u64,
    },
    Rate(f64),
    Burstiness(f64),
    TraceScale(f64),
    Clients {
        clients: u64,
        max: u64,
    },
    NoRequests,
    TooManyTokens {
        total: u64,
        max: u64,
    },
    /// a drawn prompt longer than the prefill step model was priced for
    PromptBeyondPriced {
        tokens: u64,
        longest: u64,
    },
    /// a request whose KV cache the decode chips cannot hold
    RequestBeyondKv {
        input: u64,
        output: u64,
        batch: u64,
        kv_tokens: u64,
    },
    Stalled {
        unfinished: usize,
        requests: usize,
    },
    /// a workload trace whose requests all arrive at once
    TraceAllAtOnce,
    NothingToSimulate,
    /// the chosen decode configuration cannot run `batch` sequences at this mean context
    DecodeDoesNotFit {
        batch: u64,
        context: f64,
    },
    /// a prompt the prefill chips (one replica's `chips` of `chip`) cannot hold
    PromptDoesNotFit {
        tokens: u64,
        chips: u64,
        chip: String,
    },
    NoPromptLength,
}

impl std::fmt::Display for SimProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimProblem::TraceTooLong { requests, max } => write!(f, "the trace has {requests} requests; at most {max} are simulated"),
            SimProblem::RequestCount { requests, max } => write!(f, "simulate 1 to {max} requests, not {requests}"),
            SimProblem::FixedLength { tokens, max } => write!(f, "a length must be 1 to {max} tokens, not {tokens}"),
            SimProblem::UniformLength { low, high, max } => {
                write!(f, "a uniform length needs 1 <= low <= high <= {max}, not {low}..{high}")
            }
            SimProblem::LogNormalLength { mean, sigma, max } => {
                write!(f, "a lognormal length needs a mean of 1 to {max} tokens and a sigma of 0 to 3, not {mean} and {sigma}")
            }
            SimProblem::Rate(r) => write!(f, "the arrival rate must be a positive number of requests per second, not {r}"),
            SimProblem::Burstiness(b) => write!(f, "the burstiness must be from 0.01 to 100, not {b}"),
            SimProblem::TraceScale(s) => write!(f, "a trace's times must be scaled by a positive number, not {s}"),
            SimProblem::Clients { clients, max } => write!(f, "a closed loop needs 1 to {max} clients, not {clients}"),
            SimProblem::NoRequests => write!(f, "there are no requests to simulate"),
            SimProblem::TooManyTokens { total, max } => {
                write!(f, "the requests ask for {total} output tokens; at most {max} are simulated")
            }
            SimProblem::PromptBeyondPriced { tokens, longest } => {
                write!(f, "a {tokens}-token prompt is longer than the step model was priced for ({longest})")
            }
            SimProblem::RequestBeyondKv { input, output, batch, kv_tokens } => write!(
                f,
                "a request of {input} prompt and {output} answer tokens needs more KV cache than the decode chips hold at batch {batch} ({kv_tokens} tokens); \
                 draw shorter requests or allow a larger batch"
            ),
            SimProblem::Stalled { unfinished, requests } => {
                write!(f, "{unfinished} of {requests} requests never finished (the simulation stalled)")
            }
            SimProblem::TraceAllAtOnce => {
                write!(f, "the trace's requests all arrive at once: it has no rate to scale to the rates searched")
            }
            SimProblem::NothingToSimulate => write!(f, "no configuration has a throughput to simulate"),
            SimProblem::DecodeDoesNotFit { batch, context } => write!(
                f,
                "the chosen decode configuration does not run {batch} sequences at a mean context of {context:.0} tokens (they do not fit its memory)"
            ),
            SimProblem::PromptDoesNotFit { tokens, chips, chip } => {
                write!(f, "a {tokens}-token prompt does not fit the prefill chips ({chips} x {chip}); draw shorter prompts")
            }
            SimProblem::NoPromptLength => write!(f, "the chosen prefill configuration prices no prompt length"),
        }
    }
}
