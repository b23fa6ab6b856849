//! Rendering cluster events on stderr: a live display with a spinner per
//! object still waiting when stderr is a terminal, one plain line per
//! event otherwise (CI logs, pipes), as nextest's reporter does.

use std::collections::{BTreeMap, HashMap};
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

/// How many objects get a spinner of their own; the rest are counted on one
/// line, so a set of a thousand objects still fits a terminal.
const VISIBLE_SPINNERS: usize = 12;

/// A live display on a terminal: finished steps as lines, a spinner per
/// object still waiting (with its reason and how long it has waited), at
/// most [`VISIBLE_SPINNERS`] of them plus a line counting the others.
pub struct LiveReporter {
    display: MultiProgress,
    state: Mutex<LiveState>,
    style: ProgressStyle,
}

#[derive(Default)]
struct LiveState {
    /// Objects with a spinner.
    shown: HashMap<String, ProgressBar>,
    /// Objects waiting without one, with their latest reason.
    queued: BTreeMap<String, String>,
    /// The "... and N more" line, while anything is queued.
    more: Option<ProgressBar>,
}

impl LiveReporter {
    /// Draws on stderr.
    pub fn new() -> Self {
        LiveReporter::with_target(ProgressDrawTarget::stderr())
    }

    fn with_target(target: ProgressDrawTarget) -> Self {
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        LiveReporter { display: MultiProgress::with_draw_target(target), state: Mutex::default(), style }
    }

    fn line(&self, text: &str) {
        // println fails only when nothing is drawn (stderr gone): ignore.
        let _ = self.display.println(text);
    }

    fn spinner(&self, state: &LiveState, object: &str, reason: &str) -> ProgressBar {
        let bar = ProgressBar::new_spinner().with_style(self.style.clone());
        // Spinners stay above the "... and N more" line.
        let bar = match &state.more {
            Some(more) => self.display.insert_before(more, bar),
            None => self.display.add(bar),
        };
        bar.set_message(format!("waiting {object}: {reason}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    fn update_more(&self, state: &mut LiveState) {
        if state.queued.is_empty() {
            if let Some(more) = state.more.take() {
                more.finish_and_clear();
                self.display.remove(&more);
            }
            return;
        }
        let more = state.more.get_or_insert_with(|| {
            let bar = self.display.add(ProgressBar::new_spinner().with_style(self.style.clone()));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        more.set_message(format!("... and {} more object(s) waiting", state.queued.len()));
    }

    /// Stops every spinner, leaving each one's last state on screen (after
    /// a timeout, those lines say what was still waited for).
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for (_, bar) in state.shown.drain() {
            bar.abandon();
        }
        state.queued.clear();
        if let Some(more) = state.more.take() {
            more.abandon();
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
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &event {
            Event::Waiting { object, reason } => {
                if let Some(bar) = state.shown.get(object) {
                    bar.set_message(format!("waiting {object}: {reason}"));
                } else if state.shown.len() < VISIBLE_SPINNERS {
                    let bar = self.spinner(&state, object, reason);
                    state.shown.insert(object.clone(), bar);
                } else {
                    state.queued.insert(object.clone(), reason.clone());
                    self.update_more(&mut state);
                }
            }
            Event::Ready { object } => {
                if let Some(bar) = state.shown.remove(object) {
                    bar.finish_and_clear();
                    self.display.remove(&bar);
                    // The next queued object gets the freed spinner.
                    if let Some((next, reason)) = state.queued.pop_first() {
                        let bar = self.spinner(&state, &next, &reason);
                        state.shown.insert(next, bar);
                    }
                } else {
                    state.queued.remove(object);
                }
                self.update_more(&mut state);
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
    fn the_live_display_shows_a_bounded_number_of_spinners() {
        let live = LiveReporter::with_target(ProgressDrawTarget::hidden());
        let waiting = |n: usize, reason: &str| Event::Waiting { object: format!("o{n:02}"), reason: reason.into() };
        for n in 0..VISIBLE_SPINNERS + 3 {
            live.event(waiting(n, "x"));
        }
        live.event(waiting(0, "y"));
        live.event(waiting(VISIBLE_SPINNERS + 1, "y"));
        let counts = |live: &LiveReporter| {
            let state = live.state.lock().unwrap();
            (state.shown.len(), state.queued.len(), state.more.as_ref().map(|m| m.message()))
        };
        assert_eq!(counts(&live), (VISIBLE_SPINNERS, 3, Some("... and 3 more object(s) waiting".into())));
        // A ready object frees its spinner for a queued one.
        live.event(Event::Ready { object: "o00".into() });
        assert_eq!(counts(&live), (VISIBLE_SPINNERS, 2, Some("... and 2 more object(s) waiting".into())));
        assert!(live.state.lock().unwrap().shown.contains_key(&format!("o{VISIBLE_SPINNERS:02}")));
        // A queued object that becomes ready just leaves the count.
        live.event(Event::Ready { object: format!("o{:02}", VISIBLE_SPINNERS + 2) });
        live.event(Event::Ready { object: format!("o{:02}", VISIBLE_SPINNERS + 1) });
        assert_eq!(counts(&live), (VISIBLE_SPINNERS, 0, None));
        live.finish();
        assert_eq!(counts(&live), (0, 0, None));
    }
}
