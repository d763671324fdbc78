/* owmcollect status page: lists recent requests with live progress, starts
 * collections and shows a request's data.  No framework, no build step.
 * Everything from the API goes into the page through textContent only. */
"use strict";

(function () {
	var FAST = 1000;	/* while something is unfinished */
	var IDLE = 10000;	/* nothing running: still notice other clients */
	var HIDDEN = 30000;	/* tab in the background */
	var MAX_BACKOFF = 30000;

	var $ = function (id) { return document.getElementById(id); };
	var list = $("requests");
	var selected = null;		/* id shown in #detail, or null */
	var detailDone = false;		/* its data will not change again */
	var timer = null;
	var failures = 0;
	var busy = false;		/* a tick is in flight */
	var again = false;		/* ... and another was asked for meanwhile */
	var detailSeq = 0;		/* only the newest /get answer is shown */

	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined && text !== null) e.textContent = String(text);
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

	/* fetch + JSON; rejects with an Error whose message is the API's. */
	function api(method, path, body) {
		var opt = { method: method, cache: "no-store",
			    headers: { "Accept": "application/json" } };
		if (body !== undefined) {
			opt.headers["Content-Type"] = "application/json";
			opt.body = body;
		}
		return fetch(path, opt).then(function (r) {
			return r.text().then(function (t) {
				var doc = null;
				try { doc = JSON.parse(t); } catch (e) { /* not JSON */ }
				if (r.ok && doc) return doc;
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
		var b = el("button", "req-btn");
		b.type = "button";
		b.setAttribute("aria-controls", "detail");
		var head = el("span", "req-head");
		var name = el("bdi", "req-id", r.id);
		name.id = "req-name-" + n;
		head.appendChild(name);
		head.appendChild(el("span", "req-pct"));
		b.appendChild(head);
		b.appendChild(makeBar(name.id));
		var meta = el("span", "req-meta");
		meta.appendChild(el("time", "req-time"));
		meta.appendChild(el("span", "req-counts"));
		b.appendChild(meta);
		b.addEventListener("click", function () { select(li.dataset.id); });
		li.appendChild(b);
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
		var btn = li.firstChild;
		if (r.id === selected) btn.setAttribute("aria-current", "true");
		else btn.removeAttribute("aria-current");
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

	/* ---- the detail view ---------------------------------------------- */

	function num(v, digits) {
		return typeof v === "number" ? v.toFixed(digits) : "";
	}

	function renderDetail(doc) {
		$("detail-id").textContent = doc.id;
		var s = counts(doc) + " · " + pct(doc.progress).toFixed(2) + "%";
		s += doc.finished_at ? " · finished " + when(doc.finished_at)
		    : " · started " + when(doc.requested_at) + ", still collecting";
		$("detail-summary").textContent = s;
		var rows = document.createDocumentFragment();
		(doc.data || []).forEach(function (d) {
			var tr = el("tr");
			tr.dataset.cityId = String(d.city_id);
			tr.appendChild(el("td", "city", d.city_id));
			if (typeof d.error === "string") {
				tr.className = "failed";
				var td = el("td", "error", "failed: " + d.error);
				td.colSpan = 3;
				tr.appendChild(td);
			} else {
				tr.appendChild(el("td", "num temperature", num(d.temperature, 2)));
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
		$("detail").hidden = false;
		detailDone = !!doc.finished_at;
	}

	function loadDetail() {
		var id = selected, n = ++detailSeq;
		if (id === null) return Promise.resolve();
		return api("GET", "get?id=" + encodeURIComponent(id)).then(function (doc) {
			if (n === detailSeq) renderDetail(doc);
		}, function (e) {
			if (n !== detailSeq) return;
			if (!e.status) throw e;
			$("detail-id").textContent = id;
			$("detail-summary").textContent = e.message;
			$("data-rows").replaceChildren();
			$("detail").hidden = false;
			detailDone = e.status === 404;
		});
	}

	function select(id) {
		selected = id;
		detailDone = false;
		Array.prototype.forEach.call(list.children, function (li) {
			if (li.dataset.id === id) li.firstChild.setAttribute("aria-current", "true");
			else li.firstChild.removeAttribute("aria-current");
		});
		history.replaceState(null, "", "#" + encodeURIComponent(id));
		loadDetail().then(function () {
			$("detail").scrollIntoView({ block: "nearest", behavior: "smooth" });
		}, conn);
		schedule(FAST);
	}

	$("detail-close").addEventListener("click", function () {
		selected = null;
		detailSeq++;
		$("detail").hidden = true;
		history.replaceState(null, "", location.pathname + location.search);
		Array.prototype.forEach.call(list.children, function (li) {
			li.firstChild.removeAttribute("aria-current");
		});
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

	function tick() {
		if (busy) {
			again = true;
			return;
		}
		busy = true;
		again = false;
		var running = false;
		api("GET", "collect?limit=20").then(function (doc) {
			var reqs = doc.requests || [];
			renderList(reqs);
			running = reqs.some(function (r) { return !r.finished_at; });
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
			select(doc.id);
			schedule(0);
		}, function (e) {
			say(e.status ? e.message : "Could not reach the service: " + e.message, true);
			$("collect-id").focus();
		}).then(function () { btn.disabled = false; });
	});

	/* ---- start ------------------------------------------------------------------ */

	if (location.hash.length > 1) {
		try {
			selected = decodeURIComponent(location.hash.slice(1));
		} catch (e) {
			selected = null;
		}
	}
	tick();
})();
