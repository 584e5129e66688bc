// report.html in a real browser: Debian's Chromium, headless, driven by playwright-core.
//
//   node --test tests/browser/            (after `npm ci` in tests/browser)
//
// Needs the release binary (target/release/hplanc, or HPLANC) and /usr/bin/chromium
// (or CHROMIUM). Writes its builds under target/browser/ and a screenshot per example
// there (target/browser/screenshots/), which CI keeps.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const hplanc = process.env.HPLANC || path.join(root, "target/release/hplanc");
const work = path.join(root, "target/browser");
const shots = path.join(work, "screenshots");
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(shots, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"],
  });
});
after(async () => { await browser?.close(); });

function build(example) {
  const out = path.join(work, path.basename(example, ".hplan"));
  execFileSync(hplanc, ["build", path.join(root, "examples", example), "--out", out, "--color", "never"], { stdio: "pipe" });
  return out;
}

/** A page with every console error and uncaught exception collected. */
async function open(file, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
  await page.goto(pathToFileURL(file).href);
  return { page, context, errors };
}

for (const example of ["s03_rubin_lpx_frontier.hplan", "rubin_lpx_afd.hplan"]) {
  test(`${example}: loads clean, hover, toggle, zoom, no-JS, phone`, async () => {
    const out = build(example);
    const file = path.join(out, "report.html");
    const size = fs.statSync(file).size;
    console.log(`${example}: report.html ${size} bytes`);
    assert.ok(size < 500_000, `report.html is ${size} bytes`);
    const { page, context, errors } = await open(file, { viewport: { width: 1280, height: 900 } });
    const data = JSON.parse(await page.locator("#hplanc-data").textContent());

    // hovering a frontier point shows its plan, concurrency and placement
    const pt = page.locator("#frontier .pt").first();
    const s = +(await pt.getAttribute("data-s")), i = +(await pt.getAttribute("data-i"));
    const p = data.plans[s].frontier[i];
    await pt.hover({ force: true });
    const tip = page.locator("#tip");
    await tip.waitFor({ state: "visible" });
    const said = await tip.textContent();
    assert.ok(said.includes(`${data.plans[s].name} at concurrency ${p.concurrency}`), said);
    assert.ok(said.includes(p.placement), `the tip shows the placement: ${said}`);

    // clicking pins it; clicking again unpins
    await pt.click({ force: true });
    assert.equal(await page.locator("#pinned li").count(), 1);
    assert.ok((await page.locator("#pinned li").textContent()).includes(p.placement));
    await pt.click({ force: true });
    assert.equal(await page.locator("#pinned li").count(), 0);

    // toggling a series hides its points and line, and showing it again restores them
    const series = page.locator(`#frontier .series[data-s="${s}"]`).first();
    assert.ok(await series.isVisible());
    await page.locator(`#frontier input[data-s="${s}"]`).uncheck();
    assert.equal(await series.isVisible(), false);
    assert.equal(await page.locator(`#frontier .series[data-s="${s}"] .pt`).first().isVisible(), false);
    await page.locator(`#frontier input[data-s="${s}"]`).check();
    assert.ok(await series.isVisible());

    // one panel at a time: the per-dollar panel fills the chart
    await page.locator('#frontier button[data-panel="1"]').click();
    const vb = await page.locator("#frontier svg").first().getAttribute("viewBox");
    assert.notEqual(vb, "0 0 1500 500");
    await page.locator('#frontier button[data-panel="all"]').click();
    assert.equal(await page.locator("#frontier svg").first().getAttribute("viewBox"), "0 0 1500 500");

    // the timeline zooms: "+" halves the visible span and doubles an operation's width
    const fig = page.locator("figure.timeline").first();
    const span = +(await fig.locator("svg.tl").getAttribute("data-span"));
    const op = fig.locator(".op").first();
    const w0 = +(await op.getAttribute("width"));
    await fig.locator('button[data-zoom="in"]').click();
    const [a, b] = (await fig.getAttribute("data-view")).split(" ").map(Number);
    assert.ok(Math.abs((b - a) - span / 2) < span * 1e-9, `zoomed to ${a}..${b} of ${span}`);
    const w1 = +(await op.getAttribute("width"));
    assert.ok(w0 <= 0.5 || Math.abs(w1 - 2 * w0) < 0.02, `width ${w0} -> ${w1}`);
    // the wheel zooms too, and reset restores the whole step
    const box = await fig.locator("svg.tl").boundingBox();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await page.mouse.wheel(0, -200);
    const [c, d] = (await fig.getAttribute("data-view")).split(" ").map(Number);
    assert.ok(d - c < b - a, "the wheel zoomed in");
    await fig.locator('button[data-zoom="reset"]').click();
    assert.equal(await fig.getAttribute("data-view"), `0 ${span}`);

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, `${path.basename(example, ".hplan")}.png`), fullPage: false });
    assert.deepEqual(errors, []);
    await context.close();

    // without JavaScript: the placement table is there and the controls are not
    const nojs = await open(file, { javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    const table = nojs.page.locator("section.plan table").first();
    assert.ok(await table.isVisible());
    assert.ok((await table.locator("thead").textContent()).includes("stage"));
    assert.equal(await nojs.page.locator("#frontier .controls").isVisible(), false);
    assert.ok(await nojs.page.locator("#frontier svg").first().isVisible());
    await nojs.context.close();

    // on a phone, and in the dark theme: nothing wider than the screen but the tables'
    // own scrolling boxes
    const phone = await open(file, { viewport: { width: 390, height: 844 }, colorScheme: "dark" });
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
    const bg = await phone.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(13, 17, 23)");
    // a phone starts with one panel (the per-chip one), readable at its width
    assert.equal(await phone.page.locator('#frontier button[data-panel="0"]').getAttribute("aria-pressed"), "true");
    await phone.page.screenshot({ path: path.join(shots, `${path.basename(example, ".hplan")}-phone-dark.png`) });
    assert.deepEqual(phone.errors, []);
    await phone.context.close();
  });
}

