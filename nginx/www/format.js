/* owmcollect status page: the pure parts, no DOM.  The page loads this
 * before app.js (window.owmFormat); the browser test require()s it, so
 * what it promises is checked without a browser too.
 *
 * timeLeft(left, perMinute)  "about 1 min 20 s left" for 80 cities at 60/min
 * tempColor(celsius)         a marker's fill on the legend's scale
 * gateText(gate)             what /health's "gate" means, in a sentence
 * compareRows(key, dir)      the table's order: nulls and failures last */
"use strict";

(function (root) {
	/* Seconds as "45 s", "1 min 20 s", "2 min", "1 h 5 min". */
	function duration(s) {
		s = Math.max(0, Math.round(s));
		if (s < 60) return s + " s";
		if (s < 3600) {
			var m = Math.floor(s / 60), r = s % 60;
			return m + " min" + (r ? " " + r + " s" : "");
		}
		var h = Math.floor(s / 3600), mm = Math.round((s % 3600) / 60);
		if (mm === 60) {
			h++;
			mm = 0;
		}
		return h + " h" + (mm ? " " + mm + " min" : "");
	}

	/* The gate lets perMinute cities through a minute, evenly spread (one
	 * batch every batch/perMinute minutes), so `left` cities need
	 * left / perMinute minutes once it is their turn.  null when the pace
	 * is unknown. */
	function timeLeft(left, perMinute) {
		if (!(left > 0)) return "nothing left";
		if (!(perMinute > 0) || !isFinite(perMinute)) return null;
		return "about " + duration(Math.ceil(left * 60 / perMinute)) + " left";
	}

	function cities(n) {
		return n + (n === 1 ? " city" : " cities");
	}

	/* Blue (cold) to red (hot), ColorBrewer's RdYlBu reversed; clamped. */
	var STOPS = [
		[-30, [0x31, 0x36, 0x95]],
		[-15, [0x45, 0x75, 0xb4]],
		[0, [0xab, 0xd9, 0xe9]],
		[15, [0xfe, 0xe0, 0x90]],
		[30, [0xf4, 0x6d, 0x43]],
		[45, [0xa5, 0x00, 0x26]]
	];

	function hex(rgb) {
		return "#" + rgb.map(function (v) {
			return (Math.round(v) | 0x100).toString(16).slice(1);
		}).join("");
	}

	function tempColor(c) {
		if (typeof c !== "number" || !isFinite(c)) return null;
		if (c <= STOPS[0][0]) return hex(STOPS[0][1]);
		for (var i = 1; i < STOPS.length; i++) {
			if (c <= STOPS[i][0]) {
				var a = STOPS[i - 1], b = STOPS[i];
				var t = (c - a[0]) / (b[0] - a[0]);
				return hex(a[1].map(function (v, k) { return v + (b[1][k] - v) * t; }));
			}
		}
		return hex(STOPS[STOPS.length - 1][1]);
	}

	var REASONS = {
		"429": "the API answered 429 (too many requests)",
		"invalid key": "the API refuses the key",
		"monthly cap": "this month's allowance (owm.cities_per_month) is used up"
	};

	function clock(iso, withDate) {
		var d = new Date(iso);
		if (!iso || isNaN(d.getTime())) return null;
		var o = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
		if (withDate) {
			o.month = "short";
			o.day = "numeric";
		}
		return d.toLocaleString(undefined, o);
	}

	/* { paused: bool, text } from /health's gate (null: unknown). */
	function gateText(gate) {
		if (!gate || ["running", "paused", "held"].indexOf(gate.state) < 0)
			return { paused: false, known: false, text: "Gate: state unknown" };
		if (gate.state === "running")
			return { paused: false, known: true, text: "Gate running" };
		if (gate.state === "held") {
			var since = clock(gate.since, false);
			return { paused: true, known: true,
			    text: "Gate held: the API is unreachable" +
			    (since ? " since " + since : "") +
			    (gate.error ? " (" + String(gate.error) + ")" : "") +
			    "; no city fails, calls resume by themselves" };
		}
		var why = REASONS[gate.reason] || (gate.reason ? String(gate.reason) : "no reason given");
		var until = clock(gate.until, gate.reason === "monthly cap");
		return { paused: true, known: true,
		    text: "Gate paused: " + why + (until ? "; until " + until : "") };
	}

	/* Sort order of /get's data items by key ("name", "country",
	 * "temperature", "humidity"), dir "ascending" | "descending".  Items
	 * without that value (a failed city, a city not seen yet) come last
	 * either way; ties keep the request's order (Array.sort is stable). */
	var collator = typeof Intl === "object" ? new Intl.Collator(undefined, { sensitivity: "base" }) : null;

	function value(d, key) {
		var v = d ? d[key] : null;
		if (key === "name" || key === "country")
			return typeof v === "string" && v !== "" ? v : null;
		return typeof v === "number" && isFinite(v) ? v : null;
	}

	function compareRows(key, dir) {
		var sign = dir === "descending" ? -1 : 1;
		return function (a, b) {
			var x = value(a, key), y = value(b, key);
			if (x === null || y === null) return (x === null) - (y === null);
			if (typeof x === "string")
				return sign * (collator ? collator.compare(x, y) : (x < y ? -1 : x > y ? 1 : 0));
			return sign * (x - y);
		};
	}

	var api = {
		duration: duration,
		timeLeft: timeLeft,
		cities: cities,
		STOPS: STOPS,
		tempColor: tempColor,
		gateText: gateText,
		compareRows: compareRows,
		value: value
	};
	if (typeof module === "object" && module.exports)
		module.exports = api;
	else
		root.owmFormat = api;
})(this);
