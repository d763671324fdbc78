#!/usr/bin/env node
/* The status page at / in headless Chromium (the system's /usr/bin/chromium,
 * driven by playwright-core).
 *
 *   node status_page.test.js BASE_URL [--out DIR] [--gate]
 *
 * 1. The page's pure helpers (nginx/www/format.js) against a table.
 * 2. Starts a collection through the form, waits (with a deadline) until
 *    its bar reaches 100%, opens it from the list (a link: ?id=..., with
 *    the history working), checks one row per city, and the API's error
 *    messages for bad ids.
 * 3. Posts real cities (London, Cairo, ... and an unknown id), opens
 *    /?id=<id> directly, and follows it to the end: with --gate (the
 *    environment names the stack: VAR, B) it first pauses the gate in the
 *    database as a 429 does and checks the page says so, then lets it run
 *    and checks the cities left and the time left at the gate's pace.
 *    Then the map (one marker per collected city with coordinates, London
 *    north-west of Cairo, a tip on hover and on keyboard focus), the
 *    table's sorting, the CSV download, text contrast (WCAG AA, light and
 *    dark), the page at 375 px, and screenshots in DIR.
 * Every request the page makes is recorded: none may go to another host.
 *
 * With --token TOKEN (a stack whose http.token is TOKEN) it checks the
 * token prompt instead: the list answers 401 and the page asks for the
 * token; a wrong one is refused and forgotten; the right one shows the
 * list, is sent as Authorization: Bearer, survives a reload and is kept
 * in sessionStorage only (no localStorage, no cookie); a new tab asks
 * again; a request's own page and its CSV need no token; a POST without
 * it asks for it.
 * Exits 0 when everything holds, 1 otherwise. */
"use strict";

const assert = require("assert");
const childProcess = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..", "..");
const fmt = require(path.join(ROOT, "nginx", "www", "format.js"));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
/* Full page loads the test is making now: a load cancels the polls the
 * old document had in flight, and the browser reports each as aborted
 * before the load ends.  (Counting the loads begun when each request's
 * event arrived was not enough: the event of a poll sent just before a
 * load can arrive after the test began it.) */
let navigating = 0, cancelled = 0;
async function load(go) {
	navigating++;
	try {
		return await go();
	} finally {
		navigating--;
	}
}
const DEADLINE_MS = Number(process.env.STATUS_PAGE_DEADLINE_MS || 90000);
const CITIES = [2643743, 2988507, 5128581, 3117735, 2950159];
const LONDON = 2643743, CAIRO = 360630, UNKNOWN = 900000001;
/* Real cities the stand-in answers with their real names and places. */
const REAL = [LONDON, CAIRO, 2267057, 3448439, 3094802, 3413829, 3688689, 1850147,
	5128581, 2147714, 3369157, 3441575, 524901, 1275339];
const AA = 4.5;

function usage() {
	console.error("usage: node status_page.test.js BASE_URL [--out DIR] [--gate] [--token TOKEN]");
	process.exit(2);
}

const argv = process.argv.slice(2);
let base = null, out = null, gate = false, token = null;
for (let i = 0; i < argv.length; i++) {
	if (argv[i] === "--out" && i + 1 < argv.length) out = argv[++i];
	else if (argv[i] === "--gate") gate = true;
	else if (argv[i] === "--token" && i + 1 < argv.length) token = argv[++i];
	else if (base === null && !argv[i].startsWith("--")) base = argv[i];
	else usage();
}
if (base === null) usage();
if (!base.endsWith("/")) base += "/";
const HOST = new URL(base).host;

let step = "start";
function log(s) {
	step = s;
	console.log("status page: " + s);
}
function check(cond, what) {
	if (!cond) throw new Error("check failed: " + what);
}

/* ---- 1. the pure helpers ------------------------------------------------ */

function checkFormat() {
	const cases = [
		[80, 60, "about 1 min 20 s left"],
		[30, 60, "about 30 s left"],
		[120, 60, "about 2 min left"],
		[167, 60, "about 2 min 47 s left"],
		[10000, 60, "about 2 h 47 min left"],
		[13, 120, "about 7 s left"],
		[1, 200000, "about 1 s left"],
		[0, 60, "nothing left"],
		[5, 0, null],
		[5, null, null],
	];
	for (const [left, rate, want] of cases)
		assert.strictEqual(fmt.timeLeft(left, rate), want, "timeLeft(" + left + ", " + rate + ")");
	assert.strictEqual(fmt.tempColor(-40), "#313695");
	assert.strictEqual(fmt.tempColor(0), "#abd9e9");
	assert.strictEqual(fmt.tempColor(7.5), "#d5ddbd");
	assert.strictEqual(fmt.tempColor(60), "#a50026");
	assert.strictEqual(fmt.tempColor(null), null);
	assert.strictEqual(fmt.gateText({ state: "running", reason: null, until: null }).text, "Gate running");
	const p = fmt.gateText({ state: "paused", reason: "429", until: "2026-11-30T10:00:00.000000Z" });
	assert.ok(p.paused && p.text.startsWith("Gate paused: the API answered 429 (too many requests); until "), p.text);
	assert.ok(fmt.gateText({ state: "paused", reason: "invalid key", until: null }).text ===
	    "Gate paused: the API refuses the key");
	assert.ok(!fmt.gateText(null).known);
	const h = fmt.gateText({ state: "held", reason: "API unreachable", until: null,
		since: "2026-11-30T10:00:00.000000Z", error: "Couldn't connect to server" });
	assert.ok(h.paused && h.text.startsWith("Gate held: the API is unreachable since ") &&
	    h.text.includes("(Couldn't connect to server)"), h.text);
	const rows = [{ name: "b", temperature: 3 }, { name: null, error: "x" }, { name: "A", temperature: -1 },
		{ name: "c", temperature: 3 }];
	const by = (k, d) => rows.slice().sort(fmt.compareRows(k, d)).map((r) => r.name);
	assert.deepStrictEqual(by("name", "ascending"), ["A", "b", "c", null]);
	assert.deepStrictEqual(by("name", "descending"), ["c", "b", "A", null]);
	assert.deepStrictEqual(by("temperature", "ascending"), ["A", "b", "c", null]);
	assert.deepStrictEqual(by("temperature", "descending"), ["b", "c", "A", null]);
}

