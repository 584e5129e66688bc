//! Resolution: imports, names, `extends`/overrides, schema checks and units,
//! producing the IR. Every problem is a diagnostic; resolution always
//! returns whatever it could build.

pub mod check;
pub mod schema;
pub mod stdlib;
pub mod tables;
pub mod trace;

use crate::diagnostics::catalog::{self, FileProblem, Misplaced, NeededFor, PinProblem, PinSplit, Rule};
use crate::diagnostics::Diagnostics;
use crate::ir::{self, Contents, Precision, SloMetric, Stage};
use crate::source::{FileId, Origin, SourceMap, Span};
use crate::syntax::ast::{self, Body, Entry, ItemKind, Path, UseTarget, Value};
use check::{Checker, Fields, Val};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Deepest chain of file imports followed.
pub const MAX_IMPORT_DEPTH: usize = 16;
/// Most items one `extends` chain may run through (E0108).
pub const MAX_EXTENDS_DEPTH: usize = 64;

type ItemId = usize;
type ModuleId = usize;

struct Module {
    /// `std::chips`, or the file's display name
    name: String,
    items: BTreeMap<String, ItemId>,
    imports: BTreeMap<String, (ItemId, Span)>,
    /// explicitly named imports (`use std::chips::{a, b}`), for unused-import warnings
    named_imports: Vec<(String, Span)>,
    /// names looked up through `imports`
    used: std::collections::BTreeSet<String>,
    /// the folder relative file imports resolve against (disk modules only)
    dir: Option<PathBuf>,
}

/// A plan's statements: the pools each placed stage may use (and the `place`'s span),
/// each stage's pins to check once the model is known, and the objective.
struct PlanStatements {
    placed: BTreeMap<Stage, (Vec<usize>, Span)>,
    pinned: BTreeMap<Stage, (Fields, Span)>,
    objective: Option<(ir::Objective, Span)>,
}

struct ItemEntry {
    module: ModuleId,
    item: ast::Item,
}

pub struct Resolver<'a> {
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    modules: Vec<Module>,
    items: Vec<ItemEntry>,
    std_modules: BTreeMap<String, ModuleId>,
    /// files being loaded, to detect import cycles
    loading: Vec<PathBuf>,
    /// the root file's folder: file imports may not leave it
    root_dir: Option<PathBuf>,
    chips: BTreeMap<ItemId, Option<ir::Chip>>,
    /// models as declared (no plan's overrides), lowered once each
    models: BTreeMap<ItemId, Option<ir::Model>>,
    links: BTreeMap<ItemId, Option<ir::Link>>,
    workloads: BTreeMap<ItemId, Option<ir::Workload>>,
    clusters: BTreeMap<ItemId, Option<ir::Cluster>>,
    /// items' bodies with what they extend merged in, once each (none: the chain
    /// fails), and how many items deep their chain runs
    bodies: BTreeMap<ItemId, (Option<Body>, usize)>,
    /// op tables read so far, by (file, chip): each is read and indexed once per build
    op_tables: BTreeMap<(Origin, String), Option<std::sync::Arc<ir::tables::OpTables>>>,
    /// every name resolved and every declaration, for the name index
    names: Vec<ir::NameRef>,
}

/// Resolves the file `root` (already in `sources`) into a program.
pub fn resolve(root: FileId, sources: &mut SourceMap, diags: &mut Diagnostics) -> ir::Program {
    // the root file's real place (symlinks resolved, from an absolute path: a bare
    // `plan.hplan` has the empty path as its folder, which every path starts with)
    let root_file = match &sources.get(root).origin {
        Origin::Disk(p) => Some(real_path(p)),
        _ => None,
    };
    let root_dir = root_file.as_ref().and_then(|p| p.parent()).map(|d| d.to_path_buf());
    let mut r = Resolver {
        sources,
        diags,
        modules: vec![],
        items: vec![],
        std_modules: BTreeMap::new(),
        loading: vec![],
        root_dir: root_dir.clone(),
        chips: BTreeMap::new(),
        models: BTreeMap::new(),
        links: BTreeMap::new(),
        workloads: BTreeMap::new(),
        clusters: BTreeMap::new(),
        op_tables: BTreeMap::new(),
        bodies: BTreeMap::new(),
        names: Vec::new(),
    };
    let name = r.sources.get(root).name.clone();
    r.loading.extend(root_file);
    let m = r.load_module(name, vec![root], root_dir);
    let mut program = ir::Program::default();
    let ids: Vec<ItemId> = r.modules[m].items.values().copied().collect();
    let mut ids = ids;
    ids.sort_by_key(|id| r.items[*id].item.span.start);
    let mut compares = Vec::new();
    for id in ids {
        match r.items[id].item.kind {
            ItemKind::Chip | ItemKind::Model => r.chip_or_model(id, &mut program),
            ItemKind::Link => {
                r.link(id);
            }
            ItemKind::Cluster => {
                r.cluster(id);
            }
            ItemKind::Workload => {
                r.workload(id);
            }
            ItemKind::Plan => {
                if let Some(p) = r.plan(id) {
                    program.plans.push(p);
                }
            }
            // after every plan: a comparison may name plans declared below it
            ItemKind::Compare => compares.push(id),
            kind @ (ItemKind::Dimension | ItemKind::Prefix | ItemKind::Unit) => {
                let span = r.items[id].item.kind_span;
                r.diags.push(catalog::not_allowed(span, &Misplaced::UnitDeclaration { keyword: kind.keyword() }));
            }
        }
    }
    // The chips and models the file imports, for editors; what is wrong with them is
    // their own file's business (said when a plan uses them), so it is not said here.
    let imported: Vec<ItemId> = r.modules[m].imports.values().map(|(id, _)| *id).collect();
    let own = std::mem::take(r.diags);
    for id in imported {
        r.chip_or_model(id, &mut program);
    }
    // said where a plan uses them (at their own spans), not here
    let _imported_items_findings = std::mem::replace(r.diags, own);
    program.models.sort_by(|a, b| a.name.cmp(&b.name));
    program.chips.sort_by(|a, b| a.name.cmp(&b.name));
    for id in compares {
        if let Some(c) = r.compare(m, id, &program.plans) {
            program.compares.push(c);
        }
    }
    // Unused explicitly named imports of the root file.
    let unused: Vec<(String, Span)> = r.modules[m].named_imports.iter().filter(|(n, _)| !r.modules[m].used.contains(n)).cloned().collect();
    for (name, span) in unused {
        r.diags.push(catalog::unused_import(span, &name));
    }
    program.names = ir::NameIndex::new(std::mem::take(&mut r.names));
    program
}

