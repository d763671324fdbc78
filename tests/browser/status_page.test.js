#!/usr/bin/env node
/* The status page at / in headless Chromium (the system's /usr/bin/chromium,
 * driven by playwright-core).
 *
 *   node status_page.test.js BASE_URL [--screenshot FILE]
 *
 * Starts a collection through the form, waits (with a deadline) until its
 * bar reaches 100%, opens its data, checks one row per city with numeric
 * temperatures, and checks the API's error messages are shown for bad ids.
 * Exits 0 when everything holds, 1 otherwise. */
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const DEADLINE_MS = Number(process.env.STATUS_PAGE_DEADLINE_MS || 90000);
const CITIES = [2643743, 2988507, 5128581, 3117735, 2950159];

function usage() {
	console.error("usage: node status_page.test.js BASE_URL [--screenshot FILE]");
	process.exit(2);
}

const argv = process.argv.slice(2);
let base = null, shot = null;
for (let i = 0; i < argv.length; i++) {
	if (argv[i] === "--screenshot" && i + 1 < argv.length) shot = argv[++i];
	else if (base === null && !argv[i].startsWith("--")) base = argv[i];
	else usage();
}
if (base === null) usage();
if (!base.endsWith("/")) base += "/";

let step = "start";
function log(s) {
	step = s;
	console.log("status page: " + s);
}
function check(cond, what) {
	if (!cond) throw new Error("check failed: " + what);
}

/* The API's own answer to a POST, to compare with what the page shows. */
async function apiError(body) {
	const r = await fetch(new URL("collect", base), {
		method: "POST", headers: { "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});
	const doc = await r.json();
	check(r.status >= 400 && r.status < 500, "the API refuses " + JSON.stringify(body) +
	    " (got " + r.status + ")");
	return doc.error;
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

async function main() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), "owm-chromium-"));
	const problems = [];
	let ctx = null;
	try {
		log("launching " + CHROMIUM);
		ctx = await chromium.launchPersistentContext(profile, {
			executablePath: CHROMIUM,
			headless: true,
			args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			    "--no-first-run", "--disable-background-networking",
			    "--disable-component-update", "--disable-sync"],
			viewport: { width: 1100, height: 900 },
			/* The first start of Chromium on a busy machine (its profile,
			 * fonts, the shader cache) can take long: a generous deadline. */
			timeout: 180000,
		});
		const page = ctx.pages()[0] || await ctx.newPage();
		/* Every wait is for a condition; the deadline only bounds a
		 * failure, so it is generous for a loaded machine. */
		page.setDefaultTimeout(60000);
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
		page.on("requestfailed", (r) => problems.push("request failed: " + r.url() + " " +
		    (r.failure() || {}).errorText));

		log("opening " + base);
		const resp = await page.goto(base, { waitUntil: "load" });
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

		log("opening its data");
		await page.evaluate((want) => {
			for (const li of document.querySelectorAll("#requests > li"))
				if (li.dataset.id === want) li.querySelector("button").click();
		}, id);
		await page.waitForFunction((args) => {
			const d = document.getElementById("detail");
			return !d.hidden && document.getElementById("detail-id").textContent === args.id &&
			    document.querySelectorAll("#data-rows > tr").length === args.n;
		}, { id: id, n: CITIES.length });
		const rows = await page.$$eval("#data-rows > tr", (trs) => trs.map((tr) => ({
			city: tr.dataset.cityId,
			temperature: (tr.querySelector(".temperature") || {}).textContent,
			humidity: (tr.querySelector(".humidity") || {}).textContent,
		})));
		check(rows.length === CITIES.length, "one row per city (" + rows.length + ")");
		check(JSON.stringify(rows.map((r) => Number(r.city)).sort()) ===
		    JSON.stringify(CITIES.slice().sort()), "the rows are the cities asked for");
		for (const r of rows) {
			check(/^-?[0-9]+(\.[0-9]+)?$/.test(r.temperature || "") && isFinite(parseFloat(r.temperature)),
			    "city " + r.city + " has a numeric temperature: " + JSON.stringify(r.temperature));
			check(/^[0-9]+$/.test(r.humidity || ""), "city " + r.city + " has a humidity: " +
			    JSON.stringify(r.humidity));
		}
		check(await page.evaluate(() => location.hash.length > 1), "the selection is in the URL");
		check(await page.getAttribute('#requests > li button[aria-current="true"]', "aria-controls") === "detail",
		    "the chosen item is marked current");

		log("bad ids show the API's message");
		await expectError(page, "", "", await apiError({ id: "" }));
		const long = "x".repeat(200);
		await expectError(page, long, "1", await apiError({ id: long, cities: [1] }));
		await expectError(page, id, "1", await apiError({ id: id, cities: [1] }));	/* 409 */
		await expectError(page, "dup " + Date.now(), "1, 1", await apiError({ id: "dup", cities: [1, 1] }));

		if (shot) {
			await page.screenshot({ path: shot, fullPage: true });
			log("screenshot in " + shot);
		}
		check(problems.length === 0, "no script or console errors:\n  " + problems.join("\n  "));
		log("all checks passed");
		return 0;
	} catch (e) {
		console.error("status page: FAILED at \"" + step + "\": " + e.message);
		if (problems.length) console.error("  " + problems.join("\n  "));
		return 1;
	} finally {
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
