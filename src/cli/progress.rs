//! Rendering cluster events on stderr: a live display with a spinner per
//! object still waiting when stderr is a terminal, one plain line per
//! event otherwise (CI logs, pipes), as nextest's reporter does.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cluster::{Event, Progress};

/// The reporter for this process's stderr: live on a terminal (unless
/// `TERM=dumb`), plain lines otherwise. Dropping it finishes the display.
pub fn reporter() -> Box<dyn Progress> {
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    if std::io::stderr().is_terminal() && !dumb {
        Box::new(LiveReporter::new())
    } else {
        Box::new(PlainReporter::new(std::io::stderr()))
    }
}

/// The line an event gets in plain output, e.g. `applied
/// Deployment/ns/web (configured)` or `waiting Deployment/ns/web: 1/2
/// replicas available`.
pub fn format_plain(event: &Event) -> String {
    match event {
        Event::Tier { name, objects } => format!("applying {name}: {objects} object(s)"),
        Event::Applied { object, outcome } => format!("applied {object} ({outcome})"),
        Event::Pruned { object } => format!("pruned {object}"),
        Event::Waiting { object, reason } => format!("waiting {object}: {reason}"),
        Event::Ready { object } => format!("ready {object}"),
        Event::Note(text) => text.clone(),
        Event::Warning(text) => format!("warning: {text}"),
    }
}

/// One line per event on a writer (stderr in the CLI).
pub struct PlainReporter<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> PlainReporter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        PlainReporter { out: Mutex::new(out) }
    }

    /// The writer back (tests read what was written).
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: Write + Send> Progress for PlainReporter<W> {
    fn event(&self, event: Event) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // Progress is a courtesy: a closed stderr must not fail the operation.
        let _ = writeln!(out, "{}", format_plain(&event));
        let _ = out.flush();
    }
}

/// A live display on a terminal: finished steps as lines, a spinner per
/// object still waiting (with its reason and how long it has waited).
pub struct LiveReporter {
    display: MultiProgress,
    waiting: Mutex<HashMap<String, ProgressBar>>,
    style: ProgressStyle,
}

impl LiveReporter {
    /// Draws on stderr.
    pub fn new() -> Self {
        LiveReporter::with_target(ProgressDrawTarget::stderr())
    }

    fn with_target(target: ProgressDrawTarget) -> Self {
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        LiveReporter { display: MultiProgress::with_draw_target(target), waiting: Mutex::new(HashMap::new()), style }
    }

    fn line(&self, text: &str) {
        // println fails only when nothing is drawn (stderr gone): ignore.
        let _ = self.display.println(text);
    }

    /// Stops every spinner, leaving each one's last state on screen (after
    /// a timeout, those lines say what was still waited for).
    pub fn finish(&self) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for (_, bar) in waiting.drain() {
            bar.abandon();
        }
    }
}

impl Default for LiveReporter {
    fn default() -> Self {
        LiveReporter::new()
    }
}

impl Progress for LiveReporter {
    fn event(&self, event: Event) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match &event {
            Event::Waiting { object, reason } => {
                let bar = waiting.entry(object.clone()).or_insert_with(|| {
                    let bar = self.display.add(ProgressBar::new_spinner().with_style(self.style.clone()));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_message(format!("waiting {object}: {reason}"));
            }
            Event::Ready { object } => {
                if let Some(bar) = waiting.remove(object) {
                    bar.finish_and_clear();
                    self.display.remove(&bar);
                }
                self.line(&format_plain(&event));
            }
            _ => self.line(&format_plain(&event)),
        }
    }
}

impl Drop for LiveReporter {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_name_the_event_and_the_object() {
        let reporter = PlainReporter::new(Vec::new());
        let web = "Deployment/ns/web".to_string();
        reporter.event(Event::Tier { name: "workloads".into(), objects: 2 });
        reporter.event(Event::Applied { object: web.clone(), outcome: "configured".into() });
        reporter.event(Event::Waiting { object: web.clone(), reason: "1/2 replicas available".into() });
        reporter.event(Event::Ready { object: web });
        reporter.event(Event::Pruned { object: "ConfigMap/ns/old".into() });
        reporter.event(Event::Note("rolling back to revision 3".into()));
        reporter.event(Event::Warning("lease taken over from a dead holder".into()));
        let text = String::from_utf8(reporter.into_inner()).unwrap();
        assert_eq!(
            text,
            "applying workloads: 2 object(s)\n\
             applied Deployment/ns/web (configured)\n\
             waiting Deployment/ns/web: 1/2 replicas available\n\
             ready Deployment/ns/web\n\
             pruned ConfigMap/ns/old\n\
             rolling back to revision 3\n\
             warning: lease taken over from a dead holder\n"
        );
    }

    #[test]
    fn the_live_display_tracks_and_finishes_its_spinners() {
        let live = LiveReporter::with_target(ProgressDrawTarget::hidden());
        live.event(Event::Waiting { object: "a".into(), reason: "x".into() });
        live.event(Event::Waiting { object: "a".into(), reason: "y".into() });
        live.event(Event::Waiting { object: "b".into(), reason: "z".into() });
        assert_eq!(live.waiting.lock().unwrap().len(), 2);
        live.event(Event::Ready { object: "a".into() });
        assert_eq!(live.waiting.lock().unwrap().len(), 1);
        live.finish();
        assert!(live.waiting.lock().unwrap().is_empty());
    }
}