impl Resolver<'_> {
    // ------------------------------------------------------------ loading

    fn load_module(&mut self, name: String, files: Vec<FileId>, dir: Option<PathBuf>) -> ModuleId {
        let m = self.modules.len();
        self.modules.push(Module {
            name,
            items: BTreeMap::new(),
            imports: BTreeMap::new(),
            named_imports: vec![],
            used: Default::default(),
            dir,
        });
        let mut uses = Vec::new();
        for f in files {
            let text = self.sources.get(f).text.clone();
            let file = crate::syntax::parse_file(f, &text, self.diags);
            uses.extend(file.uses);
            for item in file.items {
                let is_ident = item.name.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && item.name.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !item.kind.is_registry() && !is_ident {
                    self.diags.push(catalog::wrong_value(
                        item.name.span,
                        &format!("a {} name", item.kind.keyword()),
                        "a name like `my_chip`",
                        "a string",
                    ));
                    continue;
                }
                if let Some(first) = self.modules[m].items.get(&item.name.name) {
                    let first_span = self.items[*first].item.name.span;
                    self.diags.push(catalog::duplicate_item(item.name.span, &item.name.name, first_span));
                    continue;
                }
                let id = self.items.len();
                self.modules[m].items.insert(item.name.name.clone(), id);
                if !item.kind.is_registry() {
                    let (name, whole) = (item.name.span, item.span);
                    self.names.push(ir::NameRef { at: name, decl: name, item: whole, kind: ir::NameKind::Item(item.kind) });
                }
                self.items.push(ItemEntry { module: m, item });
            }
        }
        for u in uses {
            self.process_use(m, &u);
        }
        m
    }

    fn std_module(&mut self, name: &str, span: Span) -> Option<ModuleId> {
        if let Some(m) = self.std_modules.get(name) {
            return Some(*m);
        }
        let files = stdlib::module_files(name);
        if files.is_empty() {
            let known: Vec<String> = stdlib::module_names().iter().map(|m| format!("std::{m}")).collect();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            self.diags.push(catalog::unknown_module(span, &format!("std::{name}"), &known));
            return None;
        }
        let ids: Vec<FileId> = files
            .iter()
            .map(|(path, text)| {
                let origin = Origin::Std(path.to_string());
                match self.sources.find(&origin) {
                    Some(id) => id,
                    None => self.sources.add(origin, format!("<std>/{path}"), *text),
                }
            })
            .collect();
        // Register before loading so a module importing itself does not loop.
        let m = self.modules.len();
        self.std_modules.insert(name.to_string(), m);
        let got = self.load_module(format!("std::{name}"), ids, None);
        debug_assert_eq!(m, got);
        Some(got)
    }

    fn import(&mut self, into: ModuleId, name: &str, id: ItemId, span: Span) {
        if let Some(local) = self.modules[into].items.get(name) {
            let local_span = self.items[*local].item.name.span;
            self.diags.push(catalog::duplicate_item(local_span, name, span));
            return;
        }
        if let Some((prev, prev_span)) = self.modules[into].imports.get(name) {
            if *prev != id {
                self.diags.push(catalog::duplicate_item(span, name, *prev_span));
            }
            return;
        }
        self.modules[into].imports.insert(name.to_string(), (id, span));
    }

    fn process_use(&mut self, m: ModuleId, u: &ast::Use) {
        match &u.target {
            UseTarget::Module { module, names, glob } => {
                let path: Vec<&str> = module.iter().map(|i| i.name.as_str()).collect();
                let Some(first) = module.first() else { return };
                let mspan = module.first().map(|f| f.span).unwrap_or(u.span).to(module.last().map(|l| l.span).unwrap_or(u.span));
                if path.len() != 2 || path[0] != "std" {
                    let known: Vec<String> = stdlib::module_names().iter().map(|m| format!("std::{m}")).collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    self.diags.push(catalog::unknown_module(if path.len() == 1 { first.span } else { mspan }, &path.join("::"), &known));
                    return;
                }
                let Some(sm) = self.std_module(path[1], mspan) else { return };
                if *glob {
                    let all: Vec<(String, ItemId)> = self.modules[sm].items.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    for (n, id) in all {
                        self.import(m, &n, id, u.span);
                    }
                }
                for n in names {
                    match self.modules[sm].items.get(&n.name).copied() {
                        Some(id) => {
                            self.modules[m].named_imports.push((n.name.clone(), n.span));
                            self.record(n.span, id);
                            self.import(m, &n.name, id, n.span)
                        }
                        None => {
                            let known: Vec<&str> = self.modules[sm].items.keys().map(String::as_str).collect();
                            self.diags.push(catalog::unknown_import(n.span, &n.name, &self.modules[sm].name, &known));
                        }
                    }
                }
            }
            UseTarget::File { path, span } => {
                let Some(dir) = self.modules[m].dir.clone() else {
                    self.diags.push(catalog::import_failed(*span, path, &FileProblem::NotOnDisk));
                    return;
                };
                if !path.ends_with(".hplan") {
                    self.diags.push(catalog::import_failed(*span, path, &FileProblem::NotHplan));
                    return;
                }
                let canon = match self.project_file(&dir, path) {
                    // a link named `*.hplan` to another kind of file is not read
                    Ok(c) if c.extension().is_none_or(|e| e != "hplan") => {
                        self.diags.push(catalog::import_failed(*span, path, &FileProblem::LinksToOtherKind));
                        return;
                    }
                    Ok(c) => c,
                    Err(why) => {
                        self.diags.push(catalog::import_failed(*span, path, &why));
                        return;
                    }
                };
                if self.loading.contains(&canon) {
                    self.diags.push(catalog::import_failed(*span, path, &FileProblem::Cycle));
                    return;
                }
                if self.loading.len() >= MAX_IMPORT_DEPTH {
                    self.diags.push(catalog::import_too_deep(*span, path, MAX_IMPORT_DEPTH));
                    return;
                }
                let origin = Origin::Disk(canon.clone());
                let module = match self.sources.find(&origin) {
                    Some(fid) => self.modules.iter().position(|md| md.name == self.sources.get(fid).name),
                    None => None,
                };
                let module = match module {
                    Some(mm) => mm,
                    None => {
                        let text = match self.sources.read_disk(&canon) {
                            Ok(t) => t,
                            Err(e) => {
                                self.diags.push(catalog::import_failed(*span, path, &FileProblem::Unreadable(e.to_string())));
                                return;
                            }
                        };
                        let display = pathdiff(&canon, self.root_dir.as_deref());
                        let fid = self.sources.add(origin, display.clone(), text);
                        self.loading.push(canon.clone());
                        let mm = self.load_module(display, vec![fid], canon.parent().map(|p| p.to_path_buf()));
                        self.loading.pop();
                        mm
                    }
                };
                let all: Vec<(String, ItemId)> = self.modules[module].items.iter().map(|(k, v)| (k.clone(), *v)).collect();
                for (n, id) in all {
                    self.import(m, &n, id, u.span);
                }
            }
        }
    }

    // ------------------------------------------------------------ names

    /// Finds the item a path names, of the expected kind.
    fn lookup(&mut self, m: ModuleId, path: &Path, kind: ItemKind) -> Option<ItemId> {
        let segs: Vec<&str> = path.segments.iter().map(|s| s.name.as_str()).collect();
        let found = match segs[..] {
            [name] => match self.modules[m].items.get(name).copied() {
                Some(id) => Some(id),
                None => {
                    let id = self.modules[m].imports.get(name).map(|x| x.0);
                    if id.is_some() {
                        self.modules[m].used.insert(name.to_string());
                    }
                    id
                }
            },
            ["std", module, name] => {
                let sm = self.std_module(module, path.span)?;
                match self.modules[sm].items.get(name).copied() {
                    Some(id) => Some(id),
                    None => {
                        let known: Vec<&str> = self.modules[sm].items.keys().map(String::as_str).collect();
                        self.diags.push(catalog::unknown_import(path.last().span, name, &self.modules[sm].name, &known));
                        return None;
                    }
                }
            }
            _ => None,
        };
        match found {
            Some(id) => {
                let item = &self.items[id].item;
                if item.kind != kind {
                    self.diags.push(catalog::wrong_kind(path.span, &path.to_string(), item.kind.keyword(), kind.keyword(), item.name.span));
                    return None;
                }
                self.record(path.last().span, id);
                Some(id)
            }
            None => {
                let name = path.to_string();
                let mut candidates: Vec<String> = self.modules[m]
                    .items
                    .iter()
                    .map(|(n, id)| (n, *id))
                    .chain(self.modules[m].imports.iter().map(|(n, (id, _))| (n, *id)))
                    .filter(|(_, id)| self.items[*id].item.kind == kind)
                    .map(|(n, _)| n.clone())
                    .collect();
                candidates.sort();
                let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
                // no close name in scope: a close one in the stdlib, to import
                let in_std = match catalog::did_you_mean(&name, refs.iter().copied()) {
                    None => self.std_hint(&name, kind),
                    Some(_) => None,
                };
                let in_std = in_std.as_ref().map(|(m, hit)| (*m, hit.as_str()));
                self.diags.push(catalog::unknown_item(path.span, &name, kind.keyword(), &refs, in_std));
                None
            }
        }
    }

    /// Records that the name at `at` refers to item `id`.
    fn record(&mut self, at: Span, id: ItemId) {
        let item = &self.items[id].item;
        self.names.push(ir::NameRef { at, decl: item.name.span, item: item.span, kind: ir::NameKind::Item(item.kind) });
    }

    /// Records that the name at `at` refers to the pool declared at `decl`.
    fn record_pool(&mut self, at: Span, decl: Span) {
        self.names.push(ir::NameRef { at, decl, item: decl, kind: ir::NameKind::Pool });
    }

    /// The stdlib module and item close to `name` (`chips`, `h100_sxm`), for names the
    /// stdlib has but the file did not import.
    fn std_hint(&mut self, name: &str, kind: ItemKind) -> Option<(&'static str, String)> {
        let module = match kind {
            ItemKind::Chip => "chips",
            ItemKind::Link => "links",
            ItemKind::Model => "models",
            _ => return None,
        };
        if stdlib::module_files(module).is_empty() {
            return None;
        }
        let sm = self.std_module(module, Span::new(FileId(0), 0, 0))?;
        let names: Vec<&str> = self.modules[sm].items.keys().map(String::as_str).collect();
        let hit = catalog::did_you_mean(name, names.iter().copied())?;
        Some((module, hit.to_string()))
    }

    // ------------------------------------------------------------ extends

    /// The item's body with its base's entries merged under it, built once per item.
    /// `None` when the base cannot be resolved, the extension is cyclic or the chain
    /// runs past [`MAX_EXTENDS_DEPTH`] (each already reported), so the item is not
    /// checked against its schema half-built.
    fn effective_body(&mut self, id: ItemId) -> Option<Body> {
        if let Some((b, _)) = self.bodies.get(&id) {
            return b.clone();
        }
        // up the chain (a loop, not recursion: chains are bounded only by the depth
        // check below) to an item already settled, one that extends nothing, a base
        // that is not found (the lookup reports it) or a cycle
        let mut chain: Vec<ItemId> = Vec::new();
        let mut on_chain: BTreeSet<ItemId> = BTreeSet::new();
        let mut cur = id;
        let (mut body, mut depth) = loop {
            if let Some(settled) = self.bodies.get(&cur) {
                break settled.clone();
            }
            let item = &self.items[cur].item;
            let Some(base) = item.base.clone() else { break (Some(item.body.clone()), 0) };
            if on_chain.contains(&cur) {
                // every item on the cycle says so, once
                let k = chain.iter().position(|&c| c == cur).unwrap_or(0);
                for &member in &chain[k..] {
                    let it = &self.items[member].item;
                    let span = it.base.as_ref().map_or(it.name.span, |b| b.span);
                    self.diags.push(catalog::extends_cycle(span, &it.name.name));
                    self.bodies.insert(member, (None, 0));
                }
                break (None, 0);
            }
            chain.push(cur);
            on_chain.insert(cur);
            let (module, kind) = (self.items[cur].module, item.kind);
            match self.lookup(module, &base, kind) {
                Some(next) => cur = next,
                None => break (None, 0),
            }
        };
        // back down to `id`, merging each body over its base's
        for &it in chain.iter().rev() {
            if let Some(settled) = self.bodies.get(&it) {
                (body, depth) = settled.clone();
                continue;
            }
            depth += 1;
            let item = &self.items[it].item;
            body = match body {
                Some(_) if depth > MAX_EXTENDS_DEPTH => {
                    // said once, where the chain grows too long; the items that extend
                    // this one fail with it, silently
                    let span = item.base.as_ref().map_or(item.name.span, |b| b.span);
                    self.diags.push(catalog::extends_too_deep(span, &item.name.name, MAX_EXTENDS_DEPTH));
                    None
                }
                Some(b) => Some(merge(&b, &item.body)),
                None => None,
            };
            self.bodies.insert(it, (body.clone(), depth));
        }
        body
    }

    fn check(&mut self, body: &Body, spec: &'static schema::BlockSpec, span: Span) -> Fields {
        Checker { sources: self.sources, diags: self.diags }.check(body, spec, span)
    }

    // ------------------------------------------------------------ items

    /// Lowers a chip or a model item into `program.chips` / `program.models` (checking
    /// it on the way); other items are left alone.
    fn chip_or_model(&mut self, id: ItemId, program: &mut ir::Program) {
        match self.items[id].item.kind {
            ItemKind::Chip => program.chips.extend(self.chip(id)),
            ItemKind::Model => program.models.extend(self.model(id)),
            _ => {}
        }
    }

    /// A model as declared (no overrides), lowered once; its mistakes are said at its
    /// name, once, however many plans use it.
    fn model(&mut self, id: ItemId) -> Option<ir::Model> {
        if let Some(m) = self.models.get(&id) {
            return m.clone();
        }
        let m = self.effective_body(id).and_then(|body| {
            let item = &self.items[id].item;
            let (name, span) = (item.name.name.clone(), item.name.span);
            self.model_from(&name, &body, span)
        });
        self.models.insert(id, m.clone());
        m
    }

    fn chip(&mut self, id: ItemId) -> Option<ir::Chip> {
        if let Some(c) = self.chips.get(&id) {
            return c.clone();
        }
        let Some(body) = self.effective_body(id) else {
            self.chips.insert(id, None);
            return None;
        };
        let item = &self.items[id].item;
        let (name, span) = (item.name.name.clone(), item.name.span);
        let f = self.check(&body, &schema::CHIP, item.name.span);
        let c = self.chip_from(name, span, &f);
        self.chips.insert(id, c.clone());
        c
    }

    /// The figures of a checked chip or link body written with their uncertainty.
    fn uncertain(f: &Fields) -> Vec<ir::uncertain::Uncertain> {
        // each memory tier's bandwidth, numbered in the order the chip declares its tiers
        let tiers = f.blocks.iter().filter(|b| b.keyword == "memory").enumerate().filter_map(|(i, b)| {
            let (low, high, span) = b.fields.spread("bandwidth")?;
            Some(ir::uncertain::Uncertain { figure: ir::uncertain::Figure::TierBandwidth(i), low, high, span })
        });
        let tiers: Vec<_> = if f.spec.is_some_and(|s| s.0.name == "chip") { tiers.collect() } else { vec![] };
        ir::uncertain::Figure::ALL
            .iter()
            .filter(|f| !matches!(f, ir::uncertain::Figure::TierBandwidth(_)))
            .filter_map(|&figure| {
                let (block, attr) = figure.written();
                // a chip's figures (its own and its blocks') in a chip, a link's in a link
                let item = if figure.of_link() { "link" } else { "chip" };
                if f.spec.is_none_or(|s| s.0.name != item) {
                    return None;
                }
                let fields = match block {
                    "compute block" => &f.block("compute")?.fields,
                    "efficiency block" => &f.block("efficiency")?.fields,
                    _ => f,
                };
                let (low, high, span) = fields.spread(attr)?;
                Some(ir::uncertain::Uncertain { figure, low, high, span })
            })
            .chain(tiers)
            .collect()
    }

    /// Lowers a checked chip body. Every block is checked before giving up, so one
    /// bad figure does not hide the others.
    fn chip_from(&mut self, name: String, span: Span, f: &Fields) -> Option<ir::Chip> {
        let mut ok = true;
        let mut compute = BTreeMap::new();
        if let Some(cb) = f.block("compute") {
            for p in Precision::ALL {
                if let Some(v) = cb.fields.num(p.name()) {
                    if v <= 0.0 {
                        let s = cb.fields.span(p.name()).unwrap_or(cb.span);
                        self.diags.push(catalog::out_of_range(s, &format!("`{}`", p.name()), Rule::positive()));
                        ok = false;
                        continue;
                    }
                    compute.insert(p, v);
                }
            }
            if compute.is_empty() && cb.fields.given.is_empty() {
                self.diags.push(catalog::no_compute_peak(cb.span));
            }
            ok &= !compute.is_empty();
        }
        let mut memory = Vec::new();
        for mb in f.blocks.iter().filter(|b| b.keyword == "memory") {
            let (Some(capacity), Some(bandwidth)) = (mb.fields.num("capacity"), mb.fields.num("bandwidth")) else {
                ok = false;
                continue;
            };
            let holds = match mb.fields.attrs.get("holds").map(|x| &x.val) {
                Some(Val::Contents(c)) => c.clone(),
                _ => vec![],
            };
            let zero = [("capacity", capacity), ("bandwidth", bandwidth)].into_iter().find(|(_, v)| *v <= 0.0);
            if let Some((what, _)) = zero {
                let s = mb.fields.span(what).unwrap_or(mb.span);
                self.diags.push(catalog::out_of_range(s, &format!("`{what}`"), Rule::positive()));
                ok = false;
                continue;
            }
            memory.push(ir::MemoryTier {
                name: mb.label.as_ref().map_or_else(|| std::sync::Arc::from(""), |l| std::sync::Arc::from(l.name.as_str())),
                capacity,
                bandwidth,
                holds,
                span: mb.span,
            });
        }
        for c in [Contents::Weights, Contents::Kv] {
            let holders: Vec<&ir::MemoryTier> = memory.iter().filter(|t| t.holds.contains(&c)).collect();
            if holders.len() > 1 {
                let what = if c == Contents::Weights { "weights" } else { "kv" };
                self.diags.push(catalog::duplicate_attribute(holders[1].span, &format!("holds {what}"), holders[0].span));
            }
        }
        let eff = f.block("efficiency")?;
        let (ce, me) = (eff.fields.num("compute")?, eff.fields.num("memory")?);
        if !ok || memory.is_empty() {
            return None;
        }
        let mut frameworks = BTreeMap::new();
        for fb in f.blocks.iter().filter(|b| b.keyword == "framework") {
            let Some(label) = &fb.label else { continue };
            if !ir::FRAMEWORKS.contains(&label.name.as_str()) {
                self.diags.push(catalog::unknown_choice(label.span, &label.name, "framework", &ir::FRAMEWORKS));
                continue;
            }
            // a cost the block leaves out is the chip's own
            let step = fb.fields.num("step_overhead").or(f.num("step_overhead")).unwrap_or(0.0);
            let layer = fb.fields.num("layer_overhead").or(f.num("layer_overhead")).unwrap_or(0.0);
            let sequence = fb.fields.num("sequence_overhead").or(f.num("sequence_overhead")).unwrap_or(0.0);
            frameworks.insert(
                label.name.clone(),
                ir::FrameworkBlock {
                    costs: ir::FixedCosts { step, layer, sequence },
                    memory_fraction: fb.fields.num("memory_fraction"),
                    runtime_memory: fb.fields.num("runtime_memory"),
                    first_token: fb.fields.num("first_token"),
                    first_token_per_layer: fb.fields.num("first_token_per_layer"),
                    moe_dense_reads: fb.fields.num("moe_dense_reads"),
                },
            );
        }
        let mut chip = ir::Chip {
            name,
            span,
            source: f.str("source")?.to_string(),
            compute,
            memory,
            power: f.num("power"),
            system_power: f.num("system_power"),
            price: f.num("price"),
            compute_efficiency: ce,
            memory_efficiency: me,
            step_overhead: f.num("step_overhead").unwrap_or(0.0),
            layer_overhead: f.num("layer_overhead").unwrap_or(0.0),
            sequence_overhead: f.num("sequence_overhead").unwrap_or(0.0),
            frameworks,
            tables: None,
            fp8_gemm_surplus: f.num("fp8_gemm_surplus").unwrap_or(0.0),
            engine: None,
            uncertain: Self::uncertain(f),
            peaks: Default::default(),
        };
        if let (Some(path), Some(at)) = (f.str("tables"), f.span("tables")) {
            chip.tables = self.op_tables(path, at, &chip);
        }
        // (a table that could not be read was said already)
        let unread = f.span("tables").is_some() && chip.tables.is_none();
        if let (true, false, Some(at)) = (chip.fp8_gemm_surplus > 0.0, unread, f.span("fp8_gemm_surplus")) {
            // what the tables' FP8 GEMM rows can give up: less than the fastest of them
            let fastest = chip.tables.as_ref().and_then(|t| t.gemm.get(&ir::Precision::Fp8)).map(|g| g.least());
            if fastest.is_none_or(|x| chip.fp8_gemm_surplus >= x) {
                let shown = |s: f64| crate::units::format::fmt_time(s);
                self.diags.push(catalog::fp8_surplus_unusable(
                    at,
                    &chip.name,
                    &shown(chip.fp8_gemm_surplus),
                    fastest.map(shown).as_deref(),
                    f.span("tables"),
                ));
                chip.fp8_gemm_surplus = 0.0;
            }
        }
        Some(chip)
    }

    /// The file `path` names relative to `dir`, canonical (symlinks resolved), if it
    /// exists inside the project folder (the root file's real folder); else why not
    /// (for the caller's diagnostic). With no project folder (a root file not on disk)
    /// nothing is inside.
    /// The file `path` names, relative to the file `from` that names it (a chip's op
    /// table, a workload's trace), inside the project folder.
    fn beside(&self, from: &std::path::Path, path: &str) -> Result<std::path::PathBuf, FileProblem> {
        let dir = real_path(from).parent().map(|d| d.to_path_buf()).unwrap_or_default();
        self.project_file(&dir, path)
    }

    fn project_file(&self, dir: &std::path::Path, path: &str) -> Result<std::path::PathBuf, FileProblem> {
        let canon = real_path(&dir.join(path));
        if !self.root_dir.as_ref().is_some_and(|root| canon.starts_with(root)) {
            return Err(FileProblem::LeavesProject);
        }
        if !canon.exists() {
            // a link whose target is missing or that loops back on itself
            if dir.join(path).symlink_metadata().is_ok() {
                return Err(FileProblem::DanglingLink);
            }
            return Err(FileProblem::NoSuchFile);
        }
        Ok(canon)
    }

    /// Reads the op table `path` named at `at` (relative to that file: inside the
    /// embedded stdlib for stdlib chips, inside the project folder otherwise), once per
    /// (file, chip).
    fn op_tables(&mut self, path: &str, at: Span, chip: &ir::Chip) -> Option<std::sync::Arc<ir::tables::OpTables>> {
        let origin = match self.sources.get(at.file).origin.clone() {
            Origin::Std(from) => {
                let mut parts: Vec<&str> = from.split('/').collect();
                parts.pop();
                for seg in path.split('/') {
                    match seg {
                        "." | "" => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                Origin::Std(parts.join("/"))
            }
            Origin::Disk(from) => match self.beside(&from, path) {
                Ok(canon) => Origin::Disk(canon),
                Err(why) => {
                    self.diags.push(catalog::table_unreadable(at, path, &why));
                    return None;
                }
            },
            Origin::Memory(_) => {
                self.diags.push(catalog::table_unreadable(at, path, &FileProblem::NotOnDisk));
                return None;
            }
        };
        let key = (origin.clone(), chip.name.clone());
        if let Some(t) = self.op_tables.get(&key) {
            return t.clone();
        }
        let t = self.table_text(&origin, path, at).and_then(|(display, text)| {
            let fid = match self.sources.find(&origin) {
                Some(id) => id,
                None => self.sources.add(origin.clone(), display.clone(), text.clone()),
            };
            tables::parse(fid, &display, &text, chip, at, self.diags).map(std::sync::Arc::new)
        });
        self.op_tables.insert(key, t.clone());
        t
    }

    /// The display name and text of an op table's file: from the embedded stdlib, or a
    /// regular file of at most 8 MiB on disk.
    fn table_text(&mut self, origin: &Origin, path: &str, at: Span) -> Option<(String, String)> {
        let fail = |why: FileProblem| catalog::table_unreadable(at, path, &why);
        match origin {
            Origin::Std(rel) => match stdlib::table(rel) {
                Some(text) => Some((format!("<std>/{rel}"), text.to_string())),
                None => {
                    self.diags.push(fail(FileProblem::NotInStdlib));
                    None
                }
            },
            // read_disk refuses what is not a regular file of at most 8 MiB, before reading
            Origin::Disk(canon) => match self.sources.read_disk(canon) {
                Ok(text) => Some((pathdiff(canon, self.root_dir.as_deref()), text)),
                Err(e) => {
                    self.diags.push(fail(FileProblem::Unreadable(e.to_string())));
                    None
                }
            },
            Origin::Memory(_) => None,
        }
    }

    fn link(&mut self, id: ItemId) -> Option<ir::Link> {
        if let Some(l) = self.links.get(&id) {
            return l.clone();
        }
        let Some(body) = self.effective_body(id) else {
            self.links.insert(id, None);
            return None;
        };
        let item = &self.items[id].item;
        let (name, span) = (item.name.name.clone(), item.name.span);
        let f = self.check(&body, &schema::LINK, item.name.span);
        let l = (|| {
            let bandwidth = f.num("bandwidth")?;
            if bandwidth <= 0.0 {
                self.diags.push(catalog::out_of_range(f.span("bandwidth")?, "`bandwidth`", Rule::positive()));
                return None;
            }
            let uncertain = Self::uncertain(&f);
            Some(ir::Link { name, span, source: f.str("source")?.to_string(), bandwidth, latency: f.num("latency")?, uncertain })
        })();
        self.links.insert(id, l.clone());
        l
    }

    fn model_from(&mut self, name: &str, body: &Body, span: Span) -> Option<ir::Model> {
        let f = self.check(body, &schema::MODEL, span);
        // Attributes required only for some architectures.
        let missing = |this: &mut Self, attr: &str, example: &str, why: NeededFor| {
            this.diags.push(catalog::missing_model_attribute(span, attr, example, why));
        };
        let mla = f.word("attention") == Some("mla");
        let moe_declared = f.attrs.contains_key("experts") || f.given.iter().any(|g| g == "experts");
        let mut ok = true;
        if mla {
            for (attr, ex) in [("kv_lora_rank", "512"), ("qk_rope_dim", "64"), ("qk_nope_dim", "128"), ("v_head_dim", "128")] {
                if !f.given.iter().any(|g| g == attr) {
                    missing(self, attr, ex, NeededFor::Mla);
                    ok = false;
                }
            }
        } else {
            for (attr, ex) in [("kv_heads", "8"), ("head_dim", "128")] {
                if !f.given.iter().any(|g| g == attr) {
                    missing(self, attr, ex, NeededFor::GroupedQuery);
                    ok = false;
                }
            }
        }
        if moe_declared {
            for (attr, ex) in [("experts_per_token", "8"), ("expert_intermediate", "2048")] {
                if !f.given.iter().any(|g| g == attr) {
                    missing(self, attr, ex, NeededFor::Moe);
                    ok = false;
                }
            }
        }
        let dense_layers = f.count("dense_layers").unwrap_or(0);
        if (!moe_declared || dense_layers > 0) && !f.given.iter().any(|g| g == "intermediate") {
            missing(self, "intermediate", "28672", NeededFor::DenseLayers);
            ok = false;
        }
        if f.given.iter().any(|g| g == "sliding_window") != f.given.iter().any(|g| g == "sliding_layers") {
            let (has, lacks) = if f.given.iter().any(|g| g == "sliding_window") {
                ("sliding_window", "sliding_layers")
            } else {
                ("sliding_layers", "sliding_window")
            };
            missing(self, lacks, "18", NeededFor::Together(has));
            ok = false;
        }
        if !ok {
            return None;
        }
        let mla = if mla {
            Some(ir::Mla {
                q_lora_rank: f.count("q_lora_rank").unwrap_or(0),
                kv_lora_rank: f.count("kv_lora_rank")?,
                qk_rope_dim: f.count("qk_rope_dim")?,
                qk_nope_dim: f.count("qk_nope_dim")?,
                v_head_dim: f.count("v_head_dim")?,
            })
        } else {
            None
        };
        let moe = if moe_declared {
            Some(ir::Moe {
                experts: f.count("experts")?,
                top_k: f.count("experts_per_token")?,
                shared: f.count("shared_experts").unwrap_or(0),
                expert_intermediate: f.count("expert_intermediate")?,
                dense_layers,
                router_bias: f.bool("router_bias").unwrap_or(false),
            })
        } else {
            None
        };
        let sliding = match (f.count("sliding_window"), f.count("sliding_layers")) {
            (Some(window), Some(layers)) => Some(ir::Sliding { window, layers }),
            _ => None,
        };
        let (kv_heads, head_dim) = match mla {
            Some(m) => (1, m.qk_nope_dim + m.qk_rope_dim),
            None => (f.count("kv_heads")?, f.count("head_dim")?),
        };
        let layers = f.count("layers")?;
        let m = ir::Model {
            name: name.to_string(),
            span,
            source: f.str("source")?.to_string(),
            layers,
            hidden: f.count("hidden")?,
            heads: f.count("heads")?,
            kv_heads,
            head_dim,
            intermediate: f.count("intermediate").unwrap_or(0),
            vocab: f.count("vocab")?,
            tied_embeddings: f.bool("tied_embeddings").unwrap_or(false),
            mla,
            moe,
            sliding,
            biases: f.bool("biases").unwrap_or(false),
            qk_norm: f.bool("qk_norm").unwrap_or(false),
            max_context: f.count("max_context"),
            weights: f.prec("weights").unwrap_or(Precision::Bf16),
            kv: f.prec("kv").unwrap_or(Precision::Bf16),
            activations: f.prec("activations").unwrap_or(Precision::Bf16),
            variants: f.count("variants").unwrap_or(1),
        };
        let rule = |what: &str, ok: bool, rule: Rule, this: &mut Self| {
            if !ok {
                let s = f.span(what).unwrap_or(span);
                this.diags.push(catalog::out_of_range(s, &format!("`{what}`"), rule));
            }
            ok
        };
        let mut valid = true;
        if m.mla.is_none() {
            valid &= rule("kv_heads", m.heads % m.kv_heads == 0, Rule::divide(format!("`heads` ({})", m.heads)), self);
        }
        if let Some(moe) = m.moe {
            valid &= rule("experts_per_token", moe.top_k <= moe.experts, Rule::at_most(format!("`experts` ({})", moe.experts)), self);
            valid &= rule("dense_layers", moe.dense_layers < m.layers, Rule::be(format!("below `layers` ({})", m.layers)), self);
        }
        if let Some(sl) = m.sliding {
            valid &= rule("sliding_layers", sl.layers <= m.layers, Rule::at_most(format!("`layers` ({})", m.layers)), self);
        }
        valid.then_some(m)
    }

    fn workload(&mut self, id: ItemId) -> Option<ir::Workload> {
        if let Some(w) = self.workloads.get(&id) {
            return w.clone();
        }
        let Some(body) = self.effective_body(id) else {
            self.workloads.insert(id, None);
            return None;
        };
        let item = &self.items[id].item;
        let (name, span) = (item.name.name.clone(), item.name.span);
        let f = self.check(&body, &schema::WORKLOAD, item.name.span);
        let w = (|| {
            let (lo, hi) = match f.attrs.get("concurrency").map(|x| &x.val) {
                Some(Val::Range(lo, hi)) => (*lo, *hi),
                _ => return None,
            };
            Some(ir::Workload {
                name,
                span,
                input_tokens: f.count("input")?,
                output_tokens: f.count("output")?,
                concurrency: (lo, hi),
                concurrency_span: f.span("concurrency")?,
                traffic: ir::Traffic::default(),
                prefix: None,
            })
        })();
        let w = w.and_then(|mut w| {
            w.traffic = self.traffic(&f)?;
            w.prefix = self.prefix(&f, w.input_tokens)?;
            Some(w)
        });
        self.workloads.insert(id, w.clone());
        w
    }

    /// A workload's simulated traffic; `None` after a diagnostic.
    fn traffic(&mut self, f: &Fields) -> Option<ir::Traffic> {
        let lengths = match f.word("lengths") {
            Some("uniform") => ir::LengthShape::Uniform,
            Some("lognormal") => ir::LengthShape::LogNormal,
            _ => ir::LengthShape::Fixed,
        };
        let spread = f.num("spread").unwrap_or(0.0);
        let bound = match lengths {
            ir::LengthShape::LogNormal => Some((3.0, "at most 3 (the standard deviation of ln(length))")),
            ir::LengthShape::Uniform => Some((0.999, "below 1 (a share of the mean on each side)")),
            ir::LengthShape::Fixed => None,
        };
        if let (Some((max, why)), Some(span)) = (bound, f.span("spread")) {
            if spread > max {
                self.diags.push(catalog::out_of_range(span, "`spread`", Rule::be(why)));
                return None;
            }
        }
        if lengths == ir::LengthShape::Fixed {
            if let Some(span) = f.span("spread") {
                self.diags.push(catalog::spread_without_lengths(span));
                return None;
            }
        }
        let arrivals = self.arrivals(f)?;
        Some(ir::Traffic {
            arrivals,
            lengths,
            spread,
            requests: f.count("requests").unwrap_or(ir::DEFAULT_SIM_REQUESTS),
            seed: f.count("seed").unwrap_or(0),
        })
    }

    /// A workload's arrival process (`rate`, `burstiness`, `trace`); `None` after a
    /// diagnostic.
    fn arrivals(&mut self, f: &Fields) -> Option<ir::ArrivalProcess> {
        let burstiness = match (f.num("burstiness"), f.span("burstiness")) {
            (Some(b), Some(span)) if !(ir::MIN_BURSTINESS..=ir::MAX_BURSTINESS).contains(&b) => {
                self.diags.push(catalog::out_of_range(span, "`burstiness`", Rule::be("from 0.01 to 100 (a gamma shape; 1 is Poisson)")));
                return None;
            }
            (b, _) => b,
        };
        if let (Some(rate), Some(span)) = (f.num("rate"), f.span("rate")) {
            if !(rate > 0.0 && rate.is_finite()) {
                self.diags.push(catalog::out_of_range(span, "`rate`", Rule::positive()));
                return None;
            }
        }
        match (f.str("trace"), f.span("trace")) {
            (Some(path), Some(at)) => {
                if let Some(rate) = f.span("rate") {
                    self.diags.push(catalog::arrivals_twice(at, rate));
                    return None;
                }
                if let Some(b) = f.span("burstiness") {
                    self.diags.push(catalog::burstiness_of_a_trace(b));
                    return None;
                }
                let rows = self.trace_rows(path, at)?;
                Some(ir::ArrivalProcess::Trace { path: path.to_string(), rows })
            }
            _ => match (f.num("rate"), burstiness) {
                (None, None) => Some(ir::ArrivalProcess::Closed),
                (rate, b) => Some(ir::ArrivalProcess::Renewal { rate, burstiness: b.unwrap_or(1.0), rate_span: f.span("rate") }),
            },
        }
    }

    /// Reads the trace `path` named at `at` (relative to that file, inside the project
    /// folder), with a diagnostic at the file, line and column of every bad line.
    fn trace_rows(&mut self, path: &str, at: Span) -> Option<std::sync::Arc<Vec<ir::TraceRow>>> {
        let origin = match self.sources.get(at.file).origin.clone() {
            Origin::Disk(from) => match self.beside(&from, path) {
                Ok(canon) => Origin::Disk(canon),
                Err(why) => {
                    self.diags.push(catalog::trace_unreadable(at, path, &why));
                    return None;
                }
            },
            _ => {
                self.diags.push(catalog::trace_unreadable(at, path, &FileProblem::NotOnDisk));
                return None;
            }
        };
        let Origin::Disk(canon) = &origin else { return None };
        // read_disk refuses what is not a regular file of at most 8 MiB, before reading
        let text = match self.sources.read_disk(canon) {
            Ok(text) => text,
            Err(e) => {
                self.diags.push(catalog::trace_unreadable(at, path, &FileProblem::Unreadable(e.to_string())));
                return None;
            }
        };
        let fid = match self.sources.find(&origin) {
            Some(id) => id,
            None => self.sources.add(origin.clone(), pathdiff(canon, self.root_dir.as_deref()), text.clone()),
        };
        trace::parse(fid, &text, self.diags).map(std::sync::Arc::new)
    }

    /// A workload's prefix reuse: `Some(None)` without one, `None` after a diagnostic.
    fn prefix(&mut self, f: &Fields, input: u64) -> Option<Option<ir::Prefix>> {
        let Some(tokens) = f.count("prefix") else {
            for attr in ["prefixes", "prefix_hit"] {
                if let Some(span) = f.span(attr) {
                    self.diags.push(catalog::prefix_reuse_without_prefix(span, attr));
                    return None;
                }
            }
            return Some(None);
        };
        if tokens >= input {
            let span = f.span("prefix")?;
            self.diags.push(catalog::out_of_range(span, "`prefix`", Rule::be("below `input` (each prompt's own tokens follow it)")));
            return None;
        }
        Some(Some(ir::Prefix { tokens, distinct: f.count("prefixes").unwrap_or(1), hit: f.num("prefix_hit").unwrap_or(1.0) }))
    }

    fn cluster(&mut self, id: ItemId) -> Option<ir::Cluster> {
        if let Some(c) = self.clusters.get(&id) {
            return c.clone();
        }
        let Some(body) = self.effective_body(id) else {
            self.clusters.insert(id, None);
            return None;
        };
        let module = self.items[id].module;
        let item = self.items[id].item.clone();
        let f = self.check(&body, &schema::CLUSTER, item.name.span);
        let mut pools: Vec<ir::Pool> = Vec::new();
        let mut pool_spans: BTreeMap<String, Span> = BTreeMap::new();
        let mut ok = true;
        for s in &f.stmts {
            let Entry::Pool(p) = s else { continue };
            if let Some(first) = pool_spans.get(&p.name.name) {
                self.diags.push(catalog::duplicate_item(p.name.span, &p.name.name, *first));
                ok = false;
                continue;
            }
            pool_spans.insert(p.name.name.clone(), p.name.span);
            self.names.push(ir::NameRef { at: p.name.span, decl: p.name.span, item: p.span, kind: ir::NameKind::Pool });
            let chip = self.lookup(module, &p.chip, ItemKind::Chip).and_then(|c| self.chip(c));
            let link = match &p.over {
                Some(l) => match self.lookup(module, l, ItemKind::Link).and_then(|l| self.link(l)) {
                    Some(l) => Some(l),
                    None => {
                        ok = false;
                        None
                    }
                },
                None => None,
            };
            if p.count == 0 || p.count as f64 > 1e9 {
                self.diags.push(catalog::out_of_range(p.count_span, "the chip count", Rule::between(1, "1e9")));
                ok = false;
                continue;
            }
            // `x 4 over ib_ndr`: nodes of `count` chips joined by a scale-out link
            let mut scale_out = None;
            if let Some(n) = &p.nodes {
                let out = self.lookup(module, &n.over, ItemKind::Link).and_then(|l| self.link(l));
                if n.count == 0 || p.count.saturating_mul(n.count) as f64 > 1e9 {
                    let most = (1e9 / p.count as f64).floor() as u64;
                    self.diags.push(catalog::out_of_range(n.count_span, "the node count", Rule::between(1, most)));
                    ok = false;
                    continue;
                }
                match out {
                    Some(link) => scale_out = Some((n.count, ir::ScaleOut { node: p.count, link })),
                    None => {
                        ok = false;
                        continue;
                    }
                }
            }
            let (count, scale_out) = match scale_out {
                Some((nodes, s)) => (nodes * p.count, Some(s)),
                None => (p.count, None),
            };
            match chip {
                Some(chip) => pools.push(ir::Pool { name: p.name.name.clone(), span: p.name.span, chip, count, link, scale_out }),
                None => ok = false,
            }
        }
        if pool_spans.is_empty() {
            self.diags.push(catalog::cluster_without_pool(item.name.span));
            ok = false;
        }
        let mut links = Vec::new();
        for s in &f.stmts {
            let Entry::Link(l) = s else { continue };
            let a = pools.iter().position(|p| p.name == l.a.name);
            let b = pools.iter().position(|p| p.name == l.b.name);
            let names: Vec<&str> = pool_spans.keys().map(String::as_str).collect();
            for (idx, side) in [(a, &l.a), (b, &l.b)] {
                match pool_spans.get(&side.name) {
                    Some(&decl) => self.record_pool(side.span, decl),
                    None if idx.is_none() => self.diags.push(catalog::unknown_name(side.span, &side.name, "pool", &names)),
                    None => {}
                }
            }
            let link = self.lookup(module, &l.over, ItemKind::Link).and_then(|x| self.link(x));
            match (a, b, link) {
                (Some(a), Some(b), Some(link)) if a != b => links.push(ir::PoolLink { a, b, link, span: l.span }),
                (Some(a), Some(b), Some(_)) if a == b => {
                    self.diags.push(catalog::not_allowed(l.span, &Misplaced::SelfLink));
                }
                _ => ok = false,
            }
        }
        let c = ok.then(|| ir::Cluster { name: item.name.name.clone(), span: item.name.span, pools, links });
        self.clusters.insert(id, c.clone());
        c
    }

    /// A plan's `place` statements (each stage's pools, and its pins' fields to check
    /// once the model is known) and its objective.
    fn plan_statements(&mut self, f: &Fields, cluster: Option<&ir::Cluster>) -> PlanStatements {
        let mut placed: BTreeMap<Stage, (Vec<usize>, Span)> = BTreeMap::new();
        let mut pinned: BTreeMap<Stage, (Fields, Span)> = BTreeMap::new();
        let mut objective = None;
        for s in &f.stmts {
            match s {
                Entry::Place(p) => {
                    let Some(stage) = Stage::from_name(&p.stage.name) else {
                        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
                        self.diags.push(catalog::unknown_choice(p.stage.span, &p.stage.name, "stage", &names));
                        continue;
                    };
                    if let Some((_, first)) = placed.get(&stage) {
                        self.diags.push(catalog::duplicate_attribute(p.span, &format!("place {}", stage.name()), *first));
                        continue;
                    }
                    let Some(cluster) = cluster else { continue };
                    let mut pools: Vec<usize> = Vec::new();
                    let mut ok = true;
                    for target in &p.targets {
                        if target.name == "auto" {
                            pools.extend(0..cluster.pools.len());
                            continue;
                        }
                        match cluster.pools.iter().position(|x| x.name == target.name) {
                            Some(i) => {
                                self.record_pool(target.span, cluster.pools[i].span);
                                pools.push(i)
                            }
                            None => {
                                let mut names: Vec<&str> = cluster.pools.iter().map(|x| x.name.as_str()).collect();
                                names.push("auto");
                                self.diags.push(catalog::unknown_name(target.span, &target.name, "pool", &names));
                                ok = false;
                            }
                        }
                    }
                    if !ok {
                        continue;
                    }
                    pools.sort();
                    pools.dedup();
                    if stage == Stage::DecodeLayers && pools.len() > ir::MAX_PIPELINE_POOLS {
                        self.diags.push(catalog::not_allowed(
                            p.span,
                            &Misplaced::PipelineTooManyPools { pools: pools.len(), max: ir::MAX_PIPELINE_POOLS },
                        ));
                        continue;
                    }
                    if let Some(body) = &p.pins {
                        let fields = self.check(body, &schema::PINS, p.span);
                        pinned.insert(stage, (fields, body.span));
                    }
                    placed.insert(stage, (pools, p.span));
                }
                Entry::Objective(o) => {
                    if let Some((_, first)) = &objective {
                        self.diags.push(catalog::duplicate_attribute(o.span, "minimize", *first));
                        continue;
                    }
                    let maximize = o.direction == ast::Direction::Maximize;
                    let found = ir::Objective::ALL.into_iter().find(|x| x.name() == o.metric.name && x.maximize() == maximize);
                    let Some(obj) = found else {
                        let words: Vec<&str> = ir::Objective::ALL.iter().filter(|x| x.maximize() == maximize).map(|x| x.name()).collect();
                        // an objective of the other direction: say which
                        let other = ir::Objective::ALL.into_iter().find(|x| x.name() == o.metric.name).map(|x| x.direction());
                        self.diags.push(catalog::unknown_objective(o.metric.span, &o.metric.name, maximize, &words, other));
                        continue;
                    };
                    objective = Some((obj, o.span));
                }
                _ => {}
            }
        }
        PlanStatements { placed, pinned, objective }
    }

    /// A plan's `slo` block: each SLO, mean or percentile, once.
    fn slos(&mut self, f: &Fields) -> Vec<ir::Slo> {
        let mut slos = Vec::new();
        if let Some(slo) = f.block("slo") {
            let mut seen: BTreeMap<(SloMetric, Option<ir::Percentile>), Span> = BTreeMap::new();
            for s in &slo.fields.stmts {
                let Entry::Constraint(c) = s else { continue };
                let (base, pct) = match c.metric.name.split_once('.') {
                    Some((b, p)) => (b, Some(p)),
                    None => (c.metric.name.as_str(), None),
                };
                let metric = match base {
                    "ttft" => SloMetric::Ttft,
                    "tpot" => SloMetric::Tpot,
                    "tokens_per_s_per_user" => SloMetric::TokensPerSUser,
                    other => {
                        self.diags.push(catalog::unknown_choice(
                            c.metric.span,
                            other,
                            "SLO metric",
                            &["ttft", "tpot", "tokens_per_s_per_user", "ttft.p99", "tpot.p90"],
                        ));
                        continue;
                    }
                };
                let percentile = match pct {
                    None => None,
                    Some(p) => match ir::Percentile::parse(p) {
                        Some(q) if metric != SloMetric::TokensPerSUser => Some(q),
                        found => {
                            let span =
                                Span::new(c.metric.span.file, c.metric.span.start as usize + base.len() + 1, c.metric.span.end as usize);
                            self.diags.push(if found.is_some() {
                                catalog::percentile_of_rate(span, p)
                            } else {
                                catalog::unknown_choice(span, p, "percentile", &["p50", "p90", "p95", "p99", "p999"])
                            });
                            continue;
                        }
                    },
                };
                let lower = metric == SloMetric::TokensPerSUser;
                let op_ok =
                    if lower { matches!(c.op, ast::CmpOp::Ge | ast::CmpOp::Gt) } else { matches!(c.op, ast::CmpOp::Le | ast::CmpOp::Lt) };
                if !op_ok {
                    let want = if lower { "a lower bound (`>=`)" } else { "an upper bound (`<=`)" };
                    self.diags.push(catalog::wrong_value(
                        c.span,
                        &format!("the `{}` objective", metric.name()),
                        want,
                        &format!("`{}`", c.op.as_str()),
                    ));
                    continue;
                }
                if let Some(first) = seen.get(&(metric, percentile)) {
                    self.diags.push(catalog::duplicate_attribute(c.span, &c.metric.name, *first));
                    continue;
                }
                let Value::Number(n) = &c.value else {
                    let want = if lower { "a token rate (tok/s)" } else { "a time (s)" };
                    self.diags.push(catalog::wrong_value(c.value.span(), &format!("`{}`", metric.name()), want, c.value.describe()));
                    continue;
                };
                let mut ck = Checker { sources: self.sources, diags: self.diags };
                let dim = if lower { crate::units::Dim::TOKEN_RATE } else { crate::units::Dim::TIME };
                let Some(limit) = ck.quantity(n, dim, &format!("`{}`", metric.name())) else { continue };
                if limit <= 0.0 {
                    self.diags.push(catalog::out_of_range(n.span, &format!("`{}`", metric.name()), Rule::positive()));
                    continue;
                }
                seen.insert((metric, percentile), c.span);
                slos.push(ir::Slo { metric, percentile, limit, span: c.span });
            }
        }
        slos
    }

    /// A plan's `budget` block: cost <= X $/h, chips <= N, power <= X W.
    fn budget(&mut self, f: &Fields) -> ir::Budget {
        let mut budget = ir::Budget::default();
        if let Some(bb) = f.block("budget") {
            budget.span = Some(bb.span);
            for st in &bb.fields.stmts {
                let Entry::Constraint(c) = st else { continue };
                let (dim, what) = match c.metric.name.as_str() {
                    "cost" => (crate::units::Dim::PRICE, "cost"),
                    "chips" => (crate::units::Dim::NONE, "chips"),
                    "power" => (crate::units::Dim::POWER, "power"),
                    other => {
                        self.diags.push(catalog::unknown_choice(c.metric.span, other, "budget", &["cost", "chips", "power"]));
                        continue;
                    }
                };
                if !matches!(c.op, ast::CmpOp::Le | ast::CmpOp::Lt) {
                    self.diags.push(catalog::wrong_value(
                        c.span,
                        &format!("the `{what}` budget"),
                        "an upper bound (`<=`)",
                        &format!("`{}`", c.op.as_str()),
                    ));
                    continue;
                }
                let Value::Number(n) = &c.value else {
                    self.diags.push(catalog::wrong_value(c.value.span(), &format!("`{what}`"), &dim.describe(), c.value.describe()));
                    continue;
                };
                let mut ck = Checker { sources: self.sources, diags: self.diags };
                let Some(v) = ck.quantity(n, dim, &format!("the `{what}` budget")) else { continue };
                match what {
                    "cost" => (budget.usd_per_s, budget.cost_span) = (Some(v), Some(c.span)),
                    "chips" => (budget.chips, budget.chips_span) = (Some(v.floor() as u64), Some(c.span)),
                    _ => (budget.watts, budget.power_span) = (Some(v), Some(c.span)),
                }
            }
        }
        budget
    }

    /// A plan's speculative decoding: the `speculate` block's draft (resolved before the
    /// target model, so its mistakes are said either way) checked against the target
    /// and the plan's `place draft`. `None` after a diagnostic; `Some(None)` without one.
    fn speculation(
        &mut self,
        speculation: Option<(ir::Model, Span, u64, f64, Span)>,
        has_block: bool,
        model: &ir::Model,
        model_span: Span,
        placed: &BTreeMap<Stage, (Vec<usize>, Span)>,
    ) -> Option<Option<ir::Speculation>> {
        let found = match speculation {
            Some((draft, dspan, lookahead, acceptance, span)) => {
                if draft.vocab != model.vocab {
                    self.diags.push(catalog::draft_vocabulary(dspan, &draft.name, &model.name, draft.vocab, model.vocab, model_span));
                    return None;
                }
                if !placed.contains_key(&Stage::Draft) {
                    self.diags.push(catalog::draft_unplaced(span, &draft.name));
                    return None;
                }
                if draft.variants > 1 {
                    self.diags.push(catalog::not_allowed(dspan, &Misplaced::DraftWithVariants));
                    return None;
                }
                if model.variants > 1 {
                    self.diags.push(catalog::not_allowed(span, &Misplaced::SpeculateWithVariants));
                    return None;
                }
                Some(ir::Speculation { draft, lookahead, acceptance, span })
            }
            // a `speculate` block that did not resolve has said why; the plan fails
            // with it (not with "no speculate block" at its `place draft`)
            None if has_block => return None,
            None => {
                if let Some((_, span)) = placed.get(&Stage::Draft) {
                    self.diags.push(catalog::not_allowed(*span, &Misplaced::DraftWithoutSpeculate));
                    return None;
                }
                None
            }
        };
        Some(found)
    }

    /// A plan's `time_limit` and `chunk` (prompt tokens an aggregated step carries),
    /// checked against their bounds and the workload's prompt.
    fn limits(&mut self, f: &Fields, workload: &ir::Workload, plan_span: Span) -> Option<(f64, u64)> {
        let time_limit = match f.num("time_limit") {
            Some(t) if t <= 0.0 => {
                if let Some(s) = f.span("time_limit") {
                    self.diags.push(catalog::out_of_range(s, "`time_limit`", Rule::positive()));
                }
                return None;
            }
            Some(t) if t > crate::ir::MAX_TIME_LIMIT_S => {
                if let Some(s) = f.span("time_limit") {
                    self.diags.push(catalog::out_of_range(s, "`time_limit`", Rule::at_most("a week (604800 s)")));
                }
                return None;
            }
            Some(t) => t,
            None => crate::ir::DEFAULT_TIME_LIMIT_S,
        };
        let chunk_tokens = f.count("chunk").unwrap_or(crate::ir::engine::CHUNK_TOKENS);
        if let Some(s) = f.span("chunk") {
            if chunk_tokens < crate::ir::MIN_CHUNK_TOKENS {
                self.diags.push(catalog::out_of_range(s, "`chunk`", Rule::at_least(format!("{} tokens", crate::ir::MIN_CHUNK_TOKENS))));
                return None;
            }
        }
        let chunk_steps = workload.input_tokens.div_ceil(chunk_tokens.max(1));
        if chunk_steps > crate::ir::MAX_CHUNK_STEPS {
            let at = f.span("chunk").unwrap_or(plan_span);
            self.diags.push(catalog::out_of_range(
                at,
                "`chunk`",
                Rule::at_least(format!(
                    "{} tokens, so that a {}-token prompt takes at most {} steps ({chunk_tokens} tokens take {chunk_steps})",
                    workload.input_tokens.div_ceil(crate::ir::MAX_CHUNK_STEPS),
                    workload.input_tokens,
                    crate::ir::MAX_CHUNK_STEPS,
                )),
            ));
            return None;
        }
        Some((time_limit, chunk_tokens))
    }

    /// A plan's `serving`: aggregated serving needs a pool that may take prefill and both
    /// decode stages, and no speculative decoding.
    fn serving(
        &mut self,
        f: &Fields,
        placements: &[ir::Placement],
        placed: &BTreeMap<Stage, (Vec<usize>, Span)>,
        cluster: &ir::Cluster,
        speculates: bool,
    ) -> Option<(ir::Serving, Option<Span>)> {
        let serving = f.word("serving").and_then(ir::Serving::parse).unwrap_or_default();
        let serving_span = f.span("serving");
        if let (ir::Serving::Aggregated, Some(at)) = (serving, serving_span) {
            let on = |s: Stage| placements.iter().filter(|p| p.stage == s).flat_map(|p| p.pools.iter().copied()).collect::<Vec<usize>>();
            let shared = on(Stage::Prefill).iter().any(|p| on(Stage::DecodeAttn).contains(p) && on(Stage::DecodeFfn).contains(p));
            if speculates {
                self.diags.push(catalog::not_allowed(at, &Misplaced::AggregatedWithSpeculate));
                return None;
            }
            if !shared {
                // each stage's `place` and the pools it may use
                let places: Vec<(Span, &str, Vec<&str>)> = [Stage::Prefill, Stage::DecodeAttn, Stage::DecodeFfn]
                    .into_iter()
                    .filter_map(|stage| {
                        let (pools, span) = placed.get(&stage)?;
                        Some((*span, stage.name(), pools.iter().map(|&p| cluster.pools[p].name.as_str()).collect()))
                    })
                    .collect();
                self.diags.push(catalog::aggregated_without_common_pool(at, &places));
                return None;
            }
        }
        Some((serving, serving_span))
    }

    fn plan(&mut self, id: ItemId) -> Option<ir::Plan> {
        let body = self.effective_body(id)?;
        let module = self.items[id].module;
        let item = self.items[id].item.clone();
        let f = self.check(&body, &schema::PLAN, item.name.span);

        let model = self.model_ref(module, &f, "model");
        let cluster = self.plain_ref(module, &f, "cluster", ItemKind::Cluster).and_then(|c| self.cluster(c));
        let workload = self.plain_ref(module, &f, "workload", ItemKind::Workload).and_then(|w| self.workload(w));

        // place statements, and their pins (checked once the model is known)
        let PlanStatements { placed, pinned, objective } = self.plan_statements(&f, cluster.as_ref());
        let slos = self.slos(&f);
        let budget = self.budget(&f);

        // speculate block
        let mut speculation = None;
        if let Some(sb) = f.block("speculate") {
            let draft = self.model_ref(module, &sb.fields, "draft");
            if let (Some((draft, dspan)), Some(k), Some(a)) = (draft, sb.fields.count("lookahead"), sb.fields.num("acceptance")) {
                speculation = Some((draft, dspan, k, a, sb.span));
            }
        }
        let (model, model_span) = model?;
        let speculation = self.speculation(speculation, f.block("speculate").is_some(), &model, model_span, &placed)?;
        let mut cluster = cluster?;
        let workload = workload?;
        let framework = f.word("framework").map(str::to_string);
        for pool in &mut cluster.pools {
            pool.chip = pool.chip.under(framework.as_deref());
        }
        // a figure's sweep names a chip or link of the cluster, at its figure under the framework
        let sweep = f.block("sweep").and_then(|b| self.sweep(b, &cluster));
        if f.block("sweep").is_some() && sweep.is_none() {
            return None;
        }
        if let Some(maxc) = model.max_context {
            let ctx = workload.input_tokens + workload.output_tokens;
            if ctx > maxc {
                self.diags.push(catalog::context_too_long(workload.span, maxc, ctx, model_span));
                return None;
            }
        }
        let (time_limit, chunk_tokens) = self.limits(&f, &workload, item.name.span)?;
        let mut pins: BTreeMap<Stage, ir::Pins> = BTreeMap::new();
        let mut pins_ok = true;
        for (stage, (fields, _)) in &pinned {
            let pools = placed.get(stage).map(|p| p.0.as_slice()).unwrap_or(&[]);
            let draft = speculation.as_ref().map(|s| &s.draft);
            match self.pins(*stage, fields, &model, draft, &cluster, pools) {
                Some(p) => {
                    pins.insert(*stage, p);
                }
                None => pins_ok = false,
            }
        }
        if !pins_ok {
            return None;
        }
        let mut placements: Vec<ir::Placement> = Stage::ALL
            .iter()
            .map(|s| {
                let pins = pins.remove(s).unwrap_or_default();
                match placed.get(s) {
                    Some((pools, span)) => ir::Placement { stage: *s, pools: pools.clone(), span: Some(*span), pins },
                    // a layer pipeline only where the plan asks for one
                    None if *s == Stage::DecodeLayers => ir::Placement { stage: *s, pools: Vec::new(), span: None, pins },
                    None => ir::Placement { stage: *s, pools: (0..cluster.pools.len()).collect(), span: None, pins },
                }
            })
            .collect();
        self.bound_pipeline(&cluster, &mut placements);
        let (objective, objective_span) = objective.unwrap_or((ir::Objective::CostPerMtok, item.name.span));
        if objective == ir::Objective::Goodput && slos.is_empty() {
            self.diags.push(catalog::goodput_without_slo(objective_span));
        }
        // a plan solved with the simulation in the loop searches the arrival rate
        if objective == ir::Objective::Goodput || slos.iter().any(|s| s.percentile.is_some()) {
            if let ir::ArrivalProcess::Renewal { rate: Some(_), rate_span: Some(at), .. } = &workload.traffic.arrivals {
                self.diags.push(catalog::rate_searched(*at, &item.name.name));
            }
        }
        let (serving, serving_span) = self.serving(&f, &placements, &placed, &cluster, speculation.is_some())?;
        Some(ir::Plan {
            name: item.name.name.clone(),
            span: item.name.span,
            model,
            model_span,
            cluster,
            workload,
            placements,
            slos,
            objective,
            objective_span,
            speculation,
            budget,
            time_limit,
            free_inventory: f.word("inventory") == Some("free"),
            sweep,
            framework,
            serving,
            serving_span,
            chunk_tokens,
        })
    }

    /// A layer pipeline's pools in kinds whose exact partition would hold more than
    /// [`ir::MAX_PIPELINE_STATES`] states per layer (E0305 at its `place`); the plan goes
    /// on without the pipeline.
    fn bound_pipeline(&mut self, cluster: &ir::Cluster, placements: &mut [ir::Placement]) {
        let Some(i) = placements.iter().position(|p| p.stage == Stage::DecodeLayers) else { return };
        let Some(span) = placements[i].span else { return };
        let kinds = ir::pool_kinds(cluster, placements, &placements[i].pools);
        let states = ir::pipeline_states(&kinds);
        if states > ir::MAX_PIPELINE_STATES {
            let pools = placements[i].pools.len();
            self.diags.push(catalog::not_allowed(
                span,
                &Misplaced::PipelineTooManyKinds { pools, kinds: kinds.len(), states, max: ir::MAX_PIPELINE_STATES },
            ));
            placements[i].pools.clear();
        }
    }

    /// A stage's pins, checked against the model and the pools it may use (E0410).
    fn pins(
        &mut self,
        stage: Stage,
        f: &Fields,
        model: &ir::Model,
        draft: Option<&ir::Model>,
        cluster: &ir::Cluster,
        pools: &[usize],
    ) -> Option<ir::Pins> {
        let room = PinRoom {
            largest: pools.iter().map(|&p| cluster.pools[p].count).max().unwrap_or(0),
            domain: pools.iter().map(|&p| cluster.pools[p].domain()).max().unwrap_or(0),
            linked: pools.iter().any(|&p| cluster.pools[p].link.is_some()),
        };
        let mut out = ir::Pins::default();
        let mut ok = true;
        for name in ir::Pins::NAMES {
            let (Some(v), Some(span)) = (f.count(name), f.span(name)) else { continue };
            match pin_problem(stage, name, v, model, draft, room) {
                Some(problem) => {
                    self.diags.push(catalog::pin_impossible(span, &format!("{name} = {v}"), &problem));
                    ok = false;
                }
                None => out.set(name, v, span),
            }
        }
        // data-parallel groups, pipeline stages and a prompt's context groups of `tp` chips
        // each: all in one pool
        let prefill_cp = if stage == Stage::Prefill { out.cp } else { None };
        for (name, pin) in [("dp", out.dp), ("pp", out.pp), ("cp", prefill_cp)] {
            let (Some((tp, _)), Some((n, span))) = (out.tp, pin) else { continue };
            if tp * n > room.largest {
                let largest = room.largest;
                let problem = match name {
                    "dp" | "cp" => PinProblem::TooManyGroups { dp: n, tp, largest },
                    _ => PinProblem::TooManyStageChips { pp: n, tp, largest },
                };
                self.diags.push(catalog::pin_impossible(span, &format!("{name} = {n}"), &problem));
                ok = false;
            }
        }
        // an MoE's experts are whole on each chip (`ep`) or each split over all of them
        // (`tp`), not both (docs/cost-model.md §4h)
        if let (Stage::DecodeFfn, Some((tp, span)), Some((ep, _)), true) = (stage, out.tp, out.ep, model.moe.is_some()) {
            if tp > 1 && ep > 1 {
                self.diags.push(catalog::pin_impossible(span, &format!("tp = {tp}"), &PinProblem::ExpertsBothWays { ep }));
                ok = false;
            }
        }
        // a prompt's context groups each run the whole model: no pipeline stages
        if let (Stage::Prefill, Some((cp, span)), Some((pp, _))) = (stage, out.cp, out.pp) {
            if cp > 1 && pp > 1 {
                self.diags.push(catalog::pin_impossible(span, &format!("cp = {cp}"), &PinProblem::ContextSplitStages { pp }));
                ok = false;
            }
        }
        // a context split is what `tp` leaves beyond the KV heads
        if let Some((cp, span)) = out.cp.filter(|(cp, _)| *cp > 1 && stage == Stage::DecodeAttn) {
            let problem = match out.tp {
                Some((tp, _)) if model.context_split(tp) != cp => {
                    Some(PinProblem::ContextSplit { cp, tp: Some(tp), heads: model.heads, kv_ways: model.kv_split(tp) })
                }
                _ => None,
            };
            if let Some(problem) = problem {
                self.diags.push(catalog::pin_impossible(span, &format!("cp = {cp}"), &problem));
                ok = false;
            }
        }
        ok.then_some(out)
    }

    /// A `compare` item: its plans by index into `plans` (those that resolved). A plan
    /// that failed to resolve has its own diagnostics; the comparison is then dropped.
    fn compare(&mut self, module: ModuleId, id: ItemId, plans: &[ir::Plan]) -> Option<ir::Compare> {
        let body = self.effective_body(id)?;
        let item = &self.items[id].item;
        let (name, span) = (item.name.name.clone(), item.name.span);
        let f = self.check(&body, &schema::COMPARE, span);
        let index = |r: &mut Self, path: &crate::syntax::ast::Path| -> Option<usize> {
            let pid = r.lookup(module, path, ItemKind::Plan)?;
            let pname = &r.items[pid].item.name.name;
            plans.iter().position(|p| &p.name == pname)
        };
        let baseline = match f.attrs.get("baseline").map(|x| &x.val) {
            Some(Val::Ref(p, _)) => index(self, &p.clone())?,
            _ => return None,
        };
        let listed: Vec<crate::syntax::ast::Path> = f.names("plans").map(|v| v.to_vec()).unwrap_or_default();
        let mut others = Vec::new();
        if f.names("plans").is_some() {
            for p in &listed {
                let i = index(self, p)?;
                if i == baseline {
                    self.diags.push(catalog::not_allowed(p.span, &Misplaced::BaselineInPlans));
                    return None;
                }
                others.push(i);
            }
        } else {
            others = (0..plans.len()).filter(|&i| i != baseline).collect();
        }
        let mut break_even = Vec::new();
        for b in f.blocks.iter().filter(|b| b.keyword == "break_even") {
            let mut involved = vec![baseline];
            involved.extend(others.iter().copied());
            break_even.push(self.break_even_ask(b, &involved, plans)?);
        }
        Some(ir::Compare { name, span, baseline, plans: others, interactivity: f.num("interactivity"), break_even })
    }

    /// A compare block's `break_even` block over the plans `involved` (the baseline
    /// first): its figure in each plan's cluster (an error when none has it, named from
    /// the baseline's), the plans' objectives the same, its values checked as the figure.
    fn break_even_ask(&mut self, b: &check::SubFields, involved: &[usize], plans: &[ir::Plan]) -> Option<ir::BreakEvenAsk> {
        let f = &b.fields;
        let name = f.str("figure")?;
        let at = f.span("figure").unwrap_or(b.span);
        let base = &plans[involved[0]];
        if let Some(&j) = involved.iter().find(|&&j| plans[j].objective != base.objective) {
            self.diags.push(
                catalog::not_allowed(b.span, &Misplaced::BreakEvenAcrossObjectives)
                    .label(base.span, format!("`{}` {}s {}", base.name, base.objective.direction(), base.objective.name()))
                    .label(plans[j].span, format!("`{}` {}s {}", plans[j].name, plans[j].objective.direction(), plans[j].objective.name())),
            );
            return None;
        }
        let inputs: Vec<(usize, Option<ir::uncertain::Input>)> =
            involved.iter().map(|&j| (j, swept_figure(name, at, &plans[j].cluster).ok())).collect();
        let Some(input) = inputs.iter().find_map(|(_, i)| i.clone()) else {
            // none has it: say why for the baseline's cluster
            if let Err(d) = swept_figure(name, at, &base.cluster) {
                self.diags.push(d);
            }
            return None;
        };
        let values = self.figure_values(f, name, &input, f.count("points").unwrap_or(16) as usize)?;
        let label = b.label.as_ref().map_or(String::new(), |l| l.name.clone());
        Some(ir::BreakEvenAsk { name: label, figure: name.to_string(), inputs, values, span: b.span })
    }

    /// The values of `f`'s `values = lo ..= hi` for the figure `input` (named `name`),
    /// each end checked as the figure is where it is written: `n` of them, log-spaced, or
    /// evenly spaced from a low end of 0.
    fn figure_values(&mut self, f: &Fields, name: &str, input: &ir::uncertain::Input, n: usize) -> Option<Vec<f64>> {
        let Some(check::Field { val: Val::Ends(lo, hi, range), .. }) = f.attrs.get("values") else {
            // the value had an error, already reported
            return None;
        };
        let what = format!("`values` of {name}");
        let kind = schema::figure_kind(input.figure);
        let mut ck = Checker { sources: self.sources, diags: self.diags };
        let mut end = |n: &crate::syntax::ast::Number| match ck.value(&crate::syntax::ast::Value::Number(n.clone()), kind, &what)? {
            Val::Num(x) => Some(x),
            _ => None,
        };
        let (lo, hi) = (end(lo)?, end(hi)?);
        if hi <= lo {
            self.diags.push(catalog::out_of_range(*range, &what, Rule::be("a range from a low to a higher end (low ..= high)")));
            return None;
        }
        Some(if lo > 0.0 { ir::log_spaced(lo, hi, n) } else { ir::lin_spaced(lo, hi, n) })
    }

    /// A plan's `sweep` block: exactly one variable, `step` only for concurrency, not
    /// with `points`, at most [`ir::MAX_SWEEP_POINTS`] values.
    fn sweep(&mut self, b: &check::SubFields, cluster: &ir::Cluster) -> Option<ir::Sweep> {
        let f = &b.fields;
        let vars: Vec<&str> =
            ["concurrency", "tokens_per_s_per_user", "figure"].into_iter().filter(|v| f.given.iter().any(|g| g == v)).collect();
        if vars.len() <= 1 && f.given.iter().any(|g| g == "values") != (vars == ["figure"]) {
            // `values` goes with `figure` and only with it
            let d = match vars.as_slice() {
                ["figure"] => catalog::missing_attribute(b.span, "values", "sweep block", "2 us ..= 40 us"),
                [] => catalog::missing_attribute(b.span, "figure", "sweep block", "\"lp30.layer_overhead\""),
                [var] => catalog::sweep_two_variables(f.span("values").unwrap_or(b.span), f.span(var).unwrap_or(b.span)),
                _ => unreachable!("at most one variable here"),
            };
            self.diags.push(d);
            return None;
        }
        match vars.as_slice() {
            [] => {
                self.diags.push(catalog::missing_attribute(b.span, "concurrency", "sweep block", "1 ..= 1024"));
                return None;
            }
            [_, second] => {
                let at = f.span(second).unwrap_or(b.span);
                self.diags.push(catalog::sweep_two_variables(at, f.span(vars[0]).unwrap_or(b.span)));
                return None;
            }
            _ => {}
        }
        let (step, points) = (f.count("step"), f.count("points"));
        if let (Some(_), Some(_)) = (step, points) {
            let at = f.span("points").unwrap_or(b.span);
            self.diags.push(catalog::not_allowed(at, &Misplaced::PointsWithStep));
            return None;
        }
        // counted before any value is made: a range may hold 10^12 of them
        if let Some(n) = points.filter(|&n| n as usize > ir::MAX_SWEEP_POINTS) {
            let at = f.span("points").unwrap_or(b.span);
            self.diags.push(catalog::count_too_large(at, "`points`", Rule::at_most(ir::MAX_SWEEP_POINTS), n));
            return None;
        }
        let over = if let Some((lo, hi)) = f.range("concurrency") {
            let n = step.map(|s| (hi - lo) / s.max(1) + 1).unwrap_or(0);
            if n > ir::MAX_SWEEP_POINTS as u64 {
                let at = f.span("concurrency").unwrap_or(b.span);
                self.diags.push(catalog::sweep_too_long(at, ir::MAX_SWEEP_POINTS, n));
                return None;
            }
            ir::SweepOver::Concurrency(ir::concurrency_values(lo, hi, step, points.map(|p| p as usize)))
        } else if let Some((lo, hi)) = f.num_range("tokens_per_s_per_user") {
            if let Some(s) = f.span("step") {
                self.diags.push(catalog::not_allowed(s, &Misplaced::StepOnPerUserSweep));
                return None;
            }
            ir::SweepOver::TokensPerSUser(ir::log_spaced(lo, hi, points.unwrap_or(16) as usize))
        } else if let Some(name) = f.str("figure") {
            if let Some(s) = f.span("step") {
                self.diags.push(catalog::not_allowed(s, &Misplaced::StepOnFigureSweep));
                return None;
            }
            let at = f.span("figure").unwrap_or(b.span);
            let input = match swept_figure(name, at, cluster) {
                Ok(i) => i,
                Err(d) => {
                    self.diags.push(d);
                    return None;
                }
            };
            let values = self.figure_values(f, name, &input, points.unwrap_or(16) as usize)?;
            let (low, high) = (values[0], values[values.len() - 1]);
            ir::SweepOver::Figure(ir::uncertain::Input { low, high, ..input }, values)
        } else {
            // the variable's value had an error, already reported
            return None;
        };
        Some(ir::Sweep { over, span: b.span })
    }
}

impl Resolver<'_> {
    /// The model an attribute names, with its overrides applied
    /// (`model = llama3_1_70b { weights = fp8 }`), and the attribute value's span.
    fn model_ref(&mut self, module: ModuleId, f: &Fields, attr: &str) -> Option<(ir::Model, Span)> {
        let Some(check::Field { val: Val::Ref(path, over), span, .. }) = f.attrs.get(attr) else { return None };
        let mid = self.lookup(module, path, ItemKind::Model)?;
        let Some(o) = over else { return self.model(mid).map(|m| (m, *span)) };
        // a plan's overrides make a model of its own
        let merged = merge(&self.effective_body(mid)?, o);
        let decl = self.items[mid].item.name.span;
        self.model_from(&path.last().name, &merged, decl).map(|m| (m, *span))
    }

    /// The item a plan attribute names when overrides are not allowed for it
    /// (`cluster = c`, `workload = w`); an override block is a diagnostic.
    fn plain_ref(&mut self, module: ModuleId, f: &Fields, attr: &str, kind: ItemKind) -> Option<ItemId> {
        let Some(check::Field { val: Val::Ref(path, over), .. }) = f.attrs.get(attr) else { return None };
        if let Some(o) = over {
            self.diags.push(catalog::not_allowed(o.span, &Misplaced::Override { keyword: kind.keyword() }));
        }
        self.lookup(module, path, kind)
    }
}

