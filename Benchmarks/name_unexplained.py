"""Gives every unit of a run without an explanation the built-in example's planted concept name.

A tiny model's explanations are mostly refused (echoes, loops), which leaves the later stages
nothing to score; the real-server benchmarks name those units (explainer `benchmark`, model
`fixed`) so the simulator, the judge and the classifiers are measured on every unit.

Usage: python3 name_unexplained.py RESULTS/RUN/autointerp.sqlite
"""
import datetime
import sqlite3
import sys

NAMES = {0: "animal words", 1: "number words", 2: "colour words", 3: "the word after 'the'", 4: "the word after a comma"}

db = sqlite3.connect(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
for uid, kind, idx in db.execute("SELECT id, kind, idx FROM units WHERE id NOT IN (SELECT unit_id FROM explanations)").fetchall():
    text = NAMES.get(idx, "animal words") if kind == "feature" else "animal words"
    db.execute("INSERT INTO explanations (unit_id, explainer, model, text, created_at) VALUES (?, 'benchmark', 'fixed', ?, ?)", (uid, text, now))
db.commit()
