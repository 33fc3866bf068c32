//! The command line: `serve` (the default), `worker`, `migrate`, `user add`,
//! `patient export`, `protocol check|show`, `demo seed`, `mail test`, `backup` and `restore`.

use crate::words::counted;
use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::AppError;
use crate::mail::Failure;
use crate::startup::{Application, MetricsServer};
use crate::usecases::accounts::{self, NewUserInput};
use crate::usecases::backup;

/// Personalised microneedling aftercare sheets and reminder emails.
///
/// Configuration comes from AFTERCARE_* environment variables (see the
/// README); with none set the app uses a SQLite file `aftercare.db` and
/// listens on 127.0.0.1:8080.
#[derive(Parser)]
#[command(name = "aftercare", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations, then serve the web app and run the
    /// reminder worker in the same process (the default).
    Serve {
        /// Serve pages only; run `aftercare worker` separately.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run only the reminder worker (several may share one PostgreSQL database).
    Worker,
    /// Demo data for trying the app and measuring it.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Email tools.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy the SQLite database to a new file while the app runs, check the
    /// copy, and print its size and what it holds. On PostgreSQL, prints the
    /// pg_dump command to use instead.
    Backup {
        /// The new file (never overwritten).
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Replace the SQLite database with a backup, with the app stopped. The
    /// backup is checked first; the current database is kept beside it as
    /// NAME.before-restore-TIME.
    Restore {
        /// A file made by `aftercare backup` or a daily backup.
        file: std::path::PathBuf,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// A patient's data requests.
    Patient {
        #[command(subcommand)]
        command: PatientCommand,
    },
    /// Check or print an aftercare protocol (the clinical content of sheets and emails).
    Protocol {
        #[command(subcommand)]
        command: ProtocolCommand,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Add a demo clinic, one user per role and many patients (every tenth with a treatment).
    Seed {
        #[arg(long, default_value_t = 200)]
        patients: usize,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Send one test email through the configured transport (SMTP or .eml files).
    Test {
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum ProtocolCommand {
    /// Validate a protocol file and print a sample plan for a standard face treatment.
    Check { file: std::path::PathBuf },
    /// Print the built-in protocol, to start a clinic's own from.
    Show {
        /// Instead, list each source (guide or public reference) with its kind of publisher and
        /// the entries resting on it, then the entries resting on commercial sources only, for a
        /// clinic's reviewer.
        #[arg(long, conflicts_with = "decisions")]
        sources: bool,
        /// Instead, list the clinic's decisions ([decisions] in the file): each one's name,
        /// value, what it decides, why the default is the careful one, and its sources.
        #[arg(long)]
        decisions: bool,
    },
}

#[derive(Subcommand)]
enum PatientCommand {
    /// Print everything held about one patient as JSON (what the patient's page offers admins
    /// as "Export their data"). The export is recorded in the audit log.
    ///
    /// Example: aftercare patient export --id 42 > patient-42.json
    Export {
        #[arg(long)]
        id: i64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from standard input (first line).
    ///
    /// Example: echo 'a long passphrase' | aftercare user add --email ana@clinic.example --name "Ana" --role admin
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, practitioner or staff
        #[arg(long)]
        role: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A `.env` file in the working directory is read if present (never required);
    // variables already set in the environment win. A malformed one stops here.
    if let Err(errors) = crate::config::dotenv::load() {
        return configuration_problems(&errors);
    }
    if let Err(e) = init_tracing() {
        return configuration_problems(&[e]);
    }
    // Protocol commands need no database or configuration.
    if let Some(Command::Protocol { command }) = &cli.command {
        return match protocol_command(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("aftercare: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(errors) => return configuration_problems(&errors),
    };
    let result = match cli.command.unwrap_or(Command::Serve { no_worker: false }) {
        Command::Serve { no_worker } => serve(settings, !no_worker),
        Command::Worker => worker(settings),
        Command::Mail {
            command: MailCommand::Test { to },
        } => mail_test(settings, &to),
        Command::Demo {
            command: DemoCommand::Seed { patients },
        } => demo_seed(settings, patients),
        Command::Migrate => migrate(&settings),
        Command::Backup { to } => backup_to(&settings, &to),
        Command::Restore { file } => restore(&settings, &file),
        Command::User {
            command: UserCommand::Add { email, name, role },
        } => add_user(&settings, email, name, role),
        Command::Patient {
            command: PatientCommand::Export { id },
        } => export_patient(&settings, id),
        Command::Protocol { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aftercare: {e:#}");
            // As for a bad setting: the operator, not a retry, can mend it.
            if e.downcast_ref::<ConfigurationError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A failure that only a change to the settings can mend (the exit status is 2).
#[derive(Debug)]
struct ConfigurationError(String);

impl std::fmt::Display for ConfigurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigurationError {}

fn protocol_command(command: &ProtocolCommand) -> anyhow::Result<()> {
    use crate::care;
    match command {
        ProtocolCommand::Show {
            sources: false,
            decisions: false,
        } => {
            print!("{}", care::DEFAULT_PROTOCOL_TOML);
            Ok(())
        }
        ProtocolCommand::Show { sources: true, .. } => {
            print!(
                "{}",
                care::protocol::sources_as_text(&care::Protocol::default_protocol())
            );
            Ok(())
        }
        ProtocolCommand::Show {
            decisions: true, ..
        } => {
            print!(
                "{}",
                care::protocol::decisions_as_text(&care::Protocol::default_protocol())
            );
            Ok(())
        }
        ProtocolCommand::Check { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let protocol = care::Protocol::parse(&file.display().to_string(), &text)?;
            let plan = care::compute_plan(&protocol, &care::sample_input())
                .map_err(|e| anyhow::anyhow!("the sample plan failed: {e}"))?;
            println!(
                "{} is valid. A sample plan for a standard face treatment:\n",
                file.display()
            );
            print!("{}", care::plan_as_text(&plan));
            Ok(())
        }
    }
}

/// Logs to standard output (see `web::telemetry::init_tracing`).
/// Says what is wrong with the configuration, one problem a line, and exits with 2.
fn configuration_problems(errors: &[String]) -> ExitCode {
    eprintln!(
        "aftercare: the configuration has {} problem(s):",
        errors.len()
    );
    for e in errors {
        eprintln!("  - {e}");
    }
    ExitCode::from(2)
}

fn init_tracing() -> Result<(), String> {
    crate::web::telemetry::init_tracing()
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let _lock = backup::DatabaseLock::shared(&settings.database)?;
    let applied = crate::usecases::database::migrate(&settings.database)?;
    if applied.is_empty() {
        println!("The database is up to date.");
    } else {
        for m in applied {
            println!("applied {m}");
        }
    }
    Ok(())
}

fn backup_to(settings: &Settings, to: &std::path::Path) -> anyhow::Result<()> {
    let taken = backup::take_from(&settings.database, to)?;
    let c = taken.counts;
    println!(
        "Backed up the database to {} in {:.1} s: {} ({} bytes), integrity check ok.\n\
         It holds {}, {} and {}.",
        taken.path.display(),
        taken.took.as_secs_f64(),
        backup::human_size(taken.bytes),
        taken.bytes,
        counted(c.patients, "patient"),
        counted(c.treatments, "treatment"),
        counted(c.reminders, "reminder")
    );
    Ok(())
}

fn restore(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let restored = backup::restore(&settings.database, file, SystemClock.now())?;
    for old in &restored.kept_aside {
        println!("Kept the previous file as {}", old.display());
    }
    let c = restored.counts;
    println!(
        "Restored {} to {}: integrity check ok; {}, {} and {}.",
        file.display(),
        restored.database.display(),
        counted(c.patients, "patient"),
        counted(c.treatments, "treatment"),
        counted(c.reminders, "reminder")
    );
    if restored.pending_migrations > 0 {
        println!(
            "The backup is from an earlier version: {} migration(s) will be applied when the app starts.",
            restored.pending_migrations
        );
    }
    println!("Start the app again (aftercare serve).");
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn serve(settings: Settings, with_worker: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let app = Application::build_with(settings, with_worker)?;
        let base_url = app.state.settings.base_url.clone();
        let state = app.state.clone();
        if let Some(token) = state.db(accounts::issue_setup_token).await.map_err(to_anyhow)? {
            println!("\nNo account exists yet. Open this one-time link to create the first admin:\n\n    {base_url}/setup/{token}\n");
        }
        tracing::info!(address = %base_url, worker = with_worker, "serving");
        // Ends on SIGTERM or Ctrl-C, or with an error when the worker dies.
        app.run_supervised().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn worker(settings: Settings) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let state = crate::startup::prepare(settings)?;
        let worker = crate::startup::worker_for(&state)?;
        let metrics = MetricsServer::bind(&state)?;
        MetricsServer::alongside(metrics, worker.run_until(shutdown_signal())).await
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn demo_seed(settings: Settings, patients: usize) -> anyhow::Result<()> {
    let state = crate::startup::prepare(settings)?;
    let mut conn = state.pool.get()?;
    let started = std::time::Instant::now();
    let report = crate::usecases::demo::seed(&mut conn, &state.protocol, patients, state.timing())
        .map_err(to_anyhow)?;
    println!(
        "Added {}, {} and {} ({} acknowledged) in {:.1} s.",
        counted(report.patients, "patient"),
        counted(report.treatments, "treatment"),
        counted(report.checkins, "check-in"),
        report.acknowledged,
        started.elapsed().as_secs_f64()
    );
    for (email, role) in report.users {
        println!(
            "  {:<13} {email}  password: {}",
            role.label(),
            crate::usecases::demo::DEMO_PASSWORD
        );
    }
    Ok(())
}

fn mail_test(settings: Settings, to: &str) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mailer = settings.mailer()?;
        let state = crate::startup::prepare(settings)?;
        let clinic = state.db(crate::usecases::clinic::get).await.map_err(to_anyhow)?;
        let id = crate::mail::message_id("test", &clinic.sender_email);
        let envelope = crate::mail::Envelope {
            from_name: &clinic.name,
            from_email: &clinic.sender_email,
            reply_to: None,
            to_name: to,
            to_email: to,
            subject: "Aftercare: test email",
            message_id: &id,
            unsubscribe_url: None,
        };
        let text = format!("This is a test email from Aftercare for {}. If you can read it, email works.", clinic.name);
        let html = format!("<p>This is a test email from Aftercare for <strong>{}</strong>. If you can read it, email works.</p>", askama::filters::escape(&clinic.name, askama::filters::Html)?);
        let message = crate::mail::build_message(&envelope, text, html)?;
        if let Err(e) = mailer.send(message).await {
            return Err(match e.kind {
                Failure::Configuration => ConfigurationError(format!(
                    "{e}\nThe mail settings need fixing (AFTERCARE_SMTP_URL, AFTERCARE_SMTP_CA_FILE: see the README's \"Mail server and TLS\"); nothing was sent."
                ))
                .into(),
                Failure::Permanent => anyhow::anyhow!("sending failed (permanent): {e}"),
                Failure::Temporary => anyhow::anyhow!("sending failed (temporary): {e}"),
            });
        }
        println!("Sent a test email to {to} via {}.", mailer.describe());
        Ok(())
    })
}

fn to_anyhow(e: AppError) -> anyhow::Error {
    match e {
        AppError::Invalid(errors) => anyhow::anyhow!(
            "{}",
            errors
                .0
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

fn add_user(settings: &Settings, email: String, name: String, role: String) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.lines().next().unwrap_or("").to_string();
    let _lock = backup::DatabaseLock::shared(&settings.database)?;
    let pool = crate::usecases::database::open(&settings.database)?;
    let mut conn = pool.get()?;
    let input = NewUserInput {
        name,
        email,
        role,
        password_confirm: password.clone(),
        password,
        password_mode: "password".into(),
    };
    let id = accounts::add_user_from_cli(&mut conn, &input, SystemClock.now_naive())
        .map_err(to_anyhow)?;
    println!("Added user {id} ({}).", input.email.trim());
    Ok(())
}

fn export_patient(settings: &Settings, id: i64) -> anyhow::Result<()> {
    let pool = crate::usecases::database::open(&settings.database)?;
    let mut conn = pool.get()?;
    let actor = crate::usecases::audit::Actor::anonymous("command line", "-");
    let json = crate::usecases::data_rights::export(&mut conn, &actor, id, SystemClock.now_naive())
        .map_err(|e| match e {
            AppError::NotFound => anyhow::anyhow!("there is no patient {id}"),
            other => to_anyhow(other),
        })?;
    println!("{json}");
    Ok(())
}
