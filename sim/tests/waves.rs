//! Waveforms: the RTL dumps FST and VCD that a viewer library (wellen) reads back, with the
//! interrupt rising at the cycle the harness saw it and the debug event on the same time axis.

use gru_sim::chiplet::{CbRequest, Chiplet, FlatMemory};
use gru_sim::handles::*;
use gru_sim::mutant::RtlMutant;
use gru_sim::rtl::{Rtl, WaveFormat};
use wellen::simple::Waveform;

/// The bit string of `TOP.<name>` at `time` (the last change at or before it).
fn value_at(w: &mut Waveform, name: &str, time: u64) -> String {
    let var = w.hierarchy().lookup_var(&["TOP"], name).unwrap_or_else(|| panic!("no TOP.{name} in the dump"));
    let sig = w.hierarchy()[var].signal_ref();
    w.load_signals(&[sig]);
    let idx = w.time_table().iter().rposition(|&t| t <= time).expect("time inside the dump");
    let s = w.get_signal(sig).unwrap();
    let off = s.get_offset(idx as u32).expect("value known");
    s.get_value_at(&off, 0).to_bit_string().unwrap()
}

fn dump_and_read(rtl: Rtl) {
    let tag = rtl.mutant().map_or("designed", |m| m.name());
    let ext = rtl.wave_format().extension();
    let path = std::env::temp_dir().join(format!("gru-waves-test-{}-{tag}.{ext}", std::process::id()));
    let mut c = Chiplet::new(rtl, Box::new(FlatMemory::default()));
    c.model_mut().open_waves(&path).unwrap();
    let mut cch = Cch { tfm_fault_bit_enable: true, tlb_int_enable: true, tlb_int_select: 3, ..Default::default() };
    cch.sizeavail = [1; 8];
    for op in [CchOpc::Allocate, CchOpc::Start] {
        cch.opc = op as u8;
        c.start_and_wait(cch_addr(0), cch.encode()).unwrap();
    }
    c.set_dbg_event(0xd00d);
    let before = c.cycle();
    c.issue_cb(CbRequest { cbr: 2, vaddr: 0x1000, write: false, wdata: 0 });
    assert!(c.step_until(100, |c| c.irq() != 0));
    let irq_cycle = c.cycle() - 1;
    c.step_n(3);
    c.model_mut().close_waves();

    let mut w = wellen::simple::read(&path).unwrap();
    // Cycle n's edge is at time 2n+1: the outputs after it hold from then on.
    assert_eq!(value_at(&mut w, "irq_o", 2 * before + 1), "0".repeat(16));
    let mut expected = "0".repeat(16);
    expected.replace_range(12..13, "1");
    assert_eq!(value_at(&mut w, "irq_o", 2 * irq_cycle + 1), expected, "fault map 3 interrupts");
    assert_eq!(value_at(&mut w, "irq_o", 2 * irq_cycle - 1), "0".repeat(16), "not a cycle earlier");
    let ev = value_at(&mut w, "dbg_event_i", 2 * irq_cycle);
    assert_eq!(u64::from_str_radix(&ev, 2).unwrap(), 0xd00d);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn fst_dump_reads_back() {
    dump_and_read(Rtl::new(WaveFormat::Fst));
}

#[test]
fn vcd_dump_reads_back() {
    dump_and_read(Rtl::new(WaveFormat::Vcd));
}

/// A mutant's model is FST-traced too, so its failure can be looked at.
#[test]
fn mutant_fst_dump_reads_back() {
    dump_and_read(Rtl::with_mutant(RtlMutant::NoRaceGuard));
}