/// Override `base` with `over`: entries with the same key are replaced
/// (blocks merge recursively), new entries are appended.
pub fn merge(base: &Body, over: &Body) -> Body {
    let mut entries = base.entries.clone();
    for e in &over.entries {
        let key = e.key();
        match entries.iter().position(|b| b.key() == key) {
            Some(i) => {
                entries[i] = match (&entries[i], e) {
                    (Entry::Block(b), Entry::Block(o)) => {
                        let mut nb = o.clone();
                        nb.body = merge(&b.body, &o.body);
                        Entry::Block(nb)
                    }
                    _ => e.clone(),
                }
            }
            None => entries.push(e.clone()),
        }
    }
    Body { entries, span: over.span }
}

/// `p` as an absolute path with every symlink resolved; where it does not exist, its
/// nearest existing ancestor resolved and the rest (normalised: `.` dropped, `..`
/// taken off) appended, so that a path that leaves through `..` is seen to leave.
fn real_path(p: &std::path::Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    if let Ok(c) = abs.canonicalize() {
        return c;
    }
    let mut out = PathBuf::new();
    // past the first part that does not exist, parts are appended as written
    let mut missing = false;
    for part in abs.components() {
        use std::path::Component;
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => {
                out.push(other);
                if !missing {
                    match out.canonicalize() {
                        Ok(c) => out = c,
                        Err(_) => missing = true,
                    }
                }
            }
        }
    }
    out
}

