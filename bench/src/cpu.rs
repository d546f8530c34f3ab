//! CPU accounting from Linux `/proc`: how much of the machine was idle or
//! stolen by the hypervisor during a window (a noisy host shows there, not
//! in requests/s alone), and how much CPU time the server's process tree
//! spent. Elsewhere the readings are `None` and the tables show a dash.

/// The machine's CPU time since boot, in clock ticks (Linux `/proc/stat`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuTicks {
    total: u64,
    /// Idle and waiting for I/O: no thread had work.
    idle: u64,
    /// "steal": a virtual CPU had work, but the hypervisor ran something
    /// else on the physical core.
    steal: u64,
}

/// The machine's CPU time over a window, in percent.
#[derive(Clone, Copy, Debug)]
pub struct CpuShare {
    pub idle_pct: f64,
    pub stolen_pct: f64,
}

impl CpuTicks {
    /// Parses the first line of `/proc/stat`: `cpu user nice system idle
    /// iowait irq softirq steal …`.
    fn parse(stat: &str) -> Option<CpuTicks> {
        let fields = stat.lines().next()?.strip_prefix("cpu ")?;
        let ticks: Vec<u64> = fields
            .split_whitespace()
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let [_user, _nice, _system, idle, iowait, _irq, _softirq, steal] = ticks[..] else {
            return None;
        };
        Some(CpuTicks {
            total: ticks.iter().sum(),
            idle: idle + iowait,
            steal,
        })
    }

    pub fn share_since(self, before: CpuTicks) -> Option<CpuShare> {
        let total = self.total.checked_sub(before.total).filter(|&t| t > 0)? as f64;
        let pct = |now: u64, then: u64| 100.0 * now.saturating_sub(then) as f64 / total;
        Some(CpuShare {
            idle_pct: pct(self.idle, before.idle),
            stolen_pct: pct(self.steal, before.steal),
        })
    }
}

pub fn cpu_ticks() -> Option<CpuTicks> {
    CpuTicks::parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// `USER_HZ`: the unit of `/proc` CPU times, 100 on every Linux port the
/// benchmark runs on.
pub const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// From one `/proc/PID/stat`: (pid, parent pid, user + system ticks). The
/// command name sits in parentheses and may hold spaces, so fields are
/// counted after its closing one.
fn parse_process_stat(stat: &str) -> Option<(u32, u32, u64)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let pid = head.split_whitespace().next()?.parse().ok()?;
    // After the name: state ppid pgrp session tty_nr tpgid flags minflt
    // cminflt majflt cmajflt utime stime …
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((pid, ppid, utime + stime))
}

/// The CPU ticks of `root` and every process below it: gunicorn's workers
/// and a shell's children count with the process the benchmark started.
fn tree_ticks(processes: &[(u32, u32, u64)], root: u32) -> u64 {
    let mut members = vec![root];
    let mut total = 0;
    while let Some(pid) = members.pop() {
        for &(child, parent, ticks) in processes {
            if child == pid {
                total += ticks;
            }
            if parent == pid && child != pid {
                members.push(child);
            }
        }
    }
    total
}

/// The CPU ticks of process `root` and its descendants, or `None` where
/// `/proc` cannot tell (not Linux, or `root` has exited).
pub fn process_tree_ticks(root: u32) -> Option<u64> {
    let processes: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| parse_process_stat(&stat))
        .collect();
    processes
        .iter()
        .any(|&(pid, _, _)| pid == root)
        .then(|| tree_ticks(&processes, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_cpu_is_read_from_the_process_tree() {
        // A command name with spaces and a parenthesis in it.
        let stat = "4242 (tokio (x) 1) S 4200 4242 4242 0 -1 4194560 100 0 0 0 \
                    731 269 0 0 20 0 9 0 1234 0 0";
        assert_eq!(parse_process_stat(stat), Some((4242, 4200, 1000)));
        assert_eq!(parse_process_stat("4242 (cut short) S 1"), None);
        assert_eq!(parse_process_stat("no parenthesis"), None);
        // gunicorn: a master (10) with two workers (11, 12), one of which
        // has a child (13); 20 is a stranger, 1 the master's parent.
        let processes = [
            (1, 0, 1_000),
            (10, 1, 5),
            (11, 10, 100),
            (12, 10, 200),
            (13, 12, 7),
            (20, 1, 50_000),
        ];
        assert_eq!(tree_ticks(&processes, 10), 312);
        assert_eq!(tree_ticks(&processes, 12), 207);
        assert_eq!(tree_ticks(&processes, 99), 0);
        // This process exists, with some CPU time spent by now.
        assert!(process_tree_ticks(std::process::id()).is_some());
        assert_eq!(process_tree_ticks(u32::MAX), None);
    }

    #[test]
    fn cpu_shares_come_from_proc_stat() {
        let before = CpuTicks::parse("cpu  1000 0 200 700 50 0 30 20 0 0\ncpu0 1 2 3\n").unwrap();
        assert_eq!(
            before,
            CpuTicks {
                total: 2000,
                idle: 750,
                steal: 20
            }
        );
        let after = CpuTicks::parse("cpu  1600 0 300 800 50 0 30 220 0 0").unwrap();
        let share = after.share_since(before).unwrap();
        // 1,000 ticks passed: 100 idle, 200 stolen.
        assert!((share.idle_pct - 10.0).abs() < 1e-9);
        assert!((share.stolen_pct - 20.0).abs() < 1e-9);
        assert!(before.share_since(before).is_none(), "no time passed");
        assert!(CpuTicks::parse("cpu0 1 2 3 4 5 6 7 8").is_none());
        assert!(
            CpuTicks::parse("cpu  1 2 3").is_none(),
            "an old kernel without steal"
        );
    }
}
