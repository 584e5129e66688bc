//! Figures written with their uncertainty (`latency = 2 us in [0.1 us, 5 us]`,
//! `price = 8 $/h ± 25%`): which figure of a chip or link, its range, and how a plan
//! takes another value of it (docs/uncertainty.md). The solver varies them
//! (`solve::uncertainty`).

use super::{Chip, Link, Plan, Precision};
use crate::source::Span;

/// Which figure of a chip or a link is uncertain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Figure {
    Price,
    Power,
    SystemPower,
    StepOverhead,
    LayerOverhead,
    SequenceOverhead,
    Compute(Precision),
    ComputeEfficiency,
    MemoryEfficiency,
    Bandwidth,
    Latency,
    /// the bandwidth of a chip's memory tier, by its place among the chip's tiers
    TierBandwidth(usize),
}

impl Figure {
    /// Every figure that may carry a range: the one list the schema check, the lowering
    /// and the solver read.
    /// A tier's bandwidth stands for every tier (`TierBandwidth(0)`; the lowering numbers
    /// them).
    pub const ALL: [Figure; 17] = [
        Figure::Price,
        Figure::Power,
        Figure::SystemPower,
        Figure::StepOverhead,
        Figure::LayerOverhead,
        Figure::SequenceOverhead,
        Figure::Compute(Precision::Fp4),
        Figure::Compute(Precision::Fp8),
        Figure::Compute(Precision::Int8),
        Figure::Compute(Precision::Bf16),
        Figure::Compute(Precision::Fp16),
        Figure::Compute(Precision::Fp32),
        Figure::ComputeEfficiency,
        Figure::MemoryEfficiency,
        Figure::Bandwidth,
        Figure::Latency,
        Figure::TierBandwidth(0),
    ];

    /// Where the figure is written: its block (as the schema names it: `chip`, `compute
    /// block`, `efficiency block`, `link`) and attribute.
    pub fn written(self) -> (&'static str, &'static str) {
        match self {
            Figure::Price => ("chip", "price"),
            Figure::Power => ("chip", "power"),
            Figure::SystemPower => ("chip", "system_power"),
            Figure::StepOverhead => ("chip", "step_overhead"),
            Figure::LayerOverhead => ("chip", "layer_overhead"),
            Figure::SequenceOverhead => ("chip", "sequence_overhead"),
            Figure::Compute(p) => ("compute block", p.name()),
            Figure::ComputeEfficiency => ("efficiency block", "compute"),
            Figure::MemoryEfficiency => ("efficiency block", "memory"),
            Figure::Bandwidth => ("link", "bandwidth"),
            Figure::Latency => ("link", "latency"),
            Figure::TierBandwidth(_) => ("memory block", "bandwidth"),
        }
    }

    /// As written in the source: `price`, `compute.fp8`, `efficiency.memory`.
    pub fn name(self) -> String {
        if let Figure::TierBandwidth(i) = self {
            return format!("memory[{i}].bandwidth");
        }
        match self.written() {
            ("compute block", a) => format!("compute.{a}"),
            ("efficiency block", a) => format!("efficiency.{a}"),
            (_, a) => a.to_string(),
        }
    }

    /// The SI unit the figure is held in, for reports: "$/s", "W", "s", ...
    pub fn unit(self) -> &'static str {
        match self {
            Figure::Price => "$/s",
            Figure::Power | Figure::SystemPower => "W",
            Figure::StepOverhead | Figure::LayerOverhead | Figure::SequenceOverhead | Figure::Latency => "s",
            Figure::Compute(_) => "FLOP/s",
            Figure::ComputeEfficiency | Figure::MemoryEfficiency => "",
            Figure::Bandwidth | Figure::TierBandwidth(_) => "B/s",
        }
    }

    /// Whether the figure belongs to a link (else to a chip).
    pub fn of_link(self) -> bool {
        matches!(self, Figure::Bandwidth | Figure::Latency)
    }

    /// Whether the figure moves only what chips cost and draw, no time, memory or
    /// capacity: a plan's configuration space with it moved is the nominal's with each
    /// option's dollars and watts taken again (`solve::space::Instance::repriced`).
    pub fn moves_only_spend(self) -> bool {
        matches!(self, Figure::Price | Figure::Power | Figure::SystemPower)
    }

    /// Sets the figure of `chip` (a link's figures leave it alone).
    pub fn set_chip(self, chip: &mut Chip, v: f64) {
        match self {
            Figure::Price => chip.price = Some(v),
            Figure::Power => chip.power = Some(v),
            Figure::SystemPower => chip.system_power = Some(v),
            Figure::StepOverhead => chip.step_overhead = v,
            Figure::LayerOverhead => chip.layer_overhead = v,
            Figure::SequenceOverhead => chip.sequence_overhead = v,
            Figure::Compute(p) => {
                chip.compute.insert(p, v);
            }
            Figure::ComputeEfficiency => chip.compute_efficiency = v,
            Figure::MemoryEfficiency => chip.memory_efficiency = v,
            Figure::TierBandwidth(i) => {
                if let Some(t) = chip.memory.get_mut(i) {
                    t.bandwidth = v;
                }
            }
            Figure::Bandwidth | Figure::Latency => {}
        }
    }

    /// Sets the figure of `link` (a chip's figures leave it alone).
    pub fn set_link(self, link: &mut Link, v: f64) {
        match self {
            Figure::Bandwidth => link.bandwidth = v,
            Figure::Latency => link.latency = v,
            _ => {}
        }
    }
}

