#!/usr/bin/env python3
"""Per-unit cost and parse rates of one autointerp run, read from its database.

usage: run_costs.py RUN.sqlite [--wall SECONDS] [--cpu SECONDS]

Per unit: LLM calls that reached the endpoint, prompt / cached / completion tokens (llm_calls
with the unit's name: its own explanation's stages and its control's), simulations that parsed,
rubric examples rated, detection and fuzzing answers that parsed (own + control) with the
balanced accuracies of the unit's own explanation, and the explanation.
"""
import argparse, sqlite3, statistics

p = argparse.ArgumentParser()
p.add_argument("db")
p.add_argument("--wall", type=float)
p.add_argument("--cpu", type=float)
a = p.parse_args()
db = sqlite3.connect(a.db)
q = lambda sql, *args: db.execute(sql, args).fetchall()

units = q("SELECT u.id, u.kind || ' ' || u.idx, (SELECT text FROM explanations e WHERE e.unit_id = u.id AND e.control_of IS NULL ORDER BY id LIMIT 1),"
          " (SELECT id FROM explanations e WHERE e.unit_id = u.id AND e.control_of IS NULL ORDER BY id LIMIT 1) FROM units u ORDER BY u.kind, u.idx")
rows = []
for uid, name, text, eid in units:
    calls, prompt, cached, completion, latency = q(
        "SELECT COUNT(*), TOTAL(prompt_tokens), TOTAL(cached_tokens), TOTAL(completion_tokens), TOTAL(latency_ms)"
        " FROM llm_calls WHERE unit = ? AND cached = 0", name)[0]
    by_stage = dict(q("SELECT stage, COUNT(*) FROM llm_calls WHERE unit = ? AND cached = 0 GROUP BY stage", name))
    sims_ok, sims = q("SELECT TOTAL(status = 'ok'), COUNT(*) FROM simulations WHERE explanation_id = ?", eid)[0] if eid else (0, 0)
    rated = q("SELECT COUNT(*) FROM rubric_ratings WHERE explanation_id = ?", eid)[0][0] if eid else 0
    unrated = q("SELECT COUNT(*) FROM rubric_failures WHERE explanation_id = ?", eid)[0][0] if eid else 0
    spearman = q("SELECT value FROM scores WHERE explanation_id = ? AND metric = 'spearman' AND subset = 'all'", eid) if eid else []
    cls_ok, cls = q("SELECT TOTAL(c.status = 'ok'), COUNT(*) FROM classifications c JOIN explanations e ON e.id = c.explanation_id"
                    " WHERE e.unit_id = ?", uid)[0]
    ba = lambda scorer: (q("SELECT value FROM scores WHERE explanation_id = ? AND metric = ? AND subset = 'all'", eid, scorer + "_balanced_accuracy") or [(None,)])[0][0] if eid else None
    rows.append(dict(cls_ok=int(cls_ok), cls=cls, detection=ba("detection"), fuzzing=ba("fuzzing"), unit=name, calls=calls, prompt=int(prompt), cached=int(cached), completion=int(completion), latency=latency / 1000,
                     stages=by_stage, sims_ok=int(sims_ok), sims=sims, rated=rated, unrated=unrated, text=text,
                     spearman=spearman[0][0] if spearman else None))

print(f"{'unit':<12} {'calls':>5} {'prompt':>7} {'cached':>7} {'compl':>6} {'tokens':>7} {'net s':>6} {'sim ok':>7} {'rated':>7} {'classify':>9}  spearman  det BA  fuzz BA  explanation")
for r in rows:
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
    sp = fmt(r["spearman"])
    print(f"{r['unit']:<12} {r['calls']:>5} {r['prompt']:>7} {r['cached']:>7} {r['completion']:>6} {r['prompt'] + r['completion']:>7}"
          f" {r['latency']:>6.1f} {r['sims_ok']:>3}/{r['sims']:<3} {r['rated']:>3}/{r['rated'] + r['unrated']:<3} {r['cls_ok']:>4}/{r['cls']:<4}  {sp:>8}  {fmt(r['detection']):>6}  {fmt(r['fuzzing']):>7}  {(r['text'] or '(none)')[:50]}")
worked = [r for r in rows if r["calls"] > 0]
if worked:
    mean = lambda key: statistics.mean(r[key] for r in worked)
    print(f"mean per unit ({len(worked)} units with calls): {mean('calls'):.1f} calls, "
          f"{statistics.mean(r['prompt'] + r['completion'] for r in worked):.0f} tokens "
          f"({mean('prompt'):.0f} prompt, of which {mean('cached'):.0f} cached; {mean('completion'):.0f} completion)")
    stages = {}
    for r in worked:
        for s, n in r["stages"].items(): stages[s] = stages.get(s, 0) + n
    print("calls per unit by stage: " + ", ".join(f"{s} {n / len(worked):.1f}" for s, n in sorted(stages.items())))
    names = [r["unit"] for r in worked]
    marks = ",".join("?" * len(names))
    by_stage = q(f"SELECT stage, TOTAL(prompt_tokens + completion_tokens), TOTAL(cached_tokens) FROM llm_calls WHERE cached = 0 AND unit IN ({marks})"
                 " GROUP BY stage ORDER BY stage", *names)
    print("tokens per unit by stage (of which cached): " + ", ".join(f"{s} {t / len(worked):.0f} ({c / len(worked):.0f})" for s, t, c in by_stage))
sims = sum(r["sims"] for r in rows); ok = sum(r["sims_ok"] for r in rows)
rated = sum(r["rated"] for r in rows); asked = rated + sum(r["unrated"] for r in rows)
cls = sum(r["cls"] for r in rows); cls_ok = sum(r["cls_ok"] for r in rows)
print(f"parsed: simulations {ok}/{sims} ({100 * ok / max(1, sims):.1f} %), rubric {rated}/{asked} ({100 * rated / max(1, asked):.1f} %),"
      f" detection + fuzzing {cls_ok}/{cls} ({100 * cls_ok / max(1, cls):.1f} %)")
explained = sum(1 for r in rows if r["text"])
print(f"explanations stored: {explained}/{len(rows)}; distinct texts: {len(set(r['text'] for r in rows if r['text']))}")
other = q("SELECT COALESCE(stage, 'none'), COUNT(*) FROM llm_calls WHERE unit IS NULL AND cached = 0 GROUP BY stage")
if other: print("calls without a unit: " + ", ".join(f"{s} {n}" for s, n in other))
if a.wall: print(f"wall time {a.wall:.1f} s ({a.wall / max(1, len(worked)):.1f} s per unit)")
if a.cpu is not None: print(f"autointerp CPU time {a.cpu:.2f} s ({1000 * a.cpu / max(1, len(rows)):.1f} ms per unit)")