/* ---- helpers ------------------------------------------------------------ */

async function api(method, p, body, headers) {
	const h = Object.assign(body ? { "Content-Type": "application/json" } : {}, headers || {});
	const r = await fetch(new URL(p, base), {
		method: method, headers: h, body: body ? JSON.stringify(body) : undefined,
	});
	const text = await r.text();
	let doc = null;
	try { doc = JSON.parse(text); } catch (e) { /* not JSON */ }
	return { status: r.status, doc: doc, text: text };
}

/* The API's own answer to a POST, to compare with what the page shows. */
async function apiError(body) {
	const r = await api("POST", "collect", body);
	check(r.status >= 400 && r.status < 500, "the API refuses " + JSON.stringify(body) +
	    " (got " + r.status + ")");
	return r.doc.error;
}

/* SQL on the stack's database as its owner (tools/stack.sh mysql, with
 * VAR and B from the environment). */
function sql(query) {
	childProcess.execFileSync(path.join(ROOT, "tools", "stack.sh"), ["mysql"],
	    { input: query, stdio: ["pipe", "pipe", "pipe"], timeout: 30000 });
}

/* Snapshot of one list item, found by comparing data-id in the page (ids are
 * arbitrary text, so no CSS selector is built from them). */
function itemState(id) {
	for (const li of document.querySelectorAll("#requests > li")) {
		if (li.dataset.id !== id) continue;
		const bar = li.querySelector('[role="progressbar"]');
		return {
			name: li.querySelector(".req-id").textContent,
			now: bar && bar.getAttribute("aria-valuenow"),
			pct: li.querySelector(".req-pct").textContent,
			finished: li.dataset.finished,
		};
	}
	return null;
}

/* What the detail view shows. */
function detailState() {
	const t = (id) => document.getElementById(id);
	return {
		hidden: t("detail").hidden,
		id: t("detail-id").textContent,
		now: t("detail-bar").getAttribute("aria-valuenow"),
		summary: t("detail-summary").textContent,
		eta: t("detail-eta").hidden ? null : t("detail-eta").textContent,
		gate: t("detail-gate").hidden ? null : t("detail-gate").textContent,
		gateState: t("detail-gate").dataset.state || null,
		search: location.search,
	};
}

async function submit(page, id, cities) {
	await page.fill("#collect-id", id);
	await page.fill("#collect-cities", cities);
	await page.click("#collect-submit");
}

async function expectError(page, id, cities, want) {
	await page.fill("#collect-id", "");
	await page.evaluate(() => {
		const m = document.getElementById("collect-message");
		m.textContent = "";
		m.classList.remove("error");
	});
	await submit(page, id, cities);
	await page.waitForFunction((w) => {
		const m = document.getElementById("collect-message");
		return m.classList.contains("error") && m.textContent === w;
	}, want, { timeout: 60000 });
	const role = await page.getAttribute("#collect-message", "role");
	check(role === "alert", "an error is announced (role=alert), got " + role);
}

async function openFromList(page, id) {
	await page.evaluate((want) => {
		for (const li of document.querySelectorAll("#requests > li"))
			if (li.dataset.id === want) li.querySelector("a").click();
	}, id);
	await waitDetail(page, id);
}

async function waitDetail(page, id) {
	await page.waitForFunction((want) => !document.getElementById("detail").hidden &&
	    document.getElementById("detail-id").textContent === want &&
	    new URLSearchParams(location.search).get("id") === want, id);
}

/* Text contrast of the page's main text: every visible element with text
 * of its own, its colour over the backgrounds behind it composited. */
