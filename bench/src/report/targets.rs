//! The targets the scenario list sets (`Scenario::target`), checked
//! against the run's own figures: met, missed (and by what), or not
//! measurable in this run (its reference scenario did not run, or the
//! target is for another backend).

use crate::measure::Outcome;
use crate::peers::Target;
use crate::scenarios::{scenarios, Goal, Min};

/// One scenario against its target.
#[derive(Debug, PartialEq)]
pub struct Verdict {
    pub scenario: String,
    pub target: String,
    pub measured: String,
    /// `None`: this run cannot tell.
    pub met: Option<bool>,
}

/// Every Portcullis scenario of the run that has a target, checked.
pub fn verdicts(outcomes: &[Outcome], sqlite: bool) -> Vec<Verdict> {
    let list = scenarios();
    outcomes
        .iter()
        .filter(|o| o.server == Target::Portcullis)
        .filter_map(|o| {
            let goal = list.iter().find(|s| s.name == o.name)?.target?;
            Some(verdict(o, goal, outcomes, sqlite))
        })
        .collect()
}

fn verdict(o: &Outcome, goal: Goal, outcomes: &[Outcome], sqlite: bool) -> Verdict {
    let mut target = match goal.min {
        Min::PerSecond(min) => format!("≥ {min:.0}/s"),
        Min::ShareOf(of, share) => format!("≥ {:.0} % of {of}", share * 100.0),
        Min::TimesOf(of, times) => format!("≥ {times} × {of}"),
    };
    target.push_str(", zero errors");
    if goal.sqlite_only {
        target.push_str(", on SQLite");
    }
    let mut measured = format!("{:.0}/s", o.rps);
    let mut met = match goal.min {
        _ if goal.sqlite_only && !sqlite => None,
        Min::PerSecond(min) => Some(o.rps >= min),
        Min::ShareOf(of, least) | Min::TimesOf(of, least) => {
            let reference = outcomes
                .iter()
                .find(|r| r.server == Target::Portcullis && r.name == of)
                .filter(|r| r.rps > 0.0);
            match reference {
                Some(r) => {
                    let ratio = o.rps / r.rps;
                    let how = match goal.min {
                        Min::TimesOf(..) => format!("{ratio:.1} ×"),
                        _ => format!("{:.0} % of", ratio * 100.0),
                    };
                    measured.push_str(&format!(", {how} {of}'s {:.0}/s", r.rps));
                    Some(ratio >= least)
                }
                None => {
                    measured.push_str(&format!(" ({of} not measured in this run)"));
                    None
                }
            }
        }
    };
    if !o.answers.0.is_empty() {
        let split: Vec<String> = o
            .answers
            .0
            .iter()
            .map(|(kind, n)| {
                let pct = 100.0 * *n as f64 / o.ok.max(1) as f64;
                format!("{kind} {n} ({pct:.1} %)")
            })
            .collect();
        measured.push_str(&format!("; {}", split.join(", ")));
    }
    measured.push_str(&format!("; {} errors", o.errors));
    if o.errors > 0 || o.ok == 0 {
        met = Some(false);
    } else if goal.sqlite_only && !sqlite {
        measured.push_str(" (on PostgreSQL)");
    }
    Verdict {
        scenario: o.name.clone(),
        target,
        measured,
        met,
    }
}

