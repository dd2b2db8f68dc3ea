//! `gearmanctl top`: a live view of any job server (gearmand too) over the admin protocol:
//! per function, jobs queued and running, workers, and how fast the queue moves; refreshed,
//! sortable, `q` quits. `--once` prints one table.
//!
//! The terminal is drawn with ratatui (and its crossterm backend): a well-kept TUI crate rather
//! than hand-written escape codes, so resizing, alternate screen and restoring the terminal on
//! exit are handled.

mod table;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use gearman_client::AdminClient;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line as TextLine;
use ratatui::widgets::{Paragraph, Row, Table as Grid};
use tokio::sync::mpsc;

use table::{rate_text, SortKey, Table};

/// Options of `gearmanctl top`.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// The job server, HOST:PORT.
    #[arg(long = "server", short = 's', value_name = "HOST:PORT")]
    server: String,
    /// Seconds between polls.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Sort by this column (`s` cycles through them, `r` reverses).
    #[arg(long, value_enum, default_value = "queued")]
    sort: SortKey,
    /// Print one table and exit.
    #[arg(long)]
    once: bool,
}

pub(crate) async fn run(args: TopArgs) -> Result<ExitCode, String> {
    let interval = Duration::try_from_secs_f64(args.interval)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or("--interval must be a positive number of seconds")?;
    let admin = AdminClient::new(args.server.clone(), interval.max(Duration::from_secs(2)));
    if args.once {
        let rows = admin.status().await.map_err(|e| e.to_string())?;
        let mut table = Table::default();
        table.update(Instant::now(), &rows);
        print_once(&table, args.sort);
        return Ok(ExitCode::SUCCESS);
    }
    if !std::io::stdout().is_terminal() {
        return Err("top needs a terminal; --once prints one table".into());
    }
    live(&admin, &args.server, interval, args.sort).await
}

fn print_once(table: &Table, sort: SortKey) {
    println!(
        "{:<40}  {:>8}  {:>8}  {:>8}",
        "FUNCTION", "QUEUED", "RUNNING", "WORKERS"
    );
    for l in table.sorted(sort, false) {
        println!(
            "{:<40}  {:>8}  {:>8}  {:>8}",
            l.function, l.queued, l.running, l.workers
        );
    }
}

/// Keys, read on a thread of their own (crossterm's reads block).
fn keys() -> mpsc::UnboundedReceiver<KeyCode> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || loop {
        match event::poll(Duration::from_millis(100)) {
            Ok(true) => match event::read() {
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                    let key = match (k.code, k.modifiers) {
                        (KeyCode::Char('c'), m) if m.contains(KeyModifiers::CONTROL) => {
                            KeyCode::Esc
                        }
                        (code, _) => code,
                    };
                    if tx.send(key).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            },
            Ok(false) if tx.is_closed() => return,
            Ok(false) => {}
            Err(_) => return,
        }
    });
    rx
}

async fn live(
    admin: &AdminClient,
    server: &str,
    interval: Duration,
    mut sort: SortKey,
) -> Result<ExitCode, String> {
    let mut terminal = ratatui::try_init().map_err(|e| format!("terminal: {e}"))?;
    let mut keys = keys();
    let mut table = Table::default();
    let mut reverse = false;
    let mut error: Option<String> = None;
    let mut polled = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(interval);
    let result = loop {
        tokio::select! {
            _ = tick.tick() => {
                match admin.status().await {
                    Ok(rows) => {
                        table.update(Instant::now(), &rows);
                        error = None;
                        polled = tokio::time::Instant::now();
                    }
                    Err(e) => error = Some(e.to_string()),
                }
            }
            key = keys.recv() => match key {
                Some(KeyCode::Char('q') | KeyCode::Esc) | None => break Ok(ExitCode::SUCCESS),
                Some(KeyCode::Char('s')) => sort = sort.next(),
                Some(KeyCode::Char('r')) => reverse = !reverse,
                Some(_) => {}
            },
        }
        let age = polled.elapsed();
        let drawn = terminal
            .draw(|frame| draw(frame, server, &table, sort, reverse, error.as_deref(), age));
        if let Err(e) = drawn {
            break Err(format!("terminal: {e}"));
        }
    };
    ratatui::restore();
    result
}

fn draw(
    frame: &mut ratatui::Frame<'_>,
    server: &str,
    table: &Table,
    sort: SortKey,
    reverse: bool,
    error: Option<&str>,
    age: Duration,
) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let (queued, running, workers) = table.totals();
    let status = match error {
        Some(e) => format!(
            "{server}: {e} (showing the poll of {:.0} s ago)",
            age.as_secs_f64()
        ),
        None => format!(
            "{server}: {} functions, {queued} queued, {running} running, {workers} workers",
            table.lines.len()
        ),
    };
    frame.render_widget(Paragraph::new(status), head);
    let headings = ["FUNCTION", "QUEUED", "RUNNING", "WORKERS", "QUEUE/s"].map(|h| {
        if h == sort.heading() {
            format!("{h}{}", if reverse { "^" } else { "v" })
        } else {
            h.to_string()
        }
    });
    let rows = table.sorted(sort, reverse).into_iter().map(|l| {
        Row::new([
            l.function,
            l.queued.to_string(),
            l.running.to_string(),
            l.workers.to_string(),
            rate_text(l.rate),
        ])
    });
    let grid = Grid::new(
        rows,
        [
            Constraint::Min(20),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
        ],
    )
    .header(Row::new(headings).style(Style::new().add_modifier(Modifier::BOLD)));
    frame.render_widget(grid, body);
    frame.render_widget(
        Paragraph::new(TextLine::from("q quit   s sort   r reverse")),
        foot,
    );
}
