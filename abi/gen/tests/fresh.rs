//! The committed outputs are exactly what the table renders: a hand edit of rtl/gru_defs.vh or
//! abi/src/generated/, or a table change without `make abi`, fails here.

#[test]
fn generated_files_match_the_table() {
    let root = gru_abi_gen::workspace_root();
    for (rel, text) in gru_abi_gen::render_all(&root).unwrap() {
        let on_disk = std::fs::read_to_string(root.join(rel)).unwrap();
        assert!(on_disk == text, "{rel} differs from what abi/gru_abi.toml renders: run `make abi` (never edit it by hand)");
    }
}

#[test]
fn an_inconsistent_table_is_refused_by_name() {
    let root = gru_abi_gen::workspace_root();
    let text = std::fs::read_to_string(root.join(gru_abi_gen::TABLE)).unwrap();
    // TGH_GLOBAL moved onto TGH_ASID's bits.
    let bad = text.replace(r#"{ name = "GLOBAL", dw = 2, lsb = 48"#, r#"{ name = "GLOBAL", dw = 2, lsb = 20"#);
    let dir = std::env::temp_dir().join(format!("gru-abi-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let err = gru_abi_gen::load(&path).unwrap_err().to_string();
    assert!(err.contains("TGH_GLOBAL: overlaps another field"), "{err}");
}