fn pathdiff(p: &std::path::Path, root: Option<&std::path::Path>) -> String {
    match root.and_then(|r| p.strip_prefix(r).ok()) {
        Some(rel) => rel.to_string_lossy().into_owned(),
        None => p.to_string_lossy().into_owned(),
    }
}

/// The chips a stage's pins may use: the largest pool it may use, and whether any of
/// its pools has a scale-up link.
#[derive(Clone, Copy)]
struct PinRoom {
    largest: u64,
    /// the largest scale-up domain (a pool's chips, or a node's on a pool of nodes)
    domain: u64,
    linked: bool,
}

/// Why `stage` cannot run `v` groups of at least one chip each, joined by a pool's link
/// (a prefill pipeline's stages, a prompt's context groups): `over` above `most`, a pool
/// too small, no link; `None` when it can.
fn groups_problem(stage: Stage, v: u64, (most, over): (u64, PinProblem<'static>), room: PinRoom) -> Option<PinProblem<'static>> {
    if v > most {
        Some(over)
    } else if v > room.largest {
        Some(PinProblem::PoolTooSmall { stage: stage.name(), largest: room.largest })
    } else if v > 1 && !room.linked {
        Some(PinProblem::NoLink { stage: stage.name() })
    } else {
        None
    }
}

/// Why `stage` cannot take the pin `name = v` (the label, the help), or `None` when it can.
fn pin_problem(
    stage: Stage,
    name: &str,
    v: u64,
    model: &ir::Model,
    draft: Option<&ir::Model>,
    room: PinRoom,
) -> Option<PinProblem<'static>> {
    let applies: &'static [&'static str] = match stage {
        Stage::Prefill => &["tp", "pp", "cp", "replicas"],
        Stage::DecodeAttn => &["tp", "dp", "cp"],
        Stage::DecodeFfn if model.moe.is_some() => &["tp", "ep", "microbatches"],
        Stage::DecodeFfn => &["tp", "microbatches"],
        Stage::Draft => &["tp"],
        Stage::DecodeLayers => &["tp"],
    };
    if !applies.contains(&name) {
        let dense_ffn = (stage, name) == (Stage::DecodeFfn, "ep");
        return Some(PinProblem::NotThisStage { stage: stage.name(), takes: applies, dense_ffn });
    }
    if name == "microbatches" && !ir::MICROBATCHES.contains(&v) {
        return Some(PinProblem::Microbatches);
    }
    if name == "pp" {
        // a prefill pipeline's stages: at most the limit and the layers
        let most = ir::MAX_PREFILL_STAGES.min(model.layers);
        return groups_problem(stage, v, (most, PinProblem::TooManyStages { most, layers: model.layers }), room);
    }
    if name == "cp" && stage == Stage::Prefill {
        // a prompt split by context: at most the limit
        return groups_problem(stage, v, (ir::MAX_CONTEXT_SPLIT, PinProblem::TooManySplits { most: ir::MAX_CONTEXT_SPLIT }), room);
    }
    if name == "cp" {
        // a context split of the cache takes `cp` chips for each way its heads split it
        // (every KV head's, or the MLA latent's one), and they divide the query heads
        let ways = model.kv_split(u64::MAX);
        let chips = v.saturating_mul(ways);
        return if v <= 1 {
            None
        } else if model.heads % chips != 0 {
            Some(PinProblem::ContextSplit { cp: v, tp: None, heads: model.heads, kv_ways: ways })
        } else if chips > room.largest {
            Some(PinProblem::ContextSplitChips { cp: v, kv_ways: ways, largest: room.largest })
        } else if !room.linked {
            Some(PinProblem::NoLink { stage: stage.name() })
        } else {
            None
        };
    }
    if !matches!(name, "tp" | "dp" | "ep") {
        return None;
    }
    // tensor parallelism takes any degree that divides what it splits, expert
    // parallelism any up to the experts; the solver tries data-parallel group counts in
    // powers of two and those that fill a node or a pool (with some attention degree)
    if name == "dp" && !v.is_power_of_two() && room.domain % v != 0 && room.largest % v != 0 {
        return Some(PinProblem::NotPowerOfTwo);
    }
    if let (Stage::DecodeFfn, "ep", Some(moe)) = (stage, name, model.moe) {
        if v > moe.experts {
            return Some(PinProblem::MoreThanExperts { value: v, experts: moe.experts });
        }
    }
    // what the degree splits
    let split = match (stage, name) {
        (Stage::Prefill | Stage::DecodeAttn, "tp") => Some((model.heads, PinSplit::Heads)),
        (Stage::Draft, "tp") => draft.map(|d| (d.heads, PinSplit::DraftHeads)),
        // an MoE's `tp` splits every expert by width (and the dense layers')
        (Stage::DecodeFfn, "tp") => match model.moe {
            Some(moe) if moe.expert_intermediate % v != 0 => Some((moe.expert_intermediate, PinSplit::ExpertWidth)),
            Some(moe) if moe.dense_layers == 0 => None,
            _ => Some((model.intermediate, PinSplit::Intermediate)),
        },
        // experts over any number of chips up to theirs (redundant slots where it does not
        // divide them), checked above
        (Stage::DecodeFfn, "ep") if model.moe.is_some() => None,
        (Stage::DecodeFfn, "ep") => Some((model.ffn_split_dim(), PinSplit::Experts)),
        // a pipeline stage's group splits the heads and the FFN (its width, or its experts)
        (Stage::DecodeLayers, "tp") if model.heads % v != 0 => Some((model.heads, PinSplit::Heads)),
        (Stage::DecodeLayers, "tp") if model.moe.is_some() => Some((model.ffn_split_dim(), PinSplit::Experts)),
        (Stage::DecodeLayers, "tp") => Some((model.ffn_split_dim(), PinSplit::Intermediate)),
        _ => None,
    };
    if let Some((dim, what)) = split.filter(|(dim, _)| dim % v != 0) {
        return Some(PinProblem::NotDividing { value: v, dim, what });
    }
    if v > room.largest {
        return Some(PinProblem::PoolTooSmall { stage: stage.name(), largest: room.largest });
    }
    if v > 1 && !room.linked {
        return Some(PinProblem::NoLink { stage: stage.name() });
    }
    // a tensor-parallel group inside a node; an FFN's degree may span nodes beside
    // data-parallel attention (its expert or tensor group over the groups' chips)
    if name == "tp" && stage != Stage::DecodeFfn && v > room.domain {
        return Some(PinProblem::BeyondNode { stage: stage.name(), node: room.domain });
    }
    None
}

