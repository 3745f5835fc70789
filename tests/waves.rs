//! Waveforms: the committed GTKWave filters are the generated ones, and a scenario dumped around
//! its shootdowns has its save-file markers on the trace's shootdown cycles, the software events
//! and the TGH status on the waveform where the trace says, and a windowed dump much smaller
//! than the whole run's.

use gru_cosim::waves::gtkw::{filter_dir, Filter};

/// Every committed filter equals the generated one; `GRU_UPDATE_FILTERS=1` rewrites them.
#[test]
fn committed_filters_are_generated() {
    let update = std::env::var_os("GRU_UPDATE_FILTERS").is_some();
    let mut stale = Vec::new();
    for f in Filter::ALL {
        let path = filter_dir().join(f.file_name());
        if update {
            std::fs::write(&path, f.text()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(f.text().as_str()) {
            stale.push(f.file_name());
        }
    }
    assert!(stale.is_empty(), "stale filters under waves/: {stale:?}; regenerate with GRU_UPDATE_FILTERS=1 cargo test --release --test waves");
}

use std::path::{Path, PathBuf};

use gru_cosim::scenario::Scenario;
use gru_cosim::system::{System, SystemConfig};
use gru_cosim::trace::SysEvent;
use gru_cosim::waves::event::{DbgEvent, Kind};
use gru_cosim::waves::{self, gtkw, Span, WavePlan, WavesArgs, WavesError, Window};
use gru_driver::gru::handles::HandleStatus;
use gru_driver::gru::hw::DecodedLine;
use gru_sim::rtl::{Rtl, WaveFormat};
use wellen::simple::Waveform;

/// Two munmaps far apart: two shootdowns on chiplet 0, each right after its range_start, with
/// a long stretch of GRU loads (TLB hits, memory-port traffic) between them that a windowed
/// dump leaves out.
fn scenario() -> String {
    let loads: String = (0..300).map(|i| format!("  {{ op = \"gru_load\", page = 2, word = {} }},\n", i % 512)).collect();
    format!(
        r#"
description = "two shootdowns far apart"
[[process]]
name = "a"
pages = 4
[[thread]]
name = "t0"
process = "a"
chiplet = 0
steps = [
  {{ op = "gru_load", page = 0 }},
  {{ op = "gru_load", page = 1 }},
  {{ op = "munmap", page = 0 }},
{loads}  {{ op = "munmap", page = 1 }},
]
"#
    )
}

const MARGIN: u64 = 150;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gru-waves-{}-{name}", std::process::id()))
}

fn run(plan: Option<WavePlan>, format: WaveFormat) -> System<Rtl> {
    let sc = Scenario::parse("two_shootdowns", &scenario()).expect("scenario");
    let cfg = SystemConfig { waves: plan, ..sc.system_config(1, String::new()) };
    let sys = System::new(cfg, || Rtl::new(format)).expect("system");
    sc.spawn(&sys);
    sys.run(5_000_000);
    assert!(sys.checker.failures().is_empty(), "{:?}", sys.checker.failures());
    sys
}

/// (start write cycle, done poll cycle, TGH) of every shootdown of chiplet 0, from the
/// semantic trace: the TGH INVALIDATE write, then the first read of that TGH not ACTIVE.
fn trace_shootdowns(events: &[SysEvent]) -> Vec<(u64, u64, usize)> {
    let mmio: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SysEvent::Mmio { cycle, chiplet: 0, write, line: DecodedLine::Tgh(h, t), .. } => Some((*cycle, *write, *h, *t)),
            _ => None,
        })
        .collect();
    mmio.iter()
        .enumerate()
        .filter(|(_, (_, write, _, t))| *write && t.opc == 1)
        .map(|(i, &(start, _, h, _))| {
            let done = mmio[i + 1..]
                .iter()
                .find(|(_, w, h2, t)| !w && *h2 == h && t.status != HandleStatus::Active as u8)
                .expect("a poll saw the TGH done");
            (start, done.0, h)
        })
        .collect()
}

/// Named markers of a save file: name → time.
fn markers(save: &str) -> Vec<(String, u64)> {
    let star = save.lines().find(|l| l.starts_with('*')).expect("zoom/marker line");
    let times: Vec<i64> = star[1..].split_whitespace().skip(2).map(|t| t.parse().expect("marker time")).collect();
    save.lines()
        .filter_map(|l| l.strip_prefix("[markername] "))
        .map(|l| {
            let slot = usize::from(l.as_bytes()[0] - b'A');
            (l[1..].to_string(), u64::try_from(times[slot]).expect("marker set"))
        })
        .collect()
}

/// The value of `scope.name` at `time` (its last change at or before), as bits MSB first.
fn bits_at(w: &mut Waveform, scope: &[&str], name: &str, time: u64) -> String {
    let var = w.hierarchy().lookup_var(scope, name).unwrap_or_else(|| panic!("no {scope:?}.{name} in the dump"));
    let sig = w.hierarchy()[var].signal_ref();
    w.load_signals(&[sig]);
    let idx = w.time_table().iter().rposition(|&t| t <= time).expect("time inside the dump");
    let s = w.get_signal(sig).expect("loaded");
    let off = s.get_offset(idx as u32).expect("value known");
    s.get_value_at(&off, 0).to_bit_string().expect("bits")
}