/// Markdown, printed after the table and written to results.md.
pub fn targets_table(verdicts: &[Verdict]) -> String {
    let mut out = String::from("| scenario | target | measured | |\n|---|---|---|---|\n");
    for v in verdicts {
        let flag = match v.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {flag} |\n",
            v.scenario, v.target, v.measured
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Answers;

    fn outcome(name: &str, rps: f64, errors: u64) -> Outcome {
        Outcome {
            server: Target::Portcullis,
            name: name.into(),
            concurrency: 16,
            ok: (rps * 10.0) as u64,
            errors,
            first_error: None,
            answers: Answers::default(),
            rps,
            p50_ms: 0.5,
            p99_ms: 1.0,
            cpu: None,
            server_cpu_us: None,
            trace: Vec::new(),
        }
    }

    #[test]
    fn token_exchange_is_held_to_half_of_client_credentials_in_the_same_run() {
        let run = [
            outcome("client_credentials-ES256", 30_000.0, 0),
            outcome("token_exchange-ES256", 16_000.0, 0),
            outcome("token_exchange-ES256-actor", 9_000.0, 0),
        ];
        let v = verdicts(&run, true);
        assert_eq!(v.len(), 1, "only the scenarios with a target");
        assert_eq!(v[0].met, Some(true));
        assert_eq!(
            v[0].measured,
            "16000/s, 53 % of client_credentials-ES256's 30000/s; 0 errors"
        );
        assert!(targets_table(&v).contains("| met |"));
        let slow = [
            outcome("client_credentials-ES256", 30_000.0, 0),
            outcome("token_exchange-ES256", 14_000.0, 0),
        ];
        let v = verdicts(&slow, true);
        assert_eq!(v[0].met, Some(false));
        assert!(targets_table(&v).contains("| **missed** |"));
        // Without its reference the ratio cannot be told.
        let alone = [outcome("token_exchange-ES256", 16_000.0, 0)];
        let v = verdicts(&alone, true);
        assert_eq!(v[0].met, None);
        assert!(v[0].measured.contains("not measured in this run"));
        assert!(targets_table(&v).contains("| not measured |"));
    }

    #[test]
    fn passkey_logins_are_held_to_five_times_password_logins() {
        let run = [
            outcome("authorization_code", 40.0, 0),
            outcome("authorization_code-passkey", 260.0, 0),
        ];
        let v = verdicts(&run, false);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].target, "≥ 5 × authorization_code, zero errors");
        assert_eq!(
            v[0].measured,
            "260/s, 6.5 × authorization_code's 40/s; 0 errors"
        );
        assert_eq!(v[0].met, Some(true), "held on PostgreSQL too");
        let slow = [
            outcome("authorization_code", 40.0, 0),
            outcome("authorization_code-passkey", 190.0, 0),
        ];
        assert_eq!(verdicts(&slow, true)[0].met, Some(false));
        let alone = [outcome("authorization_code-passkey", 260.0, 0)];
        let v = verdicts(&alone, true);
        assert_eq!(v[0].met, None);
        assert!(v[0]
            .measured
            .contains("(authorization_code not measured in this run)"));
    }

    #[test]
    fn any_error_misses() {
        let failing = [
            outcome("client_credentials-ES256", 30_000.0, 0),
            outcome("token_exchange-ES256", 20_000.0, 1),
        ];
        let v = verdicts(&failing, true);
        assert_eq!(v[0].met, Some(false));
        assert!(v[0].measured.ends_with("; 1 errors"), "{}", v[0].measured);
        // Not even measurable is a miss when it failed.
        let v = verdicts(&[outcome("token_exchange-ES256", 0.0, 1)], true);
        assert_eq!(v[0].met, Some(false));
        // A peer's row of the same name is not ours.
        let mut peer = outcome("token_exchange-ES256", 25_000.0, 0);
        peer.server = Target::OidcProvider;
        assert!(verdicts(&[peer], true).is_empty());
    }

    #[test]
    fn device_polls_are_held_to_a_rate_on_sqlite_with_their_split() {
        let mut polls = outcome("device_code-pending", 25_000.0, 0);
        polls.answers.count("authorization_pending", 5_000);
        polls.answers.count("slow_down", 245_000);
        let v = verdicts(std::slice::from_ref(&polls), true);
        assert_eq!(v[0].met, Some(true));
        assert_eq!(v[0].target, "≥ 20000/s, zero errors, on SQLite");
        assert_eq!(
            v[0].measured,
            "25000/s; authorization_pending 5000 (2.0 %), slow_down 245000 (98.0 %); 0 errors"
        );
        // On PostgreSQL the figures are given, not judged.
        let v = verdicts(std::slice::from_ref(&polls), false);
        assert_eq!(v[0].met, None);
        assert!(
            v[0].measured.ends_with("(on PostgreSQL)"),
            "{}",
            v[0].measured
        );
        let slow = outcome("device_code-pending", 19_000.0, 0);
        assert_eq!(verdicts(&[slow], true)[0].met, Some(false));
        // Errors miss on either backend.
        let failing = outcome("device_code-pending", 25_000.0, 3);
        assert_eq!(
            verdicts(std::slice::from_ref(&failing), true)[0].met,
            Some(false)
        );
        assert_eq!(verdicts(&[failing], false)[0].met, Some(false));
    }
}
