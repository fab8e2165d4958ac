//! A process's stdout and stderr, read line by line as they come: from two
//! pipes, or from the one they share when the attempt is merged.

use std::future::Future;
use std::io;
use std::pin::pin;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{ChildStderr, ChildStdout};

use super::{DRAIN_BOUND, MAX_LINE, SpawnError, Stream};

/// The read end of the one pipe a merged attempt's stdout and stderr share.
pub(super) type Merged = tokio::net::unix::pipe::Receiver;

/// For a merged attempt, one pipe (close-on-exec, so no other child gets
/// it): the write end becomes the child's stdout and stderr.
pub(super) fn shared_pipe(
    merged: bool,
) -> Result<(Option<std::io::PipeReader>, Option<std::io::PipeWriter>), SpawnError> {
    if !merged {
        return Ok((None, None));
    }
    let (r, w) = std::io::pipe().map_err(|source| SpawnError::Spawn {
        program: "pipe".to_owned(),
        source,
    })?;
    Ok((Some(r), Some(w)))
}

/// The read end, registered with tokio, once the child has its copies.
pub(super) fn merged(reader: Option<std::io::PipeReader>) -> Result<Option<Merged>, SpawnError> {
    reader
        .map(|r| Merged::from_owned_fd(r.into()))
        .transpose()
        .map_err(SpawnError::Lost)
}

/// Delivers output lines while `work` runs, so a chatty process never blocks on a full pipe.
pub(super) async fn pump<T>(
    output: &mut Output,
    on_line: &mut impl FnMut(Stream, String),
    work: impl Future<Output = T>,
) -> T {
    let mut work = pin!(work);
    loop {
        let (stream, line) = tokio::select! {
            biased;
            done = work.as_mut() => return done,
            Some(read) = output.next() => read,
        };
        // Wait for room for the line, unless the work ends first.
        if let Some(room) = &output.room {
            tokio::select! {
                biased;
                () = room.take(line.len()) => {}
                done = work.as_mut() => {
                    room.force(line.len());
                    on_line(stream, line);
                    return done;
                }
            }
        }
        on_line(stream, line);
    }
}

/// Reads what is left once the group is gone, bounded in case a process escaped the group.
pub(super) async fn drain(output: &mut Output, on_line: &mut impl FnMut(Stream, String)) {
    let read_all = async {
        while let Some((stream, line)) = output.next().await {
            if let Some(room) = &output.room {
                room.force(line.len());
            }
            on_line(stream, line);
        }
    };
    if tokio::time::timeout(DRAIN_BOUND, read_all).await.is_err() {
        tracing::debug!("output still open after the process group ended; stopped reading");
    }
}

pub(super) struct Output {
    pub(super) out: Option<LineReader<ChildStdout>>,
    pub(super) err: Option<LineReader<ChildStderr>>,
    /// stdout and stderr on one pipe, when the spec is merged.
    pub(super) merged: Option<LineReader<Merged>>,
    /// See [`ProcessSpec::output_room`](super::ProcessSpec::output_room).
    pub(super) room: Option<crate::engine::bus::OutputRoom>,
}

impl Output {
    /// The next line from either stream, `None` once both are closed. Cancel-safe.
    async fn next(&mut self) -> Option<(Stream, String)> {
        loop {
            let (has_out, has_err) = (self.out.is_some(), self.err.is_some());
            let has_merged = self.merged.is_some();
            let (stream, read) = tokio::select! {
                read = next_line(&mut self.merged), if has_merged => (Stream::Output, read),
                read = next_line(&mut self.out), if has_out => (Stream::Stdout, read),
                read = next_line(&mut self.err), if has_err => (Stream::Stderr, read),
                else => return None,
            };
            match read {
                Ok(Some(line)) => return Some((stream, line)),
                Ok(None) => {}
                Err(e) => tracing::warn!(?stream, error = %e, "could not read output"),
            }
            match stream {
                Stream::Output => self.merged = None,
                Stream::Stdout => self.out = None,
                Stream::Stderr => self.err = None,
            }
        }
    }
}

async fn next_line<R: AsyncRead + Unpin>(
    reader: &mut Option<LineReader<R>>,
) -> io::Result<Option<String>> {
    match reader {
        Some(reader) => reader.next_line().await,
        None => Ok(None),
    }
}

pub(super) struct LineReader<R> {
    inner: BufReader<R>,
    partial: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner: BufReader::new(inner),
            partial: Vec::new(),
        }
    }

    /// Cancel-safe: bytes are moved into `partial` before they are consumed.
    async fn next_line(&mut self) -> io::Result<Option<String>> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                return Ok((!self.partial.is_empty()).then(|| self.take()));
            }
            let room = MAX_LINE - self.partial.len();
            // One byte more than `room` so a newline right at the limit is not split off.
            let window = &available[..available.len().min(room + 1)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                self.partial.extend_from_slice(&window[..end]);
                self.inner.consume(end + 1);
                return Ok(Some(self.take()));
            }
            if room == 0 {
                return Ok(Some(self.take()));
            }
            let taken = window.len().min(room);
            self.partial.extend_from_slice(&window[..taken]);
            self.inner.consume(taken);
        }
    }

    fn take(&mut self) -> String {
        match String::from_utf8(std::mem::take(&mut self.partial)) {
            Ok(line) => line,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}