/// The trace-only `cycle` counter at `time`.
fn cycle_at(w: &mut Waveform, time: u64) -> u64 {
    u64::from_str_radix(&bits_at(w, &["TOP", "gru_chiplet", "trace_cycle"], "cycle", time), 2).expect("binary")
}

fn dbg_event_at(w: &mut Waveform, time: u64) -> Option<DbgEvent> {
    DbgEvent::decode(u64::from_str_radix(&bits_at(w, &["TOP"], "dbg_event_i", time), 2).expect("binary"))
}

/// The 2-bit status of TGH `tgh` at `time`.
fn tgh_status_at(w: &mut Waveform, tgh: usize, time: u64) -> u8 {
    let bits = bits_at(w, &["TOP", "gru_chiplet", "u_purge"], "tgh_status_q", time);
    let lsb = bits.len() - 2 * tgh - 2;
    u8::from_str_radix(&bits[lsb..lsb + 2], 2).expect("binary")
}

#[test]
fn shootdown_windows_hold_the_trace() {
    let first = waves::shootdowns(&run(None, WaveFormat::Fst).hw.trace());
    assert_eq!(first.len(), 2, "the scenario makes two shootdowns: {first:?}");
    let windows = waves::windows_around(&first, MARGIN);
    assert_eq!(windows.len(), 2, "far apart, the windows stay separate: {windows:?}");

    let dump = temp("windows.fst");
    let sys = run(Some(WavePlan { path: dump.clone(), chiplet: 0, span: Span::Windows(windows.clone()) }), WaveFormat::Fst);
    waves::rerun_check(&first, &waves::shootdowns(&sys.hw.trace())).expect("same shootdowns");
    let save_path = gtkw::write_save(&sys, "test").expect("save file").expect("a dump was written");
    let save = std::fs::read_to_string(&save_path).expect("save file");

    // The markers sit on the trace's shootdowns: start write and completion poll, per shootdown.
    let sds = trace_shootdowns(&sys.events());
    assert_eq!(sds.len(), 2);
    let purges: Vec<u64> = sys.events().iter().filter(|e| matches!(e, SysEvent::Purge { chiplet: 0, .. })).map(SysEvent::cycle).collect();
    assert_eq!(purges, sds.iter().map(|s| s.0).collect::<Vec<_>>(), "purges start at the TGH writes");
    let expected: Vec<(String, u64)> = sds
        .iter()
        .enumerate()
        .flat_map(|(i, &(start, done, tgh))| {
            [(format!("sd{} start tgh{tgh}", i + 1), sys.wave_time(start)), (format!("sd{} done", i + 1), sys.wave_time(done))]
        })
        .collect();
    assert_eq!(markers(&save), expected);
    // GTKWave opens on the first window with the first marker in view, even in a pane narrower
    // than the one the zoom is computed for.
    let first_marker = expected[0].1;
    for pixels in [600.0, gtkw::VIEW_PIXELS, 1400.0] {
        let (a, b) = gtkw::visible_range(&save, pixels).expect("zoom and timestart");
        assert!((a..=b).contains(&first_marker), "{pixels} px show {a}..{b} ns, the first marker is at {first_marker}");
    }
    let (a, b) = gtkw::visible_range(&save, gtkw::VIEW_PIXELS).unwrap();
    let w0 = (sys.wave_time(windows[0].start), sys.wave_time(windows[0].end - 1));
    assert!(a <= w0.0 && b + 4 >= w0.1 && b - a < 2 * (w0.1 - w0.0), "view {a}..{b} ns, first window {w0:?} ns");
    // Filters are named relative to the save file, and exist there.
    let save_dir = save_path.parent().expect("a directory");
    for f in save.lines().filter_map(|l| l.strip_prefix('^')).map(|l| l.split_once(' ').expect("^N path").1) {
        assert!(Path::new(f).is_relative(), "filter {f} is absolute");
        assert!(save_dir.join(f).exists(), "filter {f} not found from {}", save_dir.display());
    }
    // Opcodes come from each handle's own register, not from decoding every MMIO write.
    assert!(!save.contains("u_mmio.tfh_opc") && !save.contains("u_mmio.cch_opc"), "per-write opcode decodes");
    // Gaps between windows are listed.
    assert!(save.contains(&format!("[*] gap: cycles {}..{} not dumped", windows[0].end, windows[1].start)), "{save}");
    // Only the TGHs the dump uses are shown.
    let used: std::collections::BTreeSet<usize> = sds.iter().map(|s| s.2).collect();
    let shown: std::collections::BTreeSet<usize> =
        save.lines().filter_map(|l| l.strip_prefix("#{tgh")?.split('_').next()?.parse().ok()).collect();
    assert_eq!(shown, used, "TGHs shown");
    // The Surfer command file has the same markers, and adds only signals the dump has.
    let sucl = std::fs::read_to_string(gtkw::surfer_path(&dump)).expect("surfer command file");
    let surfer_markers: Vec<(String, u64)> = sucl
        .lines()
        .filter_map(|l| l.strip_prefix("marker_set_at "))
        .map(|l| {
            let (t, name) = l.split_once(' ').expect("time and name");
            (name.replace('_', " "), t.trim_end_matches("ns").parse().expect("time in ns"))
        })
        .collect();
    assert_eq!(surfer_markers, expected);
    let dump_vars = wellen::simple::read(&dump).expect("read the dump");
    let h = dump_vars.hierarchy();
    let names: std::collections::HashSet<String> = h.all_vars().map(|r| h[r].full_name(h)).collect();
    for v in sucl.lines().filter_map(|l| l.strip_prefix("variable_add ")) {
        assert!(names.contains(v), "{v} is not in the dump");
    }

    let mut w = wellen::simple::read(&dump).expect("read the dump");
    for (k, &(start, done, tgh)) in sds.iter().enumerate() {
        let (t, d) = (sys.wave_time(start), sys.wave_time(done));
        // The harness's cycle counter reads the trace's cycle at the marker's edge.
        assert_eq!(cycle_at(&mut w, t), start, "cycle signal at the start marker");
        assert_eq!(cycle_at(&mut w, d), done, "cycle signal at the done marker");
        // Just before the start write's edge the port shows the munmap's range_start (of the
        // page unmapped), from the next cycle the TGH start.
        let before = dbg_event_at(&mut w, t - 1).expect("an event before the start");
        assert_eq!(before.kind, Kind::RangeStart, "shootdown {k}: {before:?}");
        assert_eq!((before.arg, before.page & 0xf), (1, k as u64), "one page, page {k} of the region");
        let after = dbg_event_at(&mut w, t + 1).expect("the start event");
        assert_eq!((after.kind, after.arg), (Kind::TghStart, tgh as u64));
        // The TGH goes ACTIVE at the start marker's edge and is back before the done marker.
        let active = HandleStatus::Active as u8;
        assert_ne!(tgh_status_at(&mut w, tgh, t - 1), active);
        assert_eq!(tgh_status_at(&mut w, tgh, t), active);
        assert_eq!(tgh_status_at(&mut w, tgh, d), HandleStatus::Idle as u8);
        let back = (t..=d).step_by(2).find(|&x| tgh_status_at(&mut w, tgh, x) != active).expect("back to IDLE");
        assert!(back > t + 2, "the purge takes cycles");
        assert_eq!(dbg_event_at(&mut w, d + 1).map(|e| e.kind), Some(Kind::TghDone));
    }
    // Nothing is dumped between the windows.
    let (gap_from, gap_to) = (sys.wave_time(windows[0].end), sys.wave_time(windows[1].start) - 1);
    assert!(!w.time_table().iter().any(|&t| t > gap_from && t < gap_to), "a change inside the gap");

    // The whole run's dump is much larger. FST compresses the repetitive stretch between the
    // windows well and has a fixed header, so the proportion shows in VCD, which holds every
    // change it dumps as text.
    let size = |p: &Path| std::fs::metadata(p).expect("dump").len();
    let whole = temp("whole.fst");
    run(Some(WavePlan { path: whole.clone(), chiplet: 0, span: Span::Whole }), WaveFormat::Fst);
    assert!(size(&dump) < size(&whole), "windowed {} bytes vs whole {} bytes", size(&dump), size(&whole));
    let (small, big) = (temp("windows.vcd"), temp("whole.vcd"));
    run(Some(WavePlan { path: small.clone(), chiplet: 0, span: Span::Windows(windows) }), WaveFormat::Vcd);
    run(Some(WavePlan { path: big.clone(), chiplet: 0, span: Span::Whole }), WaveFormat::Vcd);
    assert!(size(&small) * 10 < size(&big), "windowed VCD {} bytes vs whole {} bytes", size(&small), size(&big));
    for p in [&dump, &whole, &save_path, &gtkw::surfer_path(&dump), &small, &big] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn waves_command_names_bad_input() {
    let args = |scenario: &str, shootdown| WavesArgs { scenario: scenario.into(), shootdown, margin: 10, format: WaveFormat::Fst, seed: 1 };
    let e = waves::waves_cmd(&args("no_such", 1)).expect_err("unknown scenario");
    assert!(matches!(e, WavesError::UnknownScenario { .. }));
    assert!(e.to_string().contains("munmap"), "lists the scenarios: {e}");
    let e = waves::waves_cmd(&args("munmap", 2)).expect_err("one shootdown only");
    assert!(matches!(e, WavesError::NoSuchShootdown { count: 1, k: 2, .. }), "{e}");
    assert!(Window::new(5, 5).is_err());
}
