//! `gru-abi-gen`: rewrite rtl/gru_defs.vh and abi/src/generated/ from abi/gru_abi.toml
//! (`make abi`). With `--check`, write nothing and exit 1 if either file is stale.

use std::process::ExitCode;

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("gru-abi-gen: unknown argument {other:?}; usage: gru-abi-gen [--check]");
            return ExitCode::from(2);
        }
    };
    let root = gru_abi_gen::workspace_root();
    let outputs = match gru_abi_gen::render_all(&root) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("gru-abi-gen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = false;
    for (rel, text) in outputs {
        let path = root.join(rel);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        stale = true;
        if check {
            eprintln!("gru-abi-gen: {rel} is stale: run `make abi`");
        } else if let Err(e) = std::fs::write(&path, text) {
            eprintln!("gru-abi-gen: cannot write {rel}: {e}");
            return ExitCode::FAILURE;
        } else {
            println!("gru-abi-gen: wrote {rel}");
        }
    }
    if check && stale {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
