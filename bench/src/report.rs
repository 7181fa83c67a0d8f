//! Samples, medians and spread, the printed table and the JSON file.

use crate::figures::{Figure, FIGURES};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// What a figure should reach. Ratios are pouchd/dockerd of the medians;
/// absolute targets apply to pouchd's median.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    RatioLe(f64),
    RatioGe(f64),
    AbsLe(f64),
    AbsGe(f64),
    Info,
}

impl Target {
    pub fn text(&self, unit: &str) -> String {
        match self {
            Target::RatioLe(t) => format!("<= {t}x"),
            Target::RatioGe(t) => format!(">= {t}x"),
            Target::AbsLe(t) => format!("<= {t} {unit}"),
            Target::AbsGe(t) => format!(">= {t}"),
            Target::Info => String::new(),
        }
    }
}

/// Median, range and 10th/90th percentiles of a figure's samples.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p10: f64,
    pub p90: f64,
}

pub fn stat(v: &[f64]) -> Option<Stat> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    // Nearest rank; with few samples these are the min and the max.
    let rank = |p: f64| s[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(Stat {
        n,
        median,
        min: s[0],
        max: s[n - 1],
        p10: rank(0.10),
        p90: rank(0.90),
    })
}

/// Samples per figure and daemon (0 = pouchd, 1 = dockerd), notes, errors.
#[derive(Default)]
pub struct Recorder {
    samples: HashMap<&'static str, [Vec<f64>; 2]>,
    notes: BTreeMap<&'static str, Vec<String>>,
    pub errors: Vec<String>,
}

impl Recorder {
    pub fn add(&mut self, id: &'static str, daemon: usize, v: f64) {
        if !FIGURES.iter().any(|f| f.id == id) {
            let e = format!("bench bug: sample of unknown figure {id}");
            if !self.errors.contains(&e) {
                self.errors.push(e);
            }
            return;
        }
        self.samples.entry(id).or_default()[daemon].push(v);
    }

    pub fn note(&mut self, id: &'static str, text: impl Into<String>) {
        let text = text.into();
        let notes = self.notes.entry(id).or_default();
        if !notes.contains(&text) {
            notes.push(text);
        }
    }

    fn stats(&self, id: &str) -> [Option<Stat>; 2] {
        match self.samples.get(id) {
            Some([a, b]) => [stat(a), stat(b)],
            None => [None, None],
        }
    }

    fn has(&self, id: &str) -> bool {
        self.samples
            .get(id)
            .is_some_and(|[a, b]| !a.is_empty() || !b.is_empty())
    }
}

struct Row {
    fig: &'static Figure,
    s: [Option<Stat>; 2],
    ratio: Option<f64>,
    verdict: &'static str,
}

fn rows(rec: &Recorder) -> Vec<Row> {
    FIGURES
        .iter()
        .filter(|f| rec.has(f.id))
        .map(|fig| {
            let s = rec.stats(fig.id);
            let ratio = match s {
                [Some(p), Some(d)] if d.median != 0.0 => Some(p.median / d.median),
                _ => None,
            };
            let p = s[0].map(|p| p.median);
            let verdict = match (fig.target, ratio, p) {
                (Target::Info, _, _) => "",
                (Target::RatioLe(t), Some(r), _) => pass(r <= t),
                (Target::RatioGe(t), Some(r), _) => pass(r >= t),
                (Target::AbsLe(t), _, Some(p)) => pass(p <= t),
                (Target::AbsGe(t), _, Some(p)) => pass(p >= t),
                _ => "n/a",
            };
            Row {
                fig,
                s,
                ratio,
                verdict,
            }
        })
        .collect()
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISS"
    }
}

/// A number with about three significant digits.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || (v == v.trunc() && a >= 10.0) {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn cell(s: Option<Stat>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n == 1 || s.median == 0.0 => num(s.median),
        Some(s) => {
            let spread = (s.p90 - s.median).max(s.median - s.p10) / s.median.abs() * 100.0;
            format!("{} ±{:.0}%", num(s.median), spread)
        }
    }
}

/// The table: median ±spread for both daemons (spread: the larger distance
/// from the median to the 10th or 90th percentile, in % of the median; with
/// fewer than 10 samples that is the min or the max), the ratio
/// pouchd/dockerd of the medians and the verdict.
pub fn table(rec: &Recorder) -> String {
    let mut lines = vec![[
        "figure".to_string(),
        "unit".into(),
        "pouchd".into(),
        "dockerd".into(),
        "ratio".into(),
        "target".into(),
        "".into(),
    ]];
    for r in rows(rec) {
        let title = if r.fig.detail {
            format!("  {}", r.fig.title)
        } else {
            r.fig.title.to_string()
        };
        lines.push([
            title,
            r.fig.unit.into(),
            cell(r.s[0]),
            cell(r.s[1]),
            r.ratio
                .map(|x| format!("{x:.2}x"))
                .unwrap_or_else(|| "-".into()),
            r.fig.target.text(r.fig.unit),
            r.verdict.into(),
        ]);
    }
    let mut width = [0usize; 7];
    for l in &lines {
        for (w, c) in width.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let mut row = String::new();
        for (k, (c, w)) in l.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            if (2..=4).contains(&k) {
                row.push_str(&" ".repeat(pad));
                row.push_str(c);
            } else {
                row.push_str(c);
                row.push_str(&" ".repeat(pad));
            }
            row.push_str("  ");
        }
        out.push_str(row.trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(width.iter().sum::<usize>() + 12));
            out.push('\n');
        }
    }
    if !rec.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for (id, notes) in &rec.notes {
            for n in notes {
                out.push_str(&format!("  {id}: {n}\n"));
            }
        }
    }
    if !rec.errors.is_empty() {
        out.push_str("\nerrors:\n");
        for e in &rec.errors {
            out.push_str(&format!("  {e}\n"));
        }
    }
    out
}

fn stat_json(s: Option<Stat>, samples: &[f64]) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({
            "median": s.median, "min": s.min, "max": s.max, "p10": s.p10, "p90": s.p90,
            "n": s.n, "samples": samples,
        }),
    }
}

/// Everything, for target/bench/results.json.
pub fn json(rec: &Recorder, meta: Value) -> Value {
    let figures: Vec<Value> = rows(rec)
        .into_iter()
        .map(|r| {
            let empty = [Vec::new(), Vec::new()];
            let samples = rec.samples.get(r.fig.id).unwrap_or(&empty);
            json!({
                "id": r.fig.id,
                "group": r.fig.group,
                "title": r.fig.title,
                "unit": r.fig.unit,
                "target": r.fig.target.text(r.fig.unit),
                "pouchd": stat_json(r.s[0], &samples[0]),
                "dockerd": stat_json(r.s[1], &samples[1]),
                "ratio": r.ratio,
                "verdict": r.verdict,
                "notes": rec.notes.get(r.fig.id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    json!({ "meta": meta, "figures": figures, "errors": rec.errors })
}