function contrastReport(min) {
	function parse(c) {
		let m = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(c);
		if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
		m = /^color\(srgb ([\d.e-]+) ([\d.e-]+) ([\d.e-]+)(?: \/ ([\d.e-]+))?\)$/.exec(c);
		if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : +m[4]];
		/* Any other space (color-mix may give oklab): as a canvas paints
		 * it, its alpha apart so a faint tint keeps its hue. */
		const a = /\/ ([\d.e-]+)\)$/.exec(c);
		const ctx = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
		ctx.fillStyle = a ? c.replace(/ \/ [\d.e-]+\)$/, ")") : c;
		ctx.fillRect(0, 0, 1, 1);
		const px = ctx.getImageData(0, 0, 1, 1).data;
		return [px[0], px[1], px[2], a ? +a[1] : px[3] / 255];
	}
	function over(top, below) {
		const a = top[3];
		return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
	}
	function lum(c) {
		const f = (v) => {
			v /= 255;
			return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
		};
		return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
	}
	function background(e) {
		const layers = [];
		for (let n = e; n && n.nodeType === 1; n = n.parentElement)
			layers.push(parse(getComputedStyle(n).backgroundColor));
		let bg = [255, 255, 255, 1];	/* the canvas */
		for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
		return bg;
	}
	const checked = [], bad = [];
	for (const e of document.querySelectorAll("body *")) {
		if (e.closest("svg, script, style, noscript, [hidden]")) continue;
		const own = Array.prototype.some.call(e.childNodes,
		    (n) => n.nodeType === 3 && n.textContent.trim() !== "");
		if (!own) continue;
		const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
		if (r.width === 0 || r.height === 0 || cs.visibility === "hidden" ||
		    cs.display === "none" || e.closest(".visually-hidden")) continue;
		const bg = background(e), fg = over(parse(cs.color), bg);
		const l1 = lum(fg), l2 = lum(bg);
		const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		const what = e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
		    (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "");
		checked.push(ratio);
		if (ratio < min)
			bad.push(what + " " + JSON.stringify(e.textContent.trim().slice(0, 30)) + ": " +
			    ratio.toFixed(2) + " (" + cs.color + " on " + bg.map(Math.round).join(",") + ")");
	}
	return { n: checked.length, min: Math.min.apply(null, checked), bad: bad };
}

/* Marker positions and labels, by city id. */
function markerState() {
	const m = {};
	for (const c of document.querySelectorAll("#map-canvas svg [data-city-id]")) {
		const t = c.querySelector("title");
		m[c.dataset.cityId] = { x: +c.getAttribute("cx"), y: +c.getAttribute("cy"),
			tag: c.tagName, tabindex: c.getAttribute("tabindex"),
			label: c.getAttribute("aria-label"), title: t ? t.textContent : null,
			fill: c.getAttribute("fill") };
	}
	return {
		markers: m,
		svgs: document.querySelectorAll("#map-canvas svg").length,
		note: document.getElementById("map-note").textContent,
	};
}

function rowsState() {
	return Array.from(document.querySelectorAll("#data-rows > tr"), (tr) => ({
		city: tr.dataset.cityId,
		name: (tr.querySelector(".name") || {}).textContent,
		temperature: (tr.querySelector(".temperature") || {}).textContent,
		humidity: (tr.querySelector(".humidity") || {}).textContent,
		failed: tr.classList.contains("failed"),
	}));
}

async function sortBy(page, key, how) {
	const sel = '#data-table th[data-sort="' + key + '"] button';
	if (how === "keyboard") {
		await page.focus(sel);
		await page.keyboard.press("Enter");
	} else {
		await page.click(sel);
	}
	const dir = await page.getAttribute('#data-table th[data-sort="' + key + '"]', "aria-sort");
	const others = await page.$$eval("#data-table th[aria-sort]", (ths) => ths.length);
	check(others === 1, "one column is marked sorted (aria-sort), got " + others);
	return { dir: dir, rows: await page.evaluate(rowsState) };
}

/* ---- the token prompt (--token) ---------------------------------------- */

/* Whether the list shows an item of id. */
function listed(id) {
	return Array.prototype.some.call(document.querySelectorAll("#requests > li"),
	    (li) => li.dataset.id === id);
}

async function storageState(ctx, page) {
	const s = await page.evaluate(() => ({
		session: sessionStorage.getItem("owmcollect.token"),
		local: localStorage.length,
		cookie: document.cookie,
	}));
	s.cookies = (await ctx.cookies()).length;
	return s;
}

