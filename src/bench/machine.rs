//! What the benchmark ran on: CPU, cores, OS, toolchain versions, date.

use serde::Serialize;
use std::process::Command;

/// The machine and tools of a benchmark run.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// CPU model name from /proc/cpuinfo.
    pub cpu: String,
    /// Logical CPUs in /proc/cpuinfo.
    pub cores: usize,
    /// CPUs this process may use.
    pub available_parallelism: usize,
    /// OS name (/etc/os-release) and kernel release.
    pub os: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `verilator --version`.
    pub verilator: String,
    /// UTC date and time of the run.
    pub date: String,
    /// /proc/loadavg (1, 5, 15 minutes) when the bench started: other work on the machine.
    pub load_start: String,
    /// The same when the bench ended.
    pub load_end: String,
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn first_line_of(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(|l| l.trim().to_owned()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time.
pub fn utc(secs: u64) -> String {
    let (y, m, d) = civil((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", s / 3600, s / 60 % 60)
}

impl Machine {
    /// Probe the machine now.
    pub fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".into(), |(_, v)| v.trim().to_owned());
        let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
        let os_name = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned()))
            })
            .unwrap_or_else(|| std::env::consts::OS.into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_default();
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Machine {
            cpu,
            cores,
            available_parallelism: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            os: format!("{os_name}, Linux {kernel}"),
            rustc: first_line_of("rustc", "--version"),
            verilator: first_line_of("verilator", "--version"),
            date: utc(secs),
            load_start: load_average(),
            load_end: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(951_782_400 + 3_660), "2000-02-29 01:01 UTC");
        assert_eq!(super::utc(1_735_689_600), "2025-01-01 00:00 UTC");
    }
}
