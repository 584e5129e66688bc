//! The real binary: exit codes, outputs, files written (or not), determinism.

use std::path::Path;
use std::process::{Command, Output};

fn hplanc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hplanc")).args(args).current_dir(crate::root()).env("NO_COLOR", "1").output().expect("the binary runs")
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hplanc-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn build_writes_the_report_and_prints_the_summary() {
    let out = tempdir("build");
    let o = hplanc(&["build", "examples/rubin_lpx_afd.hplan", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    for needle in ["plan afd", "decode.attn", "TTFT", "TPOT", "tokens/s/user", "$/Mtok", "memory per chip"] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("afd/report.json")).unwrap()).unwrap();
    assert_eq!(report["plans"][0]["name"], "afd");
    // report.md is the summary as Markdown; frontier.csv has one row per frontier point
    let md = std::fs::read_to_string(out.join("afd/report.md")).unwrap();
    assert!(md.starts_with("# plan afd: optimal") && md.contains("| stage | pool |"), "{md}");
    let csv = std::fs::read_to_string(out.join("afd/frontier.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], hplanc::report::csv::HEADER);
    assert_eq!(lines.len() - 1, report["plans"][0]["frontier"].as_array().unwrap().len());
    assert!(
        lines[1..].iter().all(|l| l.starts_with("afd,") && l.split(',').count() == hplanc::report::csv::HEADER.split(',').count()),
        "{csv}"
    );
    // the trace and the chart, per plan and for every plan together
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("afd/trace.json")).unwrap()).unwrap();
    assert!(trace["traceEvents"].as_array().is_some_and(|e| !e.is_empty()));
    for svg in ["afd/frontier.svg", "frontier.svg"] {
        assert!(std::fs::read_to_string(out.join(svg)).unwrap().starts_with("<svg "), "{svg}");
    }
    assert_eq!(std::fs::read_to_string(out.join("frontier.csv")).unwrap(), csv);
    assert!(stdout.contains("critical path"), "the text Gantt is in the summary:\n{stdout}");
    // report.html, per plan and for the whole file
    for (html, title) in [("afd/report.html", "hplanc: plan afd ("), ("report.html", "hplanc: examples/rubin_lpx_afd.hplan")] {
        let page = std::fs::read_to_string(out.join(html)).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains(&format!("<title>{title}")), "{html}");
        assert!(page.contains(r#"<section class="plan" id="plan-0""#) && page.ends_with("</html>\n"), "{html}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn report_html_is_byte_identical_across_runs() {
    let (a, b) = (tempdir("html-a"), tempdir("html-b"));
    for out in [&a, &b] {
        let o = hplanc(&["build", "examples/s03_rubin_lpx_frontier.hplan", "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let pages = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = written(d)
            .into_iter()
            .filter(|(name, _)| name.ends_with("report.html"))
            .map(|(name, _)| (name.clone(), std::fs::read(d.join(&name)).unwrap()))
            .collect();
        v.sort();
        v
    };
    let (pa, pb) = (pages(&a), pages(&b));
    assert_eq!(pa.len(), 4, "three plans and the whole file");
    assert!(pa == pb, "report.html differs between two builds of the same file");
    let _ = (std::fs::remove_dir_all(&a), std::fs::remove_dir_all(&b));
}

/// Waits up to 20 s for `f` to hold.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn build_watch_rebuilds_on_a_save_of_the_file_or_an_import_and_recovers_from_errors() {
    let dir = tempdir("watch");
    std::fs::create_dir_all(&dir).unwrap();
    let chips = "use std::chips::b200\n\nchip mine = b200 {\n  price = 3 $/h\n}\n";
    let plan = "use \"chips.hplan\"\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\n\
        workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\n\
        cluster c {\n  pool gpu = mine x 8 over nvlink5\n}\n\n\
        plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n}\n";
    std::fs::write(dir.join("chips.hplan"), chips).unwrap();
    std::fs::write(dir.join("plan.hplan"), plan).unwrap();
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hplanc"))
        .args(["build", "--watch", "plan.hplan", "--out", "out", "--color", "never"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_default();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually("the first build", || read("p/report.json").contains("\"cost_per_hour_usd\": 3.0,"));
        // the whole file's page and its stamp come last
        eventually("the whole file's page", || {
            read("report.html").contains("data-watch=") && read("watch.js").starts_with("hplancWatch(\"")
        });
        let stamp = read("watch.js");
        // a save of the imported file re-builds: the price changes the report
        std::fs::write(dir.join("chips.hplan"), chips.replace("3 $/h", "4 $/h")).unwrap();
        eventually("the import's change", || read("p/report.json").contains("\"cost_per_hour_usd\": 4.0,"));
        eventually("the pages to be told of the new build", || read("watch.js") != stamp);
        // a save that stops parsing: the pages show the diagnostics, the reports stay
        std::fs::write(dir.join("plan.hplan"), format!("{plan}\nplan broken {{\n")).unwrap();
        eventually("the error page", || read("report.html").contains("did not build"));
        eventually("the plan's page to show the errors too", || read("p/report.html").contains("has-errors"));
        assert!(read("p/report.json").contains("\"cost_per_hour_usd\": 4.0,"), "a failed build replaced a report");
        // the next good save recovers
        std::fs::write(dir.join("plan.hplan"), plan).unwrap();
        eventually("the recovery", || !read("report.html").contains("did not build") && read("report.html").contains("id=\"plan-0\""));
    }));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Every file `hplanc sweep` writes, with the solve time (the one timing) blanked.
fn written(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let t = std::fs::read_to_string(&p).unwrap();
                let t: String = t.lines().map(|l| if l.contains("\"solve_s\"") { "[solve_s]" } else { l }).collect::<Vec<_>>().join("\n");
                out.push((p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), t));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sweep_output_is_the_same_for_any_thread_count() {
    let (a, b) = (tempdir("sweep1"), tempdir("sweep3"));
    let file = "examples/s03_rubin_lpx_frontier.hplan";
    let one = hplanc(&["sweep", file, "--jobs", "1", "--points", "12", "--out", a.to_str().unwrap()]);
    let three = hplanc(&["sweep", file, "--jobs", "3", "--points", "12", "--out", b.to_str().unwrap()]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert_eq!(three.status.code(), Some(0), "{}", text(&three.stderr));
    assert_eq!(text(&one.stdout).replace(a.to_str().unwrap(), "OUT"), text(&three.stdout).replace(b.to_str().unwrap(), "OUT"));
    let (fa, fb) = (written(&a), written(&b));
    assert!(
        fa.iter().any(|(n, _)| n == "frontier.svg") && fa.iter().any(|(n, _)| n == "compare.md"),
        "{:?}",
        fa.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(fa, fb);
    // the sweep prints the frontiers and the comparison, not the full summaries
    let stdout = text(&one.stdout);
    assert!(stdout.contains("frontier: a sweep of") && stdout.contains("compare generations"), "{stdout}");
    assert!(!stdout.contains("memory per chip"), "{stdout}");
    // no progress bar when stderr is not a terminal
    assert!(!text(&one.stderr).contains("sweeping"), "{}", text(&one.stderr));
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn json_report_follows_the_contract() {
    let out = tempdir("json");
    let o = hplanc(&["build", "examples/llama70b_h100.hplan", "--format", "json", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert!(v["hplanc"].is_string());
    let p = &v["plans"][0];
    assert_eq!(p["status"], "optimal");
    assert_eq!(p["objective"]["kind"], "cost_per_mtok");
    assert!(p["objective"]["value"].as_f64().unwrap() > 0.0);
    assert_eq!(p["model"]["params"], 70_553_706_496u64);
    assert_eq!(p["model"]["kv_bytes_per_token"], 327_680.0);
    for k in ["name", "params", "active_params", "weight_bytes", "kv_bytes_per_token"] {
        assert!(!p["model"][k].is_null(), "model.{k}");
    }
    for k in ["input_tokens", "output_tokens", "concurrency"] {
        assert!(p["workload"][k].is_u64(), "workload.{k}");
    }
    for row in p["placement"].as_array().unwrap() {
        for k in ["stage", "pool", "chip", "chips", "tp", "ep", "pp", "microbatches"] {
            assert!(!row[k].is_null(), "placement.{k}");
        }
    }
    let m = &p["metrics"];
    for k in [
        "ttft_s",
        "tpot_s",
        "tokens_per_s_per_user",
        "throughput_tokens_per_s",
        "throughput_per_chip",
        "chips",
        "cost_per_hour_usd",
        "cost_per_mtok_usd",
        "power_w",
        "tokens_per_s_per_mw",
    ] {
        assert!(m[k].is_number(), "metrics.{k}");
    }
    // SI units: TPOT in seconds, and throughput consistent with it.
    let tpot = m["tpot_s"].as_f64().unwrap();
    assert!(tpot > 1e-4 && tpot < 1.0);
    let c = p["workload"]["concurrency"].as_f64().unwrap();
    assert!((m["throughput_tokens_per_s"].as_f64().unwrap() - c / tpot).abs() < 1e-6 * c / tpot);
    // $/Mtok = $/h / 3600 / tokens/s * 1e6
    let per_mtok = m["cost_per_hour_usd"].as_f64().unwrap() / 3600.0 / m["throughput_tokens_per_s"].as_f64().unwrap() * 1e6;
    assert!((per_mtok - m["cost_per_mtok_usd"].as_f64().unwrap()).abs() < 1e-9 * per_mtok);
    for row in p["memory"].as_array().unwrap() {
        assert!(row["used_bytes"].as_f64().unwrap() <= row["capacity_bytes"].as_f64().unwrap());
    }
    for k in ["attn", "ffn", "comm", "other"] {
        assert!(p["breakdown"]["decode_step_s"][k].is_number(), "breakdown.{k}");
    }
    for k in ["backend", "variables", "constraints", "solve_s"] {
        assert!(!p["solver"][k].is_null(), "solver.{k}");
    }
    assert!(!p["frontier"].as_array().unwrap().is_empty());
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 0);
    // report.json is the same document as stdout
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("h100_only/report.json")).unwrap()).unwrap();
    let strip = |mut v: serde_json::Value| {
        v["plans"][0]["solver"]["solve_s"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(file), strip(v));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn impossible_slo_exits_1_at_the_slo_line() {
    let o = hplanc(&["check", "--solve", "tests/ui/slo_relaxation.hplan"]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(e.contains("E0402") && e.contains("slo_relaxation.hplan:28:9"), "{e}");
    assert!(e.contains("160 gpu<->lpu crossings") && e.contains("link `spectrum_x`"), "{e}");
    // the second plan: the budget and an SLO both give
    assert!(e.contains("E0406") && e.contains("slo_relaxation.hplan:43:12"), "{e}");
}

#[test]
fn bandwidth_given_as_a_size_exits_1_with_a_dimension_error() {
    let o = hplanc(&["check", "tests/ui/bandwidth_as_size.hplan", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "E0202");
    assert_eq!(d["severity"], "error");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(7), Some(17)));
    assert!(d["help"].as_str().unwrap().contains("80 GB/s"));
}

#[test]
fn misspelled_chip_gets_a_did_you_mean() {
    let o = hplanc(&["check", "tests/ui/misspelled_chip.hplan"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("did you mean `h100_sxm`?"));
}

#[test]
fn errors_write_nothing() {
    let out = tempdir("errors");
    let o = hplanc(&["build", "tests/ui/impossible_slo.hplan", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists(), "an output folder was created despite errors");
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(hplanc(&["build", "no/such/file.hplan"]).status.code(), Some(2));
    assert_eq!(hplanc(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(hplanc(&["check"]).status.code(), Some(2));
    assert_eq!(hplanc(&["explain", "E9999"]).status.code(), Some(2));
}

#[test]
fn explain_prints_the_long_explanation() {
    let o = hplanc(&["explain", "E0202"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("E0202: dimension mismatch"));
}

#[test]
fn output_is_deterministic() {
    let a = hplanc(&["build", "examples/rubin_lpx_afd.hplan", "--out", tempdir("det-a").to_str().unwrap()]);
    let b = hplanc(&["build", "examples/rubin_lpx_afd.hplan", "--out", tempdir("det-a").to_str().unwrap()]);
    assert_eq!(a.stdout, b.stdout);
    let _ = std::fs::remove_dir_all(tempdir("det-a"));
}

#[test]
fn check_solves_only_when_asked() {
    let o = hplanc(&["check", "tests/ui/impossible_slo.hplan"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = hplanc(&["build", "tests/ui/impossible_slo.hplan", "--out", tempdir("solve").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn warnings_pass_unless_denied() {
    let o = hplanc(&["check", "tests/ui/unused_import.hplan"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("W0101"));
    assert_eq!(hplanc(&["check", "-W", "tests/ui/unused_import.hplan"]).status.code(), Some(1));
    let out = tempdir("deny");
    let o = hplanc(&["build", "--deny-warnings", "tests/ui/unused_import.hplan", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
}

#[test]
fn binary_input_is_an_io_error_not_a_panic() {
    let dir = tempdir("binary");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.hplan");
    std::fs::write(&f, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let o = hplanc(&["check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(Path::new(&f).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fmt_checks_writes_and_refuses_broken_files() {
    let dir = tempdir("fmt");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("a.hplan");
    std::fs::write(&f, "link l{source=\"x\"\nbandwidth=1GB/s\n latency = 2us}\n").unwrap();
    let o = hplanc(&["fmt", "--check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("would reformat"));
    assert_eq!(hplanc(&["fmt", f.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "link l { source = \"x\"\n  bandwidth = 1 GB/s\n  latency   = 2 us }\n");
    assert_eq!(hplanc(&["fmt", "--check", f.to_str().unwrap()]).status.code(), Some(0));
    let broken = dir.join("b.hplan");
    std::fs::write(&broken, "chip x {\n  capacity = \n}\n").unwrap();
    let o = hplanc(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("E0001"));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "chip x {\n  capacity = \n}\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hplanc"))
        .args(["build", "examples/llama70b_h100.hplan", "--out", tempdir("pipe").to_str().unwrap()])
        .current_dir(crate::root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `| head` exiting early
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"));
    let _ = std::fs::remove_dir_all(tempdir("pipe"));
}

#[test]
fn a_solve_stopped_by_the_time_limit_still_reports_a_checked_placement() {
    let dir = tempdir("time-limit");
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::fs::read_to_string(crate::root().join("tests/ui/time_limit.hplan")).unwrap();
    // only the `hurried` plan (the other one is an error)
    let hurried = &src[..src.find("plan frozen").unwrap()];
    let file = dir.join("hurried.hplan");
    std::fs::write(&file, hurried).unwrap();
    let out = dir.join("out");
    let o = hplanc(&["build", file.to_str().unwrap(), "--format", "json", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "a warning does not fail the build: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["plans"][0];
    assert_eq!(p["status"], "feasible");
    assert_eq!(p["solver"]["status"], "time_limit");
    assert_eq!(p["solver"]["proven_optimal"], false);
    assert!(p["solver"]["gap"].is_null(), "no bound was proven");
    assert_eq!(p["solver"]["time_limit_s"].as_f64(), Some(1e-9));
    assert!(p["metrics"]["tpot_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["diagnostics"][0]["code"], "W0401");
    let _ = std::fs::remove_dir_all(&dir);
}

/// On a terminal a sweep longer than half a second shows a progress bar on stderr
/// (a pseudo-terminal from util-linux's `script`, one thread so it runs long enough);
/// the bar is cleared at the end and stdout is unchanged. `script`'s stdin stays open
/// until the sweep ends: at end of input `script` may stop copying the terminal's
/// output before the command has written it, which lost the bar now and then.
#[test]
fn sweep_progress_bar_on_a_terminal() {
    let out = tempdir("progress");
    std::fs::create_dir_all(&out).unwrap();
    // the benchmark's three plans at every concurrency 1..=256 (768 points: seconds on
    // one thread, well past the bar's half second, since attention groups beside the
    // LPX FFN multiplied each point's options)
    let src = std::fs::read_to_string(crate::root().join("benches/plans/sweep_3x512.hplan")).unwrap();
    let plan = out.join("sweep.hplan");
    std::fs::write(&plan, src.replace("concurrency = 2 ..= 1024, step = 2", "concurrency = 1 ..= 256, step = 1")).unwrap();
    let bin = env!("CARGO_BIN_EXE_hplanc");
    let cmd = format!("{bin} sweep {} --jobs 1 --out {} > /dev/null", plan.display(), out.join("out").display());
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(crate::root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    let stdin = child.stdin.take();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut b).map(|_| b)
    });
    let status = child.wait().unwrap();
    drop(stdin);
    let mut stderr = Vec::new();
    std::io::Read::read_to_end(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{}", text(&stderr));
    let tty = text(&reader.join().unwrap().unwrap());
    assert!(tty.contains("sweeping [") && tty.contains("/768 points"), "no progress bar in {tty:?}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn validate_evaluates_rows_and_counts_those_it_cannot() {
    // two measured rows, one unknown model, one non-numeric TPOT
    let o = hplanc(&["validate", "tests/data/deployments_sample.csv", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    let all = &v["overall"];
    assert_eq!(all["rows"], 4);
    assert_eq!(all["evaluated"], 2);
    assert_eq!(all["not_evaluated"]["unknown model `acme/Unknown-7B` (add it with --map)"], 1);
    assert_eq!(all["not_evaluated"]["`silicon_tpot_ms` is `fast`, not a number >= 0"], 1);
    // Llama-3.1-8B on one H100, TensorRT-LLM, 8 users, 1024 in / 128 out: measured TPOT
    // 7.94 ms; the pinned plan's prediction is within a factor 1.5 of it
    let g = v["groups"].as_array().unwrap().iter().find(|g| g["model"] == "meta-llama/Llama-3.1-8B-Instruct").unwrap();
    let r = g["tpot"]["median_ratio"].as_f64().unwrap();
    assert!((0.67..1.5).contains(&r), "{r}");
    // the same data as CSV and Markdown: one line per group, the overall first
    let o = hplanc(&["validate", "tests/data/deployments_sample.csv", "--format", "csv"]);
    let csv = text(&o.stdout);
    assert!(csv.lines().nth(1).unwrap().starts_with("all,all,all,all,4,2,"), "{csv}");
    let o = hplanc(&["validate", "tests/data/deployments_sample.csv", "--format", "markdown"]);
    assert!(text(&o.stdout).starts_with("# Validation against measured deployments"));
    // one line per row, in file order, with the reason a row was not evaluated
    let o = hplanc(&["validate", "tests/data/deployments_sample.csv", "--format", "rows"]);
    let rows = text(&o.stdout);
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 5, "{rows}");
    assert!(lines[0].starts_with("line,id,model,system,framework,mode,isl,osl,concurrency,tp,dp,moe_gpus,pred_ttft_ms,meas_ttft_ms"));
    assert!(lines[1].starts_with("4,meta_llama_llama_3_1_8b_instruct_"), "{rows}");
    assert!(lines.iter().any(|l| l.ends_with("unknown model `acme/Unknown-7B` (add it with --map)")), "{rows}");
    // the measured TPOT of the first row (7.9436 ms) is carried through
    assert!(lines[1].contains(",7.9436,"), "{rows}");
    // a file without the columns is a usage error, not a crash
    let o = hplanc(&["validate", "Cargo.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("has no `id` column"), "{}", text(&o.stderr));
    // an extra mapping names the unknown model
    let map = tempdir("map");
    std::fs::create_dir_all(&map).unwrap();
    std::fs::write(map.join("map.csv"), "model,acme/Unknown-7B,llama3_1_8b\n").unwrap();
    let o = hplanc(&["validate", "tests/data/deployments_sample.csv", "--format", "json", "--map", map.join("map.csv").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(v["overall"]["evaluated"], 3);
    std::fs::write(map.join("bad.csv"), "chip,x\n").unwrap();
    let o = hplanc(&["validate", "tests/data/deployments_sample.csv", "--map", map.join("bad.csv").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("line 1: expected"), "{}", text(&o.stderr));
}

/// A plan on a chip with measured op tables: the report gives, per stage, the time the
/// tables priced, the summary says it, and a lookup beyond the measured range is W0402
/// and `extrapolated` (tests/ui/op_table_extrapolated.hplan: 120k-token prompts). A plan
/// on plain chips reports none and says nothing of tables.
#[test]
fn build_reports_the_table_share_and_warns_on_extrapolation() {
    let out = tempdir("tables");
    let o = hplanc(&["build", "tests/ui/op_table_extrapolated.hplan", "--format", "json", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "W0402");
    let b = &v["plans"][0]["breakdown"];
    let s = &b["decode_step_s"];
    let layers = s["attn"].as_f64().unwrap() + s["ffn"].as_f64().unwrap() + s["other"].as_f64().unwrap();
    let tabled = s["from_tables"].as_f64().unwrap();
    // every GEMM and attention kernel of Llama-3.1-8B on H100 is in the table; only the
    // embedding lookup stays on the roofline
    assert!(tabled > 0.95 * layers && tabled <= layers * (1.0 + 1e-12), "{tabled} of {layers}");
    let (pre, pre_tab) = (b["prefill_s"].as_f64().unwrap(), b["prefill_from_tables_s"].as_f64().unwrap());
    assert!(pre_tab > 0.9 * pre && pre_tab <= pre, "{pre_tab} of {pre}");
    assert_eq!(b["extrapolated"], true);
    let o = hplanc(&["build", "tests/ui/op_table_extrapolated.hplan", "--out", out.to_str().unwrap()]);
    let stdout = text(&o.stdout);
    assert!(stdout.contains("measured op tables: 100% of the decode step's layers, 100% of the prefill"), "{stdout}");
    assert!(stdout.contains("outside the measured range"), "{stdout}");
    // plain chips: no table time, no line, no warning
    let o = hplanc(&["build", "examples/llama70b_h100.hplan", "--format", "json", "--out", out.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(v["plans"][0]["breakdown"]["decode_step_s"]["from_tables"], 0.0);
    assert_eq!(v["plans"][0]["breakdown"]["extrapolated"], false);
    assert!(v["diagnostics"].as_array().unwrap().iter().all(|d| d["code"] != "W0402"));
    let o = hplanc(&["build", "examples/llama70b_h100.hplan", "--out", out.to_str().unwrap()]);
    assert!(!text(&o.stdout).contains("measured op tables"));
}

/// `hplanc calibrate`: fits the H100's TensorRT-LLM fixed costs to the sample rows,
/// prints the fit and the calibrated chip, writes it whole with --out, and names the
/// mapped chips when asked for one no system maps to.
#[test]
fn calibrate_fits_a_chip_and_writes_it() {
    let o = hplanc(&["calibrate", "tests/data/deployments_sample.csv", "--chip", "h100_sxm_measured"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let fit = stdout.lines().find(|l| l.starts_with("trtllm")).unwrap_or_else(|| panic!("{stdout}"));
    // one Llama-3.1-8B row on H100 is evaluated (the others: B200, an unknown model, a
    // bad TPOT); two costs fit one row exactly
    assert_eq!(fit.split_whitespace().nth(1), Some("1"), "{fit}");
    assert!(fit.contains("-> 0%"), "{fit}");
    assert!(
        stdout.contains("chip h100_sxm_measured_calibrated = h100_sxm_measured {") && stdout.contains("framework trtllm {"),
        "{stdout}"
    );
    let out = tempdir("calibrate");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("h100_calibrated.hplan");
    let o = hplanc(&["calibrate", "tests/data/deployments_sample.csv", "--chip", "h100_sxm_measured", "--out", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(stdout.ends_with(&format!("{}\n", written.trim_end())), "the file is the text printed without --out");
    let o = hplanc(&["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    let o = hplanc(&["calibrate", "tests/data/deployments_sample.csv", "--chip", "wse3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no system maps to the chip `wse3`"), "{}", text(&o.stderr));
}

/// Runs the binary in `dir`, killing it after 10 s: a read that never ends fails the
/// test instead of hanging the suite.
#[cfg(unix)]
fn hplanc_within(dir: &Path, args: &[&str]) -> Output {
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hplanc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("hplanc {args:?} ran for over 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Issue 15, item 1: a `.hplan` that is a symlink to /dev/zero or a FIFO, as the root
/// file, an import or a file in a folder given to `fmt`, is refused before it is read
/// (it used to be read until memory ran out, or to block forever).
#[cfg(unix)]
#[test]
fn files_that_never_end_are_refused_before_reading() {
    let dir = tempdir("never-ending");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.hplan")).unwrap();
    let fifo = Command::new("mkfifo").arg(dir.join("fifo.hplan")).status().expect("mkfifo runs");
    assert!(fifo.success());
    std::fs::write(dir.join("imports_zero.hplan"), "use \"./zero.hplan\"\n").unwrap();
    std::fs::write(dir.join("imports_fifo.hplan"), "use \"./fifo.hplan\"\n").unwrap();
    for root in ["zero.hplan", "fifo.hplan"] {
        for cmd in ["check", "build"] {
            let out = hplanc_within(&dir, &[cmd, root]);
            assert_eq!(out.status.code(), Some(2), "{cmd} {root}: {}", text(&out.stderr));
            assert!(text(&out.stderr).contains(&format!("cannot read `{root}`: not a regular file")), "{}", text(&out.stderr));
        }
    }
    // the link to /dev/zero leads out of the project, so it is refused before anything
    // looks at the file; the FIFO is inside, and not a regular file
    for (importer, why) in [("imports_zero.hplan", "leaves the project folder"), ("imports_fifo.hplan", "not a regular file")] {
        let out = hplanc_within(&dir, &["check", importer]);
        assert_eq!(out.status.code(), Some(1), "{importer}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("E0107") && text(&out.stderr).contains(why), "{}", text(&out.stderr));
    }
    let out = hplanc_within(&dir, &["fmt", "--check", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not a regular file"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A regular file over 8 MiB is refused by its size, not read and then measured.
#[test]
fn a_file_over_the_limit_is_refused() {
    let dir = tempdir("too-big");
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.hplan");
    std::fs::write(&big, vec![b'/'; hplanc::source::MAX_FILE_BYTES + 1]).unwrap();
    let out = hplanc(&["check", big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("larger than 8 MiB"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15, item 8: counts on the command line outside their range are usage errors
/// (exit 2, naming the range), not silently clamped: `--points 0` used to sweep one
/// point, `graph --batch 0` to draw batch 1.
#[test]
fn command_line_counts_outside_their_range_exit_2() {
    for (args, range) in [
        (&["sweep", "examples/llama70b_h100.hplan", "--points", "0"][..], "1..=4096"),
        (&["sweep", "examples/llama70b_h100.hplan", "--points", "4097"][..], "1..=4096"),
        (&["graph", "examples/llama70b_h100.hplan", "--batch", "0"][..], "1..=1000000"),
        (&["build", "examples/llama70b_h100.hplan", "--jobs", "1025"][..], "0..=1024"),
    ] {
        let out = hplanc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(&format!("is not in {range}")), "{args:?}: {}", text(&out.stderr));
    }
}

/// Issue 15, item 2: no file outside the root file's folder is read through `use`,
/// however the root is named (a bare name used to make the folder the empty path,
/// which every path starts with): not `../`, not an absolute path, not a link that
/// leads out; a link named `*.hplan` to another kind of file is not read (its lines
/// are never quoted), and a link loop says so. A real import inside still works.
#[cfg(unix)]
#[test]
fn imports_never_leave_the_root_files_folder() {
    let top = tempdir("confined");
    let proj = top.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    let chip = "chip far {\n  compute { bf16 = 1 TFLOP/s }\n}\n";
    std::fs::write(top.join("outside.hplan"), chip).unwrap();
    std::fs::write(top.join("secret.txt"), "SECRET-TOKEN = 42\nSECRET-TOKEN-2 = 43\n").unwrap();
    std::fs::write(proj.join("notes.txt"), "NOTES-LINE = 1\n").unwrap();
    std::fs::write(proj.join("inside.hplan"), chip.replace("far", "near")).unwrap();
    std::os::unix::fs::symlink("../outside.hplan", proj.join("link_out.hplan")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", proj.join("secret.hplan")).unwrap();
    std::os::unix::fs::symlink("notes.txt", proj.join("notes.hplan")).unwrap();
    std::os::unix::fs::symlink("loop.hplan", proj.join("loop.hplan")).unwrap();
    let abs = top.join("outside.hplan");
    let main = format!(
        "use \"../outside.hplan\"\nuse \"{}\"\nuse \"link_out.hplan\"\nuse \"secret.hplan\"\nuse \"notes.hplan\"\nuse \"loop.hplan\"\nuse \"inside.hplan\"\n",
        abs.display()
    );
    std::fs::write(proj.join("main.hplan"), main).unwrap();
    let absolute = proj.join("main.hplan");
    for root in ["main.hplan", "./main.hplan", "../proj/main.hplan", absolute.to_str().unwrap()] {
        let out = hplanc_within(&proj, &["check", root, "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "{root}: {}", text(&out.stderr));
        let all = text(&out.stdout) + &text(&out.stderr);
        assert!(!all.contains("SECRET") && !all.contains("NOTES-LINE"), "{root}: {all}");
        let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON diagnostics");
        let mut got: Vec<(u64, String)> = v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "E0107")
            .map(|d| (d["line"].as_u64().unwrap(), d["message"].as_str().unwrap().to_string()))
            .collect();
        got.sort();
        let why = |m: &str| m.split(": ").last().unwrap().to_string();
        let reasons: Vec<(u64, String)> = got.iter().map(|(l, m)| (*l, why(m))).collect();
        assert_eq!(
            reasons,
            [
                (1, "the path leaves the project folder".to_string()),
                (2, "the path leaves the project folder".to_string()),
                (3, "the path leaves the project folder".to_string()),
                (4, "the path leaves the project folder".to_string()),
                (5, "it links to a file that is not a .hplan file".to_string()),
                (6, "it is a symbolic link that leads to no file (a loop, or a missing target)".to_string()),
            ],
            "{root}: {all}"
        );
    }
    let _ = std::fs::remove_dir_all(&top);
}

/// Runs `hplanc args` in `dir` as hostile input must run: under 1 GiB of address space
/// (`ulimit -v`), ending within 10 s, its output written to files (a pipe left unread
/// would stall it). Returns the exit code, stdout and stderr.
#[cfg(unix)]
fn bounded(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    use std::time::{Duration, Instant};
    let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_hplanc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("sh runs");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("hplanc {args:?} ran for over 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (status.code(), read(&out), read(&err))
}

/// Issue 15, item 4: inputs that used to take time or memory quadratic in their size
/// end quickly and within bounds: a chain of 10,000 `extends` (models and chips; 105 s
/// before) is one E0108 where it passes 64; 8,000 diagnostics on one 95 KB line render
/// at most 100 (30 s and 1.26 GB before), with the rest counted.
#[cfg(unix)]
#[test]
fn quadratic_inputs_end_quickly_and_small() {
    let dir = tempdir("quadratic");
    std::fs::create_dir_all(&dir).unwrap();
    for case in quadratic_corpus() {
        std::fs::write(dir.join(case.name), &case.text).unwrap();
    }
    for (file, item) in [("models.hplan", "m65"), ("chips.hplan", "c65")] {
        for args in [vec!["check", file], vec!["build", file, "--out", "out"]] {
            let (code, _, err) = bounded(&dir, &args);
            let cmd = args[0];
            assert_eq!(code, Some(1), "{cmd} {file}: {err}");
            assert_eq!(err.matches("[E0108]").count(), 1, "{err}");
            assert!(err.contains(&format!("`{item}` extends a chain of more than 64 items")) && err.contains("1 error emitted"), "{err}");
        }
    }
    let line = std::fs::read_to_string(dir.join("many.hplan")).unwrap();
    let (code, _, err) = bounded(&dir, &["check", "many.hplan"]);
    assert_eq!(code, Some(1));
    // each rendering prints the whole line: rendering stops once 4 MiB are written
    let shown = err.matches("[E0").count();
    assert!(shown >= 1 && shown <= (4 << 20) / line.len() + 1, "{shown} rendered");
    assert!(
        err.contains(&format!("... and {} more diagnostics not shown", 8004 - shown)) && err.ends_with("8004 errors emitted\n"),
        "{}",
        &err[err.len() - 300..]
    );
    let (code, out, _) = bounded(&dir, &["check", "many.hplan", "--format", "json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 8004, "JSON lists them all");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15, item 8: a file without plans (empty, or chips alone) builds nothing: exit 0,
/// no output folder, and it says so (it used to write empty charts claiming "no plan
/// declares chip prices").
#[test]
fn a_file_without_plans_writes_nothing() {
    let dir = tempdir("no-plans");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("empty.hplan"), "").unwrap();
    std::fs::write(dir.join("chips.hplan"), "use std::chips::h100_sxm\nchip mine = h100_sxm { price = 2 $/h }\n").unwrap();
    for file in ["empty.hplan", "chips.hplan"] {
        let out = hplanc_within(&dir, &["build", file, "--out", "out"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("no plan to build (the file declares none); nothing written"), "{}", text(&out.stderr));
        assert!(!dir.join("out").exists(), "{file} wrote outputs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15, the hostile-input corpus: inputs of each class the issue names, built by
/// the real binary under 1 GiB of address space and 10 s; each ends with its exit code
/// and diagnostic, and no output (stdout, stderr, any file written) holds a non-finite
/// number. `check`, `fmt` and `graph --placed` end within the same bounds on each.
/// Chips at both ends of every physical range still build.
#[cfg(unix)]
#[test]
fn hostile_inputs_end_within_bounds_and_print_finite_numbers() {
    let dir = tempdir("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = hostile_corpus();
    for Hostile { name, text, exit: want, needle } in cases {
        std::fs::write(dir.join(name), text).unwrap();
        let out = format!("out-{name}");
        let (code, stdout, stderr) = bounded(&dir, &["build", name, "--out", &out]);
        assert_eq!(code, Some(want), "{name}: {stderr}");
        assert!(stderr.contains(needle), "{name}: {stderr}");
        let mut texts = vec![(name.to_string(), stdout), (name.to_string(), stderr)];
        let mut stack = vec![dir.join(&out)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    texts.push((e.path().display().to_string(), std::fs::read_to_string(e.path()).unwrap()));
                }
            }
        }
        assert_eq!(want == 0, texts.len() > 2, "{name}: files are written exactly when the build succeeds");
        // every other command that reads the file ends within the same bounds, with no panic
        for args in [vec!["check", name], vec!["fmt", "--check", name], vec!["graph", name, "--plan", "cost", "--placed"]] {
            let (code, stdout, stderr) = bounded(&dir, &args);
            assert!(matches!(code, Some(0..=2)) && !stderr.contains("panicked"), "{args:?}: {code:?} {stderr}");
            texts.push((format!("{args:?}"), stdout + &stderr));
        }
        for (what, t) in texts {
            let bad = t.split(|c: char| !c.is_ascii_alphanumeric()).find(|w| *w == "inf" || *w == "NaN");
            assert!(bad.is_none(), "{what}: a non-finite number\n{t}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One input of the hostile corpus (issue 15): a file, the exit code `build` ends with,
/// and what its diagnostics say.
pub struct Hostile {
    pub name: &'static str,
    pub text: String,
    pub exit: i32,
    /// a phrase of the expected diagnostic ("" when the file builds)
    pub needle: &'static str,
}

/// The hostile corpus's magnitude and count classes (issue 15, items 3 and 6): chips at
/// both ends of every physical range (they build), and values outside them, a draft
/// `lookahead` of 10^7 and 10^12, a model of 10^7 layers (each one diagnostic). Also
/// read by the language server's test.
pub fn hostile_corpus() -> Vec<Hostile> {
    let chip = |bf16: &str, bw: &str, power: &str, price: &str| {
        format!(
            "use std::links::nvlink4\nuse std::models::llama3_2_1b\n\
             chip edge {{\n  source = \"x\"\n  compute {{ bf16 = {bf16} }}\n  memory hbm {{\n    capacity  = 80 GB\n    bandwidth = {bw}\n  }}\n  \
             power = {power}\n  price = {price}\n  efficiency {{\n    compute = 0.5\n    memory = 0.5\n    source = \"x\"\n  }}\n}}\n\
             workload w {{\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 64\n}}\n\
             cluster c {{\n  pool gpu = edge x 8 over nvlink4\n}}\n\
             plan cost {{\n  model = llama3_2_1b\n  cluster = c\n  workload = w\n}}\n\
             plan mw {{\n  model = llama3_2_1b\n  cluster = c\n  workload = w\n  maximize tokens_per_mw\n}}\n"
        )
    };
    let spec = "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::{llama3_1_8b, llama3_2_1b}\n\
                workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 8\n}\n\
                cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4\n  pool d = h100_sxm x 1\n  link gpu <-> d over nvlink4\n}\n\
                plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place draft on d\n  \
                speculate {\n    draft = llama3_2_1b\n    lookahead = LOOKAHEAD\n    acceptance = 0.7\n  }\n}\n";
    vec![
        ("low.hplan", chip("0.001 TFLOP/s", "0.001 GB/s", "0.001 W", "0.000001 $/h"), 0, ""),
        ("high.hplan", chip("1e9 TFLOP/s", "1e9 GB/s", "1e9 W", "1e6 $/h"), 0, ""),
        ("free.hplan", chip("989 TFLOP/s", "3.35 TB/s", "700 W", "0 $/h"), 0, ""),
        ("feeble.hplan", chip("1e-6 TFLOP/s", "3.35 TB/s", "700 W", "2 $/h"), 1, "`bf16` must be between"),
        ("narrow.hplan", chip("989 TFLOP/s", "1e-308 TB/s", "700 W", "2 $/h"), 1, "`bandwidth` must be between"),
        ("powerless.hplan", chip("989 TFLOP/s", "3.35 TB/s", "0 W", "2 $/h"), 1, "`power` must be between"),
        ("lookahead.hplan", spec.replace("LOOKAHEAD", "1e7"), 1, "`lookahead` must be at most 64"),
        ("lookahead_huge.hplan", spec.replace("LOOKAHEAD", "1e12"), 1, "`lookahead` must be at most 64"),
        (
            "layers.hplan",
            spec.replace("LOOKAHEAD", "4").replace("model = llama3_1_8b", "model = llama3_1_8b { layers = 1e7 }"),
            1,
            "`layers` must be at most 1024",
        ),
    ]
    .into_iter()
    .map(|(name, text, exit, needle)| Hostile { name, text, exit, needle })
    .collect()
}

/// The corpus's quadratic class (issue 15, item 4): chains of 10,000 `extends` (models
/// and chips) and 8,000 unknown attributes on one line. Also read by the language
/// server's test.
pub fn quadratic_corpus() -> Vec<Hostile> {
    let mut models = String::from("use std::models::llama3_1_8b\nmodel m1 = llama3_1_8b {}\n");
    let mut chips = String::from("use std::chips::h100_sxm\nchip c1 = h100_sxm {}\n");
    for i in 2..=10_000 {
        models.push_str(&format!("model m{i} = m{} {{}}\n", i - 1));
        chips.push_str(&format!("chip c{i} = c{} {{}}\n", i - 1));
    }
    let line = (0..8000).map(|i| format!("zz{i} = 1")).collect::<Vec<_>>().join(", ");
    vec![
        Hostile { name: "models.hplan", text: models, exit: 1, needle: "`m65` extends a chain of more than 64 items" },
        Hostile { name: "chips.hplan", text: chips, exit: 1, needle: "`c65` extends a chain of more than 64 items" },
        Hostile { name: "many.hplan", text: format!("chip c {{ {line} }}\n"), exit: 1, needle: "unsupported attribute `zz0` in chip" },
    ]
}

/// Issue 18: a sweep point where the solver failed is reported as a failure with its
/// reason (report.json's `sweep.failed`, and a line in the summary), not counted among
/// the infeasible values.
#[test]
fn a_failed_sweep_point_is_reported_with_its_reason() {
    let path = crate::root().join("examples/llama70b_h100.hplan");
    let text = std::fs::read_to_string(&path).unwrap();
    let opts = hplanc::BuildOptions { sweep_points: Some(3), ..Default::default() };
    let mut comp = hplanc::compile_with("llama70b_h100.hplan", &text, Some(&path), hplanc::Mode::Build, &opts);
    let solved = comp.solved[0].as_mut().expect("solved");
    let (_, points) = solved.sweep.as_mut().expect("a sweep of 3 points");
    points[1].point = None;
    points[1].failed = Some("the backend gave up".into());
    let value = points[1].value;
    let feasible = points.iter().filter(|p| p.point.is_some()).count();
    let r = comp.plan_report(0);
    let sweep = r.sweep.as_ref().unwrap();
    assert_eq!((sweep.values, sweep.feasible, sweep.infeasible.len()), (3, feasible, 2 - feasible));
    assert!(!sweep.infeasible.contains(&value), "{:?}", sweep.infeasible);
    assert_eq!(sweep.failed, [hplanc::report::SweepFailure { value, reason: "the backend gave up".into() }]);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["sweep"]["failed"][0]["reason"], "the backend gave up");
    let text = hplanc::report::human::render(&r);
    assert!(text.contains(&format!("the placement solver failed at concurrency {}: the backend gave up", value as u64)), "{text}");
}

/// docs/validation.md is what its one command writes from the data kept in the
/// repository: a cost-model change that moves the validation table fails here until
/// the table is regenerated (and the note quotes it).
#[test]
fn the_validation_table_is_current() {
    let out = hplanc(&["validate", "docs/reference/measured/deployments.csv", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want = std::fs::read_to_string(crate::root().join("docs/validation.md")).unwrap();
    assert!(
        text(&out.stdout) == want,
        "docs/validation.md is stale: run `cargo run --release -- validate docs/reference/measured/deployments.csv --format markdown > docs/validation.md`"
    );
}

#[test]
fn simulate_prints_percentiles_and_writes_its_files_the_same_for_a_seed() {
    let dir = tempdir("simulate");
    std::fs::create_dir_all(&dir).unwrap();
    let (csv, counters, plot) = (dir.join("requests.csv"), dir.join("counters.json"), dir.join("counters.svg"));
    let args = |seed: &str| {
        vec![
            "simulate".to_string(),
            "examples/llama70b_h100.hplan".into(),
            "--rate".into(),
            "3".into(),
            "--input".into(),
            "lognormal:2048:0.5".into(),
            "--output".into(),
            "uniform:128:896".into(),
            "--requests".into(),
            "800".into(),
            "--seed".into(),
            seed.into(),
            "--csv".into(),
            csv.to_string_lossy().into_owned(),
            "--counters".into(),
            counters.to_string_lossy().into_owned(),
            "--plot".into(),
            plot.to_string_lossy().into_owned(),
        ]
    };
    let run = |seed: &str| {
        let a = args(seed);
        let o = hplanc(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        (text(&o.stdout), std::fs::read_to_string(&csv).unwrap(), std::fs::read_to_string(&counters).unwrap())
    };
    let first = run("5");
    for needle in ["800 requests", "Poisson arrivals at 3 req/s", "p99", "TTFT", "TPOT", "E2E", "model's mean", "goodput", "TTFT <= 2.00 s"]
    {
        assert!(first.0.contains(needle), "missing {needle:?} in\n{}", first.0);
    }
    let lines: Vec<&str> = first.1.lines().collect();
    assert_eq!(lines.len(), 801);
    assert!(lines[0].starts_with("request,arrival_s,input_tokens,output_tokens"));
    let trace: serde_json::Value = serde_json::from_str(&first.2).unwrap();
    assert!(trace["traceEvents"].as_array().unwrap().iter().any(|e| e["ph"] == "C" && e["name"] == "requests"));
    // the chart: well-formed SVG with one polyline per counter, as many points as samples
    let svg = std::fs::read_to_string(&plot).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the chart is well-formed XML");
    let series: Vec<_> = doc.descendants().filter(|n| n.attribute("class") == Some("series")).collect();
    let names: Vec<&str> = series.iter().filter_map(|n| n.attribute("data-name")).collect();
    assert_eq!(names, ["waiting", "running", "reserved"]);
    let samples = trace["traceEvents"].as_array().unwrap().iter().filter(|e| e["name"] == "requests").count();
    assert!(series.iter().all(|n| n.attribute("points").unwrap().split(' ').count() == samples));
    assert_eq!(run("5"), first, "the same seed gives the same bytes");
    assert_ne!(run("6").1, first.1);
    // JSON: the summary's fields
    let o = hplanc(&["simulate", "examples/llama70b_h100.hplan", "--requests", "200", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(j["plan"], "h100_only");
    assert_eq!(j["requests"], 200);
    for f in ["mean", "p50", "p90", "p99", "max"] {
        assert!(j["ttft_s"][f].as_f64().is_some() && j["tpot_s"][f].as_f64().is_some() && j["e2e_s"][f].as_f64().is_some(), "{f}");
    }
    assert!(j["goodput_requests_per_s"].as_f64().unwrap() > 0.0);
    assert!(j["analytical"]["tpot_s"].as_f64().unwrap() > 0.0);
    assert!(j.get("prefix_cache").is_none(), "no prefix reuse, no cache figures");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulate_draws_the_workloads_own_arrivals_unless_told() {
    let file = "tests/data/simulate/arrivals.hplan";
    let json = |args: &[&str]| {
        let o = hplanc(&[&["simulate", file, "--format", "json"], args].concat());
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        serde_json::from_str::<serde_json::Value>(&text(&o.stdout)).unwrap()
    };
    // the workload's trace, as recorded, with the workload's seed
    let j = json(&["--plan", "replayed"]);
    assert_eq!(j["arrivals"], "the workload's trace `bursts.csv`");
    assert_eq!((j["requests"].as_u64(), j["seed"].as_u64()), (Some(600), Some(3)));
    assert_eq!(json(&["--plan", "replayed", "--seed", "8"])["seed"], 8);
    // `--rate` draws gaps of the workload's burstiness
    let j = json(&["--plan", "gamma", "--rate", "2", "--requests", "300"]);
    assert_eq!(j["arrivals"], "gamma arrivals (burstiness 0.25) at 2 req/s");
    // no rate or trace: a closed loop at the solved batch
    let j = json(&["--plan", "smooth", "--requests", "300"]);
    assert!(j["arrivals"].as_str().unwrap().starts_with("a closed loop of"), "{}", j["arrivals"]);
    // a plan searched over rates says which arrivals it searched with
    let out = tempdir("arrivals-build");
    let o = hplanc(&["build", file, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let human = text(&o.stdout);
    for needle in [
        "served (simulated, Poisson arrivals)",
        "served (simulated, gamma arrivals, burstiness 0.25)",
        "served (simulated, the trace `bursts.csv`, its times scaled)",
    ] {
        assert!(human.contains(needle), "missing {needle:?}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("replayed/report.json")).unwrap()).unwrap();
    assert_eq!(report["plans"][0]["served"]["arrivals"], "the trace `bursts.csv`, its times scaled");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn prefix_reuse_shows_in_the_report_and_the_simulation() {
    let file = "tests/data/simulate/prefix.hplan";
    let o = hplanc(&["simulate", file, "--requests", "400", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    let c = &j["prefix_cache"];
    // four prefixes: each first request misses, every later one hits
    let hits = c["hit_rate"].as_f64().unwrap();
    assert!(hits > 0.97 && hits < 1.0, "{c}");
    assert_eq!(c["model_hit_rate"], 1.0);
    assert_eq!(c["evictions"], 0);
    assert_eq!(c["cached_tokens"].as_u64().unwrap() % 3000, 0);
    let human = text(&hplanc(&["simulate", file, "--requests", "400"]).stdout);
    assert!(human.contains("prefix cache: ") && human.contains("% of requests found their prefix cached"), "{human}");
    // the build's report says what the analytical model took
    let out = tempdir("prefix-build");
    let o = hplanc(&["build", file, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("each prompt begins with one of 4 prefixes of 3,000 tokens, cached for 100% of requests"));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("p/report.json")).unwrap()).unwrap();
    let p = &report["plans"][0]["workload"]["prefix"];
    assert_eq!((p["tokens"].as_u64(), p["distinct"].as_u64(), p["hit_rate"].as_f64()), (Some(3000), Some(4), Some(1.0)));
    let md = std::fs::read_to_string(out.join("p/report.md")).unwrap();
    assert!(md.contains("1000 of 4000 tokens, its prefix cached"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn simulate_refuses_bad_input_with_a_reason() {
    let dir = tempdir("simulate-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("bad.csv");
    std::fs::write(&trace, "0,100,10\n0.5,abc,10\n").unwrap();
    let plan = "examples/llama70b_h100.hplan";
    // (arguments, exit code, what stderr says)
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["--trace", trace.to_str().unwrap()], 1, "`abc` is not a number"),
        (vec!["--trace", "no/such/trace.csv"], 2, "cannot read the trace"),
        (vec!["--rate=-2"], 1, "must be a positive number"),
        (vec!["--rate", "0"], 1, "must be a positive number"),
        (vec!["--rate", "3", "--concurrency", "4"], 2, "cannot be used with"),
        (vec!["--input", "lognormal:2048:-1"], 2, "sigma of 0 to 3"),
        (vec!["--input", "normal:1:2"], 2, "lognormal:MEAN:SIGMA"),
        (vec!["--output", "0"], 2, "1 to 1048576"),
        (vec!["--requests", "1000001"], 2, "1000001"),
        (vec!["--plan", "nope"], 2, "no plan `nope`"),
        // its prefill is a pipeline of two H100s (the BF16 model fills one), which holds
        // no 128k-token prompt
        (vec!["--input", "1000000", "--max-batch", "1"], 1, "a 128000-token prompt does not fit the prefill chips (2 x h100_sxm)"),
    ];
    // an aggregated plan (Rubin alone, scenario 11) decodes on the chips that prefill: a
    // million-token request needs more cache than one GPU holds
    let aggregated: Vec<(Vec<&str>, i32, &str)> = vec![(
        vec!["examples/s11_rubin_cpx_prefill.hplan", "--plan", "gpu_prefill", "--input", "1000000", "--max-batch", "1"],
        1,
        "needs more KV cache",
    )];
    for (extra, code, needle) in cases.into_iter().map(|(e, c, n)| ([vec![plan], e].concat(), c, n)).chain(aggregated) {
        let mut args = vec!["simulate"];
        args.extend(extra.iter().copied());
        let o = hplanc(&args);
        assert_eq!(o.status.code(), Some(code), "{extra:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(needle), "{extra:?}: missing {needle:?} in\n{}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "{extra:?} printed a result");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_percentile_plan_reports_its_served_rate_in_every_output() {
    let out = tempdir("served");
    let o = hplanc(&["build", "examples/mlperf_llama2_70b_server.hplan", "--format", "json", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["plans"][0];
    assert_eq!(p["objective"]["kind"], "goodput");
    let s = &p["served"];
    let rate = s["rate_requests_per_s"].as_f64().unwrap();
    assert_eq!(p["objective"]["value"].as_f64(), Some(rate));
    for k in ["tokens_per_s", "tokens_per_s_per_chip", "goodput_requests_per_s", "good_share"] {
        assert!(s[k].as_f64().is_some(), "served.{k}");
    }
    for d in ["ttft_s", "tpot_s", "e2e_s"] {
        for f in ["mean", "p50", "p90", "p99", "max"] {
            assert!(s[d][f].as_f64().is_some(), "served.{d}.{f}");
        }
    }
    let slos = s["slos"].as_array().unwrap();
    assert_eq!(slos.iter().map(|c| c["slo"].as_str().unwrap()).collect::<Vec<_>>(), ["ttft.p99", "tpot.p99"]);
    assert!(slos.iter().all(|c| c["simulated"].as_f64().unwrap() <= c["limit"].as_f64().unwrap()));
    assert!(s["candidates"].as_array().unwrap().iter().any(|c| c["rate_requests_per_s"].as_f64() == Some(rate)));
    // the Markdown report and the trace carry it too
    let md = std::fs::read_to_string(out.join("server/report.md")).unwrap();
    assert!(md.contains("served (simulated, Poisson arrivals)") && md.contains("| TTFT |"), "{md}");
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("server/trace.json")).unwrap()).unwrap();
    let counters = trace["traceEvents"].as_array().unwrap().iter().filter(|e| e["ph"] == "C" && e["pid"] == 3).count();
    assert!(counters > 100, "the served simulation's counters: {counters}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn fix_makes_the_edits_diagnostics_offer_and_nothing_else() {
    let dir = tempdir("fix");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plan.hplan");
    // four slips with one close match each (a chip, an attribute, a unit, a precision),
    // and a mistake with no edit to offer (zero chips)
    let src = "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_8b\n\n\
        link fast {\n  source = \"x\"\n  bandwith = 900 GB/s\n  latency = 2 nss\n}\n\n\
        model m = llama3_1_8b {\n  weights = bf61\n}\n\n\
        cluster c {\n  pool a = h100sxm x 8 over nvlink4\n  pool b = h100_sxm x 0 over fast\n}\n";
    std::fs::write(&file, src).unwrap();
    let path = file.to_str().unwrap();
    // --check lists the edits, changes nothing, and fails
    let o = hplanc(&["fix", path, "--check", "--color", "never"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let listed = text(&o.stdout);
    for edit in [
        "would write `bandwidth` for `bandwith`",
        "would write `ns` for `nss`",
        "would write `bf16` for `bf61`",
        "would write `h100_sxm` for `h100sxm`",
    ] {
        assert!(listed.contains(edit), "missing {edit:?} in\n{listed}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), src);
    // fix makes exactly those edits; the zero chips remain an error
    let o = hplanc(&["fix", path, "--color", "never"]);
    assert_eq!(o.status.code(), Some(1), "an error is left");
    assert!(text(&o.stdout).contains("4 edits made; 1 diagnostic left"), "{}", text(&o.stdout));
    assert!(text(&o.stderr).contains("E0203"), "{}", text(&o.stderr));
    let want = src.replace("bandwith", "bandwidth").replace("2 nss", "2 ns").replace("bf61", "bf16").replace("h100sxm", "h100_sxm");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    // nothing left to fix: the file is not touched again
    let o = hplanc(&["fix", path, "--check"]);
    assert_eq!(o.status.code(), Some(0));
    // check --format json carries the edit
    std::fs::write(&file, src).unwrap();
    let o = hplanc(&["check", path, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let diags = v["diagnostics"].as_array().unwrap();
    let chip = diags.iter().find(|d| d["code"] == "E0101").unwrap();
    assert_eq!(chip["fix"]["replacement"], "h100_sxm");
    let (s, e) = (chip["fix"]["span"]["start"].as_u64().unwrap() as usize, chip["fix"]["span"]["end"].as_u64().unwrap() as usize);
    assert_eq!(&src[s..e], "h100sxm");
    assert!(diags.iter().find(|d| d["code"] == "E0203").unwrap().get("fix").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
