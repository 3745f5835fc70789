//! The coverage report pipeline of `make coverage` on small inputs, so that it cannot rot
//! unnoticed between coverage builds (too slow for `make test`): a checked-in excerpt of a
//! merged Verilator counter file goes through the rtl/ filter, the split by kind and
//! `verilator_coverage --write-info`; a small regression's cover points make the functional
//! page.

use std::path::PathBuf;

use gru_cosim::coverage::{Coverage, POINTS};
use gru_cosim::coverage_report::functional::{page, rows};
use gru_cosim::coverage_report::rtl::{dat_of, info_tally, rtl_points, tally, write_info, Kind, Tally};
use gru_cosim::regress::{RegressResults, SeedResult, RESULTS_FORMAT};
use gru_driver::notifier::Era;

/// An excerpt of a real merged counter file (make coverage): gru_tlb.v lines, branches and
/// toggles, and the trace-only testbench's points, which the report leaves out.
const FIXTURE: &str = include_str!("fixtures/rtl-coverage-excerpt.dat");

#[test]
fn counters_become_an_lcov_file_of_rtl_only() {
    let points = rtl_points(FIXTURE).expect("parse");
    assert!(FIXTURE.contains("gru_trace_cycle.sv"), "the fixture holds testbench points to leave out");
    assert!(points.iter().all(|p| p.file.starts_with("rtl/")), "{points:?}");
    assert!(points.iter().any(|p| p.file == "rtl/gru_tlb.v" && p.kind == Kind::Line && p.count > 0));
    let (line, toggle) = (tally(&points, Kind::Line), tally(&points, Kind::Toggle));
    assert!(line.hit > 0 && line.hit < line.total && toggle.total > 0, "a hit and a missed line point, toggles: {line:?} {toggle:?}");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("coverage_report");
    std::fs::create_dir_all(&dir).unwrap();
    let (dat, info) = (dir.join("rtl.dat"), dir.join("rtl.info"));
    std::fs::write(&dat, dat_of(&points, Kind::Line)).unwrap();
    write_info(&dat, &info).expect("verilator_coverage --write-info");
    let text = std::fs::read_to_string(&info).unwrap();
    assert!(text.contains("SF:rtl/gru_tlb.v"), "{text}");
    assert!(!text.contains("gru_trace_cycle") && !text.contains("/../"), "{text}");
    let hot = points.iter().filter(|p| p.kind == Kind::Line).max_by_key(|p| p.count).unwrap();
    // lcov spreads a block's count over the block's source lines, from the line after its
    // start, so the count shows on a line near the point's, not necessarily on it.
    let hot_da = text.lines().filter_map(|l| l.strip_prefix("DA:")).find(|da| da.ends_with(&format!(",{}", hot.count)));
    let hot_line: u32 = hot_da.and_then(|da| da.split(',').next()?.parse().ok()).expect("the hottest point's count");
    assert!(hot_line.abs_diff(hot.line) < 4, "line {} hit {} times, found on {hot_line}: {text}", hot.line, hot.count);
    let lines = info_tally(&text);
    assert!(lines.total > 0 && lines.hit > 0 && lines.hit < lines.total, "a hit and a missed line: {lines:?}");
}

#[test]
fn the_functional_page_lists_every_cover_point_with_its_hits() {
    let seed = |seed: u64, hits: &[&str]| {
        let mut c = Coverage::new(Era::Modern);
        hits.iter().for_each(|h| c.hit(h));
        SeedResult {
            seed,
            verdict: "pass".into(),
            cycles: 1,
            wall_s: 0.0,
            failure: None,
            replay: String::new(),
            debug: None,
            waves: None,
            coverage: Some(c),
        }
    };
    let results = vec![seed(1, &["purge.hit", "purge.hit", "cb.done"]), seed(2, &["purge.hit"])];
    let run = RegressResults { format: RESULTS_FORMAT, run: "default --hw rtl".into(), seeds: "1..2".into(), shard: "1/1".into(), total: 2, failed: 0, results };
    let rows = rows(&[run]);
    assert_eq!(rows.len(), POINTS.len());
    let row = |id: &str| rows.iter().find(|r| r.id == id).unwrap();
    assert_eq!((row("purge.hit").seeds_hit, row("purge.hit").seeds_applicable, row("purge.hit").hits), (2, 2, 3));
    assert_eq!((row("cb.done").seeds_hit, row("cb.done").hits), (1, 1));
    assert_eq!(row("notifier.classic.release").seeds_applicable, 0, "a classic point in modern seeds");
    let html = page(&rows, &["regress-default.json".into()]);
    for p in POINTS {
        assert!(html.contains(&format!("<code>{}</code>", p.id)), "{} missing", p.id);
    }
    assert!(html.contains(&format!("2 of {} cover points hit", POINTS.len())), "{html}");
    assert!(html.contains("<td class=\"n\">2 / 2</td><td class=\"n\">3</td>"), "{html}");
    assert_eq!(Tally { hit: 1, total: 4 }.percent(), 25.0);
}