/// The figure a sweep's `figure = "ITEM.FIGURE"` names (`at`: the string) on a chip or
/// link of `cluster`, with its nominal value there (`low` and `high` are the caller's).
fn swept_figure(name: &str, at: Span, cluster: &ir::Cluster) -> Result<ir::uncertain::Input, crate::diagnostics::Diagnostic> {
    use ir::uncertain::{Figure, Input};
    let chips: Vec<&ir::Chip> = cluster.pools.iter().map(|p| &p.chip).collect();
    let links: Vec<&ir::Link> = cluster
        .pools
        .iter()
        .flat_map(|p| p.link.iter().chain(p.scale_out.as_ref().map(|s| &s.link)))
        .chain(cluster.links.iter().map(|l| &l.link))
        .collect();
    let (item, figure) = name.split_once('.').unwrap_or((name, ""));
    let chip = chips.iter().find(|c| c.name == item);
    let link = links.iter().find(|l| l.name == item);
    if chip.is_none() && link.is_none() {
        let mut known: Vec<&str> = chips.iter().map(|c| c.name.as_str()).chain(links.iter().map(|l| l.name.as_str())).collect();
        known.sort_unstable();
        known.dedup();
        return Err(catalog::unknown_swept_figure(at, item, None, &cluster.name, &known));
    }
    // the figures this item has: a chip's (a compute peak of a precision it has, a
    // tier it has), or a link's
    let mut figures: Vec<Figure> = Vec::new();
    if let Some(c) = chip {
        for f in Figure::ALL.into_iter().filter(|f| !f.of_link()) {
            match f {
                Figure::Compute(p) if !c.compute.contains_key(&p) => {}
                Figure::TierBandwidth(_) => figures.extend((0..c.memory.len()).map(Figure::TierBandwidth)),
                f => figures.push(f),
            }
        }
    } else {
        figures.extend(Figure::ALL.into_iter().filter(|f| f.of_link()));
    }
    let Some(&f) = figures.iter().find(|f| f.name() == figure) else {
        let names: Vec<String> = figures.iter().map(|f| format!("{item}.{}", f.name())).collect();
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        return Err(catalog::unknown_swept_figure(at, item, Some(figure), &cluster.name, &known));
    };
    let nominal = match (chip, link) {
        (Some(c), _) => ir::uncertain::chip_value(c, f),
        (_, Some(l)) => ir::uncertain::link_value(l, f),
        (None, None) => unreachable!("the item is a chip or a link: checked above"),
    };
    Ok(Input { item: item.to_string(), figure: f, nominal, low: nominal, high: nominal, span: at })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves `text` as a file in memory: the program, the sources, the root file.
    fn resolved(text: &str) -> (ir::Program, SourceMap, FileId, Diagnostics) {
        let mut sources = SourceMap::new();
        let root = sources.add(Origin::Memory("t.hplan".into()), "t.hplan", text.to_string());
        let mut diags = Diagnostics::new();
        let program = resolve(root, &mut sources, &mut diags);
        (program, sources, root, diags)
    }

    #[test]
    fn every_name_resolves_to_its_declaration_in_the_index() {
        let text = "use std::links::nvlink5\nuse std::models::llama3_1_8b\n\n\
            chip b200 = std::chips::b200 { price = 3 $/h }\n\n\
            workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\n\
            cluster c {\n  pool gpu = b200 x 8 over nvlink5\n  pool cpu = b200 x 1 over nvlink5\n  link gpu <-> cpu over nvlink5\n}\n\n\
            plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place decode.attn on gpu\n}\n";
        let (program, sources, root, diags) = resolved(text);
        assert!(!diags.has_errors(), "{diags:?}");
        let names = &program.names;
        // (the n-th occurrence of a word, the file its declaration is in, its kind)
        let decl_of = |word: &str, nth: usize| {
            let at = text.match_indices(word).nth(nth).unwrap().0 + 1;
            let n = names.at(root, at).unwrap_or_else(|| panic!("`{word}` #{nth} is not in the index"));
            let f = sources.get(n.decl.file);
            (f.text[n.decl.range()].to_string(), n.decl.file == root, n.decl.start as usize, n.kind)
        };
        let local = |word: &str| text.find(&format!("{word} ")).unwrap();
        // the local chip, not the stdlib's `b200` it extends (whose path is the stdlib's)
        let chip = decl_of("b200", 2);
        assert_eq!(chip, ("b200".into(), true, local("chip b200") + 5, ir::NameKind::Item(ItemKind::Chip)));
        let base = decl_of("b200", 1);
        assert!(!base.1 && base.0 == "b200", "`std::chips::b200` is the stdlib's: {base:?}");
        // a stdlib link, named by an import, two pools and a link statement
        for nth in 0..4 {
            let (name, here, _, kind) = decl_of("nvlink5", nth);
            assert_eq!((name.as_str(), here, kind), ("nvlink5", false, ir::NameKind::Item(ItemKind::Link)));
        }
        // pools: the link's sides and the plan's `place`
        let gpu = text.find("pool gpu").unwrap() + 5;
        for nth in 1..3 {
            assert_eq!(decl_of("gpu", nth), ("gpu".into(), true, gpu, ir::NameKind::Pool), "gpu #{nth}");
        }
        assert_eq!(decl_of("cpu", 1).2, text.find("pool cpu").unwrap() + 5);
        // the plan's references
        let decl_at = |at: usize| names.at(root, at).map(|n| n.decl.start as usize);
        assert_eq!(decl_at(text.find("= c\n").unwrap() + 2), Some(text.find("cluster c").unwrap() + 8));
        assert_eq!(decl_at(text.find("= w\n").unwrap() + 2), Some(text.find("workload w").unwrap() + 9));
        // a declaration is its own entry, with the whole item
        let d = names.declaration(names.at(root, text.find("cluster c").unwrap() + 8).unwrap().decl).unwrap();
        assert!(sources.get(root).text[d.item.range()].starts_with("cluster c {") && sources.get(root).text[d.item.range()].ends_with('}'));
        // nothing else is a name: a number, a keyword
        assert!(names.at(root, text.find("1k").unwrap()).is_none());
        assert!(names.at(root, text.find("place").unwrap() + 1).is_none());
    }
}
