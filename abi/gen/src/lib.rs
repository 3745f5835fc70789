//! Renders the GRU hardware ABI table (`abi/gru_abi.toml`) into its two outputs: the RTL's
//! include `rtl/gru_defs.vh` (Verilog-2005 localparams) and the gru-abi crate's
//! `abi/src/generated/` (constants, [`Field`](../gru_abi/struct.Field.html)s, code enums and
//! typed handle lines). Both are committed; `make abi` rewrites them and a test fails when
//! either differs from what the table renders.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The table's file, relative to the workspace root.
pub const TABLE: &str = "abi/gru_abi.toml";
/// The Verilog output, relative to the workspace root.
pub const VERILOG_OUT: &str = "rtl/gru_defs.vh";
/// The Rust outputs, relative to the workspace root: constants, handle map and field
/// positions; code enums; typed lines.
pub const RUST_OUT: [&str; 3] = ["abi/src/generated/layout.rs", "abi/src/generated/codes.rs", "abi/src/generated/lines.rs"];

/// Errors of reading or rendering the table.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A file could not be read or written.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
    /// The table is malformed (the message names line and field).
    #[error("{path}: {err}")]
    Parse {
        /// The table.
        path: String,
        /// toml's error.
        err: Box<toml::de::Error>,
    },
    /// The table is well-formed but inconsistent.
    #[error("{TABLE}: {0}")]
    Invalid(String),
}