async function tokenRun(ctx, page) {
	const auth = [];	/* the Authorization of each call to collect */
	page.on("request", (r) => {
		if (new URL(r.url()).pathname.endsWith("/collect"))
			auth.push(r.headers()["authorization"] || null);
	});
	const bearer = { "Authorization": "Bearer " + token };
	const id = "token page " + Date.now().toString(36);
	const made = await api("POST", "collect", { id: id, cities: [LONDON] }, bearer);
	check(made.status === 202, "the API takes a POST with the token (got " + made.status + ")");
	const open = await api("GET", "collect?limit=20");
	check(open.status === 401, "the list without the token is 401 (got " + open.status + ")");

	log("the list answers 401: the page asks for the token");
	await load(() => page.goto(base, { waitUntil: "load" }));
	await page.waitForSelector("#token-form", { state: "visible" });
	check(await page.locator("#requests > li").count() === 0, "nothing is listed without the token");
	check(!await page.isVisible("#requests-empty"), "no \"No requests yet\" without the token");
	check(await page.getAttribute("#token-input", "type") === "password", "the token is typed unseen");
	check(!await page.isVisible("#conn"), "a 401 is no connection failure");
	for (const scheme of ["light", "dark"]) {
		await page.emulateMedia({ colorScheme: scheme });
		const c = await page.evaluate(contrastReport, AA);
		check(c.bad.length === 0, "the prompt's text contrast (" + scheme + "):\n  " + c.bad.join("\n  "));
	}
	await page.emulateMedia({ colorScheme: "light" });
	if (out) {
		await page.screenshot({ path: path.join(out, "token-prompt-1280.png"), fullPage: true });
		await page.setViewportSize({ width: 375, height: 812 });
		await page.screenshot({ path: path.join(out, "token-prompt-375.png"), fullPage: true });
		await page.setViewportSize({ width: 1280, height: 900 });
	}

	log("a wrong token is refused and forgotten");
	await page.fill("#token-input", "wrong-" + token);
	await page.click("#token-submit");
	await page.waitForFunction(() => {
		const m = document.getElementById("token-message");
		return m.classList.contains("error") && /refused/.test(m.textContent);
	});
	check(await page.getAttribute("#token-message", "role") === "alert", "the refusal is announced");
	check(auth.includes("Bearer wrong-" + token), "the wrong token was sent as a bearer");
	let st = await storageState(ctx, page);
	check(st.session === null, "a refused token is not kept: " + JSON.stringify(st));

	log("the right token shows the list, sent as Authorization: Bearer");
	await page.fill("#token-input", token);
	await page.click("#token-submit");
	await page.waitForFunction(listed, id);
	check(!await page.isVisible("#token-form"), "the prompt goes once the list is shown");
	check(auth[auth.length - 1] === "Bearer " + token, "the list is asked with the token");
	st = await storageState(ctx, page);
	check(st.session === token && st.local === 0 && st.cookie === "" && st.cookies === 0,
	    "kept in sessionStorage only, no localStorage, no cookie: " + JSON.stringify(st));

	log("a reload of the tab keeps it");
	await load(() => page.reload({ waitUntil: "load" }));
	await page.waitForFunction(listed, id);
	check(!await page.isVisible("#token-form"), "no prompt after a reload");

	log("starting a collection from the form sends it");
	const id2 = id + " form";
	await submit(page, id2, String(LONDON));
	await page.waitForFunction(() => {
		const m = document.getElementById("collect-message");
		return m.textContent.startsWith("Started") || m.classList.contains("error");
	});
	const started = await page.textContent("#collect-message");
	check(started.startsWith("Started"), "the POST with the token starts it: " + started);
	await page.waitForFunction(listed, id2);

	log("another tab asks again, and a request's own page needs no token");
	const other = await ctx.newPage();
	try {
		await other.goto(base + "?id=" + encodeURIComponent(id), { waitUntil: "load" });
		await other.waitForSelector("#token-form", { state: "visible" });
		st = await storageState(ctx, other);
		check(st.session === null, "a new tab has no token: " + JSON.stringify(st));
		await waitDetail(other, id);
		const href = await other.getAttribute("#csv-link", "href");
		const csv = await fetch(new URL(href, base));
		check(csv.status === 200, "its CSV needs no token (got " + csv.status + ")");

		log("a POST without the token asks for it");
		await submit(other, id + " no token", String(LONDON));
		await other.waitForFunction(() => {
			const m = document.getElementById("collect-message");
			return m.classList.contains("error") && /access token/.test(m.textContent);
		});
		check(await other.isVisible("#token-form"), "the prompt is shown");
		check(await other.evaluate(() => document.activeElement.id) === "token-input",
		    "the token's field has the focus");
		const none = await api("GET", "get?id=" + encodeURIComponent(id + " no token"));
		check(none.status === 404, "nothing was stored without the token (" + none.status + ")");
	} finally {
		await other.close();
	}
}

/* ---- the run ------------------------------------------------------------ */

