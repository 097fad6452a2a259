use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
#[cfg(feature = "sim")]
use suture::demo;
use suture::{inputs, plan, render};

/// suture: from a broken Kubernetes workload to a reviewed, verified fix in Git.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ShowFormat {
    Text,
    Json,
    /// A blameless postmortem.
    Markdown,
}

/// Which ledger a command reads: the one a `suture serve` configuration names, or a URL.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct LedgerArg {
    /// A `suture serve` configuration file (its `ledger`, with the SUTURE_* environment applied).
    #[arg(long)]
    config: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://...`.
    #[arg(long)]
    ledger: Option<String>,
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// Incidents, the most recently updated first.
    List {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Only incidents in this state (`escalated`, `pr_open`, ...).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// One incident's full timeline; `--format markdown` writes a blameless postmortem.
    Show {
        key: String,
        #[command(flatten)]
        ledger: LedgerArg,
        #[arg(long, value_enum, default_value = "text")]
        format: ShowFormat,
    },
}

#[cfg(feature = "sim")]
#[derive(Clone, Copy, ValueEnum)]
enum DemoForge {
    Github,
    Gitlab,
}

#[derive(Subcommand)]
enum Command {
    /// Tell what is broken, what suture would change, where, and show the diff. Writes nothing.
    Plan {
        /// Kubernetes objects as `kubectl get -o yaml|json` writes them (file or directory).
        #[arg(long = "state", required = true)]
        state: Vec<PathBuf>,
        /// `URL=DIR` maps an Application source repoURL to a checkout; `DIR` serves every source.
        #[arg(long = "repo")]
        repo: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Evaluation time for time-based faults (RFC 3339); default: now.
        #[arg(long)]
        now: Option<String>,
    },
    /// The whole loop in one process: a simulated world with a fault, `suture serve` against
    /// it, the pull request it opens with Argo CD sync paused, a reviewer's merge, sync resumed.
    #[cfg(feature = "sim")]
    Demo {
        /// A scenario of `suture sim` (`suture sim --scenario list`).
        #[arg(long, default_value = "oom")]
        scenario: String,
        /// The forge the GitOps repository lives on.
        #[arg(long, value_enum, default_value = "github")]
        forge: DemoForge,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Simulated seconds per wall-clock second.
        #[arg(long, default_value_t = 30.0)]
        speed: f64,
    },
    /// Watch the cluster, open one pull/merge request per incident with Argo CD sync paused,
    /// and react to merge webhooks (docs/config.md).
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Accept unauthenticated webhooks when no secret is configured (local use only).
        #[arg(long)]
        insecure_webhooks: bool,
    },
    /// Validate a `suture serve` configuration file (with the SUTURE_* environment applied) and
    /// report every problem at once.
    CheckConfig { file: PathBuf },
    /// Acknowledge an incident's escalation: its reminders stop (a later escalation notifies
    /// again). Written to the ledger directly; the same hop as `POST /api/incidents/{key}/ack`.
    Ack {
        key: String,
        #[command(flatten)]
        ledger: LedgerArg,
        /// Who acknowledges, as the hop records it.
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// The incident record from the ledger.
    Incidents {
        #[command(subcommand)]
        command: IncidentsCommand,
    },
    /// Create the incident ledger or apply the migrations it lacks, then exit.
    Migrate {
        /// `sqlite://PATH` (the default, a file created when missing) or `postgres://...`.
        #[arg(long, default_value = "sqlite://suture.db")]
        ledger: String,
    },
    /// Run the simulated world (Kubernetes + controllers, Argo CD, Git, GitHub, GitLab) with a
    /// scenario seeded, print its endpoints and credentials, and serve until Ctrl-C.
    #[cfg(feature = "sim")]
    Sim {
        /// A scenario name, or `list` to print them.
        #[arg(long, default_value = "oom")]
        scenario: String,
        /// Address of the Kubernetes API (default: an ephemeral loopback port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Where to write the kubeconfig (default: a temporary directory, removed on exit).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Simulated seconds per wall-clock second.
        #[arg(long, default_value_t = 20.0)]
        speed: f64,
    },
}

