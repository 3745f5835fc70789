//! The functional coverage page: every cover point of `crate::coverage::POINTS`, how many
//! seeds of the given regressions hit it and how often in all.

use std::fmt::Write as _;

use crate::coverage::POINTS;
use crate::regress::RegressResults;

/// One cover point over every seed of the regressions read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointRow {
    /// The point's id.
    pub id: &'static str,
    /// Its era (`modern`, `classic`, or `both`).
    pub era: &'static str,
    /// The window it names.
    pub what: &'static str,
    /// Seeds that hit it.
    pub seeds_hit: usize,
    /// Seeds whose era it applies to.
    pub seeds_applicable: usize,
    /// Hits summed over every seed.
    pub hits: u64,
}

/// Every point of `POINTS`, in its order, over every seed of `runs`.
pub fn rows(runs: &[RegressResults]) -> Vec<PointRow> {
    let seeds: Vec<_> = runs.iter().flat_map(|r| &r.results).filter_map(|s| s.coverage.as_ref()).collect();
    POINTS
        .iter()
        .map(|p| {
            let counts: Vec<u64> = seeds.iter().filter_map(|c| c.hits.get(p.id).copied()).collect();
            PointRow {
                id: p.id,
                era: match p.era {
                    None => "both",
                    Some(gru_driver::notifier::Era::Modern) => "modern",
                    // Points of the classic API, counted in both classic eras.
                    Some(_) => "classic",
                },
                what: p.what,
                seeds_hit: counts.iter().filter(|&&n| n > 0).count(),
                seeds_applicable: counts.len(),
                hits: counts.iter().sum(),
            }
        })
        .collect()
}

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page: a summary line, then one table row per point, missed points marked.
pub fn page(rows: &[PointRow], sources: &[String]) -> String {
    let hit = rows.iter().filter(|r| r.hits > 0).count();
    let mut s = String::new();
    writeln!(s, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gru-cosim functional coverage</title>").unwrap();
    s.push_str("<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}tr.miss{background:#fcc}td.n{text-align:right}</style></head><body>\n");
    writeln!(s, "<h1>Functional coverage: {hit} of {} cover points hit</h1>", rows.len()).unwrap();
    writeln!(s, "<p>Seeds of: {}. A point counts the seeds of its era only (src/coverage.rs).</p>", esc(&sources.join(", "))).unwrap();
    s.push_str("<table>\n<tr><th>cover point</th><th>era</th><th>seeds hit</th><th>hits</th><th>window</th></tr>\n");
    for r in rows {
        let class = if r.hits == 0 { " class=\"miss\"" } else { "" };
        writeln!(
            s,
            "<tr{class}><td><code>{}</code></td><td>{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            r.id,
            r.era,
            r.seeds_hit,
            r.seeds_applicable,
            r.hits,
            esc(r.what)
        )
        .unwrap();
    }
    s.push_str("</table>\n</body></html>\n");
    s
}