async function main() {
	log("format.js: time left, colours, the gate, the order");
	checkFormat();

	const profile = fs.mkdtempSync(path.join(os.tmpdir(), "owm-chromium-"));
	const problems = [];
	const requests = [];
	let ctx = null;
	try {
		if (out) fs.mkdirSync(out, { recursive: true });
		log("launching " + CHROMIUM);
		ctx = await chromium.launchPersistentContext(profile, {
			executablePath: CHROMIUM,
			headless: true,
			args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			    "--no-first-run", "--disable-background-networking",
			    "--disable-component-update", "--disable-sync"],
			viewport: { width: 1280, height: 900 },
			acceptDownloads: true,
			/* The first start of Chromium on a busy machine (its profile,
			 * fonts, the shader cache) can take long: a generous deadline. */
			timeout: 180000,
		});
		const page = ctx.pages()[0] || await ctx.newPage();
		/* Every wait is for a condition; the deadline only bounds a
		 * failure, so it is generous for a loaded machine. */
		page.setDefaultTimeout(60000);
		page.on("request", (r) => {
			requests.push(r.url());
		});
		page.on("pageerror", (e) => problems.push("page error: " + e.message));
		/* 4xx from the API are expected (bad ids); anything else failing is not. */
		page.on("console", (m) => {
			if (m.type() === "error" && !m.text().startsWith("Failed to load resource"))
				problems.push("console error: " + m.text());
		});
		page.on("response", (r) => {
			const p = new URL(r.url()).pathname;
			if (r.status() >= 400 && !/\/(collect|get)$/.test(p))
				problems.push(r.status() + " for " + r.url());
		});
		page.on("requestfailed", (r) => {
			const why = (r.failure() || {}).errorText;
			/* A page load the test starts cancels the old document's
			 * polls in flight, as any browser does: not a failure. */
			if (why === "net::ERR_ABORTED" && navigating > 0) {
				cancelled++;
				return;
			}
			problems.push("request failed: " + r.url() + " " + why);
		});

		if (token !== null) {
			await tokenRun(ctx, page);
			const foreign = requests.filter((u) => new URL(u).host !== HOST);
			check(foreign.length === 0, "no request to another host: " + foreign.join(" "));
			check(problems.length === 0, "no script or console errors:\n  " + problems.join("\n  "));
			log("all checks passed");
			return 0;
		}

		log("opening " + base);
		const resp = await load(() => page.goto(base, { waitUntil: "load" }));
		check(resp && resp.status() === 200, "GET / answers 200 (got " + (resp && resp.status()) + ")");
		check(/text\/html/.test(resp.headers()["content-type"] || ""), "/ is text/html");
		await page.waitForSelector("#collect-form");
		check(await page.isVisible("#collect-id") && await page.isVisible("#collect-cities"),
		    "the form's inputs are visible");

		/* Unicode, markup and quotes: all must come back as text. */
		const id = "browser " + Date.now().toString(36) + " Zürich «<b>x</b>» \"q\" 🌦️ &amp;";
		log("starting a collection of " + CITIES.length + " cities as " + JSON.stringify(id));
		await submit(page, id, CITIES.join(", "));
		await page.waitForFunction(() => {
			const m = document.getElementById("collect-message");
			return m.textContent.startsWith("Started") || m.classList.contains("error");
		});
		const started = await page.textContent("#collect-message");
		check(started.startsWith("Started"), "the collection starts: " + started);

		log("waiting for its bar to reach 100%");
		const seen = [];
		const t0 = Date.now();
		for (;;) {
			const st = await page.evaluate(itemState, id);
			if (st) {
				check(st.name === id, "the item shows the id as text: " + JSON.stringify(st.name));
				const v = Number(st.now);
				check(isFinite(v) && v >= 0 && v <= 100, "aria-valuenow is a percentage: " + st.now);
				check(st.pct === v.toFixed(2) + "%", "the text matches the bar: " + st.pct + " vs " + st.now);
				if (seen.length === 0 || seen[seen.length - 1] !== v) seen.push(v);
				if (st.now === "100.00" && st.pct === "100.00%" && st.finished === "true") break;
			}
			if (Date.now() - t0 > DEADLINE_MS)
				throw new Error("the bar did not reach 100% within " + DEADLINE_MS +
				    " ms (last state " + JSON.stringify(st) + ")");
			await page.waitForTimeout(100);	/* a poll interval, not a fixed wait */
		}
		for (let i = 1; i < seen.length; i++)
			check(seen[i] >= seen[i - 1], "progress never goes down: " + seen.join(" -> "));
		log("progress seen: " + seen.map((v) => v.toFixed(2)).join(" -> "));
		check(await page.evaluate(() => document.querySelectorAll("#requests b, #detail b").length) === 0,
		    "markup in an id is never rendered as markup");

		log("opening its data from the list (a link to ?id=...)");
		const href = await page.evaluate((want) => {
			for (const li of document.querySelectorAll("#requests > li"))
				if (li.dataset.id === want) return li.querySelector("a").getAttribute("href");
		}, id);
		check(href === "?id=" + encodeURIComponent(id), "the list links to ?id=: " + href);
		await openFromList(page, id);
		await page.waitForFunction((n) => document.querySelectorAll("#data-rows > tr").length === n,
		    CITIES.length);
		const rows = await page.evaluate(rowsState);
		check(rows.length === CITIES.length, "one row per city (" + rows.length + ")");
		check(JSON.stringify(rows.map((r) => Number(r.city)).sort()) ===
		    JSON.stringify(CITIES.slice().sort()), "the rows are the cities asked for");
		for (const r of rows) {
			check(/^-?[0-9]+(\.[0-9]+)?$/.test(r.temperature || "") && isFinite(parseFloat(r.temperature)),
			    "city " + r.city + " has a numeric temperature: " + JSON.stringify(r.temperature));
			check(/^[0-9]+$/.test(r.humidity || ""), "city " + r.city + " has a humidity: " +
			    JSON.stringify(r.humidity));
		}
		check(await page.getAttribute('#requests > li a[aria-current="true"]', "aria-controls") === "detail",
		    "the chosen item is marked current");

		log("the history: back closes the view, forward opens it again");
		await page.goBack();
		await page.waitForFunction(() => document.getElementById("detail").hidden && location.search === "");
		await page.goForward();
		await waitDetail(page, id);

		log("a link to an unknown id says so");
		const nope = "no such request " + Date.now().toString(36);
		const nopeError = (await api("GET", "get?id=" + encodeURIComponent(nope))).doc.error;
		await load(() => page.goto(base + "?id=" + encodeURIComponent(nope), { waitUntil: "load" }));
		await waitDetail(page, nope);
		await page.waitForFunction((w) => document.getElementById("detail-summary").textContent === w,
		    nopeError);
		check(await page.evaluate(() => document.getElementById("csv-link").hidden &&
		    !document.querySelector("#map-canvas svg") && !document.querySelector("#data-rows tr")),
		    "an unknown request shows no map, table or CSV link");

		log("bad ids show the API's message");
		await expectError(page, "", "", await apiError({ id: "" }));
		const long = "x".repeat(200);
		await expectError(page, long, "1", await apiError({ id: long, cities: [1] }));
		await expectError(page, id, "1", await apiError({ id: id, cities: [1] }));	/* 409 */
		await expectError(page, "dup " + Date.now(), "1, 1", await apiError({ id: "dup", cities: [1, 1] }));

		/* ---- 3. real cities, opened by their link ---- */
		const mapId = "map " + Date.now().toString(36) + " São Paulo ☀ & <i>";
		const cities = REAL.concat([UNKNOWN]);
		if (gate) {
			log("pausing the gate as a 429 does (in the database)");
			sql("UPDATE rate_gate SET paused_until = NOW(6) + INTERVAL 10 MINUTE, " +
			    "pause_reason = '429' WHERE id = 1");
		}
		log("posting " + cities.length + " cities as " + JSON.stringify(mapId));
		const posted = await api("POST", "collect", { id: mapId, cities: cities });
		check(posted.status === 202, "POST answers 202: " + posted.status + " " + posted.text);
		const link = base + "?id=" + encodeURIComponent(mapId);
		log("opening " + link);
		await load(() => page.goto(link, { waitUntil: "load" }));
		await waitDetail(page, mapId);

		let resumed = !gate;
		const etas = [];
		if (gate) {
			const st = await page.waitForFunction(() => {
				const g = document.getElementById("detail-gate");
				return !g.hidden && g.dataset.state === "paused" && document.getElementById("detail-eta").textContent;
			}).then(() => page.evaluate(detailState));
			log("paused: " + st.eta + " | " + st.gate);
			check(/^Gate paused: the API answered 429 \(too many requests\); until /.test(st.gate),
			    "the page says why the gate is paused: " + st.gate);
			check(/^\d+ cit(y|ies) left · waiting for the gate$/.test(st.eta),
			    "while paused, no estimate: " + st.eta);
			sql("UPDATE rate_gate SET paused_until = NOW(6), pause_reason = NULL WHERE id = 1");
			resumed = true;
		}

		log("following it to the end");
		const t1 = Date.now();
		let last = null;
		for (;;) {
			const st = await page.evaluate(detailState);
			last = st;
			check(st.id === mapId, "the view shows the request: " + JSON.stringify(st.id));
			if (st.now === "100.00" && /finished/.test(st.summary)) {
				check(st.eta === null && st.gate === null, "a finished request shows no estimate");
				break;
			}
			if (resumed && st.eta && st.gateState === "running" &&
			    (etas.length === 0 || etas[etas.length - 1].eta !== st.eta))
				etas.push(st);
			if (Date.now() - t1 > DEADLINE_MS)
				throw new Error("the request did not finish within " + DEADLINE_MS + " ms (" +
				    JSON.stringify(last) + ")");
			await page.waitForTimeout(100);
		}
		const limit = await api("GET", "metrics").then((r) =>
		    Number(/^owmcollect_gate_limit_cities_per_minute (\S+)$/m.exec(r.text)[1]));
		log("estimates seen at " + limit + " cities/min: " + etas.map((s) => s.eta).join(" | "));
		check(etas.length > 0, "the page showed the time left while collecting");
		for (const s of etas) {
			const m = /^(\d+) cit(?:y|ies) left · (about .* left) at (\d+) cities\/min$/.exec(s.eta);
			check(m, "the estimate reads as cities left and time left: " + s.eta);
			check(Number(m[3]) === limit, "the pace is the gate's limit (" + limit + "): " + s.eta);
			check(m[2] === fmt.timeLeft(Number(m[1]), limit), "the time left is the cities left at the pace: " + s.eta);
			const c = /^(\d+) of (\d+) collected(?:, (\d+) failed)?/.exec(s.summary);
			check(c && Number(m[1]) === Number(c[2]) - Number(c[1]) - Number(c[3] || 0),
			    "the cities left match the counts: " + s.eta + " / " + s.summary);
			check(s.gate === "Gate running", "the gate is said to run: " + s.gate);
		}

		/* ---- the map ---- */
		log("the map: one marker per collected city with coordinates");
		const doc = (await api("GET", "get?id=" + encodeURIComponent(mapId))).doc;
		check(doc.finished_at && doc.total === cities.length, "the API has it finished");
		const want = doc.data.filter((d) => typeof d.error !== "string" &&
		    typeof d.lat === "number" && typeof d.lon === "number").map((d) => String(d.city_id));
		await page.waitForFunction((n) =>
		    document.querySelectorAll("#map-canvas svg [data-city-id]").length === n, want.length);
		const ms = await page.evaluate(markerState);
		check(ms.svgs === 1, "the map is one inline <svg> (" + ms.svgs + ")");
		check(JSON.stringify(Object.keys(ms.markers).sort()) === JSON.stringify(want.slice().sort()),
		    "markers are the collected cities with coordinates: " + Object.keys(ms.markers).join(",") +
		    " vs " + want.join(","));
		const london = ms.markers[LONDON], cairo = ms.markers[CAIRO];
		check(london && cairo, "London and Cairo are on the map");
		check(london.x < cairo.x && london.y < cairo.y, "London is north-west of Cairo: " +
		    JSON.stringify([london, cairo]));
		check(!ms.markers[UNKNOWN], "the unknown city is not drawn");
		const byId = new Map(doc.data.map((d) => [String(d.city_id), d]));
		for (const [cid, m] of Object.entries(ms.markers)) {
			const d = byId.get(cid);
			check(m.tabindex === "0" && m.label && m.title === m.label &&
			    m.label.startsWith(d.name) && m.label.includes(d.temperature.toFixed(1) + " °C") &&
			    m.label.includes("humidity " + d.humidity + " %"),
			    "marker " + cid + " says its name, temperature and humidity: " + JSON.stringify(m));
			check(m.fill === fmt.tempColor(d.temperature), "marker " + cid + " is coloured by temperature");
		}
		check(ms.note.startsWith(want.length + " of " + cities.length + " cities on the map") &&
		    ms.note.includes("1 failed"), "the map says how many are not placed: " + ms.note);
		check(await page.evaluate(() => document.querySelectorAll("#map-legend .legend-ticks span").length) >= 2,
		    "the map has a temperature legend");

		log("a tip on hover and on keyboard focus");
		await page.hover('#map-canvas svg [data-city-id="' + LONDON + '"]');
		const lon = byId.get(String(LONDON));
		const tip1 = await page.waitForFunction(() => {
			const t = document.getElementById("map-tip");
			return !t.hidden && t.textContent;
		}).then((h) => h.jsonValue());
		check(tip1.includes("London") && tip1.includes(lon.temperature.toFixed(1) + " °C") &&
		    tip1.includes("humidity " + lon.humidity + " %"), "hovering London shows it: " + tip1);
		await page.mouse.move(1, 1);
		await page.waitForFunction(() => document.getElementById("map-tip").hidden);
		await page.focus("#detail-h");
		let tabs = 0;
		while (await page.evaluate(() => (document.activeElement.dataset || {}).cityId) !== String(CAIRO)) {
			check(++tabs <= 60, "Tab reaches Cairo's marker");
			await page.keyboard.press("Tab");
		}
		const tip2 = await page.evaluate(() => {
			const t = document.getElementById("map-tip");
			return t.hidden ? null : t.textContent;
		});
		const cai = byId.get(String(CAIRO));
		check(tip2 && tip2.includes("Cairo") && tip2.includes(cai.temperature.toFixed(1) + " °C"),
		    "focusing Cairo's marker by keyboard shows it: " + tip2);
		check(await page.evaluate(() => document.activeElement.matches(":focus-visible")),
		    "the focused marker shows its focus");
		log("Cairo reached with " + tabs + " Tab presses");

		/* ---- the table ---- */
		log("the table sorts by temperature and by name");
		const num = (r) => parseFloat(r.temperature);
		let s = await sortBy(page, "temperature", "click");
		check(s.dir === "ascending", "temperature ascending: " + s.dir);
		let ok = s.rows.filter((r) => !r.failed);
		check(ok.every((r, i) => i === 0 || num(ok[i - 1]) <= num(r)) &&
		    s.rows[s.rows.length - 1].failed, "rows by temperature, coldest first, failed last: " +
		    s.rows.map((r) => r.temperature).join(" "));
		s = await sortBy(page, "temperature", "keyboard");
		check(s.dir === "descending", "again: temperature descending: " + s.dir);
		ok = s.rows.filter((r) => !r.failed);
		check(ok.every((r, i) => i === 0 || num(ok[i - 1]) >= num(r)),
		    "rows by temperature, warmest first: " + ok.map((r) => r.temperature).join(" "));
		s = await sortBy(page, "name", "keyboard");
		check(s.dir === "ascending", "name ascending: " + s.dir);
		const names = s.rows.map((r) => r.name);
		const sorted = await page.evaluate((n) => {
			const c = new Intl.Collator(undefined, { sensitivity: "base" });
			return n.every((x, i) => i === 0 || c.compare(n[i - 1], x) <= 0);
		}, names.slice(0, -1));
		check(sorted && s.rows[s.rows.length - 1].city === String(UNKNOWN),
		    "rows by name, the unnamed city last: " + names.join(", "));
		check(names.includes("São Paulo") && names.includes("Kraków") && names.includes("Reykjavík"),
		    "names are shown as the API gave them: " + names.join(", "));

		/* ---- the CSV ---- */
		log("the CSV link downloads");
		const csvHref = await page.getAttribute("#csv-link", "href");
		check(csvHref === "get?id=" + encodeURIComponent(mapId) + "&format=csv", "the CSV link: " + csvHref);
		const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv-link")]);
		const csvPath = path.join(out || profile, "request.csv");
		await download.saveAs(csvPath);
		const csv = fs.readFileSync(csvPath, "utf8");
		const lines = csv.split(/\r?\n/).filter((l) => l !== "");
		const header = lines[0].split(",");
		check(header[0] === "city_id", "the CSV starts with its header row: " + lines[0]);
		for (const col of ["name", "country", "temperature", "humidity"])
			check(header.includes(col), "the CSV's header names " + col + ": " + lines[0]);
		check(lines.length >= cities.length + 1, "the CSV has a row per city (" + lines.length + " lines)");
		const direct = await api("GET", csvHref);
		check(direct.status === 200 && direct.text === csv, "the download is the API's CSV");
		check(download.suggestedFilename().endsWith(".csv"), "it downloads as .csv: " +
		    download.suggestedFilename());
		log("CSV " + download.suggestedFilename() + ": " + lines.length + " lines, header " + lines[0]);

		/* ---- contrast, small screens, screenshots ---- */
		await page.hover('#map-canvas svg [data-city-id="' + LONDON + '"]');	/* the tip too */
		for (const scheme of ["light", "dark"]) {
			await page.emulateMedia({ colorScheme: scheme });
			const c = await page.evaluate(contrastReport, AA);
			log("contrast (" + scheme + "): " + c.n + " text elements, lowest " + c.min.toFixed(2) + ":1");
			check(c.bad.length === 0, "text contrast at least " + AA + ":1 (" + scheme + "):\n  " +
			    c.bad.join("\n  "));
		}
		await page.emulateMedia({ colorScheme: "light" });
		await page.mouse.move(1, 1);
		const shots = [];
		if (out) {
			const f = path.join(out, "status-page-1280.png");
			await page.screenshot({ path: f, fullPage: true });
			shots.push(f);
		}

		log("at 375 px wide");
		await page.setViewportSize({ width: 375, height: 812 });
		await page.waitForFunction(() => {
			const s = document.querySelector("#map-canvas svg");
			return s && s.getBoundingClientRect().width <= 375;
		});
		const narrow = await page.evaluate(() => {
			const right = (sel) => Math.max.apply(null, Array.from(document.querySelectorAll(sel),
			    (e) => e.getBoundingClientRect().right));
			return {
				scroll: document.documentElement.scrollWidth,
				map: right("#map-canvas svg"),
				sort: right("#data-table th button"),
				table: document.querySelector(".table-wrap").scrollWidth -
				    document.querySelector(".table-wrap").clientWidth,
			};
		});
		check(narrow.scroll <= 375 && narrow.map <= 375 && narrow.sort <= 375 && narrow.table <= 0,
		    "nothing is wider than 375 px: " + JSON.stringify(narrow));
		await sortBy(page, "humidity", "click");
		if (out) {
			let f = path.join(out, "status-page-375.png");
			await page.screenshot({ path: f, fullPage: true });
			shots.push(f);
			await page.emulateMedia({ colorScheme: "dark" });
			f = path.join(out, "status-page-375-dark.png");
			await page.screenshot({ path: f, fullPage: true });
			shots.push(f);
			log("screenshots: " + shots.join(", "));
		}

		/* ---- what the page asked for ---- */
		const foreign = requests.filter((u) => {
			try {
				return new URL(u).host !== HOST;
			} catch (e) {
				return true;
			}
		});
		const byPath = {};
		for (const u of requests) {
			const p = new URL(u).pathname;
			byPath[p] = (byPath[p] || 0) + 1;
		}
		log(requests.length + " requests, all to " + HOST + ": " + Object.keys(byPath).sort()
		    .map((p) => p + " " + byPath[p]).join(", "));
		check(foreign.length === 0, "no request to another host: " + foreign.join(" "));
		log(cancelled + " polls of an old document cancelled by the test's page loads");

		check(problems.length === 0, "no script or console errors:\n  " + problems.join("\n  "));
		log("all checks passed");
		return 0;
	} catch (e) {
		console.error("status page: FAILED at \"" + step + "\": " + e.message);
		if (problems.length) console.error("  " + problems.join("\n  "));
		return 1;
	} finally {
		if (gate) {
			try {
				sql("UPDATE rate_gate SET paused_until = NOW(6), pause_reason = NULL " +
				    "WHERE id = 1 AND pause_reason = '429' AND paused_until > NOW(6) + INTERVAL 1 MINUTE");
			} catch (e) { /* the stack is going anyway */ }
		}
		if (ctx) await ctx.close().catch(() => {});
		fs.rmSync(profile, { recursive: true, force: true });
	}
}

if (!fs.existsSync(CHROMIUM)) {
	console.error("status page: FAILED: " + CHROMIUM + " is missing (Debian package chromium; make deps installs it)");
	process.exit(1);
}
main().then((rc) => process.exit(rc), (e) => {
	console.error(e);
	process.exit(1);
});