/// The whole table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    consts: Vec<ConstGroup>,
    space: Vec<Space>,
    handle: Vec<Handle>,
    codes: Vec<Codes>,
    debug_entry: DebugEntry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstGroup {
    title: String,
    items: Vec<Const>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Const {
    name: String,
    value: u64,
    rust: String,
    doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Space {
    name: String,
    base: u32,
    count: usize,
    doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Handle {
    name: String,
    title: String,
    #[serde(rename = "struct")]
    strukt: Option<String>,
    struct_doc: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    fields: Vec<FieldDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldDef {
    name: String,
    dw: usize,
    lsb: u32,
    width: u32,
    #[serde(default = "one")]
    count: usize,
    #[serde(default)]
    step: u32,
    /// The struct member's type when the width alone does not say it (a 1-bit opcode).
    ty: Option<String>,
    doc: String,
}

fn one() -> usize {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Codes {
    rust: String,
    kind: String,
    verilog: Option<String>,
    doc: String,
    #[serde(default)]
    shifts: Vec<u32>,
    shift_bits: Option<u32>,
    counters: Option<String>,
    counters_doc: Option<String>,
    values: Vec<Code>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    name: String,
    rust: String,
    value: u64,
    field: Option<String>,
    doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DebugEntry {
    width: u32,
    fields: Vec<DbgField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DbgField {
    name: String,
    lsb: u32,
    width: u32,
    doc: String,
}

/// The workspace root (the generator lives in `abi/gen`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Read and check the table at `path`.
pub fn load(path: &Path) -> Result<Table, GenError> {
    let text = std::fs::read_to_string(path).map_err(|err| GenError::Io { path: path.display().to_string(), err })?;
    let table: Table =
        toml::from_str(&text).map_err(|err| GenError::Parse { path: path.display().to_string(), err: Box::new(err) })?;
    table.validate()?;
    Ok(table)
}

impl Table {
    /// Every field fits its word, and no two fields of one handle line overlap.
    fn validate(&self) -> Result<(), GenError> {
        for h in &self.handle {
            let mut used = [0u64; 8];
            // Handles whose struct has DW0's common fields share the line with them.
            let shares_dw0 = h.name != "HDL" && h.members.iter().any(|m| m.starts_with("HDL_"));
            let common = if shares_dw0 { self.handle.iter().find(|c| c.name == "HDL") } else { None };
            for f in h.fields.iter().chain(common.into_iter().flat_map(|c| c.fields.iter())) {
                for k in 0..f.count {
                    let (dw, lsb) = f.at(k);
                    if f.width == 0 || lsb + f.width > 64 || dw >= 8 {
                        return Err(GenError::Invalid(format!("{}_{}{}: does not fit one DW", h.name, f.name, f.index(k))));
                    }
                    let mask = if f.width == 64 { u64::MAX } else { ((1u64 << f.width) - 1) << lsb };
                    if used[dw] & mask != 0 {
                        return Err(GenError::Invalid(format!("{}_{}{}: overlaps another field", h.name, f.name, f.index(k))));
                    }
                    used[dw] |= mask;
                }
            }
            for m in &h.members {
                if self.field(m).is_none() {
                    return Err(GenError::Invalid(format!("{}: member {m} is no field", h.name)));
                }
            }
        }
        for d in &self.debug_entry.fields {
            if d.lsb + d.width > self.debug_entry.width || d.width > 64 {
                return Err(GenError::Invalid(format!("DBG_{}: outside the {}-bit entry", d.name, self.debug_entry.width)));
            }
        }
        Ok(())
    }

    /// The field called `NAME` (handle prefix included) and its handle.
    fn field(&self, full: &str) -> Option<(&Handle, &FieldDef)> {
        self.handle.iter().find_map(|h| {
            let rest = full.strip_prefix(&h.name)?.strip_prefix('_')?;
            h.fields.iter().find(|f| f.name == rest).map(|f| (h, f))
        })
    }
}

impl FieldDef {
    /// DW and lsb of repetition `k`.
    fn at(&self, k: usize) -> (usize, u32) {
        let bit = self.dw as u32 * 64 + self.lsb + k as u32 * self.step;
        ((bit / 64) as usize, bit % 64)
    }

    /// The suffix of repetition `k` (none for a single field).
    fn index(&self, k: usize) -> String {
        if self.count > 1 {
            k.to_string()
        } else {
            String::new()
        }
    }
}

/// The Rust type holding `width` bits.
fn rust_type(width: u32) -> &'static str {
    match width {
        1 => "bool",
        2..=8 => "u8",
        9..=16 => "u16",
        17..=32 => "u32",
        _ => "u64",
    }
}

const HEADER_NOTE: &str = "Generated by gru-abi-gen from abi/gru_abi.toml: do not edit; change the table and run `make abi`.";

/// `rtl/gru_defs.vh`.
pub fn render_verilog(t: &Table) -> String {
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "// gru_defs.vh -- every constant and handle field position of gru_chiplet (docs/MICROARCH.md).");
    let _ = writeln!(w, "// {HEADER_NOTE}");
    let _ = writeln!(w, "//");
    let _ = writeln!(w, "// Included *inside* each module body, so each module gets its own copy of the localparams.");
    let _ = writeln!(w, "// Deliberately no include guard: a `define guard is global to the compilation and would leave");
    let _ = writeln!(w, "// every module after the first without the constants.");
    let _ = writeln!(w, "// Fields: NAME_DW = 64-bit dword index in the handle line, NAME_LSB = lsb within that dword,");
    let _ = writeln!(w, "// NAME_W = width.");
    let _ = writeln!(w);
    let _ = writeln!(w, "/* verilator lint_off UNUSEDPARAM */");
    let _ = writeln!(w, "// Waived: every module includes the whole table and uses only its own subset.");
    let lp = |w: &mut String, name: &str, value: String| {
        let _ = writeln!(w, "localparam {name} = {value};");
    };
    for g in &t.consts {
        let _ = writeln!(w, "\n// ---- {} ----", g.title);
        for c in &g.items {
            lp(w, &c.name, c.value.to_string());
        }
    }
    let _ = writeln!(w, "\n// ---- Handle map ----");
    for s in &t.space {
        lp(w, &format!("HS_{}_BASE", s.name), format!("'h{:05x}", s.base));
        lp(w, &format!("HS_{}_COUNT", s.name), s.count.to_string());
    }
    for h in &t.handle {
        let _ = writeln!(w, "\n// ---- {} ----", h.title);
        for f in &h.fields {
            for k in 0..f.count {
                let (dw, lsb) = f.at(k);
                let n = format!("{}_{}{}", h.name, f.name, f.index(k));
                lp(w, &format!("{n}_DW"), dw.to_string());
                lp(w, &format!("{n}_LSB"), lsb.to_string());
                lp(w, &format!("{n}_W"), f.width.to_string());
            }
            if f.count > 1 {
                let _ = writeln!(w, "// {}_{}<k> repeats every {}_{}_STEP bits of the line.", h.name, f.name, h.name, f.name);
                lp(w, &format!("{}_NUM_{}", h.name, f.name), f.count.to_string());
                lp(w, &format!("{}_{}_STEP", h.name, f.name), f.step.to_string());
            }
        }
    }
    for c in &t.codes {
        let _ = writeln!(w, "\n// ---- {} ----", c.doc.trim_end_matches('.'));
        if let Some(prefix) = &c.verilog {
            for v in &c.values {
                lp(w, &format!("{prefix}_{}", v.name), v.value.to_string());
            }
        }
        if let (false, Some(bits)) = (c.shifts.is_empty(), c.shift_bits) {
            let packed = c.shifts.iter().rev().fold(0u64, |acc, &s| acc << bits | u64::from(s));
            lp(w, "PS_MAX_CODE", (c.shifts.len() - 1).to_string());
            lp(w, "PS_SHIFT_W", bits.to_string());
            lp(w, "PS_SHIFTS", format!("{}'h{packed:X}", bits as usize * c.shifts.len()));
        }
    }
    let _ = writeln!(w, "\n// ---- TLB entry as dbg_tlb_entry_o shows it ----");
    for d in &t.debug_entry.fields {
        lp(w, &format!("DBG_{}_LSB", d.name), d.lsb.to_string());
        if d.width > 1 {
            lp(w, &format!("TLB_{}_W", d.name), d.width.to_string());
        }
    }
    lp(w, "DBG_W", t.debug_entry.width.to_string());
    let _ = writeln!(w, "\n/* verilator lint_on UNUSEDPARAM */");
    o
}

/// A rustdoc line: bit ranges (`vaddr[62:61]`) escaped so that rustdoc does not take them for
/// links, and links to items (`` [`HandleStatus`] ``) made absolute, since each generated file
/// imports only what its code uses.
fn doc(w: &mut String, indent: &str, text: &str) {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('[') {
        out += &rest[..i];
        let tail = &rest[i..];
        if tail[1..].starts_with(|c: char| c.is_ascii_digit()) {
            out += "\\[";
            rest = &tail[1..];
        } else if let Some(end) = tail.strip_prefix("[`").and_then(|t| t.find("`]")) {
            let name = &tail[2..2 + end];
            let _ = write!(out, "[`{name}`](crate::{name})");
            rest = &tail[2 + end + 2..];
        } else {
            out += "[";
            rest = &tail[1..];
        }
    }
    out += rest;
    let _ = writeln!(w, "{indent}/// {out}");
}

/// The three files of [`RUST_OUT`].
pub fn render_rust(t: &Table) -> [String; 3] {
    [render_layout(t), render_codes(t), render_lines(t)]
}

/// Constants, the handle map and every field position.
fn render_layout(t: &Table) -> String {
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "// {HEADER_NOTE}");
    let _ = writeln!(w, "\nuse crate::Field;");
    for g in &t.consts {
        let _ = writeln!(w, "\n// ---- {} ----", g.title);
        for c in &g.items {
            doc(w, "", &c.doc);
            let _ = writeln!(w, "pub const {}: {} = {};", c.name, c.rust, c.value);
        }
    }
    let _ = writeln!(w, "\n// ---- handle map ----");
    for s in &t.space {
        doc(w, "", &format!("Offset of the first {} ({}).", s.name, s.doc));
        let _ = writeln!(w, "pub const HS_{}_BASE: u32 = {:#07x};", s.name, s.base);
        doc(w, "", &format!("Number of {}s at the default parameters.", s.name));
        let _ = writeln!(w, "pub const HS_{}_COUNT: usize = {};", s.name, s.count);
        if s.count == 1 {
            doc(w, "", &format!("Address of the {} line.", s.name));
            let _ = writeln!(w, "pub const {}_ADDR: u32 = HS_{}_BASE;", s.name, s.name);
        } else {
            doc(w, "", &format!("Address of {} `i`.", s.name));
            let _ = writeln!(w, "pub const fn {}_addr(i: usize) -> u32 {{", s.name.to_lowercase());
            let _ = writeln!(w, "    HS_{}_BASE + i as u32 * HS_STRIDE", s.name);
            let _ = writeln!(w, "}}");
        }
    }
    for h in &t.handle {
        let _ = writeln!(w, "\n// ---- {} ----", h.title);
        for f in &h.fields {
            let n = format!("{}_{}", h.name, f.name);
            for k in 0..f.count {
                let (dw, lsb) = f.at(k);
                let d = if f.count > 1 { format!("{} (k = {k})", f.doc) } else { f.doc.clone() };
                doc(w, "", &d);
                let _ = writeln!(w, "pub const {n}{}: Field = Field::new({dw}, {lsb}, {});", f.index(k), f.width);
            }
            if f.count > 1 {
                doc(w, "", &format!("{}_0..{}_{}, indexed by k.", n, n, f.count - 1));
                let items: Vec<String> = (0..f.count).map(|k| format!("{n}{k}")).collect();
                let _ = writeln!(w, "pub const {n}: [Field; {}] = [{}];", f.count, items.join(", "));
            }
        }
    }
    o
}

/// The code enums.
fn render_codes(t: &Table) -> String {
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "// {HEADER_NOTE}");
    let _ = writeln!(w, "\nuse crate::CodeError;");
    for c in &t.codes {
        render_code_enum(w, c);
    }
    o
}

/// The typed handle lines, the statistics line and the debug-port TLB entry.
fn render_lines(t: &Table) -> String {
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "// {HEADER_NOTE}");
    let _ = writeln!(w, "\nuse super::codes::*;\nuse super::layout::*;\nuse crate::{{DbgField, Line}};");
    for h in t.handle.iter().filter(|h| h.strukt.is_some()) {
        render_struct(w, t, h);
    }
    for c in t.codes.iter().filter(|c| c.counters.is_some()) {
        render_counters(w, c);
    }
    render_debug_entry(w, &t.debug_entry);
    o
}

fn render_code_enum(w: &mut String, c: &Codes) {
    let _ = writeln!(w);
    doc(w, "", &c.doc);
    let _ = writeln!(w, "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\n#[repr(u8)]\npub enum {} {{", c.rust);
    for v in &c.values {
        doc(w, "    ", &v.doc);
        let _ = writeln!(w, "    {} = {},", v.rust, v.value);
    }
    let _ = writeln!(w, "}}\n\nimpl {} {{", c.rust);
    let _ = writeln!(w, "    /// The code as the hardware field holds it.\n    pub const fn code(self) -> u64 {{\n        self as u64\n    }}");
    let _ = writeln!(w, "}}\n\nimpl TryFrom<u64> for {} {{\n    type Error = CodeError;", c.rust);
    let _ = writeln!(w, "    fn try_from(v: u64) -> Result<Self, CodeError> {{\n        match v {{");
    for v in &c.values {
        let _ = writeln!(w, "            {} => Ok({}::{}),", v.value, c.rust, v.rust);
    }
    let _ = writeln!(w, "            _ => Err(CodeError {{ kind: {:?}, value: v }}),\n        }}\n    }}\n}}", c.kind);
    if !c.shifts.is_empty() {
        let _ = writeln!(w);
        doc(w, "", &format!("Shift over 4K of each {} code (page bytes = 4096 << shift).", c.kind));
        let s: Vec<String> = c.shifts.iter().map(u32::to_string).collect();
        let _ = writeln!(w, "pub const PAGE_SHIFTS: [u32; {}] = [{}];", s.len(), s.join(", "));
        doc(w, "", "The largest page-size code.");
        let _ = writeln!(w, "pub const PS_MAX_CODE: u8 = {};", c.shifts.len() - 1);
    }
}

/// How a struct member holds its field: (Rust type, encode lines, decode expression).
fn member_code(name: &str, f: &FieldDef, member: &str) -> (String, String, String) {
    if f.count == 1 {
        let ty = f.ty.as_deref().unwrap_or(rust_type(f.width));
        let enc = format!("        {name}.store(&mut l, self.{member}.into());\n");
        let dec = if ty == "bool" { format!("{name}.load(&l) != 0") } else { format!("{name}.load(&l) as {ty}") };
        return (ty.to_owned(), enc, dec);
    }
    if f.count == 2 && f.width == 64 {
        let enc = format!(
            "        {name}[0].store(&mut l, self.{member} as u64);\n        {name}[1].store(&mut l, (self.{member} >> 64) as u64);\n"
        );
        let dec = format!("u128::from({name}[0].load(&l)) | u128::from({name}[1].load(&l)) << 64");
        return ("u128".to_owned(), enc, dec);
    }
    let ty = rust_type(f.width);
    let enc = format!("        for (k, f) in {name}.iter().enumerate() {{\n            f.store(&mut l, self.{member}[k].into());\n        }}\n");
    let dec = format!("std::array::from_fn(|k| {name}[k].load(&l) as {ty})");
    (format!("[{ty}; {}]", f.count), enc, dec)
}

fn render_struct(w: &mut String, t: &Table, h: &Handle) {
    let name = h.strukt.as_deref().unwrap_or_default();
    let members: Vec<(String, &FieldDef, String)> = h
        .members
        .iter()
        .filter_map(|m| t.field(m).map(|(_, f)| (m.clone(), f, f.name.to_lowercase())))
        .collect();
    let _ = writeln!(w);
    doc(w, "", h.struct_doc.as_deref().unwrap_or(name));
    let _ = writeln!(w, "#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]\npub struct {name} {{");
    let mut enc = String::new();
    let mut dec = String::new();
    for (full, f, member) in &members {
        let (ty, e, d) = member_code(full, f, member);
        doc(w, "    ", &f.doc);
        let _ = writeln!(w, "    pub {member}: {ty},");
        enc += &e;
        let _ = writeln!(dec, "            {member}: {d},");
    }
    let _ = writeln!(w, "}}\n\nimpl {name} {{");
    let _ = writeln!(w, "    /// The line as the hardware holds it.\n    pub fn encode(&self) -> [u64; 8] {{\n        let mut l = Line::ZERO;");
    let _ = write!(w, "{enc}");
    let _ = writeln!(w, "        l.into_inner()\n    }}\n");
    let _ = writeln!(w, "    /// The fields of `words` (total: any bit pattern decodes).\n    pub fn decode(words: &[u64; 8]) -> Self {{");
    let _ = writeln!(w, "        let l = Line::new(*words);\n        {name} {{");
    let _ = write!(w, "{dec}");
    let _ = writeln!(w, "        }}\n    }}\n}}");
}

fn render_counters(w: &mut String, c: &Codes) {
    let name = c.counters.as_deref().unwrap_or_default();
    let _ = writeln!(w);
    doc(w, "", c.counters_doc.as_deref().unwrap_or(name));
    let _ = writeln!(w, "#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]\npub struct {name} {{");
    for v in &c.values {
        doc(w, "    ", &v.doc);
        let _ = writeln!(w, "    pub {}: u64,", v.field.as_deref().unwrap_or_default());
    }
    let _ = writeln!(w, "}}\n\nimpl {name} {{");
    let _ = writeln!(w, "    /// The line as the hardware holds it.\n    pub fn encode(&self) -> [u64; 8] {{\n        let mut l = [0; 8];");
    for v in &c.values {
        let _ = writeln!(w, "        l[{}::{} as usize] = self.{};", c.rust, v.rust, v.field.as_deref().unwrap_or_default());
    }
    let _ = writeln!(w, "        l\n    }}\n");
    let _ = writeln!(w, "    /// The counters of `l`.\n    pub fn decode(l: &[u64; 8]) -> Self {{\n        {name} {{");
    for v in &c.values {
        let _ = writeln!(w, "            {}: l[{}::{} as usize],", v.field.as_deref().unwrap_or_default(), c.rust, v.rust);
    }
    let _ = writeln!(w, "        }}\n    }}\n}}");
}

fn render_debug_entry(w: &mut String, d: &DebugEntry) {
    let words = d.width.div_ceil(64);
    let _ = writeln!(w, "\n// ---- TLB entry as dbg_tlb_entry_o shows it ({} bits) ----", d.width);
    for f in &d.fields {
        doc(w, "", &format!("Debug-port position of the entry's {}", f.name.to_lowercase()));
        let _ = writeln!(w, "pub const DBG_{}: DbgField = DbgField::new({}, {});", f.name, f.lsb, f.width);
    }
    let _ = writeln!(w, "\n/// One TLB entry as the hardware holds it.");
    let _ = writeln!(w, "#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]\npub struct TlbEntry {{");
    for f in &d.fields {
        doc(w, "    ", &f.doc);
        let _ = writeln!(w, "    pub {}: {},", f.name.to_lowercase(), rust_type(f.width));
    }
    let _ = writeln!(w, "}}\n\nimpl TlbEntry {{");
    let _ = writeln!(w, "    /// The `dbg_tlb_entry_o` words of this entry.\n    pub fn dbg_words(&self) -> [u64; {words}] {{");
    let _ = writeln!(w, "        let mut w = [0u64; {words}];");
    for f in &d.fields {
        let _ = writeln!(w, "        DBG_{}.store(&mut w, self.{}.into());", f.name, f.name.to_lowercase());
    }
    let _ = writeln!(w, "        w\n    }}\n");
    let _ = writeln!(w, "    /// The entry a `dbg_tlb_entry_o` value shows (inverse of [`TlbEntry::dbg_words`]).");
    let _ = writeln!(w, "    pub fn from_dbg_words(w: [u64; {words}]) -> Self {{\n        TlbEntry {{");
    for f in &d.fields {
        let ty = rust_type(f.width);
        let e = if ty == "bool" { format!("DBG_{}.load(&w) != 0", f.name) } else { format!("DBG_{}.load(&w) as {ty}", f.name) };
        let _ = writeln!(w, "            {}: {e},", f.name.to_lowercase());
    }
    let _ = writeln!(w, "        }}\n    }}\n}}");
}

/// Both outputs of the table at the workspace root: (path relative to the root, contents).
pub fn render_all(root: &Path) -> Result<Vec<(&'static str, String)>, GenError> {
    let t = load(&root.join(TABLE))?;
    let mut out = vec![(VERILOG_OUT, render_verilog(&t))];
    out.extend(RUST_OUT.into_iter().zip(render_rust(&t)));
    Ok(out)
}