/// A figure of a chip or link with its range, in SI units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Uncertain {
    pub figure: Figure,
    pub low: f64,
    pub high: f64,
    /// the figure as written (`2 us in [0.1 us, 5 us]`)
    pub span: Span,
}

/// One uncertain input of a plan: a figure of a chip or link the plan uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// the chip's or the link's name
    pub item: String,
    pub figure: Figure,
    pub nominal: f64,
    pub low: f64,
    pub high: f64,
    pub span: Span,
}

impl Input {
    /// `lp30.layer_overhead`, `groq3_c2c.latency`
    pub fn name(&self) -> String {
        format!("{}.{}", self.item, self.figure.name())
    }
}

/// The most uncertain inputs one plan varies: each costs a few solves
/// (docs/uncertainty.md); a plan with more is a diagnostic at its name.
pub const MAX_INPUTS: usize = 32;

impl Plan {
    /// The uncertain figures of the chips and links this plan's cluster uses, each once
    /// (a chip in two pools, a link between several), in pool order.
    pub fn inputs(&self) -> Vec<Input> {
        let mut out: Vec<Input> = Vec::new();
        let mut add = |item: &str, u: &Uncertain, nominal: f64| {
            if !out.iter().any(|i| i.item == item && i.figure == u.figure) {
                out.push(Input { item: item.to_string(), figure: u.figure, nominal, low: u.low, high: u.high, span: u.span });
            }
        };
        for pool in &self.cluster.pools {
            for u in &pool.chip.uncertain {
                add(&pool.chip.name, u, chip_value(&pool.chip, u.figure));
            }
            for l in pool.link.iter().chain(pool.scale_out.as_ref().map(|s| &s.link)) {
                for u in &l.uncertain {
                    add(&l.name, u, link_value(l, u.figure));
                }
            }
        }
        for pl in &self.cluster.links {
            for u in &pl.link.uncertain {
                add(&pl.link.name, u, link_value(&pl.link, u.figure));
            }
        }
        out
    }

    /// This plan with `input` at `value`: every chip or link of that name in its cluster
    /// takes it.
    pub fn with_input(&self, input: &Input, value: f64) -> Plan {
        let mut p = self.clone();
        for pool in &mut p.cluster.pools {
            if !input.figure.of_link() && pool.chip.name == input.item {
                input.figure.set_chip(&mut pool.chip, value);
            }
            let links = pool.link.iter_mut().chain(pool.scale_out.as_mut().map(|s| &mut s.link));
            for l in links.filter(|l| input.figure.of_link() && l.name == input.item) {
                input.figure.set_link(l, value);
            }
        }
        for pl in &mut p.cluster.links {
            if input.figure.of_link() && pl.link.name == input.item {
                input.figure.set_link(&mut pl.link, value);
            }
        }
        p
    }
}

/// The figure `f` of chip `c` (0 where it declares none: a price, a power).
pub fn chip_value(c: &Chip, f: Figure) -> f64 {
    match f {
        Figure::Price => c.price.unwrap_or(0.0),
        Figure::Power => c.power.unwrap_or(0.0),
        Figure::SystemPower => c.system_power.unwrap_or(0.0),
        Figure::StepOverhead => c.step_overhead,
        Figure::LayerOverhead => c.layer_overhead,
        Figure::SequenceOverhead => c.sequence_overhead,
        Figure::Compute(p) => c.compute.get(&p).copied().unwrap_or(0.0),
        Figure::ComputeEfficiency => c.compute_efficiency,
        Figure::MemoryEfficiency => c.memory_efficiency,
        Figure::TierBandwidth(i) => c.memory.get(i).map_or(0.0, |t| t.bandwidth),
        Figure::Bandwidth | Figure::Latency => 0.0,
    }
}

/// The figure `f` of link `l`.
pub fn link_value(l: &Link, f: Figure) -> f64 {
    match f {
        Figure::Bandwidth => l.bandwidth,
        Figure::Latency => l.latency,
        _ => 0.0,
    }
}
