//! The real terminal: raw mode and the alternate screen behind a guard that
//! restores them on drop, a panic hook that restores them before the panic
//! message prints, and the signals that end the screen. The only module
//! that talks to the terminal device; it knows nothing of runs or models.

use std::io::{self, Stdout};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use crossterm::cursor::Show;
use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, Event as TermEvent, EventStream,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::Stream;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Screen = Terminal<CrosstermBackend<Stdout>>;

/// While alive, the terminal is in raw mode on the alternate screen.
pub struct Guard {
    _private: (),
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Takes over the terminal; dropping the guard gives it back.
pub fn enter() -> io::Result<(Screen, Guard)> {
    enable_raw_mode()?;
    // From here on, any early return restores through the guard.
    let guard = Guard { _private: () };
    execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((terminal, guard))
}

/// The terminal's keys; lent to an editor, it stops reading them (crossterm
/// reads on a thread of its own while its stream waits: that thread is
/// stopped by dropping the stream) and leaves the screen.
pub struct Keys {
    stream: Option<EventStream>,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            stream: Some(EventStream::new()),
        }
    }
}

impl Stream for Keys {
    type Item = io::Result<TermEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.stream {
            Some(s) => Pin::new(s).poll_next(cx),
            // Lent: the loop does not poll it until it is back.
            None => Poll::Pending,
        }
    }
}

impl super::app::Keys for Keys {
    fn editor(&self) -> Option<Vec<String>> {
        Some(super::editor::from_env())
    }

    fn suspend(&mut self) -> io::Result<()> {
        self.stream = None;
        restore();
        Ok(())
    }

    fn close(&mut self) {
        self.stream = None;
    }

    fn resume(&mut self) -> io::Result<()> {
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        self.stream = Some(EventStream::new());
        Ok(())
    }
}

/// Leaves the alternate screen and raw mode; safe to call more than once,
/// and never fails (there is nobody left to tell).
pub fn restore() {
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show
    );
    let _ = disable_raw_mode();
}

/// Restores the terminal before the previous hook prints a panic, so the
/// message is readable. Installed once per process.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Resolves on SIGTERM, SIGHUP or SIGINT (Ctrl-C is a key in raw mode, so
/// SIGINT only comes from `kill`). Never resolves if they cannot be watched.
pub async fn stop_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = int.recv() => {}
    }
}