fn print(plan: &plan::Plan, format: Format) {
    match format {
        Format::Text => print!("{}", render::text(plan)),
        Format::Json => match serde_json::to_string_pretty(plan) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("error: cannot encode the plan: {e}"),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `RUST_LOG` wins; without it the service logs its incidents and the one-shot commands
    // only what went wrong.
    let default = match cli.command {
        Command::Serve { .. } => "warn,suture=info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        #[cfg(feature = "sim")]
        Command::Sim {
            scenario,
            listen,
            dir,
            speed,
        } => sim(&scenario, listen, dir, speed),
        Command::Migrate { ledger } => migrate(&ledger),
        Command::Ack { key, ledger, by } => ack(&key, &ledger, &by),
        Command::Incidents { command } => incidents(command),
        Command::CheckConfig { file } => check_config(&file),
        #[cfg(feature = "sim")]
        Command::Demo {
            scenario,
            forge,
            format,
            speed,
        } => demo(&scenario, forge, format, speed),
        Command::Serve {
            config,
            insecure_webhooks,
        } => serve(&config, insecure_webhooks),
        Command::Plan {
            state,
            repo,
            format,
            now,
        } => {
            let now = match now.as_deref().map(str::parse::<jiff::Timestamp>) {
                None => jiff::Timestamp::now(),
                Some(Ok(t)) => t,
                Some(Err(e)) => {
                    eprintln!("error: --now: {e}");
                    return ExitCode::from(2);
                }
            };
            let repos = match inputs::load_repos(&repo) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let (cluster, errors, warnings) = inputs::load_snapshot(&state);
            let settings = plan::Settings::default();
            let mut result = plan::plan_snapshot(&cluster, &repos, &settings, now);
            result.warnings.extend(warnings);
            print(&result, format);
            for e in &errors {
                eprintln!("error: {e}");
            }
            // Unreadable input is exit 2 (the plan of what was readable is still printed).
            if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
    }
}

#[cfg(feature = "sim")]
fn sim(
    name: &str,
    listen: Option<std::net::SocketAddr>,
    dir: Option<PathBuf>,
    speed: f64,
) -> ExitCode {
    let listing = suture_sim::scenarios::listing();
    if name == "list" {
        print!("scenarios:\n{listing}");
        return ExitCode::SUCCESS;
    }
    let Some(scenario) = suture_sim::scenarios::find(name) else {
        eprint!("error: unknown scenario {name:?}; scenarios:\n{listing}");
        return ExitCode::from(2);
    };
    if !(speed.is_finite() && speed > 0.0) {
        eprintln!("error: --speed must be a positive number");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        use suture_sim::world::{Options, World};
        let options = Options {
            speed,
            listen,
            dir,
            ..Options::default()
        };
        let world = match World::start(scenario, options) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: cannot start the simulated world: {e}");
                return ExitCode::FAILURE;
            }
        };
        let dir = world
            .kubeconfig_path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let written = demo::world_config::free_addr()
            .and_then(|addr| demo::world_config::write(&world, &dir, addr, speed));
        let serve = match written {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: cannot write the serve config: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "suture sim: scenario {} ({}x clock)\n{}\nserve config: {}\nsuture url: {}\nready; Ctrl-C to stop",
            world.scenario.name,
            speed,
            world.endpoints(),
            serve.path.display(),
            serve.url
        );
        stopped().await;
        world.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(feature = "sim")]
fn demo(scenario: &str, forge: DemoForge, format: Format, speed: f64) -> ExitCode {
    let forge = match forge {
        DemoForge::Github => demo::DemoForge::GitHub,
        DemoForge::Gitlab => demo::DemoForge::GitLab,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(demo::run(scenario, forge, speed)) {
        Ok(report) => {
            match format {
                Format::Text => print!("{}", demo::text(&report)),
                Format::Json => match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => eprintln!("error: cannot encode the report: {e}"),
                },
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Load and validate the config; the messages name files and keys, never secret contents.
fn load_config(file: &std::path::Path) -> Result<suture::config::Settings, ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", file.display());
        ExitCode::from(2)
    })?;
    let base = file.parent().unwrap_or(std::path::Path::new("."));
    suture::config::load(Some(&text), std::env::vars(), base).map_err(|errors| {
        eprintln!("{}: {errors}", file.display());
        ExitCode::FAILURE
    })
}

fn serve(file: &std::path::Path, insecure_webhooks: bool) -> ExitCode {
    let settings = match load_config(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if !settings.has_webhook_secret() && !insecure_webhooks {
        eprintln!(
            "error: no webhook secret is configured (webhooks.*_files); refusing to accept unauthenticated webhooks. Pass --insecure-webhooks for local use only."
        );
        return ExitCode::from(2);
    }
    let base = file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&settings.config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", settings.config.listen);
                return ExitCode::FAILURE;
            }
        };
        let service = match suture::serve::Service::start(&settings, &base, None, listener).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        println!("suture serve: listening on http://{}", service.addr);
        stopped().await;
        service.shutdown().await;
        ExitCode::SUCCESS
    })
}