test("every example's report.html opens with no console error", async () => {
  const examples = fs.readdirSync(path.join(root, "examples")).filter((f) => f.endsWith(".hplan")).sort();
  let opened = 0;
  for (const example of examples) {
    const out = path.join(work, "all", path.basename(example, ".hplan"));
    try {
      execFileSync(hplanc, ["build", path.join(root, "examples", example), "--out", out, "--color", "never"], { stdio: "pipe" });
    } catch (e) {
      // an example that fails by design (s05b) writes nothing
      assert.equal(fs.existsSync(path.join(out, "report.html")), false);
      continue;
    }
    const file = path.join(out, "report.html");
    const size = fs.statSync(file).size;
    console.log(`${example}: report.html ${size} bytes`);
    assert.ok(size < 500_000, `${example}: ${size} bytes`);
    const { page, context, errors } = await open(file);
    assert.ok(await page.locator("section.plan").first().isVisible(), example);
    assert.deepEqual(errors, [], example);
    await context.close();
    opened++;
  }
  assert.ok(opened >= 15, `opened ${opened}`);
});

test("build --watch: the open page reloads on a save, shows a parse error, recovers", async () => {
  const dir = path.join(work, "watch");
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, "plan.hplan");
  const good = fs.readFileSync(path.join(root, "examples/rubin_lpx_afd.hplan"), "utf8");
  fs.writeFileSync(src, good);
  const out = path.join(dir, "out");
  const child = spawn(hplanc, ["build", "--watch", src, "--out", out, "--color", "never"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  try {
    const file = path.join(out, "report.html");
    for (let t = 0; !fs.existsSync(file) && t < 200; t++) await new Promise((r) => setTimeout(r, 50));
    const { page, context, errors } = await open(file);
    assert.equal(await page.locator("#diagnostics").count(), 0);
    // a save that stops parsing: the page reloads and shows the error with its line
    let loaded = page.waitForEvent("load", { timeout: 10_000 });
    fs.writeFileSync(src, good + "\nplan broken {\n");
    await loaded;
    await page.locator("#diagnostics.has-errors").waitFor({ timeout: 10_000 });
    assert.ok((await page.locator("#diagnostics pre").textContent()).includes("plan broken"));
    // the next good save: the plans are back and the diagnostics gone
    loaded = page.waitForEvent("load", { timeout: 10_000 });
    fs.writeFileSync(src, good);
    await loaded;
    await page.locator("section.plan").first().waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("#diagnostics").count(), 0);
    assert.deepEqual(errors, [], log);
    await context.close();
  } finally {
    child.kill();
  }
  assert.match(log, /watch: .* built in [0-9.]+ ms/);
  assert.match(log, /has errors \(the pages show them\)/);
});

test("a plan with uncertain figures: the tornado renders and its bars match the report", async () => {
  const out = path.join(work, "uncertainty");
  execFileSync(hplanc, ["build", path.join(root, "tests/data/uncertainty/afd.hplan"), "--out", out, "--color", "never"], { stdio: "pipe" });
  const report = JSON.parse(fs.readFileSync(path.join(out, "afd/report.json"), "utf8"));
  const inputs = report.plans[0].uncertainty.inputs;
  const { page, context, errors } = await open(path.join(out, "afd/report.html"), { viewport: { width: 1280, height: 900 } });
  const tornado = page.locator("figure.tornado svg");
  await tornado.scrollIntoViewIfNeeded();
  assert.ok(await tornado.isVisible());
  // one label per input, in the report's order (largest swing first)
  const labels = await tornado.locator("text[text-anchor=end]").allTextContents();
  assert.deepEqual(labels.slice(0, inputs.length), inputs.map((i) => i.name));
  // the widest bar pair is the first input's
  const widths = await tornado.locator("rect[fill='#0072B2'], rect[fill='#E69F00']").evaluateAll((rs) => rs.map((r) => +r.getAttribute("width")));
  assert.ok(widths.length >= 2 && widths[0] + widths[1] >= Math.max(...widths.slice(2)), `${widths}`);
  await page.screenshot({ path: path.join(shots, "uncertainty-tornado.png") });
  assert.deepEqual(errors, []);
  await context.close();
});
