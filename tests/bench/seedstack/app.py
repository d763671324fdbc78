"""The seed's stack, as a baseline for bench.py's "seed" section.

The service this project replaces ran on FastAPI + SQLAlchemy + MariaDB;
its code is not at hand, so this is that stack written here to its
described behaviour, the way such a service is commonly written: a
pydantic body, an ORM session per request, a collection row and one
pending row per city, committed before the 202.  How those rows are
written moves its pace tenfold, so both common ways are measured
(SEED_ROWS, below).  POST /collect/ takes
{"id": string or integer} (a duplicate is 409) and GET /get/?id= answers
the progress.  No worker: the bench measures the POST, which in the seed
only stores the work, as this project's POST does.

Run by bench.py under uvicorn (Debian's python3-fastapi, python3-uvicorn,
python3-sqlalchemy, python3-pymysql), one process a core, with
SEED_DB_URL (an SQLAlchemy URL) and SEED_CITIES (a file of city ids).
"""
import datetime
import os
from typing import Union

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import (BigInteger, Column, DateTime, Float, ForeignKey, Integer, String,
                        create_engine)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import declarative_base, relationship, sessionmaker

engine = create_engine(os.environ["SEED_DB_URL"], pool_size=16, max_overflow=16,
                       pool_pre_ping=True)
Session = sessionmaker(bind=engine)
Base = declarative_base()

with open(os.environ["SEED_CITIES"]) as f:
    CITIES = [int(x) for x in f.read().split()]
# How the cities' rows are written (SEED_ROWS): "orm", through the
# relationship, which sends one INSERT a row to learn each row's id; or
# "many", one executemany, which PyMySQL sends as one multi-row INSERT.
ROWS = os.environ.get("SEED_ROWS", "many")
if ROWS not in ("orm", "many"):
    raise SystemExit("SEED_ROWS: orm or many")


class Collection(Base):
    __tablename__ = "collections"
    id = Column(BigInteger, primary_key=True, autoincrement=True)
    user_id = Column(String(128), unique=True, nullable=False)
    requested_at = Column(DateTime(timezone=False), nullable=False)
    cities = relationship("CityWeather", back_populates="collection")


class CityWeather(Base):
    __tablename__ = "city_weather"
    id = Column(BigInteger, primary_key=True, autoincrement=True)
    collection_id = Column(BigInteger, ForeignKey("collections.id"), nullable=False,
                           index=True)
    city_id = Column(Integer, nullable=False)
    state = Column(String(16), nullable=False, default="pending")
    temperature = Column(Float)
    humidity = Column(Integer)
    collection = relationship("Collection", back_populates="cities")


Base.metadata.create_all(engine)
app = FastAPI()


class CollectBody(BaseModel):
    id: Union[str, int]


@app.post("/collect/", status_code=202)
def collect(body: CollectBody):
    uid = str(body.id)
    if not 1 <= len(uid) <= 128:
        raise HTTPException(status_code=400, detail="id must be 1..128 bytes")
    with Session() as s:
        c = Collection(user_id=uid, requested_at=datetime.datetime.utcnow())
        if ROWS == "orm":
            c.cities = [CityWeather(city_id=x, state="pending") for x in CITIES]
        s.add(c)
        try:
            s.flush()
        except IntegrityError:
            raise HTTPException(status_code=409, detail="id already used")
        if ROWS == "many":
            s.execute(CityWeather.__table__.insert(),
                      [{"collection_id": c.id, "city_id": x, "state": "pending"}
                       for x in CITIES])
        s.commit()
        return {"id": uid, "progress": 0.0}


@app.get("/get/")
def get(id: str):
    with Session() as s:
        c = s.query(Collection).filter_by(user_id=id).one_or_none()
        if c is None:
            raise HTTPException(status_code=404, detail="no such id")
        done = sum(1 for x in c.cities if x.state != "pending")
        return {"id": id, "progress": round(100.0 * done / len(c.cities), 2),
                "data": [{"city_id": x.city_id, "temperature": x.temperature,
                          "humidity": x.humidity} for x in c.cities if x.state == "collected"]}
