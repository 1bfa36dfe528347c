//! The run's progress on stderr while it runs: a live display (indicatif) when stderr is a terminal, a plain line
//! every few seconds otherwise. It tells the messages settled of those enqueued, the deliveries made, what is in
//! flight, what was published, and the scheduled signals and timers the run still waits for, until when.

use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::durable::scheduled::Waiting;
use crate::output::console;
use crate::output::problems::plural;
use crate::output::stats::StatsSnapshot;

/// What the progress display shows at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressView {
    /// The counters.
    pub snapshot: StatsSnapshot,
    /// The scheduled signals and timers still awaited.
    pub waiting: Waiting,
}

/// The progress as one line of text (without the message counts the live display shows as a bar).
pub fn progress_line(view: &ProgressView, now: DateTime<Utc>) -> String {
    let stats = &view.snapshot;
    let mut parts = vec![
        format!(
            "{} ({} redelivered, {} dead-lettered)",
            plural(stats.deliveries as usize, "delivery"),
            stats.redeliveries,
            stats.dead_lettered
        ),
        format!("{} in flight", stats.busy()),
        format!("{} published", stats.published_total()),
    ];
    if let Some(until) = view.waiting.until {
        let seconds = (until - now).num_seconds().max(0);
        parts.push(format!(
            "waiting for {} until {} (in {seconds} s)",
            plural(view.waiting.within, "timer"),
            until.format("%H:%M:%S")
        ));
    }
    if !stats.problems.is_empty() {
        parts.push(plural(stats.problems.len(), "problem"));
    }
    parts.join(" · ")
}

/// The progress display, running until [`Progress::finish`].
#[derive(Debug)]
pub struct Progress {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts showing what `view` returns: live when `live` (stderr is a terminal), else as a line every `every`.
    pub fn start(view: impl Fn() -> ProgressView + Send + 'static, live: bool, every: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let bar = live.then(|| {
                let bar = ProgressBar::new(0).with_style(
                    ProgressStyle::with_template(
                        "{spinner} {elapsed:>4} [{bar:24}] {pos}/{len} messages settled · {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                console::set_display(bar.clone());
                bar
            });
            let mut ticks = tokio::time::interval(if live { Duration::from_millis(200) } else { every });
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopped.wait_for(|&stop| stop) => break,
                }
                let view = view();
                let line = progress_line(&view, Utc::now());
                match &bar {
                    Some(bar) => {
                        bar.set_length(view.snapshot.messages_enqueued);
                        bar.set_position(view.snapshot.messages_settled());
                        bar.set_message(line);
                        bar.tick();
                    }
                    None => console::line(&format!(
                        "[local-host] {:>6.1}s  {}/{} messages settled · {line}",
                        view.snapshot.elapsed.as_secs_f64(),
                        view.snapshot.messages_settled(),
                        view.snapshot.messages_enqueued
                    )),
                }
            }
            if bar.is_some() {
                console::clear_display();
            }
        });
        Self { stop, task }
    }

    /// Stops the display (clearing the live one).
    pub async fn finish(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_tells_deliveries_flight_publications_and_timers() {
        let now = DateTime::parse_from_rfc3339("2025-03-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut view = ProgressView::default();
        view.snapshot.deliveries = 1250;
        view.snapshot.redeliveries = 10;
        view.snapshot.in_flight = 3;
        view.snapshot.published.insert("return-notifications".into(), 240);
        assert_eq!(
            progress_line(&view, now),
            "1250 deliveries (10 redelivered, 0 dead-lettered) · 3 in flight · 240 published"
        );
        view.waiting = Waiting {
            within: 35,
            until: Some(now + chrono::Duration::seconds(18)),
            ..Waiting::default()
        };
        assert!(
            progress_line(&view, now).ends_with("· waiting for 35 timers until 12:00:18 (in 18 s)"),
            "{}",
            progress_line(&view, now)
        );
    }
}