fn check_config(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let base = file.parent().unwrap_or(std::path::Path::new("."));
    match suture::config::load(Some(&text), std::env::vars(), base) {
        Ok(settings) => {
            println!(
                "{}: ok (cluster {}, ledger {}, {} forge(s))",
                file.display(),
                settings.config.cluster.name,
                settings.config.ledger.split(':').next().unwrap_or(""),
                settings.config.forges.len()
            );
            if !settings.has_webhook_secret() {
                println!(
                    "note: no webhook secret is configured; `suture serve` refuses to start without one unless --insecure-webhooks is given"
                );
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{}: {errors}", file.display());
            ExitCode::FAILURE
        }
    }
}

/// The ledger URL a command names. A SQLite file must exist: a typo is not a new, empty ledger.
fn ledger_url(arg: &LedgerArg) -> Result<String, ExitCode> {
    let url = match (&arg.ledger, &arg.config) {
        (Some(url), _) => url.clone(),
        (None, Some(file)) => load_config(file)?.config.ledger,
        (None, None) => {
            eprintln!("error: give --config FILE or --ledger URL");
            return Err(ExitCode::from(2));
        }
    };
    match suture::ledger::Dialect::of(&url) {
        Ok(suture::ledger::Dialect::Sqlite) if !url.contains("mode=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            Ok(format!("{url}{sep}mode=rw"))
        }
        Ok(_) => Ok(url),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Run `f` on the ledger `arg` names (migrated, as `serve` would) on a fresh runtime.
fn with_ledger<F>(arg: &LedgerArg, f: impl FnOnce(suture::ledger::Ledger) -> F) -> ExitCode
where
    F: Future<Output = ExitCode>,
{
    let url = match ledger_url(arg) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let ledger = match suture::ledger::Ledger::open(&url).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot open the ledger: {e}");
                return ExitCode::FAILURE;
            }
        };
        let code = f(ledger.clone()).await;
        ledger.close().await;
        code
    })
}

fn ack(key: &str, arg: &LedgerArg, by: &str) -> ExitCode {
    with_ledger(arg, |ledger| async move {
        match ledger.acknowledge(key, by, jiff::Timestamp::now()).await {
            Ok(true) => {
                println!("acknowledged {key}");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                println!("{key} was already acknowledged");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn incidents(command: IncidentsCommand) -> ExitCode {
    use suture::record;
    match command {
        IncidentsCommand::List {
            ledger,
            state,
            format,
        } => {
            let state = match state
                .as_deref()
                .map(str::parse::<suture::incident::IncidentState>)
            {
                None => None,
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    eprintln!("error: --state: {e}");
                    return ExitCode::from(2);
                }
            };
            with_ledger(&ledger, |ledger| async move {
                match ledger.incidents(state, 10_000).await {
                    Ok(list) => {
                        match format {
                            Format::Text => print!("{}", record::list_text(&list)),
                            Format::Json => println!("{:#}", record::list_json(&list)),
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        IncidentsCommand::Show {
            key,
            ledger,
            format,
        } => with_ledger(&ledger, |ledger| async move {
            let read = async {
                let Some(incident) = ledger.incident(&key).await? else {
                    return Ok(None);
                };
                Ok::<_, suture::ledger::LedgerError>(Some(record::Record {
                    hops: ledger.hops(&key).await?,
                    pull_requests: ledger.pull_requests(&key).await?,
                    incident,
                }))
            };
            match read.await {
                Ok(Some(r)) => {
                    match format {
                        ShowFormat::Text => print!("{}", record::show_text(&r)),
                        ShowFormat::Json => println!("{:#}", record::show_json(&r)),
                        ShowFormat::Markdown => print!("{}", record::postmortem::markdown(&r)),
                    }
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("error: no incident {key}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }),
    }
}

fn migrate(url: &str) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match suture::ledger::Ledger::open(url).await {
            Ok(ledger) => {
                let newest = suture::ledger::migrations::versions().last().copied();
                println!(
                    "ledger migrated to version {}",
                    newest.map_or("none".into(), |v| v.to_string())
                );
                ledger.close().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Ctrl-C, or SIGTERM (what `kill` and process supervisors send), so the world shuts down
/// cleanly and the temporary kubeconfig directory is removed either way.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
