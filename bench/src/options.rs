//! The command line, parsed by hand: too few flags to need a parser crate.
//! They are listed in the header of `main.rs`.

use std::path::PathBuf;
use std::time::Duration;

use crate::peers::Target;
use crate::scenarios::scenarios;

/// The run the command line asks for.
pub struct Options {
    pub duration: Duration,
    pub concurrency: usize,
    pub only: Option<Vec<String>>,
    pub database_url: Option<String>,
    pub binary: PathBuf,
    pub report: Option<PathBuf>,
    pub trace: Option<PathBuf>,
    pub smoke: bool,
    pub peers: Vec<Target>,
}

pub fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        duration: Duration::from_secs(10),
        concurrency: 16,
        only: None,
        database_url: None,
        binary: PathBuf::from("target/release/portcullis"),
        report: None,
        trace: None,
        smoke: false,
        peers: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--duration" => {
                o.duration = Duration::from_secs_f64(
                    value("--duration")?
                        .parse()
                        .map_err(|_| "--duration: seconds")?,
                )
            }
            "--concurrency" => {
                o.concurrency = value("--concurrency")?
                    .parse()
                    .map_err(|_| "--concurrency: a number")?
            }
            "--scenarios" => {
                o.only = Some(
                    value("--scenarios")?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "--database-url" => o.database_url = Some(value("--database-url")?),
            "--binary" => o.binary = PathBuf::from(value("--binary")?),
            "--report" => o.report = Some(PathBuf::from(value("--report")?)),
            "--trace" => o.trace = Some(PathBuf::from(value("--trace")?)),
            "--peers" => {
                o.peers = value("--peers")?
                    .split(',')
                    .map(Target::parse)
                    .collect::<Result<_, _>>()?
            }
            "--smoke" => {
                o.smoke = true;
                o.duration = Duration::from_secs(2);
                o.concurrency = 4;
            }
            "--list" => {
                for s in scenarios() {
                    println!("{}", s.name);
                }
                std::process::exit(0);
            }
            "--help" | "-h" => {
                println!("see the header of bench/src/main.rs, or README.md (Benchmarks)");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}
