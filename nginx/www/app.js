/* owmcollect status page: lists recent requests with live progress, starts
 * collections and shows one request (/?id=<id>, a link to share): its
 * progress with the time left at the gate's pace, a world map of its
 * cities, and its readings as a sortable table with a CSV download.
 *
 * No framework.  The map is one inline <svg> built with DOM calls, its
 * countries projected by d3-geo from world-atlas's TopoJSON (vendor/,
 * served from this host like everything else).  Everything from the API
 * goes into the page as text (textContent, attributes), never as markup. */
"use strict";

(function () {
	var FAST = 1000;	/* while something is unfinished */
	var IDLE = 10000;	/* nothing running: still notice other clients */
	var HIDDEN = 30000;	/* tab in the background */
	var MAX_BACKOFF = 30000;
	var PACE_MAX_AGE = 30000;	/* how long a read of the gate's limit holds */
	var SVG = "http://www.w3.org/2000/svg";
	var F = window.owmFormat;

	var $ = function (id) { return document.getElementById(id); };
	var list = $("requests");
	var selected = null;		/* id shown in #detail, or null */
	var detailDone = false;		/* its data will not change again */
	var lastDoc = null;		/* the newest /get answer shown */
	var timer = null;
	var failures = 0;
	var busy = false;		/* a tick is in flight */
	var again = false;		/* ... and another was asked for meanwhile */
	var detailSeq = 0;		/* only the newest /get answer is shown */
	var pace = { perMinute: null, at: 0 };	/* the gate's limit (/metrics) */
	var health = null;		/* the newest /health answer, or null */
	var sortKey = null, sortDir = "ascending";

	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined && text !== null) e.textContent = String(text);
		return e;
	}

	function svg(tag, attrs) {
		var e = document.createElementNS(SVG, tag);
		for (var k in attrs)
			if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
		return e;
	}

	function pct(p) {
		var n = Number(p);
		if (!isFinite(n)) n = 0;
		return Math.min(100, Math.max(0, n));
	}

	function when(iso) {
		if (!iso) return "";
		var d = new Date(iso);
		if (isNaN(d.getTime())) return String(iso);
		return d.toLocaleString(undefined, {
			year: "numeric", month: "short", day: "numeric",
			hour: "2-digit", minute: "2-digit", second: "2-digit"
		});
	}

	function num(v, digits) {
		return typeof v === "number" && isFinite(v) ? v.toFixed(digits) : "";
	}

	/* The page's own URL for a request (relative: the page may live
	 * under a prefix). */
	function pageUrl(id) {
		return id === null ? location.pathname : "?id=" + encodeURIComponent(id);
	}

	/* ---- the access token ------------------------------------------------ */

	/* The service's http.token, when it has one: the list of requests
	 * (an operator's view) and starting or cancelling one need it; one
	 * request's page does not.  Asked for when the list answers 401, and
	 * kept for this tab only: sessionStorage (gone with the tab, never
	 * shared with another), never localStorage or a cookie; sent only as
	 * the Authorization header of this page's own calls to collect. */
	var TOKEN_KEY = "owmcollect.token";
	var token = null;
	var locked = false;		/* the list waits for a token */
	try {
		token = sessionStorage.getItem(TOKEN_KEY);
	} catch (e) { /* storage refused: this page's memory only */ }

	function setToken(t) {
		token = t;
		try {
			if (t === null) sessionStorage.removeItem(TOKEN_KEY);
			else sessionStorage.setItem(TOKEN_KEY, t);
		} catch (e) { /* kept in memory only */ }
	}

	function tokenSay(text, isError) {
		var m = $("token-message");
		m.textContent = text;
		m.classList.toggle("error", !!isError);
		m.setAttribute("role", isError ? "alert" : "status");
	}

	/* The list answered 401: forget a token it refused, hide what the
	 * list showed, and ask.  why: the sentence to show, or null. */
	function askToken(why) {
		var first = !locked;
		if (token !== null) setToken(null);
		locked = true;
		list.replaceChildren();
		$("requests-empty").hidden = true;
		$("token-form").hidden = false;
		$("token-submit").disabled = false;
		tokenSay(why || "", !!why);
		if (first && why) $("token-input").focus();
	}

	function tokenAccepted() {
		if ($("token-form").hidden) return;
		$("token-form").hidden = true;
		tokenSay("", false);
	}

	$("token-form").addEventListener("submit", function (ev) {
		ev.preventDefault();
		var t = $("token-input").value.trim();
		if (t === "") {
			tokenSay("Enter the access token.", true);
			$("token-input").focus();
			return;
		}
		setToken(t);
		locked = false;
		$("token-input").value = "";
		$("token-submit").disabled = true;
		tokenSay("Checking…", false);
		schedule(0);
	});

	/* fetch + JSON; rejects with an Error whose message is the API's.
	 * `also` lists statuses whose JSON is an answer too (/health's 503). */
	function api(method, path, body, also) {
		var opt = { method: method, cache: "no-store",
			    headers: { "Accept": "application/json" } };
		if (token !== null && /^collect(\?|$)/.test(path))
			opt.headers["Authorization"] = "Bearer " + token;
		if (body !== undefined) {
			opt.headers["Content-Type"] = "application/json";
			opt.body = body;
		}
		return fetch(path, opt).then(function (r) {
			return r.text().then(function (t) {
				var doc = null;
				try { doc = JSON.parse(t); } catch (e) { /* not JSON */ }
				if (doc && (r.ok || (also && also.indexOf(r.status) >= 0))) return doc;
				var msg = doc && typeof doc.error === "string" ? doc.error
				    : "the server answered " + r.status;
				var err = new Error(msg);
				err.status = r.status;
				throw err;
			});
		});
	}

	/* ---- the progress bar -------------------------------------------- */

	function makeBar(labelId) {
		var bar = el("div", "bar");
		bar.setAttribute("role", "progressbar");
		bar.setAttribute("aria-valuemin", "0");
		bar.setAttribute("aria-valuemax", "100");
		bar.setAttribute("aria-labelledby", labelId);
		bar.appendChild(el("div", "fill"));
		return bar;
	}

	function setBar(bar, r) {
		var p = pct(r.progress), text = p.toFixed(2) + "%";
		bar.setAttribute("aria-valuenow", p.toFixed(2));
		bar.setAttribute("aria-valuetext", text);
		bar.dataset.state = r.finished_at ? (r.failed > 0 ? "partial" : "done") : "running";
		bar.firstChild.style.width = p + "%";
		return text;
	}

	function counts(r) {
		var s = r.collected + " of " + r.total + " collected";
		if (r.failed > 0) s += ", " + r.failed + " failed";
		return s;
	}

	/* ---- the list ------------------------------------------------------ */

	var seq = 0;

	function makeItem(r) {
		var li = el("li", "req");
		var n = ++seq;
		li.dataset.id = r.id;
		var a = el("a", "req-btn");
		a.href = pageUrl(r.id);
		a.setAttribute("aria-controls", "detail");
		var head = el("span", "req-head");
		var name = el("bdi", "req-id", r.id);
		name.id = "req-name-" + n;
		head.appendChild(name);
		head.appendChild(el("span", "req-pct"));
		a.appendChild(head);
		a.appendChild(makeBar(name.id));
		var meta = el("span", "req-meta");
		meta.appendChild(el("time", "req-time"));
		meta.appendChild(el("span", "req-counts"));
		a.appendChild(meta);
		a.addEventListener("click", function (ev) {
			/* A new tab or window (modifiers, middle button) is the link's. */
			if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey)
				return;
			ev.preventDefault();
			navigate(li.dataset.id);
		});
		li.appendChild(a);
		return li;
	}

	function updateItem(li, r) {
		var text = setBar(li.querySelector(".bar"), r);
		li.querySelector(".req-pct").textContent = text;
		var t = li.querySelector(".req-time");
		t.dateTime = r.requested_at || "";
		t.textContent = when(r.requested_at);
		li.querySelector(".req-counts").textContent = counts(r);
		li.dataset.finished = r.finished_at ? "true" : "false";
		markCurrent(li);
	}

	function markCurrent(li) {
		if (li.dataset.id === selected) li.firstChild.setAttribute("aria-current", "true");
		else li.firstChild.removeAttribute("aria-current");
	}

	/* Reconciles #requests with the API's list (newest first), keeping the
	 * existing elements so focus and the bars' transitions survive. */
	function renderList(reqs) {
		var old = new Map();
		Array.prototype.forEach.call(list.children, function (li) {
			old.set(li.dataset.id, li);
		});
		var prev = null;
		reqs.forEach(function (r) {
			var li = old.get(r.id);
			if (li) old.delete(r.id);
			else li = makeItem(r);
			updateItem(li, r);
			var want = prev ? prev.nextSibling : list.firstChild;
			if (want !== li) list.insertBefore(li, want);
			prev = li;
		});
		old.forEach(function (li) { li.remove(); });
		$("requests-empty").hidden = reqs.length > 0;
	}

	/* ---- the detail: progress, time left, the gate ----------------------- */

	function renderProgress(doc) {
		var p = pct(doc.progress);
		setBar($("detail-bar"), doc);
		var s = counts(doc) + " · " + p.toFixed(2) + "%";
		s += doc.finished_at ? " · finished " + when(doc.finished_at)
		    : " · started " + when(doc.requested_at) + ", still collecting";
		$("detail-summary").textContent = s;
		renderEta();
	}

	/* While in progress: the cities left, the time they need at the
	 * gate's pace, and whether the gate runs (/health) and why not. */
	function renderEta() {
		var eta = $("detail-eta"), gate = $("detail-gate"), doc = lastDoc;
		if (!doc || doc.finished_at) {
			eta.hidden = gate.hidden = true;
			return;
		}
		var left = Math.max(0, doc.total - doc.collected - doc.failed);
		var g = F.gateText(health && health.gate);
		var s = F.cities(left) + " left";
		if (left === 0)
			s = "Every city is in; finishing";
		else if (g.paused)
			s += " · waiting for the gate";
		else {
			var t = F.timeLeft(left, pace.perMinute);
			if (t) s += " · " + t + " at " + pace.perMinute + " cities/min";
		}
		eta.textContent = s;
		eta.hidden = false;
		var gs = g.text;
		if (health && health.workers && !health.workers.some(function (w) {
			return w.children_alive > 0;
		}))
			gs += " · no worker is running: nothing is being fetched";
		gate.textContent = gs;
		gate.dataset.state = g.known ? (g.paused ? "paused" : "running") : "unknown";
		gate.hidden = false;
	}

	/* The gate's limit, from /metrics (cities a minute), read again after
	 * PACE_MAX_AGE; /health, every tick while the request is unfinished. */
	function loadGate() {
		var jobs = [api("GET", "health", undefined, [503]).then(function (h) {
			health = h;
		}, function () {
			health = null;
		})];
		if (Date.now() - pace.at > PACE_MAX_AGE) {
			jobs.push(fetch("metrics", { cache: "no-store" }).then(function (r) {
				return r.ok ? r.text() : "";
			}).then(function (t) {
				var m = /^owmcollect_gate_limit_cities_per_minute(?:\{[^}]*\})?\s+([0-9.eE+]+)\s*$/m.exec(t);
				var v = m ? Number(m[1]) : NaN;
				pace.perMinute = v > 0 && isFinite(v) ? v : null;
				pace.at = Date.now();
			}, function () { /* unknown: no estimate */ }));
		}
		return Promise.all(jobs);
	}

	/* ---- the detail: the map ---------------------------------------------- */

	var atlas = null;	/* { land, borders } GeoJSON, once loaded */
	var atlasLoading = null;
	var map = null;		/* { svg, width, height, proj, markers: Map id -> circle } */

	function mapLibs() {
		return window.d3 && typeof window.d3.geoNaturalEarth1 === "function" &&
		    window.topojson && typeof window.topojson.feature === "function";
	}

	function loadAtlas() {
		if (atlas || atlasLoading || !mapLibs()) return atlasLoading;
		atlasLoading = fetch("vendor/countries-110m.json").then(function (r) {
			if (!r.ok) throw new Error("the map's outlines answered " + r.status);
			return r.json();
		}).then(function (topo) {
			var o = topo.objects.countries;
			atlas = {
				land: window.topojson.feature(topo, o),
				borders: window.topojson.mesh(topo, o, function (a, b) { return a !== b; })
			};
			if (map) map.svg.remove();
			map = null;	/* draw again with the outlines */
			if (lastDoc) renderMap(lastDoc);
		}, function (e) {
			$("map-note").textContent = "The map cannot be drawn: " + e.message;
		});
		return atlasLoading;
	}

	/* The base map at the canvas's width, in pixels (so markers and their
	 * focus rings keep their size on a phone). */
	function drawBase(width) {
		var d3 = window.d3, sphere = { type: "Sphere" };
		var proj = d3.geoNaturalEarth1().fitWidth(width - 2, sphere);
		var path = d3.geoPath(proj);
		var b = path.bounds(sphere);
		proj.translate([proj.translate()[0] + 1, proj.translate()[1] + 1 - b[0][1]]);
		var height = Math.ceil(b[1][1] - b[0][1]) + 2;
		var s = svg("svg", { "class": "world", viewBox: "0 0 " + width + " " + height,
		    width: width, height: height, role: "group", "aria-labelledby": "map-h map-note" });
		s.appendChild(svg("path", { "class": "sphere", d: path(sphere) }));
		s.appendChild(svg("path", { "class": "graticule", d: path(d3.geoGraticule10()) }));
		if (atlas) {
			s.appendChild(svg("path", { "class": "land", d: path(atlas.land) }));
			s.appendChild(svg("path", { "class": "borders", d: path(atlas.borders) }));
		}
		s.appendChild(svg("g", { "class": "markers" }));
		return { svg: s, width: width, height: height, proj: proj, markers: new Map() };
	}

	function placed(d) {
		return typeof d.lat === "number" && typeof d.lon === "number" &&
		    isFinite(d.lat) && isFinite(d.lon) && typeof d.temperature === "number" &&
		    typeof d.error !== "string";
	}

	function cityName(d) {
		return typeof d.name === "string" && d.name !== "" ? d.name : "city " + d.city_id;
	}

	function describe(d) {
		var s = cityName(d);
		if (typeof d.country === "string" && d.country) s += ", " + d.country;
		return s + ": " + num(d.temperature, 1) + " °C, humidity " + d.humidity + " %";
	}

	/* Markers reconciled by city id, so a focused one keeps its focus while
	 * the data refreshes; in the DOM from west to east (the tab order). */
	function renderMarkers(doc) {
		var g = map.svg.lastChild, seen = new Set(), items = [];
		(doc.data || []).forEach(function (d) {
			if (!placed(d)) return;
			var key = String(d.city_id);
			if (seen.has(key)) return;
			seen.add(key);
			var xy = map.proj([d.lon, d.lat]);
			if (!xy || !isFinite(xy[0]) || !isFinite(xy[1])) return;
			var c = map.markers.get(key);
			if (!c) {
				c = svg("circle", { "class": "city", r: 6, tabindex: 0, role: "img" });
				c.dataset.cityId = key;
				c.appendChild(svg("title", {}));
				c.addEventListener("mouseenter", showTip);
				c.addEventListener("focus", showTip);
				c.addEventListener("mouseleave", hideTip);
				c.addEventListener("blur", hideTip);
				map.markers.set(key, c);
			}
			c.setAttribute("cx", xy[0].toFixed(1));
			c.setAttribute("cy", xy[1].toFixed(1));
			c.setAttribute("fill", F.tempColor(d.temperature));
			c.setAttribute("aria-label", describe(d));
			c.firstChild.textContent = describe(d);
			c.owmCity = d;
			items.push({ x: xy[0], c: c });
		});
		map.markers.forEach(function (c, key) {
			if (!seen.has(key)) {
				c.remove();
				map.markers.delete(key);
			}
		});
		items.sort(function (a, b) { return a.x - b.x; });
		var prev = null;
		items.forEach(function (it) {
			var want = prev ? prev.nextSibling : g.firstChild;
			if (want !== it.c) g.insertBefore(it.c, want);
			prev = it.c;
		});
		if (tipFor && tipFor.isConnected) showTip.call(tipFor);
		return items.length;
	}

	var tipFor = null;	/* the marker the tooltip shows */

	function showTip() {
		var d = this.owmCity, tip = $("map-tip");
		if (!d) return;
		tipFor = this;
		var lines = [cityName(d) + (d.country ? " (" + d.country + ")" : ""),
		    num(d.temperature, 1) + " °C · humidity " + d.humidity + " %"];
		if (d.observed_at) lines.push("observed " + when(d.observed_at));
		tip.replaceChildren();
		lines.forEach(function (l, i) { tip.appendChild(el(i ? "span" : "strong", null, l)); });
		tip.hidden = false;
		/* Beside the marker, kept inside the canvas (CSSOM, not a style
		 * attribute: the CSP allows no inline styles). */
		var x = Number(this.getAttribute("cx")), y = Number(this.getAttribute("cy"));
		var w = tip.offsetWidth, h = tip.offsetHeight, W = map ? map.width : 0;
		var left = x + 12 + w > W ? x - 12 - w : x + 12;
		tip.style.left = Math.max(0, left) + "px";
		tip.style.top = Math.max(0, y - h / 2) + "px";
	}

	function hideTip() {
		if (tipFor !== this) return;
		tipFor = null;
		$("map-tip").hidden = true;
	}

	function renderLegend() {
		var box = $("map-legend");
		if (box.firstChild) return;
		box.appendChild(el("span", "legend-title", "Temperature (°C)"));
		var s = svg("svg", { "class": "legend-bar", viewBox: "0 0 100 10",
		    preserveAspectRatio: "none", "aria-hidden": "true" });
		var grad = svg("linearGradient", { id: "temp-scale", x1: 0, x2: 1, y1: 0, y2: 0 });
		var lo = F.STOPS[0][0], hi = F.STOPS[F.STOPS.length - 1][0];
		F.STOPS.forEach(function (st) {
			grad.appendChild(svg("stop", { offset: (st[0] - lo) / (hi - lo),
			    "stop-color": F.tempColor(st[0]) }));
		});
		var defs = svg("defs", {});
		defs.appendChild(grad);
		s.appendChild(defs);
		s.appendChild(svg("rect", { x: 0, y: 0, width: 100, height: 10, fill: "url(#temp-scale)" }));
		box.appendChild(s);
		var ticks = el("div", "legend-ticks");
		F.STOPS.forEach(function (st) {
			ticks.appendChild(el("span", null, (st[0] < 0 ? "−" + -st[0] : st[0])));
		});
		box.appendChild(ticks);
	}

	function renderMap(doc) {
		var canvas = $("map-canvas");
		renderLegend();
		if (!mapLibs()) {
			$("map-note").textContent = "The map's scripts did not load; the table below has every city.";
			return;
		}
		loadAtlas();
		var width = Math.floor(canvas.clientWidth);
		if (width < 100) return;	/* hidden: drawn when shown */
		if (!map || map.width !== width) {
			if (map) map.svg.remove();
			map = drawBase(width);
			canvas.insertBefore(map.svg, $("map-tip"));
		}
		var drawn = renderMarkers(doc);
		var data = doc.data || [];
		var failed = data.filter(function (d) { return typeof d.error === "string"; }).length;
		var unseen = data.length - failed - drawn;
		var pending = Math.max(0, doc.total - doc.collected - doc.failed);
		var parts = [];
		if (failed) parts.push(failed + " failed");
		if (unseen > 0) parts.push(unseen + " without coordinates yet");
		if (pending) parts.push(pending + " not collected yet");
		$("map-note").textContent = drawn + " of " + F.cities(doc.total) + " on the map" +
		    (parts.length ? " · not placed: " + parts.join(", ") : "");
	}

	var resizeTimer = null;
	window.addEventListener("resize", function () {
		clearTimeout(resizeTimer);
		resizeTimer = setTimeout(function () {
			if (lastDoc && !$("detail").hidden) renderMap(lastDoc);
		}, 150);
	});

	/* ---- the detail: the table -------------------------------------------- */

	function renderRows(doc) {
		var data = (doc.data || []).slice();
		if (sortKey) data.sort(F.compareRows(sortKey, sortDir));
		var rows = document.createDocumentFragment();
		data.forEach(function (d) {
			var tr = el("tr");
			tr.dataset.cityId = String(d.city_id);
			var city = el("td", "city");
			city.appendChild(el("bdi", "name", cityName(d)));
			if (typeof d.name === "string" && d.name !== "")
				city.appendChild(el("span", "cid", d.city_id));
			tr.appendChild(city);
			tr.appendChild(el("td", "country", typeof d.country === "string" ? d.country : ""));
			if (typeof d.error === "string") {
				tr.className = "failed";
				var td = el("td", "error", "failed: " + d.error);
				td.colSpan = 3;
				tr.appendChild(td);
			} else {
				var temp = el("td", "num temperature", num(d.temperature, 2));
				var sw = el("span", "swatch");
				temp.prepend(sw);
				sw.style.backgroundColor = F.tempColor(d.temperature) || "transparent";
				tr.appendChild(temp);
				tr.appendChild(el("td", "num humidity", d.humidity));
				var td2 = el("td", "observed");
				var t = el("time", null, when(d.observed_at));
				t.dateTime = d.observed_at || "";
				td2.appendChild(t);
				tr.appendChild(td2);
			}
			rows.appendChild(tr);
		});
		$("data-rows").replaceChildren(rows);
		document.querySelectorAll("#data-table th[data-sort]").forEach(function (th) {
			if (th.dataset.sort === sortKey) th.setAttribute("aria-sort", sortDir);
			else th.removeAttribute("aria-sort");
		});
	}

	document.querySelectorAll("#data-table th[data-sort] button").forEach(function (b) {
		b.addEventListener("click", function () {
			var key = b.parentNode.dataset.sort;
			sortDir = key === sortKey && sortDir === "ascending" ? "descending" : "ascending";
			sortKey = key;
			if (lastDoc) renderRows(lastDoc);
		});
	});

	function csvName(id) {
		var s = String(id).replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 80);
		return (s || "request") + ".csv";
	}

	/* ---- the detail view ---------------------------------------------- */

	function renderDetail(doc) {
		lastDoc = doc;
		$("detail-id").textContent = doc.id;
		$("detail").hidden = false;
		var csv = $("csv-link");
		csv.href = "get?id=" + encodeURIComponent(doc.id) + "&format=csv";
		csv.download = csvName(doc.id);
		csv.hidden = false;
		renderProgress(doc);
		renderRows(doc);
		renderMap(doc);
		detailDone = !!doc.finished_at;
	}

	function detailError(id, e) {
		lastDoc = null;
		$("detail-id").textContent = id;
		$("detail-summary").textContent = e.message;
		$("detail-bar").hidden = true;
		$("detail-eta").hidden = $("detail-gate").hidden = true;
		$("csv-link").hidden = true;
		$("data-rows").replaceChildren();
		$("detail").hidden = false;
		if (map) map.svg.remove();
		map = null;
		$("map-note").textContent = "";
		detailDone = e.status === 404;
	}

	function loadDetail() {
		var id = selected, n = ++detailSeq;
		if (id === null) return Promise.resolve();
		var gate = detailDone ? Promise.resolve() : loadGate();
		var get = api("GET", "get?id=" + encodeURIComponent(id));
		return Promise.all([get, gate]).then(function (got) {
			if (n !== detailSeq) return;
			$("detail-bar").hidden = false;
			renderDetail(got[0]);
		}, function (e) {
			if (n !== detailSeq) return;
			if (!e.status) throw e;
			detailError(id, e);
		});
	}

	/* Shows id's view (null: none) as the URL says; navigate() also puts
	 * it in the history.  focus: a person chose it here, so the view
	 * takes the focus (and scrolls into sight) once loaded; lazy: the
	 * next tick loads it (the first one, at start). */
	function show(id, focus, lazy) {
		if (id !== selected) {
			lastDoc = null;
			sortKey = null;
			$("data-rows").replaceChildren();
			if (map) map.svg.remove();
			map = null;
			$("map-note").textContent = "";
		}
		selected = id;
		detailDone = false;
		document.title = (id === null ? "" : "Request " + id + " · ") + "owmcollect status";
		Array.prototype.forEach.call(list.children, markCurrent);
		if (id === null) {
			detailSeq++;
			$("detail").hidden = true;
			return;
		}
		$("detail-close").href = location.pathname;
		if (lazy) return;
		loadDetail().then(function () {
			if (!focus) return;
			$("detail").scrollIntoView({ block: "start", behavior: "smooth" });
			$("detail-h").focus({ preventScroll: true });
		}, conn);
		schedule(FAST);
	}

	function navigate(id) {
		if (id === selected && !$("detail").hidden) return;
		history.pushState({ id: id }, "", pageUrl(id));
		show(id, id !== null);
	}

	/* The request the URL names: ?id=..., or the old #id links. */
	function fromUrl() {
		var id = new URLSearchParams(location.search).get("id");
		if (id === null && location.hash.length > 1) {
			try {
				id = decodeURIComponent(location.hash.slice(1));
				history.replaceState({ id: id }, "", pageUrl(id));
			} catch (e) {
				id = null;
			}
		}
		return id;
	}

	window.addEventListener("popstate", function () { show(fromUrl(), false); });

	$("detail-close").addEventListener("click", function (ev) {
		if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
		ev.preventDefault();
		navigate(null);
	});

	/* ---- polling ---------------------------------------------------------- */

	function conn(e) {
		var c = $("conn");
		if (!e) {
			c.hidden = true;
			c.textContent = "";
			return;
		}
		c.hidden = false;
		c.textContent = "Cannot reach the service (" + e.message + "); retrying…";
	}

	function schedule(ms) {
		clearTimeout(timer);
		timer = setTimeout(tick, ms);
	}

	/* The list: whether a request in it is still running; a 401 asks for
	 * the token instead (a token sent and refused is forgotten). */
	function loadList() {
		var sent = token !== null;
		return api("GET", "collect?limit=20").then(function (doc) {
			var reqs = doc.requests || [];
			tokenAccepted();
			renderList(reqs);
			return reqs.some(function (r) { return !r.finished_at; });
		}, function (e) {
			if (e.status !== 401) throw e;
			askToken(sent ? "That token was refused." : null);
			return false;
		});
	}

	function tick() {
		if (busy) {
			again = true;
			return;
		}
		busy = true;
		again = false;
		var running = false;
		/* While the list waits for a token it is not asked again; a
		 * request's own page goes on without one. */
		(locked ? Promise.resolve() : loadList()).then(function (r) {
			running = !!r;
			if (selected !== null && !detailDone) {
				running = true;
				return loadDetail();
			}
		}).then(function () {
			failures = 0;
			conn(null);
			busy = false;
			if (again) schedule(0);
			else if (document.hidden) schedule(HIDDEN);
			else schedule(running ? FAST : IDLE);
		}, function (e) {
			busy = false;
			failures++;
			conn(e);
			schedule(Math.min(MAX_BACKOFF, FAST * Math.pow(2, failures)));
		});
	}

	document.addEventListener("visibilitychange", function () {
		if (!document.hidden) schedule(0);
	});

	/* ---- the form ------------------------------------------------------------ */

	var form = $("collect-form");
	var msg = $("collect-message");

	function say(text, isError) {
		msg.textContent = text;
		msg.classList.toggle("error", !!isError);
		msg.setAttribute("role", isError ? "alert" : "status");
	}

	/* The body as JSON text; city ids stay digit strings so no id is ever
	 * rounded by a double.  Returns an error sentence for a bad token. */
	function body(id, cities) {
		var out = '{"id": ' + JSON.stringify(id);
		var toks = cities.split(/[\s,;]+/).filter(function (t) { return t !== ""; });
		if (toks.length) {
			for (var i = 0; i < toks.length; i++) {
				if (!/^[0-9]+$/.test(toks[i]))
					return { error: "“" + toks[i] + "” is not a city id: use digits separated by commas." };
				toks[i] = toks[i].replace(/^0+(?=[0-9])/, "");
			}
			out += ', "cities": [' + toks.join(", ") + "]";
		}
		return { json: out + "}" };
	}

	form.addEventListener("submit", function (ev) {
		ev.preventDefault();
		var id = $("collect-id").value;
		var b = body(id, $("collect-cities").value);
		if (b.error) {
			say(b.error, true);
			$("collect-cities").focus();
			return;
		}
		var btn = $("collect-submit");
		btn.disabled = true;
		say("Sending…", false);
		api("POST", "collect", b.json).then(function (doc) {
			say("Started “" + doc.id + "”: " + doc.total +
			    (doc.total === 1 ? " city." : " cities."), false);
			$("collect-id").value = "";
			history.pushState({ id: doc.id }, "", pageUrl(doc.id));
			show(doc.id, false);
			schedule(0);
		}, function (e) {
			if (e.status === 401) {
				askToken(null);
				say("Starting a collection needs this service's access token: " +
				    "enter it under Recent requests, then send again.", true);
				$("token-input").focus();
			} else {
				say(e.status ? e.message : "Could not reach the service: " + e.message, true);
				$("collect-id").focus();
			}
		}).then(function () { btn.disabled = false; });
	});

	/* ---- start ------------------------------------------------------------------ */

	show(fromUrl(), false, true);
	tick();
})();
